//! Planning the onboarding: the choices (flags, the answers file, the prompter, detection),
//! then every file's change, verified, and the record of it all.

use crate::compose::NoteKind;
use std::path::{Path, PathBuf};

use super::dagster::{code_file, handler_import, instance_file, plan_dagster};
use super::{
    DEFAULT_DAPR_VERSION, FileChange, Options, Plan, Prompter, Status, absolute, answers_change,
    asked, check_inside_dir, compose_dir, display, find_compose, generated_change, joined,
    mount_source, overwrite_conflicts, own_files, read_answers, read_optional, read_text,
    record_file,
};
use crate::answers::{self, Answers, ServiceAnswers};
use crate::compose::{self, ComposeOptions, Note, overlay};
use crate::conflict::{Conflict, FileConflict};
use crate::contract;
use crate::dapr;
use crate::deps::{self, PyprojectError, Requirement};
use crate::detect::{self, Framework};
use crate::error::Error;
use crate::interpreter;
use crate::python::{self, Entry, Ownership};

/// Builds the plan: reads the files, decides, verifies. Writes nothing.
pub fn plan<'p>(
    opts: &Options,
    mut prompter: Option<&mut (dyn Prompter + 'p)>,
) -> Result<Plan, Error> {
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
    let in_file = |source| Error::Compose {
        path: compose_path.clone(),
        source,
    };
    let (_, doc) = compose::parse(&content).map_err(in_file)?;
    let svc = compose::services(&doc).map_err(in_file)?;
    let overlay = overlay_mode(opts, &compose_path, &saved)?;

    let mut skipped = Vec::new();
    let mut detected: Vec<(String, detect::Detection)> = Vec::new();
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
            // `--yes` onboards what obs-init can instrument: the Python services. Others get
            // the sidecar and the variables only when named.
            None if opts.yes && !built.is_empty() => {
                let (python, other): (Vec<String>, Vec<String>) =
                    built.iter().cloned().partition(|name| {
                        if !opts.frameworks.is_empty()
                            || saved
                                .service(name)
                                .is_some_and(|r| !r.frameworks.is_empty())
                        {
                            return true;
                        }
                        // Kept for the service's own planning below: the scan is done once.
                        let info = compose::service_info(&doc, svc, name);
                        let (context, _) = build_context(opts, &compose_path, &info);
                        let found = detect_service(opts, &info, context.as_deref());
                        let python = !found.found.is_empty();
                        detected.push((name.clone(), found));
                        python
                    });
                if python.is_empty() {
                    return Err(Error::NoPythonService { candidates: other });
                }
                for name in &other {
                    skipped.push(Note {
                        service: Some(name.clone()),
                        message: "not onboarded: --yes takes the Python services, and none was \
                                  found in its build context or command (name it with --service \
                                  for the sidecar and the variables alone)"
                            .into(),
                        kind: NoteKind::Info,
                    });
                }
                python
            }
            None => {
                return Err(Error::NoServiceChosen {
                    candidates: if built.is_empty() { others } else { built },
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
        return Err(Error::NoServiceChosen { candidates: vec![] });
    }
    compose::check_names(svc, &services).map_err(in_file)?;

    let mut notes = skipped;
    let mut targets = Vec::new();
    for name in &services {
        let info = compose::service_info(&doc, svc, name);
        let (context, outside) = build_context(opts, &compose_path, &info);
        let remembered = saved.service(name);
        let app_port = match (opts.app_port, remembered.and_then(|r| r.app_port)) {
            (Some(p), _) | (None, Some(p)) => Some(p),
            (None, None) => match prompter.as_deref_mut() {
                Some(p) => p.app_port(name, info.suggested_port).map_err(asked)?,
                None => {
                    if let (Some(port), Some(source)) = (info.suggested_port, info.port_source) {
                        notes.push(Note {
                            service: Some(name.clone()),
                            message: compose::inferred_port_note(port, source),
                            kind: NoteKind::Decided,
                        });
                    }
                    info.suggested_port
                }
            },
        };
        let frameworks = if !opts.frameworks.is_empty() {
            opts.frameworks.clone()
        } else if let Some(r) = remembered.filter(|r| !r.frameworks.is_empty()) {
            r.frameworks.clone()
        } else {
            let found = match detected.iter().position(|(n, _)| n == name) {
                Some(i) => detected.swap_remove(i).1,
                None => detect_service(opts, &info, context.as_deref()),
            };
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
        let python = context.as_deref().and_then(|c| {
            interpreter::detect(c, info.dockerfile.as_deref(), info.image.as_deref())
        });
        let image = context
            .as_deref()
            .and_then(|c| read_image(c, info.dockerfile.as_deref()));
        targets.push(Target {
            service: name.clone(),
            context,
            outside,
            frameworks,
            app_port,
            python,
            image,
            dockerfile: info.dockerfile,
            commands: info.commands,
            binds: info.binds,
            environment: info.environment,
        });
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
    })
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

/// What a service runs, from its compose definition and the code in its build context.
fn detect_service(
    opts: &Options,
    info: &compose::ServiceInfo,
    context: Option<&Path>,
) -> detect::Detection {
    detect::detect(
        info.image.as_deref(),
        &info.commands,
        &info.environment,
        context,
        &opts.dir,
    )
}

/// A plan before its record: the compose edits for either choice over the conflicts.
struct Built {
    plan: Plan,
    /// The compose file's changes keeping the project's values.
    changes: Vec<crate::yaml::splice::Change>,
    /// Its changes writing obs-init's over them, when there are conflicts.
    overwritten: Option<Vec<crate::yaml::splice::Change>>,
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
    let in_file = |source| Error::Compose {
        path: compose_path.clone(),
        source,
    };
    let compose_dir = compose_dir(&compose_path);

    let config_path = opts
        .dapr_config
        .clone()
        .unwrap_or_else(|| contract::default_dapr_config(&opts.dir));
    let config_source = mount_source(&absolute(&compose_dir), &absolute(&config_path));
    // Where each module goes is settled first: Dagster's handler decides compose variables.
    let located: Vec<(Option<PathBuf>, Vec<Note>)> = targets
        .iter()
        .map(|t| {
            let mut notes = Vec::new();
            let module = wants_module(opts, t)
                .then(|| locate_module(opts, t, &mut notes))
                .flatten();
            (module, notes)
        })
        .collect();
    let handler_module = targets
        .iter()
        .zip(&located)
        .find(|(t, _)| t.frameworks.contains(&Framework::Dagster))
        .and_then(|(t, (m, _))| m.clone().map(|m| (m, t.service.clone())));
    let handler = handler_module
        .as_ref()
        .map(|(m, _)| handler_import(&compose_dir, targets, m))
        .unwrap_or_default();
    let mut extra_env: Vec<(String, Vec<(String, String)>)> = targets
        .iter()
        .filter(|t| t.frameworks.contains(&Framework::Mlflow))
        .map(|t| (t.service.clone(), contract::mlflow_env()))
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
    };
    let (outcome, overlay) = match &ctx.overlay {
        None => (
            compose::onboard(&content, &compose_opts).map_err(in_file)?,
            None,
        ),
        Some(path) => {
            let planned = overlay::overlay(&content, &compose_opts).map_err(in_file)?;
            let outcome = compose::ComposeOutcome {
                after: content.clone(),
                changes: Vec::new(),
                notes: planned.notes.clone(),
                conflicts: Vec::new(),
                overwritten: None,
            };
            (outcome, Some((path.clone(), planned)))
        }
    };

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
    let start = format!(
        "start the app with its sidecar: {}",
        start_command(opts, &compose_path, with_files.as_deref(), &services)
    );
    let mut plan = Plan {
        compose_file: compose_path.clone(),
        services,
        files: Vec::new(),
        notes,
        next_steps: vec![
            format!(
                "make sure the platform network exists on this host: docker network create {}",
                compose::NETWORK
            ),
            start,
        ],
        conflicts: outcome
            .conflicts
            .into_iter()
            .map(|conflict| FileConflict {
                file: compose_display.clone(),
                conflict,
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
    };
    plan.push(FileChange {
        display: display(&opts.dir, &compose_path),
        path: compose_path.clone(),
        status: if outcome.after == content {
            Status::Unchanged
        } else {
            Status::Update
        },
        before: Some(content.clone()),
        after: outcome.after,
    });
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
    let config = config_change(opts, &config_path, &mut plan.conflicts)?;
    plan.push(config);
    for (target, (module, module_notes)) in targets.iter().zip(located) {
        plan_python(opts, target, module, module_notes, &mut plan)?;
    }
    if targets
        .iter()
        .any(|t| t.frameworks.contains(&Framework::Dagster))
    {
        match (&handler_module, handler.refused) {
            (Some(_), Some(refused)) => plan.notes.push(Note {
                service: None,
                message: refused,
                kind: NoteKind::Action,
            }),
            (Some((module, service)), None) => {
                let instance = instance_file(&compose_dir, targets);
                plan_dagster(opts, module, service, handler.run_env, instance, &mut plan)?
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
    Ok(Built {
        plan,
        changes: outcome.changes,
        overwritten: outcome.overwritten.map(|o| o.changes),
    })
}

/// Adds the answers file to `plan`: the choices, and the record of what the plan does.
fn record(
    opts: &Options,
    ctx: &Resolved,
    plan: &mut Plan,
    changes: &[crate::yaml::splice::Change],
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
    record_compose(&mut record, &compose_rel, plan, changes, content);
    if let Some(c) = record.composes.iter_mut().find(|c| c.path == compose_rel) {
        c.overlay = ctx.overlay.as_ref().map(|o| display(&opts.dir, o));
    }
    record_files(opts, plan, compose_path, &compose_rel, &mut record);
    if record.original.is_none() && saved.composes.is_empty() {
        // A user's own answers file, before obs-init first wrote to it.
        record.original = answers_text.clone();
    }
    record.dapr_version = Some(dapr_version.clone());
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
    plan: &Plan,
    changes: &[crate::yaml::splice::Change],
    before: &str,
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
    for s in &plan.services {
        if !c.services.contains(s) {
            c.services.push(s.clone());
        }
    }
    let after = plan.files.first().map_or(before, |f| f.after.as_str());
    c.text = original_known.then(|| joined(c.text.as_ref(), rel, Some(before), after));
}

/// Joins what this plan does to every file but the compose file and the answers file to the
/// record, with the services that need each.
fn record_files(
    opts: &Options,
    plan: &Plan,
    compose_path: &Path,
    compose_rel: &str,
    record: &mut Answers,
) {
    for change in plan.files.iter().filter(|c| c.path != compose_path) {
        let needers = plan
            .services
            .iter()
            .map(|s| answers::needer(compose_rel, s));
        record_file(record, &display(&opts.dir, &change.path), change, needers);
    }
}

/// The build context (absolute) and the final stage of its Dockerfile (`dockerfile`,
/// relative to the context, else `Dockerfile`), read once for a target.
pub(super) fn read_image(
    context: &Path,
    dockerfile: Option<&str>,
) -> Option<(PathBuf, crate::dockerfile::Stage)> {
    let context = absolute(context);
    let text = std::fs::read_to_string(context.join(dockerfile.unwrap_or("Dockerfile"))).ok()?;
    Some((context, crate::dockerfile::final_stage(&text)))
}

/// One service to onboard, with what planning learnt of it.
pub(super) struct Target {
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
pub(super) fn python_side(opts: &Options, target: &Target, plan: &mut Plan) -> Result<(), Error> {
    let mut notes = Vec::new();
    let module = wants_module(opts, target)
        .then(|| locate_module(opts, target, &mut notes))
        .flatten();
    plan_python(opts, target, module, notes, plan)
}

/// The Python side of one service: the module next to its code, and its dependencies.
/// Returns where the module goes, when it does.
fn plan_python(
    opts: &Options,
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
    if target.frameworks.contains(&Framework::Django)
        && target
            .commands
            .iter()
            .any(|c| c.contains("runserver") && !c.contains("--noreload"))
    {
        // The reloader's parent is the container's main process: `docker compose stop`
        // ends it, and the child serving the requests dies with the container, unflushed.
        plan.notes.push(Note {
            service: Some(target.service.clone()),
            message: "manage.py runserver serves from its autoreloader's child process, \
                      which is killed unflushed when the container stops: the last seconds \
                      of spans and logs are lost; add --noreload to the command (or serve \
                      with gunicorn)"
                .into(),
            kind: NoteKind::Action,
        });
    }
    let wanted = match &module_path {
        Some(path) => {
            plan_module(opts, target, path, plan)?;
            wanted_for(line, &target.frameworks)
        }
        // MLflow exports its own traces; it only lacks the gRPC exporter package.
        None if target.frameworks.contains(&Framework::Mlflow) => vec![line.exporter],
        None => Vec::new(),
    };
    if !wanted.is_empty() {
        let module_dir = module_path.as_deref().and_then(Path::parent);
        plan_deps(opts, target, module_dir, line, &wanted, plan)?;
    }
    Ok(())
}

/// Whether the service gets the Python side: it runs Python obs-init knows, or
/// `--module-path` says where the module goes.
fn wants_module(opts: &Options, target: &Target) -> bool {
    !target.frameworks.is_empty() || opts.module_path.is_some()
}

/// Where `setup_observability.py` goes: `--module-path`, else beside the entry point found
/// in the build context. `None` (with a note saying why) when that is not clear.
fn locate_module(opts: &Options, target: &Target, notes: &mut Vec<Note>) -> Option<PathBuf> {
    let mut note = |kind: NoteKind, message: String| {
        notes.push(Note {
            service: Some(target.service.clone()),
            message,
            kind,
        })
    };
    let entry_names = contract::entry_points(
        target.frameworks.contains(&Framework::Dagster),
        target.frameworks.contains(&Framework::Django),
    );
    // Where Dagster is told to load the code from beats any search.
    if opts.module_path.is_none()
        && target.frameworks.contains(&Framework::Dagster)
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
                    crate::error::shown(target.outside.as_deref().unwrap_or(Path::new(""))),
                    crate::error::shown(&opts.dir)
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
            if target.frameworks.contains(&Framework::Celery)
                && python::web_app(&target.frameworks).is_none()
                && matches!(python::find_entry(ctx, entry_names), Entry::None)
                && let Some(app) = python::celery_app_file(ctx, &target.commands) =>
        {
            note(
                NoteKind::Decided,
                format!(
                    "celery -A loads the app from {}: the module goes beside it",
                    display(&opts.dir, &app)
                ),
            );
            Some(app.with_file_name(python::MODULE_FILE))
        }
        // A plain Python service: the script its container runs (`python email_server.py`).
        (None, Some(ctx))
            if python::web_app(&target.frameworks).is_none()
                && !target.frameworks.contains(&Framework::Dagster)
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
            Entry::None if target.frameworks.contains(&Framework::Dagster) => {
                match python::find_dagster_definitions(ctx) {
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
                        let list: Vec<String> =
                            found.iter().map(|p| display(&opts.dir, p)).collect();
                        note(
                            NoteKind::Action,
                            format!(
                                "Dagster definitions in several folders ({}); pass --module-path \
                             to say where setup_observability.py goes",
                                list.join(", ")
                            ),
                        );
                        None
                    }
                    Entry::None => {
                        note(
                            NoteKind::Action,
                            format!(
                                "no Dagster definitions (Definitions, @repository, @job, @asset) \
                             in {}: no Python module written (pass --module-path to add one)",
                                display(&opts.dir, ctx)
                            ),
                        );
                        None
                    }
                }
            }
            Entry::Found(entry) => Some(entry.with_file_name(python::MODULE_FILE)),
            Entry::Ambiguous(found) => {
                let list: Vec<String> = found.iter().map(|p| display(&opts.dir, p)).collect();
                note(
                    NoteKind::Action,
                    format!(
                        "several entry points ({}); pass --module-path to say where \
                     setup_observability.py goes",
                        list.join(", ")
                    ),
                );
                None
            }
            Entry::None => {
                note(
                    NoteKind::Action,
                    format!(
                        "no {} in {}: no Python module written (pass --module-path to add one)",
                        entry_names.join(" or "),
                        display(&opts.dir, ctx)
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
fn script_run(target: &Target, ctx: &Path) -> Option<(PathBuf, String)> {
    let stage = target.image.as_ref().map(|(_, s)| s);
    for command in super::dagster::run_commands(target) {
        let words: Vec<&str> = command.split_whitespace().collect();
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

/// The module itself, and how the app is to use it (edited in, or told as a next step).
fn plan_module(
    opts: &Options,
    target: &Target,
    module_path: &Path,
    plan: &mut Plan,
) -> Result<(), Error> {
    let service = &target.service;
    let module = module_change(opts, module_path)?;
    let module_dir = module_path.parent().unwrap_or(Path::new("."));
    if module.status == Status::Kept {
        plan.conflicts.push(FileConflict {
            file: module.display.clone(),
            conflict: Conflict {
                service: Some(service.clone()),
                what: "it was changed by hand (--dry-run shows how it differs)".into(),
                line: None,
            },
        });
    }
    plan.push(module);

    let web = python::web_app(&target.frameworks);
    let import = python::import_line(
        module_dir,
        web.map_or("setup_observability", |w| w.instrument),
    );
    // The entry point the module was put beside; a Django project serves both of its
    // application modules (wsgi.py and asgi.py), so both are edited.
    let django = target.frameworks.contains(&Framework::Django);
    let mut entries = contract::entry_points(false, django)
        .iter()
        .map(|n| module_dir.join(n))
        .filter(|p| p.is_file());
    let entries: Vec<PathBuf> = if django {
        entries.collect()
    } else {
        entries.next().into_iter().collect()
    };
    let entry = entries
        .first()
        .cloned()
        .unwrap_or_else(|| module_dir.join("main.py"));
    if let Some(web) = web.filter(|_| opts.edit_entrypoint && !entries.is_empty()) {
        for entry in &entries {
            plan_entry_edit(opts, service, entry, &import, web, plan)?;
        }
    } else if let Some(web) = web {
        // With one entry point found, the terminal flow offers to make the edit itself.
        if !entries.is_empty() {
            plan.entry_points
                .extend(entries.iter().map(|e| display(&opts.dir, e)));
        }
        let (place, call) = if web.before {
            ("before", format!("{}()", web.instrument))
        } else {
            ("after", format!("{}(app)", web.instrument))
        };
        let step = format!(
            "add to {}, {place} `{} = {}(...)`:\n       {import}\n       \
             {call}\n     (or run again with --edit-entrypoint; it also flushes at shutdown)",
            display(&opts.dir, &entry),
            if web.before { "application" } else { "app" },
            web.constructors[0],
        );
        push_step_once(plan, service, step);
    }
    let celery_app = target
        .frameworks
        .contains(&Framework::Celery)
        .then(|| python::find_app_module(module_dir, python::CELERY))
        .flatten();
    if let Some(app_module) = celery_app.clone().filter(|_| opts.edit_entrypoint) {
        let import = python::import_line(module_dir, python::CELERY.instrument);
        plan_entry_edit(opts, service, &app_module, &import, python::CELERY, plan)?;
    } else if target.frameworks.contains(&Framework::Celery) {
        let import = python::import_line(module_dir, python::CELERY.instrument);
        let (module, again) = match &celery_app {
            Some(found) => (
                display(&opts.dir, found),
                "; or run again with --edit-entrypoint",
            ),
            None => (
                "the module that builds the Celery app (the one `celery -A` names)".to_string(),
                "",
            ),
        };
        let step = format!(
            "add to {module}, after `app = Celery(...)`:\n       {import}\n       \
             instrument_celery(app)\n     (each worker process sets up after the fork and \
             flushes when it stops; tasks continue the trace of whoever started them{again})"
        );
        push_step_once(plan, service, step);
    } else if web.is_none() && !target.frameworks.contains(&Framework::Dagster) {
        plan.next_steps.push(format!(
            "{service}: call setup_observability() at start-up, next to {}: {import}",
            display(&opts.dir, module_dir)
        ));
    }
    Ok(())
}

/// Plans inserting `import` and `web`'s instrument call into `entry`, or notes why not.
fn plan_entry_edit(
    opts: &Options,
    service: &str,
    entry: &Path,
    import: &str,
    web: python::WebApp,
    plan: &mut Plan,
) -> Result<(), Error> {
    let dir = entry.parent().unwrap_or(Path::new("."));
    // isort's first party: modules beside the entry point.
    let local =
        |m: &str| !m.is_empty() && (dir.join(format!("{m}.py")).is_file() || dir.join(m).is_dir());
    let source = read_text(entry)?;
    match python::edit_entry(&source, import, web, &local) {
        Ok(None) => {}
        Ok(Some(after)) => plan.push(FileChange {
            path: entry.to_path_buf(),
            display: display(&opts.dir, entry),
            before: Some(source),
            after,
            status: Status::Update,
        }),
        Err(why) => plan.notes.push(Note {
            service: Some(service.to_string()),
            message: format!("{} was not edited: {why}", display(&opts.dir, entry)),
            kind: NoteKind::Action,
        }),
    }
    Ok(())
}

/// Adds `service: step` unless another service already has the same step: services built
/// from one folder (a web app and its worker) share the module and its edits.
fn push_step_once(plan: &mut Plan, service: &str, step: String) {
    if !plan.next_steps.iter().any(|s| s.ends_with(&step)) {
        plan.next_steps.push(format!("{service}: {step}"));
    }
}

/// The packages, added to the first requirements.txt or pyproject.toml found in the build
/// context, the project directory or beside the module.
fn plan_deps(
    opts: &Options,
    target: &Target,
    module_dir: Option<&Path>,
    line: &deps::Line,
    wanted: &[Requirement],
    plan: &mut Plan,
) -> Result<(), Error> {
    // Nearest the code first: the module's folder and those above it up to the build
    // context (a workspace member's pyproject.toml), then the context and the project.
    let above_module: Vec<PathBuf> = match (module_dir, target.context.as_deref()) {
        (Some(m), Some(ctx)) if absolute(m).starts_with(absolute(ctx)) => m
            .ancestors()
            .take_while(|a| absolute(a).starts_with(absolute(ctx)) && absolute(a) != absolute(ctx))
            .map(Path::to_path_buf)
            .collect(),
        _ => Vec::new(),
    };
    let search: Vec<PathBuf> = above_module
        .into_iter()
        .chain(target.context.iter().cloned())
        .chain(std::iter::once(opts.dir.clone()))
        .chain(module_dir.map(Path::to_path_buf))
        .collect();
    let deps_file = deps::first_manifest(search.iter().map(PathBuf::as_path));
    let specs = || {
        wanted
            .iter()
            .map(Requirement::spec)
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut note = |message: String| {
        plan.notes.push(Note {
            service: Some(target.service.clone()),
            message,
            kind: NoteKind::Action,
        });
    };
    let Some(found) = deps_file else {
        note(format!(
            "no requirements.txt or pyproject.toml found: install {}",
            specs()
        ));
        return Ok(());
    };
    let manifest = match manifest_of(&found)? {
        Manifest::Itself => found,
        Manifest::Source(source) => {
            note(format!(
                "{} is compiled from {}: the packages go there, then it is compiled again",
                display(&opts.dir, &found),
                display(&opts.dir, &source)
            ));
            source
        }
        Manifest::Unknown(why) => {
            note(format!(
                "{} {why}: not edited; add {} to the file it is compiled from and compile \
                 it again (or add them here with their hashes)",
                display(&opts.dir, &found),
                specs()
            ));
            return Ok(());
        }
    };
    // A project that pins an older OpenTelemetry release gets the lines that resolve beside
    // it: lower bounds above the pin make the resolver refuse the whole file.
    let pinned = deps::pinned_release(&read_text(&manifest)?)
        .filter(|(_, sdk)| *sdk < line.sdk_version())
        .and_then(|(pin, sdk)| Some((pin, sdk, deps::line_for_pin(sdk)?)));
    let wanted: Vec<Requirement> = match pinned {
        Some((pin, sdk, older)) => {
            plan.notes.push(Note {
                service: Some(target.service.clone()),
                message: format!(
                    "{} pins {pin} (SDK {sdk}): the packages added are the ones that resolve \
                     beside it, from SDK {}{}",
                    display(&opts.dir, &manifest),
                    older.sdk.min,
                    if older.logging.is_none() {
                        " (below 1.40 the module uses the SDK's own log handler)"
                    } else {
                        ""
                    }
                ),
                kind: NoteKind::Decided,
            });
            wanted
                .iter()
                .filter_map(|r| older.same_package(r.name))
                .collect()
        }
        None => wanted.to_vec(),
    };
    let change = deps_change(opts, &manifest, &wanted)?;
    let names: Vec<String> = wanted.iter().map(|r| r.name.to_string()).collect();
    plan.push_relocks(crate::lock::needed(
        &manifest,
        change.status == Status::Update,
        &names,
    ));
    plan.push(change);
    Ok(())
}

/// The file the packages go in, when a requirements.txt is not itself the place.
enum Manifest {
    Itself,
    /// A compiled file's source (pip-tools' requirements.in, or a pyproject.toml).
    Source(PathBuf),
    /// A file no added line would survive in, and why.
    Unknown(&'static str),
}

fn manifest_of(found: &Path) -> Result<Manifest, Error> {
    if found.extension().is_some_and(|e| e == "toml") {
        return Ok(Manifest::Itself);
    }
    let content = read_text(found)?;
    Ok(match crate::lock::compiled_from(found, &content) {
        Some(Some(source)) => Manifest::Source(source),
        // The next compile would drop the lines, and with hashes pip refuses them already.
        Some(None) => Manifest::Unknown("is compiled from a file not found beside it"),
        None if content.contains("--hash") => {
            Manifest::Unknown("pins hashes, and pip's hash-checking mode refuses lines without one")
        }
        None => Manifest::Itself,
    })
}

/// The packages to add (FastAPI apps get its instrumentation too).
fn wanted_for(line: &deps::Line, frameworks: &[Framework]) -> Vec<Requirement> {
    let mut wanted = line.base();
    if frameworks.contains(&Framework::FastApi) {
        wanted.push(line.fastapi);
    }
    if frameworks.contains(&Framework::Flask) {
        wanted.push(line.flask);
    }
    if frameworks.contains(&Framework::Django) {
        wanted.push(line.django);
        wanted.push(line.asgi);
    }
    if frameworks.contains(&Framework::Celery) {
        wanted.push(line.celery);
    }
    wanted
}

/// The OpenTelemetry line that installs on the service's Python; an older line is noted,
/// a Python no line supports refused.
fn python_line(target: &Target, notes: &mut Vec<Note>) -> Result<&'static deps::Line, Error> {
    let version = target.python.as_ref().map(|f| f.version);
    let Some(line) = deps::line_for(version) else {
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
    if let Some(found) = target.python.as_ref().filter(|_| *line != deps::LINES[0]) {
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

fn deps_change(opts: &Options, path: &Path, wanted: &[Requirement]) -> Result<FileChange, Error> {
    let content = read_text(path)?;
    let is_toml = path.extension().is_some_and(|e| e == "toml");
    let after = if is_toml {
        deps::add_to_pyproject(&content, wanted).map_err(|e| Error::Manifest {
            path: path.to_path_buf(),
            reason: match e {
                PyprojectError::Invalid(m) => format!("it is not valid TOML: {m}"),
                PyprojectError::NoDependencyTable => {
                    "it has neither [project] nor [tool.poetry.dependencies]".into()
                }
            },
        })?
    } else {
        deps::add_to_requirements(&content, wanted)
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
        });
    }
    for conflict in planned.conflicts {
        plan.conflicts.push(FileConflict {
            file: shown.clone(),
            conflict,
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
) -> String {
    let names: Vec<String> = services
        .iter()
        .flat_map(|s| [s.clone(), compose::sidecar_name(s)])
        .map(|n| shell_word(&n))
        .collect();
    let up = format!("up -d {}", names.join(" "));
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

/// `word` as a POSIX shell reads it back: as is when it is safe, else single-quoted.
fn shell_word(word: &str) -> String {
    let safe = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./:=@+,".contains(c));
    if safe {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
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
