//! apply: writes a verified plan, atomically.
//!
//! Every file is first written in full to a temporary file beside its target and synced;
//! only when all are staged are they renamed into place, so a failure part-way leaves every
//! original intact. Existing files keep their permissions; new ones are made readable by all
//! (the daprd image runs as uid 65532 and must read the mounted configuration), and a new
//! script (a file starting with `#!`, such as the platform's `setup.sh`) executable too.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use crate::error::Error;
use crate::lock::{self, RefreshError, Relock};
use crate::plan::{FileChange, Plan, Status};

/// Writes every changed file of `plan`; returns the paths written.
pub fn apply(plan: &Plan) -> Result<Vec<PathBuf>, Error> {
    let mut staged = Vec::new();
    let writes = |f: &&FileChange| matches!(f.status, Status::Create | Status::Update);
    for change in plan.files.iter().filter(writes) {
        // Write through a symlink to its target, so the link itself survives.
        let target = fs::canonicalize(&change.path).unwrap_or_else(|_| change.path.clone());
        let tmp = stage(&target, change.after.as_bytes()).map_err(|source| Error::Write {
            path: change.path.clone(),
            source,
        })?;
        staged.push((tmp, target, change.path.clone()));
    }
    let mut written = Vec::new();
    // Deletions wait until every write is in place: a failed write leaves all files as they were.
    let deletions: Vec<&FileChange> = plan
        .files
        .iter()
        .filter(|f| f.status == Status::Delete)
        .collect();
    for (tmp, target, shown) in staged {
        if let Err(e) = tmp.persist(&target) {
            return Err(Error::PartialWrite {
                path: shown,
                source: e.error,
                written,
            });
        }
        written.push(shown);
    }
    for change in deletions {
        if let Err(source) = fs::remove_file(&change.path) {
            return Err(Error::PartialWrite {
                path: change.path.clone(),
                source,
                written,
            });
        }
        written.push(change.path.clone());
    }
    Ok(written)
}

/// What became of a lock the plan left behind its manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LockOutcome {
    /// Its command ran and succeeded.
    Locked,
    /// The tool is not installed: the user runs the command.
    NotInstalled,
    /// `--no-lock`: left for the user.
    Left,
}

/// Runs each lock's refresh once the plan is written (`run`), in order. If one fails, the
/// locks and every file of the plan are put back as they were, and the failure returned:
/// a manifest whose lock cannot follow is not written.
pub fn refresh_locks(plan: &Plan, run: bool) -> Result<Vec<(Relock, LockOutcome)>, Error> {
    let saved: Vec<(PathBuf, Option<Vec<u8>>)> = plan
        .relocks
        .iter()
        .map(|r| (r.lock.clone(), fs::read(&r.lock).ok()))
        .collect();
    if !run {
        // Left as it is, the lock still pins the manifest obs-init found: recorded so.
        record_locks(plan, &saved)?;
        return Ok(plan
            .relocks
            .iter()
            .map(|r| (r.clone(), LockOutcome::Left))
            .collect());
    }
    let mut outcomes = Vec::new();
    for relock in &plan.relocks {
        match lock::refresh(relock) {
            Ok(()) => outcomes.push((relock.clone(), LockOutcome::Locked)),
            Err(RefreshError::NotInstalled) => {
                outcomes.push((relock.clone(), LockOutcome::NotInstalled));
            }
            Err(RefreshError::Failed { status, output }) => {
                // What was refreshed before is put back with the rest: no record of it.
                for (path, bytes) in &saved {
                    if let Some(bytes) = bytes {
                        put_back(path, bytes)?;
                    }
                }
                restore(plan)?;
                return Err(Error::Lock {
                    lock: relock.lock.clone(),
                    dir: relock.dir.clone(),
                    command: relock.command_line(),
                    status,
                    output,
                });
            }
        }
    }
    record_locks(plan, &saved)?;
    Ok(outcomes)
}

