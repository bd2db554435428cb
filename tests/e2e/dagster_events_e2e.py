"""Onboarding takes nothing away from Dagster's own event log, with real Dagster.

Usage: python dagster_events_e2e.py ORIGINAL_DIR ONBOARDED_DIR

Both are copies of examples/dagster-pipeline whose job also logs at DEBUG
(``context.log.debug``); ONBOARDED_DIR was onboarded by obs-init (its dagster.yaml names
the log handler). The same job runs once in each, each with its own DAGSTER_HOME, the
onboarded one with the ``user_code`` service's environment (the real Compose resolves it)
and its collector pointed at a real OTLP/gRPC receiver. Checked:

- the run's stored event log (``DagsterInstance.all_logs``, what the Dagster UI shows) has
  as many events after onboarding as before, DEBUG ones included, and so has the console;
- the handler still exports the job's records to the receiver.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from compose_env import service_env
from otlp_receiver import start_receiver

COUNT_EVENTS = """
import collections, json
from dagster import DagsterInstance
instance = DagsterInstance.get()
runs = instance.get_runs()
assert len(runs) == 1, runs
logs = instance.all_logs(runs[0].run_id)
levels = collections.Counter(e.level for e in logs)
print(json.dumps({"events": len(logs), "levels": {str(k): v for k, v in levels.items()},
                  "debug": [e.user_message for e in logs if e.level == 10]}))
"""


def run_job(project: Path, env: dict[str, str]) -> tuple[dict, int, str]:
    """Runs the job in ``project``; the stored events, the console's event lines, and the
    console itself."""
    dagster = Path(sys.executable).with_name("dagster")
    run = subprocess.run(
        [str(dagster), "job", "execute", "-m", "pipelines.definitions", "-j", "etl"],
        env=env,
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if run.returncode != 0:
        raise SystemExit(f"FAIL: dagster job execute in {project}:\n{run.stderr[-3000:]}")
    counted = subprocess.run(
        [sys.executable, "-c", COUNT_EVENTS],
        env=env,
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    console = run.stdout + run.stderr
    # Counted in the text, not by line: step processes write to one pipe, and two events
    # may share a line.
    events = json.loads(counted.stdout)
    events["debug"] = sorted(normalized(m, project) for m in events["debug"])
    return events, console.count(" - etl - "), console


def normalized(message: str, project: Path) -> str:
    """A message as it reads in any run: no project path, run id, pid or duration."""
    message = message.replace(str(project), "<project>")
    message = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "<id>", message)
    return re.sub(r"\d+(\.\d+)?", "N", message)


def main() -> int:
    original, onboarded = (Path(p) for p in sys.argv[1:3])
    base = dict(os.environ)
    base.pop("PYTHONPATH", None)
    for key in [k for k in base if k.startswith("OTEL_")]:
        del base[key]

    before_env = dict(base)
    before_env["DAGSTER_HOME"] = str(original / "dagster_home")
    before_env["PYTHONPATH"] = str(original)
    before, before_lines, _ = run_job(original, before_env)

    server, receiver, port = start_receiver()
    after_env = dict(base)
    compose = next(onboarded.glob("*compose*.y*ml"))
    after_env.update(service_env(str(compose), "user_code", f"127.0.0.1:{port}"))
    after_env["DAGSTER_HOME"] = str(onboarded / "dagster_home")
    after_env["PYTHONPATH"] = after_env.get("PYTHONPATH", "").replace(
        "/opt/dagster/app", str(onboarded)
    )
    after, after_lines, console = run_job(onboarded, after_env)
    time.sleep(0.5)
    server.stop(grace=1)

    failures = []
    if not before["debug"]:
        failures.append(f"the job stored no DEBUG event to lose: {before}")
    if after["events"] != before["events"] or after["levels"] != before["levels"]:
        failures.append(
            f"stored events: {before['events']} {before['levels']} before onboarding, "
            f"{after['events']} {after['levels']} after"
        )
    if after["debug"] != before["debug"]:
        failures.append(f"DEBUG events {before['debug']} became {after['debug']}")
    if after_lines != before_lines:
        failures.append(
            f"console event lines: {before_lines} before, {after_lines} after:\n{console[-2000:]}"
        )
    bodies = [r.body.string_value for _, r in receiver.logs]
    for message in ["extracted 3 rows", "loaded 3 rows"]:
        hits = [b for b in bodies if b.endswith(message)]
        if len(hits) != 1:
            failures.append(f"expected `{message}` once at the collector, got {len(hits)}")

    for failure in failures:
        print(f"FAIL: {failure}", file=sys.stderr)
    print(
        f"stored events {before['events']} -> {after['events']}, levels {after['levels']}, "
        f"console lines {before_lines} -> {after_lines}, {len(receiver.logs)} records "
        f"exported; {len(failures)} failures"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
