#!/usr/bin/env bash
# Creates (once) the benchmark's Python venv outside the repo; prints its python.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
lock="$here/requirements.lock"
hash="$(sha256sum "$lock" | cut -c1-16)"
cache="${OBS_INIT_BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/obs-init-bench}"
venv="$cache/venv-$hash"
mkdir -p "$cache"
if [ ! -f "$venv/.complete" ]; then
    rm -rf "$venv"
    python3 -m venv "$venv" >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$lock" >&2
    touch "$venv/.complete"
fi
echo "$venv/bin/python"
