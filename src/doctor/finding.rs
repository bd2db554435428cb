//! What a check finds, and what it is asked.

use crate::error::Refusal;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Telemetry will not arrive, or a program will not start.
    Error,
    /// Likely wrong, or cannot be judged from here.
    Warning,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    pub severity: Severity,
    pub file: String,
    pub line: Option<usize>,
    pub message: String,
    pub fix: String,
}

#[derive(Debug, Clone, Default)]
pub struct DoctorOptions {
    /// Also try a TCP connection to the collector.
    pub connect: bool,
    /// Where to connect instead of the address the project uses (`host:port`).
    pub collector: Option<String>,
    /// The Dapr configuration to check, when not the default one (`--dapr-config`).
    pub dapr_config: Option<std::path::PathBuf>,
}

pub(super) fn from_error(file: &str, e: &Refusal) -> Finding {
    Finding {
        severity: Severity::Error,
        file: file.to_string(),
        line: e.location().map(|l| l.line),
        message: e.to_string(),
        fix: e.help().unwrap_or_default(),
    }
}
