//! Where the module goes: beside the code the container runs.

use std::path::{Path, PathBuf};

use super::target::{PythonOptions, Target};
use crate::compose::{Note, NoteKind};
use crate::contract;
use crate::frameworks::{self, Place};
use crate::paths::{absolute, display};
use crate::python::{self, Entry};

/// Where `setup_observability.py` goes: `--module-path`, else beside the entry point found
/// in the build context. `None` (with a note saying why) when that is not clear.
pub(super) fn locate_module(
    opts: &PythonOptions,
    target: &Target,
    notes: &mut Vec<Note>,
) -> Option<PathBuf> {
    let mut note = |kind: NoteKind, message: String| {
        notes.push(Note {
            service: Some(target.service.clone()),
            message,
            kind,
        })
    };
    let entry_names = frameworks::entry_points(&target.frameworks, contract::WEB_ENTRY_POINTS);
    let code_location = frameworks::any(&target.frameworks, |r| r.code_location);
    // Where Dagster is told to load the code from beats any search.
    if opts.module_path.is_none()
        && code_location
        && let Some((file, why)) = code_file(target)
    {
        note(
            NoteKind::Decided,
            format!(
                "Dagster loads its code from {} ({why}): the module goes beside it",
                display(&opts.dir, &file)
            ),
        );
        return Some(file.with_file_name(python::MODULE_FILE));
    }
    match (&opts.module_path, &target.context) {
        (Some(p), _) if p.extension().is_some_and(|e| e == "py") => Some(p.clone()),
        (Some(p), _) => Some(p.join(python::MODULE_FILE)),
        (None, None) if target.outside.is_some() => {
            note(
                NoteKind::Action,
                format!(
                    "its build context {} is outside {}, so no Python module or dependency is \
                 written there (run obs-init with --dir at the folder holding both, or pass \
                 --module-path)",
                    crate::paths::shown(target.outside.as_deref().unwrap_or(Path::new(""))),
                    crate::paths::shown(&opts.dir)
                ),
            );
            None
        }
        (None, None) => {
            note(
                NoteKind::Action,
                "no build context, so no Python module was written (pass --module-path \
                  if this is a Python app)"
                    .into(),
            );
            None
        }
        // A worker with no entry point of its own: `celery -A` names its app's module.
        (None, Some(ctx))
            if frameworks::web_app(&target.frameworks).is_none()
                && let Some(Place::AppModule {
                    launcher,
                    flags,
                    package_file,
                    ..
                }) = frameworks::app_module_hook(&target.frameworks).map(|h| h.place)
                && matches!(python::find_entry(ctx, entry_names), Entry::None)
                && let Some(app) = python::app_file(ctx, &target.commands, flags, package_file) =>
        {
            note(
                NoteKind::Decided,
                format!(
                    "{launcher} loads the app from {}: the module goes beside it",
                    display(&opts.dir, &app)
                ),
            );
            Some(app.with_file_name(python::MODULE_FILE))
        }
        // A web app: the file its server imports the app from (`uvicorn shop.api:app` with
        // `PYTHONPATH=/srv/src`), where the names searched for would find another or none.
        (None, Some(ctx))
            if frameworks::web_app(&target.frameworks).is_some()
                && let Some((served, command)) = served_file(target, ctx)
                && !matches!(
                    python::find_entry(ctx, entry_names),
                    Entry::Found(ref e) if absolute(e).parent() == absolute(&served).parent()
                ) =>
        {
            note(
                NoteKind::Decided,
                format!(
                    "the container serves `{command}`: the module goes beside {}",
                    display(&opts.dir, &served)
                ),
            );
            Some(served.with_file_name(python::MODULE_FILE))
        }
        // A plain Python service: the script its container runs (`python email_server.py`).
        (None, Some(ctx))
            if frameworks::web_app(&target.frameworks).is_none()
                && !code_location
                && matches!(python::find_entry(ctx, entry_names), Entry::None)
                && let Some((script, command)) = script_run(target, ctx) =>
        {
            note(
                NoteKind::Decided,
                format!(
                    "the container runs `{command}`: the module goes beside {}",
                    display(&opts.dir, &script)
                ),
            );
            Some(script.with_file_name(python::MODULE_FILE))
        }
        (None, Some(ctx)) => match python::find_entry(ctx, entry_names) {
            // A code location's definitions may live in any file: look for what defines them.
            Entry::None if code_location => match python::find_dagster_definitions(ctx) {
                Entry::Found(definitions) => {
                    note(
                        NoteKind::Decided,
                        format!(
                            "Dagster's definitions are in {}: the module goes beside them",
                            display(&opts.dir, &definitions)
                        ),
                    );
                    Some(definitions.with_file_name(python::MODULE_FILE))
                }
                Entry::Ambiguous(found) => {
                    let list: Vec<String> = found.iter().map(|p| display(&opts.dir, p)).collect();
                    note(
                        NoteKind::Action,
                        format!(
                            "Dagster definitions in several folders ({}); {}",
                            list.join(", "),
                            opts.module_path_help("say where setup_observability.py goes")
                        ),
                    );
                    None
                }
                Entry::None => {
                    note(
                        NoteKind::Action,
                        format!(
                            "no Dagster definitions (Definitions, @repository, @job, @asset) \
                             in {}: no Python module written ({})",
                            display(&opts.dir, ctx),
                            opts.module_path_help("add one")
                        ),
                    );
                    None
                }
            },
            Entry::Found(entry) => Some(entry.with_file_name(python::MODULE_FILE)),
            Entry::Ambiguous(found) => {
                let list: Vec<String> = found.iter().map(|p| display(&opts.dir, p)).collect();
                note(
                    NoteKind::Action,
                    format!(
                        "several entry points ({}); {}",
                        list.join(", "),
                        opts.module_path_help("say where setup_observability.py goes")
                    ),
                );
                None
            }
            // No entry point by name: the one file that builds the web app (a factory, an
            // app a launcher script imports).
            Entry::None
                if let Some(web) = frameworks::web_app(&target.frameworks)
                    && let Entry::Found(builder) = python::find_app_builder(ctx, web) =>
            {
                note(
                    NoteKind::Decided,
                    format!(
                        "{} builds the app (`{}(...)`): the module goes beside it",
                        display(&opts.dir, &builder),
                        web.constructors[0]
                    ),
                );
                Some(builder.with_file_name(python::MODULE_FILE))
            }
            Entry::None => {
                note(
                    NoteKind::Action,
                    format!(
                        "no {} in {}: no Python module written ({})",
                        entry_names.join(" or "),
                        display(&opts.dir, ctx),
                        opts.module_path_help("add one")
                    ),
                );
                None
            }
        },
    }
}

