"""service.namespace reaches the platform on every signal of an onboarded app.

Usage: python namespace_e2e.py PROJECT_DIR ENV_JSON NAMESPACE

PROJECT_DIR is an onboarded copy of examples/fastapi-app; ENV_JSON is the environment the
real Docker Compose resolved for its ``api`` service (a JSON object); NAMESPACE is the
project name Compose gave the project. The app runs with that environment, its collector
address pointed at a real OTLP/gRPC receiver; every span, log record and metrics batch
that arrives must carry ``service.namespace=NAMESPACE`` beside ``service.name=api``, and
the project's own resource attributes. Exit status 0 means every check passed.
"""

from __future__ import annotations

import json
import logging
import os
import sys

from otlp_receiver import start_receiver


def main() -> int:
    project, env_json, namespace = sys.argv[1:4]
    server, receiver, port = start_receiver()
    env = json.loads(env_json)
    for key in [k for k in os.environ if k.startswith("OTEL_")]:
        del os.environ[key]
    for key, value in env.items():
        if key.startswith("OTEL_"):
            os.environ[key] = str(value).replace("otel-collector:4317", f"127.0.0.1:{port}")
    sys.path.insert(0, project)

    from app import main as app_main
    from app.setup_observability import instrument_fastapi, shutdown_observability
    from fastapi.testclient import TestClient

    instrument_fastapi(app_main.app)
    response = TestClient(app_main.app).get("/orders/42")
    logging.getLogger("e2e").warning("outside any request")
    shutdown_observability()
    server.stop(grace=1)

    failures = []
    if response.status_code != 200:
        failures.append(f"request failed: {response.status_code}")
    signals = {
        "span": [res for res, _ in receiver.spans],
        "log record": [res for res, _ in receiver.logs],
        "metrics batch": receiver.metric_resources,
    }
    for signal, resources in signals.items():
        if not resources:
            failures.append(f"no {signal} arrived")
        for res in resources:
            attrs = {a.key: a.value.string_value for a in res.attributes}
            if attrs.get("service.namespace") != namespace:
                failures.append(
                    f"a {signal} has service.namespace {attrs.get('service.namespace')!r}, "
                    f"not {namespace!r}"
                )
            if attrs.get("service.name") != "api":
                failures.append(f"a {signal} has service.name {attrs.get('service.name')!r}")
            if attrs.get("deployment.environment") != "e2e":
                failures.append(f"a {signal} lost the project's own deployment.environment")
    for failure in sorted(set(failures)):
        print(f"FAIL: {failure}", file=sys.stderr)
    print(
        f"received {len(receiver.spans)} spans, {len(receiver.logs)} log records, "
        f"{len(receiver.metric_resources)} metrics batches; {len(failures)} failures"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
