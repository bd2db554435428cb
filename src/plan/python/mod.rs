//! The Python side of a target, whatever deploys it (a compose service, a Kubernetes
//! workload): where `setup_observability.py` goes, the module and how the app calls it, and
//! the dependency lines on the image's Python. It reads only what it is given here: the
//! project directory, `--module-path` and the entry-edit choice.

mod deps;
mod locate;
mod module;
mod target;
mod uwsgi;

use std::path::{Path, PathBuf};

use crate::compose::{Note, NoteKind};
use crate::deps as lines;
use crate::error::Error;
use crate::frameworks;
use crate::plan::Plan;

pub use deps::{MlflowExport, mlflow_export};
pub use locate::code_file;
pub use target::{Container, PythonOptions, Target, read_image};

/// The Python side of a target planned on its own (a Kubernetes workload): where its module
/// goes, then the module and the dependencies.
pub fn plan(opts: &PythonOptions, target: &Target, plan: &mut Plan) -> Result<(), Error> {
    let (module, notes) = locate(opts, target);
    plan_python(opts, target, module, notes, plan)
}

/// Where the target's module goes, when it gets one, with the notes saying how that was
/// decided (or why it gets none).
pub fn locate(opts: &PythonOptions, target: &Target) -> (Option<PathBuf>, Vec<Note>) {
    let mut notes = Vec::new();
    let module = wants_module(opts, target)
        .then(|| locate::locate_module(opts, target, &mut notes))
        .flatten();
    (module, notes)
}

/// The Python side of one service, its module's place already decided (`module_path`,
/// `None`: it gets none): the module next to its code, and its dependencies.
pub fn plan_python(
    opts: &PythonOptions,
    target: &Target,
    module_path: Option<PathBuf>,
    module_notes: Vec<Note>,
    plan: &mut Plan,
) -> Result<(), Error> {
    if !wants_module(opts, target) {
        plan.notes.push(Note {
            service: Some(target.service.clone()),
            message: "no Python code found: no module or dependency edits".into(),
            kind: NoteKind::Info,
        });
        return Ok(());
    }
    let line = python_line(target, &mut plan.notes)?;
    plan.notes.extend(module_notes);
    for reloader in frameworks::rows(&target.frameworks).filter_map(|r| r.reloader) {
        if let Some(message) = reloader_runs(target, &reloader) {
            plan.notes.push(Note {
                service: Some(target.service.clone()),
                message,
                kind: NoteKind::Action,
            });
        }
    }
    // uWSGI may keep the app's export threads from running while it serves.
    if frameworks::web_app(&target.frameworks).is_some()
        && let Some(ctx) = target.context.as_deref()
        && let Some(server) = uwsgi::read(target, ctx)
        && let Some(message) = uwsgi::threads_action(target, &server, ctx, &opts.dir)
    {
        plan.notes.push(Note {
            service: Some(target.service.clone()),
            message,
            kind: NoteKind::Action,
        });
    }
    // MLflow exports its own traces where its release does over OTLP, and is asked to.
    let mlflow = frameworks::any(&target.frameworks, |r| r.exports_itself)
        .then(|| deps::mlflow_export(opts, target));
    if let Some(export) = &mlflow {
        plan.notes.push(Note {
            service: Some(target.service.clone()),
            message: export.note.1.clone(),
            kind: export.note.0,
        });
    }
    let wanted = match &module_path {
        Some(path) => {
            module::plan_module(opts, target, path, plan)?;
            deps::wanted_for(line, &target.frameworks)
        }
        // It only lacks the gRPC exporter package.
        None if mlflow.as_ref().is_some_and(|m| m.exports) => vec![line.exporter],
        None => Vec::new(),
    };
    if !wanted.is_empty() {
        let module_dir = module_path.as_deref().and_then(Path::parent);
        deps::plan_deps(opts, target, module_dir, line, &wanted, plan)?;
    }
    Ok(())
}

