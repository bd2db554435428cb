//! Planning the onboarding: the choices (flags, the answers file, the prompter, detection),
//! then every file's change, verified, and the record of it all.

use crate::compose::NoteKind;
use std::path::{Path, PathBuf};

use super::dagster::{handler_import, instance_file, plan_dagster};
use super::python::{self, Container, Target};
use super::{
    DEFAULT_DAPR_VERSION, FileChange, Options, Plan, Prompter, Status, answers_change, asked,
    check_inside_dir, find_compose, generated_change, joined, overwrite_conflicts, own_files,
    read_answers, record_file,
};
use crate::answers::{self, Answers, ServiceAnswers};
use crate::compose::{self, ComposeOptions, Note, overlay};
use crate::conflict::{Conflict, FileConflict};
use crate::contract;
use crate::dapr;
use crate::detect;
use crate::error::Error;
use crate::files::{read_optional, read_text};
use crate::frameworks;
use crate::paths::{absolute, compose_dir, display, mount_source, shell_word};

/// Builds the plan: reads the files, decides, verifies. Writes nothing.
pub fn plan<'p>(
    opts: &Options,
    mut prompter: Option<&mut (dyn Prompter + 'p)>,
) -> Result<Plan, Error> {
    let opts = &remembered(opts)?;
    let ctx = resolve(opts, prompter.as_deref_mut())?;
    let Built {
        mut plan,
        mut changes,
        mut overwritten,
    } = build(opts, &ctx)?;
    // The setup lines a person would otherwise paste: where the entry point is clear, the
    // terminal offers to insert them, and the plan is made again with the edit.
    if !plan.entry_points.is_empty()
        && let Some(p) = prompter.as_deref_mut()
        && p.edit_entrypoint(&plan.entry_points).map_err(asked)?
    {
        let with_edit = Options {
            edit_entrypoint: true,
            ..opts.clone()
        };
        Built {
            plan,
            changes,
            overwritten,
        } = build(&with_edit, &ctx)?;
    }
    // Each conflict is a choice between keeping the project's value and writing obs-init's:
    // the policy, or the person at the terminal, picks; the record follows the choice.
    if !plan.conflicts.is_empty()
        && overwrite_conflicts(opts.on_conflict, prompter, &plan.conflicts)?
    {
        plan.overwrite();
        changes = overwritten.unwrap_or(changes);
    }
    record(opts, &ctx, &mut plan, &changes);
    check_inside(opts, &plan)?;
    // Last, once everything is up: whether anything arrives.
    let verify = if opts.dir == Path::new(".") {
        "obs-init verify".to_string()
    } else {
        format!(
            "obs-init verify -C {}",
            shell_word(&opts.dir.to_string_lossy())
        )
    };
    plan.next_steps.push(format!(
        "see it arrive: {verify} (a canary span and log through the collector to Tempo and \
         OpenSearch)"
    ));
    Ok(plan)
}

/// `opts` with the paths an earlier run was given (`--module-path`, `--dagster-home`,
/// `--dapr-config`) where the command line gives none, and its `--no-env`: the plan is then
/// the one that run made, for `--check` too.
fn remembered(opts: &Options) -> Result<Options, Error> {
    let Some((saved, _)) = read_answers(&opts.dir)? else {
        return Ok(opts.clone());
    };
    let mut out = opts.clone();
    out.no_env |= saved.no_env;
    out.mlflow_otlp |= saved.mlflow_otlp;
    for (key, path) in &saved.paths {
        let path = Some(opts.dir.join(path));
        match key.as_str() {
            "module_path" if out.module_path.is_none() => out.module_path = path,
            "dagster_home" if out.dagster_home.is_none() => out.dagster_home = path,
            "dapr_config" if out.dapr_config.is_none() => out.dapr_config = path,
            _ => {}
        }
    }
    Ok(out)
}

/// The paths of `opts` as the answers file records them, relative to the project directory.
fn path_answers(opts: &Options) -> Vec<(&'static str, String)> {
    [
        ("module_path", &opts.module_path),
        ("dagster_home", &opts.dagster_home),
        ("dapr_config", &opts.dapr_config),
    ]
    .into_iter()
    .filter_map(|(key, p)| p.as_ref().map(|p| (key, display(&opts.dir, p))))
    .collect()
}

/// What the Python side reads of the options.
fn python_options(opts: &Options) -> python::PythonOptions {
    python::PythonOptions {
        dir: opts.dir.clone(),
        module_path: opts.module_path.clone(),
        module_path_flag: true,
        edit_entrypoint: opts.edit_entrypoint,
        mlflow_otlp: opts.mlflow_otlp,
    }
}

/// Refuses a plan that would write outside the project directory, or through a symlink
/// that leads out of it.
fn check_inside(opts: &Options, plan: &Plan) -> Result<(), Error> {
    check_inside_dir(&opts.dir, plan)
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
    /// The overlay the onboarding goes to, when not the compose file.
    overlay: Option<PathBuf>,
    /// The override files Compose reads after the compose file (`docker-compose.override.yml`
    /// beside it, when no file is named), with their text: read with it as one project.
    overrides: Vec<(PathBuf, String)>,
}

