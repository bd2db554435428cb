#!/usr/bin/env bash
# Creates (once) a venv on another Python for the dependency lines obs-init wrote, outside
# the repo, keyed by that Python's version and the lines' hash. Prints the venv's python.
# Usage: target_venv.sh PYTHON REQUIREMENTS_FILE
set -euo pipefail
python="$1"
requirements="$2"
version="$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
hash="$(sha256sum "$requirements" | cut -c1-16)"
cache="${OBS_INIT_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/obs-init-tests}"
venv="$cache/target-$version-$hash"
mkdir -p "$cache"
exec 9>"$cache/.lock-target-$version"
flock 9
if [ ! -x "$venv/bin/python" ] || [ ! -f "$venv/.complete" ]; then
    rm -rf "$venv"
    "$python" -m venv "$venv" >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        --only-binary=:all: -r "$requirements" >&2
    touch "$venv/.complete"
fi
echo "$venv/bin/python"
