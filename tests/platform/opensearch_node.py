"""A real single-node OpenSearch on loopback, from the folder tests/platform/opensearch.sh
makes (the server's and the HTTP transport's Maven artifacts), with a small heap.

OpenSearch refuses to run as root ("can not run opensearch as root"): as root the node runs
as nobody, from a copy of the folder in a temporary directory (the cache under root's home
is not readable by nobody). Its configuration is written here: single-node discovery,
HTTP and transport on free loopback ports, no security plugin (the platform's default).

Usage as a program, to see a configuration refused:
  python opensearch_node.py HOME [SETTING=VALUE ...]
starts a node with the extra settings in opensearch.yml and prints one JSON object:
whether it answered on HTTP, and the end of its output.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class OpenSearchNode:
    def __init__(
        self, home: Path, work: Path, extra_settings: dict[str, str] | None = None
    ) -> None:
        self.source = home
        self.home = work
        self.extra = extra_settings or {}
        self.http_port = free_port()
        self.url = f"http://127.0.0.1:{self.http_port}"
        self.proc: subprocess.Popen | None = None
        self.log = work.parent / f"{work.name}.out"

    def prepare(self) -> list[str]:
        home = self.home
        shutil.rmtree(home, ignore_errors=True)
        shutil.copytree(self.source / "lib", home / "lib")
        shutil.copytree(self.source / "modules", home / "modules")
        for sub in ("bin", "plugins", "config", "data", "logs"):
            (home / sub).mkdir(parents=True, exist_ok=True)
        settings = {
            "cluster.name": "obs-init-test",
            "node.name": "node-1",
            "discovery.type": "single-node",
            "network.host": "127.0.0.1",
            "http.port": str(self.http_port),
            "transport.port": str(free_port()),
            "path.data": str(home / "data"),
            "path.logs": str(home / "logs"),
            **self.extra,
        }
        (home / "config" / "opensearch.yml").write_text(
            "".join(f"{k}: {json.dumps(v)}\n" for k, v in settings.items())
        )
        (home / "config" / "log4j2.properties").write_text(
            "status = error\n"
            "appender.console.type = Console\n"
            "appender.console.name = console\n"
            "appender.console.layout.type = PatternLayout\n"
            "appender.console.layout.pattern = [%d{ISO8601}][%-5p][%c{1.}] [%node_name]%marker %m%n\n"
            "rootLogger.level = warn\n"
            "rootLogger.appenderRef.console.ref = console\n"
        )
        (home / "config" / "jvm.options").write_text("")
        command = [
            "java",
            "-Xms256m",
            "-Xmx256m",
            "-XX:+UseSerialGC",
            "-Djava.security.manager=allow",
            f"-Dopensearch.path.home={home}",
            f"-Dopensearch.path.conf={home / 'config'}",
            "-Dopensearch.distribution.type=tar",
            "-Dopensearch.bundled_jdk=false",
            "-cp",
            f"{home / 'lib'}/*",
            "org.opensearch.bootstrap.OpenSearch",
        ]
        if os.geteuid() == 0:
            os.chmod(home.parent, 0o755)
            for path in [home, *home.rglob("*")]:
                os.chown(path, 65534, 65534, follow_symlinks=False)
            command = [
                "setpriv",
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                *command,
            ]
        return command

    def start(self, timeout: float = 120.0) -> None:
        command = self.prepare()
        self.proc = subprocess.Popen(
            command,
            stdout=open(self.log, "wb"),
            stderr=subprocess.STDOUT,
            cwd=self.home,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"OpenSearch exited {self.proc.returncode}:\n{self.output()}"
                )
            try:
                with urllib.request.urlopen(
                    f"{self.url}/_cluster/health?wait_for_status=yellow&timeout=1s",
                    timeout=5,
                ) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.5)
        raise RuntimeError(
            f"OpenSearch did not answer in {timeout} s:\n{self.output()}"
        )

    def output(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.home, ignore_errors=True)


def main() -> int:
    import tempfile

    home = Path(sys.argv[1])
    extra = dict(arg.split("=", 1) for arg in sys.argv[2:])
    work = Path(tempfile.mkdtemp(prefix="obs-init-opensearch-"))
    node = OpenSearchNode(home, work / "node", extra)
    try:
        node.start(timeout=90)
        answered = True
    except RuntimeError:
        answered = False
    finally:
        output = node.output()
        node.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({"answered": answered, "output": output}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
