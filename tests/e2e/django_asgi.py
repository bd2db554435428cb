"""One request through an onboarded Django project's ASGI application, as an ASGI server
would send it, with a W3C ``traceparent``.

Usage: python django_asgi.py PROJECT_DIR

Imports ``mysite.asgi`` from PROJECT_DIR with the collector pointed at a real OTLP/gRPC
receiver, sends ``GET /orders/7``, flushes, and prints one JSON object: the response status
and how many server spans carry the request's trace id. The Rust test decides what must
hold.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import sys

from otlp_receiver import start_receiver


async def request(app, path: str, traceparent: str) -> list[dict]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"localhost"), (b"traceparent", traceparent.encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("localhost", 80),
    }
    sent = []
    done = asyncio.Event()
    asked = 0

    async def receive() -> dict:
        # The request once; then, as a server does, a disconnect once the response is out.
        nonlocal asked
        asked += 1
        if asked == 1:
            return {"type": "http.request", "body": b"", "more_body": False}
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            done.set()

    await app(scope, receive, send)
    return sent


def main() -> int:
    project = sys.argv[1]
    server, receiver, port = start_receiver()
    os.environ["OTEL_COLLECTOR_ENDPOINT"] = f"127.0.0.1:{port}"
    os.environ.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
    sys.path.insert(0, project)
    import mysite.asgi
    from mysite.setup_observability import shutdown_observability

    trace_id = secrets.token_hex(16)
    sent = asyncio.run(
        request(mysite.asgi.application, "/orders/7", f"00-{trace_id}-{secrets.token_hex(8)}-01")
    )
    shutdown_observability()
    server.stop(grace=1)
    status = next((m["status"] for m in sent if m["type"] == "http.response.start"), None)
    spans = sum(
        1
        for _, s in receiver.spans
        if s.kind == s.SPAN_KIND_SERVER and s.trace_id.hex() == trace_id
    )
    print(json.dumps({"status": status, "server_spans_in_trace": spans}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
