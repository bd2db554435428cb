//! lock: the lock files that pin a dependency manifest obs-init edits (poetry.lock, uv.lock,
//! pdm.lock, a pip-tools or `uv pip compile` requirements.txt), the project's own command
//! that brings each up to date without upgrading anything else, and whether a lock holds
//! the packages its manifest asks for.
//!
//! A lock left behind its manifest breaks the image build (`poetry install` refuses it), so
//! every plan that changes a manifest names the locks to refresh; the binary runs the
//! command when the tool is installed, and prints it otherwise.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::deps;

/// Which tool owns a lock file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Tool {
    Poetry,
    Uv,
    Pdm,
    /// `pip-compile` (pip-tools) or `uv pip compile`: a requirements.txt compiled from a
    /// source file, with the command in its header.
    PipCompile,
}

/// A lock file to bring up to date, and how.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Relock {
    pub tool: Tool,
    /// The lock file.
    #[serde(serialize_with = "crate::error::serialize_path")]
    pub lock: PathBuf,
    /// Where the command runs: the lock's folder.
    #[serde(serialize_with = "crate::error::serialize_path")]
    pub dir: PathBuf,
    /// The command, program first.
    pub command: Vec<String>,
    /// Packages the manifest asks for (of those obs-init adds) that the lock does not hold.
    pub missing: Vec<String>,
    /// The manifest the lock pins.
    #[serde(skip)]
    pub manifest: PathBuf,
}

impl Tool {
    /// What a stale lock does to the image build.
    pub fn stale_effect(self) -> &'static str {
        match self {
            Tool::Poetry => "`poetry install` refuses a stale lock",
            Tool::Uv => "`uv sync --locked` refuses a stale lock",
            Tool::Pdm => "`pdm sync` installs from it without the new packages",
            Tool::PipCompile => "`pip install -r` installs from it without the new packages",
        }
    }
}

impl Relock {
    /// The command as typed in the lock's folder.
    pub fn command_line(&self) -> String {
        self.command.join(" ")
    }
}

/// The file a compiled `requirements.txt` is compiled from, read from its header: the first
/// source it names that exists beside it (`requirements.in`, `pyproject.toml`, ...).
/// `None` when the file is not compiled; `Some(None)` when compiled from a file not found.
pub fn compiled_from(requirements: &Path, content: &str) -> Option<Option<PathBuf>> {
    let command = compile_command(content)?;
    let dir = requirements.parent().unwrap_or(Path::new("."));
    let own_name = requirements.file_name();
    Some(
        sources(&command)
            .map(|s| dir.join(s))
            .find(|p| p.is_file() && p.file_name() != own_name),
    )
}

/// The locks that pin `manifest` and need refreshing: all of them when the manifest
/// `changes`; else those missing one of `wanted` (package names the manifest asks for).
pub fn needed(manifest: &Path, changes: bool, wanted: &[String]) -> Vec<Relock> {
    locks_of(manifest)
        .into_iter()
        .filter_map(|(tool, lock, content)| {
            let missing = missing(tool, &content, wanted);
            let command = command(tool, &content)?;
            (changes || !missing.is_empty()).then(|| Relock {
                tool,
                dir: lock.parent().unwrap_or(Path::new(".")).to_path_buf(),
                lock,
                command,
                missing,
                manifest: manifest.to_path_buf(),
            })
        })
        .collect()
}

/// Each lock beside `manifest` that pins it, with its content.
fn locks_of(manifest: &Path) -> Vec<(Tool, PathBuf, String)> {
    let dir = manifest.parent().unwrap_or(Path::new("."));
    let read = |name: &str| {
        let path = dir.join(name);
        fs::read_to_string(&path).ok().map(|c| (path, c))
    };
    let mut found = Vec::new();
    if manifest.file_name().is_some_and(|n| n == "pyproject.toml") {
        for (tool, name) in [
            (Tool::Poetry, "poetry.lock"),
            (Tool::Uv, "uv.lock"),
            (Tool::Pdm, "pdm.lock"),
        ] {
            if let Some((path, content)) = read(name) {
                found.push((tool, path, content));
            }
        }
        // A uv workspace member is pinned by the workspace root's lock.
        if !found.iter().any(|(t, _, _)| *t == Tool::Uv)
            && let Some(root) = uv_workspace_root(dir)
            && let Ok(content) = fs::read_to_string(root.join("uv.lock"))
        {
            found.push((Tool::Uv, root.join("uv.lock"), content));
        }
    }
    // The compiled file by the tools' naming (requirements.in -> requirements.txt), when
    // its header names the manifest as its source.
    let stem = match manifest.extension().and_then(|e| e.to_str()) {
        Some("in") => manifest.file_stem().and_then(|s| s.to_str()),
        Some("toml") => Some("requirements"),
        _ => None,
    };
    if let Some((path, content)) = stem.and_then(|s| read(&format!("{s}.txt"))) {
        let source = compiled_from(&path, &content).flatten();
        if source.is_some_and(|s| s.file_name() == manifest.file_name()) {
            found.push((Tool::PipCompile, path, content));
        }
    }
    found
}

