"""OpenTelemetry for this service: traces, metrics and logs to the platform collector.

Everything goes over OTLP/gRPC to ``OTEL_COLLECTOR_ENDPOINT`` (the company variable,
usually ``otel-collector:4317``), else ``OTEL_EXPORTER_OTLP_ENDPOINT``, else
``http://localhost:4317``. The service name comes from the argument to
``setup_observability``, else ``OTEL_SERVICE_NAME``; ``OTEL_RESOURCE_ATTRIBUTES`` is
honoured. With FastAPI, one line after ``app = FastAPI(...)`` does it all::

    from .setup_observability import instrument_fastapi

    instrument_fastapi(app)  # also calls setup_observability()

With Flask, ``instrument_flask(app)`` after ``app = Flask(__name__)``; with Django,
``instrument_django()`` before ``application = get_wsgi_application()``.

Elsewhere, call ``setup_observability()`` once at start-up.

What it promises:

- Nothing is lost at stop. ``instrument_fastapi`` adds the flush to the app's
  lifespan (after the app's own shutdown code, in the form the app's Starlette
  expects, old generator lifespans included): uvicorn re-raises SIGTERM after its
  graceful shutdown, and no exit hook runs then. Where nothing else handles SIGTERM,
  the module does: it flushes, then lets the signal end the process as before. Plain
  exits flush too, multiprocessing children (Dagster's step processes) included.
- Logging adds, never takes away. Every ``logging`` record reaches the collector with
  the trace and span id active when it was logged, uvicorn's and gunicorn's loggers
  included, and loggers a framework stops from propagating later (Celery's task
  loggers when the worker starts, MLflow's); what the console showed before (Python's
  last-resort output, and ``basicConfig`` or ``dictConfig`` called before or after
  setup) it still shows. Levels are the app's own; when the app configures none, INFO
  and up are exported. A log the server keeps off stays off (uvicorn's
  ``--no-access-log``, gunicorn's access log without ``--access-logfile``).
- A log call never fails because of the export. A record the SDK cannot convert (an
  ``extra`` it has no attribute type for, on older SDKs) is sent without its extras,
  and the first such failure is reported on stderr as ``logging`` reports a handler's
  error.
- The app never waits for the collector, and hardly for the export: a log call keeps
  the record's message and trace context, and a background thread converts records
  for export a batch at a time. Records and spans are queued and exported in the
  background; an export gives up after ``OTEL_EXPORTER_OTLP_TIMEOUT`` (3 s unless
  set); shutdown waits at most 2.5 s, and 0.2 s once an export has failed, so a dead
  collector cannot outlast docker's 10 s stop grace, on any SDK line. Nothing is
  printed at interpreter exit. Export failures go to stderr at most once a minute
  each, never back to the collector.

Calling ``setup_observability()`` twice, or running under ``opentelemetry-instrument``,
installs nothing twice: providers and the log handler already in place are reused, so
nothing is exported twice.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import importlib
import inspect
import logging
import logging.config
import multiprocessing.util
import os
import queue
import signal
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable
from types import FrameType
from typing import Any, Union

from opentelemetry import context as otel_context
from opentelemetry import metrics, trace
from opentelemetry._logs import get_logger_provider, set_logger_provider
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

try:
    from opentelemetry.instrumentation.logging.handler import LoggingHandler
except ImportError:  # SDK lines before 1.40 (Python 3.8's) have only the SDK's.
    from opentelemetry.sdk._logs import LoggingHandler  # type: ignore[assignment]

__all__ = [
    "OtelLogHandler",
    "collector_endpoint",
    "instrument_celery",
    "instrument_django",
    "instrument_fastapi",
    "instrument_flask",
    "setup_observability",
    "shutdown_observability",
]

DEFAULT_ENDPOINT = "http://localhost:4317"
# Seconds one export may take, retries included, unless OTEL_EXPORTER_OTLP_TIMEOUT says.
EXPORT_TIMEOUT = 3.0
# Seconds shutdown waits for the last exports: well inside docker's 10 s stop grace.
SHUTDOWN_TIMEOUT = 2.5
# Seconds for which a failed export marks the collector as down at shutdown.
RECENT_FAILURE = 10.0
# Seconds between two console reports of the same export problem.
REPORT_INTERVAL = 60.0
# Seconds shutdown still waits once it has cut the exports short.
CUT_GRACE = 0.2
# Seconds a logged record waits at most for the thread that converts it for export; the
# thread also wakes once this many are waiting.
HANDOFF_INTERVAL = 0.2
HANDOFF_BATCH = 64
# Records waiting beyond this many are converted in the log call itself.
HANDOFF_LIMIT = 4096

Provider = Union[TracerProvider, MeterProvider, LoggerProvider]

_lock = threading.RLock()
_done = False
# What this module installed (and so must flush and shut down).
_providers: list[Provider] = []
_forwarders: list[_Forwarder] = []
# Our exporters, which shutdown cuts short once the collector is known to be down.
_exporters: list[Any] = []
# When an export last failed (time.monotonic()), as the exporters report it.
_last_failure = float("-inf")
# Whether the root level is the INFO this module set (the app had configured none).
_lowered_root = False
# Set once shutdown has cut the exports short: what they report then is expected.
_cutting = threading.Event()


def collector_endpoint() -> str:
    """The collector's OTLP/gRPC endpoint, always with a scheme.

    A bare ``host:port`` would be read as a URL whose scheme is the host name, and the
    exporter would then try TLS against the plaintext collector: nothing would arrive.
    """
    for var in ("OTEL_COLLECTOR_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"):
        value = os.environ.get(var, "").strip()
        if value:
            return value if "://" in value else f"http://{value}"
    return DEFAULT_ENDPOINT


def _export_timeout(signal_name: str) -> float | None:
    # None lets the exporter read the OTEL_EXPORTER_OTLP_*TIMEOUT variable it is given.
    for var in (
        "OTEL_EXPORTER_OTLP_TIMEOUT",
        f"OTEL_EXPORTER_OTLP_{signal_name}_TIMEOUT",
    ):
        if os.environ.get(var, "").strip():
            return None
    return EXPORT_TIMEOUT


def _is_otel_log_handler(handler: logging.Handler) -> bool:
    # Matches this module's forwarder, the SDK's handler and opentelemetry-instrument's.
    if isinstance(handler, _Forwarder):
        return True
    cls = type(handler)
    named = cls.__name__ == "LoggingHandler"
    return named and cls.__module__.startswith("opentelemetry")


def _is_pipeline_record(name: str) -> bool:
    # Records about exporting itself: sending them to the collector would feed a failing
    # export with more to export.
    return name == "opentelemetry" or name.startswith("opentelemetry.")


def _exporting_handler(logger_provider: Any) -> Any:
    """The OpenTelemetry handler that turns a record into an OTLP log record, with its
    ``flush`` turned off. ``logging.shutdown`` flushes every handler at exit: the SDK's
    flush waits for the collector (up to 30 s on SDK 1.33 with the collector down) and,
    from 1.40 on, starts a thread, which Python 3.12 refuses at interpreter shutdown
    (a traceback at every exit). ``shutdown_observability`` flushes instead, bounded."""
    handler = LoggingHandler(logger_provider=logger_provider)
    vars(handler)["flush"] = _no_flush
    return handler


def _no_flush() -> None:
    pass


# Attributes every LogRecord has; anything else was added by ``extra=``.
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None)))
_RECORD_ATTRIBUTES |= {"message", "asctime", "taskName"}
# Whether a record failed to export, reported once (on stderr) per process.
_export_error_reported = False


def _export_record(delegate: Any, handler: logging.Handler, record: Any) -> None:
    """Exports ``record`` through ``delegate``; never raises into the app's log call.

    A value the SDK cannot turn into an attribute (an ``extra={"scope": ...}`` holding
    an object makes SDK 1.33 raise ``AttributeError: __name__``) would otherwise fail
    the request that logged it. The first such failure is reported the way
    ``logging.Handler.handleError`` reports one, on stderr, once per process; the
    record is then sent without its extras, so that it still arrives."""
    global _export_error_reported
    try:
        delegate.emit(record)
        return
    except RecursionError:
        raise
    except Exception:
        if not _export_error_reported:
            _export_error_reported = True
            handler.handleError(record)
    plain = {k: v for k, v in vars(record).items() if k in _RECORD_ATTRIBUTES}
    with contextlib.suppress(Exception):
        delegate.emit(logging.makeLogRecord(plain))


class _Handoff:
    """Records a forwarder took, converted for export by a thread of their own.

    Turning a record into an OTLP one (the SDK's handler and pipeline) takes about
    25 µs; in the log call, that falls on the request that logs. The log call keeps only
    what changes after it (the message, whose arguments may be mutated later, and the
    active trace context); the thread converts a batch at a time, between requests.
    Where no thread can start (at interpreter shutdown), or too many records wait, the
    log call converts as before."""

    def __init__(self, delegate: Any, handler: logging.Handler) -> None:
        self._delegate = delegate
        self._handler = handler
        self._reset()
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        # Also in a forked child: what waits is the parent's to export, and neither the
        # parent's thread nor a lock it held exists there.
        self._converting = threading.Lock()
        self._starting = threading.Lock()
        self._waiting: collections.deque[Any] = collections.deque()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._threadless = False

    def put(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:
            # Formatting fails: converting now reports it as the SDK's handler would.
            self._convert(record)
            return
        if self._threadless or len(self._waiting) >= HANDOFF_LIMIT:
            self._convert(record)
            return
        self._waiting.append((record, message, otel_context.get_current()))
        if self._thread is None:
            with self._starting:
                if self._thread is None:
                    self._start()
        if len(self._waiting) >= HANDOFF_BATCH and not self._wake.is_set():
            self._wake.set()

    def _start(self) -> None:
        thread = _daemon(self._run, "otel-handoff")
        if thread is None:
            self._threadless = True
            self.drain()
            return
        self._thread = thread

    def _run(self) -> None:
        while not self._threadless:
            self._wake.wait(HANDOFF_INTERVAL)
            self._wake.clear()
            self.drain()

    def close(self, timeout: float) -> None:
        """Converts what waits, in the calling thread, and ends the thread: a thread
        still running while the interpreter exits can print errors (Python 3.8)."""
        self._threadless = True
        self._wake.set()
        self.drain(timeout)
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def drain(self, timeout: float = -1) -> None:
        """Converts every record waiting; with ``timeout``, gives up waiting for the
        thread's batch after that many seconds."""
        if not self._converting.acquire(timeout=timeout):
            return
        try:
            waiting = self._waiting
            while waiting:
                record, message, context = waiting.popleft()
                try:
                    logged = _as_logged(record, message)
                except Exception:  # a record class of the app's that cannot be copied
                    logged = record
                token = otel_context.attach(context)
                try:
                    self._convert(logged)
                finally:
                    otel_context.detach(token)
        finally:
            self._converting.release()

    def _convert(self, record: logging.LogRecord) -> None:
        _export_record(self._delegate, self._handler, record)


def _as_logged(record: logging.LogRecord, message: str) -> logging.LogRecord:
    """A copy of ``record`` whose message is ``message``, the text it had when logged;
    the record itself is left as the other handlers saw it."""
    copy = logging.LogRecord.__new__(type(record))
    vars(copy).update(vars(record))
    copy.msg = message
    copy.args = None
    return copy


class _Forwarder(logging.Handler):
    """Sends each record to the collector. Where it is the only handler a record
    meets, it also does what Python does then: the last-resort stderr line."""

    def __init__(self, logger_provider: Any) -> None:
        super().__init__()
        self.handoff = _Handoff(_exporting_handler(logger_provider), self)

    def emit(self, record: logging.LogRecord) -> None:
        if not _is_pipeline_record(record.name):
            self.handoff.put(record)
        last = logging.lastResort
        if last is None or record.levelno < last.level:
            return
        if not _other_handlers(record.name):
            last.handle(record)


def _other_handlers(name: str) -> bool:
    """Whether a record of logger ``name`` meets a handler that is not a forwarder, as
    ``Logger.callHandlers`` walks the hierarchy."""
    found = logging.root.manager.loggerDict.get(name)
    logger: logging.Logger | None = (
        found if isinstance(found, logging.Logger) else logging.getLogger()
    )
    while logger is not None:
        if any(not isinstance(h, _Forwarder) for h in logger.handlers):
            return True
        if not logger.propagate:
            return False
        logger = logger.parent
    return False


def _attach(handler: logging.Handler) -> None:
    """Puts ``handler`` where every record passes: on root, and on each logger that does
    not propagate but prints (uvicorn's and gunicorn's, whose records never reach root).
    One that neither propagates nor has a handler was silenced on purpose (uvicorn's
    ``--no-access-log``): a handler there would turn its records back on."""
    loggers = [logging.getLogger()]
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if not isinstance(logger, logging.Logger) or _is_pipeline_record(name):
            continue
        if not logger.propagate and logger.handlers:
            loggers.append(logger)
    for logger in loggers:
        if not any(_is_otel_log_handler(h) for h in logger.handlers):
            logger.addHandler(handler)


class _Propagate:
    """``Logger.propagate``, watched. A logger that stops propagating after setup takes
    its records away from the forwarder on root: Celery's worker does it to
    ``celery.task`` (``get_task_logger``'s parent) when it starts, MLflow to its own
    loggers when imported. Such a logger gets the forwarders as soon as it stops, if it
    prints (has a handler); one that neither prints nor propagates stays silent."""

    def __get__(self, logger: Any, owner: Any = None) -> Any:
        if logger is None:
            return self
        return logger.__dict__.get("propagate", True)

    def __set__(self, logger: Any, value: Any) -> None:
        logger.__dict__["propagate"] = value
        if value or not _forwarders or not logger.handlers:
            return
        if _is_pipeline_record(logger.name):
            return
        with _lock:
            if not any(_is_otel_log_handler(h) for h in logger.handlers):
                for forwarder in _forwarders:
                    logger.addHandler(forwarder)


def _watch_propagation() -> None:
    # On the class, so that it sees every logger, those made later included; what each
    # logger holds stays in its own __dict__, where logging put it.
    if not isinstance(vars(logging.Logger).get("propagate"), _Propagate):
        setattr(logging.Logger, "propagate", _Propagate())  # noqa: B010


def _detach(handler: logging.Handler) -> None:
    loggers = [logging.getLogger()]
    loggers += [
        lg
        for lg in logging.root.manager.loggerDict.values()
        if isinstance(lg, logging.Logger)
    ]
    for logger in loggers:
        if handler in logger.handlers:
            logger.removeHandler(handler)


def _lower_root_if_unconfigured() -> None:
    # Python's default root level (WARNING) would drop INFO records before any handler
    # sees them. Lowered only while the app has configured nothing: the last-resort
    # output stays at WARNING, so the console shows what it showed before.
    global _lowered_root
    root = logging.getLogger()
    unconfigured = not any(not isinstance(h, _Forwarder) for h in root.handlers)
    if unconfigured and root.level == logging.WARNING:
        root.setLevel(logging.INFO)
        _lowered_root = True


def _keep_through(config_fn: Callable[..., Any]) -> Callable[..., Any]:
    """``config_fn`` (basicConfig, dictConfig, fileConfig) run as if the forwarders
    were not there, then the forwarders put back: basicConfig after setup still
    configures the console, and dictConfig does not remove the export."""

    def configure(*args: Any, **kwargs: Any) -> Any:
        global _lowered_root
        with _lock:
            handlers = list(_forwarders)
            for handler in handlers:
                _detach(handler)
            root = logging.getLogger()
            if _lowered_root and root.level == logging.INFO:
                root.setLevel(logging.WARNING)
            _lowered_root = False
            try:
                return config_fn(*args, **kwargs)
            finally:
                for handler in handlers:
                    _attach(handler)
                if handlers:
                    _lower_root_if_unconfigured()

    return configure


# What the exporters say when shutdown cuts their retries short.
_CUT_SHORT = ("Exporter already shutdown", "Shutdown in progress")


class _Reporter(logging.Handler):
    """Export problems on stderr, each kind at most once per ``REPORT_INTERVAL``."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self._console = logging.StreamHandler()
        self._console.setFormatter(
            logging.Formatter("%(levelname)s %(name)s: %(message)s")
        )
        self._last: dict[tuple[str, Any], float] = {}

    def emit(self, record: logging.LogRecord) -> None:
        global _last_failure
        now = time.monotonic()
        if record.name.startswith("opentelemetry.exporter"):
            _last_failure = now
        if _cutting.is_set() or str(record.msg).startswith(_CUT_SHORT):
            # Shutdown cut the exports short on purpose (SDK 1.33 then reports its
            # closed channel with a traceback).
            return
        if record.name == "opentelemetry.attributes":
            # An extra the app logged that is no attribute type (Django's `request` on
            # every "Not Found"): it is sent as its string; nothing failed.
            return
        key = (record.name, record.msg)
        last = self._last.get(key)
        if last is not None and now - last < REPORT_INTERVAL:
            return
        self._last[key] = now
        self._console.handle(record)


def _route_pipeline_records() -> None:
    pipeline = logging.getLogger("opentelemetry")
    if not any(isinstance(h, _Reporter) for h in pipeline.handlers):
        pipeline.addHandler(_Reporter())
    pipeline.propagate = False


def setup_observability(
    service_name: str | None = None, *, root_handler: bool = True
) -> None:
    """Sets up traces, metrics and logs over OTLP/gRPC; safe to call more than once.

    With ``root_handler`` (the default) every ``logging`` record goes to the collector;
    ``OtelLogHandler`` turns it off, as it forwards records itself.
    """
    global _done
    with _lock:
        if _done:
            return
        _done = True

        endpoint = collector_endpoint()
        insecure = endpoint.startswith("http://")
        attributes = {}
        name = service_name or os.environ.get("OTEL_SERVICE_NAME")
        if name:
            attributes[SERVICE_NAME] = name
        # Resource.create also reads OTEL_RESOURCE_ATTRIBUTES.
        resource = Resource.create(attributes)
        _route_pipeline_records()

        # A provider already in place (opentelemetry-instrument's, or the app's own) is
        # kept: a second one would export everything twice, and the API refuses to
        # replace it. Ours do not shut down at exit on their own: this module does it,
        # within a bounded time.
        if not isinstance(trace.get_tracer_provider(), TracerProvider):
            tracer_provider = TracerProvider(resource=resource, shutdown_on_exit=False)
            span_exporter = OTLPSpanExporter(
                endpoint=endpoint, insecure=insecure, timeout=_export_timeout("TRACES")
            )
            tracer_provider.add_span_processor(BatchSpanProcessor(span_exporter))
            _exporters.append(span_exporter)
            trace.set_tracer_provider(tracer_provider)
            _providers.append(tracer_provider)

        if not isinstance(metrics.get_meter_provider(), MeterProvider):
            metric_exporter = OTLPMetricExporter(
                endpoint=endpoint, insecure=insecure, timeout=_export_timeout("METRICS")
            )
            reader = PeriodicExportingMetricReader(metric_exporter)
            _exporters.append(metric_exporter)
            meter_provider = MeterProvider(
                resource=resource, metric_readers=[reader], shutdown_on_exit=False
            )
            metrics.set_meter_provider(meter_provider)
            _providers.append(meter_provider)

        logger_provider = get_logger_provider()
        if not isinstance(logger_provider, LoggerProvider):
            logger_provider = LoggerProvider(resource=resource, shutdown_on_exit=False)
            log_exporter = OTLPLogExporter(
                endpoint=endpoint, insecure=insecure, timeout=_export_timeout("LOGS")
            )
            processor = BatchLogRecordProcessor(log_exporter)
            logger_provider.add_log_record_processor(processor)
            _exporters.append(log_exporter)
            set_logger_provider(logger_provider)
            _providers.append(logger_provider)

        if _providers:
            _flush_at_exit()
            if _STANDBY_NEEDED:
                _standby.start(len(_providers))
                os.register_at_fork(after_in_child=_standby.restart)
            # A child that multiprocessing forks drops the finalizers it inherits, then
            # runs its after-fork hooks: registered there, the flush holds in the child.
            multiprocessing.util.register_after_fork(_CHILD_EXIT, _ChildExit.register)

        if not root_handler:
            return
        if not any(_is_otel_log_handler(h) for h in logging.getLogger().handlers):
            forwarder = _Forwarder(logger_provider)
            # Also where the providers are the app's own (and so is their flush): what
            # still waits for conversion reaches them before they shut down at exit.
            atexit.register(forwarder.handoff.close, SHUTDOWN_TIMEOUT / 4)
            _forwarders.append(forwarder)
            _attach(forwarder)
            _watch_propagation()
            logging.basicConfig = _keep_through(logging.basicConfig)
            logging.config.dictConfig = _keep_through(logging.config.dictConfig)
            logging.config.fileConfig = _keep_through(logging.config.fileConfig)
        _lower_root_if_unconfigured()


def _flush_at_exit() -> None:
    atexit.register(shutdown_observability)
    _register_child_exit()
    # SIGTERM's default action ends the process with no exit hook: where nobody else
    # handles it, flush first, then end the process the same way.
    in_main = threading.current_thread() is threading.main_thread()
    if in_main and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _flush_then_terminate)


def _register_child_exit() -> None:
    # multiprocessing children leave through os._exit, past atexit, but run these.
    multiprocessing.util.Finalize(None, shutdown_observability, exitpriority=100)


class _ChildExit:
    """What multiprocessing's after-fork registry holds (it keeps weak references)."""

    @staticmethod
    def register(_self: object) -> None:
        _register_child_exit()


_CHILD_EXIT = _ChildExit()


def _flush_then_terminate(signum: int, frame: FrameType | None) -> None:
    shutdown_observability()
    signal.signal(signum, signal.SIG_DFL)
    signal.raise_signal(signum)


def shutdown_observability(timeout: float = SHUTDOWN_TIMEOUT) -> None:
    """Exports what is still buffered and shuts down what ``setup_observability``
    installed, waiting at most ``timeout`` seconds whatever the collector does."""
    start = time.monotonic()
    with _lock:
        for forwarder in _forwarders:
            _detach(forwarder)
        forwarders = list(_forwarders)
        _forwarders.clear()
        providers = list(_providers)
        _providers.clear()
        exporters = list(_exporters)
        _exporters.clear()
    for forwarder in forwarders:
        # Converting takes no network: what waits reaches the SDK's queue at once.
        forwarder.handoff.close(timeout / 4)
    deadline = start + timeout
    pending = []
    for provider in providers:
        # In parallel, so the bound holds for all of them together.
        worker = _in_background(provider.shutdown, standby=True)
        if worker is None:
            # No thread at all: the exporters' own timeout bounds this one.
            provider.shutdown()
            continue
        pending.append(worker)
    cut = False
    while any(w.is_alive() for w in pending) and time.monotonic() < deadline:
        # An export that failed lately means the collector is down: waiting out the
        # retries would only delay the exit.
        if not cut and _last_failure >= start - RECENT_FAILURE:
            cut = True
            _cutting.set()
            for exporter in exporters:
                # In the background too: SDK 1.33's exporter holds a lock through its
                # retry back-off (up to 32 s) and its shutdown waits for that lock.
                # Where no thread starts (Python 3.12's exit, SDK 1.40 and newer), it
                # does not wait: called here.
                if _in_background(exporter.shutdown) is None:
                    exporter.shutdown()
            # Nothing buffered can reach a collector that is down: a moment for the
            # exports to give up (SDK 1.40 and newer), no more (1.33's sleep on).
            deadline = min(deadline, time.monotonic() + CUT_GRACE)
        for worker in pending:
            worker.join(0.02)


def _in_background(
    work: Callable[[], Any], standby: bool = False
) -> threading.Thread | _Job | None:
    """``work`` started in a daemon thread, which the exit does not wait for; where
    Python no longer starts threads (Python 3.12's exit), with ``standby``, given to a
    thread started beforehand; else None."""
    worker = _daemon(work, "otel-shutdown")
    if worker is None and standby:
        return _standby.submit(work)
    return worker


def _daemon(
    target: Callable[..., Any], name: str, *args: Any
) -> threading.Thread | None:
    """A daemon thread running ``target(*args)``, which the exit does not wait for; None
    where Python starts no thread (Python 3.12's interpreter exit)."""
    thread = threading.Thread(target=target, args=args, name=name, daemon=True)
    try:
        thread.start()
    except RuntimeError:
        return None
    return thread


class _Job:
    """Work given to a standby thread, waited for as a thread is."""

    def __init__(self) -> None:
        self.done = threading.Event()

    def is_alive(self) -> bool:
        return not self.done.is_set()

    def join(self, timeout: float) -> None:
        self.done.wait(timeout)


class _Standby:
    """Threads started at setup, each to shut one provider down at the exit.

    Python 3.12 starts no thread once the interpreter is exiting (3.11 and 3.13 do, in
    exit hooks): the providers would shut down one after the other, each waiting out
    its export timeout with the collector down, over 5 s from SIGTERM to exit under
    gunicorn. A forked child starts its own (the parent's do not exist there)."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._count = 0
        self._ready = 0

    def start(self, count: int) -> None:
        self._count = count
        self.restart()

    def restart(self) -> None:
        self._jobs = queue.SimpleQueue()
        self._ready = 0
        for _ in range(self._count):
            if _daemon(self._serve, "otel-standby", self._jobs) is None:
                return
            self._ready += 1

    @staticmethod
    def _serve(jobs: queue.SimpleQueue[Any]) -> None:
        work, job = jobs.get()
        try:
            work()
        except Exception:
            # At the exit: a traceback printed there is what must not happen.
            pass
        finally:
            job.done.set()

    def submit(self, work: Callable[[], Any]) -> _Job | None:
        """``work`` given to a thread of its own; None when none is left."""
        if self._ready == 0:
            return None
        self._ready -= 1
        job = _Job()
        self._jobs.put((work, job))
        return job


# Only where it is needed: the threads wait, idle, for the whole life of the process.
_STANDBY_NEEDED = sys.version_info[:2] == (3, 12)
_standby = _Standby()


def instrument_fastapi(app: Any) -> None:
    """Creates a server span for each request to ``app`` (a FastAPI application), and
    flushes when the app shuts down, after the app's own lifespan ends. The spans the
    ASGI instrumentation would add for each message sent or received are left out.

    Sets OpenTelemetry up first if that has not happened yet. Needs
    ``opentelemetry-instrumentation-fastapi``. A ``traceparent`` header from Dapr (or
    any W3C caller) makes the span continue the caller's trace.
    """
    setup_observability()
    if not getattr(app, "_is_instrumented_by_opentelemetry", False):
        instrument_app = _instrumentor("fastapi", "FastAPIInstrumentor").instrument_app
        instrument_app(app, **_server_span_only(instrument_app))
    _flush_after_lifespan(app)


def _server_span_only(instrument_app: Callable[..., Any]) -> dict[str, Any]:
    """The argument that leaves out the ASGI message spans, where the instrumentation
    takes it. Besides the request's server span, it makes one for each message the app
    sends or receives (two per plain response, one per chunk of a streamed body or per
    WebSocket message): they time the server's writes, not the app, and cost the app
    more than the server span itself. Flask's and Django's requests have one span; so
    have FastAPI's."""
    try:
        parameters = inspect.signature(instrument_app).parameters
    except (TypeError, ValueError):
        return {}
    if "exclude_spans" not in parameters:
        return {}
    return {"exclude_spans": ["receive", "send"]}


def instrument_flask(app: Any) -> None:
    """Creates a server span for each request to ``app`` (a Flask application).

    Sets OpenTelemetry up first if that has not happened yet. Needs
    ``opentelemetry-instrumentation-flask``. A ``traceparent`` header from Dapr (or any
    W3C caller) makes the span continue the caller's trace. What is buffered is flushed
    when the process ends: gunicorn's workers leave through Python's normal exit, and
    SIGTERM is handled where nothing else handles it.
    """
    setup_observability()
    if not getattr(app, "_is_instrumented_by_opentelemetry", False):
        _instrumentor("flask", "FlaskInstrumentor").instrument_app(app)
        app.wsgi_app = _trace_until_close(app.wsgi_app, _FLASK_SPAN)


def instrument_django() -> None:
    """Creates a server span for each request Django serves; call it before the
    application is built (``get_wsgi_application()`` in wsgi.py, or asgi.py's).

    Sets OpenTelemetry up first if that has not happened yet. Needs
    ``opentelemetry-instrumentation-django``. A ``traceparent`` header from Dapr (or any
    W3C caller) makes the span continue the caller's trace. What is buffered is flushed
    when the process ends, as for Flask.
    """
    setup_observability()
    instrumentor = _instrumentor("django", "DjangoInstrumentor")()
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument(response_hook=_remember_django_span)
        handler = importlib.import_module("django.core.handlers.wsgi").WSGIHandler
        handler.__call__ = _trace_until_close(
            handler.__call__, _REQUEST_SPAN, bound=True
        )


# Where the request's span is found once the app has returned: Flask's instrumentation
# leaves it in the WSGI environ; Django's removes its own, so its response hook puts it
# under this key (a Django request's META is the environ).
_FLASK_SPAN = "opentelemetry-flask.span_key"
_REQUEST_SPAN = "setup_observability.request_span"


def _remember_django_span(span: Any, request: Any, _response: Any) -> None:
    request.META[_REQUEST_SPAN] = span


class _UntilClose:
    """A WSGI response that keeps the request's span current until the server closes it.

    Servers log the access line (gunicorn's ``gunicorn.access``, runserver's
    ``django.server``) after the app has returned and before they close the response:
    with the span still current, that record carries the request's trace id, so every
    request has a log linked to its trace even where the app logs nothing.
    """

    def __init__(self, response: Any, token: Any) -> None:
        self._response = response
        self._token = token

    def __iter__(self) -> Any:
        return iter(self._response)

    def close(self) -> None:
        try:
            close = getattr(self._response, "close", None)
            if close is not None:
                close()
        finally:
            with contextlib.suppress(Exception):
                otel_context.detach(self._token)


def _trace_until_close(call: Any, key: str, bound: bool = False) -> Any:
    """``call`` (a WSGI app, or a handler class's unbound ``__call__`` when ``bound``),
    its response wrapped in :class:`_UntilClose` where the request had a span."""

    def keep(environ: dict[str, Any], response: Any) -> Any:
        span = environ.get(key)
        wrapper = environ.get("wsgi.file_wrapper")
        # The server recognises a file it sends with sendfile by its type: left alone.
        sendfile = isinstance(wrapper, type) and isinstance(response, wrapper)
        if span is None or sendfile:
            return response
        token = otel_context.attach(trace.set_span_in_context(span))
        return _UntilClose(response, token)

    if bound:

        def method(self: Any, environ: dict[str, Any], start_response: Any) -> Any:
            return keep(environ, call(self, environ, start_response))

        return method

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        return keep(environ, call(environ, start_response))

    return app


def instrument_celery(app: Any = None) -> None:
    """Traces the tasks of a Celery app: a task started from a traced request (or from
    another task) continues that trace. Call it where the app is built, after
    ``app = Celery(...)``, in the module both the workers (``celery -A``) and the code
    that sends tasks import.

    Each prefork worker process sets up again after the fork (``worker_process_init``)
    and flushes when it stops (``worker_process_shutdown``); the worker's own logging
    setup keeps the export. Needs
    ``opentelemetry-instrumentation-celery``.
    """
    setup_observability()
    _instrument_celery()
    signals = importlib.import_module("celery.signals")
    signals.worker_process_init.connect(_instrument_celery, weak=False)
    signals.worker_process_shutdown.connect(_flush_celery_child, weak=False)
    # The worker takes the root logger over (worker_hijack_root_logger) and drops its
    # handlers: the forwarders go back once it has set up its own.
    signals.after_setup_logger.connect(_reattach_forwarders, weak=False)


def _instrument_celery(*_args: Any, **_kwargs: Any) -> None:
    instrumentor = _instrumentor("celery", "CeleryInstrumentor")()
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument()


def _flush_celery_child(*_args: Any, **_kwargs: Any) -> None:
    shutdown_observability()


def _reattach_forwarders(*_args: Any, **_kwargs: Any) -> None:
    with _lock:
        for forwarder in _forwarders:
            _attach(forwarder)


def _instrumentor(framework: str, name: str) -> Any:
    # Imported by name: a project has one framework's instrumentation installed, and a
    # static import of the others would fail its type checker (mypy, pyright).
    module = importlib.import_module(f"opentelemetry.instrumentation.{framework}")
    return getattr(module, name)


def _flush_after_lifespan(app: Any) -> None:
    router = getattr(app, "router", None)
    if router is None or getattr(router, "_obs_flushes_at_shutdown", False):
        return
    inner = getattr(router, "lifespan_context", None)
    if inner is None:
        return

    async def generator_lifespan(lifespan_app: Any) -> AsyncIterator[Any]:
        try:
            async for state in inner(lifespan_app):
                yield state
        finally:
            shutdown_observability()

    @contextlib.asynccontextmanager
    async def lifespan(lifespan_app: Any) -> AsyncIterator[Any]:
        try:
            async with inner(lifespan_app) as state:
                yield state
        finally:
            shutdown_observability()

    # Starlette before 0.14 (FastAPI before 0.62) iterates the lifespan as an async
    # generator, newer ones enter it as an async context manager: the wrap takes the
    # form of what it wraps, or the app would no longer start.
    if inspect.isasyncgenfunction(inner):
        router.lifespan_context = generator_lifespan
    else:
        router.lifespan_context = lifespan
    router._obs_flushes_at_shutdown = True


class OtelLogHandler(logging.Handler):
    """A handler to name in logging configuration files, such as Dagster's
    ``python_logs.dagster_handler_config.handlers`` in ``dagster.yaml``::

        python_logs:
          dagster_handler_config:
            handlers:
              otel:
                class: setup_observability.OtelLogHandler
                level: INFO

    It sets OpenTelemetry up on first use and sends each record to the collector, with
    the trace and span id active when it was logged. Records are queued, never exported
    inside the log call; the queue is flushed when the process ends, Dagster's step
    processes included.
    """

    def __init__(
        self, level: int | str = logging.NOTSET, service_name: str | None = None
    ) -> None:
        super().__init__(level)
        setup_observability(service_name, root_handler=False)
        self._delegate = _exporting_handler(get_logger_provider())

    def emit(self, record: logging.LogRecord) -> None:
        if not _is_pipeline_record(record.name):
            _export_record(self._delegate, self, record)
