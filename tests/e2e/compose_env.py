"""The environment a compose service (or a Kubernetes workload's app container) gets, read
from an onboarded compose file (or manifest), with the platform collector's address pointed
at the in-test receiver."""

from __future__ import annotations

import json
import os
import subprocess

import yaml


def service_env(compose_file: str, service: str, collector: str) -> dict[str, str]:
    """As the real Docker Compose resolves it (``$OBS_INIT_COMPOSE``, which the tests set:
    ``${COMPOSE_PROJECT_NAME:-...}`` becomes the project's name), else as written."""
    compose = os.environ.get("OBS_INIT_COMPOSE")
    if compose:
        out = subprocess.run(
            [compose, "-f", compose_file, "config", "--format", "json"],
            check=True,
            capture_output=True,
            text=True,
            cwd=os.path.dirname(os.path.abspath(compose_file)),
        )
        doc = json.loads(out.stdout)
    else:
        with open(compose_file, encoding="utf-8") as f:
            doc = yaml.safe_load(f)
    env = doc["services"][service].get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {
        str(k): str(v).replace("otel-collector:4317", collector)
        for k, v in env.items()
        if v is not None
    }


# The Kubernetes platform collector's address inside the cluster.
CLUSTER_COLLECTOR = "otel-collector.observability.svc.cluster.local:4317"


def workload_env(manifest: str, name: str, collector: str) -> dict[str, str]:
    """The literal ``env`` of the app container (named as the workload) of the Deployment
    ``name`` in ``manifest``."""
    with open(manifest, encoding="utf-8") as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    for doc in docs:
        if doc.get("kind") != "Deployment" or doc["metadata"]["name"] != name:
            continue
        containers = doc["spec"]["template"]["spec"]["containers"]
        app = next((c for c in containers if c.get("name") == name), containers[0])
        return {
            e["name"]: str(e["value"]).replace(CLUSTER_COLLECTOR, collector)
            for e in app.get("env") or []
            if "value" in e
        }
    raise SystemExit(f"no Deployment {name} in {manifest}")