fn resolve<'p>(
    opts: &Options,
    mut prompter: Option<&mut (dyn Prompter + 'p)>,
) -> Result<Resolved, Error> {
    let answers_path = opts.dir.join(answers::FILE);
    let (saved, answers_text) = match read_answers(&opts.dir)? {
        Some((saved, text)) => (saved, Some(text)),
        None => (Answers::default(), None),
    };
    let compose_path = find_compose(&opts.dir, opts.file.as_deref())?;
    let content = read_text(&compose_path)?;
    let in_file = |source| Error::Refused {
        path: compose_path.clone(),
        source,
    };
    let (_, doc) = compose::parse(&content).map_err(in_file)?;
    let svc = compose::services(&doc).map_err(in_file)?;
    if let Some(swarm) = compose::swarm_stack(&compose_path, &content, svc) {
        return Err(in_file(swarm));
    }
    let overlay = overlay_mode(opts, &compose_path, &saved)?;
    // Read with the compose file as Compose reads them; in overlay mode, only read (the
    // overlay comes after them).
    let overrides = match &opts.file {
        None => compose_overrides(&compose_path)?,
        Some(_) => Vec::new(),
    };

    let mut skipped = Vec::new();
    let mut detected: Vec<(String, (detect::Detection, Option<String>))> = Vec::new();
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
            None if !built.is_empty() => {
                let (python, other) = yes_choice(
                    opts,
                    &compose_path,
                    &doc,
                    svc,
                    &saved,
                    &built,
                    &mut detected,
                );
                // Without a terminal or --yes, the help names what --yes would take.
                if !opts.yes {
                    return Err(Error::NoServiceChosen {
                        candidates: python,
                        left_out: other.into_iter().map(|(n, _)| n).collect(),
                    });
                }
                if python.is_empty() {
                    return Err(Error::NoPythonService {
                        candidates: other.into_iter().map(|(n, _)| n).collect(),
                    });
                }
                for (name, why) in other {
                    skipped.push(Note {
                        service: Some(name),
                        message: format!(
                            "not onboarded: --yes takes the Python services, and {why} (name \
                             it with --service for the sidecar and the variables alone)"
                        ),
                        kind: NoteKind::Info,
                    });
                }
                python
            }
            None => {
                return Err(Error::NoServiceChosen {
                    candidates: others,
                    left_out: Vec::new(),
                });
            }
        }
    };
    // The overlay is written whole each run: it keeps the services onboarded before.
    let services = match (&overlay, saved.compose(&display(&opts.dir, &compose_path))) {
        (Some(_), Some(c)) => {
            let mut all = c.services.clone();
            all.extend(services.into_iter().filter(|s| !c.services.contains(s)));
            all
        }
        _ => services,
    };
    if services.is_empty() {
        return Err(Error::NoServiceChosen {
            candidates: Vec::new(),
            left_out: Vec::new(),
        });
    }
    compose::check_names(svc, &services).map_err(in_file)?;

    let mut notes = skipped;
    let mut targets = Vec::new();
    for name in &services {
        let info = compose::service_info(&doc, svc, name);
        let (context, outside) = build_context(opts, &compose_path, &info);
        let remembered = saved.service(name);
        let guessed = port_guess(&compose_path, &info, context.as_deref());
        let app_port = match (opts.app_port, remembered.and_then(|r| r.app_port)) {
            (Some(p), _) | (None, Some(p)) => Some(p),
            (None, None) => match prompter.as_deref_mut() {
                Some(p) => p
                    .app_port(name, guessed.as_ref().map(|(port, _)| *port))
                    .map_err(asked)?,
                // The project's own sidecar already calls the app where it listens.
                None if compose::sidecar::own_sidecar(&doc, svc, name).is_some() => None,
                None => {
                    if let Some((port, source)) = &guessed {
                        notes.push(Note {
                            service: Some(name.clone()),
                            message: compose::inferred_port_note(*port, source),
                            kind: NoteKind::Decided,
                        });
                    }
                    guessed.map(|(port, _)| port)
                }
            },
        };
        let frameworks = if !opts.frameworks.is_empty() {
            opts.frameworks.clone()
        } else if let Some(r) = remembered.filter(|r| !r.frameworks.is_empty()) {
            r.frameworks.clone()
        } else {
            let (found, no_python) = match detected.iter().position(|(n, _)| n == name) {
                Some(i) => detected.swap_remove(i).1,
                None => detect_service(opts, &compose_path, &info, context.as_deref()),
            };
            if let Some(why) = no_python {
                notes.push(Note {
                    service: Some(name.clone()),
                    message: format!("no Python side: {why}"),
                    kind: NoteKind::Decided,
                });
            }
            match prompter.as_deref_mut() {
                Some(p) => p.frameworks(name, &found.found).map_err(asked)?,
                None => {
                    for (f, why) in &found.found {
                        notes.push(Note {
                            service: Some(name.clone()),
                            message: format!("detected {f}: {why}"),
                            kind: NoteKind::Decided,
                        });
                    }
                    found.found.into_iter().map(|(f, _)| f).collect()
                }
            }
        };
        let runs = as_compose_runs(&compose_path, &info);
        targets.push(Target::new(
            name.clone(),
            context,
            outside,
            frameworks,
            app_port,
            Container {
                image: runs.0,
                dockerfile: info.dockerfile,
                target: info.target,
                commands: runs.1,
                binds: info.binds,
                environment: info.environment,
            },
        ));
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
        overlay,
        overrides,
    })
}

/// The override files Compose reads after `compose_path` ([`overlay::override_files`]),
/// with their text.
fn compose_overrides(compose_path: &Path) -> Result<Vec<(PathBuf, String)>, Error> {
    compose::overlay::override_files(compose_path)
        .into_iter()
        .map(|path| read_text(&path).map(|text| (path, text)))
        .collect()
}

/// Where the onboarding goes: the overlay `--overlay` names (beside the compose file), or
/// the one the answers file records; `None`: the compose file itself. A compose file
/// onboarded one way is not onboarded the other way too.
fn overlay_mode(
    opts: &Options,
    compose_path: &Path,
    saved: &Answers,
) -> Result<Option<PathBuf>, Error> {
    let recorded = saved
        .compose(&display(&opts.dir, compose_path))
        .filter(|c| !c.services.is_empty());
    let recorded_overlay = recorded
        .and_then(|c| c.overlay.as_ref())
        .map(|o| opts.dir.join(o));
    let Some(wanted) = &opts.overlay else {
        return Ok(recorded_overlay);
    };
    let wanted = compose_dir(compose_path).join(wanted);
    let switch = |from: String, to: String| Error::ModeSwitch {
        compose: compose_path.to_path_buf(),
        from,
        to,
    };
    match (recorded, recorded_overlay) {
        (Some(_), None) => Err(switch(
            "in place".into(),
            format!("in the overlay {}", display(&opts.dir, &wanted)),
        )),
        (_, Some(other)) if absolute(&other) != absolute(&wanted) => Err(switch(
            format!("in the overlay {}", display(&opts.dir, &other)),
            format!("in the overlay {}", display(&opts.dir, &wanted)),
        )),
        _ => Ok(Some(wanted)),
    }
}

