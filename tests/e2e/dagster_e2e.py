"""End-to-end check of an onboarded Dagster project, with real Dagster.

Usage: python dagster_e2e.py PROJECT_DIR [--module MODULE | --file FILE] [--working-directory DIR]
       [--job JOB]
       [--service SERVICE] [--home DIR] [--workdir PATH] [--expect MESSAGE]...

Defaults fit an onboarded copy of examples/dagster-pipeline. With DAGSTER_HOME at --home
and SERVICE's environment from the compose file (collector pointed at a real OTLP/gRPC
receiver, the image's working directory --workdir mapped to the project, which holds what
the image copies there), ``dagster instance info`` must load the instance and ``dagster job
execute`` of JOB must deliver each expected ``context.log`` record once, carrying the run id
and the job name. Nothing else puts the code on sys.path: Dagster's step processes resolve
the log handler before they load the code location, as in the container.
"""

from __future__ import annotations

import argparse
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
    parser = argparse.ArgumentParser()
    parser.add_argument("project")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--module", default="pipelines.definitions")
    where.add_argument("--file")
    parser.add_argument("--working-directory")
    parser.add_argument("--job", default="etl")
    parser.add_argument("--service", default="user_code")
    parser.add_argument("--home", default="dagster_home")
    parser.add_argument("--workdir", default="/opt/dagster/app")
    parser.add_argument("--expect", action="append")
    args = parser.parse_args()
    project = args.project
    expected = args.expect or ["extracted 3 rows", "loaded 3 rows"]

    server, receiver, port = start_receiver()
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    compose = next(Path(project).glob("*compose*.y*ml"))
    env.update(service_env(str(compose), args.service, f"127.0.0.1:{port}"))
    env["DAGSTER_HOME"] = str(Path(project) / args.home)
    failures = []
    pythonpath = env.get("PYTHONPATH")
    if pythonpath is None:
        failures.append(f"{args.service} has no PYTHONPATH: the handler cannot import")
    else:
        env["PYTHONPATH"] = pythonpath.replace(args.workdir, project)

    info = dagster("instance", "info", env=env, cwd=project)
    if info.returncode != 0:
        failures.append(f"dagster instance info failed:\n{info.stderr[-2000:]}")
    target = ["-f", args.file] if args.file else ["-m", args.module]
    if args.working_directory:
        target += ["-d", args.working_directory]
    run = dagster("job", "execute", *target, "-j", args.job, env=env, cwd=project)
    if run.returncode != 0:
        failures.append(f"dagster job execute failed:\n{run.stderr[-2000:]}")
    time.sleep(0.5)
    server.stop(grace=1)

    bodies = [r.body.string_value for _, r in receiver.logs]
    for message in expected:
        hits = [b for b in bodies if b.endswith(message)]
        if len(hits) != 1:
            failures.append(f"expected `{message}` once at the collector, got {len(hits)}")
        for body in hits:
            if not body.startswith(f"{args.job} - "):
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
