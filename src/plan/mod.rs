//! detect -> plan: from the options and the files on disk, the list of file changes. This
//! module holds what every plan is made of and the paths they name; [`onboard`] plans the
//! onboarding, [`remove`] its inverse.
//!
//! Nothing here writes; [`crate::apply`] does that, and only with a plan that verified.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::files::read_optional;
use crate::paths::{absolute, display};

use crate::answers::Answers;
use crate::compose::Note;
use crate::conflict::Conflict;
use crate::error::Error;
use crate::frameworks::Framework;

pub mod claims;
mod dagster;
pub mod deployment;
pub mod kubernetes;
mod locks_back;
mod onboard;
pub mod python;
mod references;
pub mod remove;
mod undo;

pub use crate::compose::{COMPOSE_NAMES, find_compose};
pub use onboard::plan;

pub use crate::contract::DEFAULT_DAPR_VERSION;

/// What to onboard, resolved from the command line (see the binary's `args`).
#[derive(Debug, Clone)]
pub struct Options {
    /// The project directory (`--dir`).
    pub dir: PathBuf,
    /// The compose file, when named (`--file`); else discovered in `dir`.
    pub file: Option<PathBuf>,
    pub services: Vec<String>,
    /// Take the default answer to every question.
    pub yes: bool,
    pub app_port: Option<u16>,
    /// The daprd version to pin; else the answers file's, else [`DEFAULT_DAPR_VERSION`].
    pub dapr_version: Option<String>,
    /// Where the Dapr configuration goes; `dir/dapr-config.yml` when unset.
    pub dapr_config: Option<PathBuf>,
    /// Where `setup_observability.py` goes (a file, or a directory to put it in); found from
    /// each service's build context when unset.
    pub module_path: Option<PathBuf>,
    /// The frameworks of every service; detected per service when empty.
    pub frameworks: Vec<Framework>,
    /// The folder of the `dagster.yaml` to configure; searched for when unset.
    pub dagster_home: Option<PathBuf>,
    /// Remove settings that stop a program from starting (the guide's Dagster `telemetry`).
    pub fix_invalid: bool,
    /// Insert the FastAPI instrumentation lines into the entry point.
    pub edit_entrypoint: bool,
    /// What to do where the project already has a value obs-init would write differently.
    pub on_conflict: ConflictPolicy,
    /// Onboard in this Compose override file (relative to the compose file's folder)
    /// instead of editing the compose file; the answers file's choice when unset.
    pub overlay: Option<PathBuf>,
    /// In overlay mode, leave `.env` alone: the next steps give the `-f` flags instead.
    pub no_env: bool,
    /// MLflow before 3.4 (no dual export): send its traces to the collector instead of the
    /// MLflow server.
    pub mlflow_otlp: bool,
}

/// What to do with a conflict: a file, variable or sidecar that exists with other content
/// than obs-init would write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConflictPolicy {
    /// Keep the project's version (and report it).
    Skip,
    /// Write obs-init's version.
    Overwrite,
    /// Stop with an error listing the conflicts, writing nothing.
    Abort,
    /// Ask the prompter; without one, abort.
    Prompt,
}

/// Asks the questions flags (and the answers file) did not answer. The binary plugs in a
/// terminal prompter; without one, defaults apply under `--yes` and anything else is an
/// error naming the flag.
pub trait Prompter {
    /// Which services to onboard, given all services and the suggested ones.
    fn choose_services(&mut self, all: &[String], suggested: &[String]) -> io::Result<Vec<String>>;
    /// The port `service` listens on; `suggested` comes from its `ports`/`expose`.
    fn app_port(&mut self, service: &str, suggested: Option<u16>) -> io::Result<Option<u16>>;
    /// What `service` runs; `detected` (with the evidence) is the default.
    fn frameworks(
        &mut self,
        service: &str,
        detected: &[(Framework, String)],
    ) -> io::Result<Vec<Framework>>;
    /// Whether to write obs-init's values over `conflicts`.
    fn overwrite(&mut self, conflicts: &[FileConflict]) -> io::Result<bool>;
    /// Whether to insert the setup lines into `entry_points` rather than print them.
    fn edit_entrypoint(&mut self, entry_points: &[String]) -> io::Result<bool>;
}

