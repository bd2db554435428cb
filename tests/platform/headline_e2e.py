"""The guide's headline with the real programs: an onboarded app, its real daprd sidecar with
the generated dapr-config.yml, the real collector with the compose platform's configuration,
a real OpenSearch node and real Prometheus (stand-ins for Tempo and Fluent Bit 5.x, as in
platform_e2e.py).

Usage: python headline_e2e.py SPEC.json

SPEC.json (written by tests/platform.rs) names the programs (collector, daprd, prometheus,
obs_init, the app's venv python, the OpenSearch folder), the onboarded project, what its
compose file runs (the app's command and environment, the sidecar's command) and the
generated files (otel-collector.yaml, prometheus.yml as JSON, dapr-config.yml). Every
address in them is pointed at a free loopback port, and nothing else is changed, except:
- Prometheus' sidecar job finds daprd through Docker discovery (the label onboarding adds),
  and there is no Docker here: the job scrapes daprd's metrics port as a static target,
  with the `app` label its relabelling would give, every second instead of every 15 s;
- daprd listens on loopback only, with an empty resources folder and a free internal gRPC
  port (a container has its own network; this machine is shared), and gets a second
  Configuration that selects a name resolver on loopback instead of mDNS (see below);
- the app runs from the project folder with its venv's uvicorn (the image's WORKDIR holds
  app/ the same way).

Then one request is invoked through daprd (`/v1.0/invoke/<app-id>/method/orders/42`); the
app is stopped as `docker stop` would (SIGTERM), which flushes what it buffered; and the
script collects the request's trace (as the Tempo stand-in got it), the logs Grafana's query
finds in OpenSearch for it, the series Prometheus has from the app and from daprd, and runs
`obs-init verify`. Then each hop is broken once: daprd without `--config` (a second request),
and the collector stopped (`obs-init verify` again). Prints one JSON object; the Rust test
judges it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "e2e"))
sys.path.insert(0, str(HERE))

from opensearch_node import OpenSearchNode
from otlp_receiver import free_port, service_name, start_receiver
from platform_e2e import (
    INDEX,
    FluentBit,
    any_value,
    http,
    pointed_at_loopback,
    port_open,
    tempo_api,
    wait_for,
)

COLLECTOR_ADDRESS = "otel-collector:4317"


def replaced_once(text: str, old: str, new: str, what: str) -> str:
    count = text.count(old)
    if count != 1:
        raise SystemExit(f"{old!r} is in {what} {count} times, not once")
    return text.replace(old, new)


def with_flag(command: list[str], flag: str, value: str) -> list[str]:
    """``command`` with ``flag``'s value replaced; the flag must be there once."""
    at = [i for i, a in enumerate(command) if a == flag]
    if len(at) != 1:
        raise SystemExit(f"{flag} is in {command} {len(at)} times, not once")
    out = list(command)
    out[at[0] + 1] = value
    return out


def without_flag(command: list[str], flag: str, value: str) -> list[str]:
    """``command`` without ``flag value``."""
    at = [i for i, a in enumerate(command) if a == flag and command[i + 1] == value]
    if len(at) != 1:
        raise SystemExit(f"{flag} {value} is in {command} {len(at)} times, not once")
    return command[: at[0]] + command[at[0] + 2 :]