/// The script the container runs with `python [flags] SCRIPT.py` (its command, else its
/// image's), found in the build context through the image's WORKDIR and COPY lines, with
/// the command that runs it.
pub(super) fn script_run(target: &Target, ctx: &Path) -> Option<(PathBuf, String)> {
    let stage = target.image.as_ref().map(|(_, s)| s);
    for command in target.run_commands() {
        // A shell line's words keep its quotes and separators (`sh -c " python3 x.py; exit 0"`).
        let words: Vec<&str> = command
            .split_whitespace()
            .map(|w| w.trim_matches(|c| matches!(c, '"' | '\'' | ';' | '&' | '|')))
            .filter(|w| !w.is_empty())
            .collect();
        let python = words.iter().position(|w| {
            let name = w.rsplit('/').next().unwrap_or(w);
            name == "python" || name.starts_with("python3")
        });
        let Some(script) = python.and_then(|i| {
            words[i + 1..]
                .iter()
                .find(|w| !w.starts_with('-'))
                .filter(|w| w.ends_with(".py"))
        }) else {
            continue;
        };
        let inside = if script.starts_with('/') {
            script.to_string()
        } else {
            let workdir = stage.map_or("/", |s| s.workdir.as_str());
            format!("{}/{script}", workdir.trim_end_matches('/'))
        };
        let from_copy = stage
            .and_then(|s| s.host_file(&inside, |p| ctx.join(p).is_dir()))
            .map(|rel| ctx.join(rel));
        let found = from_copy
            .into_iter()
            .chain(std::iter::once(ctx.join(script.trim_start_matches("./"))))
            .find(|p| p.is_file());
        if let Some(file) = found {
            return Some((file, command.clone()));
        }
    }
    None
}

/// The file Dagster loads the service's code location from, and what says so: the
/// command's `-m`/`-f`/`--package-name` (compose's, else the image's), else the build
/// context's `workspace.yaml`, else `[tool.dagster]` in its `pyproject.toml`.
pub fn code_file(target: &Target) -> Option<(PathBuf, String)> {
    let context = target.context.as_deref()?;
    for command in &target.run_commands() {
        let words: Vec<&str> = command.split_whitespace().collect();
        let working = flag_value(&words, &["-d", "--working-directory"]);
        let base = working.map_or(context.to_path_buf(), |w| context.join(w));
        let found = flag_value(&words, &["-f", "--python-file"])
            .map(|f| base.join(f))
            .filter(|p| p.is_file())
            .or_else(|| {
                flag_value(&words, &["-m", "--module-name", "--package-name"])
                    .and_then(|m| module_file(&base, m))
            });
        if let Some(file) = found {
            return Some((file, format!("its command `{command}` names it")));
        }
    }
    let workspace = context.join("workspace.yaml");
    if let Some(file) = std::fs::read_to_string(&workspace)
        .ok()
        .and_then(|text| workspace_file(context, &text))
    {
        return Some((file, "workspace.yaml names it".into()));
    }
    let pyproject = std::fs::read_to_string(context.join("pyproject.toml")).ok()?;
    let doc: toml_edit::DocumentMut = pyproject.parse().ok()?;
    let module = doc
        .get("tool")?
        .get("dagster")?
        .get("module_name")?
        .as_str()?;
    let file = module_file(context, module)?;
    Some((file, "pyproject.toml's [tool.dagster] names it".into()))
}