/// A service's build context on disk: inside the project directory, or else outside it
/// (obs-init writes only inside --dir: code built from outside it is not its to edit, nor
/// to scan).
fn build_context(
    opts: &Options,
    compose_path: &Path,
    info: &compose::ServiceInfo,
) -> (Option<PathBuf>, Option<PathBuf>) {
    let context = info
        .build
        .as_ref()
        .map(|b| compose_dir(compose_path).join(b));
    match context {
        Some(c) if !absolute(&c).starts_with(absolute(&opts.dir)) => (None, Some(c)),
        inside => (inside, None),
    }
}

/// The port a service's app listens on, and where that was read: its compose command or
/// its one container port, else its command with the project's `.env` values (`--port
/// ${PORT}`), else its image's command, else the server's documented default.
fn port_guess(
    compose_path: &Path,
    info: &compose::ServiceInfo,
    context: Option<&Path>,
) -> Option<(u16, String)> {
    if let (Some(port), Some(source)) = (info.suggested_port, info.port_source) {
        return Some((port, source.to_string()));
    }
    let vars = crate::compose::interpolate::Vars::for_project(&compose_dir(compose_path));
    let interpolated: Vec<String> = info
        .commands
        .iter()
        .filter_map(|c| crate::compose::interpolate::interpolate(c, &vars).ok())
        .collect();
    if interpolated != info.commands
        && let Some(port) = compose::ports::command_port(&interpolated)
    {
        return Some((port, "command, with the values of .env".into()));
    }
    let image = context
        .and_then(|c| python::read_image(c, info.dockerfile.as_deref(), info.target.as_deref()))
        .map(|(_, stage)| stage.commands)
        .unwrap_or_default();
    let run = if info.commands.is_empty() {
        image.clone()
    } else {
        interpolated
    };
    // Only a web server's: a gRPC server's port (`dagster api grpc -p 4000`) is not one
    // daprd can call the app on.
    if info.commands.is_empty()
        && (compose::ports::default_port(&image).is_some() || compose::ports::uwsgi_http(&image))
        && let Some(port) = compose::ports::command_port(&image)
    {
        return Some((port, "image's command".into()));
    }
    compose::ports::default_port(&run).map(|(port, server)| {
        (
            port,
            format!("server, {server}, which listens there when its command names no port"),
        )
    })
}

/// What a service runs, from its compose definition and the code in its build context; with
/// why it runs no Python when its image says so (the stage compose builds starts from
/// another runtime and installs none): then its code is not evidence.
fn detect_service(
    opts: &Options,
    compose_path: &Path,
    info: &compose::ServiceInfo,
    context: Option<&Path>,
) -> (detect::Detection, Option<String>) {
    let image = context
        .and_then(|c| python::read_image(c, info.dockerfile.as_deref(), info.target.as_deref()));
    if let Some((_, stage)) = image.filter(|(_, s)| s.runs_python() == Some(false)) {
        let built = match &info.target {
            Some(t) => format!("its image's stage `{t}`"),
            None => "its image".to_string(),
        };
        let why = format!(
            "{built} starts from `{}` and installs no Python",
            stage.base
        );
        return (detect::Detection::default(), Some(why));
    }
    // A framework's own tool (Celery's Flower) runs none of the project's code, whatever
    // its build context holds.
    // What the container runs: the compose command, else its image's CMD and ENTRYPOINT,
    // with the start script either runs.
    let container = python::Container {
        image: info.image.clone(),
        dockerfile: info.dockerfile.clone(),
        target: info.target.clone(),
        commands: info.commands.clone(),
        binds: info.binds.clone(),
        environment: info.environment.clone(),
    };
    let runs = python::Target::new(
        String::new(),
        context.map(Path::to_path_buf),
        None,
        Vec::new(),
        None,
        container,
    )
    .run_commands();
    let tool = runs
        .iter()
        .map(String::as_str)
        .chain(info.image.as_deref())
        .find_map(frameworks::tool_run);
    if let Some(what) = tool {
        return (
            detect::Detection::default(),
            Some(format!("it runs {what}")),
        );
    }
    // Evidence is what Compose will run: an image known only by a variable's name is none
    // (`${DAGSTER_IMAGE}` says nothing of the image).
    let (image, commands) = as_compose_runs(compose_path, info);
    let found = detect::detect(
        image.as_deref(),
        &commands,
        &info.environment,
        context,
        &opts.dir,
    );
    (found, None)
}

/// What `--yes` onboards of the services with a build: the Python ones (or all, where
/// frameworks are named or remembered), and the others with why they are not. Each
/// service's detection is kept in `detected` for its planning: the scan is done once.
#[allow(clippy::too_many_arguments)]
fn yes_choice(
    opts: &Options,
    compose_path: &Path,
    doc: &crate::yaml::doc::Document,
    svc: &crate::yaml::doc::Node,
    saved: &Answers,
    built: &[String],
    detected: &mut Vec<(String, (detect::Detection, Option<String>))>,
) -> (Vec<String>, Vec<(String, String)>) {
    let mut python = Vec::new();
    let mut other = Vec::new();
    for name in built {
        if !opts.frameworks.is_empty()
            || saved
                .service(name)
                .is_some_and(|r| !r.frameworks.is_empty())
        {
            python.push(name.clone());
            continue;
        }
        let info = compose::service_info(doc, svc, name);
        let (context, _) = build_context(opts, compose_path, &info);
        let found = detect_service(opts, compose_path, &info, context.as_deref());
        if found.0.found.is_empty() {
            let why = found
                .1
                .clone()
                .unwrap_or_else(|| "none was found in its build context or command".into());
            other.push((name.clone(), why));
        } else {
            python.push(name.clone());
        }
        detected.push((name.clone(), found));
    }
    (python, other)
}

/// A service's image and commands as Compose will run them: read through the project's
/// `.env` (and environment) where every variable has a value; a command with one that has
/// none stays as written, and such an image is not known.
fn as_compose_runs(
    compose_path: &Path,
    info: &compose::ServiceInfo,
) -> (Option<String>, Vec<String>) {
    let vars = crate::compose::interpolate::Vars::for_project(&compose_dir(compose_path));
    let known = |text: &str| crate::compose::interpolate::known(text, &vars);
    let image = info.image.as_deref().and_then(known);
    let commands = info
        .commands
        .iter()
        .map(|c| known(c).unwrap_or_else(|| c.clone()))
        .collect();
    (image, commands)
}

