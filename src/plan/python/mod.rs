//! The Python side of a target, whatever deploys it (a compose service, a Kubernetes
//! workload): where `setup_observability.py` goes, the module and how the app calls it, and
//! the dependency lines on the image's Python. It reads only what it is given here: the
//! project directory, `--module-path` and the entry-edit choice.

mod deps;
mod locate;
mod module;

use std::path::{Path, PathBuf};

use crate::compose::{Note, NoteKind};
use crate::deps as lines;
use crate::error::Error;
use crate::frameworks::{self, Framework};
use crate::interpreter;
use crate::paths::absolute;
use crate::plan::Plan;

pub use locate::code_file;

/// What the Python side reads of the command line.
#[derive(Debug, Clone)]
pub struct PythonOptions {
    /// The project directory: nothing outside it is written.
    pub dir: PathBuf,
    /// Where `setup_observability.py` goes (a file, or a directory to put it in); found from
    /// the target's build context when unset.
    pub module_path: Option<PathBuf>,
    /// Insert the setup lines into the entry point rather than print them.
    pub edit_entrypoint: bool,
}

/// What the deployment says of a target's container, before its image is read.
#[derive(Debug, Clone, Default)]
pub struct Container {
    /// The image it names (`image:`), when it does.
    pub image: Option<String>,
    /// `build.dockerfile`, relative to the build context.
    pub dockerfile: Option<String>,
    /// Its entrypoint and command, each on one line.
    pub commands: Vec<String>,
    /// Its bind mounts: host path as written (relative to the compose file), container path.
    pub binds: Vec<(String, String)>,
    /// Its environment entries that have a value.
    pub environment: Vec<(String, String)>,
}

/// The build context (absolute) and the final stage of its Dockerfile (`dockerfile`,
/// relative to the context, else `Dockerfile`), read once for a target.
pub fn read_image(
    context: &Path,
    dockerfile: Option<&str>,
) -> Option<(PathBuf, crate::dockerfile::Stage)> {
    let context = absolute(context);
    let text = std::fs::read_to_string(context.join(dockerfile.unwrap_or("Dockerfile"))).ok()?;
    Some((context, crate::dockerfile::final_stage(&text)))
}

/// One service to onboard, with what planning learnt of it.
pub struct Target {
    pub service: String,
    /// Its build context on disk, when inside the project directory.
    pub context: Option<PathBuf>,
    /// Its build context, when outside the project directory.
    pub outside: Option<PathBuf>,
    pub frameworks: Vec<Framework>,
    /// The port the app listens on, when known.
    pub app_port: Option<u16>,
    /// The Python its image runs, when its build context says.
    pub python: Option<interpreter::Found>,
    /// `build.dockerfile`, relative to the build context.
    pub dockerfile: Option<String>,
    /// The build context (absolute) and the final stage of its Dockerfile, read once.
    pub image: Option<(PathBuf, crate::dockerfile::Stage)>,
    /// Its entrypoint and command, each on one line.
    pub commands: Vec<String>,
    /// Its bind mounts: host path as written (relative to the compose file), container path.
    pub binds: Vec<(String, String)>,
    /// Its compose `environment` entries that have a value.
    pub environment: Vec<(String, String)>,
}

impl Target {
    /// The one way a target is made: the build context's image is read here, once, with
    /// the Python it runs.
    pub fn new(
        service: String,
        context: Option<PathBuf>,
        outside: Option<PathBuf>,
        frameworks: Vec<Framework>,
        app_port: Option<u16>,
        container: Container,
    ) -> Target {
        let python = context.as_deref().and_then(|c| {
            interpreter::detect(
                c,
                container.dockerfile.as_deref(),
                container.image.as_deref(),
            )
        });
        let image = context
            .as_deref()
            .and_then(|c| read_image(c, container.dockerfile.as_deref()));
        Target {
            service,
            context,
            outside,
            frameworks,
            app_port,
            python,
            image,
            dockerfile: container.dockerfile,
            commands: container.commands,
            binds: container.binds,
            environment: container.environment,
        }
    }

    /// The final stage of its image, when its Dockerfile is in its build context.
    pub fn image_stage(&self) -> Option<(&Path, &crate::dockerfile::Stage)> {
        self.image.as_ref().map(|(c, s)| (c.as_path(), s))
    }

    /// What its container runs: the deployment's command, else its image's.
    pub fn run_commands(&self) -> Vec<String> {
        if self.commands.is_empty() {
            self.image_stage()
                .map(|(_, s)| s.commands.clone())
                .unwrap_or_default()
        } else {
            self.commands.clone()
        }
    }

    /// The value its compose `environment` gives `name`.
    pub fn env(&self, name: &str) -> Option<&str> {
        self.environment
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

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

/// The Python side of one service: the module next to its code, and its dependencies.
/// Returns where the module goes, when it does.
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
    let wanted = match &module_path {
        Some(path) => {
            module::plan_module(opts, target, path, plan)?;
            deps::wanted_for(line, &target.frameworks)
        }
        // MLflow exports its own traces; it only lacks the gRPC exporter package.
        None if frameworks::any(&target.frameworks, |r| r.exports_itself) => vec![line.exporter],
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
