//! Dagster's side of the plan: the instance file a container reads gets the log handler,
//! and every container that runs steps can import the module that handler names.
//!
//! Dagster resolves `python_logs` handlers in each step process before it loads the code
//! location (`create_context_free_log_manager` in the multiprocess executor), and the code
//! location's working directory is on `sys.path` only while its code is imported. So the
//! handler's module must be importable from `sys.path` alone: where the image does not say
//! so already, the services running Dagster get `PYTHONPATH` naming the folder the module's
//! dotted path starts from, as the container sees it.

use std::path::{Path, PathBuf};

use super::python::Target;
use super::{FileChange, Options, Plan, Status};
use crate::compose::{self, Note, NoteKind};
use crate::contract;
use crate::dagster::{configure, configure_launcher};
use crate::detect;
use crate::error::Error;
use crate::files::read_optional;
use crate::frameworks;
use crate::paths::{absolute, display};
use crate::python;

/// How the Dagster containers import the handler's module.
#[derive(Debug, Default)]
pub(super) struct HandlerImport {
    /// `PYTHONPATH` to set, by service.
    pub env: Vec<(String, (String, String))>,
    /// The variable the runs a `DockerRunLauncher` starts need (they run the code's image).
    pub run_env: Option<(String, String)>,
    /// Why some container that runs steps could not import it: then dagster.yaml is left
    /// alone, since a handler that does not import fails every run.
    pub refused: Option<String>,
}

/// Whether a Dagster service runs steps: it serves a code location or executes jobs.
/// The webserver and the daemon only read the instance.
fn runs_steps(target: &Target) -> bool {
    const RUNNERS: [&str; 5] = [
        "code-server",
        "api grpc",
        "job execute",
        "dagster dev",
        "asset materialize",
    ];
    target
        .run_commands()
        .iter()
        .any(|c| RUNNERS.iter().any(|r| c.contains(r)))
}

/// Where the host folder `dir` is inside the service's container: through a bind mount,
/// else the Dockerfile's `COPY`.
fn container_dir(compose_dir: &Path, target: &Target, dir: &Path) -> Option<String> {
    let dir = absolute(dir);
    for (host, inside) in target.binds.iter().rev() {
        let host = absolute(&compose_dir.join(host));
        if let Ok(rest) = dir.strip_prefix(&host) {
            return Some(join_posix(inside, rest));
        }
    }
    let (context, stage) = target.image_stage()?;
    let rel = dir.strip_prefix(context).ok()?;
    stage.container_dir(rel, |p| context.join(p).is_dir())
}

/// The host file behind the container file `path`: a bind mount's, else the one the
/// Dockerfile copies there.
fn host_file(compose_dir: &Path, target: &Target, path: &str) -> Option<PathBuf> {
    for (host, inside) in target.binds.iter().rev() {
        let inside = inside.trim_end_matches('/');
        let rest = if path == inside {
            Some("")
        } else {
            path.strip_prefix(inside).and_then(|r| r.strip_prefix('/'))
        };
        if let Some(rest) = rest {
            let host = compose_dir.join(host);
            return Some(if rest.is_empty() {
                host
            } else {
                host.join(rest)
            });
        }
    }
    let (context, stage) = target.image_stage()?;
    stage
        .host_file(path, |p| context.join(p).is_dir())
        .map(|rel| context.join(rel))
}

/// The instance file the Dagster containers read: `$DAGSTER_HOME/dagster.yaml` (from the
/// service's environment, else its image's), traced back to the project. `None` when no
/// service says, or they name different files.
pub(super) fn instance_file(compose_dir: &Path, targets: &[Target]) -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = Vec::new();
    for target in targets
        .iter()
        .filter(|t| frameworks::any(&t.frameworks, |r| r.code_location))
    {
        let home = match target.env("DAGSTER_HOME") {
            Some(home) => home.to_string(),
            None => match target
                .image_stage()
                .and_then(|(_, s)| s.env("DAGSTER_HOME").map(String::from))
            {
                Some(home) => home,
                None => continue,
            },
        };
        if home.contains('$') || !home.starts_with('/') {
            continue;
        }
        let file = format!("{}/dagster.yaml", home.trim_end_matches('/'));
        if let Some(path) = host_file(compose_dir, target, &file)
            && !found.contains(&path)
        {
            found.push(path);
        }
    }
    match found.as_slice() {
        [one] => Some(one.clone()),
        _ => None,
    }
}