/// A plan before its record: the compose edits for either choice over the conflicts.
struct Built {
    plan: Plan,
    /// The changes keeping the project's values: the compose file's, then each override's.
    changes: Vec<Vec<crate::yaml::splice::Change>>,
    /// The changes writing obs-init's over them, when there are conflicts.
    overwritten: Option<Vec<Vec<crate::yaml::splice::Change>>>,
}

/// The plan for resolved choices, but its record.
fn build(opts: &Options, ctx: &Resolved) -> Result<Built, Error> {
    let Resolved {
        compose_path,
        content,
        services,
        targets,
        dapr_version,
        notes,
        ..
    } = ctx;
    let (compose_path, content) = (compose_path.clone(), content.clone());
    let (services, dapr_version, mut notes) =
        (services.clone(), dapr_version.clone(), notes.clone());
    let in_file = |source| Error::Refused {
        path: compose_path.clone(),
        source,
    };
    let compose_dir = compose_dir(&compose_path);
    let project = compose::project_name(&compose_path, &content);

    let config_path = opts
        .dapr_config
        .clone()
        .unwrap_or_else(|| contract::default_dapr_config(&opts.dir));
    let config_source = mount_source(&absolute(&compose_dir), &absolute(&config_path));
    // Where each module goes is settled first: Dagster's handler decides compose variables.
    let located: Vec<(Option<PathBuf>, Vec<Note>)> = targets
        .iter()
        .map(|t| python::locate(&python_options(opts), t))
        .collect();
    let handler_module = targets
        .iter()
        .zip(&located)
        .find(|(t, _)| frameworks::any(&t.frameworks, |r| r.code_location))
        .and_then(|(t, (m, _))| m.clone().map(|m| (m, t.service.clone())));
    let handler = handler_module
        .as_ref()
        .map(|(m, _)| handler_import(&compose_dir, targets, m))
        .unwrap_or_default();
    // MLflow's variables follow what the release its image installs does with them.
    let mlflow: Vec<(String, python::MlflowExport)> = targets
        .iter()
        .filter(|t| frameworks::any(&t.frameworks, |r| r.exports_itself))
        .map(|t| {
            let export = python::mlflow_export(&python_options(opts), t);
            (t.service.clone(), export)
        })
        .collect();
    let mut extra_env: Vec<(String, Vec<(String, String)>)> = mlflow
        .iter()
        .filter(|(_, m)| m.exports)
        .map(|(s, m)| (s.clone(), contract::mlflow_env_for(m.otlp)))
        .collect();
    let withheld_env: Vec<(String, Vec<String>)> = mlflow
        .iter()
        .filter(|(_, m)| !m.withheld.is_empty())
        .map(|(s, m)| {
            (
                s.clone(),
                m.withheld.iter().map(|v| v.to_string()).collect(),
            )
        })
        .collect();
    for (service, var) in &handler.env {
        match extra_env.iter_mut().find(|(s, _)| s == service) {
            Some((_, vars)) => vars.push(var.clone()),
            None => extra_env.push((service.clone(), vec![var.clone()])),
        }
    }
    let compose_opts = ComposeOptions {
        services: services.clone(),
        app_ports: targets
            .iter()
            .filter_map(|t| t.app_port.map(|p| (t.service.clone(), p)))
            .collect(),
        dapr_version: dapr_version.clone(),
        config_source,
        extra_env,
        withheld_env,
        namespace: contract::compose_namespace(project.as_deref()),
    };
    let (mut outcome, overlay, overridden) = match &ctx.overlay {
        None if !ctx.overrides.is_empty() => {
            let texts: Vec<&str> = std::iter::once(content.as_str())
                .chain(ctx.overrides.iter().map(|(_, t)| t.as_str()))
                .collect();
            let mut outcomes =
                compose::onboard_files(&texts, &compose_opts).map_err(|(i, source)| {
                    Error::Refused {
                        path: match i {
                            0 => compose_path.clone(),
                            i => ctx.overrides[i - 1].0.clone(),
                        },
                        source,
                    }
                })?;
            let first = outcomes.remove(0);
            (first, None, outcomes)
        }
        None => (
            compose::onboard(&content, &compose_opts).map_err(in_file)?,
            None,
            Vec::new(),
        ),
        Some(path) => {
            let texts: Vec<&str> = std::iter::once(content.as_str())
                .chain(ctx.overrides.iter().map(|(_, t)| t.as_str()))
                .collect();
            let planned = overlay::overlay_files(&texts, &compose_opts).map_err(in_file)?;
            let outcome = compose::ComposeOutcome {
                after: content.clone(),
                changes: Vec::new(),
                notes: planned.notes.clone(),
                conflicts: Vec::new(),
                overwritten: None,
                adopted: planned.adopted.clone(),
            };
            (outcome, Some((path.clone(), planned)), Vec::new())
        }
    };
    for o in &overridden {
        outcome.notes.extend(o.notes.iter().cloned());
        outcome.adopted.extend(o.adopted.iter().cloned());
    }
    // Per file, obs-init's values over the project's where it has conflicts, else as kept.
    let overwritten: Option<Vec<Vec<crate::yaml::splice::Change>>> =
        (outcome.overwritten.is_some() || overridden.iter().any(|o| o.overwritten.is_some())).then(
            || {
                std::iter::once(&outcome)
                    .chain(&overridden)
                    .map(|o| {
                        o.overwritten
                            .as_ref()
                            .map_or_else(|| o.changes.clone(), |w| w.changes.clone())
                    })
                    .collect()
            },
        );

    notes.extend(outcome.notes);
    let compose_display = display(&opts.dir, &compose_path);
    // In overlay mode, plain `docker compose` loads the overlay once `.env` says so.
    let env_change = match &overlay {
        Some((path, _)) if !opts.no_env => Some(env_change(opts, &compose_path, path)?),
        _ => None,
    };
    let with_files: Option<Vec<PathBuf>> = match (&overlay, &env_change) {
        (Some(_), Some(Ok(_))) | (None, _) => None,
        (Some((path, _)), _) => Some(vec![compose_path.clone(), path.clone()]),
    };
    let mut plan = Plan {
        compose_file: compose_path.clone(),
        services,
        files: Vec::new(),
        notes,
        next_steps: vec![format!(
            "make sure the platform network exists on this host: docker network create {}",
            compose::NETWORK
        )],
        conflicts: outcome
            .conflicts
            .into_iter()
            .map(|conflict| FileConflict {
                file: compose_display.clone(),
                conflict,
                kept_either_way: false,
            })
            .collect(),
        own: Vec::new(),
        alternatives: outcome
            .overwritten
            .as_ref()
            .map(|o| (compose_path.clone(), o.after.clone()))
            .into_iter()
            .collect(),
        relocks: Vec::new(),
        overlay: ctx.overlay.clone(),
        entry_points: Vec::new(),
        waiting: Vec::new(),
        claims: Vec::new(),
    };
    // CI hosts have no platform: a step starting this project there fails on the external
    // network unless the pipeline creates it. (An overlay named by `-f` alone is not loaded
    // by a plain `docker compose up`.)
    if with_files.is_none() {
        for start in crate::ci::starts_without(&opts.dir, &compose_path, compose::NETWORK) {
            plan.notes.push(Note {
                service: None,
                message: format!(
                    "{}:{} runs `{}` on CI, where network {net} does not exist: add `docker \
                     network create {net} || true` before it (the onboarded services join it \
                     as external)",
                    display(&opts.dir, &start.file),
                    start.line,
                    start.command,
                    net = compose::NETWORK
                ),
                kind: NoteKind::Action,
            });
        }
    }
    plan.push(FileChange {
        display: display(&opts.dir, &compose_path),
        path: compose_path.clone(),
        status: if outcome.after == content {
            Status::Unchanged
        } else {
            Status::Update
        },
        before: Some(content.clone()),
        after: outcome.after.clone(),
    });
    // Each override file with the pieces that live in it, its conflicts its own.
    for ((path, before), o) in ctx.overrides.iter().zip(&overridden) {
        let shown = display(&opts.dir, path);
        plan.conflicts
            .extend(o.conflicts.iter().map(|conflict| FileConflict {
                file: shown.clone(),
                conflict: conflict.clone(),
                kept_either_way: false,
            }));
        if let Some(over) = &o.overwritten {
            plan.alternatives.push((path.clone(), over.after.clone()));
        }
        plan.push(FileChange {
            display: shown,
            path: path.clone(),
            status: if o.after == *before {
                Status::Unchanged
            } else {
                Status::Update
            },
            before: Some(before.clone()),
            after: o.after.clone(),
        });
    }
    if let Some((path, planned)) = overlay {
        plan_overlay(opts, &ctx.saved, &path, planned, &mut plan)?;
        match env_change {
            Some(Ok(Some(change))) => plan.push(change),
            Some(Ok(None)) | None => {}
            Some(Err(why)) => plan.notes.push(Note {
                service: None,
                message: format!(".env not edited: {why}; start with the -f flags below"),
                kind: NoteKind::Action,
            }),
        }
    }
    // A sidecar that loads the project's own Configuration gets the tracing there; the
    // generated file is for the others.
    let own_config: Vec<&str> = outcome
        .adopted
        .iter()
        .filter(|a| a.own_config.is_some())
        .map(|a| a.service.as_str())
        .collect();
    if plan
        .services
        .iter()
        .any(|s| !own_config.contains(&s.as_str()))
    {
        let config = config_change(opts, &config_path, &mut plan.conflicts)?;
        plan.push(config);
    }
    for adopted in &outcome.adopted {
        if let Some((path, source)) = &adopted.own_config {
            own_configuration(
                opts,
                &compose_dir,
                adopted,
                path,
                source.as_deref(),
                &mut plan,
            )?;
        }
    }
    for (target, (module, module_notes)) in targets.iter().zip(located) {
        python::plan_python(
            &python_options(opts),
            target,
            module,
            module_notes,
            &mut plan,
        )?;
    }
    if targets
        .iter()
        .any(|t| frameworks::any(&t.frameworks, |r| r.code_location))
    {
        match (&handler_module, handler.refused) {
            (Some(_), Some(refused)) => plan.notes.push(Note {
                service: None,
                message: refused,
                kind: NoteKind::Action,
            }),
            (Some((module, service)), None) => {
                let instance = instance_file(&compose_dir, targets);
                plan_dagster(
                    opts,
                    module,
                    service,
                    handler.run_env,
                    instance,
                    project.as_deref(),
                    &mut plan,
                )?
            }
            // A handler whose module is not there fails every run: better no handler.
            (None, _) => plan.notes.push(Note {
                service: None,
                message: "dagster.yaml not edited: its log handler would import \
                          setup_observability, and no module was written where Dagster's \
                          code is; pass --module-path (the folder of your Definitions) and run \
                          again"
                    .into(),
                kind: NoteKind::Action,
            }),
        }
    }
    // The start step, second after the network's, once it is known whether the images change.
    let build = rebuilds_images(targets, &compose_path, &ctx.overrides, &config_path, &plan);
    let start = start_command(
        opts,
        &compose_path,
        with_files.as_deref(),
        &plan.services,
        &outcome.adopted,
        build,
    );
    plan.next_steps
        .insert(1, format!("start the app with its sidecar: {start}"));
    Ok(Built {
        plan,
        changes: std::iter::once(outcome.changes)
            .chain(overridden.into_iter().map(|o| o.changes))
            .collect(),
        overwritten,
    })
}

