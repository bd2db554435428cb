"""End-to-end check of MLflow's trace export with the environment obs-init emits.

Usage: python mlflow_e2e.py PROJECT_DIR [MANIFEST]

PROJECT_DIR is an onboarded copy of examples/mlflow-app. The trainer service's environment is
read from its compose file (or, given MANIFEST, from the trainer Deployment's container), the collector address pointed at a real OTLP/gRPC receiver, and
the trainer's ``@mlflow.trace`` function run; its span must reach the receiver (and, with
dual export, the MLflow store too).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time

from compose_env import service_env, workload_env
from otlp_receiver import service_name, start_receiver


def main() -> int:
    project = sys.argv[1]
    server, receiver, port = start_receiver()
    collector = f"127.0.0.1:{port}"
    if len(sys.argv) > 2:
        env = workload_env(sys.argv[2], "trainer", collector)
    else:
        env = service_env(f"{project}/docker-compose.yml", "trainer", collector)
    os.environ.update(env)
    # The compose file points at the MLflow server container; here a local store stands in.
    store = tempfile.mkdtemp()
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{store}/mlflow.db"
    sys.path.insert(0, project)

    import mlflow
    import train

    failures = []
    for var in ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"):
        if var not in env:
            failures.append(f"{var} is not set on the trainer service")

    train.main()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not any(
        s.name == "score" for _, s in receiver.spans
    ):
        time.sleep(0.2)
    server.stop(grace=1)

    spans = [(res, s) for res, s in receiver.spans if s.name == "score"]
    if len(spans) != 1:
        failures.append(f"expected one `score` span at the collector, got {len(spans)}")
    for res, _ in spans:
        if service_name(res) != "trainer":
            failures.append(f"span service.name is {service_name(res)}")
    # MLflow logs traces to its store from a background queue: on a loaded machine the trace
    # lands there some time after the function returns, so wait for it as for the receiver.
    traces = mlflow.search_traces(return_type="list")
    deadline = time.monotonic() + 20
    while not traces and time.monotonic() < deadline:
        time.sleep(0.2)
        traces = mlflow.search_traces(return_type="list")
    if not traces:
        failures.append("dual export: the trace is missing from the MLflow store")

    for failure in failures:
        print(f"FAIL: {failure}", file=sys.stderr)
    print(f"received {len(receiver.spans)} spans; {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
