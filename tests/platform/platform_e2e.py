"""The platform's log, trace and metric paths with the real programs that run here.

Usage: python platform_e2e.py COLLECTOR CONFIG OPENSEARCH_HOME PROMETHEUS OBS_INIT

- the real OpenTelemetry Collector (COLLECTOR, built by collector.sh) with the platform's
  otel-collector.yaml (CONFIG), its addresses (and nothing else) pointed at loopback ports;
- a real OpenSearch node (opensearch_node.py, from OPENSEARCH_HOME, made by opensearch.sh);
- real Prometheus (PROMETHEUS, Debian's) with its remote-write receiver on;
- in place of Tempo (not installable here): an OTLP/gRPC receiver, with Tempo's trace-by-id
  API (``GET /api/traces/<id>``: 200 with ``batches`` once a span of the trace arrived,
  else 404) answering from it;
- in place of Fluent Bit 5.x (not installable here): an OTLP/HTTP receiver on ``/v1/logs``
  that writes to OpenSearch, through its ``_bulk`` API, exactly the documents Fluent Bit 5.x's
  opensearch output writes (DESIGN.md, "Facts: Fluent Bit", seen with a 5.0.9 build): a map
  body's keys become the document's top-level fields, a plain string body goes under
  ``log``; ``@timestamp`` is the record's time in UTC with milliseconds (``Time_Key_Nanos``
  off); ``replace_dots`` turns every ``.`` in a key into ``_``; the record's own trace and span
  ids (raw bytes in metadata) are not written; no document for OTLP group markers.

It sends, over OTLP/gRPC to the collector, one span, two log records with that span's trace
id (a string body with a dotted attribute, then a map body), and one counter; then waits (at most 60 s) for each
where it lands, searches OpenSearch as Grafana's data source does (``query_string``
``traceId:"<id>"`` on ``otel-logs``), then runs ``obs-init verify`` against the same stack.
Prints one JSON object with what each place holds; the Rust test judges it.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "e2e"))
sys.path.insert(0, str(HERE))

import grpc
from opensearch_node import OpenSearchNode
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
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.logs.v1 import logs_pb2
from opentelemetry.proto.metrics.v1 import metrics_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2
from otlp_receiver import free_port, start_receiver

INDEX = "otel-logs"


def http(
    method: str, url: str, body: bytes | None = None, ctype: str = "application/json"
):
    req = urllib.request.Request(url, data=body, method=method)
    if body is not None:
        req.add_header("Content-Type", ctype)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def any_value(v: common_pb2.AnyValue):
    kind = v.WhichOneof("value")
    if kind == "kvlist_value":
        return {kv.key: any_value(kv.value) for kv in v.kvlist_value.values}
    if kind == "array_value":
        return [any_value(x) for x in v.array_value.values]
    if kind == "bytes_value":
        return v.bytes_value.hex()
    return getattr(v, kind) if kind else None


def replace_dots(value):
    if isinstance(value, dict):
        return {k.replace(".", "_"): replace_dots(v) for k, v in value.items()}
    if isinstance(value, list):
        return [replace_dots(v) for v in value]
    return value


def fluent_bit_document(record: logs_pb2.LogRecord) -> dict:
    """The document Fluent Bit 5.x's opensearch output writes for one OTLP log record."""
    nanos = record.time_unix_nano or record.observed_time_unix_nano
    seconds, rest = divmod(nanos, 1_000_000_000)
    stamp = datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    doc = {"@timestamp": f"{stamp}.{rest // 1_000_000:03d}Z"}
    body = any_value(record.body)
    if isinstance(body, dict):
        doc.update(body)
    else:
        doc["log"] = body
    return replace_dots(doc)


