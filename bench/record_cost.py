"""What one exported log record costs the app: microseconds per ``logging`` call.

Usage: python record_cost.py MODULE_DIR [--records N] [--rounds R]

MODULE_DIR holds a generated ``setup_observability.py``. Each round runs two child
processes on the same records (INFO, one argument, inside a span, as a request handler
logs them), in bursts of 100 with a pause between, so that the export keeps up and no
record is dropped:

- plain: no OpenTelemetry, root at INFO with one handler that does nothing: what
  ``logging`` itself costs;
- module: ``setup_observability()``, every record exported to a real OTLP/gRPC receiver
  (in a process of its own).

Per record it reports the CPU the logging thread spent inside the log call and the CPU
the process spent (the call and the export in the background, measured after the flush),
each over plain's, medians over rounds, and how many records reached the receiver (the warm-up's
included). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

E2E = Path(__file__).resolve().parent.parent / "tests" / "e2e"
BURST = 100


def child(module_dir: str, variant: str, records: int) -> None:
    root = logging.getLogger()
    if variant == "module":
        sys.path.insert(0, module_dir)
        from setup_observability import setup_observability, shutdown_observability

        setup_observability("record-cost")
    else:
        root.addHandler(logging.NullHandler())
        root.setLevel(logging.INFO)

        def shutdown_observability() -> None:
            pass

    from opentelemetry import trace

    tracer = trace.get_tracer("record-cost")
    log = logging.getLogger("app.main")

    def burst(first: int) -> float:
        with tracer.start_as_current_span("request"):
            # The logging thread's own CPU: wall time would also count what other
            # processes on the machine take from it.
            started = time.thread_time()
            for i in range(first, first + BURST):
                log.info("looking up order %s", i)
            return time.thread_time() - started

    for i in range(0, 1000, BURST):  # warm-up, not measured
        burst(i)
        time.sleep(0.01)
    time.sleep(1.5)
    in_calls = 0.0
    cpu = time.process_time()
    for i in range(0, records, BURST):
        in_calls += burst(i)
        time.sleep(0.005)
    shutdown_observability()
    cpu = time.process_time() - cpu
    print(json.dumps({"in_call_s": in_calls, "cpu_s": cpu}))


def run(module_dir: str, variant: str, records: int, collector: str) -> dict:
    env = dict(os.environ, OTEL_COLLECTOR_ENDPOINT=collector)
    env.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
    out = subprocess.run(
        [sys.executable, __file__, "--child", module_dir, variant, str(records)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    if sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("module_dir")
    parser.add_argument("--records", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    in_call, cpu, exported = [], [], []
    for _ in range(args.rounds):
        receiver = subprocess.Popen(
            [sys.executable, str(E2E / "otlp_receiver.py"), "--serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        port = receiver.stdout.readline().strip()
        collector = f"127.0.0.1:{port}"
        plain = run(args.module_dir, "plain", args.records, collector)
        module = run(args.module_dir, "module", args.records, collector)
        time.sleep(0.3)
        out, _ = receiver.communicate(timeout=60)
        bodies = json.loads(out.strip().splitlines()[-1])
        exported.append(sum(b.startswith("looking up order") for b in bodies))
        per = 1e6 / args.records
        in_call.append((module["in_call_s"] - plain["in_call_s"]) * per)
        cpu.append((module["cpu_s"] - plain["cpu_s"]) * per)
    print(
        json.dumps(
            {
                "records": args.records,
                "in_call_us": round(statistics.median(in_call), 2),
                "in_call_us_rounds": [round(x, 2) for x in in_call],
                "cpu_us": round(statistics.median(cpu), 2),
                "cpu_us_rounds": [round(x, 2) for x in cpu],
                "exported": exported,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