/// Whether the plan changes what an image is built from (the module, the dependency lines,
/// an entry point, an instance file in a build context): then the start step rebuilds, since
/// Compose would otherwise start the image it built before, which lacks them (and an app
/// whose entry point now imports the module fails at import).
fn rebuilds_images(
    targets: &[Target],
    compose_path: &Path,
    overrides: &[(PathBuf, String)],
    config: &Path,
    plan: &Plan,
) -> bool {
    let deployment_files: Vec<&Path> = [compose_path, config]
        .into_iter()
        .chain(overrides.iter().map(|(p, _)| p.as_path()))
        .collect();
    let contexts: Vec<PathBuf> = targets
        .iter()
        .filter_map(|t| t.context.as_deref().map(absolute))
        .collect();
    plan.files.iter().any(|f| {
        let path = absolute(&f.path);
        matches!(f.status, Status::Create | Status::Update)
            && !deployment_files.iter().any(|d| absolute(d) == path)
            && plan.overlay.as_deref().is_none_or(|o| absolute(o) != path)
            && !path.ends_with(".env")
            && contexts.iter().any(|c| path.starts_with(c))
    })
}

/// Adds the answers file to `plan`: the choices, and the record of what the plan does.
fn record(
    opts: &Options,
    ctx: &Resolved,
    plan: &mut Plan,
    changes: &[Vec<crate::yaml::splice::Change>],
) {
    let Resolved {
        compose_path,
        content,
        answers_path,
        answers_text,
        targets,
        dapr_version,
        saved,
        ..
    } = ctx;
    let compose_rel = display(&opts.dir, compose_path);
    let mut record = saved.clone();
    let after_of = |path: &Path, before: &str| {
        plan.files
            .iter()
            .find(|f| f.path == path)
            .map_or(before.to_string(), |f| f.after.clone())
    };
    let services = plan.services.clone();
    let after = after_of(compose_path, content);
    record_compose(
        &mut record,
        &compose_rel,
        &services,
        &changes[0],
        content,
        &after,
    );
    if let Some(c) = record.composes.iter_mut().find(|c| c.path == compose_rel) {
        c.overlay = ctx.overlay.as_ref().map(|o| display(&opts.dir, o));
    }
    // An override file is recorded as a compose file of its own (what it gained, its
    // text), marked as read with the compose file, so that `remove` takes each back.
    for ((path, before), changes) in ctx.overrides.iter().zip(&changes[1..]) {
        let rel = display(&opts.dir, path);
        let defined: Vec<String> = compose::parse(before)
            .ok()
            .and_then(|(_, doc)| compose::services(&doc).ok().map(compose::service_names))
            .unwrap_or_default();
        let here: Vec<String> = services
            .iter()
            .filter(|s| defined.contains(s))
            .cloned()
            .collect();
        let recorded = record.composes.iter().any(|c| c.path == rel);
        if changes.is_empty() && !recorded {
            continue;
        }
        let after = after_of(path, before);
        record_compose(&mut record, &rel, &here, changes, before, &after);
        if let Some(c) = record.composes.iter_mut().find(|c| c.path == rel) {
            c.override_of = Some(compose_rel.clone());
        }
    }
    let skip: Vec<PathBuf> = ctx.overrides.iter().map(|(p, _)| p.clone()).collect();
    record_files(opts, plan, compose_path, &skip, &compose_rel, &mut record);
    if record.original.is_none() && saved.composes.is_empty() {
        // A user's own answers file, before obs-init first wrote to it.
        record.original = answers_text.clone();
    }
    record.dapr_version = Some(dapr_version.clone());
    record.no_env |= opts.no_env && ctx.overlay.is_some();
    record.mlflow_otlp |= opts.mlflow_otlp;
    for (key, path) in path_answers(opts) {
        match record.paths.iter_mut().find(|(k, _)| k == key) {
            Some(entry) => entry.1 = path,
            None => record.paths.push((key.to_string(), path)),
        }
    }
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
    plan.push(answers_change(&opts.dir, answers_text.clone(), recorded));
}

