"""The environment a compose service gets, read from an onboarded compose file, with the
platform collector's address pointed at the in-test receiver."""

from __future__ import annotations

import yaml


def service_env(compose_file: str, service: str, collector: str) -> dict[str, str]:
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