/// The word after the first of `flags` (`-m x`, `--module-name=x`).
fn flag_value<'a>(words: &[&'a str], flags: &[&str]) -> Option<&'a str> {
    words.iter().enumerate().find_map(|(i, w)| {
        if flags.contains(w) {
            return words.get(i + 1).copied();
        }
        let (flag, value) = w.split_once('=')?;
        flags.contains(&flag).then_some(value)
    })
}

/// The file of the dotted module `module` below `base`: `a/b.py` or `a/b/__init__.py`.
fn module_file(base: &Path, module: &str) -> Option<PathBuf> {
    let path = base.join(module.replace('.', "/"));
    [path.with_extension("py"), path.join("__init__.py")]
        .into_iter()
        .find(|p| p.is_file())
}

/// The first code location a `workspace.yaml` loads from a file or module in `context`.
fn workspace_file(context: &Path, text: &str) -> Option<PathBuf> {
    let (_, doc) = crate::yaml::parse(text).ok()?;
    let root = doc.root.as_ref()?;
    let resolve = |n| doc.resolve(n);
    for entry in resolve(root.get("load_from")?).items()? {
        let entry = resolve(entry);
        for (key, is_file) in [
            ("python_file", true),
            ("python_module", false),
            ("python_package", false),
        ] {
            let Some(target) = entry.get(key).map(resolve) else {
                continue;
            };
            let field = |k| target.get(k).map(resolve).and_then(|n| n.as_str());
            let name = target.as_str().or_else(|| {
                field(if is_file {
                    "relative_path"
                } else if key == "python_module" {
                    "module_name"
                } else {
                    "package_name"
                })
            })?;
            // A file is relative to the workspace file; a module imports from the working
            // directory, which defaults to the workspace file's folder.
            let found = if is_file {
                Some(context.join(name)).filter(|p| p.is_file())
            } else {
                let base =
                    field("working_directory").map_or(context.to_path_buf(), |w| context.join(w));
                module_file(&base, name)
            };
            if found.is_some() {
                return found;
            }
        }
    }
    None
}

/// The servers that import an app given as `module:attr` (or gunicorn's `module:factory()`).
const SERVERS: [&str; 5] = ["uvicorn", "gunicorn", "hypercorn", "daphne", "granian"];

