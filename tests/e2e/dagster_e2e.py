"""End-to-end check of the dagster.yaml obs-init emits, with real Dagster.

Usage: python dagster_e2e.py PROJECT_DIR [MODULE]

PROJECT_DIR is an onboarded copy of examples/dagster-pipeline; MODULE is the module holding
its definitions (default ``pipelines.definitions``). With DAGSTER_HOME at its
dagster_home and the user_code service's environment from the compose file (collector
pointed at a real OTLP/gRPC receiver), ``dagster instance info`` must load the instance and
``dagster job execute`` of the two-op job must deliver both ops' ``context.log`` records,
each once, carrying the run id and the job name.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from compose_env import service_env
from otlp_receiver import start_receiver


def dagster(*args: str, env: dict[str, str], cwd: str) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("dagster")
    return subprocess.run(
        [str(exe), *args],
        check=False,
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def main() -> int:
    project = sys.argv[1]
    server, receiver, port = start_receiver()
    env = dict(os.environ)
    env.update(service_env(f"{project}/docker-compose.yml", "user_code", f"127.0.0.1:{port}"))
    env["DAGSTER_HOME"] = f"{project}/dagster_home"
    env["PYTHONPATH"] = project
    failures = []

    info = dagster("instance", "info", env=env, cwd=project)
    if info.returncode != 0:
        failures.append(f"dagster instance info failed:\n{info.stderr[-2000:]}")
    module = sys.argv[2] if len(sys.argv) > 2 else "pipelines.definitions"
    run = dagster("job", "execute", "-m", module, "-j", "etl", env=env, cwd=project)
    if run.returncode != 0:
        failures.append(f"dagster job execute failed:\n{run.stderr[-2000:]}")
    time.sleep(0.5)
    server.stop(grace=1)

    bodies = [r.body.string_value for _, r in receiver.logs]
    for message in ("extracted 3 rows", "loaded 3 rows"):
        hits = [b for b in bodies if b.endswith(message)]
        if len(hits) != 1:
            failures.append(f"expected `{message}` once at the collector, got {len(hits)}")
        for body in hits:
            if not body.startswith("etl - "):
                failures.append(f"record lacks the job name: {body}")
            run_id = body.split(" - ")[1] if " - " in body else ""
            if len(run_id) != 36:
                failures.append(f"record lacks the run id: {body}")

    for failure in failures:
        print(f"FAIL: {failure}", file=sys.stderr)
    print(f"received {len(receiver.logs)} log records; {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
