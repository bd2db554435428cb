//! The canary itself: one span and one log record carrying its trace id, exported to the
//! collector over OTLP/gRPC with the opentelemetry-proto types and tonic's client, the same
//! protocol and port the project's services use.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, span};

/// The service name the canary reports as: what marks it in Tempo and OpenSearch.
pub const SERVICE: &str = "obs-init-verify";

/// One canary's ids and the message its log record carries.
#[derive(Debug, Clone)]
pub struct Canary {
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    pub message: String,
}

impl Canary {
    pub fn new() -> Canary {
        let mut trace_id = [0u8; 16];
        trace_id[..8].copy_from_slice(&random().to_be_bytes());
        trace_id[8..].copy_from_slice(&random().to_be_bytes());
        let span_id = random().to_be_bytes();
        let hex = hex(&trace_id);
        Canary {
            trace_id,
            span_id,
            message: format!("obs-init verify canary {hex}"),
        }
    }

    pub fn trace_hex(&self) -> String {
        hex(&self.trace_id)
    }
}

impl Default for Canary {
    fn default() -> Self {
        Canary::new()
    }
}

/// 64 random bits: std's hasher keys are drawn from the OS for each `RandomState`.
fn random() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn text(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
        ..KeyValue::default()
    }
}

fn resource() -> Resource {
    Resource {
        attributes: vec![
            text("service.name", SERVICE),
            text("obs-init.canary", "true"),
        ],
        ..Resource::default()
    }
}

fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// Why an export did not go through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportError {
    /// No HTTP/2 connection could be made.
    Connect(String),
    /// The server answered with a gRPC status other than OK.
    Status { code: String, message: String },
}

/// Exports the canary's span, then its log record, to the plaintext gRPC endpoint `addr`.
pub fn export(addr: &str, canary: &Canary, timeout: Duration) -> Result<(), ExportError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| ExportError::Connect(e.to_string()))?;
    runtime.block_on(async {
        let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .map_err(|e| ExportError::Connect(e.to_string()))?
            .connect_timeout(timeout)
            .timeout(timeout);
        let channel = endpoint
            .connect()
            .await
            .map_err(|e| ExportError::Connect(source_chain(&e)))?;
        let start = now_nanos();
        let span = Span {
            trace_id: canary.trace_id.to_vec(),
            span_id: canary.span_id.to_vec(),
            name: "obs-init verify".into(),
            kind: span::SpanKind::Internal as i32,
            start_time_unix_nano: start,
            end_time_unix_nano: start + 1_000_000,
            attributes: vec![text("obs-init.canary", "true")],
            ..Span::default()
        };
        TraceServiceClient::new(channel.clone())
            .export(ExportTraceServiceRequest {
                resource_spans: vec![ResourceSpans {
                    resource: Some(resource()),
                    scope_spans: vec![ScopeSpans {
                        spans: vec![span],
                        ..ScopeSpans::default()
                    }],
                    ..ResourceSpans::default()
                }],
            })
            .await
            .map_err(status)?;
        let record = LogRecord {
            time_unix_nano: start,
            observed_time_unix_nano: start,
            severity_number: 9,
            severity_text: "INFO".into(),
            body: Some(AnyValue {
                value: Some(any_value::Value::StringValue(canary.message.clone())),
            }),
            trace_id: canary.trace_id.to_vec(),
            span_id: canary.span_id.to_vec(),
            flags: 1,
            ..LogRecord::default()
        };
        LogsServiceClient::new(channel)
            .export(ExportLogsServiceRequest {
                resource_logs: vec![ResourceLogs {
                    resource: Some(resource()),
                    scope_logs: vec![ScopeLogs {
                        log_records: vec![record],
                        ..ScopeLogs::default()
                    }],
                    ..ResourceLogs::default()
                }],
            })
            .await
            .map_err(status)?;
        Ok(())
    })
}

fn status(s: tonic::Status) -> ExportError {
    ExportError::Status {
        code: format!("{:?}", s.code()),
        message: s.message().to_string(),
    }
}

/// An error with its causes, for transport errors whose top line says little.
fn source_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}