/// The file the container's server imports the app from, with the command that says so:
/// `uvicorn|gunicorn|hypercorn|daphne|granian ... module:attr` (also through `python -m`),
/// uWSGI's `module`/`wsgi-file` (given on its command line or in its `--ini` file),
/// `fastapi run|dev PATH`, `flask run` with `FLASK_APP`. The module is looked for where the
/// container's Python imports from (the `WORKDIR`, `--chdir`/`--app-dir`, `PYTHONPATH` from
/// the image and the service) and traced back to the build context through the bind mounts
/// and the Dockerfile's `COPY`.
pub fn served_file(target: &Target, ctx: &Path) -> Option<(PathBuf, String)> {
    let stage = target.image_stage().map(|(_, s)| s);
    let workdir = stage.map_or("/", |s| s.workdir.as_str()).to_string();
    let pythonpath: Vec<String> = target
        .env("PYTHONPATH")
        .or_else(|| stage.and_then(|s| s.env("PYTHONPATH")))
        .map(|p| {
            p.split(':')
                .filter(|d| !d.is_empty())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    // uWSGI names its app by options, on the command line or in its ini file.
    let uwsgi = super::uwsgi::read(target, ctx);
    let uwsgi_app = uwsgi
        .as_ref()
        .and_then(|u| Some((u.command.clone(), u.app_paths()?)));
    for command in target.run_commands() {
        let words: Vec<&str> = command.split_whitespace().collect();
        let paths = match &uwsgi_app {
            Some((c, paths)) if *c == command => Some(paths.clone()),
            _ => app_paths(target, &words),
        };
        let Some((candidates, roots)) = paths else {
            continue;
        };
        let mut dirs: Vec<String> = roots
            .iter()
            .map(|r| crate::dockerfile::join(&workdir, r))
            .collect();
        dirs.push(workdir.clone());
        dirs.extend(
            pythonpath
                .iter()
                .map(|p| crate::dockerfile::join(&workdir, p)),
        );
        for dir in &dirs {
            for rel in &candidates {
                if let Some(file) = host_path(target, ctx, &crate::dockerfile::join(dir, rel)) {
                    return Some((file, command.clone()));
                }
            }
        }
        // No image to trace through: the context as the container's root folder.
        for rel in &candidates {
            for base in [ctx.to_path_buf(), ctx.join("src")] {
                let file = base.join(rel);
                if file.is_file() {
                    return Some((file, command.clone()));
                }
            }
        }
    }
    None
}

/// The files (relative to an import root) the command's app may be in, and the folders it
/// adds to the import roots (`--chdir`, `--app-dir`).
fn app_paths(target: &Target, words: &[&str]) -> Option<(Vec<String>, Vec<String>)> {
    let name = |w: &str| w.rsplit('/').next().unwrap_or(w).to_string();
    let server = words
        .iter()
        .position(|w| SERVERS.contains(&name(w).as_str()));
    if let Some(at) = server {
        let mut roots = Vec::new();
        let mut app = None;
        let mut i = at + 1;
        while i < words.len() {
            // A compose command string keeps the shell's quotes (`"web.factory:build()"`).
            let w = words[i].trim_matches(['"', '\'']);
            if matches!(w, "--chdir" | "--app-dir" | "--root-path") {
                if w != "--root-path"
                    && let Some(d) = words.get(i + 1)
                {
                    roots.push(d.to_string());
                }
                i += 2;
                continue;
            }
            if let Some(d) = w
                .strip_prefix("--chdir=")
                .or_else(|| w.strip_prefix("--app-dir="))
            {
                roots.push(d.to_string());
            } else if app.is_none() && is_app_reference(w) {
                app = Some(w);
            }
            i += 1;
        }
        let module = app?.split(':').next()?;
        return Some((module_files(module), roots));
    }
    // `fastapi run|dev PATH`: a file, or a package whose main/app/api module holds the app.
    if let Some(at) = words
        .windows(2)
        .position(|w| name(w[0]) == "fastapi" && matches!(w[1], "run" | "dev"))
    {
        let path = words[at + 2..]
            .iter()
            .find(|w| !w.starts_with('-'))
            .map_or("", |w| w.trim_end_matches('/'));
        let files = if path.ends_with(".py") {
            vec![path.to_string()]
        } else {
            let base = if path.is_empty() {
                String::new()
            } else {
                format!("{path}/")
            };
            ["main.py", "app.py", "api.py", "__init__.py"]
                .iter()
                .map(|f| format!("{base}{f}"))
                .collect()
        };
        return Some((files, Vec::new()));
    }
    // `flask run`: FLASK_APP names a file or a module, and maybe the app or its factory.
    if words
        .windows(2)
        .any(|w| name(w[0]) == "flask" && w[1] == "run")
        && let Some(app) = target
            .env("FLASK_APP")
            .or_else(|| target.image_stage().and_then(|(_, s)| s.env("FLASK_APP")))
    {
        let module = app.split(':').next().unwrap_or(app);
        let files = if module.ends_with(".py") {
            vec![module.to_string()]
        } else {
            module_files(module)
        };
        return Some((files, Vec::new()));
    }
    None
}

/// Whether `word` reads `module:attr` (or `module:factory()`): a dotted name of identifiers,
/// not `0.0.0.0:8080`.
fn is_app_reference(word: &str) -> bool {
    let ident = |s: &str| {
        s.chars()
            .next()
            .is_some_and(|c| c.is_alphabetic() || c == '_')
            && s.chars().all(|c| c.is_alphanumeric() || c == '_')
    };
    match word.split_once(':') {
        Some((module, attr)) => {
            module.split('.').all(ident) && ident(attr.split('(').next().unwrap_or(attr))
        }
        None => false,
    }
}

/// The files a dotted module may be: `a/b.py`, `a/b/__init__.py`.
fn module_files(module: &str) -> Vec<String> {
    let path = module.replace('.', "/");
    vec![format!("{path}.py"), format!("{path}/__init__.py")]
}

/// The host file behind the container path `path`: a bind mount's, else the one the
/// Dockerfile copies there, when it exists.
fn host_path(target: &Target, ctx: &Path, path: &str) -> Option<PathBuf> {
    let (context, stage) = target.image_stage()?;
    let rel = stage.host_file(path, |p| context.join(p).is_dir())?;
    Some(ctx.join(rel)).filter(|p| p.is_file())
}
