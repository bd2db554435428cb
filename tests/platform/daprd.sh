#!/usr/bin/env bash
# Builds (once, cached outside the repo, keyed by dapr's version and the wrapper's hash) daprd
# from Go modules through the module proxy: tests/platform/daprd-wrapper is a module of ours
# that requires github.com/dapr/dapr and calls its entry point (cmd/daprd/app.Run), repeating
# the replace directives of dapr's go.mod. Prints daprd's path.
# Version: 1.16.0, while the platform pins daprio/daprd:1.18.3 (src/contract.rs): the module
# proxy refuses modules that daprd 1.17 and 1.18 need (durabletask-go v0.12.4, avro/v2, a pulsar
# fork, components-contrib 1.17). The Configuration that obs-init writes (spec.tracing.otel,
# samplingRate, spec.metric) reads the same in 1.16.
# Without components: dapr's cmd/daprd/components is built from daprd-wrapper/components
# (see the comment there: only the Kubernetes name resolver), so no component SDK (cloud
# providers, brokers) is compiled in.
# First run (empty Go module and build caches): 9.5 min on 2 shared cores (3.8 min of CPU),
# about 130 modules (480 MB) downloaded; under 20 s when Go's build cache has them.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
version=1.16.0
wrapper="$here/daprd-wrapper"
hash="$(cat "$wrapper/go.mod.in" "$wrapper/main.go" "$wrapper/components/components.go" "$0" |
    sha256sum | cut -c1-16)"
cache="${OBS_INIT_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/obs-init-tests}"
mkdir -p "$cache"
command -v go >/dev/null 2>&1 || {
    echo "daprd.sh: go is not installed; the platform tests build daprd with it" >&2
    exit 1
}
# Test binaries run in parallel: one builds, the others wait.
exec 9>"$cache/.daprd-lock"
flock 9

out="$cache/daprd-$version-$hash"
if [ ! -x "$out/daprd" ] || [ ! -f "$out/.complete" ]; then
    rm -rf "$out"
    mkdir -p "$out/src"
    sed "s/vVERSION/v$version/" "$wrapper/go.mod.in" >"$out/src/go.mod"
    cp "$wrapper/main.go" "$out/src/main.go"
    # dapr's module, from the module proxy, with its stub that panics without a components
    # tag replaced by daprd-wrapper/components/components.go. A copy, since go build
    # -overlay refuses to replace files in the module cache; the wrapper's go.mod points at
    # it.
    dir="$(cd "$out" && go mod download -json "github.com/dapr/dapr@v$version" |
        sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')"
    [ -n "$dir" ] || {
        echo "daprd.sh: the module proxy did not serve github.com/dapr/dapr v$version" >&2
        exit 1
    }
    cp -r "$dir" "$out/dapr"
    chmod -R u+w "$out/dapr"
    stub="$out/dapr/cmd/daprd/components/zz_notag.go"
    grep -q 'panic(' "$stub" || {
        echo "daprd.sh: $stub is not the stub daprd-wrapper/components replaces (dapr changed it?)" >&2
        exit 1
    }
    cp "$wrapper/components/components.go" "$stub"
    (
        cd "$out/src"
        go mod edit -replace "github.com/dapr/dapr=../dapr"
        # -mod=mod, not `go mod tidy` first: tidy fetches every module any build tag of
        # dapr's packages could need (all components' SDKs); the build fetches what it
        # compiles.
        # As dapr's Makefile stamps its release builds, so daprd reports its version.
        CGO_ENABLED=0 go build -mod=mod -trimpath \
            -ldflags "-s -w -X github.com/dapr/dapr/pkg/buildinfo.version=$version" \
            -o "$out/daprd" . >&2
    ) || {
        echo "daprd.sh: building daprd $version failed (above: a module the proxy refused, or the compiler's error)" >&2
        exit 1
    }
    rm -rf "$out/src" "$out/dapr"
    touch "$out/.complete"
fi
echo "$out/daprd"
