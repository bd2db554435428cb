"""The peer: the same compose edits obs-init makes, done with ruamel.yaml's round-trip mode
(the standard comment-preserving YAML editor in Python). Written for the benchmark only.

Usage: python ruamel_onboard.py PROJECT_DIR SERVICE
"""

from __future__ import annotations

import sys
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

NETWORK = "observability-net"
DAPR_CONFIG = """apiVersion: dapr.io/v1alpha1
kind: Configuration
metadata:
  name: dapr-config
spec:
  tracing:
    samplingRate: "1"
    otel:
      endpointAddress: "otel-collector:4317"
      isSecure: false
      protocol: grpc
"""


def main() -> int:
    project, service = Path(sys.argv[1]), sys.argv[2]
    path = next(
        project / n
        for n in ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")
        if (project / n).is_file()
    )
    yaml = YAML()  # round-trip: comments, quotes and order kept
    yaml.preserve_quotes = True
    doc = yaml.load(path.read_text(encoding="utf-8"))
    svc = doc["services"][service]

    wanted = {
        "OTEL_COLLECTOR_ENDPOINT": "otel-collector:4317",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel-collector:4317",
        "OTEL_SERVICE_NAME": service,
    }
    env = svc.get("environment")
    if env is None:
        svc["environment"] = CommentedSeq([f"{k}={v}" for k, v in wanted.items()])
    elif isinstance(env, list):
        present = {str(e).split("=", 1)[0] for e in env}
        env.extend(f"{k}={v}" for k, v in wanted.items() if k not in present)
    else:
        for k, v in wanted.items():
            env.setdefault(k, v)

    nets = svc.get("networks")
    if nets is None:
        svc["networks"] = CommentedSeq(["default", NETWORK])
    elif isinstance(nets, list):
        if NETWORK not in nets:
            nets.append(NETWORK)
    elif NETWORK not in nets:
        nets[NETWORK] = CommentedMap()

    sidecar = f"{service}-dapr"
    if sidecar not in doc["services"]:
        doc["services"][sidecar] = CommentedMap(
            image="daprio/daprd:1.18.3",
            command=["./daprd", "--app-id", service, "--config", "/config/dapr-config.yml"],
            volumes=["./dapr-config.yml:/config/dapr-config.yml:ro"],
            network_mode=f"service:{service}",
        )
    top = doc.get("networks")
    if top is None:
        doc["networks"] = CommentedMap({NETWORK: CommentedMap(external=True)})
    elif NETWORK not in top:
        top[NETWORK] = CommentedMap(external=True)

    with path.open("w", encoding="utf-8") as f:
        yaml.dump(doc, f)
    config = project / "dapr-config.yml"
    if not config.exists():
        config.write_text(DAPR_CONFIG, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
