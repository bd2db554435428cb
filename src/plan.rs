//! detect -> plan: from the options and the files on disk, the list of file changes.
//!
//! Nothing here writes; [`crate::apply`] does that, and only with a plan that verified.

use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

use crate::compose::{self, ComposeOptions, Note};
use crate::dapr;
use crate::error::Error;

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
}

impl Plan {
    /// Whether applying the plan would change anything.
    pub fn is_empty(&self) -> bool {
        self.files.iter().all(|f| f.status == Status::Unchanged)
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
    let compose_dir = absolute(compose_path.parent().unwrap_or(Path::new(".")));
    let config_source = mount_source(&compose_dir, &absolute(&config_path));

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

    let mut notes = outcome.notes;
    let mut files = vec![FileChange {
        display: display(&opts.dir, &compose_path),
        path: compose_path.clone(),
        status: if outcome.after == content {
            Status::Unchanged
        } else {
            Status::Update
        },
        before: Some(content),
        after: outcome.after,
    }];
    files.push(config_change(opts, &config_path, &mut notes)?);

    Ok(Plan {
        compose_file: compose_path,
        services,
        files,
        notes,
    })
}

fn config_change(opts: &Options, path: &Path, notes: &mut Vec<Note>) -> Result<FileChange, Error> {
    let display = display(&opts.dir, path);
    let wanted = dapr::CONFIG_TEMPLATE.to_string();
    match fs::read(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(FileChange {
            path: path.to_path_buf(),
            display,
            before: None,
            after: wanted,
            status: Status::Create,
        }),
        Err(source) => Err(Error::Read {
            path: path.to_path_buf(),
            source,
        }),
        Ok(bytes) => {
            let existing = String::from_utf8(bytes).map_err(|_| Error::NotUtf8 {
                path: path.to_path_buf(),
            })?;
            if existing != wanted {
                dapr::check_config(&existing).map_err(|reason| Error::Conflict {
                    path: path.to_path_buf(),
                    reason,
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
    }
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
