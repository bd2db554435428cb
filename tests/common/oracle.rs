//! The real Docker Compose v2 as the judge of what a compose file means: `docker-compose
//! config --format json` resolves merge keys, anchors, `extends`, `include`, profiles,
//! interpolation and relative paths exactly as `docker compose up` would, and rejects what
//! Compose rejects. Installed once by `tests/tools/compose.sh`, cached outside the repo.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value as Json;

/// How the project's directory reads in a model [`config`] returns.
pub const PROJECT: &str = "<project>";

/// Which profiles `config` enables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profiles {
    /// None: what plain `docker compose up` starts.
    None,
    /// Every profile (`--profile '*'`).
    All,
}

impl Profiles {
    pub const BOTH: [Profiles; 2] = [Profiles::None, Profiles::All];
}

/// The path of the real `docker-compose` binary, installed on first use.
pub fn binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| PathBuf::from(super::install("tools/compose.sh").trim()))
}

/// The model Compose resolves for `files` (in `-f` order) of the project in `dir`, or the
/// reason it rejects them (its last error line). The environment is emptied but for PATH
/// and HOME, so that nothing of the machine's leaks into interpolation: only the project's
/// own `.env` counts. The project's directory reads `<project>` in the model, so that models
/// of copies of one project in different directories compare equal.
pub fn config(dir: &Path, files: &[&Path], profiles: Profiles) -> Result<Json, String> {
    let mut cmd = Command::new(binary());
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir)
        .current_dir(dir)
        .arg("--project-directory")
        .arg(dir);
    for f in files {
        cmd.arg("-f").arg(f);
    }
    if profiles == Profiles::All {
        cmd.args(["--profile", "*"]);
    }
    cmd.args(["config", "--format", "json"]);
    let out = cmd.output().expect("docker-compose runs");
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let reason = err
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("(no message)");
        return Err(reason.trim().to_string());
    }
    let mut printed =
        String::from_utf8_lossy(&out.stdout).replace(&*dir.to_string_lossy(), PROJECT);
    // Paths that climb out of the project (`context: ..`) resolve to its parent.
    if let Some(parent) = dir.parent() {
        printed = printed.replace(&*parent.to_string_lossy(), &format!("{PROJECT}/.."));
    }
    serde_json::from_str(&printed).map_err(|e| format!("config printed no JSON: {e}"))
}

/// Services Compose would run that obs-init may onboard: built or run from an image, on
/// their own network namespace, not a Dapr sidecar.
pub fn candidates(model: &Json) -> Vec<String> {
    let Some(services) = model["services"].as_object() else {
        return Vec::new();
    };
    services
        .iter()
        .filter(|(_, s)| {
            let image = s["image"].as_str().unwrap_or("");
            (s.get("image").is_some() || s.get("build").is_some())
                && s.get("network_mode").is_none()
                && !image.contains("daprio/daprd")
        })
        .map(|(name, _)| name.clone())
        .collect()
}

/// `value` pretty-printed, for messages that show a difference.
pub fn pretty(value: &Json) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

/// A line diff of two models, for failure messages.
pub fn diff(before: &Json, after: &Json) -> String {
    let (a, b) = (pretty(before), pretty(after));
    similar::TextDiff::from_lines(&a, &b)
        .unified_diff()
        .context_radius(3)
        .header("expected", "compose resolved")
        .to_string()
}
