#!/usr/bin/env bash
# Fetches (once, cached outside the repo, keyed by version) a real OpenSearch node from its
# Maven artifacts: the server (org.opensearch:opensearch) with its dependencies and log4j-core,
# and the HTTP transport (org.opensearch.plugin:transport-netty4-client), laid out as the
# distribution lays them: lib/ for the server, modules/transport-netty4/ for the transport
# with the descriptor and security policy its build would write. Java 17 runs 2.19.x.
# Prints the folder; tests/platform/opensearch_node.py starts a node from a copy of it.
set -euo pipefail
VERSION=2.19.6
LOG4J=2.25.4
cache="${OBS_INIT_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/obs-init-tests}"
mkdir -p "$cache"
for tool in java mvn; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "opensearch.sh: $tool is not installed; the platform tests run OpenSearch with it" >&2
        exit 1
    }
done
exec 9>"$cache/.opensearch-lock"
flock 9

home="$cache/opensearch-$VERSION"
if [ ! -f "$home/.complete" ]; then
    rm -rf "$home"
    mkdir -p "$home/fetch" "$home/lib" "$home/modules/transport-netty4"
    # A throwaway pom: Maven resolves the artifacts and their dependencies.
    cat >"$home/fetch/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>obs-init.tests</groupId>
  <artifactId>opensearch-node</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.opensearch</groupId><artifactId>opensearch</artifactId><version>$VERSION</version></dependency>
    <dependency><groupId>org.opensearch</groupId><artifactId>opensearch-plugin-classloader</artifactId><version>$VERSION</version></dependency>
    <dependency><groupId>org.opensearch.plugin</groupId><artifactId>transport-netty4-client</artifactId><version>$VERSION</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>$LOG4J</version></dependency>
  </dependencies>
</project>
POM
    (cd "$home/fetch" && mvn -q -B dependency:copy-dependencies -DoutputDirectory=jars >&2)
    for jar in "$home"/fetch/jars/*.jar; do
        case "$(basename "$jar")" in
        netty-* | transport-netty4-client-*) cp "$jar" "$home/modules/transport-netty4/" ;;
        *) cp "$jar" "$home/lib/" ;;
        esac
    done
    rm -rf "$home/fetch"
    cat >"$home/modules/transport-netty4/plugin-descriptor.properties" <<PROPS
description=Netty 4 based transport implementation
version=$VERSION
name=transport-netty4
classname=org.opensearch.transport.Netty4Plugin
java.version=11
opensearch.version=$VERSION
extended.plugins=
has.native.controller=false
PROPS
    # shellcheck disable=SC2016 # ${codebase.*} is the policy file's own syntax
    printf '%s\n' \
        'grant codeBase "${codebase.netty-common}" {' \
        '  permission java.io.FilePermission "/proc/sys/net/core/somaxconn", "read";' \
        '  permission java.net.SocketPermission "*", "accept,connect";' \
        '  permission java.lang.RuntimePermission "*", "setContextClassLoader";' \
        '};' \
        'grant codeBase "${codebase.netty-transport}" {' \
        '  permission java.util.PropertyPermission "sun.nio.ch.bugLevel", "write";' \
        '};' >"$home/modules/transport-netty4/plugin-security.policy"
    touch "$home/.complete"
fi
echo "$home"