class FluentBit:
    """OTLP/HTTP logs in, Fluent Bit 5.x's documents out to OpenSearch's bulk API."""

    def __init__(self, opensearch: str) -> None:
        self.documents: list[dict] = []
        self.bulk_errors: list = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                data = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path != "/v1/logs":
                    self.send_response(404)
                    self.end_headers()
                    return
                if self.headers.get("Content-Encoding") == "gzip":
                    data = gzip.decompress(data)
                request = logs_service_pb2.ExportLogsServiceRequest()
                request.ParseFromString(data)
                docs = [
                    fluent_bit_document(r)
                    for rl in request.resource_logs
                    for sl in rl.scope_logs
                    for r in sl.log_records
                ]
                lines = "".join(
                    json.dumps({"create": {"_index": INDEX}})
                    + "\n"
                    + json.dumps(d)
                    + "\n"
                    for d in docs
                )
                status, answer = http(
                    "POST",
                    f"{opensearch}/_bulk",
                    lines.encode(),
                    "application/x-ndjson",
                )
                result = json.loads(answer)
                outer.documents.extend(docs)
                if status != 200 or result.get("errors"):
                    outer.bulk_errors.append(result)
                reply = logs_service_pb2.ExportLogsServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def tempo_api(receiver) -> ThreadingHTTPServer:
    """Tempo's trace-by-id API, answering from what the stand-in's OTLP receiver got."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            wanted = self.path.rsplit("/", 1)[-1]
            spans = [s for _, s in receiver.spans if s.trace_id.hex() == wanted]
            if not self.path.startswith("/api/traces/") or not spans:
                status, body = 404, {"error": "trace not found"}
            else:
                status = 200
                body = {
                    "batches": [
                        {"scopeSpans": [{"spans": [{"name": s.name} for s in spans]}]}
                    ]
                }
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def pointed_at_loopback(config: str, ports: dict[str, str]) -> str:
    """The platform's collector configuration with each address (and nothing else) replaced;
    every address must be there exactly once."""
    for old, new in ports.items():
        count = config.count(old)
        if count != 1:
            raise SystemExit(
                f"{old!r} is in the collector configuration {count} times, not once"
            )
        config = config.replace(old, new)
    # Its own metrics on a free port too: the default (:8888) may be taken on this machine.
    return config + (
        "\n  telemetry:\n    metrics:\n      readers:\n        - pull:\n            exporter:\n"
        f"              prometheus:\n                host: 127.0.0.1\n"
        f"                port: {free_port()}\n"
    )


def wait_for(what: str, check, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            return None
        time.sleep(0.5)


def attr(key: str, value: str) -> common_pb2.KeyValue:
    return common_pb2.KeyValue(key=key, value=common_pb2.AnyValue(string_value=value))


def main() -> int:
    collector, config_path, opensearch_home, prometheus, obs_init = sys.argv[1:6]
    work = Path(tempfile.mkdtemp(prefix="obs-init-platform-"))
    procs: list[subprocess.Popen] = []
    node = OpenSearchNode(Path(opensearch_home), work / "opensearch")
    try:
        node.start()
        opensearch = node.url

        tempo_grpc, tempo, tempo_port = start_receiver()
        tempo_query = tempo_api(tempo)
        fluent = FluentBit(opensearch)

        prom_port = free_port()
        (work / "prometheus.yml").write_text("global:\n  scrape_interval: 15s\n")
        procs.append(
            subprocess.Popen(
                [
                    prometheus,
                    f"--config.file={work / 'prometheus.yml'}",
                    f"--storage.tsdb.path={work / 'prometheus-data'}",
                    f"--web.listen-address=127.0.0.1:{prom_port}",
                    "--web.enable-remote-write-receiver",
                ],
                stdout=subprocess.DEVNULL,
                stderr=open(work / "prometheus.log", "wb"),
            )
        )

        grpc_port, http_port, health_port = free_port(), free_port(), free_port()
        config = pointed_at_loopback(
            Path(config_path).read_text(),
            {
                "0.0.0.0:4317": f"127.0.0.1:{grpc_port}",
                "0.0.0.0:4318": f"127.0.0.1:{http_port}",
                "0.0.0.0:13133": f"127.0.0.1:{health_port}",
                "tempo:4317": f"127.0.0.1:{tempo_port}",
                "http://prometheus:9090": f"http://127.0.0.1:{prom_port}",
                "http://fluent-bit:4318": f"http://127.0.0.1:{fluent.port}",
            },
        )
        (work / "otel-collector.yaml").write_text(config)
        collector_log = work / "collector.log"
        procs.append(
            subprocess.Popen(
                [collector, f"--config={work / 'otel-collector.yaml'}"],
                stdout=subprocess.DEVNULL,
                stderr=open(collector_log, "wb"),
            )
        )
        healthy = wait_for(
            "collector",
            lambda: (
                http("GET", f"http://127.0.0.1:{health_port}/")[0] == 200
                if port_open(health_port)
                else False
            ),
        )
        if not healthy:
            raise SystemExit(
                "the collector never became healthy:\n" + collector_log.read_text()
            )
        ready = wait_for(
            "prometheus",
            lambda: (
                port_open(prom_port)
                and http("GET", f"http://127.0.0.1:{prom_port}/-/ready")[0] == 200
            ),
        )
        if not ready:
            raise SystemExit(
                "Prometheus never became ready:\n"
                + (work / "prometheus.log").read_text()
            )

        trace_id = os.urandom(16)
        span_id = os.urandom(8)
        now = time.time_ns()
        resource = resource_pb2.Resource(
            attributes=[
                attr("service.name", "platform-e2e"),
                attr("service.namespace", "shop"),
            ]
        )
        channel = grpc.insecure_channel(f"127.0.0.1:{grpc_port}")
        trace_service_pb2_grpc.TraceServiceStub(channel).Export(
            trace_service_pb2.ExportTraceServiceRequest(
                resource_spans=[
                    trace_pb2.ResourceSpans(
                        resource=resource,
                        scope_spans=[
                            trace_pb2.ScopeSpans(
                                spans=[
                                    trace_pb2.Span(
                                        trace_id=trace_id,
                                        span_id=span_id,
                                        name="GET /items",
                                        kind=trace_pb2.Span.SPAN_KIND_SERVER,
                                        start_time_unix_nano=now - 5_000_000,
                                        end_time_unix_nano=now,
                                    )
                                ]
                            )
                        ],
                    )
                ]
            ),
            timeout=10,
        )
        logs_service_pb2_grpc.LogsServiceStub(channel).Export(
            logs_service_pb2.ExportLogsServiceRequest(
                resource_logs=[
                    logs_pb2.ResourceLogs(
                        resource=resource,
                        scope_logs=[
                            logs_pb2.ScopeLogs(
                                log_records=[
                                    logs_pb2.LogRecord(
                                        time_unix_nano=now - 1_234_567,
                                        observed_time_unix_nano=now,
                                        severity_number=logs_pb2.SEVERITY_NUMBER_INFO,
                                        severity_text="INFO",
                                        body=common_pb2.AnyValue(
                                            string_value="items listed"
                                        ),
                                        attributes=[
                                            attr("code.filepath", "/app/main.py")
                                        ],
                                        trace_id=trace_id,
                                        span_id=span_id,
                                    ),
                                    # A structured body (a map), as structlog-style
                                    # loggers send, after a plain one.
                                    logs_pb2.LogRecord(
                                        time_unix_nano=now - 1_000_000,
                                        observed_time_unix_nano=now,
                                        severity_number=logs_pb2.SEVERITY_NUMBER_WARN,
                                        severity_text="WARN",
                                        body=common_pb2.AnyValue(
                                            kvlist_value=common_pb2.KeyValueList(
                                                values=[
                                                    attr("event", "checkout slow"),
                                                    attr("cart.id", "c-42"),
                                                ]
                                            )
                                        ),
                                        trace_id=trace_id,
                                        span_id=span_id,
                                    ),
                                ]
                            )
                        ],
                    )
                ]
            ),
            timeout=10,
        )
        metrics_service_pb2_grpc.MetricsServiceStub(channel).Export(
            metrics_service_pb2.ExportMetricsServiceRequest(
                resource_metrics=[
                    metrics_pb2.ResourceMetrics(
                        resource=resource,
                        scope_metrics=[
                            metrics_pb2.ScopeMetrics(
                                metrics=[
                                    metrics_pb2.Metric(
                                        name="platform_e2e_requests",
                                        sum=metrics_pb2.Sum(
                                            aggregation_temporality=metrics_pb2.AGGREGATION_TEMPORALITY_CUMULATIVE,
                                            is_monotonic=True,
                                            data_points=[
                                                metrics_pb2.NumberDataPoint(
                                                    start_time_unix_nano=now
                                                    - 60_000_000_000,
                                                    time_unix_nano=now,
                                                    as_int=7,
                                                )
                                            ],
                                        ),
                                    )
                                ]
                            )
                        ],
                    )
                ]
            ),
            timeout=10,
        )
        hex_id = trace_id.hex()

        spans = (
            wait_for(
                "tempo", lambda: [s for _, s in tempo.spans if s.trace_id == trace_id]
            )
            or []
        )

        def search():
            http("POST", f"{opensearch}/{INDEX}/_refresh")
            query = {
                "query": {
                    "query_string": {
                        "query": f'traceId:"{hex_id}"',
                        "analyze_wildcard": True,
                    }
                }
            }
            status, body = http(
                "POST", f"{opensearch}/{INDEX}/_search", json.dumps(query).encode()
            )
            hits = (
                json.loads(body).get("hits", {}).get("hits", [])
                if status == 200
                else []
            )
            return hits

        # The two records may reach OpenSearch in two bulk requests (the collector's batch
        # can split them): wait for both, not the first.
        hits = wait_for("opensearch", lambda: h if len(h := search()) >= 2 else None)
        hits = hits or search()
        _, mapping = http("GET", f"{opensearch}/{INDEX}/_mapping")
        mapping = json.loads(mapping)
        # The time field Grafana's data source filters on: a date range around now.
        time_query = {
            "query": {
                "bool": {
                    "filter": [
                        {"query_string": {"query": f'traceId:"{hex_id}"'}},
                        {"range": {"@timestamp": {"gte": "now-5m", "lte": "now+1m"}}},
                    ]
                }
            },
            "docvalue_fields": [
                {"field": "@timestamp", "format": "strict_date_optional_time_nanos"}
            ],
        }
        _, in_range = http(
            "POST", f"{opensearch}/{INDEX}/_search", json.dumps(time_query).encode()
        )

        def metric():
            q = urllib.parse.quote("platform_e2e_requests_total")
            status, body = http(
                "GET", f"http://127.0.0.1:{prom_port}/api/v1/query?query={q}"
            )
            result = json.loads(body)["data"]["result"] if status == 200 else []
            if not result:
                # Without the _total suffix, as older translations named counters.
                q = urllib.parse.quote('{__name__=~"platform_e2e_requests.*"}')
                status, body = http(
                    "GET", f"http://127.0.0.1:{prom_port}/api/v1/query?query={q}"
                )
                result = json.loads(body)["data"]["result"] if status == 200 else []
            return result

        series = wait_for("prometheus", metric) or []

        # A Fluent Bit 3.2.2 document (its nanosecond bug: 14 fraction digits) after the
        # index has its mapping: OpenSearch's date format refuses it.
        old = {"@timestamp": "2026-12-06T05:33:03.18446744072073Z", "log": "from 3.2.2"}
        status, answer = http(
            "POST", f"{opensearch}/{INDEX}/_doc", json.dumps(old).encode()
        )
        old_rejected = {
            "status": status,
            "error": json.loads(answer).get("error", {}).get("type"),
        }

        verify = subprocess.run(
            [
                obs_init,
                "verify",
                "--collector",
                f"127.0.0.1:{grpc_port}",
                "--tempo",
                f"http://127.0.0.1:{tempo_query.server_address[1]}",
                "--opensearch",
                opensearch,
                "--wait",
                "60",
                "--format",
                "json",
            ],
            capture_output=True,
            text=True,
            cwd=work,
            check=False,
        )

        report = {
            "trace_id": hex_id,
            "tempo_spans": [
                {"trace_id": s.trace_id.hex(), "name": s.name} for s in spans
            ],
            "fluent_bit_documents": fluent.documents,
            "bulk_errors": fluent.bulk_errors,
            "opensearch_hits": [h["_source"] for h in hits],
            "opensearch_timestamp_mapping": mapping.get(INDEX, {})
            .get("mappings", {})
            .get("properties", {})
            .get("@timestamp"),
            "opensearch_in_time_range": json.loads(in_range)
            .get("hits", {})
            .get("hits", []),
            "opensearch_old_fluent_bit_document": old_rejected,
            "prometheus_series": series,
            "verify": {
                "exit": verify.returncode,
                "report": json.loads(verify.stdout) if verify.stdout.strip() else None,
                "stderr": verify.stderr,
            },
            "collector_log": collector_log.read_text(),
        }
        print(json.dumps(report))
        tempo_grpc.stop(grace=0)
        return 0
    finally:
        for p in procs:
            p.terminate()
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
        node.stop()
        shutil.rmtree(work, ignore_errors=True)


def port_open(port: int) -> bool:
    import socket

    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


if __name__ == "__main__":
    sys.exit(main())
