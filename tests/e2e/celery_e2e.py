"""A Celery task started from a traced request, with real Celery and a real Flask server.

Usage: python celery_e2e.py PROJECT_DIR [--collector-down]

PROJECT_DIR is an onboarded copy of tests/e2e/celery-app with ``instrument_celery(app)``
added to tasks.py as the next step says. The script starts a real OTLP/gRPC receiver, a
prefork Celery worker (``celery -A tasks worker``, kombu's filesystem transport) and the
Flask app under gunicorn, sends 3 requests each carrying its own W3C ``traceparent``,
waits for the tasks' spans, then stops both with SIGTERM. It prints one JSON object: per
request whether the task's span and the task's log records (one through a plain logger,
one through ``get_task_logger``) carry the request's trace id, and the seconds from
SIGTERM to exit of each process, the worker's prefork children included. With
``--collector-down`` the collector address is a closed port (the tasks are then waited for
by their results in the worker's output). The Rust test decides what must hold.
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
import threading
import time
from pathlib import Path

from otlp_receiver import free_port, start_receiver

REQUESTS = 3


def worker_children(pid: int) -> list[int]:
    """The pids of the worker's prefork children (from /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry))
    return found


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            # A zombie has exited; its parent has not reaped it yet.
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def main() -> int:
    project = sys.argv[1]
    collector_down = "--collector-down" in sys.argv[2:]
    # The receiver starts once the worker and the web server are spawned: a process with
    # gRPC's threads running may not fork safely (older grpcio's children abort now and
    # then).
    grpc_server, receiver, otlp_port = None, None, free_port()
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
    if not collector_down:
        grpc_server, receiver, _ = start_receiver(otlp_port)
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
        if receiver is None:
            return set()
        return {
            s.trace_id.hex()
            for _, s in receiver.spans
            if s.name.startswith("run/") and s.trace_id.hex() in trace_ids
        }

    # The worker's output, read as it comes: with the collector down, the tasks' ends
    # are seen there.
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(worker.stdout), daemon=True)
    reader.start()

    def tasks_done() -> int:
        return sum(" succeeded in " in line for line in list(lines))

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if receiver is not None and len(task_spans()) >= REQUESTS:
            break
        if receiver is None and tasks_done() >= REQUESTS:
            break
        time.sleep(0.2)
    # The worker's whole process tree: the prefork children must end too.
    children = worker_children(worker.pid)
    stopped = time.monotonic()
    for proc in (web, worker):
        proc.send_signal(signal.SIGTERM)
    stop_seconds = {}
    outputs = []
    for name, proc in (("web", web), ("worker", worker)):
        try:
            if proc is worker:
                proc.wait(timeout=30)
                out = ""
            else:
                out, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            out = ""
        stop_seconds[name] = time.monotonic() - stopped
        outputs.append(out)
    while any(alive(pid) for pid in children) and time.monotonic() - stopped < 30:
        time.sleep(0.05)
    stop_seconds["worker_children"] = time.monotonic() - stopped
    for pid in children:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)
    reader.join(5)
    outputs[1] = "".join(lines)
    spans = task_spans()
    logged: dict[str, set[str]] = {"shipping order": set(), "packed order": set()}
    if receiver is not None:
        time.sleep(0.5)
        grpc_server.stop(grace=1)
        spans = task_spans()
        for _, r in receiver.logs:
            for prefix, ids in logged.items():
                if r.body.string_value.startswith(prefix):
                    ids.add(r.trace_id.hex())
    print(
        json.dumps(
            {
                "requests": REQUESTS,
                "task_spans_in_the_request_trace": sum(t in spans for t in trace_ids),
                "task_logs_in_the_request_trace": sum(
                    t in logged["shipping order"] for t in trace_ids
                ),
                "task_logger_logs_in_the_request_trace": sum(
                    t in logged["packed order"] for t in trace_ids
                ),
                "tasks_done": tasks_done(),
                "stop_seconds": {k: round(v, 3) for k, v in stop_seconds.items()},
                "worker_output": outputs[1][-3000:],
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