/// Joins what this plan does to the compose file to its record: what it adds (a second
/// run adds nothing), its services, and the text as obs-init leaves it.
fn record_compose(
    record: &mut Answers,
    rel: &str,
    services: &[String],
    changes: &[crate::yaml::splice::Change],
    before: &str,
    after: &str,
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
    for s in services {
        if !c.services.contains(s) {
            c.services.push(s.clone());
        }
    }
    c.text = original_known.then(|| joined(c.text.as_ref(), rel, Some(before), after));
}

/// Joins what this plan does to every file but the compose file and the answers file to the
/// record, with the services that need each.
fn record_files(
    opts: &Options,
    plan: &Plan,
    compose_path: &Path,
    overrides: &[PathBuf],
    compose_rel: &str,
    record: &mut Answers,
) {
    let claims_of = |path: &Path| -> Vec<(String, Option<Vec<String>>)> {
        plan.claims
            .iter()
            .filter(|c| absolute(&c.path) == absolute(path))
            .map(|c| (answers::needer(compose_rel, &c.service), c.packages.clone()))
            .collect()
    };
    for change in plan
        .files
        .iter()
        .filter(|c| c.path != compose_path && !overrides.contains(&c.path))
    {
        let rel = display(&opts.dir, &change.path);
        let claims = claims_of(&change.path);
        // A file no service's Python side claims (the Dapr configuration, the overlay) is
        // needed by every service of the run.
        let needers: Vec<String> = if claims.is_empty() {
            plan.services
                .iter()
                .map(|s| answers::needer(compose_rel, s))
                .collect()
        } else {
            claims.iter().map(|(n, _)| n.clone()).collect()
        };
        let prior = record.files.iter().find(|(f, _)| f.path == rel).cloned();
        record_file(record, &rel, change, needers);
        super::claims::attribute(record, &rel, prior.as_ref(), &claims);
    }
    // What this run claims where obs-init's edit is there already (another compose file's
    // service made it): needed by this run's services too.
    let planned: Vec<PathBuf> = plan.files.iter().map(|f| absolute(&f.path)).collect();
    let mut claimed: Vec<&Path> = Vec::new();
    for c in &plan.claims {
        if !planned.contains(&absolute(&c.path)) && !claimed.contains(&c.path.as_path()) {
            claimed.push(&c.path);
        }
    }
    for path in claimed {
        let rel = display(&opts.dir, path);
        let Some(i) = record.files.iter().position(|(f, _)| f.path == rel) else {
            continue;
        };
        let prior = record.files[i].clone();
        let claims = claims_of(path);
        for (needer, _) in &claims {
            if !record.files[i].1.contains(needer) {
                record.files[i].1.push(needer.clone());
            }
        }
        super::claims::attribute(record, &rel, Some(&prior), &claims);
    }
}

