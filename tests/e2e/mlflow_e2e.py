"""End-to-end check of MLflow's trace export with the environment obs-init emits.

Usage: python mlflow_e2e.py PROJECT_DIR [MANIFEST] [--store-only]

PROJECT_DIR is an onboarded copy of examples/mlflow-app. The trainer service's environment is
read from its compose file (or, given MANIFEST, from the trainer Deployment's container), the
collector address pointed at a real OTLP/gRPC receiver, and the trainer's ``@mlflow.trace``
function run; its span must reach the receiver and, with dual export, the MLflow store too.
With ``--store-only`` (MLflow before 3.4, where OTLP would replace the MLflow server) the
trace must be in the MLflow store and no MLflow span at the receiver; with ``--unnamed``
(MLflow 3.4 and 3.5, whose tracer provider has an empty resource) the span must arrive
without a service.name, as obs-init's note says.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time

from compose_env import service_env, workload_env
from otlp_receiver import service_name, start_receiver


def main() -> int:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    store_only = "--store-only" in sys.argv
    unnamed = "--unnamed" in sys.argv
    project = args[0]
    server, receiver, port = start_receiver()
    collector = f"127.0.0.1:{port}"
    if len(args) > 1:
        env = workload_env(args[1], "trainer", collector)
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
        if var not in env and not store_only:
            failures.append(f"{var} is not set on the trainer service")

    print(f"MLflow {mlflow.__version__}")
    train.main()
    # Where none is expected, the wait is MLflow's batch exporter's interval and then some.
    deadline = time.monotonic() + (8 if store_only else 20)
    while time.monotonic() < deadline and not any(
        s.name == "score" for _, s in receiver.spans
    ):
        time.sleep(0.2)
    server.stop(grace=1)

    spans = [(res, s) for res, s in receiver.spans if s.name == "score"]
    expected = 0 if store_only else 1
    if len(spans) != expected:
        failures.append(
            f"expected {expected} `score` span at the collector, got {len(spans)}"
            + (" (OTLP replaced the MLflow server)" if store_only else "")
        )
    for res, _ in spans:
        if service_name(res) != (None if unnamed else "trainer"):
            failures.append(f"span service.name is {service_name(res)}")
    # MLflow logs traces to its store from a background queue: on a loaded machine the trace
    # lands there some time after the function returns, so wait for it as for the receiver.
    traces = mlflow.search_traces(return_type="list")
    deadline = time.monotonic() + 20
    while not traces and time.monotonic() < deadline:
        time.sleep(0.2)
        traces = mlflow.search_traces(return_type="list")
    if not traces:
        failures.append("the trace is missing from the MLflow store")

    for failure in failures:
        print(f"FAIL: {failure}", file=sys.stderr)
    print(f"received {len(receiver.spans)} spans; {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
