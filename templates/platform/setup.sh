#!/usr/bin/env bash
# Starts the observability platform: data directories with the owners the images run as,
# the kernel setting OpenSearch needs, the shared network, the credentials, then the stack.
# Safe to run again: it changes only what is missing or wrong.
#
# Settings, from the environment or .env (the environment wins, as with Compose):
#   GRAFANA_ADMIN_PASSWORD     Grafana's admin password (generated into .env when unset)
#   OPENSEARCH_SECURITY        on|off (default off: no login, reachable on 127.0.0.1 only)
#   OPENSEARCH_ADMIN_PASSWORD  OpenSearch's admin password, used when security is on (generated)
#   OBS_INIT_NO_START=1        prepare everything but do not start the stack
set -euo pipefail

cd "$(dirname "$0")"

say() { printf '%s\n' "$*"; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

command -v docker >/dev/null 2>&1 || die "docker is not installed (https://docs.docker.com/engine/install/)"

# As root, or through sudo when there is one.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "run as root, or install sudo: '$*' needs it"
    fi
}

# 1. Data directories, owned by the uid each image runs as.
declare -A owners=([grafana]=472 [opensearch]=1000 [prometheus]=65534 [tempo]=10001)
for dir in grafana opensearch prometheus tempo; do
    path="data/$dir"
    mkdir -p "$path"
    if [ "$(stat -c %u "$path")" != "${owners[$dir]}" ]; then
        as_root chown -R "${owners[$dir]}:${owners[$dir]}" "$path"
        say "$path: owner set to ${owners[$dir]}"
    fi
done

# 2. OpenSearch refuses to start below this map count.
needed=262144
if [ -r /proc/sys/vm/max_map_count ]; then
    current="$(cat /proc/sys/vm/max_map_count)"
    if [ "$current" -lt "$needed" ]; then
        die "vm.max_map_count is $current; OpenSearch needs $needed.
  run: sudo sysctl -w vm.max_map_count=$needed
  and add 'vm.max_map_count=$needed' to /etc/sysctl.conf to keep it after a reboot"
    fi
else
    warn "cannot read vm.max_map_count (Docker Desktop?): OpenSearch needs at least $needed"
fi

# 3. Settings for Compose, kept in .env (readable by you alone: it holds passwords).
touch .env
chmod 600 .env

# The value of $1 in .env, or nothing.
env_get() {
    sed -n "s/^$1=//p" .env | tail -n 1
}

# Sets $1=$2 in .env, replacing an earlier line.
env_set() {
    local rest
    rest="$(grep -v "^$1=" .env || true)"
    { [ -n "$rest" ] && printf '%s\n' "$rest"; printf '%s=%s\n' "$1" "$2"; } >.env.new
    chmod 600 .env.new
    mv .env.new .env
}

# A password with upper and lower case, digits and a symbol, as OpenSearch requires.
new_password() {
    printf 'Obs-%s' "$(od -An -N18 -tx1 /dev/urandom | tr -d ' \n')"
}

# Passwords and data stay out of git, when this folder is in a repository.
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    # A last line without its newline would run into ours.
    if [ -s .gitignore ] && [ -n "$(tail -c 1 .gitignore)" ]; then
        printf '\n' >>.gitignore
    fi
    for ignored in .env .env.new data/; do
        if ! git check-ignore -q "$ignored"; then
            printf '%s\n' "$ignored" >>.gitignore
            say ".gitignore: added $ignored"
        fi
    done
fi

socket=/var/run/docker.sock
if [ -S "$socket" ]; then
    env_set DOCKER_GID "$(stat -c %g "$socket")"
else
    warn "$socket not found: Prometheus cannot discover the Dapr sidecars (rootless Docker?)"
    env_set DOCKER_GID 0
fi

if [ -z "${GRAFANA_ADMIN_PASSWORD:-}" ] && [ -z "$(env_get GRAFANA_ADMIN_PASSWORD)" ]; then
    env_set GRAFANA_ADMIN_PASSWORD "$(new_password)"
    say "Grafana: generated an admin password, in .env (GRAFANA_ADMIN_PASSWORD)"
fi

security="${OPENSEARCH_SECURITY:-$(env_get OPENSEARCH_SECURITY)}"
security="${security:-off}"
case "$security" in
on)
    env_set OPENSEARCH_DISABLE_SECURITY false
    env_set OPENSEARCH_SCHEME https
    env_set OPENSEARCH_TLS on
    ;;
off)
    env_set OPENSEARCH_DISABLE_SECURITY true
    env_set OPENSEARCH_SCHEME http
    env_set OPENSEARCH_TLS off
    warn "OpenSearch runs without its security plugin (no login), reachable on 127.0.0.1 only."
    warn "to require a login: OPENSEARCH_SECURITY=on ./setup.sh"
    ;;
*)
    die "OPENSEARCH_SECURITY is '$security': use on or off"
    ;;
esac
env_set OPENSEARCH_SECURITY "$security"
# Generated whichever the mode: Fluent Bit reads it, and warns at every start of a variable
# that is unset or empty. Without the security plugin OpenSearch ignores the login; with it,
# this is the admin password.
if [ -z "${OPENSEARCH_ADMIN_PASSWORD:-}" ] && [ -z "$(env_get OPENSEARCH_ADMIN_PASSWORD)" ]; then
    env_set OPENSEARCH_ADMIN_PASSWORD "$(new_password)"
    say "OpenSearch: generated an admin password, in .env (OPENSEARCH_ADMIN_PASSWORD)"
fi

# 4. The shared network, which every onboarded project declares external.
if ! docker network inspect observability-net >/dev/null 2>&1; then
    docker network create observability-net >/dev/null
    say "network observability-net created"
fi

if [ "${OBS_INIT_NO_START:-}" = "1" ]; then
    say "ready; start it with: docker compose -f docker-compose.observability.yml up -d"
    exit 0
fi
docker compose -f docker-compose.observability.yml up -d
say "Grafana: http://localhost:3000 (admin, password in .env)   OTLP: localhost:4317 (gRPC), localhost:4318 (HTTP)"
