//! detect -> plan: from the options and the files on disk, the list of file changes.
//!
//! Nothing here writes; [`crate::apply`] does that, and only with a plan that verified.

use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

use crate::answers::{self, Answers, ServiceAnswers};
use crate::compose::{self, ComposeOptions, Conflict, Note};
use crate::contract;
use crate::deps::{self, PyprojectError, Requirement};
use crate::detect::{self, Framework};
use crate::error::Error;
use crate::python::{self, Entry, Ownership};
use crate::record::{self, FileRecord};
use crate::{dagster, dapr};

/// Compose's own discovery order.
pub const COMPOSE_NAMES: [&str; 4] = [
    "compose.yaml",
    "compose.yml",
    "docker-compose.yml",
    "docker-compose.yaml",
];

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

impl Options {
    pub fn new(dir: impl Into<PathBuf>) -> Options {
        Options {
            dir: dir.into(),
            file: None,
            services: Vec::new(),
            yes: false,
            app_port: None,
            dapr_version: None,
            dapr_config: None,
            module_path: None,
            frameworks: Vec::new(),
            dagster_home: None,
            fix_invalid: false,
            edit_entrypoint: false,
            on_conflict: ConflictPolicy::Abort,
        }
    }
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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
}

/// A conflict, with the file it is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileConflict {
    pub file: String,
    pub conflict: Conflict,
}

impl Plan {
    /// Whether applying the plan would change anything.
    pub fn is_empty(&self) -> bool {
        self.files
            .iter()
            .all(|f| matches!(f.status, Status::Unchanged | Status::Kept))
    }

    /// Adds a file change unless the same path is already planned (two services sharing a
    /// build context share one module and one requirements file).
    pub(crate) fn push(&mut self, change: FileChange) {
        if !self.files.iter().any(|f| f.path == change.path) {
            self.files.push(change);
        }
    }
}

/// The compose file: `file` (relative to `dir`, as `-C DIR -f FILE` reads in git and cargo),
/// or the first of [`COMPOSE_NAMES`] found in `dir`.
pub fn find_compose(dir: &Path, file: Option<&Path>) -> Result<PathBuf, Error> {
    if let Some(f) = file {
        return Ok(dir.join(f));
    }
    COMPOSE_NAMES
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
        .ok_or_else(|| Error::NoComposeFile {
            dir: dir.to_path_buf(),
        })
}

