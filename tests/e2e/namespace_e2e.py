"""service.namespace reaches the platform on every signal of an onboarded app.

Usage: python namespace_e2e.py PROJECT_DIR ENV_JSON NAMESPACE

PROJECT_DIR is a copy of examples/fastapi-app onboarded with ``--edit-entrypoint``;
ENV_JSON is the environment the real Docker Compose resolved for its ``api`` service (a
JSON object); NAMESPACE is the project name Compose gave the project. The app is served
by the real uvicorn of this Python's venv, as the image's command does, with that
environment and its collector address pointed at a real OTLP/gRPC receiver; it gets a
request, then SIGTERM, as ``docker compose stop`` sends. Every span, log record and
metrics batch that arrives must carry ``service.namespace=NAMESPACE`` beside
``service.name=api``, and the project's own resource attributes. Exit status 0 means
every check passed.

A real server rather than the framework's test client: the test client's stack differs
between FastAPI releases (requests under 0.61 on Python 3.8, httpx later), a server and
``http.client`` do not.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from otlp_receiver import free_port, start_receiver


def serve_one_request(project: str, env: dict[str, str], otlp_port: int):
    """The receiver, the status of one request to the app under uvicorn, stopped by
    SIGTERM after it, and the server's console output."""
    port = free_port()
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "uvicorn"), "app.main:app", "--port", str(port)],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    # Started once the server is spawned: a process with gRPC's threads running may not
    # fork safely (older grpcio's children abort now and then).
    server, receiver, _ = start_receiver(otlp_port)
    status = None
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                conn.request("GET", "/orders/42")
                response = conn.getresponse()
                response.read()
                status = response.status
                conn.close()
                break
            except OSError:
                time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            output, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            output, _ = proc.communicate()
    return server, receiver, status, output


def main() -> int:
    project, env_json, namespace = sys.argv[1:4]
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    for key, value in json.loads(env_json).items():
        if key.startswith("OTEL_"):
            env[key] = str(value).replace("otel-collector:4317", f"127.0.0.1:{port}")
    env["PYTHONUNBUFFERED"] = "1"
    server, receiver, status, console = serve_one_request(project, env, port)
    time.sleep(0.5)
    server.stop(grace=1)

    failures = []
    if status != 200:
        failures.append(f"the request got {status}; the server said:\n{console}")
    signals = {
        "span": [res for res, _ in receiver.spans],
        "log record": [res for res, _ in receiver.logs],
        "metrics batch": receiver.metric_resources,
    }
    for signal_name, resources in signals.items():
        if not resources:
            failures.append(f"no {signal_name} arrived")
        for res in resources:
            attrs = {a.key: a.value.string_value for a in res.attributes}
            if attrs.get("service.namespace") != namespace:
                failures.append(
                    f"a {signal_name} has service.namespace "
                    f"{attrs.get('service.namespace')!r}, not {namespace!r}"
                )
            if attrs.get("service.name") != "api":
                failures.append(f"a {signal_name} has service.name {attrs.get('service.name')!r}")
            if attrs.get("deployment.environment") != "e2e":
                failures.append(f"a {signal_name} lost the project's own deployment.environment")
    for failure in sorted(set(failures)):
        print(f"FAIL: {failure}", file=sys.stderr)
    print(
        f"received {len(receiver.spans)} spans, {len(receiver.logs)} log records, "
        f"{len(receiver.metric_resources)} metrics batches; {len(failures)} failures"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