/// Adds to the answers file the plan wrote what each lock went through
/// ([`crate::lock_record`]), so that `remove` can give it back; a lock that no refresh
/// changed is recorded too, as pinning the manifest obs-init found.
fn record_locks(plan: &Plan, saved: &[(PathBuf, Option<Vec<u8>>)]) -> Result<(), Error> {
    let Some(answers_path) = plan
        .files
        .iter()
        .find(|f| {
            f.path.file_name() == Some(std::ffi::OsStr::new(crate::answers::FILE))
                && f.status != Status::Delete
        })
        .map(|f| f.path.clone())
    else {
        return Ok(());
    };
    if plan.relocks.is_empty() {
        return Ok(());
    }
    let dir = answers_path.parent().unwrap_or(Path::new("."));
    let text = crate::files::read_text(&answers_path)?;
    let mut answers = crate::answers::read(&text).map_err(|reason| Error::InvalidAnswers {
        path: answers_path.clone(),
        reason,
    })?;
    for (relock, (_, before)) in plan.relocks.iter().zip(saved) {
        let (Some(before), Ok(after)) = (before, fs::read_to_string(&relock.lock)) else {
            continue;
        };
        let before = String::from_utf8_lossy(before);
        let manifest = crate::paths::display(dir, &relock.manifest);
        let manifest_now = crate::files::read_text(&relock.manifest)?;
        // The manifest as obs-init found it: the pieces its record says it inserted, out.
        let manifest_before = answers
            .files
            .iter()
            .find(|(f, _)| f.path == manifest)
            .map_or(manifest_now.clone(), |(f, _)| {
                crate::record::undo(&manifest_now, f).text
            });
        let path = crate::paths::display(dir, &relock.lock);
        let prior = answers.locks.iter().position(|l| l.path == path);
        let record = crate::lock_record::LockRecord::joined(
            prior.map(|i| &answers.locks[i]),
            &path,
            &manifest,
            crate::record::checksum_hex(&manifest_before),
            &before,
            &after,
        );
        match prior {
            Some(i) => answers.locks[i] = record,
            None => answers.locks.push(record),
        }
    }
    let after = crate::answers::write(Some(&text), &answers);
    if after != text {
        put_back(&answers_path, after.as_bytes())?;
    }
    Ok(())
}

/// Undoes an applied plan: created files removed, changed and deleted ones given back their
/// content before it.
fn restore(plan: &Plan) -> Result<(), Error> {
    for change in &plan.files {
        match (change.status, &change.before) {
            (Status::Create, _) => {
                fs::remove_file(&change.path).map_err(|source| Error::Write {
                    path: change.path.clone(),
                    source,
                })?;
            }
            (Status::Update | Status::Delete, Some(before)) => {
                put_back(&change.path, before.as_bytes())?;
            }
            _ => {}
        }
    }
    Ok(())
}

fn put_back(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let target = fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    stage(&target, bytes)
        .and_then(|tmp| tmp.persist(&target).map_err(|e| e.error))
        .map(|_| ())
        .map_err(|source| Error::Write {
            path: path.to_path_buf(),
            source,
        })
}

fn stage(target: &Path, content: &[u8]) -> std::io::Result<NamedTempFile> {
    let dir = target
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !dir.exists() {
        fs::create_dir_all(dir)?;
    }
    let mut tmp = tempfile::Builder::new()
        .prefix(".obs-init-")
        .tempfile_in(dir)?;
    tmp.write_all(content)?;
    tmp.as_file().sync_all()?;
    let permissions = match fs::metadata(target) {
        Ok(meta) => meta.permissions(),
        Err(_) => new_file_permissions(
            tmp.as_file().metadata()?.permissions(),
            content.starts_with(b"#!"),
        ),
    };
    fs::set_permissions(tmp.path(), permissions)?;
    Ok(tmp)
}

#[cfg(unix)]
fn new_file_permissions(mut p: fs::Permissions, script: bool) -> fs::Permissions {
    use std::os::unix::fs::PermissionsExt;
    p.set_mode(if script { 0o755 } else { 0o644 });
    p
}

#[cfg(not(unix))]
fn new_file_permissions(p: fs::Permissions, _script: bool) -> fs::Permissions {
    p
}
