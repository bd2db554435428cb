"""What onboarding costs the app at run time, against the original and against zero-code.

Usage: bench/runtime [--requests N] [--rounds R] [--block B] [--before REV] [--out FILE]

The bundled FastAPI example (examples/fastapi-app) runs under real uvicorn in three forms,
each with the collector up (a real OTLP/gRPC receiver in its own process) and down (a
closed port):

- original: the example as it is, no OpenTelemetry;
- onboarded: the example after `obs-init --yes --edit-entrypoint` (the release binary);
- zero-code: the original under `opentelemetry-instrument` (opentelemetry-distro), with
  traces, metrics and logs exported over OTLP/gRPC, the peer users would otherwise pick;
- before (with ``--before REV``): the onboarded app with the module of git revision REV
  (``templates/setup_observability.py`` there), to compare a change with, in the same run.

Then the cost of one exported log record inside the app (bench/record_cost.py), for the
module and, with ``--before``, REV's.

For each: start-up (spawn to first answer), request latency over N keep-alive requests
from one client (every tenth for an unknown order, which the app logs as a warning), the
server's CPU a request (all its threads, the export included), its resident memory after
the load, and SIGTERM to exit. In each round every form runs at once and they are served
in turn, a block of requests each, so that drift on the machine hits all alike; medians
over rounds are reported, and what each instrumented form adds over the original, as a
ratio of zero-code's.
Writes the section `## 4. The onboarded app at run time` of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
E2E = ROOT / "tests" / "e2e"
sys.path.insert(0, str(E2E))
from otlp_receiver import free_port  # noqa: E402

SECTION = "## 4. The onboarded app at run time"
VARIANTS = ["original", "onboarded", "zero-code"]

RECEIVER = """
import sys, time
sys.path.insert(0, sys.argv[1])
from otlp_receiver import start_receiver
server, receiver, port = start_receiver()
print(port, flush=True)
while True:
    time.sleep(3600)