/// Why the service's container lacks the module, with the line that would bring it when
/// the Dockerfile copies a file from the module's folder.
fn not_in_image(compose_dir: &Path, target: &Target, module: &Path) -> String {
    let module_dir = module.parent().unwrap_or(Path::new("."));
    let shown = display(compose_dir, module_dir);
    let lacks = format!(
        "{}'s container does not hold {}/ (no bind mount or Dockerfile COPY brings that \
         folder): copy it into the image, or install its package there",
        target.service, shown
    );
    let beside = target.image_stage().and_then(|(context, stage)| {
        let rel = absolute(module_dir)
            .strip_prefix(context)
            .ok()?
            .to_path_buf();
        let (folder, copied) = stage.file_copied_from(&rel, |p| context.join(p).is_dir())?;
        let file = rel.join(python::MODULE_FILE);
        Some(format!(
            "{}'s image does not hold {}: add `COPY {} {folder}/` to {} beside its COPY of \
             {copied}",
            target.service,
            display(compose_dir, module),
            file.to_string_lossy().replace('\\', "/"),
            target.dockerfile.as_deref().unwrap_or("Dockerfile")
        ))
    });
    beside.unwrap_or(lacks)
}

fn join_posix(base: &str, rest: &Path) -> String {
    let mut out = base.trim_end_matches('/').to_string();
    for part in rest.components() {
        out.push('/');
        out.push_str(&part.as_os_str().to_string_lossy());
    }
    if out.is_empty() { "/".into() } else { out }
}

fn image_pythonpath(target: &Target) -> Option<String> {
    target
        .image_stage()
        .and_then(|(_, s)| s.env("PYTHONPATH").map(String::from))
}

/// What the Dagster services need to import `module`, the handler's module.
pub(super) fn handler_import(
    compose_dir: &Path,
    targets: &[Target],
    module: &Path,
) -> HandlerImport {
    let dotted = python::dotted_module(module);
    let module_dir = module.parent().unwrap_or(Path::new("."));
    // The folder on sys.path is the module's folder less one level per package.
    let packages = dotted.matches('.').count();
    let dagster: Vec<&Target> = targets
        .iter()
        .filter(|t| frameworks::any(&t.frameworks, |r| r.code_location))
        .collect();
    // With no service serving code or executing jobs in sight, any of them may.
    let any_runs = dagster.iter().any(|t| runs_steps(t));
    let mut out = HandlerImport::default();
    let mut refusals = Vec::new();
    for target in dagster {
        let runner = !any_runs || runs_steps(target);
        let inside = container_dir(compose_dir, target, module_dir).and_then(|d| {
            let parts: Vec<&str> = d.split('/').filter(|p| !p.is_empty()).collect();
            let kept = parts.len().checked_sub(packages)?;
            Some(format!("/{}", parts[..kept].join("/")))
        });
        let Some(inside) = inside else {
            if runner {
                refusals.push(not_in_image(compose_dir, target, module));
            }
            continue;
        };
        let covers = |value: &str| value.split(':').any(|p| p.trim_end_matches('/') == inside);
        let value = match (
            target.env("PYTHONPATH").map(String::from),
            image_pythonpath(target),
        ) {
            (Some(set), _) | (None, Some(set)) if covers(&set) => None,
            (Some(set), _) => {
                if runner {
                    refusals.push(format!(
                        "{}'s environment sets PYTHONPATH={set}: add {inside} to it",
                        target.service
                    ));
                }
                continue;
            }
            (None, Some(image)) if image.contains('$') => {
                if runner {
                    refusals.push(format!(
                        "{}'s Dockerfile sets PYTHONPATH={image}: add {inside} to it",
                        target.service
                    ));
                }
                continue;
            }
            // The compose value replaces the image's: keep what the image had.
            (None, Some(image)) => Some(format!("{inside}:{image}")),
            (None, None) => Some(inside),
        };
        if let Some(value) = value {
            let var = contract::import_env(&value);
            if runner && out.run_env.is_none() {
                out.run_env = Some(var.clone());
            }
            out.env.push((target.service.clone(), var));
        }
    }
    if !refusals.is_empty() {
        out.refused = Some(format!(
            "dagster.yaml not edited: its log handler imports {dotted} in every process that \
             runs steps, and {}; then run obs-init again",
            refusals.join("; ")
        ));
        out.env.clear();
        out.run_env = None;
    }
    out
}