/// What happens to a file: the one name text and JSON both show (`kept`, not a
/// "conflict" in one and "Kept" in the other).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Create,
    Update,
    Unchanged,
    /// The file exists, was changed by the user, and differs from what obs-init would write:
    /// it is left alone, and `after` holds what obs-init would have written, for a diff.
    Kept,
    /// `obs-init remove`: the file obs-init wrote goes.
    Delete,
}

/// One file's change: its path, content before (if it exists) and after.
#[derive(Debug, Clone)]
pub struct FileChange {
    pub path: PathBuf,
    /// The path as shown to the user: relative to the project directory when inside it.
    pub display: String,
    pub before: Option<String>,
    pub after: String,
    pub status: Status,
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub compose_file: PathBuf,
    pub services: Vec<String>,
    pub files: Vec<FileChange>,
    pub notes: Vec<Note>,
    /// What the user still has to do by hand, e.g. call the module from the entry point.
    pub next_steps: Vec<String>,
    /// Values kept although obs-init would write them differently (`--on-conflict skip`).
    pub conflicts: Vec<FileConflict>,
    /// Files whose content is exactly what obs-init last wrote (its answers file, and files
    /// its record says it wrote, unchanged since): their uncommitted changes are its own.
    pub own: Vec<PathBuf>,
    /// The other side of the conflicts: for a file whose kept values conflict, its content
    /// with obs-init's written over them ([`Plan::overwrite`] takes it). A kept generated
    /// file needs none: its `after` is obs-init's already.
    pub alternatives: Vec<(PathBuf, String)>,
    /// Lock files behind their manifest once the plan is written (or already now), with
    /// the command that refreshes each.
    pub relocks: Vec<crate::lock::Relock>,
    /// The Compose override file the onboarding is in, when not the compose file.
    pub overlay: Option<PathBuf>,
    /// The entry points `--edit-entrypoint` would insert the setup lines into (shown
    /// paths): the plan gives them as next steps instead.
    pub entry_points: Vec<String>,
    /// Which service needs what in each file its Python side edits ([`claims`]).
    pub claims: Vec<claims::Claim>,
    /// What keeps an onboarded service's telemetry from arriving once the plan is written,
    /// beside its `action:` notes: code that does not yet import the module.
    pub waiting: Vec<Waiting>,
}

/// Something a service lacks for its telemetry to arrive, with where and the fix: `--check`
/// and `doctor` fail on it until it is done.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Waiting {
    pub service: Option<String>,
    /// The file it is in (as shown; empty where the message names it), and the line where
    /// there is one.
    pub file: String,
    pub line: Option<usize>,
    pub what: String,
    pub fix: String,
}

impl Waiting {
    /// What `service` lacks in the file shown as `file` (no line known).
    pub fn in_file(service: &str, file: String, what: String, fix: String) -> Waiting {
        Waiting {
            service: Some(service.to_string()),
            file,
            line: None,
            what,
            fix,
        }
    }
}

pub use crate::conflict::FileConflict;

impl Plan {
    /// A plan about `compose_file` (or the file that stands for it) that changes nothing yet.
    pub fn empty(compose_file: PathBuf) -> Plan {
        Plan {
            compose_file,
            services: Vec::new(),
            files: Vec::new(),
            notes: Vec::new(),
            next_steps: Vec::new(),
            conflicts: Vec::new(),
            own: Vec::new(),
            alternatives: Vec::new(),
            relocks: Vec::new(),
            overlay: None,
            entry_points: Vec::new(),
            waiting: Vec::new(),
            claims: Vec::new(),
        }
    }

    /// Everything that keeps telemetry from arriving once this plan is written: the code
    /// that does not import the module yet, and every `action:` note (each says what to do).
    pub fn unfinished(&self) -> Vec<Waiting> {
        // A compose plan's actions are about its compose file; a Kubernetes plan's (its
        // "compose file" is the project folder) name their own files, so none is shown.
        let shown = if self.compose_file.is_dir() {
            String::new()
        } else {
            self.files.first().map_or_else(
                || display(Path::new("."), &self.compose_file),
                |f| f.display.clone(),
            )
        };
        let actions = self
            .notes
            .iter()
            .filter(|n| n.kind == crate::compose::NoteKind::Action)
            .map(|n| Waiting {
                service: n.service.clone(),
                file: shown.clone(),
                line: None,
                what: n.message.clone(),
                fix: "do as it says, then run obs-init again".into(),
            });
        self.waiting.iter().cloned().chain(actions).collect()
    }

