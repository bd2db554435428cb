//! What the Python side is given: the options it reads, and the target with what its
//! deployment and its image say of the container.

use std::path::{Path, PathBuf};

use crate::frameworks::Framework;
use crate::interpreter;
use crate::paths::absolute;

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
    /// Whether the command takes `--module-path` (compose onboarding does, `obs-init
    /// kubernetes` does not): what the notes tell the user to do where none is found.
    pub module_path_flag: bool,
    /// `--mlflow-otlp`: MLflow before 3.4 (no dual export) sends its traces over OTLP,
    /// instead of to the MLflow server.
    pub mlflow_otlp: bool,
}

impl PythonOptions {
    /// How the user says where the module goes, for a note that found no place for it.
    pub fn module_path_help(&self, what: &str) -> String {
        if self.module_path_flag {
            format!("pass --module-path to {what}")
        } else {
            "write setup_observability.py (obs-init's template) beside the file the container \
             runs and call it there"
                .to_string()
        }
    }
}

/// What the deployment says of a target's container, before its image is read.
#[derive(Debug, Clone, Default)]
pub struct Container {
    /// The image it names (`image:`), when it does.
    pub image: Option<String>,
    /// `build.dockerfile`, relative to the build context.
    pub dockerfile: Option<String>,
    /// `build.target`: the stage built, when not the Dockerfile's last.
    pub target: Option<String>,
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
    target: Option<&str>,
) -> Option<(PathBuf, crate::dockerfile::Stage)> {
    let context = absolute(context);
    let text = std::fs::read_to_string(context.join(dockerfile.unwrap_or("Dockerfile"))).ok()?;
    Some((context, crate::dockerfile::stage(&text, target)))
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
                container.target.as_deref(),
                container.image.as_deref(),
            )
        });
        let image = context.as_deref().and_then(|c| {
            read_image(
                c,
                container.dockerfile.as_deref(),
                container.target.as_deref(),
            )
        });
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

    /// What its container runs: the deployment's command, else its image's, each followed
    /// by the lines of the start script it runs (`./start.sh`, `sh /app/entrypoint.sh`),
    /// found in the build context through the image's WORKDIR and COPY lines.
    pub fn run_commands(&self) -> Vec<String> {
        let commands = if self.commands.is_empty() {
            self.image_stage()
                .map(|(_, s)| s.commands.clone())
                .unwrap_or_default()
        } else {
            self.commands.clone()
        };
        let mut out = Vec::with_capacity(commands.len());
        for command in commands {
            let script = self.start_script(&command);
            out.push(command);
            out.extend(script);
        }
        out
    }

    /// The commands of the shell script `command` runs, when it names one of the build
    /// context's: its lines but comments and blank ones.
    fn start_script(&self, command: &str) -> Vec<String> {
        let Some(ctx) = self.context.as_deref() else {
            return Vec::new();
        };
        let stage = self.image_stage().map(|(_, s)| s);
        let script = command
            .split_whitespace()
            .map(|w| w.trim_matches(|c| matches!(c, '"' | '\'' | ';' | '&' | '|')))
            .find(|w| w.ends_with(".sh"));
        let Some(script) = script else {
            return Vec::new();
        };
        let inside = if script.starts_with('/') {
            script.to_string()
        } else {
            let workdir = stage.map_or("/", |s| s.workdir.as_str());
            crate::dockerfile::join(workdir, script.trim_start_matches("./"))
        };
        let found = stage
            .and_then(|s| s.host_file(&inside, |p| ctx.join(p).is_dir()))
            .map(|rel| ctx.join(rel))
            .into_iter()
            .chain(std::iter::once(ctx.join(script.trim_start_matches("./"))))
            .find(|p| p.is_file());
        let Some(text) = found.and_then(|p| std::fs::read_to_string(p).ok()) else {
            return Vec::new();
        };
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(String::from)
            .collect()
    }

    /// The value its compose `environment` gives `name`.
    pub fn env(&self, name: &str) -> Option<&str> {
        self.environment
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

impl Target {
    /// The `COPY` the image lacks for the module at `module_path`, when its Dockerfile copies
    /// files from the module's folder one by one and not the module: an import of it would
    /// fail in the container. `None` when the image has it, or its Dockerfile does not say.
    pub fn module_copy_missing(&self, module_path: &Path) -> Option<String> {
        let (context, stage) = self.image_stage()?;
        let folder = absolute(module_path.parent()?);
        let rel = folder.strip_prefix(context).ok()?;
        let is_dir = |p: &Path| context.join(p).is_dir();
        if stage.container_dir(rel, is_dir).is_some() {
            return None;
        }
        let (dest, _) = stage.file_copied_from(rel, is_dir)?;
        let name = module_path.file_name()?.to_string_lossy().into_owned();
        let source = if rel.as_os_str().is_empty() {
            name.clone()
        } else {
            format!("{}/{name}", rel.to_string_lossy().replace('\\', "/"))
        };
        let inside = format!("{}/{name}", dest.trim_end_matches('/'));
        if stage.host_file(&inside, is_dir).as_deref() == Some(source.as_str()) {
            return None;
        }
        Some(format!("COPY {source} {}/", dest.trim_end_matches('/')))
    }
}
