#!/usr/bin/env bash
# Builds (once, cached outside the repo, keyed by the manifest's hash) the OpenTelemetry
# Collector that tests/platform/otelcol-builder.yaml lists, with the collector's own builder
# (go.opentelemetry.io/collector/cmd/builder, at the manifest's release) from Go modules
# through the module proxy. Prints the collector's path.
# First run: about 1.5 min for the builder and 10 min for the collector on 2 cores.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
manifest="$here/otelcol-builder.yaml"
version="$(sed -n 's/^  version: //p' "$manifest")"
hash="$(sha256sum "$manifest" | cut -c1-16)"
cache="${OBS_INIT_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/obs-init-tests}"
mkdir -p "$cache"
command -v go >/dev/null 2>&1 || {
    echo "collector.sh: go is not installed; the platform tests build the collector with it" >&2
    exit 1
}
# Test binaries run in parallel: one builds, the others wait.
exec 9>"$cache/.otelcol-lock"
flock 9

builder="$cache/ocb-$version/bin/builder"
if [ ! -x "$builder" ] || [ ! -f "$cache/ocb-$version/.complete" ]; then
    rm -rf "$cache/ocb-$version"
    GOBIN="$cache/ocb-$version/bin" go install "go.opentelemetry.io/collector/cmd/builder@v$version" >&2
    touch "$cache/ocb-$version/.complete"
fi

out="$cache/otelcol-$version-$hash"
if [ ! -x "$out/otelcol-obs-init" ] || [ ! -f "$out/.complete" ]; then
    rm -rf "$out"
    mkdir -p "$out"
    sed "s#output_path: OUTPUT#output_path: $out/src#" "$manifest" >"$out/builder.yaml"
    (cd "$out" && "$builder" --config builder.yaml >&2)
    mv "$out/src/otelcol-obs-init" "$out/otelcol-obs-init"
    rm -rf "$out/src"
    touch "$out/.complete"
fi
echo "$out/otelcol-obs-init"
