//! Whether the files a plan touches have uncommitted changes, so that obs-init's edits can be
//! reviewed (and undone) on their own in `git diff`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The files among `paths` with uncommitted changes (modified, staged or untracked) in the
/// git work tree holding `dir`. Empty when `dir` is in no work tree or git is not installed:
/// there is then nothing to protect.
pub fn dirty(dir: &Path, paths: &[PathBuf]) -> Vec<String> {
    let existing: Vec<PathBuf> = paths
        .iter()
        .filter(|p| p.exists())
        .filter_map(|p| std::path::absolute(p).ok())
        .collect();
    // Outside a work tree there is nothing to protect; looking first spares a git process.
    let in_work_tree = std::path::absolute(dir)
        .ok()
        .is_some_and(|d| d.ancestors().any(|a| a.join(".git").exists()));
    if existing.is_empty() || !in_work_tree {
        return Vec::new();
    }
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["status", "--porcelain", "-z", "--untracked-files=all", "--"])
        .args(&existing)
        .output();
    let Some(output) = output.ok().filter(|o| o.status.success()) else {
        return Vec::new();
    };
    output
        .stdout
        .split(|&b| b == 0)
        .filter(|entry| entry.len() > 3)
        .map(|entry| String::from_utf8_lossy(&entry[3..]).into_owned())
        .collect()
}

/// Whether git ignores `path` (in a work tree): a file it ignores is not shared with the
/// team that clones the repository.
pub fn ignored(path: &Path) -> bool {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["check-ignore", "-q", "--"])
        .arg(path.file_name().unwrap_or_default())
        .output()
        .is_ok_and(|o| o.status.success())
}