"""


def module_at(rev: str) -> str:
    """The generated module's body at git revision ``rev``."""
    return subprocess.run(
        ["git", "show", f"{rev}:templates/setup_observability.py"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def prepare(
    work: Path, binary: Path, matched: bool, before: str | None
) -> dict[str, Path]:
    """The example twice: as it is, and onboarded by obs-init. With ``matched``, the
    onboarded app keeps the root logger at WARNING, as zero-code leaves it, so that both
    export the same records."""
    original = work / "original"
    shutil.copytree(ROOT / "examples" / "fastapi-app", original)
    onboarded = work / "onboarded"
    shutil.copytree(original, onboarded)
    subprocess.run(
        [str(binary), "--yes", "--edit-entrypoint"],
        cwd=onboarded,
        check=True,
        capture_output=True,
    )
    if matched:
        main = onboarded / "app" / "main.py"
        main.write_text(
            main.read_text() + "\nlogging.getLogger().setLevel(logging.WARNING)\n"
        )
        # Zero-code keeps the ASGI instrumentation's span per message sent: so does the
        # onboarded app here.
        module = onboarded / "app" / "setup_observability.py"
        text = module.read_text()
        leaves_out = 'return {"exclude_spans": ["receive", "send"]}'
        if leaves_out not in text:
            raise SystemExit("matched: the module no longer leaves ASGI spans out so")
        module.write_text(text.replace(leaves_out, "return {}"))
    projects = {"original": original, "onboarded": onboarded, "zero-code": original}
    if before is not None:
        projects["before"] = work / "before"
        shutil.copytree(onboarded, projects["before"])
        (projects["before"] / "app" / "setup_observability.py").write_text(
            module_at(before)
        )
    return projects


def server_command(variant: str, port: int, matched: bool) -> list[str]:
    bin_dir = Path(sys.executable).parent
    # The client's connection waits while the other forms are served: kept open.
    uvicorn = [
        str(bin_dir / "uvicorn"),
        "app.main:app",
        "--port",
        str(port),
        "--timeout-keep-alive",
        "3600",
    ]
    if matched:
        # Zero-code never exports uvicorn's access records (its logger does not propagate).
        uvicorn.append("--no-access-log")
    if variant == "zero-code":
        return [str(bin_dir / "opentelemetry-instrument"), *uvicorn]
    return uvicorn


def server_env(variant: str, collector: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "PYTHONPATH"))
    }
    env["PYTHONUNBUFFERED"] = "1"
    if variant in ("onboarded", "before"):
        # As the compose file obs-init wrote sets it.
        env["OTEL_COLLECTOR_ENDPOINT"] = collector
        env["OTEL_SERVICE_NAME"] = "api"
    elif variant == "zero-code":
        env.update(
            {
                "OTEL_SERVICE_NAME": "api",
                "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{collector}",
                "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
                "OTEL_TRACES_EXPORTER": "otlp",
                "OTEL_METRICS_EXPORTER": "otlp",
                "OTEL_LOGS_EXPORTER": "otlp",
                "OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED": "true",
            }
        )
    return env


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User and system CPU of process ``pid``, all its threads (the export included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Server:
    """One variant under uvicorn, started and answering, with one keep-alive client."""

    def __init__(
        self, variant: str, project: Path, collector: str, matched: bool
    ) -> None:
        self.port = free_port()
        started = time.perf_counter()
        self.proc = subprocess.Popen(
            server_command(variant, self.port, matched),
            cwd=project,
            env=server_env(variant, collector),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        while True:
            if self.proc.poll() is not None:
                raise SystemExit(
                    f"{variant}: the server exited with {self.proc.returncode}"
                )
            try:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                self.get(1)
                break
            except OSError:
                time.sleep(0.005)
        self.startup_ms = (time.perf_counter() - started) * 1000
        for i in range(50):  # warm-up, not measured
            self.get(i)
        self.latencies: list[float] = []
        self.cpu = 0.0

    def get(self, order: int) -> None:
        self.conn.request("GET", f"/orders/{order}")
        self.conn.getresponse().read()

    def block(self, requests: int) -> None:
        """``requests`` timed requests, every tenth for an unknown order."""
        cpu = cpu_seconds(self.proc.pid)
        for i in range(requests):
            order = 1000 + i if i % 10 == 9 else i
            t0 = time.perf_counter()
            self.get(order)
            self.latencies.append((time.perf_counter() - t0) * 1000)
        self.cpu += cpu_seconds(self.proc.pid) - cpu

    def stop(self) -> dict[str, float]:
        self.conn.close()
        memory = rss_mib(self.proc.pid)
        t0 = time.perf_counter()
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=60)
        stop = time.perf_counter() - t0
        latencies = sorted(self.latencies)
        return {
            "startup_ms": self.startup_ms,
            "p50_ms": latencies[len(latencies) // 2],
            "p99_ms": latencies[int(len(latencies) * 0.99) - 1],
            "cpu_us": self.cpu / len(latencies) * 1e6,
            "rss_mib": memory,
            "stop_ms": stop * 1000,
        }

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def run_round(
    servers: dict[tuple[str, str], tuple[Path, str]],
    requests: int,
    block: int,
    matched: bool,
) -> dict[tuple[str, str], dict[str, float]]:
    """Every form started one after the other (their start-ups do not overlap), then
    their requests interleaved in blocks of ``block``, so that what the machine does
    meanwhile falls on all of them alike, then each stopped in turn."""
    running: dict[tuple[str, str], Server] = {}
    try:
        for (variant, state), (project, address) in servers.items():
            running[(variant, state)] = Server(variant, project, address, matched)
        for _ in range(max(1, requests // block)):
            for server in running.values():
                server.block(block)
        return {key: server.stop() for key, server in running.items()}
    finally:
        for server in running.values():
            server.kill()


def start_receiver_process() -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", RECEIVER, str(E2E)], stdout=subprocess.PIPE, text=True
    )
    port = proc.stdout.readline().strip()
    return proc, f"127.0.0.1:{port}"


def median(runs: list[dict[str, float]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


MODES = {
    "as-shipped": "As each ships: the onboarded app exports one span a request, INFO and up"
    " (the app configures no level) and uvicorn's access records, about 2.1 log records a"
    " request; zero-code exports three spans a request (the server span and one per ASGI"
    " message sent) and WARNING and up from loggers that reach root, 0.1 log records.",
    "matched": "The same telemetry: the onboarded app sets root back to WARNING and keeps"
    " the ASGI message spans, and every form runs with `--no-access-log`, so both export"
    " three spans and 0.1 log records a request.",
}


def table(results: dict) -> list[str]:
    lines = [
        "| variant | collector | start-up ms | p50 ms | p50 over rounds | p99 ms |"
        " CPU µs a request | RSS MiB | SIGTERM to exit ms |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for variant in variants(results):
        for state in ("up", "down"):
            runs = results[(variant, state)]
            p50s = [r["p50_ms"] for r in runs]
            lines.append(
                f"| {variant} | {state} | {median(runs, 'startup_ms'):.0f} |"
                f" {median(runs, 'p50_ms'):.3f} | {min(p50s):.3f}-{max(p50s):.3f} |"
                f" {median(runs, 'p99_ms'):.3f} | {median(runs, 'cpu_us'):.0f} |"
                f" {median(runs, 'rss_mib'):.1f} | {median(runs, 'stop_ms'):.0f} |"
            )
    before = "before" in variants(results)
    lines += [
        "",
        "| added over the original (collector up) | onboarded | zero-code |"
        " onboarded / zero-code |" + (" before | before / zero-code |" if before else ""),
        "| --- | ---: | ---: | ---: |" + (" ---: | ---: |" if before else ""),
    ]
    base = results[("original", "up")]
    for key, label, unit in [
        ("p50_ms", "p50 latency", "ms"),
        ("p99_ms", "p99 latency", "ms"),
        ("cpu_us", "CPU a request", "µs"),
        ("startup_ms", "start-up", "ms"),
        ("rss_mib", "memory", "MiB"),
    ]:
        ours = median(results[("onboarded", "up")], key) - median(base, key)
        theirs = median(results[("zero-code", "up")], key) - median(base, key)
        ratio = f"{ours / theirs:.2f}" if theirs > 0 else "n/a"
        digits = 0 if unit == "µs" else 3
        row = (
            f"| {label} | {ours:+.{digits}f} {unit} | {theirs:+.{digits}f} {unit} |"
            f" {ratio} |"
        )
        if before:
            old = median(results[("before", "up")], key) - median(base, key)
            old_ratio = f"{old / theirs:.2f}" if theirs > 0 else "n/a"
            row += f" {old:+.{digits}f} {unit} | {old_ratio} |"
        lines.append(row)
    lines += [
        "",
        "| collector down / up | p50 | p99 | SIGTERM to exit, down |",
        "| --- | ---: | ---: | ---: |",
    ]
    for variant in [v for v in variants(results) if v != "original"]:
        up, down = results[(variant, "up")], results[(variant, "down")]
        lines.append(
            f"| {variant} | {median(down, 'p50_ms') / median(up, 'p50_ms'):.2f} |"
            f" {median(down, 'p99_ms') / median(up, 'p99_ms'):.2f} |"
            f" {median(down, 'stop_ms'):.0f} ms |"
        )
    return lines


def variants(results: dict) -> list[str]:
    return [v for v in [*VARIANTS, "before"] if (v, "up") in results]


def record_cost(module_dir: Path, rounds: int) -> dict:
    """bench/record_cost.py on one module."""
    script = Path(__file__).with_name("record_cost.py")
    out = subprocess.run(
        [sys.executable, str(script), str(module_dir), "--rounds", str(rounds)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def cost_table(costs: dict[str, dict], before: str | None) -> list[str]:
    records = next(iter(costs.values()))["records"]
    lines = [
        "### cost per exported log record",
        "",
        f"bench/record_cost.py: {records} INFO records inside a span, in bursts of 100,"
        " each exported to the receiver; microseconds per record over the same calls"
        " with no OpenTelemetry (root at INFO, a handler that does nothing), medians"
        " over rounds. In the call: the CPU the logging thread spends in it; CPU: what the process"
        " spends in all, the export in the background included, measured after the final"
        " flush.",
        "",
        "| module | in the log call µs | CPU µs | records exported per round |",
        "| --- | ---: | ---: | --- |",
    ]
    for name, cost in costs.items():
        label = f"before ({before})" if name == "before" else "this module"
        lines.append(
            f"| {label} | {cost['in_call_us']:.1f} | {cost['cpu_us']:.1f} |"
            f" {', '.join(str(n) for n in cost['exported'])} |"
        )
    return lines


def report(results: dict, costs: dict, args, versions: str) -> str:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    lines = [
        SECTION,
        "",
        f"`bench/runtime` on {cpu}, {os.cpu_count()} cores, Python"
        f" {platform.python_version()} ({versions}). The bundled FastAPI example under"
        f" uvicorn (one process), {args.requests} keep-alive requests from one client to"
        " each form in each round, every tenth for an unknown order (a warning). In a"
        " round every form runs at once and they are served in turn, in blocks of"
        f" {args.block} requests, so that what else the machine does falls on all alike;"
        f" medians over {args.rounds} rounds. CPU a request: the server process's, all its"
        " threads (the export included), over those requests. Zero-code is"
        " `opentelemetry-instrument` with"
        " traces, metrics and logs over OTLP/gRPC. Ratios below 1 mean obs-init's module"
        " adds less than zero-code; a down / up ratio of 1.00 means a dead collector costs"
        " nothing.",
    ]
    for mode, text in MODES.items():
        lines += ["", f"### {mode}", "", text, "", *table(results[mode])]
    lines += ["", *cost_table(costs, args.before)]
    return "\n".join(lines) + "\n"


def versions() -> str:
    from importlib.metadata import version

    return ", ".join(
        f"{name} {version(name)}"
        for name in ("fastapi", "uvicorn", "opentelemetry-sdk", "opentelemetry-distro")
    )


def write_section(path: Path, section: str) -> None:
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n"
    if SECTION in text:
        head, _, rest = text.partition(SECTION)
        # The section runs to the next top-level heading of the same depth, or the end.
        tail = rest.split("\n## ", 1)
        rest = "\n## " + tail[1] if len(tail) == 2 else ""
        text = head + section + rest
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text, encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--block", type=int, default=100, help="requests to one form before the next"
    )
    parser.add_argument(
        "--binary", type=Path, default=ROOT / "target" / "release" / "obs-init"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "RESULTS.md")
    parser.add_argument(
        "--before", help="a git revision whose module to measure beside this one"
    )
    args = parser.parse_args()
    names = VARIANTS + (["before"] if args.before else [])
    receiver, collector = start_receiver_process()
    down = f"127.0.0.1:{free_port()}"
    results: dict = {
        mode: {(v, s): [] for v in names for s in ("up", "down")} for mode in MODES
    }
    costs: dict[str, dict] = {}
    try:
        with tempfile.TemporaryDirectory() as work:
            projects = {
                mode: prepare(
                    Path(work) / mode, args.binary, mode == "matched", args.before
                )
                for mode in MODES
            }
            for r in range(args.rounds):
                for mode in MODES:
                    servers = {
                        (variant, state): (projects[mode][variant], address)
                        for variant in names
                        for state, address in (("up", collector), ("down", down))
                    }
                    runs = run_round(
                        servers, args.requests, args.block, mode == "matched"
                    )
                    for (variant, state), run in runs.items():
                        results[mode][(variant, state)].append(run)
                        print(
                            f"round {r + 1} {mode:10} {variant:9} collector {state:4}"
                            f" p50 {run['p50_ms']:.3f} ms p99 {run['p99_ms']:.3f} ms"
                            f" cpu {run['cpu_us']:.0f} us/request"
                            f" start {run['startup_ms']:.0f} ms"
                            f" rss {run['rss_mib']:.1f} MiB stop {run['stop_ms']:.0f} ms",
                            file=sys.stderr,
                        )
            shipped = projects["as-shipped"]
            costs["this module"] = record_cost(shipped["onboarded"] / "app", args.rounds)
            if args.before:
                costs["before"] = record_cost(shipped["before"] / "app", args.rounds)
            for name, cost in costs.items():
                print(f"record cost {name}: {cost}", file=sys.stderr)
    finally:
        receiver.kill()
        receiver.wait()
    section = report(results, costs, args, versions())
    write_section(args.out, section)
    print(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