class Proc:
    """A program started here, its output kept in a file."""

    def __init__(self, name: str, command: list[str], work: Path, **kwargs) -> None:
        self.name = name
        self.command = command
        self.log = work / f"{name}.log"
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, **kwargs
            )

    def output(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def span_view(resource, span) -> dict:
    attrs = {a.key: any_value(a.value) for a in span.attributes}
    res = {a.key: any_value(a.value) for a in resource.attributes}
    return {
        "name": span.name,
        "kind": span.SpanKind.Name(span.kind),
        "trace_id": span.trace_id.hex(),
        "span_id": span.span_id.hex(),
        "parent_span_id": span.parent_span_id.hex(),
        "service": service_name(resource),
        "sdk": res.get("telemetry.sdk.language"),
        "start": span.start_time_unix_nano,
        "end": span.end_time_unix_nano,
        "path": attrs.get("url.path") or attrs.get("http.target"),
    }


def main() -> int:
    spec = json.loads(Path(sys.argv[1]).read_text())
    work = Path(tempfile.mkdtemp(prefix="obs-init-headline-"))
    procs: list[Proc] = []
    node = OpenSearchNode(Path(spec["opensearch_home"]), work / "opensearch")
    started = time.monotonic()
    timings: dict[str, float] = {}

    def lap(what: str) -> None:
        timings[what] = round(time.monotonic() - started, 1)

    try:
        node.start()
        opensearch = node.url
        lap("opensearch up")

        tempo_grpc, tempo, tempo_port = start_receiver()
        tempo_query = tempo_api(tempo)
        fluent = FluentBit(opensearch)

        # Prometheus with the platform's prometheus.yml.
        prom_port = free_port()
        metrics_port = free_port()
        prom = spec["prometheus_config"]
        sidecar_jobs = [j for j in prom["scrape_configs"] if "docker_sd_configs" in j]
        if len(sidecar_jobs) != 1:
            raise SystemExit(f"not one Docker-discovered job in prometheus.yml: {prom}")
        sidecar_job = sidecar_jobs[0]
        sidecar_job.pop("docker_sd_configs")
        sidecar_job.pop("relabel_configs", None)
        sidecar_job["static_configs"] = [
            {
                "targets": [f"127.0.0.1:{metrics_port}"],
                "labels": {"app": spec["app_service"]},
            }
        ]
        sidecar_job["scrape_interval"] = "1s"
        for job in prom["scrape_configs"]:
            for static in job.get("static_configs", []):
                static["targets"] = [
                    t.replace("localhost:9090", f"127.0.0.1:{prom_port}")
                    for t in static["targets"]
                ]
        # JSON is YAML: Prometheus reads it as it is.
        (work / "prometheus.yml").write_text(json.dumps(prom, indent=1))
        procs.append(
            Proc(
                "prometheus",
                [
                    spec["prometheus"],
                    f"--config.file={work / 'prometheus.yml'}",
                    f"--storage.tsdb.path={work / 'prometheus-data'}",
                    f"--web.listen-address=127.0.0.1:{prom_port}",
                    "--web.enable-remote-write-receiver",
                ],
                work,
            )
        )

        grpc_port, http_port, health_port = free_port(), free_port(), free_port()
        config = pointed_at_loopback(
            Path(spec["collector_config"]).read_text(),
            {
                "0.0.0.0:4317": f"127.0.0.1:{grpc_port}",
                "0.0.0.0:4318": f"127.0.0.1:{http_port}",
                "0.0.0.0:13133": f"127.0.0.1:{health_port}",
                "tempo:4317": f"127.0.0.1:{tempo_port}",
                "http://prometheus:9090": f"http://127.0.0.1:{prom_port}",
                "http://fluent-bit:4318": f"http://127.0.0.1:{fluent.port}",
            },
        )
        (work / "otel-collector.yaml").write_text(config)
        collector = Proc(
            "collector",
            [spec["collector"], f"--config={work / 'otel-collector.yaml'}"],
            work,
        )
        procs.append(collector)
        if not wait_for(
            "collector",
            lambda: (
                port_open(health_port)
                and http("GET", f"http://127.0.0.1:{health_port}/")[0] == 200
            ),
        ):
            raise SystemExit(
                "the collector never became healthy:\n" + collector.output()
            )
        if not wait_for(
            "prometheus",
            lambda: (
                port_open(prom_port)
                and http("GET", f"http://127.0.0.1:{prom_port}/-/ready")[0] == 200
            ),
        ):
            raise SystemExit("Prometheus never became ready:\n" + procs[0].output())
        lap("collector and prometheus up")

        # The app, as its compose service runs it, the collector's name resolved to loopback.
        app_port = free_port()
        venv_bin = Path(spec["app_python"]).parent
        app_command = with_flag(
            with_flag(spec["app_command"], "--host", "127.0.0.1"),
            "--port",
            str(app_port),
        )
        app_command[0] = str(venv_bin / app_command[0])
        app_env = {
            k: v.replace(COLLECTOR_ADDRESS, f"127.0.0.1:{grpc_port}")
            for k, v in spec["app_env"].items()
        }
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("OTEL_", "DAPR_", "VIRTUAL_ENV", "PYTHON"))
        }
        env.update(app_env)
        env["PATH"] = f"{venv_bin}:{env.get('PATH', '')}"

        def start_app(name: str) -> Proc:
            app = Proc(name, app_command, work, cwd=spec["project"], env=env)
            procs.append(app)
            if not wait_for(
                "app", lambda: app.proc.poll() is None and port_open(app_port)
            ):
                raise SystemExit(
                    f"the app never listened on {app_port}:\n{app.output()}"
                )
            return app

        # The sidecar, as its compose service runs it.
        dapr_config = work / "dapr-config.yml"
        dapr_config.write_text(
            replaced_once(
                Path(spec["dapr_config"]).read_text(),
                COLLECTOR_ADDRESS,
                f"127.0.0.1:{grpc_port}",
                "dapr-config.yml",
            )
        )
        # Service invocation needs a name resolver, even to the sidecar's own app id (which
        # then goes to the local app channel). Standalone daprd defaults to mDNS, which
        # multicasts on the machine's network: a second Configuration selects the Kubernetes
        # resolver, its template on loopback. dapr merges --config files in order, so the
        # generated one is read unchanged.
        name_resolution = work / "name-resolution.yml"
        name_resolution.write_text(
            "apiVersion: dapr.io/v1alpha1\n"
            "kind: Configuration\n"
            "metadata:\n"
            "  name: tests-name-resolution\n"
            "spec:\n"
            "  nameResolution:\n"
            "    component: kubernetes\n"
            "    configuration:\n"
            '      template: "127.0.0.1:{{.Port}}"\n'
        )
        (work / "resources").mkdir()
        dapr_http, dapr_grpc = free_port(), free_port()
        sidecar = list(spec["sidecar_command"])
        sidecar[0] = spec["daprd"]
        for flag, value in [
            ("--app-port", str(app_port)),
            ("--dapr-http-port", str(dapr_http)),
            ("--dapr-grpc-port", str(dapr_grpc)),
            ("--metrics-port", str(metrics_port)),
            ("--config", str(dapr_config)),
        ]:
            sidecar = with_flag(sidecar, flag, value)
        sidecar += [
            "--config",
            str(name_resolution),
            "--dapr-listen-addresses",
            "127.0.0.1",
            "--dapr-internal-grpc-port",
            str(free_port()),
            "--dapr-internal-grpc-listen-address",
            "127.0.0.1",
            "--metrics-listen-address",
            "127.0.0.1",
            "--resources-path",
            str(work / "resources"),
        ]
        app_id = sidecar[sidecar.index("--app-id") + 1]
        # A container's environment: none of this machine's OTEL_* or DAPR_* variables (daprd
        # reads OTEL_EXPORTER_OTLP_ENDPOINT over its Configuration).
        dapr_env = {"PATH": os.environ.get("PATH", ""), "HOME": str(work)}

        def start_daprd(name: str, command: list[str]) -> Proc:
            daprd = Proc(name, command, work, env=dapr_env)
            procs.append(daprd)
            # The outbound health endpoint answers once the API is up and the app reached.
            if not wait_for(
                "daprd",
                lambda: (
                    daprd.proc.poll() is None
                    and port_open(dapr_http)
                    and http("GET", f"http://127.0.0.1:{dapr_http}/v1.0/healthz")[0]
                    == 204
                ),
            ):
                raise SystemExit(f"daprd never became healthy:\n{daprd.output()}")
            return daprd

        def invoke(order: int):
            status, body = http(
                "GET",
                f"http://127.0.0.1:{dapr_http}/v1.0/invoke/{app_id}/method/orders/{order}",
            )
            return status, body.decode(errors="replace")

        def app_server_span(order: int):
            for res, s in list(tempo.spans):
                view = span_view(res, s)
                if (
                    view["kind"] == "SPAN_KIND_SERVER"
                    and view["path"] == f"/orders/{order}"
                ):
                    return view
            return None

        def trace_of(trace_id: str) -> list[dict]:
            spans = [
                span_view(res, s)
                for res, s in list(tempo.spans)
                if s.trace_id.hex() == trace_id
            ]
            return sorted(spans, key=lambda s: s["start"])

        app = start_app("app")
        daprd = start_daprd("daprd", sidecar)
        lap("app and daprd up")
        status, body = invoke(42)
        server = wait_for("app span", lambda: app_server_span(42))
        trace_id = server["trace_id"] if server else ""
        # daprd exports its span when the request ends: wait until the trace has a root.
        wait_for(
            "daprd span",
            lambda: any(not s["parent_span_id"] for s in trace_of(trace_id)),
            timeout=20,
        )
        lap("trace at tempo")
        # As `docker stop` ends the app: the module flushes its logs and metrics.
        app_exit = app.stop()
        lap("app stopped")

        def search():
            http("POST", f"{opensearch}/{INDEX}/_refresh")
            query = {"query": {"query_string": {"query": f'traceId:"{trace_id}"'}}}
            status, answer = http(
                "POST", f"{opensearch}/{INDEX}/_search", json.dumps(query).encode()
            )
            return json.loads(answer)["hits"]["hits"] if status == 200 else []

        # The app's records may come in more than one export: wait for the request's own.
        def found():
            hits = search()
            messages = [h["_source"].get("message") for h in hits]
            return hits if "looking up order 42" in messages else None

        hits = wait_for("opensearch", found) or search()
        lap("logs in opensearch")

        def series(selector: str) -> list[dict]:
            q = urllib.parse.quote(selector)
            status, answer = http(
                "GET", f"http://127.0.0.1:{prom_port}/api/v1/series?match[]={q}"
            )
            return json.loads(answer)["data"] if status == 200 else []

        def query(expr: str) -> list[dict]:
            q = urllib.parse.quote(expr)
            status, answer = http(
                "GET", f"http://127.0.0.1:{prom_port}/api/v1/query?query={q}"
            )
            return json.loads(answer)["data"]["result"] if status == 200 else []

        # The collector's remote write names the job service.namespace/service.name.
        attributes = dict(
            kv.split("=", 1)
            for kv in spec["app_env"].get("OTEL_RESOURCE_ATTRIBUTES", "").split(",")
            if "=" in kv
        )
        job = spec["app_service"]
        if attributes.get("service.namespace"):
            job = f'{attributes["service.namespace"]}/{job}'
        app_series = wait_for("app metrics", lambda: series(f'{{job="{job}"}}')) or []
        invoked = f'dapr_http_server_request_count{{app_id="{app_id}"}}'
        dapr_requests = wait_for("daprd metrics", lambda: query(invoked)) or []
        dapr_series = series(f'{{job="{sidecar_job["job_name"]}"}}')
        lap("metrics in prometheus")

        def verify() -> dict:
            run = subprocess.run(
                [
                    spec["obs_init"],
                    "verify",
                    "--collector",
                    f"127.0.0.1:{grpc_port}",
                    "--tempo",
                    f"http://127.0.0.1:{tempo_query.server_address[1]}",
                    "--opensearch",
                    opensearch,
                    "--wait",
                    "30",
                    "--format",
                    "json",
                ],
                capture_output=True,
                text=True,
                cwd=work,
                check=False,
            )
            report = json.loads(run.stdout) if run.stdout.strip() else None
            return {"exit": run.returncode, "report": report, "stderr": run.stderr}

        verified = verify()
        lap("verify")

        # Broken once: daprd without its Configuration.
        daprd_exit = daprd.stop()
        app = start_app("app-2")
        bare = start_daprd(
            "daprd-without-config", without_flag(sidecar, "--config", str(dapr_config))
        )
        bare_status, _ = invoke(43)
        app.stop()
        bare.stop()
        # The request's log record tells which trace the app put it in.
        logged = wait_for(
            "log of order 43",
            lambda: [
                d for d in fluent.documents if d.get("message") == "looking up order 43"
            ],
        )
        bare_trace = logged[0].get("traceId", "") if logged else ""
        time.sleep(1)  # what the collector's batch still holds
        without_config = {
            "status": bare_status,
            "log_trace_id": bare_trace,
            "spans": trace_of(bare_trace) if bare_trace else [],
            "app_server_span": app_server_span(43),
            "daprd_log": bare.output()[-3000:],
        }
        lap("without --config")

        # Broken once: the collector down.
        collector.stop()
        collector_down = verify()
        lap("collector down")

        report = {
            "invoke": {"status": status, "body": body},
            "trace_id": trace_id,
            "trace": trace_of(trace_id),
            "app_exit": app_exit,
            "daprd_exit": daprd_exit,
            "opensearch_hits": [h["_source"] for h in hits],
            "app_series": app_series,
            "dapr_requests": dapr_requests,
            "dapr_series": dapr_series,
            "verify": verified,
            "without_config": without_config,
            "collector_down": collector_down,
            "timings": timings,
            "daprd_log": daprd.output()[-6000:],
            "app_log": (work / "app.log").read_text(errors="replace")[-3000:],
        }
        print(json.dumps(report))
        tempo_grpc.stop(grace=0)
        return 0
    finally:
        for p in reversed(procs):
            p.stop()
        # Its data is thrown away: a node left to shut down cleanly takes the whole 30 s
        # that stop() gives it on this machine.
        if node.proc:
            node.proc.kill()
        node.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
