"""How the generated module meets the app's own logging, run in a real child process.

Usage: python logging_e2e.py MODULE_DIR SCENARIO [--without] [--collector-down]

MODULE_DIR holds a generated ``setup_observability.py``. The script starts a real
OTLP/gRPC receiver (or, with ``--collector-down``, points at a closed port), runs SCENARIO
in a child Python process, the way an app configures logging, and prints one JSON object:
the child's console (stderr) lines, the log bodies that reached the receiver, the seconds
the child's log calls took and the seconds the whole child ran. With ``--without`` the
child never sets the module up: the un-onboarded app, to compare the console with.

Scenarios:
- ``last-resort``: the app configures no logging; a warning and an info record.
- ``basic-before`` / ``basic-after``: ``logging.basicConfig`` before / after setup.
- ``dict-after``: ``logging.config.dictConfig`` with a root console handler after setup.
- ``dagster-handler``: ``OtelLogHandler`` named in a dictConfig, as dagster.yaml does,
  with three records logged through it.
- ``spawned-step``: the same in a multiprocessing child started with ``spawn``, as
  Dagster's multiprocess executor starts its step processes.
- ``changed-after``: a record whose argument the app changes right after the call.
- ``mlflow-after``: ``import mlflow`` after setup (MLflow gives its loggers a handler of
  their own and stops them from propagating at import); a warning from MLflow's logger.
- ``silenced-after``: after setup, a library gives its logger a console handler of its
  own and stops it from propagating (as MLflow does to its loggers at import); a record
  logged through it.
- ``forked-child``: a record logged after setup, then at once a child forked (as
  Celery's prefork pool and gunicorn fork workers) that logs one of its own and exits.
"""

from __future__ import annotations

import json
import logging
import logging.config
import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

from otlp_receiver import free_port

FORMAT = "APP %(levelname)s %(name)s %(message)s"


def step_process(module_dir: str, without: bool) -> None:
    """A step process: the handler configured as Dagster configures it, three records."""
    sys.path.insert(0, module_dir)
    handlers = {"otel": {"class": "setup_observability.OtelLogHandler", "level": "INFO"}}
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "handlers": {} if without else handlers,
            "loggers": {"step": {"level": "INFO", "handlers": [] if without else ["otel"]}},
        }
    )
    for i in range(3):
        logging.getLogger("step").info("step record %d", i)


def forked_child() -> None:
    logging.getLogger("app").info("child record")


def child(module_dir: str, scenario: str, without: bool) -> None:
    sys.path.insert(0, module_dir)

    def setup() -> None:
        if not without:
            from setup_observability import setup_observability

            setup_observability("logging-e2e")

    log = logging.getLogger("app")
    started = time.perf_counter()
    if scenario == "last-resort":
        setup()
        log.warning("disk almost full")
        log.info("routine work")
    elif scenario == "basic-before":
        logging.basicConfig(format=FORMAT)
        setup()
        log.warning("configured before")
        log.info("below the app's level")
    elif scenario == "basic-after":
        setup()
        logging.basicConfig(level=logging.INFO, format=FORMAT)
        log.info("configured after")
    elif scenario == "dict-after":
        setup()
        logging.config.dictConfig(
            {
                "version": 1,
                "disable_existing_loggers": False,
                "formatters": {"plain": {"format": FORMAT}},
                "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
                "root": {"level": "INFO", "handlers": ["console"]},
            }
        )
        log.info("dict configured")
    elif scenario == "dagster-handler":
        handlers = {"otel": {"class": "setup_observability.OtelLogHandler", "level": "INFO"}}
        logging.config.dictConfig(
            {
                "version": 1,
                "disable_existing_loggers": False,
                "handlers": {} if without else handlers,
                "loggers": {
                    "step": {"level": "INFO", "handlers": [] if without else ["otel"]}
                },
            }
        )
        started = time.perf_counter()
        step = logging.getLogger("step")
        for i in range(3):
            step.info("step record %d", i)
    elif scenario == "spawned-step":
        process = multiprocessing.get_context("spawn").Process(
            target=step_process, args=(module_dir, without)
        )
        process.start()
        process.join()
    elif scenario == "changed-after":
        setup()
        basket = ["apple"]
        log.info("basket %s", basket)
        basket.append("pear")
    elif scenario == "mlflow-after":
        setup()
        import mlflow  # noqa: F401

        logging.getLogger("mlflow.tracking").warning("mlflow record")
    elif scenario == "silenced-after":
        setup()
        library = logging.getLogger("library")
        console = logging.StreamHandler()
        console.setFormatter(logging.Formatter(FORMAT))
        library.addHandler(console)
        library.setLevel(logging.INFO)
        library.propagate = False
        library.info("library record")
    elif scenario == "forked-child":
        setup()
        log.info("parent record")
        process = multiprocessing.get_context("fork").Process(target=forked_child)
        process.start()
        process.join()
    else:
        raise SystemExit(f"unknown scenario {scenario}")
    print(json.dumps({"log_seconds": time.perf_counter() - started}))


def main() -> int:
    if sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], "--without" in sys.argv[4:])
        return 0
    module_dir, scenario = sys.argv[1], sys.argv[2]
    flags = sys.argv[3:]
    receiver = None
    if "--collector-down" in flags:
        collector = f"127.0.0.1:{free_port()}"
    else:
        # In a process of its own: this one forks the child, and gRPC threads here would
        # make that fork unsafe.
        receiver = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("otlp_receiver.py")), "--serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        port = receiver.stdout.readline().strip()
        collector = f"127.0.0.1:{port}"
    env = dict(os.environ, OTEL_COLLECTOR_ENDPOINT=collector)
    env.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
    args = [sys.executable, __file__, "--child", module_dir, scenario]
    if "--without" in flags:
        args.append("--without")
    started = time.monotonic()
    proc = subprocess.run(
        args, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    run_seconds = time.monotonic() - started
    exported = []
    if receiver is not None:
        time.sleep(0.3)
        out, _ = receiver.communicate(timeout=30)
        exported = sorted(json.loads(out.strip().splitlines()[-1]))
    if proc.returncode != 0:
        print(f"the child exited with {proc.returncode}:\n{proc.stderr}", file=sys.stderr)
        return 1
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result.update(
        {
            "console": proc.stderr.splitlines(),
            "exported": exported,
            "run_seconds": run_seconds,
        }
    )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