/// The folder above `dir` whose pyproject.toml declares a uv workspace, when one does.
fn uv_workspace_root(dir: &Path) -> Option<PathBuf> {
    dir.ancestors().skip(1).take(4).find_map(|d| {
        let text = fs::read_to_string(d.join("pyproject.toml")).ok()?;
        text.contains("[tool.uv.workspace]")
            .then(|| d.to_path_buf())
    })
}

/// The names of `wanted` that the lock does not pin.
fn missing(tool: Tool, lock: &str, wanted: &[String]) -> Vec<String> {
    let pinned: Vec<String> = match tool {
        Tool::PipCompile => deps::requirements_names(lock),
        Tool::Poetry | Tool::Uv | Tool::Pdm => toml_packages(lock),
    };
    wanted
        .iter()
        .filter(|w| !pinned.contains(&deps::normalize(w)))
        .cloned()
        .collect()
}

/// The `name` of every `[[package]]` in a TOML lock (poetry, uv and pdm share the shape).
fn toml_packages(lock: &str) -> Vec<String> {
    let Ok(doc) = lock.parse::<toml_edit::DocumentMut>() else {
        return Vec::new();
    };
    doc.get("package")
        .and_then(|p| p.as_array_of_tables())
        .map(|packages| {
            packages
                .iter()
                .filter_map(|p| p.get("name").and_then(|n| n.as_str()))
                .map(deps::normalize)
                .collect()
        })
        .unwrap_or_default()
}

/// The project's own command that refreshes the lock and keeps every other pin:
/// Poetry 2 keeps pins by default (1.x needs `--no-update`), uv too, pdm with
/// `--update-reuse`, and pip-compile and `uv pip compile` prefer the pins already in their
/// output unless told to upgrade, so the header's command is rerun without its upgrade flags.
fn command(tool: Tool, lock: &str) -> Option<Vec<String>> {
    let words = |w: &[&str]| w.iter().map(|s| (*s).to_string()).collect();
    Some(match tool {
        Tool::Poetry if poetry_1(lock) => words(&["poetry", "lock", "--no-update"]),
        Tool::Poetry => words(&["poetry", "lock"]),
        Tool::Uv => words(&["uv", "lock"]),
        Tool::Pdm => words(&["pdm", "lock", "--update-reuse"]),
        Tool::PipCompile => without_upgrade(compile_command(lock)?),
    })
}

/// Whether the lock's header says Poetry 1.x wrote it.
fn poetry_1(lock: &str) -> bool {
    lock.lines()
        .next()
        .is_some_and(|l| l.contains("@generated by Poetry 1."))
}

/// The command in a compiled requirements file's header (`#    pip-compile ...` or
/// `#    uv pip compile ...`), split into words; `None` for any other file, and for a
/// command with quoting this reading would get wrong.
fn compile_command(content: &str) -> Option<Vec<String>> {
    let header = content.lines().take_while(|l| l.starts_with('#')).take(12);
    let autogenerated = content
        .lines()
        .take(6)
        .any(|l| l.contains("autogenerated by pip-compile") || l.contains("autogenerated by uv"));
    if !autogenerated {
        return None;
    }
    header
        .map(|l| l.trim_start_matches('#').trim())
        .find(|l| l.starts_with("pip-compile ") || l.starts_with("uv pip compile "))
        .filter(|l| !l.contains(['\'', '"', '\\', '$', '`']))
        .map(|l| l.split_whitespace().map(str::to_string).collect())
}

/// Options of pip-compile and `uv pip compile` whose value is the next word.
const VALUED: [&str; 10] = [
    "-o",
    "--output-file",
    "-c",
    "--constraint",
    "-b",
    "--build-constraint",
    "--override",
    "-P",
    "--upgrade-package",
    "--python-version",
];

/// The source files a compile command names: its words that are neither options nor their
/// values (nor `uv pip compile` itself).
fn sources(command: &[String]) -> impl Iterator<Item = &str> {
    let start = if command.first().is_some_and(|w| w == "uv") {
        3
    } else {
        1
    };
    let mut skip_next = false;
    command.iter().skip(start).filter_map(move |w| {
        if std::mem::take(&mut skip_next) {
            return None;
        }
        if w.starts_with('-') {
            skip_next = VALUED.contains(&w.as_str());
            return None;
        }
        Some(w.as_str())
    })
}

/// The command without `--upgrade` / `-U` / `--upgrade-package X`: refreshing the lock for
/// obs-init's packages must not move anything else.
fn without_upgrade(command: Vec<String>) -> Vec<String> {
    let mut out = Vec::with_capacity(command.len());
    let mut words = command.into_iter();
    while let Some(w) = words.next() {
        match w.as_str() {
            "-U" | "--upgrade" => {}
            "-P" | "--upgrade-package" => {
                words.next();
            }
            _ if w.starts_with("--upgrade-package=") => {}
            _ => out.push(w),
        }
    }
    out
}

