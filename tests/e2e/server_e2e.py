"""A real server run of examples/fastapi-app, stopped right after its requests.

Usage: python server_e2e.py PROJECT_DIR SERVER [--collector-down] [--signal NAME]
                            [--idle SECONDS] [-- UWSGI_ARGS...]

SERVER is one of ``uvicorn``, ``uvicorn-no-access-log``, ``uvicorn-workers``
(``--workers 2``), ``gunicorn`` (``-w 2`` with uvicorn's worker), ``gunicorn-preload`` and
``gunicorn-flask`` (a Flask project's ``app:app`` on gunicorn's own workers),
``gunicorn-flask-factory`` (its ``app:create_app()``),
``gunicorn-django`` (``mysite.wsgi:application``), ``django-runserver`` and
``django-runserver-reload`` (``manage.py runserver`` without and with its autoreloader),
``flask-debug-noreload`` and ``flask-debug`` (``flask run --debug`` with its reloader off
and on), and ``uwsgi`` (the venv's real uWSGI, ``uwsgi --http 127.0.0.1:PORT`` followed by
the arguments after ``--``, such as ``--ini uwsgi.ini``). The script starts a real OTLP/gRPC
receiver (unless ``--collector-down``: then the collector address is a closed port),
starts the server from PROJECT_DIR as the container would, sends 20 requests each carrying
its own W3C ``traceparent`` (every fifth for an order that does not exist, which the app
logs as a warning), sends SIGTERM at once, as ``docker compose stop`` does (or the signal
``--signal`` names, as an image's STOPSIGNAL has it stopped), and waits for the server to exit.
With ``--idle SECONDS`` it first waits that long with the server idle and counts what has
arrived by then (``*_before_stop``): what a running service delivers, not its last flush.

It prints one JSON object: how many requests failed (an answer other than the app's 200
or 404, or none), what reached the receiver (server spans, the app's records and
uvicorn's access records, each counted by the request's trace id), the server's console
output with pids, ports and times masked, the seconds from SIGTERM to exit, and request
latencies. The Rust test decides what must hold; this script judges nothing.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

from otlp_receiver import free_port, start_receiver

REQUESTS = 20


def command(server: str, port: int, extra: list[str]) -> list[str]:
    bin_dir = Path(sys.executable).parent
    bind = f"127.0.0.1:{port}"
    if server == "uwsgi":
        # uWSGI's own HTTP router in front of the workers the project's options give.
        return [str(bin_dir / "uwsgi"), "--http", bind, *extra]
    if server == "uvicorn":
        return [str(bin_dir / "uvicorn"), "app.main:app", "--port", str(port)]
    if server == "uvicorn-no-access-log":
        return [
            str(bin_dir / "uvicorn"),
            "app.main:app",
            "--port",
            str(port),
            "--no-access-log",
        ]
    if server == "uvicorn-workers":
        return [str(bin_dir / "uvicorn"), "app.main:app", "--port", str(port), "--workers", "2"]
    # gunicorn logs no access records unless told where to: here, its console.
    worker = ["-k", "uvicorn_worker.UvicornWorker", "--access-logfile", "-"]
    if server == "gunicorn":
        return [str(bin_dir / "gunicorn"), "-w", "2", *worker, "-b", bind, "app.main:app"]
    if server == "gunicorn-preload":
        return [
            str(bin_dir / "gunicorn"),
            "-w",
            "2",
            "--preload",
            *worker,
            "-b",
            bind,
            "app.main:app",
        ]
    if server in ("gunicorn-flask", "gunicorn-flask-factory"):
        # A Flask project (tests/e2e/flask-app): gunicorn's own sync workers, serving the
        # module's app or calling its factory.
        return [
            str(bin_dir / "gunicorn"),
            "-w",
            "2",
            "--access-logfile",
            "-",
            "-b",
            bind,
            "app:create_app()" if server.endswith("-factory") else "app:app",
        ]
    if server == "gunicorn-django":
        # A Django project made by django-admin startproject mysite.
        return [
            str(bin_dir / "gunicorn"),
            "-w",
            "2",
            "--access-logfile",
            "-",
            "-b",
            bind,
            "mysite.wsgi:application",
        ]
    if server in ("django-runserver", "django-runserver-reload"):
        # Django's development server, which serves settings.WSGI_APPLICATION (wsgi.py's),
        # with and without its autoreloader (which serves from a child process).
        reload = [] if server.endswith("-reload") else ["--noreload"]
        return [sys.executable, "manage.py", "runserver", *reload, bind]
    if server in ("flask-debug", "flask-debug-noreload"):
        # Flask's development server in debug mode, whose reloader serves from a child.
        reload = ["--no-reload"] if server.endswith("-noreload") else []
        return [
            str(bin_dir / "flask"),
            "--app",
            "app",
            "run",
            "--debug",
            *reload,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ]
    raise SystemExit(f"unknown server {server}")


def wait_until_serving(port: int, proc: subprocess.Popen, workers: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            output = proc.stdout.read() if proc.stdout else ""
            raise SystemExit(
                f"the server exited with {proc.returncode} before serving:\n{output}"
            )
        try:
            # Refused at once while nothing listens; a slow first answer (a loaded
            # machine) is waited for, not asked again (a second console line).
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("GET", "/docs")
            conn.getresponse().read()
            conn.close()
            break
        except OSError:
            time.sleep(0.1)
    else:
        raise SystemExit("the server did not answer within 60 s")
    # Every worker has to be up, or a late one misses the requests and the stop alike.
    time.sleep(1.0 if workers > 1 else 0.2)


def mask(line: str) -> str:
    line = re.sub(r"\[\d{4}-\d\d-\d\d [\d:]+ [+-]\d{4}\]", "[TIME]", line)
    line = re.sub(r"\[\d\d/\w{3}/\d{4}:[\d:]+ [+-]\d{4}\]", "[TIME]", line)
    line = re.sub(r"\b\d{4}-\d\d-\d\d[ T][\d:.,]+\b", "TIME", line)
    line = re.sub(r"\[\d+\]", "[PID]", line)
    line = re.sub(r"pid: ?\d+", "pid: PID", line)
    line = re.sub(r"\(\d+\)", "(PID)", line)
    line = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", line)
    line = re.sub(r"Errno \d+", "Errno N", line)
    return line.rstrip()


def counts(receiver, wanted: set[str]) -> tuple[int, int, int]:
    """The server spans, app records and access records of the requests traced `wanted`."""
    spans = logs = access = 0
    if receiver is None:
        return spans, logs, access
    spans = sum(
        1
        for _, s in list(receiver.spans)
        if s.kind == s.SPAN_KIND_SERVER and s.trace_id.hex() in wanted
    )
    for _, record in list(receiver.logs):
        body = record.body.string_value
        if record.trace_id.hex() not in wanted:
            continue
        if body.startswith("looking up order"):
            logs += 1
        elif '"GET /orders/' in body:
            access += 1
    return spans, logs, access


def main() -> int:
    project, server = sys.argv[1], sys.argv[2]
    args = sys.argv[3:]
    extra: list[str] = []
    if "--" in args:
        extra = args[args.index("--") + 1 :]
        args = args[: args.index("--")]
    collector_down = "--collector-down" in args
    idle = float(args[args.index("--idle") + 1]) if "--idle" in args else None
    stop_signal = signal.SIGTERM
    if "--signal" in args:
        stop_signal = signal.Signals["SIG" + args[args.index("--signal") + 1]]
    receiver = None
    # The receiver starts once the server is spawned: a process with gRPC's threads
    # running may not fork safely (older grpcio's children abort now and then).
    otlp_port = free_port()
    collector = f"127.0.0.1:{otlp_port}"

    env = dict(os.environ)
    env.update(
        {
            # As compose sets it: the company variable, without a scheme.
            "OTEL_COLLECTOR_ENDPOINT": collector,
            "OTEL_SERVICE_NAME": "api",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
    port = free_port()
    started = time.monotonic()
    proc = subprocess.Popen(
        command(server, port, extra),
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # A group of its own, so that no child outlives the run (runserver's reloader child).
        start_new_session=True,
    )
    if not collector_down:
        grpc_server, receiver, _ = start_receiver(otlp_port)
    workers = 2 if "workers" in server or server.startswith(("gunicorn", "uwsgi")) else 1
    wait_until_serving(port, proc, workers)
    startup = time.monotonic() - started

    trace_ids = []
    latencies = []
    failed = 0
    for i in range(REQUESTS):
        trace_id = secrets.token_hex(16)
        trace_ids.append(trace_id)
        order = 1000 + i if i % 5 == 4 else i
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        t0 = time.perf_counter()
        conn.request(
            "GET",
            f"/orders/{order}",
            headers={"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"},
        )
        try:
            response = conn.getresponse()
            response.read()
            # The app answers 200, or 404 for an order that does not exist.
            if response.status not in (200, 404):
                failed += 1
        except OSError:
            failed += 1
        latencies.append((time.perf_counter() - t0) * 1000)
        conn.close()

    before_stop = None
    if idle is not None:
        time.sleep(idle)
        before_stop = counts(receiver, set(trace_ids))

    stop = time.monotonic()
    proc.send_signal(stop_signal)
    try:
        output, _ = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        output, _ = proc.communicate()
    stop_seconds = time.monotonic() - stop
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass

    if receiver is not None:
        time.sleep(0.5)
        grpc_server.stop(grace=1)
    spans, logs, access = counts(receiver, set(trace_ids))

    latencies.sort()
    print(
        json.dumps(
            {
                "server": server,
                "requests": REQUESTS,
                "failed_requests": failed,
                "server_spans": spans,
                "app_logs": logs,
                "access_logs": access,
                "server_spans_before_stop": before_stop and before_stop[0],
                "app_logs_before_stop": before_stop and before_stop[1],
                "exit_code": proc.returncode,
                "stop_seconds": round(stop_seconds, 3),
                "startup_seconds": round(startup, 3),
                "p50_ms": round(latencies[len(latencies) // 2], 3),
                "max_ms": round(latencies[-1], 3),
                "console": sorted(mask(line) for line in output.splitlines() if line.strip()),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