    /// The plan with obs-init's values written over every conflict: the user's (or
    /// `--on-conflict`'s) other choice.
    pub fn overwrite(&mut self) {
        for f in &mut self.files {
            if let Some((_, after)) = self.alternatives.iter().find(|(p, _)| *p == f.path) {
                f.after = after.clone();
                // Written over, the file is created, updated, or (a second run) as it was.
                f.status = match &f.before {
                    None => Status::Create,
                    Some(b) if *b == f.after => Status::Unchanged,
                    Some(_) => Status::Update,
                };
            } else if f.status == Status::Kept {
                f.status = Status::Update;
            }
        }
        self.alternatives.clear();
        // What overwrite does not write over stays reported as kept.
        self.conflicts.retain(|c| c.kept_either_way);
    }

    /// Whether applying the plan would change anything (a lock to refresh is a change).
    pub fn is_empty(&self) -> bool {
        self.relocks.is_empty()
            && self
                .files
                .iter()
                .all(|f| matches!(f.status, Status::Unchanged | Status::Kept))
    }

    /// Adds the locks of every manifest the plan changes, once each.
    pub(crate) fn relock_changed(&mut self) {
        let changed: Vec<PathBuf> = self
            .files
            .iter()
            .filter(|f| f.status == Status::Update)
            .map(|f| f.path.clone())
            .collect();
        for path in changed {
            self.push_relocks(crate::lock::needed(&path, true, &[]));
        }
    }

    pub(crate) fn push_relocks(&mut self, relocks: Vec<crate::lock::Relock>) {
        for r in relocks {
            if !self.relocks.iter().any(|known| known.lock == r.lock) {
                self.relocks.push(r);
            }
        }
    }

    /// Records that `service` needs what obs-init inserts in `path` (`packages`: only the
    /// lines naming these), whoever inserted it ([`claims`]).
    pub(crate) fn claim(&mut self, path: &Path, service: &str, packages: Option<Vec<String>>) {
        let packages = packages.map(|p| p.iter().map(|n| crate::deps::normalize(n)).collect());
        let claim = claims::Claim {
            path: path.to_path_buf(),
            service: service.to_string(),
            packages,
        };
        if !self.claims.contains(&claim) {
            self.claims.push(claim);
        }
    }

    /// Adds a file change unless the same path is already planned (two services sharing a
    /// build context share one module and one requirements file).
    pub(crate) fn push(&mut self, change: FileChange) {
        if !self.files.iter().any(|f| f.path == change.path) {
            self.files.push(change);
        }
    }
}

/// A prompt that could not be answered.
fn asked(source: io::Error) -> Error {
    Error::Prompt { source }
}

/// Whether to write obs-init's versions over `conflicts`, by `policy`: an error when the
/// answer is to stop (or there is nobody to ask).
pub(crate) fn overwrite_conflicts<'p>(
    policy: ConflictPolicy,
    prompter: Option<&mut (dyn Prompter + 'p)>,
    conflicts: &[FileConflict],
) -> Result<bool, Error> {
    match (policy, prompter) {
        (ConflictPolicy::Skip, _) => Ok(false),
        (ConflictPolicy::Overwrite, _) => Ok(true),
        (ConflictPolicy::Prompt, Some(p)) => p.overwrite(conflicts).map_err(asked),
        (ConflictPolicy::Abort | ConflictPolicy::Prompt, _) => {
            Err(Error::Conflicts(conflicts.to_vec()))
        }
    }
}

/// Refuses a plan that would touch a file outside `dir` (symlinks followed).
pub fn check_inside_dir(dir: &Path, plan: &Plan) -> Result<(), Error> {
    // The directory may not exist yet (`obs-init platform --dir new-folder`).
    let root = resolve_existing(dir);
    for file in &plan.files {
        if !matches!(
            file.status,
            Status::Create | Status::Update | Status::Delete
        ) {
            continue;
        }
        let resolved = resolve_existing(&file.path);
        if !resolved.starts_with(&root) {
            return Err(Error::OutsideRoot {
                path: file.path.clone(),
                root,
                resolved,
            });
        }
    }
    Ok(())
}

/// `path` with its longest existing prefix resolved (symlinks followed) and the rest
/// appended lexically.
fn resolve_existing(path: &Path) -> PathBuf {
    let abs = absolute(path);
    let mut existing = abs.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(real) = fs::canonicalize(existing) {
            return rest.iter().rev().fold(real, |acc, part| acc.join(part));
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                existing = parent;
            }
            _ => return abs,
        }
    }
}