/// Builds the plan: reads the files, decides, verifies. Writes nothing.
pub fn plan<'p>(
    opts: &Options,
    mut prompter: Option<&mut (dyn Prompter + 'p)>,
) -> Result<Plan, Error> {
    let ctx = resolve(opts, prompter.as_deref_mut())?;
    let first = build(opts, &ctx, false)?;
    if first.conflicts.is_empty() {
        check_inside(opts, &first)?;
        return Ok(first);
    }
    let plan = if overwrite_conflicts(opts.on_conflict, prompter, &first.conflicts)? {
        build(opts, &ctx, true)?
    } else {
        first
    };
    check_inside(opts, &plan)?;
    Ok(plan)
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

/// Refuses a plan that would write outside the project directory, or through a symlink
/// that leads out of it.
fn check_inside(opts: &Options, plan: &Plan) -> Result<(), Error> {
    check_inside_dir(&opts.dir, plan)
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

fn asked(source: io::Error) -> Error {
    Error::Prompt { source }
}

/// Everything decided before files are planned: flags, then the answers file, then the
/// prompter's answers, then detection and defaults.
struct Resolved {
    compose_path: PathBuf,
    content: String,
    answers_path: PathBuf,
    answers_text: Option<String>,
    services: Vec<String>,
    targets: Vec<Target>,
    dapr_version: String,
    notes: Vec<Note>,
    saved: Answers,
}

fn resolve<'p>(
    opts: &Options,
    mut prompter: Option<&mut (dyn Prompter + 'p)>,
) -> Result<Resolved, Error> {
    let answers_path = opts.dir.join(answers::FILE);
    let answers_text = read_optional(&answers_path)?;
    let saved = match &answers_text {
        Some(text) => answers::read(text).map_err(|reason| Error::InvalidAnswers {
            path: answers_path.clone(),
            reason,
        })?,
        None => Answers::default(),
    };
    let compose_path = find_compose(&opts.dir, opts.file.as_deref())?;
    let content = read_text(&compose_path)?;
    let in_file = |source| Error::Compose {
        path: compose_path.clone(),
        source,
    };
    let (_, doc) = compose::parse(&content).map_err(in_file)?;
    let svc = compose::services(&doc).map_err(in_file)?;

    let services = if !opts.services.is_empty() {
        opts.services.clone()
    } else if let Some(c) = saved
        .compose(&display(&opts.dir, &compose_path))
        .filter(|c| !c.services.is_empty())
    {
        // What was onboarded in this compose file before.
        c.services.clone()
    } else if !saved.services.is_empty() {
        saved.services.clone()
    } else {
        let all = compose::service_names(svc);
        let (built, others) = compose::app_candidates(&doc, svc);
        match prompter.as_deref_mut() {
            Some(p) => {
                let suggested = if built.is_empty() { &others } else { &built };
                p.choose_services(&all, suggested).map_err(asked)?
            }
            None if opts.yes && !built.is_empty() => built,
            None => {
                return Err(Error::NoServiceChosen {
                    candidates: if built.is_empty() { others } else { built },
                });
            }
        }
    };
    if services.is_empty() {
        return Err(Error::NoServiceChosen { candidates: vec![] });
    }
    compose::check_names(svc, &services).map_err(in_file)?;

    let compose_dir = compose_dir(&compose_path);
    let mut notes = Vec::new();
    let mut targets = Vec::new();
    for name in &services {
        let info = compose::service_info(&doc, svc, name);
        let mut context = info.build.as_ref().map(|b| compose_dir.join(b));
        // obs-init writes only inside --dir: code built from outside it is not its to edit.
        let outside = context.take_if(|c| !absolute(c).starts_with(absolute(&opts.dir)));
        let remembered = saved.service(name);
        let app_port = match (opts.app_port, remembered.and_then(|r| r.app_port)) {
            (Some(p), _) | (None, Some(p)) => Some(p),
            (None, None) => match prompter.as_deref_mut() {
                Some(p) => p.app_port(name, info.suggested_port).map_err(asked)?,
                None => {
                    if let (Some(port), Some(source)) = (info.suggested_port, info.port_source) {
                        notes.push(Note {
                            service: Some(name.clone()),
                            message: format!(
                                "app port {port} taken from the service's {source} (override \
                                 with --app-port)"
                            ),
                        });
                    }
                    info.suggested_port
                }
            },
        };
        let frameworks = if !opts.frameworks.is_empty() {
            opts.frameworks.clone()
        } else if let Some(r) = remembered.filter(|r| !r.frameworks.is_empty()) {
            r.frameworks.clone()
        } else {
            let found = detect::detect(&info.words, context.as_deref(), &opts.dir);
            match prompter.as_deref_mut() {
                Some(p) => p.frameworks(name, &found.found).map_err(asked)?,
                None => {
                    for (f, why) in &found.found {
                        notes.push(Note {
                            service: Some(name.clone()),
                            message: format!("detected {f}: {why}"),
                        });
                    }
                    found.found.into_iter().map(|(f, _)| f).collect()
                }
            }
        };
        targets.push(Target {
            service: name.clone(),
            context,
            outside,
            frameworks,
            app_port,
        });
    }
    let dapr_version = opts
        .dapr_version
        .clone()
        .or_else(|| saved.dapr_version.clone())
        .unwrap_or_else(|| DEFAULT_DAPR_VERSION.to_string());
    Ok(Resolved {
        compose_path,
        content,
        answers_path,
        answers_text,
        services,
        targets,
        dapr_version,
        notes,
        saved,
    })
}

/// The plan for resolved choices; `overwrite` writes obs-init's values over conflicts.
fn build(opts: &Options, ctx: &Resolved, overwrite: bool) -> Result<Plan, Error> {
    let Resolved {
        compose_path,
        content,
        answers_path,
        answers_text,
        services,
        targets,
        dapr_version,
        notes,
        saved,
    } = ctx;
    let (compose_path, content) = (compose_path.clone(), content.clone());
    let (answers_path, answers_text) = (answers_path.clone(), answers_text.clone());
    let (services, dapr_version, mut notes) =
        (services.clone(), dapr_version.clone(), notes.clone());
    let in_file = |source| Error::Compose {
        path: compose_path.clone(),
        source,
    };
    let compose_dir = compose_dir(&compose_path);

    let config_path = opts
        .dapr_config
        .clone()
        .unwrap_or_else(|| contract::default_dapr_config(&opts.dir));
    let config_source = mount_source(&absolute(&compose_dir), &absolute(&config_path));
    let extra_env = targets
        .iter()
        .filter(|t| t.frameworks.contains(&Framework::Mlflow))
        .map(|t| (t.service.clone(), contract::mlflow_env()))
        .collect();
    let outcome = compose::onboard(
        &content,
        &ComposeOptions {
            services: services.clone(),
            app_ports: targets
                .iter()
                .filter_map(|t| t.app_port.map(|p| (t.service.clone(), p)))
                .collect(),
            dapr_version: dapr_version.clone(),
            config_source,
            extra_env,
            overwrite,
        },
    )
    .map_err(in_file)?;

    notes.extend(outcome.notes);
    let compose_display = display(&opts.dir, &compose_path);
    let start = format!(
        "start the app with its sidecar: {}",
        start_command(opts, &compose_path, &services)
    );
    let mut plan = Plan {
        compose_file: compose_path.clone(),
        services,
        files: Vec::new(),
        notes,
        next_steps: vec![
            format!(
                "make sure the platform network exists on this host: docker network create {}",
                compose::NETWORK
            ),
            start,
        ],
        conflicts: outcome
            .conflicts
            .into_iter()
            .map(|conflict| FileConflict {
                file: compose_display.clone(),
                conflict,
            })
            .collect(),
        own: Vec::new(),
    };
    plan.push(FileChange {
        display: display(&opts.dir, &compose_path),
        path: compose_path.clone(),
        status: if outcome.after == content {
            Status::Unchanged
        } else {
            Status::Update
        },
        before: Some(content.clone()),
        after: outcome.after,
    });
    let config = config_change(opts, &config_path, overwrite, &mut plan.conflicts)?;
    plan.push(config);
    let mut handler_module = None;
    for target in targets {
        let module = plan_python(opts, target, overwrite, &mut plan)?;
        if target.frameworks.contains(&Framework::Dagster) && handler_module.is_none() {
            handler_module = module;
        }
    }
    if targets
        .iter()
        .any(|t| t.frameworks.contains(&Framework::Dagster))
    {
        plan_dagster(opts, handler_module.as_deref(), &mut plan)?;
    }
    let compose_rel = display(&opts.dir, &compose_path);
    let mut record = saved.clone();
    record_compose(&mut record, &compose_rel, &plan, &outcome.changes, &content);
    record_files(opts, &plan, &compose_path, &compose_rel, &mut record);
    if record.original.is_none() && saved.composes.is_empty() {
        // A user's own answers file, before obs-init first wrote to it.
        record.original = answers_text.clone();
    }
    record.dapr_version = Some(dapr_version);
    record.services = plan.services.clone();
    for t in targets {
        let answers = ServiceAnswers {
            name: t.service.clone(),
            app_port: t.app_port,
            frameworks: t.frameworks.clone(),
        };
        match record.per_service.iter_mut().find(|s| s.name == t.service) {
            Some(s) => *s = answers,
            None => record.per_service.push(answers),
        }
    }
    plan.own = own_files(&opts.dir, saved);
    plan.own.push(answers_path.clone());
    let recorded = answers::write(answers_text.as_deref(), &record);
    plan.push(FileChange {
        display: display(&opts.dir, &answers_path),
        path: answers_path,
        status: match &answers_text {
            None => Status::Create,
            Some(old) if *old == recorded => Status::Unchanged,
            Some(_) => Status::Update,
        },
        before: answers_text,
        after: recorded,
    });
    Ok(plan)
}

/// Joins what this plan does to the compose file to its record: what it adds (a second
/// run adds nothing), its services, and the text as obs-init leaves it.
fn record_compose(
    record: &mut Answers,
    rel: &str,
    plan: &Plan,
    changes: &[crate::splice::Change],
    before: &str,
) {
    let index = match record.composes.iter().position(|c| c.path == rel) {
        Some(i) => i,
        None => {
            // An older answers file's record (no path) is this compose file's.
            let legacy = record.composes.iter().position(|c| c.path.is_empty());
            let mut fresh = legacy
                .map(|i| record.composes.remove(i))
                .unwrap_or_default();
            fresh.path = rel.to_string();
            record.composes.push(fresh);
            record.composes.len() - 1
        }
    };
    let c = &mut record.composes[index];
    // The original text is known only from the first onboarding on: a file onboarded by an
    // obs-init that kept no text record stays without one (removal then goes entry by entry).
    let original_known = c.text.is_some() || c.added.is_empty();
    for path in compose::added_paths(changes) {
        if !c.added.contains(&path) {
            c.added.push(path);
        }
    }
    for path in compose::filled_empty_keys(changes) {
        if !c.kept_empty.contains(&path) {
            c.kept_empty.push(path);
        }
    }
    for s in &plan.services {
        if !c.services.contains(s) {
            c.services.push(s.clone());
        }
    }
    let after = plan.files.first().map_or(before, |f| f.after.as_str());
    c.text = original_known.then(|| joined(c.text.as_ref(), rel, Some(before), after));
}

/// The record of a file obs-init takes from `before` to `after`, relative to the file as it
/// was before any obs-init run (which `prior`, the record of earlier runs, gives back).
fn joined(prior: Option<&FileRecord>, rel: &str, before: Option<&str>, after: &str) -> FileRecord {
    match (prior, before) {
        (Some(p), _) if p.created => record::record(rel, None, after),
        (Some(p), Some(before)) => {
            let original = record::undo(before, p).text;
            record::record(rel, Some(&original), after)
        }
        (_, before) => record::record(rel, before, after),
    }
}

/// Joins what this plan does to every file but the compose file and the answers file to the
/// record, with the services that need each.
fn record_files(
    opts: &Options,
    plan: &Plan,
    compose_path: &Path,
    compose_rel: &str,
    record: &mut Answers,
) {
    for change in &plan.files {
        if change.path == compose_path {
            continue;
        }
        let rel = display(&opts.dir, &change.path);
        let prior = record.files.iter().position(|(f, _)| f.path == rel);
        let fresh = match change.status {
            Status::Create | Status::Update => Some(joined(
                prior.map(|i| &record.files[i].0),
                &rel,
                change.before.as_deref(),
                &change.after,
            )),
            Status::Unchanged | Status::Kept | Status::Delete => None,
        };
        let mut needed_by = prior.map(|i| record.files[i].1.clone()).unwrap_or_default();
        for s in &plan.services {
            let key = answers::needer(compose_rel, s);
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
}

/// The files whose content is what `saved` records obs-init wrote.
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
        .collect()
}

/// One service to onboard, with what planning learnt of it.
struct Target {
    service: String,
    /// Its build context on disk, when inside the project directory.
    context: Option<PathBuf>,
    /// Its build context, when outside the project directory.
    outside: Option<PathBuf>,
    frameworks: Vec<Framework>,
    /// The port the app listens on, when known.
    app_port: Option<u16>,
}

/// The Python side of one service: the module next to its code, and its dependencies.
/// Returns where the module goes, when it does.
fn plan_python(
    opts: &Options,
    target: &Target,
    overwrite: bool,
    plan: &mut Plan,
) -> Result<Option<PathBuf>, Error> {
    if target.frameworks.is_empty() && opts.module_path.is_none() {
        plan.notes.push(Note {
            service: Some(target.service.clone()),
            message: "no Python code found: only the compose file was onboarded".into(),
        });
        return Ok(None);
    }
    let module_path = locate_module(opts, target, &mut plan.notes);
    let wanted = match &module_path {
        Some(path) => {
            plan_module(opts, target, path, overwrite, plan)?;
            wanted_for(&target.frameworks)
        }
        // MLflow exports its own traces; it only lacks the gRPC exporter package.
        None if target.frameworks.contains(&Framework::Mlflow) => vec![deps::BASE[1]],
        None => Vec::new(),
    };
    if !wanted.is_empty() {
        let module_dir = module_path.as_deref().and_then(Path::parent);
        plan_deps(opts, target, module_dir, &wanted, plan)?;
    }
    Ok(module_path)
}

/// Where `setup_observability.py` goes: `--module-path`, else beside the entry point found
/// in the build context. `None` (with a note saying why) when that is not clear.
fn locate_module(opts: &Options, target: &Target, notes: &mut Vec<Note>) -> Option<PathBuf> {
    let mut note = |message: String| {
        notes.push(Note {
            service: Some(target.service.clone()),
            message,
        })
    };
    let entry_names = contract::entry_points(target.frameworks.contains(&Framework::Dagster));
    match (&opts.module_path, &target.context) {
        (Some(p), _) if p.extension().is_some_and(|e| e == "py") => Some(p.clone()),
        (Some(p), _) => Some(p.join(python::MODULE_FILE)),
        (None, None) if target.outside.is_some() => {
            note(format!(
                "its build context {} is outside {}, so no Python module or dependency is \
                 written there (run obs-init with --dir at the folder holding both, or pass \
                 --module-path)",
                crate::error::shown(target.outside.as_deref().unwrap_or(Path::new(""))),
                crate::error::shown(&opts.dir)
            ));
            None
        }
        (None, None) => {
            note(
                "no build context, so no Python module was written (pass --module-path \
                  if this is a Python app)"
                    .into(),
            );
            None
        }
        (None, Some(ctx)) => match python::find_entry(ctx, entry_names) {
            Entry::Found(entry) => Some(entry.with_file_name(python::MODULE_FILE)),
            Entry::Ambiguous(found) => {
                let list: Vec<String> = found.iter().map(|p| display(&opts.dir, p)).collect();
                note(format!(
                    "several entry points ({}); pass --module-path to say where \
                     setup_observability.py goes",
                    list.join(", ")
                ));
                None
            }
            Entry::None => {
                note(format!(
                    "no {} in {}: no Python module written (pass --module-path to add one)",
                    entry_names.join(" or "),
                    display(&opts.dir, ctx)
                ));
                None
            }
        },
    }
}

/// The module itself, and how the app is to use it (edited in, or told as a next step).
fn plan_module(
    opts: &Options,
    target: &Target,
    module_path: &Path,
    overwrite: bool,
    plan: &mut Plan,
) -> Result<(), Error> {
    let service = &target.service;
    let mut module = module_change(opts, module_path)?;
    let module_dir = module_path.parent().unwrap_or(Path::new("."));
    if module.status == Status::Kept {
        if overwrite {
            module.status = Status::Update;
        } else {
            plan.conflicts.push(FileConflict {
                file: module.display.clone(),
                conflict: Conflict {
                    service: Some(service.clone()),
                    what: "it was changed by hand (--dry-run shows how it differs)".into(),
                    line: None,
                },
            });
        }
    }
    plan.push(module);

    let fastapi = target.frameworks.contains(&Framework::FastApi);
    let import = if fastapi {
        python::import_line(module_dir, "instrument_fastapi")
    } else {
        python::import_line(module_dir, "setup_observability")
    };
    let entry = module_dir.join("main.py");
    if fastapi && opts.edit_entrypoint && entry.is_file() {
        let source = read_text(&entry)?;
        match python::edit_fastapi_entry(&source, &import) {
            Ok(None) => {}
            Ok(Some(after)) => plan.push(FileChange {
                path: entry.clone(),
                display: display(&opts.dir, &entry),
                before: Some(source),
                after,
                status: Status::Update,
            }),
            Err(why) => plan.notes.push(Note {
                service: Some(service.clone()),
                message: format!("{} was not edited: {why}", display(&opts.dir, &entry)),
            }),
        }
    } else if fastapi {
        plan.next_steps.push(format!(
            "{service}: add to {}, after `app = FastAPI(...)`:\n       {import}\n       \
             instrument_fastapi(app)\n     (or run again with --edit-entrypoint); call \
             shutdown_observability() when the app stops (FastAPI lifespan)",
            display(&opts.dir, &entry)
        ));
    } else if !target.frameworks.contains(&Framework::Dagster) {
        plan.next_steps.push(format!(
            "{service}: call setup_observability() at start-up, next to {}: {import}",
            display(&opts.dir, module_dir)
        ));
    }
    Ok(())
}

/// The packages, added to the first requirements.txt or pyproject.toml found in the build
/// context, the project directory or beside the module.
fn plan_deps(
    opts: &Options,
    target: &Target,
    module_dir: Option<&Path>,
    wanted: &[Requirement],
    plan: &mut Plan,
) -> Result<(), Error> {
    let search: Vec<PathBuf> = target
        .context
        .iter()
        .cloned()
        .chain(std::iter::once(opts.dir.clone()))
        .chain(module_dir.map(Path::to_path_buf))
        .collect();
    let deps_file = search.iter().find_map(|d| {
        ["requirements.txt", "pyproject.toml"]
            .iter()
            .map(|n| d.join(n))
            .find(|p| p.is_file())
    });
    match deps_file {
        Some(path) => {
            let change = deps_change(opts, &path, wanted)?;
            plan.push(change);
        }
        None => plan.notes.push(Note {
            service: Some(target.service.clone()),
            message: format!(
                "no requirements.txt or pyproject.toml found: install {}",
                wanted
                    .iter()
                    .map(Requirement::spec)
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
        }),
    }
    Ok(())
}

/// `dagster.yaml`: in `--dagster-home`, else the one in the project, else a new one.
fn plan_dagster(opts: &Options, module: Option<&Path>, plan: &mut Plan) -> Result<(), Error> {
    let path = match &opts.dagster_home {
        Some(home) => home.join("dagster.yaml"),
        None => {
            let found = detect::find_files(&opts.dir, "dagster.yaml");
            match found.as_slice() {
                [one] => one.clone(),
                [] => {
                    plan.notes.push(Note {
                        service: None,
                        message: "no dagster.yaml found: writing one at the project root \
                                  (point DAGSTER_HOME at its folder, or pass --dagster-home)"
                            .into(),
                    });
                    opts.dir.join("dagster.yaml")
                }
                many => {
                    let list: Vec<String> = many.iter().map(|p| display(&opts.dir, p)).collect();
                    plan.notes.push(Note {
                        service: None,
                        message: format!(
                            "several dagster.yaml files ({}): pass --dagster-home to pick one",
                            list.join(", ")
                        ),
                    });
                    return Ok(());
                }
            }
        }
    };
    let class = format!(
        "{}.OtelLogHandler",
        module.map_or_else(|| "setup_observability".to_string(), python::dotted_module)
    );
    let before = read_optional(&path)?;
    let after = dagster::configure(before.as_deref().unwrap_or(""), &class, opts.fix_invalid)
        .map_err(|source| Error::Compose {
            path: path.clone(),
            source,
        })?;
    let status = match (&before, &after) {
        (None, _) => Status::Create,
        (Some(_), Some(_)) => Status::Update,
        (Some(_), None) => Status::Unchanged,
    };
    plan.push(FileChange {
        display: display(&opts.dir, &path),
        after: after.or_else(|| before.clone()).unwrap_or_default(),
        before,
        path,
        status,
    });
    Ok(())
}

/// The packages to add (FastAPI apps get its instrumentation too).
fn wanted_for(frameworks: &[Framework]) -> Vec<Requirement> {
    let mut wanted = deps::BASE.to_vec();
    if frameworks.contains(&Framework::FastApi) {
        wanted.push(deps::FASTAPI);
    }
    wanted
}

fn module_change(opts: &Options, path: &Path) -> Result<FileChange, Error> {
    let wanted = python::render();
    let display = display(&opts.dir, path);
    let existing = read_optional(path)?;
    let (status, before) = match existing {
        None => (Status::Create, None),
        Some(old) if old == wanted => (Status::Unchanged, Some(old)),
        Some(old) if python::ownership(&old) == Ownership::Ours => (Status::Update, Some(old)),
        Some(old) => (Status::Kept, Some(old)),
    };
    Ok(FileChange {
        path: path.to_path_buf(),
        display,
        before,
        after: wanted,
        status,
    })
}

fn deps_change(opts: &Options, path: &Path, wanted: &[Requirement]) -> Result<FileChange, Error> {
    let content = read_text(path)?;
    let is_toml = path.extension().is_some_and(|e| e == "toml");
    let after = if is_toml {
        deps::add_to_pyproject(&content, wanted).map_err(|e| Error::Manifest {
            path: path.to_path_buf(),
            reason: match e {
                PyprojectError::Invalid(m) => format!("it is not valid TOML: {m}"),
                PyprojectError::NoDependencyTable => {
                    "it has neither [project] nor [tool.poetry.dependencies]".into()
                }
            },
        })?
    } else {
        deps::add_to_requirements(&content, wanted)
    };
    Ok(FileChange {
        path: path.to_path_buf(),
        display: display(&opts.dir, path),
        status: if after.is_some() {
            Status::Update
        } else {
            Status::Unchanged
        },
        after: after.unwrap_or_else(|| content.clone()),
        before: Some(content),
    })
}

/// A file's text, `None` when it does not exist.
pub(crate) fn read_optional(path: &Path) -> Result<Option<String>, Error> {
    match fs::read(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(Error::Read {
            path: path.to_path_buf(),
            source,
        }),
        Ok(bytes) => String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| Error::NotUtf8 {
                path: path.to_path_buf(),
            }),
    }
}

fn config_change(
    opts: &Options,
    path: &Path,
    overwrite: bool,
    conflicts: &mut Vec<FileConflict>,
) -> Result<FileChange, Error> {
    let wanted = dapr::CONFIG_TEMPLATE.to_string();
    let differs = |existing: &str| match dapr::check_config(existing) {
        Ok(()) => "it differs from obs-init's, but enables tracing".to_string(),
        Err(problem) => format!("it differs from obs-init's, and {problem}"),
    };
    generated_change(&opts.dir, path, wanted, overwrite, conflicts, differs)
}

/// A file obs-init generates whole (from a template): created when absent, left alone when
/// equal; when the project's version differs, overwritten only with `overwrite`, else kept
/// and reported as a conflict, `differs` saying how.
pub(crate) fn generated_change(
    dir: &Path,
    path: &Path,
    wanted: String,
    overwrite: bool,
    conflicts: &mut Vec<FileConflict>,
    differs: impl FnOnce(&str) -> String,
) -> Result<FileChange, Error> {
    let display = display(dir, path);
    let existing = read_optional(path)?;
    let status = match &existing {
        None => Status::Create,
        Some(old) if *old == wanted => Status::Unchanged,
        Some(_) if overwrite => Status::Update,
        Some(old) => {
            conflicts.push(FileConflict {
                file: display.clone(),
                conflict: Conflict {
                    service: None,
                    what: differs(old),
                    line: None,
                },
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

pub(crate) fn read_text(path: &Path) -> Result<String, Error> {
    let bytes = fs::read(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })?;
    String::from_utf8(bytes).map_err(|_| Error::NotUtf8 {
        path: path.to_path_buf(),
    })
}

/// `path` relative to `dir` when it lies inside (`.` for `dir` itself), else as given.
pub(crate) fn display(dir: &Path, path: &Path) -> String {
    let rel = absolute(path);
    let base = absolute(dir);
    let shown = rel
        .strip_prefix(&base)
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| path.to_path_buf())
        .to_string_lossy()
        .replace('\\', "/");
    if shown.is_empty() { ".".into() } else { shown }
}

/// An absolute, lexically normalised path (no `.` or `..`), without touching the disk.
fn absolute(path: &Path) -> PathBuf {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut out = PathBuf::new();
    for c in abs.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// `docker compose up` for the onboarded apps and their sidecars, as pasted from where
/// obs-init was run. Without `-f`, Compose's own discovery is kept (so that an override file
/// still applies): the command runs in the project's folder instead of naming the file.
fn start_command(opts: &Options, compose_path: &Path, services: &[String]) -> String {
    let names: Vec<String> = services
        .iter()
        .flat_map(|s| [s.clone(), compose::sidecar_name(s)])
        .map(|n| shell_word(&n))
        .collect();
    let up = format!("up -d {}", names.join(" "));
    match &opts.file {
        Some(_) => format!(
            "docker compose -f {} {up}",
            shell_word(&compose_path.to_string_lossy())
        ),
        None if opts.dir == Path::new(".") => format!("docker compose {up}"),
        None => format!(
            "cd {} && docker compose {up}",
            shell_word(&opts.dir.to_string_lossy())
        ),
    }
}

/// `word` as a POSIX shell reads it back: as is when it is safe, else single-quoted.
fn shell_word(word: &str) -> String {
    let safe = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./:=@+,".contains(c));
    if safe {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// The folder a compose file's relative paths resolve against: the file's own (`.` for a
/// bare file name, whose parent reads as an empty path).
pub fn compose_dir(compose_path: &Path) -> PathBuf {
    match compose_path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// How a bind mount in a compose file in `from` names `to`: `./x` or `../x`.
fn mount_source(from: &Path, to: &Path) -> String {
    let from: Vec<_> = from.components().collect();
    let to_parts: Vec<_> = to.components().collect();
    let common = from
        .iter()
        .zip(&to_parts)
        .take_while(|(a, b)| a == b)
        .count();
    let mut parts: Vec<String> = vec!["..".into(); from.len() - common];
    parts.extend(
        to_parts[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    let joined = parts.join("/");
    if joined.starts_with("..") {
        joined
    } else {
        format!("./{joined}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_words_paste_back_as_they_were() {
        assert_eq!(shell_word("examples/fastapi-app"), "examples/fastapi-app");
        assert_eq!(shell_word("my project"), "'my project'");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
        assert_eq!(shell_word(""), "''");
    }

    #[test]
    fn mount_sources_are_relative_to_the_compose_file() {
        assert_eq!(
            mount_source(Path::new("/p"), Path::new("/p/dapr-config.yml")),
            "./dapr-config.yml"
        );
        assert_eq!(
            mount_source(Path::new("/p/deploy"), Path::new("/p/dapr-config.yml")),
            "../dapr-config.yml"
        );
        assert_eq!(
            mount_source(Path::new("/p"), Path::new("/p/dapr/config.yml")),
            "./dapr/config.yml"
        );
    }
}
