"""An in-test OTLP/gRPC receiver: the three collector services, collecting what arrives."""

from __future__ import annotations

import socket
from concurrent import futures

import grpc
from opentelemetry.proto.collector.logs.v1 import (
    logs_service_pb2,
    logs_service_pb2_grpc,
)
from opentelemetry.proto.collector.metrics.v1 import (
    metrics_service_pb2,
    metrics_service_pb2_grpc,
)
from opentelemetry.proto.collector.trace.v1 import (
    trace_service_pb2,
    trace_service_pb2_grpc,
)


class Receiver:
    """Collects what the three OTLP services receive."""

    def __init__(self) -> None:
        self.spans = []
        self.logs = []
        self.metric_requests = 0
        # The resource of each batch of metrics received.
        self.metric_resources = []

    def Export(self, request, context):
        if isinstance(request, trace_service_pb2.ExportTraceServiceRequest):
            for rs in request.resource_spans:
                for ss in rs.scope_spans:
                    self.spans.extend((rs.resource, s) for s in ss.spans)
            return trace_service_pb2.ExportTraceServiceResponse()
        if isinstance(request, logs_service_pb2.ExportLogsServiceRequest):
            for rl in request.resource_logs:
                for sl in rl.scope_logs:
                    self.logs.extend((rl.resource, r) for r in sl.log_records)
            return logs_service_pb2.ExportLogsServiceResponse()
        self.metric_requests += 1
        self.metric_resources.extend(rm.resource for rm in request.resource_metrics)
        return metrics_service_pb2.ExportMetricsServiceResponse()


class TraceService(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, receiver):
        self.Export = receiver.Export


class LogsService(logs_service_pb2_grpc.LogsServiceServicer):
    def __init__(self, receiver):
        self.Export = receiver.Export


class MetricsService(metrics_service_pb2_grpc.MetricsServiceServicer):
    def __init__(self, receiver):
        self.Export = receiver.Export


def start_receiver(port: int = 0) -> tuple[grpc.Server, Receiver, int]:
    """A receiver on ``port`` of the loopback (0: any free one)."""
    receiver = Receiver()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(TraceService(receiver), server)
    logs_service_pb2_grpc.add_LogsServiceServicer_to_server(LogsService(receiver), server)
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(
        MetricsService(receiver), server
    )
    port = server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    return server, receiver, port


def service_name(resource) -> str | None:
    for attr in resource.attributes:
        if attr.key == "service.name":
            return attr.value.string_value
    return None


def free_port() -> int:
    """A loopback port nothing listens on (a closed port, or one to start a server on)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_log_bodies() -> None:
    """``python otlp_receiver.py --serve``: a receiver in a process of its own. Prints its
    port, serves until stdin closes, then prints the bodies of the log records it got as
    one JSON list. A harness that forks children keeps no gRPC threads of its own this way
    (gRPC's fork handlers then have nothing to skip)."""
    import json
    import sys

    server, receiver, port = start_receiver()
    print(port, flush=True)
    sys.stdin.read()
    server.stop(grace=1)
    print(json.dumps([r.body.string_value for _, r in receiver.logs]), flush=True)


if __name__ == "__main__":
    import sys

    if sys.argv[1:] == ["--serve"]:
        serve_log_bodies()
