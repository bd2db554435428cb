#!/usr/bin/env bash
# Creates (once) a Python venv the end-to-end tests use, outside the repo, keyed by the lock
# file's hash so that a changed pin gets a fresh venv. Prints the venv's python.
# Usage: venv.sh [LOCK]   (default: requirements.lock beside this script)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
lock="${1:-$here/requirements.lock}"
hash="$(sha256sum "$lock" | cut -c1-16)"
cache="${OBS_INIT_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/obs-init-tests}"
venv="$cache/venv-$hash"
mkdir -p "$cache"
# Test binaries run in parallel: one creates the venv, the others wait for it.
exec 9>"$cache/.lock"
flock 9
if [ ! -x "$venv/bin/python" ] || [ ! -f "$venv/.complete" ]; then
    rm -rf "$venv"
    python3 -m venv "$venv" >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$lock" >&2
    touch "$venv/.complete"
fi
echo "$venv/bin/python"
