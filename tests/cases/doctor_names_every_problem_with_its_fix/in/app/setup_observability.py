from opentelemetry.sdk.logs import LoggerProvider
from opentelemetry.exporter.otlp.proto.grpc.log_exporter import OTLPLogExporter
