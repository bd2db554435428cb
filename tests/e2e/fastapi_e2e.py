"""End-to-end check of the generated setup_observability module against the real SDK.

Usage: python fastapi_e2e.py PROJECT_DIR

PROJECT_DIR is an onboarded copy of examples/fastapi-app (its package ``app`` holds
``main.py`` and the generated ``setup_observability.py``). The script starts a real
OTLP/gRPC receiver, points the module at it the way compose does (OTEL_COLLECTOR_ENDPOINT
without a scheme), sends one request carrying a W3C traceparent as Dapr would, and checks
what arrived. Exit status 0 means every check passed; failures are listed on stderr.
"""

from __future__ import annotations

import logging
import os
import sys

from otlp_receiver import service_name, start_receiver

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_SPAN_ID = "00f067aa0ba902b7"


def main() -> int:
    project = sys.argv[1]
    server, receiver, port = start_receiver()
    # As compose sets it: the company variable, without a scheme.
    os.environ["OTEL_COLLECTOR_ENDPOINT"] = f"127.0.0.1:{port}"
    os.environ.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
    os.environ["OTEL_SERVICE_NAME"] = "api"
    os.environ["OTEL_RESOURCE_ATTRIBUTES"] = "deployment.environment=e2e"
    sys.path.insert(0, project)

    from app import main as app_main
    from app.setup_observability import (
        instrument_fastapi,
        setup_observability,
        shutdown_observability,
    )
    from fastapi.testclient import TestClient

    setup_observability()
    setup_observability()  # a second call must install nothing twice
    instrument_fastapi(app_main.app)
    instrument_fastapi(app_main.app)

    client = TestClient(app_main.app)
    response = client.get(
        "/orders/42", headers={"traceparent": f"00-{TRACE_ID}-{PARENT_SPAN_ID}-01"}
    )
    logging.getLogger("e2e").info("outside any request")
    shutdown_observability()
    server.stop(grace=1)

    failures = []

    def check(condition: bool, message: str) -> None:
        if not condition:
            failures.append(message)

    check(response.status_code == 200, f"request failed: {response.status_code}")
    server_spans = [
        (res, s)
        for res, s in receiver.spans
        if s.kind == s.SPAN_KIND_SERVER and s.trace_id.hex() == TRACE_ID
    ]
    check(
        len(server_spans) == 1,
        f"expected exactly one server span in the incoming trace, got {len(server_spans)} "
        f"(all spans: {[(s.name, s.trace_id.hex()) for _, s in receiver.spans]})",
    )
    # One span a request, as Flask's and Django's: no span for each ASGI message.
    in_trace = [s.name for _, s in receiver.spans if s.trace_id.hex() == TRACE_ID]
    check(
        len(in_trace) == 1,
        f"expected the server span alone in the incoming trace, got {in_trace}",
    )
    for res, span in server_spans:
        check(
            span.parent_span_id.hex() == PARENT_SPAN_ID,
            f"server span does not continue the traceparent: parent {span.parent_span_id.hex()}",
        )
        check(service_name(res) == "api", f"span service.name is {service_name(res)}")
        attrs = {a.key: a.value.string_value for a in res.attributes}
        check(
            attrs.get("deployment.environment") == "e2e",
            "OTEL_RESOURCE_ATTRIBUTES not honoured",
        )

    order_logs = [
        r for _, r in receiver.logs if r.body.string_value == "looking up order 42"
    ]
    check(len(order_logs) == 1, f"expected the request's log record once, got {len(order_logs)}")
    for record in order_logs:
        check(
            record.trace_id.hex() == TRACE_ID,
            f"log record carries trace id {record.trace_id.hex()}, not the request's",
        )
        check(len(record.span_id) == 8 and any(record.span_id), "log record has no span id")
    outside = [r for _, r in receiver.logs if r.body.string_value == "outside any request"]
    check(len(outside) == 1, f"expected the plain log record once, got {len(outside)}")
    check(receiver.metric_requests >= 1, "no metrics export arrived")

    for failure in failures:
        print(f"FAIL: {failure}", file=sys.stderr)
    print(
        f"received {len(receiver.spans)} spans, {len(receiver.logs)} log records, "
        f"{receiver.metric_requests} metric exports; {len(failures)} failures"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
