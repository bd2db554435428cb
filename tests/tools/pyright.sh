#!/usr/bin/env bash
# Installs (once) pyright, pinned, from the npm registry with the machine's Node.js, outside
# the repo: the type checker many Python projects run in CI (basic mode is its default).
# Prints the path of its command.
set -euo pipefail
version=1.1.414
cache="${OBS_INIT_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/obs-init-tests}"
dest="$cache/pyright-$version"
mkdir -p "$cache"
# Test binaries run in parallel: one installs, the others wait for it.
exec 9>"$cache/.pyright.lock"
flock 9
if [ ! -x "$dest/node_modules/.bin/pyright" ]; then
    echo "obs-init tests: installing pyright $version (npm, ~20 MB) into $dest" >&2
    rm -rf "$dest"
    npm install --silent --no-audit --no-fund --prefix "$dest" "pyright@$version" >&2
fi
echo "$dest/node_modules/.bin/pyright"