/// Why a lock could not be refreshed.
#[derive(Debug)]
pub enum RefreshError {
    /// The tool is not on `PATH`.
    NotInstalled,
    /// It ran and failed (or could not be started): its last lines of output.
    Failed { status: String, output: String },
}

/// Runs the relock's command in its folder. Poetry 1.x's `--no-update` is dropped when the
/// installed Poetry is 2 or newer (which keeps pins anyway, and rejects the flag).
pub fn refresh(relock: &Relock) -> Result<(), RefreshError> {
    let mut command = relock.command.clone();
    let program = command[0].clone();
    let Some(found) = on_path(&program) else {
        return Err(RefreshError::NotInstalled);
    };
    if relock.tool == Tool::Poetry && !installed_poetry_is_1(&found) {
        command.retain(|w| w != "--no-update");
    }
    let output = Command::new(&found)
        .args(&command[1..])
        .current_dir(&relock.dir)
        // The tools must never wait for an answer, and their colours would garble the report.
        .env("NO_COLOR", "1")
        .env("POETRY_NO_INTERACTION", "1")
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| RefreshError::Failed {
            status: "could not start".into(),
            output: e.to_string(),
        })?;
    if output.status.success() {
        return Ok(());
    }
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    Err(RefreshError::Failed {
        status: output.status.to_string(),
        output: lines[lines.len().saturating_sub(8)..].join("\n"),
    })
}

fn installed_poetry_is_1(poetry: &Path) -> bool {
    Command::new(poetry)
        .arg("--version")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("version 1."))
}

/// `program` found on `PATH`, as a shell would find it.
fn on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| is_executable(p))
}

#[cfg(unix)]
fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(p: &Path) -> bool {
    p.is_file()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PIP_COMPILE: &str = "#\n# This file is autogenerated by pip-compile with Python 3.11\n\
        # by the following command:\n#\n#    pip-compile --output-file=requirements.txt \
        --upgrade requirements.in\n#\nrequests==2.32.3\n    # via -r requirements.in\n";
    const UV_COMPILE: &str = "# This file was autogenerated by uv via the following command:\n\
        #    uv pip compile requirements.in -o requirements.txt -P requests\nrequests==2.32.3\n";

    #[test]
    fn a_compiled_header_gives_the_command_without_its_upgrades() {
        assert_eq!(
            command(Tool::PipCompile, PIP_COMPILE).expect("a command"),
            [
                "pip-compile",
                "--output-file=requirements.txt",
                "requirements.in"
            ]
        );
        assert_eq!(
            command(Tool::PipCompile, UV_COMPILE).expect("a command"),
            [
                "uv",
                "pip",
                "compile",
                "requirements.in",
                "-o",
                "requirements.txt"
            ]
        );
        assert!(compile_command("requests==2\n").is_none());
        assert!(compile_command("# pip-compile requirements.in\nrequests\n").is_none());
    }

    #[test]
    fn the_sources_are_the_words_that_are_no_option_values() {
        let words = |s: &str| s.split(' ').map(str::to_string).collect::<Vec<_>>();
        let c = words("uv pip compile -o requirements.txt -c constraints.txt requirements.in");
        assert_eq!(sources(&c).collect::<Vec<_>>(), ["requirements.in"]);
        let c = words("pip-compile --output-file=req.txt pyproject.toml");
        assert_eq!(sources(&c).collect::<Vec<_>>(), ["pyproject.toml"]);
    }

    #[test]
    fn poetry_1_locks_ask_for_no_update() {
        let one = "# This file is automatically @generated by Poetry 1.8.3 and should not be \
                   changed by hand.\n";
        assert_eq!(
            command(Tool::Poetry, one).expect("a command"),
            ["poetry", "lock", "--no-update"]
        );
        let two = one.replace("1.8.3", "2.1.0");
        assert_eq!(
            command(Tool::Poetry, &two).expect("a command"),
            ["poetry", "lock"]
        );
    }

    #[test]
    fn a_lock_is_missing_the_packages_it_has_no_entry_for() {
        let lock = "[[package]]\nname = \"Requests\"\nversion = \"2\"\n\n[[package]]\n\
                    name = \"opentelemetry_sdk\"\nversion = \"1.45.0\"\n";
        let wanted = [
            "opentelemetry-sdk".to_string(),
            "requests".to_string(),
            "x".into(),
        ];
        assert_eq!(missing(Tool::Uv, lock, &wanted), ["x"]);
        assert_eq!(
            missing(Tool::PipCompile, PIP_COMPILE, &wanted),
            ["opentelemetry-sdk", "x"]
        );
    }
}