/// Names an instance file's template goes by (cookiecutter and Helm-style layouts).
const DAGSTER_TEMPLATES: [&str; 4] = [
    "dagster.yaml.jinja",
    "dagster.yaml.j2",
    "dagster.yaml.tmpl",
    "dagster.yaml.template",
];

/// `dagster.yaml`: in `--dagster-home`, else the one in the project, else a new one (unless
/// the project renders it from a template).
pub(super) fn plan_dagster(
    opts: &Options,
    module: &Path,
    service: &str,
    run_env: Option<(String, String)>,
    instance: Option<PathBuf>,
    project: Option<&str>,
    plan: &mut Plan,
) -> Result<(), Error> {
    let class = format!("{}.OtelLogHandler", python::dotted_module(module));
    let found = detect::find_files(&opts.dir, "dagster.yaml");
    // An instance file rendered from a template: a new plain dagster.yaml would be read
    // by nobody, so the template's owner adds the handler.
    let templates = || -> Vec<String> {
        detect::find_files_named(&opts.dir, &DAGSTER_TEMPLATES)
            .iter()
            .map(|p| display(&opts.dir, p))
            .collect()
    };
    let path = match (&opts.dagster_home, instance, found.as_slice()) {
        (Some(home), _, _) => home.join("dagster.yaml"),
        // The one the containers read, whatever else the project holds.
        (None, Some(instance), _) if instance.is_file() => instance,
        (None, Some(instance), _) if templates().is_empty() => {
            plan.notes.push(Note {
                service: None,
                message: format!(
                    "writing {}: the dagster.yaml the containers' DAGSTER_HOME reads",
                    display(&opts.dir, &instance)
                ),
                kind: NoteKind::Decided,
            });
            instance
        }
        (None, _, [one]) => one.clone(),
        (None, _, []) => {
            let templates = templates();
            if !templates.is_empty() {
                plan.next_steps.push(format!(
                    "add the log handler to {} (obs-init does not edit templates; \
                     or pass --dagster-home with the rendered file's folder):\n       \
                     python_logs:\n         dagster_handler_config:\n           \
                     handlers:\n             otel:\n               class: {class}\n\
                     \x20              level: INFO",
                    templates.join(", ")
                ));
                return Ok(());
            }
            plan.notes.push(Note {
                service: None,
                message: "no dagster.yaml found: writing one at the project root \
                          (point DAGSTER_HOME at its folder, or pass --dagster-home)"
                    .into(),
                kind: NoteKind::Decided,
            });
            opts.dir.join("dagster.yaml")
        }
        (None, _, many) => {
            let list: Vec<String> = many.iter().map(|p| display(&opts.dir, p)).collect();
            plan.notes.push(Note {
                service: None,
                message: format!(
                    "several dagster.yaml files ({}), and no DAGSTER_HOME the containers \
                     read says which: pass --dagster-home to pick one",
                    list.join(", ")
                ),
                kind: NoteKind::Action,
            });
            return Ok(());
        }
    };
    let before = read_optional(&path)?;
    let in_file = |source| Error::Refused {
        path: path.clone(),
        source,
    };
    let after =
        configure(before.as_deref().unwrap_or(""), &class, opts.fix_invalid).map_err(in_file)?;
    // Runs a DockerRunLauncher starts are containers of their own: they need the network
    // and the variables the compose services get.
    let current = after.clone().or_else(|| before.clone()).unwrap_or_default();
    // Dagster passes `env_vars` to Docker as written, with no interpolation: the project's
    // name itself, and no namespace when it has none.
    let mut env = contract::app_env(service, project.unwrap_or_default());
    if project.is_none() {
        env.retain(|(k, _)| k != contract::RESOURCE_ATTRIBUTES);
    }
    env.extend(run_env);
    let (launched, notes) =
        configure_launcher(&current, compose::NETWORK, &env).map_err(in_file)?;
    plan.notes.extend(notes.into_iter().map(|message| Note {
        service: None,
        message,
        kind: NoteKind::Action,
    }));
    let after = launched.or(after);
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
