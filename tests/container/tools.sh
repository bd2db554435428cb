#!/usr/bin/env bash
# Installs (once) what the judge starts beside a container: Debian's redis-server, the broker of
# the Celery pattern. Prints its path.
set -euo pipefail
if ! command -v redis-server >/dev/null; then
    cache="${OBS_INIT_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/obs-init-tests}"
    mkdir -p "$cache"
    exec 9>"$cache/.lock-apt"
    flock 9
    if ! command -v redis-server >/dev/null; then
        apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >&2
    fi
fi
command -v redis-server
