"""OpenTelemetry for this service: traces, metrics and logs to the platform collector.

Everything goes over OTLP/gRPC to ``OTEL_COLLECTOR_ENDPOINT`` (the company variable,
usually ``otel-collector:4317``), else ``OTEL_EXPORTER_OTLP_ENDPOINT``, else
``http://localhost:4317``. The service name comes from the argument to
``setup_observability``, else ``OTEL_SERVICE_NAME``; ``OTEL_RESOURCE_ATTRIBUTES`` is
honoured.

Call ``setup_observability()`` once at start-up and ``shutdown_observability()`` on
the way out: uvicorn exits on SIGTERM without running exit hooks, so buffered spans and
logs are lost unless the app flushes them itself. With FastAPI::

    from contextlib import asynccontextmanager

    from fastapi import FastAPI

    from .setup_observability import instrument_fastapi, shutdown_observability


    @asynccontextmanager
    async def lifespan(app):
        yield
        shutdown_observability()


    app = FastAPI(lifespan=lifespan)
    instrument_fastapi(app)  # also calls setup_observability()

Every ``logging`` record then reaches the collector carrying the trace and span id of
the span active when it was logged, and requests that arrive through Dapr continue the
trace Dapr started (its ``traceparent`` header).

Calling ``setup_observability()`` twice, or running under ``opentelemetry-instrument``,
installs nothing twice: providers and the log handler already in place are reused, so
nothing is exported twice.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry._logs import get_logger_provider, set_logger_provider
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.logging.handler import LoggingHandler
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

__all__ = [
    "OtelLogHandler",
    "collector_endpoint",
    "instrument_fastapi",
    "setup_observability",
    "shutdown_observability",
]

DEFAULT_ENDPOINT = "http://localhost:4317"

_lock = threading.Lock()
_done = False
# What this module installed (and so must flush and shut down).
_providers: list[TracerProvider | MeterProvider | LoggerProvider] = []
_handlers: list[logging.Handler] = []


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


def _is_otel_log_handler(handler: logging.Handler) -> bool:
    # Matches this module's handler, the SDK's older one and opentelemetry-instrument's.
    cls = type(handler)
    named = cls.__name__ == "LoggingHandler"
    return named and cls.__module__.startswith("opentelemetry")


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

        # A provider already in place (opentelemetry-instrument's, or the app's own) is
        # kept: a second one would export everything twice, and the API refuses to
        # replace it.
        if not isinstance(trace.get_tracer_provider(), TracerProvider):
            tracer_provider = TracerProvider(resource=resource)
            span_exporter = OTLPSpanExporter(endpoint=endpoint, insecure=insecure)
            tracer_provider.add_span_processor(BatchSpanProcessor(span_exporter))
            trace.set_tracer_provider(tracer_provider)
            _providers.append(tracer_provider)

        if not isinstance(metrics.get_meter_provider(), MeterProvider):
            reader = PeriodicExportingMetricReader(
                OTLPMetricExporter(endpoint=endpoint, insecure=insecure)
            )
            meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
            metrics.set_meter_provider(meter_provider)
            _providers.append(meter_provider)

        logger_provider = get_logger_provider()
        if not isinstance(logger_provider, LoggerProvider):
            logger_provider = LoggerProvider(resource=resource)
            log_exporter = OTLPLogExporter(endpoint=endpoint, insecure=insecure)
            processor = BatchLogRecordProcessor(log_exporter)
            logger_provider.add_log_record_processor(processor)
            set_logger_provider(logger_provider)
            _providers.append(logger_provider)

        root = logging.getLogger()
        if not root_handler:
            return
        if not any(_is_otel_log_handler(h) for h in root.handlers):
            handler = LoggingHandler(logger_provider=logger_provider)
            root.addHandler(handler)
            _handlers.append(handler)
        # Python's default root level (WARNING) would drop INFO records before any
        # handler sees them; set a level after this call to change it.
        if root.getEffectiveLevel() > logging.INFO:
            root.setLevel(logging.INFO)


def shutdown_observability() -> None:
    """Flushes and shuts down what ``setup_observability`` installed."""
    with _lock:
        for handler in _handlers:
            logging.getLogger().removeHandler(handler)
        _handlers.clear()
        # Shutting a provider down exports what its batch processors still hold.
        for provider in _providers:
            provider.shutdown()
        _providers.clear()


def instrument_fastapi(app: Any) -> None:
    """Creates a server span for each request to ``app`` (a FastAPI application).

    Sets OpenTelemetry up first if that has not happened yet. Needs
    ``opentelemetry-instrumentation-fastapi``. A ``traceparent`` header from Dapr (or
    any W3C caller) makes the span continue the caller's trace.
    """
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    setup_observability()
    if not getattr(app, "_is_instrumented_by_opentelemetry", False):
        FastAPIInstrumentor.instrument_app(app)


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
    the trace and span id active when it was logged. Records are exported as they come,
    not batched: Dagster runs steps in worker processes that exit without flushing.
    """

    def __init__(
        self, level: int | str = logging.NOTSET, service_name: str | None = None
    ) -> None:
        super().__init__(level)
        setup_observability(service_name, root_handler=False)
        self._delegate = LoggingHandler(logger_provider=get_logger_provider())

    def emit(self, record: logging.LogRecord) -> None:
        self._delegate.emit(record)
        self.flush()

    def flush(self) -> None:
        provider = get_logger_provider()
        force_flush = getattr(provider, "force_flush", None)
        if force_flush is not None:
            force_flush()
