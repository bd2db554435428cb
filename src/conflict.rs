//! A value in a file that differs from what obs-init would write: kept and reported
//! (`--on-conflict skip`), written over (`overwrite`), or the reason to stop (`abort`).

use serde::Serialize;

/// One such value, in a compose file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Conflict {
    pub service: Option<String>,
    /// What differs, e.g. "OTEL_SERVICE_NAME is billing-api, obs-init would set api".
    pub what: String,
    /// 1-based line, where known.
    pub line: Option<usize>,
}

/// A conflict, with the file it is in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileConflict {
    pub file: String,
    #[serde(flatten)]
    pub conflict: Conflict,
}