/// The note for the reloader the container runs, if it runs one: found in what it runs (the
/// compose command, else the image's CMD and ENTRYPOINT, and the start script either runs),
/// or in the script it runs with `python` (`app.run(debug=True)`).
fn reloader_runs(target: &Target, reloader: &frameworks::Reloader) -> Option<String> {
    let commands = target.run_commands();
    let stage = target.image_stage().map(|(_, s)| s);
    let env_on = |name: &str, values: &[&str]| {
        let set = target.env(name).or_else(|| stage.and_then(|s| s.env(name)));
        set.is_some_and(|v| values.contains(&v))
            || commands.iter().any(|c| {
                c.split_whitespace()
                    .any(|w| values.iter().any(|v| w == format!("{name}={v}")))
            })
    };
    let debug_env = reloader
        .on_env
        .iter()
        .find(|(n, v)| env_on(n, v))
        .map(|(n, _)| *n);
    for command in &commands {
        let words: Vec<&str> = command
            .split_whitespace()
            .map(|w| w.trim_matches(|c| matches!(c, '"' | '\'' | ';' | '&' | '|')))
            .collect();
        let name = |w: &str| w.rsplit('/').next().unwrap_or(w).to_string();
        if !reloader
            .runs
            .iter()
            .all(|r| words.iter().any(|w| name(w) == *r))
        {
            continue;
        }
        if words.contains(&reloader.off) {
            return None;
        }
        let by_flag =
            reloader.on_flags.is_empty() || words.iter().any(|w| reloader.on_flags.contains(w));
        let with = match debug_env {
            Some(var) if !by_flag => format!(" with {var} set"),
            _ => String::new(),
        };
        if by_flag || debug_env.is_some() {
            return Some(format!(
                "the container runs `{command}`{with}: {}; add {} to the command (or serve \
                 with gunicorn)",
                reloader.note, reloader.off
            ));
        }
    }
    let (call, on, off) = reloader.call?;
    let (script, command) = locate::script_run(target, target.context.as_deref()?)?;
    let text = std::fs::read_to_string(&script).ok()?;
    text.match_indices(call).find_map(|(at, _)| {
        // The call's arguments, up to its closing parenthesis.
        let rest = &text[at + call.len()..];
        let mut depth = 0usize;
        let end = rest
            .char_indices()
            .find(|&(_, c)| match c {
                '(' => {
                    depth += 1;
                    false
                }
                ')' if depth == 0 => true,
                ')' => {
                    depth -= 1;
                    false
                }
                _ => false,
            })
            .map_or(rest.len(), |(i, _)| i);
        let args = &rest[..end];
        (on.iter().any(|o| args.contains(o)) && !args.contains(off)).then(|| {
            format!(
                "the container runs `{command}`, whose `{}{args})` turns the reloader on: {}; \
                 pass {off} to that call",
                call.trim_start_matches('.'),
                reloader.note
            )
        })
    })
}

/// Whether the service gets the Python side: it runs Python obs-init knows, or
/// `--module-path` says where the module goes.
fn wants_module(opts: &PythonOptions, target: &Target) -> bool {
    !target.frameworks.is_empty() || opts.module_path.is_some()
}

/// The OpenTelemetry line that installs on the service's Python; an older line is noted,
/// a Python no line supports refused.
fn python_line(target: &Target, notes: &mut Vec<Note>) -> Result<&'static lines::Line, Error> {
    let version = target.python.as_ref().map(|f| f.version);
    let Some(line) = lines::line_for(version) else {
        let found = target
            .python
            .clone()
            .expect("only a known Python has no line");
        return Err(Error::UnsupportedPython {
            service: target.service.clone(),
            version: found.version,
            source_: found.source,
        });
    };
    if let Some(found) = target.python.as_ref().filter(|_| *line != lines::LINES[0]) {
        notes.push(Note {
            service: Some(target.service.clone()),
            message: format!(
                "Python {} ({}): OpenTelemetry SDK {} is the newest release for it, so the \
                 dependencies ask for what installs there",
                found.version, found.source, line.newest_sdk
            ),
            kind: NoteKind::Info,
        });
    }
    Ok(line)
}
