//! The Python side of a target, whatever deploys it (a compose service, a Kubernetes
//! workload): where `setup_observability.py` goes, the module and how the app calls it, and
//! the dependency lines on the image's Python. It reads only what it is given here: the
//! project directory, `--module-path` and the entry-edit choice.

mod deps;
mod locate;
mod module;
mod target;

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
        if target
            .commands
            .iter()
            .any(|c| c.contains(reloader.runs) && !c.contains(reloader.off))
        {
            plan.notes.push(Note {
                service: Some(target.service.clone()),
                message: reloader.note.into(),
                kind: NoteKind::Action,
            });
        }
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
