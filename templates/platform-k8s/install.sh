#!/usr/bin/env bash
# Installs (or upgrades) the observability platform into the `observability` namespace with
# helm alone, the same releases as helmfile.yaml. Re-running it is safe.
set -euo pipefail
cd "$(dirname "$0")"
command -v helm >/dev/null || { echo "helm is not installed: https://helm.sh/docs/intro/install/" >&2; exit 1; }

helm repo add open-telemetry https://open-telemetry.github.io/opentelemetry-helm-charts --force-update
helm repo add grafana-community https://grafana-community.github.io/helm-charts --force-update
helm repo add prometheus-community https://prometheus-community.github.io/helm-charts --force-update
helm repo add opensearch https://opensearch-project.github.io/helm-charts --force-update
helm repo add fluent https://fluent.github.io/helm-charts --force-update
helm repo add dapr https://dapr.github.io/helm-charts --force-update
helm repo update

release() {
    helm upgrade --install "$1" "$2" --version "$3" --namespace observability \
        --create-namespace --wait -f "values/$4.yaml"
}
release dapr dapr/dapr 1.18.3 dapr
release opensearch opensearch/opensearch 3.6.0 opensearch
release fluent-bit fluent/fluent-bit 0.58.1 fluent-bit
release tempo grafana-community/tempo 2.2.4 tempo
release prometheus prometheus-community/prometheus 29.27.0 prometheus
release otel-collector open-telemetry/opentelemetry-collector 0.170.0 opentelemetry-collector
release grafana grafana-community/grafana 12.11.1 grafana

echo "Grafana: kubectl -n observability port-forward svc/grafana 3000:80 (user admin; password: kubectl -n observability get secret grafana -o jsonpath='{.data.admin-password}' | base64 -d)"
