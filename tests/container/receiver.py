"""The collector the judged container sends to: tests/e2e/otlp_receiver.py's real OTLP/gRPC
services, in a process of their own, on the address the container's collector variables name.

Usage: python receiver.py PORT

Listens on 127.0.0.1:PORT (the judge runs it in the container's private network namespace,
where ``otel-collector`` resolves to 127.0.0.1, so the platform's port 4317 is free and the
variables obs-init wrote are used as written). Prints ``ready`` once serving. Each line read on
stdin asks for what has arrived so far: one JSON object on one line, every span (trace id,
kind, name, service) and every log record (trace id, body, service). Stops at end of input.
It judges nothing.
"""

from __future__ import annotations

import json
import sys
from concurrent import futures
from pathlib import Path

import grpc

# The e2e tests' receiver is the one implementation of the OTLP services the suite trusts.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "e2e"))
from otlp_receiver import (  # noqa: E402
    LogsService,
    MetricsService,
    Receiver,
    TraceService,
    service_name,
)
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2_grpc  # noqa: E402
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2_grpc  # noqa: E402
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc  # noqa: E402

KINDS = {0: "UNSPECIFIED", 1: "INTERNAL", 2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}


def body_text(value) -> str:
    kind = value.WhichOneof("value")
    if kind is None:
        return ""
    if kind == "string_value":
        return value.string_value
    return str(getattr(value, kind))


def snapshot(receiver: Receiver) -> dict:
    return {
        "spans": [
            {
                "trace_id": s.trace_id.hex(),
                "kind": KINDS.get(s.kind, str(s.kind)),
                "name": s.name,
                "service": service_name(resource),
            }
            for resource, s in list(receiver.spans)
        ],
        "logs": [
            {
                "trace_id": r.trace_id.hex(),
                "body": body_text(r.body)[:300],
                "service": service_name(resource),
            }
            for resource, r in list(receiver.logs)
        ],
        "metric_requests": receiver.metric_requests,
    }


def main() -> int:
    port = int(sys.argv[1])
    receiver = Receiver()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(TraceService(receiver), server)
    logs_service_pb2_grpc.add_LogsServiceServicer_to_server(LogsService(receiver), server)
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(
        MetricsService(receiver), server
    )
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    print("ready", flush=True)
    for _ in sys.stdin:
        print(json.dumps(snapshot(receiver)), flush=True)
    server.stop(grace=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
