//! detect -> plan: from the options and the files on disk, the list of file changes.
//!
//! Nothing here writes; [`crate::apply`] does that, and only with a plan that verified.

use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

use crate::compose::{self, ComposeOptions, Note};
use crate::dapr;
use crate::deps::{self, PyprojectError, Requirement};
use crate::error::Error;
use crate::python::{self, Entry, Ownership};

/// Compose's own discovery order.
pub const COMPOSE_NAMES: [&str; 4] = [
    "compose.yaml",
    "compose.yml",
    "docker-compose.yml",
    "docker-compose.yaml",
];

/// Newest daprd release checked against DESIGN.md's facts.
pub const DEFAULT_DAPR_VERSION: &str = "1.18.3";

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
    pub dapr_version: String,
    /// Where the Dapr configuration goes; `dir/dapr-config.yml` when unset.
    pub dapr_config: Option<PathBuf>,
    /// Where `setup_observability.py` goes (a file, or a directory to put it in); found from
    /// each service's build context when unset.
    pub module_path: Option<PathBuf>,
}

impl Options {
    pub fn new(dir: impl Into<PathBuf>) -> Options {
        Options {
            dir: dir.into(),
            file: None,
            services: Vec::new(),
            yes: false,
            app_port: None,
            dapr_version: DEFAULT_DAPR_VERSION.into(),
            dapr_config: None,
            module_path: None,
        }
    }
}

/// Asks the questions flags did not answer. The binary plugs in a terminal prompter; without
/// one, defaults apply under `--yes` and anything else is an error naming the flag.
pub trait Prompter {
    /// Which services to onboard, given all services and the suggested ones.
    fn choose_services(&mut self, all: &[String], suggested: &[String]) -> io::Result<Vec<String>>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Create,
    Update,
    Unchanged,
    /// The file exists, was changed by the user, and differs from what obs-init would write:
    /// it is left alone, and `after` holds what obs-init would have written, for a diff.
    Kept,
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
    fn push(&mut self, change: FileChange) {
        if !self.files.iter().any(|f| f.path == change.path) {
            self.files.push(change);
        }
    }
}