fn config_change(
    opts: &Options,
    path: &Path,
    conflicts: &mut Vec<FileConflict>,
) -> Result<FileChange, Error> {
    let wanted = dapr::CONFIG_TEMPLATE.to_string();
    let differs = |existing: &str| match dapr::check_config(existing) {
        Ok(()) => "it differs from obs-init's, but enables tracing".to_string(),
        Err(problem) => format!("it differs from obs-init's, and {problem}"),
    };
    generated_change(&opts.dir, path, wanted, conflicts, differs)
}

/// The tracing in the Configuration an adopted sidecar loads (`path` in its container, from
/// the bind mount `source`): added to the project's file, or, where that file cannot be found
/// or already traces elsewhere, said.
fn own_configuration(
    opts: &Options,
    compose_dir: &Path,
    adopted: &compose::Adopted,
    path: &str,
    source: Option<&str>,
    plan: &mut Plan,
) -> Result<(), Error> {
    let sidecar = &adopted.sidecar;
    let by_hand = |why: String| Note {
        service: Some(adopted.service.clone()),
        message: format!(
            "`{sidecar}` loads its own Configuration {path}, {why}: add obs-init's \
             spec.tracing (samplingRate \"1\", otel endpointAddress {}, isSecure false, \
             protocol grpc) to it",
            contract::COLLECTOR_ADDRESS
        ),
        kind: NoteKind::Action,
    };
    // A path or mount written with variables means what Compose makes of them: resolved
    // with `.env` (and the environment) where they are set; where one is not, which file
    // it names cannot be known, and guessing could give the tracing to the wrong one.
    let resolved;
    let (path, source) = if path.contains('$')
        || source.is_some_and(|s| s.contains('$'))
        || (source.is_none()
            && adopted
                .binds
                .iter()
                .any(|(s, t)| s.contains('$') || t.contains('$')))
    {
        match resolve_config_path(compose_dir, path, &adopted.binds) {
            Ok((p, s)) => {
                resolved = (p, s);
                plan.notes.push(Note {
                    service: Some(adopted.service.clone()),
                    message: format!(
                        "`{sidecar}`'s --config {path} is {} with the variables .env and the \
                         environment set{}",
                        resolved.0,
                        resolved
                            .1
                            .as_ref()
                            .map(|s| format!(", mounted from {s}"))
                            .unwrap_or_default()
                    ),
                    kind: NoteKind::Decided,
                });
                (resolved.0.as_str(), resolved.1.as_deref())
            }
            Err(unset) => {
                let env = display(&opts.dir, &compose_dir.join(".env"));
                let names = unset.join(", ");
                plan.notes.push(Note {
                    service: Some(adopted.service.clone()),
                    message: format!(
                        "`{sidecar}` loads its own Configuration {path}{}, which depends on {names}, \
                         set neither in {env} nor in the environment: Compose would read {} \
                         empty, so which file it loads is not known. Set {names} in {env} and run \
                         again, or add obs-init's spec.tracing (samplingRate \"1\", otel \
                         endpointAddress {}, isSecure false, protocol grpc) to the Configuration \
                         it loads",
                        source.map(|s| format!(" (mounted from {s})")).unwrap_or_default(),
                        if unset.len() == 1 { "it" } else { "them" },
                        contract::COLLECTOR_ADDRESS
                    ),
                    kind: NoteKind::Action,
                });
                return Ok(());
            }
        }
    } else {
        (path, source)
    };
    let host = match source {
        None => {
            plan.notes.push(by_hand(
                "which no bind mount of the compose file provides".into(),
            ));
            return Ok(());
        }
        Some(s) if s.contains('$') => {
            plan.notes.push(by_hand(format!(
                "mounted from {s}, which depends on variables"
            )));
            return Ok(());
        }
        Some(s) => compose_dir.join(s),
    };
    let shown = display(&opts.dir, &host);
    if !host.is_file() || !absolute(&host).starts_with(absolute(&opts.dir)) {
        plan.notes.push(by_hand(format!(
            "mounted from {shown}, which is not a file in the project"
        )));
        return Ok(());
    }
    // Several sidecars may load one file: it is planned once.
    if plan
        .files
        .iter()
        .any(|f| absolute(&f.path) == absolute(&host))
    {
        return Ok(());
    }
    let content = read_text(&host)?;
    let (status, after) = match dapr::add_tracing(&content) {
        Ok(dapr::Tracing::Added(after)) => {
            plan.notes.push(Note {
                service: Some(adopted.service.clone()),
                message: format!(
                    "tracing added to {shown}, the Configuration `{sidecar}` loads ({path})"
                ),
                kind: NoteKind::Decided,
            });
            (Status::Update, after)
        }
        Ok(dapr::Tracing::Present) => (Status::Unchanged, content.clone()),
        Ok(dapr::Tracing::Elsewhere(what)) => {
            plan.conflicts.push(FileConflict {
                file: shown.clone(),
                conflict: Conflict {
                    service: Some(adopted.service.clone()),
                    what: format!(
                        "{what}, obs-init would send `{sidecar}`'s traces to {} (kept either \
                         way: change its spec.tracing by hand)",
                        contract::COLLECTOR_ADDRESS
                    ),
                    line: None,
                },
                kept_either_way: true,
            });
            (Status::Unchanged, content.clone())
        }
        Err(why) => {
            plan.notes.push(by_hand(format!(
                "{shown}, which obs-init cannot edit: {why}"
            )));
            return Ok(());
        }
    };
    plan.push(FileChange {
        display: shown,
        path: host,
        before: Some(content),
        after,
        status,
    });
    Ok(())
}

/// The Configuration path `path` (in the container) and the host path that provides it,
/// with the variables in them and in the sidecar's `binds` resolved as Compose resolves them
/// (`.env` beside the compose file, the environment over it); `Err` names the variables
/// neither sets that the answer depends on.
fn resolve_config_path(
    compose_dir: &Path,
    path: &str,
    binds: &[(String, String)],
) -> Result<(String, Option<String>), Vec<String>> {
    use crate::compose::interpolate::{Vars, interpolate, unset};
    let vars = Vars::for_project(compose_dir);
    let missing = unset(path, &vars);
    if !missing.is_empty() {
        return Err(missing);
    }
    let resolve = |text: &str| interpolate(text, &vars).map_err(|_| unset(text, &vars));
    let target = resolve(path)?;
    // Each mount resolved; one whose target cannot be known may be the one that provides it.
    let mut resolved = Vec::new();
    for (source, mount) in binds {
        let mount_unset = unset(mount, &vars);
        if !mount_unset.is_empty() {
            return Err(mount_unset);
        }
        resolved.push((source.clone(), resolve(mount)?));
    }
    let Some(raw) = crate::compose::sidecar::mount_source(&resolved, &target) else {
        return Ok((target, None));
    };
    let source_unset = unset(&raw, &vars);
    if !source_unset.is_empty() {
        return Err(source_unset);
    }
    Ok((target, Some(resolve(&raw)?)))
}

