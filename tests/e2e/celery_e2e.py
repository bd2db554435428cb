"""A Celery task started from a traced request, with real Celery and a real Flask server.

Usage: python celery_e2e.py PROJECT_DIR

PROJECT_DIR is an onboarded copy of tests/e2e/celery-app with ``instrument_celery(app)``
added to tasks.py as the next step says. The script starts a real OTLP/gRPC receiver, a
prefork Celery worker (``celery -A tasks worker``, kombu's filesystem transport) and the
Flask app under gunicorn, sends 3 requests each carrying its own W3C ``traceparent``,
waits for the tasks' spans, then stops both with SIGTERM. It prints one JSON object: per
request whether the task's span and the task's log record carry the request's trace id.
The Rust test decides what must hold.
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from otlp_receiver import free_port, start_receiver

REQUESTS = 3


def main() -> int:
    project = sys.argv[1]
    grpc_server, receiver, otlp_port = start_receiver()
    bin_dir = Path(sys.executable).parent
    broker = tempfile.mkdtemp(prefix="celery-broker-")
    env = dict(os.environ)
    env.update(
        {
            "OTEL_COLLECTOR_ENDPOINT": f"127.0.0.1:{otlp_port}",
            "CELERY_BROKER_FOLDER": broker,
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
    worker = subprocess.Popen(
        [str(bin_dir / "celery"), "-A", "tasks", "worker", "--pool=prefork", "-c", "1",
         "--loglevel=INFO"],
        cwd=project,
        env={**env, "OTEL_SERVICE_NAME": "worker"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    port = free_port()
    web = subprocess.Popen(
        [str(bin_dir / "gunicorn"), "-w", "1", "-b", f"127.0.0.1:{port}", "app:app"],
        cwd=project,
        env={**env, "OTEL_SERVICE_NAME": "web"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/")
            conn.getresponse().read()
            break
        except OSError:
            if time.monotonic() > deadline or web.poll() is not None:
                raise SystemExit("the web server did not start")
            time.sleep(0.1)
    trace_ids = []
    for order in range(REQUESTS):
        trace_id = secrets.token_hex(16)
        trace_ids.append(trace_id)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request(
            "POST",
            f"/orders/{order}/ship",
            headers={"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"},
        )
        conn.getresponse().read()

    def task_spans() -> set[str]:
        return {
            s.trace_id.hex()
            for _, s in receiver.spans
            if s.name.startswith("run/") and s.trace_id.hex() in trace_ids
        }

    deadline = time.monotonic() + 30
    while len(task_spans()) < REQUESTS and time.monotonic() < deadline:
        time.sleep(0.2)
    for proc in (web, worker):
        proc.send_signal(signal.SIGTERM)
    outputs = []
    for proc in (web, worker):
        try:
            out, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
        outputs.append(out)
    time.sleep(0.5)
    grpc_server.stop(grace=1)
    spans = task_spans()
    logged = {
        r.trace_id.hex()
        for _, r in receiver.logs
        if r.body.string_value.startswith("shipping order")
    }
    print(
        json.dumps(
            {
                "requests": REQUESTS,
                "task_spans_in_the_request_trace": sum(t in spans for t in trace_ids),
                "task_logs_in_the_request_trace": sum(t in logged for t in trace_ids),
                "worker_output": outputs[1][-3000:],
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
