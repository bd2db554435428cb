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
    /// `--on-conflict overwrite` does not write over it either: the value is the project's
    /// to change by hand (a Dapr Configuration's own tracing, which other sidecars and
    /// backends may rely on). It is reported whatever the policy.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub kept_either_way: bool,
}

/// The `help:` of a run stopped by `conflicts`: what each policy does with them, so that
/// `--on-conflict overwrite` is not offered for values it leaves as they are.
pub fn help(conflicts: &[FileConflict]) -> String {
    let kept: Vec<&str> = conflicts
        .iter()
        .filter(|c| c.kept_either_way)
        .map(|c| c.file.as_str())
        .collect();
    if kept.is_empty() {
        return "keep the project's values with --on-conflict skip, or write obs-init's with \
                --on-conflict overwrite"
            .into();
    }
    let mut files: Vec<&str> = Vec::new();
    for f in kept {
        if !files.contains(&f) {
            files.push(f);
        }
    }
    let files = files.join(", ");
    if conflicts.iter().all(|c| c.kept_either_way) {
        format!(
            "no --on-conflict policy changes the tracing of {files}: it is the project's \
             Configuration, so change its spec.tracing by hand and run again, or onboard the rest \
             now with --on-conflict skip (that sidecar's traces then do not reach the collector)"
        )
    } else {
        format!(
            "keep the project's values with --on-conflict skip, or write obs-init's with \
             --on-conflict overwrite; the tracing of {files} is kept either way (the project's \
             Configuration: change its spec.tracing by hand)"
        )
    }
}