/// The files whose content is what `saved` records obs-init wrote (its lock refreshes
/// among them).
pub(crate) fn own_files(dir: &Path, saved: &Answers) -> Vec<PathBuf> {
    saved
        .composes
        .iter()
        .filter_map(|c| c.text.as_ref())
        .chain(saved.files.iter().map(|(f, _)| f))
        .filter_map(|f| {
            let path = dir.join(&f.path);
            fs::read_to_string(&path)
                .ok()
                .filter(|text| f.untouched(text))
                .map(|_| path)
        })
        .chain(saved.locks.iter().filter_map(|l| {
            let path = dir.join(&l.path);
            fs::read_to_string(&path)
                .ok()
                .filter(|text| l.untouched(text))
                .map(|_| path)
        }))
        .collect()
}

/// The project's answers file (in `dir`): its record and its text, `None` when there is none.
pub(crate) fn read_answers(dir: &Path) -> Result<Option<(Answers, String)>, Error> {
    let path = dir.join(crate::answers::FILE);
    let Some(text) = read_optional(&path)? else {
        return Ok(None);
    };
    let answers =
        crate::answers::read(&text).map_err(|reason| Error::InvalidAnswers { path, reason })?;
    Ok(Some((answers, text)))
}

/// The answers file going from `before` to `after`.
pub(crate) fn answers_change(dir: &Path, before: Option<String>, after: String) -> FileChange {
    let path = dir.join(crate::answers::FILE);
    FileChange {
        display: display(dir, &path),
        status: match &before {
            None => Status::Create,
            Some(old) if *old == after => Status::Unchanged,
            Some(_) => Status::Update,
        },
        path,
        before,
        after,
    }
}

/// The record of a file obs-init takes from `before` to `after`, relative to the file as it
/// was before any obs-init run (which `prior`, the record of earlier runs, gives back).
pub(crate) fn joined(
    prior: Option<&crate::record::FileRecord>,
    rel: &str,
    before: Option<&str>,
    after: &str,
) -> crate::record::FileRecord {
    use crate::record;
    match (prior, before) {
        (Some(p), _) if p.created => record::record(rel, None, after),
        (Some(p), Some(before)) => {
            let original = record::undo(before, p).text;
            record::record(rel, Some(&original), after)
        }
        (_, before) => record::record(rel, before, after),
    }
}

/// Joins what `change` does to the file at `rel` to `record`, with `needers` added to the
/// services that need it.
pub(crate) fn record_file(
    record: &mut Answers,
    rel: &str,
    change: &FileChange,
    needers: impl IntoIterator<Item = String>,
) {
    let prior = record.files.iter().position(|(f, _)| f.path == rel);
    let fresh = match change.status {
        Status::Create | Status::Update => Some(joined(
            prior.map(|i| &record.files[i].0),
            rel,
            change.before.as_deref(),
            &change.after,
        )),
        Status::Unchanged | Status::Kept | Status::Delete => None,
    };
    let mut needed_by = prior.map(|i| record.files[i].1.clone()).unwrap_or_default();
    for key in needers {
        if !needed_by.contains(&key) {
            needed_by.push(key);
        }
    }
    match (fresh, prior) {
        (Some(r), Some(i)) => record.files[i] = (r, needed_by),
        (Some(r), None) => record.files.push((r, needed_by)),
        (None, Some(i)) => record.files[i].1 = needed_by,
        (None, None) => {}
    }
}

/// A file obs-init generates whole (from a template): created when absent, left alone when
/// equal; when the project's version differs, overwritten only with `overwrite`, else kept
/// and reported as a conflict, `differs` saying how.
pub(crate) fn generated_change(
    dir: &Path,
    path: &Path,
    wanted: String,
    conflicts: &mut Vec<FileConflict>,
    differs: impl FnOnce(&str) -> String,
) -> Result<FileChange, Error> {
    let display = display(dir, path);
    let existing = read_optional(path)?;
    let status = match &existing {
        None => Status::Create,
        Some(old) if *old == wanted => Status::Unchanged,
        Some(old) => {
            conflicts.push(FileConflict {
                file: display.clone(),
                conflict: Conflict {
                    service: None,
                    what: differs(old),
                    line: None,
                },
                kept_either_way: false,
            });
            Status::Kept
        }
    };
    Ok(FileChange {
        path: path.to_path_buf(),
        display,
        before: existing,
        after: wanted,
        status,
    })
}