/// Finds the compose file: `--file` if given, else the first of [`COMPOSE_NAMES`] in `dir`.
pub fn find_compose(dir: &Path, file: Option<&Path>) -> Result<PathBuf, Error> {
    if let Some(f) = file {
        return Ok(f.to_path_buf());
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
pub fn plan(opts: &Options, prompter: Option<&mut dyn Prompter>) -> Result<Plan, Error> {
    let compose_path = find_compose(&opts.dir, opts.file.as_deref())?;
    let content = read_text(&compose_path)?;
    let in_file = |source| Error::Compose {
        path: compose_path.clone(),
        source,
    };

    let services = if opts.services.is_empty() {
        let (_, doc) = compose::parse(&content).map_err(in_file)?;
        let svc = compose::services(&doc).map_err(in_file)?;
        let all = compose::service_names(svc);
        let (built, others) = compose::app_candidates(&doc, svc);
        match prompter {
            Some(p) => {
                let suggested = if built.is_empty() { &others } else { &built };
                p.choose_services(&all, suggested)
                    .map_err(|source| Error::Read {
                        path: PathBuf::from("<terminal>"),
                        source,
                    })?
            }
            None if opts.yes && !built.is_empty() => built,
            None => {
                return Err(Error::NoServiceChosen {
                    candidates: if built.is_empty() { others } else { built },
                });
            }
        }
    } else {
        opts.services.clone()
    };
    if services.is_empty() {
        return Err(Error::NoServiceChosen { candidates: vec![] });
    }

    let config_path = opts
        .dapr_config
        .clone()
        .unwrap_or_else(|| opts.dir.join("dapr-config.yml"));
    let compose_dir = compose_path
        .parent()
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let config_source = mount_source(&absolute(&compose_dir), &absolute(&config_path));

    let outcome = compose::onboard(
        &content,
        &ComposeOptions {
            services: services.clone(),
            app_port: opts.app_port,
            dapr_version: opts.dapr_version.clone(),
            config_source,
        },
    )
    .map_err(in_file)?;

    let mut plan = Plan {
        compose_file: compose_path.clone(),
        services,
        files: Vec::new(),
        notes: outcome.notes,
        next_steps: Vec::new(),
    };
    plan.push(FileChange {
        display: display(&opts.dir, &compose_path),
        path: compose_path.clone(),
        status: if outcome.after == content {
            Status::Unchanged
        } else {
            Status::Update
        },
        before: Some(content),
        after: outcome.after,
    });
    let config = config_change(opts, &config_path, &mut plan.notes)?;
    plan.push(config);
    for (service, build) in &outcome.builds {
        plan_python(opts, &compose_dir, service, build.as_deref(), &mut plan)?;
    }
    Ok(plan)
}

/// The Python side of one service: the module next to its code, and its dependencies.
fn plan_python(
    opts: &Options,
    compose_dir: &Path,
    service: &str,
    build: Option<&str>,
    plan: &mut Plan,
) -> Result<(), Error> {
    let mut note = |message: String| {
        plan.notes.push(Note {
            service: Some(service.to_string()),
            message,
        })
    };
    let context = build.map(|b| compose_dir.join(b));
    let module_path = match (&opts.module_path, &context) {
        (Some(p), _) if p.extension().is_some_and(|e| e == "py") => p.clone(),
        (Some(p), _) => p.join(python::MODULE_FILE),
        (None, None) => {
            note(
                "no build context, so no Python module was written (pass --module-path \
                  if this is a Python app)"
                    .into(),
            );
            return Ok(());
        }
        (None, Some(ctx)) => match python::find_entry(ctx) {
            Entry::Found(entry) => entry.with_file_name(python::MODULE_FILE),
            Entry::Ambiguous(found) => {
                let list: Vec<String> = found.iter().map(|p| display(&opts.dir, p)).collect();
                note(format!(
                    "several entry points ({}); pass --module-path to say where \
                     setup_observability.py goes",
                    list.join(", ")
                ));
                return Ok(());
            }
            Entry::None => {
                note(format!(
                    "no main.py or app.py under {}: no Python module written (pass \
                     --module-path if this is a Python app)",
                    display(&opts.dir, ctx)
                ));
                return Ok(());
            }
        },
    };
    let module = module_change(opts, &module_path)?;
    let module_dir = module_path.parent().unwrap_or(Path::new(".")).to_path_buf();
    if module.status == Status::Kept {
        note(format!(
            "{} was changed by hand; left as is (--dry-run shows how it differs)",
            module.display
        ));
    }
    plan.push(module);

    let search: Vec<PathBuf> = context
        .iter()
        .cloned()
        .chain([opts.dir.clone(), module_dir.clone()])
        .collect();
    let deps_file = search.iter().find_map(|d| {
        ["requirements.txt", "pyproject.toml"]
            .iter()
            .map(|n| d.join(n))
            .find(|p| p.is_file())
    });
    let step = format!(
        "{service}: call setup_observability() at start-up, next to {}: {}",
        display(&opts.dir, &module_dir),
        python::import_line(&module_dir)
    );
    if !plan.next_steps.contains(&step) {
        plan.next_steps.push(step);
    }
    match deps_file {
        Some(path) => {
            let change = deps_change(opts, &path)?;
            plan.push(change);
        }
        None => plan.notes.push(Note {
            service: Some(service.to_string()),
            message: format!(
                "no requirements.txt or pyproject.toml found: install {}",
                wanted_for("")
                    .iter()
                    .map(Requirement::spec)
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
        }),
    }
    Ok(())
}

/// The packages to add, given the dependency file's content (FastAPI apps get its
/// instrumentation too).
fn wanted_for(content: &str) -> Vec<Requirement> {
    let mut wanted = deps::BASE.to_vec();
    let fastapi = content.lines().any(|l| {
        l.split(['"', '\''])
            .any(|part| deps::requirement_name(part).as_deref() == Some("fastapi"))
    });
    if fastapi {
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

fn deps_change(opts: &Options, path: &Path) -> Result<FileChange, Error> {
    let content = read_text(path)?;
    let wanted = wanted_for(&content);
    let is_toml = path.extension().is_some_and(|e| e == "toml");
    let after = if is_toml {
        deps::add_to_pyproject(&content, &wanted).map_err(|e| Error::Conflict {
            path: path.to_path_buf(),
            reason: match e {
                PyprojectError::Invalid(m) => format!("it is not valid TOML: {m}"),
                PyprojectError::NoDependencyTable => {
                    "it has neither [project] nor [tool.poetry.dependencies]".into()
                }
            },
            help: "declare the project's dependencies in [project] (or use a \
                   requirements.txt), then run again"
                .into(),
        })?
    } else {
        deps::add_to_requirements(&content, &wanted)
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
fn read_optional(path: &Path) -> Result<Option<String>, Error> {
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

fn config_change(opts: &Options, path: &Path, notes: &mut Vec<Note>) -> Result<FileChange, Error> {
    let display = display(&opts.dir, path);
    let wanted = dapr::CONFIG_TEMPLATE.to_string();
    let Some(existing) = read_optional(path)? else {
        return Ok(FileChange {
            path: path.to_path_buf(),
            display,
            before: None,
            after: wanted,
            status: Status::Create,
        });
    };
    if existing != wanted {
        dapr::check_config(&existing).map_err(|reason| Error::Conflict {
            path: path.to_path_buf(),
            reason,
            help: "fix it, move it aside, or pass --dapr-config OTHER_PATH".into(),
        })?;
        notes.push(Note {
            service: None,
            message: format!("{display} differs from obs-init's but enables tracing; kept"),
        });
    }
    Ok(FileChange {
        path: path.to_path_buf(),
        display,
        before: Some(existing.clone()),
        after: existing,
        status: Status::Unchanged,
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

/// `path` relative to `dir` when it lies inside, else as given.
fn display(dir: &Path, path: &Path) -> String {
    let rel = absolute(path);
    let base = absolute(dir);
    rel.strip_prefix(&base)
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| path.to_path_buf())
        .to_string_lossy()
        .replace('\\', "/")
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