/// The overlay file: written fresh each run from the base (a second run writes the same
/// bytes); one the user changed since obs-init wrote it is kept, and the difference is a
/// conflict like any other.
fn plan_overlay(
    opts: &Options,
    saved: &Answers,
    path: &Path,
    planned: overlay::OverlayOutcome,
    plan: &mut Plan,
) -> Result<(), Error> {
    let shown = display(&opts.dir, path);
    let before = read_optional(path)?;
    let ours = |text: &str| {
        saved
            .files
            .iter()
            .find(|(f, _)| f.path == shown)
            .map_or(overlay::is_overlay(text), |(f, _)| f.untouched(text))
    };
    let status = match &before {
        None => Status::Create,
        Some(b) if *b == planned.text => Status::Unchanged,
        Some(b) if ours(b) => Status::Update,
        Some(_) => Status::Kept,
    };
    if status == Status::Kept {
        plan.conflicts.push(FileConflict {
            file: shown.clone(),
            conflict: Conflict {
                service: None,
                what: "it is not the overlay obs-init wrote (changed since, or another file)"
                    .into(),
                line: None,
            },
            kept_either_way: false,
        });
    }
    for conflict in planned.conflicts {
        plan.conflicts.push(FileConflict {
            file: shown.clone(),
            conflict,
            kept_either_way: false,
        });
    }
    // Writing obs-init's values over the conflicts: the overlay with its values, over
    // whatever the file holds (`Plan::overwrite` takes it, and marks the file updated).
    if status == Status::Kept || planned.overwritten.is_some() {
        let over = planned
            .overwritten
            .clone()
            .unwrap_or_else(|| planned.text.clone());
        plan.alternatives.push((path.to_path_buf(), over));
    }
    plan.notes.push(Note {
        service: None,
        message: format!(
            "onboarded in the overlay {shown}: the compose file is not changed (`docker compose \
             config` shows the two merged)"
        ),
        kind: NoteKind::Decided,
    });
    plan.push(FileChange {
        display: shown,
        path: path.to_path_buf(),
        before,
        after: planned.text,
        status,
    });
    Ok(())
}

/// `.env` beside the compose file with the overlay added to `COMPOSE_FILE` (`Ok(None)`: it
/// lists it already); `Err` says why it is left alone.
fn env_change(
    opts: &Options,
    compose_path: &Path,
    overlay_path: &Path,
) -> Result<Result<Option<FileChange>, String>, Error> {
    let dir = compose_dir(compose_path);
    let path = dir.join(".env");
    if path.is_symlink() {
        return Ok(Err(".env is a symlink".into()));
    }
    // COMPOSE_FILE in a file services load with `env_file` would enter their containers'
    // environment; in a file git ignores, the team would never load the overlay.
    let users = overlay::env_file_users(&read_text(compose_path)?, ".env");
    if !users.is_empty() {
        return Ok(Err(format!(
            ".env is the env_file of {}, so COMPOSE_FILE there would enter {} containers' \
             environment",
            users.join(", "),
            if users.len() == 1 { "its" } else { "their" }
        )));
    }
    if crate::git::ignored(&path) {
        return Ok(Err(
            ".env is ignored by git, so whoever clones the project would not load the overlay"
                .into(),
        ));
    }
    let before = read_optional(&path)?;
    let relative = |p: &Path| {
        absolute(p)
            .strip_prefix(absolute(&dir))
            .map(|r| r.to_string_lossy().replace('\\', "/"))
            .unwrap_or_else(|_| p.to_string_lossy().into_owned())
    };
    // What Compose loaded before: the file, and the override beside it unless a file was
    // named (`-f` turns the override off, and so does COMPOSE_FILE).
    let mut loaded = vec![relative(compose_path)];
    if opts.file.is_none()
        && let Some(name) = crate::dotenv::OVERRIDE_NAMES
            .iter()
            .find(|n| dir.join(n).is_file())
    {
        loaded.push((*name).to_string());
    }
    Ok(
        crate::dotenv::add_compose_file(before.as_deref(), &loaded, &relative(overlay_path)).map(
            |after| {
                after.map(|after| FileChange {
                    display: display(&opts.dir, &path),
                    status: if before.is_some() {
                        Status::Update
                    } else {
                        Status::Create
                    },
                    path,
                    before,
                    after,
                })
            },
        ),
    )
}

/// `docker compose up` for the onboarded apps and their sidecars, as pasted from where
/// obs-init was run. Without `-f`, Compose's own discovery is kept (so that an override file
/// still applies): the command runs in the project's folder instead of naming the file.
fn start_command(
    opts: &Options,
    compose_path: &Path,
    files: Option<&[PathBuf]>,
    services: &[String],
    adopted: &[compose::Adopted],
    build: bool,
) -> String {
    let sidecar = |s: &String| {
        adopted
            .iter()
            .find(|a| &a.service == s)
            .map_or_else(|| compose::sidecar_name(s), |a| a.sidecar.clone())
    };
    let names: Vec<String> = services
        .iter()
        .flat_map(|s| [s.clone(), sidecar(s)])
        .map(|n| shell_word(&n))
        .collect();
    let up = format!(
        "up -d {}{}",
        if build { "--build " } else { "" },
        names.join(" ")
    );
    if let Some(files) = files {
        // The files in order, as Compose merges them, from the project directory.
        let flags: Vec<String> = files
            .iter()
            .map(|f| format!("-f {}", shell_word(&display(&opts.dir, f))))
            .collect();
        let command = format!("docker compose {} {up}", flags.join(" "));
        return if opts.dir == Path::new(".") {
            command
        } else {
            format!(
                "cd {} && {command}",
                shell_word(&opts.dir.to_string_lossy())
            )
        };
    }
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
}
