#!/usr/bin/env bash
# Creates (once) a benchmark's Python venv outside the repo; prints its python.
# Usage: venv.sh [LOCK]   (default: requirements.lock beside this script). The venv is
# keyed by the lock and the files it includes with `-r`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
lock="${1:-$here/requirements.lock}"
included="$(sed -n 's/^-r //p' "$lock" | sed "s|^|$(dirname "$lock")/|")"
# shellcheck disable=SC2086 # one path per line, none with spaces
hash="$(cat "$lock" $included | sha256sum | cut -c1-16)"
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
