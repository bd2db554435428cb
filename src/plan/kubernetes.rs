//! The plan for `obs-init kubernetes`: the manifests' workloads onboarded, a Dapr
//! `Configuration` beside them (in each workload's namespace) added to the folder's
//! kustomization, and the record of it all, so that `--remove` gives every byte back.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::python::{self, Container, PythonOptions, Target};
use super::{FileChange, Plan, Status, generated_change};
use crate::answers::{self, Answers};
use crate::compose::{Note, NoteKind};
use crate::conflict::FileConflict;
use crate::error::{Error, Refusal};
use crate::files::read_text;
use crate::kubernetes::onboard::App;
use crate::kubernetes::{
    CONFIG_FILE, CONFIG_NAME, images, kustomize, onboard, patch, render, survives,
};
use crate::paths::{absolute, display};
use crate::yaml::emit::{Layout, NewNode};
use crate::yaml::splice::Editor;

#[derive(Debug, Clone)]
pub struct KubernetesOptions {
    pub dir: PathBuf,
    /// The manifests to onboard; empty: every manifest with workloads below `dir`.
    pub files: Vec<PathBuf>,
    /// The workloads (`Kind/name` or `name`); empty: every one found.
    pub workloads: Vec<String>,
    /// The collector's `host:port` inside the cluster.
    pub collector: String,
    /// Where the onboarding goes when the manifests are a kustomize base of overlays.
    pub mode: KustomizeMode,
    /// Build contexts named on the command line: (`Kind/name` or `name`, folder).
    pub contexts: Vec<(String, PathBuf)>,
    /// Insert the instrumentation lines into the entry points.
    pub edit_entrypoint: bool,
    /// MLflow before 3.4 (no dual export): send its traces to the collector instead of the
    /// MLflow server.
    pub mlflow_otlp: bool,
}

/// Where onboarding goes in a kustomize project whose manifests overlays build on: into
/// the base's manifests, or as a patch in chosen overlays, never both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KustomizeMode {
    /// Not chosen: taken from the record, else asked for when overlays build on the base.
    Unset,
    /// Edit the manifests themselves: every overlay gets the onboarding.
    EditBase,
    /// Leave the base alone: a patch, the Configuration and the kustomization entries in
    /// each of these overlay folders.
    PatchOverlays(Vec<PathBuf>),
}

/// How the record names a workload among the needers of a file: `k8s:<manifest>:<Kind/name>`.
fn needer(manifest: &str, workload: &str) -> String {
    format!("{NEEDER_PREFIX}{manifest}:{workload}")
}

const NEEDER_PREFIX: &str = "k8s:";

/// Whether a needer in the record is a manifest's workload (not a compose service).
pub fn is_workload_needer(needer: &str) -> bool {
    needer.starts_with(NEEDER_PREFIX)
}

fn is_manifest_name(name: &str) -> bool {
    (name.ends_with(".yaml") || name.ends_with(".yml"))
        && !name.starts_with("kustomization.")
        && name != CONFIG_FILE
}

/// The manifests below `dir` with workloads (patches and templates aside, read lazily by
/// their callers): what `obs-init kubernetes` onboards without `-f`.
pub fn manifest_files(dir: &Path) -> Vec<PathBuf> {
    let project = kustomize::Project::scan(dir).unwrap_or_default();
    manifests_below(&project, dir)
        .into_iter()
        .filter(|f| {
            std::fs::read_to_string(f)
                .ok()
                .and_then(|t| crate::kubernetes::workloads(&t).ok())
                .is_some_and(|w| !w.is_empty())
        })
        .collect()
}

/// The YAML files below `folder` that may hold workloads: not kustomizations, not obs-init's
/// Configuration, not a kustomization's patches or transformer configurations.
fn manifests_below(project: &kustomize::Project, folder: &Path) -> Vec<PathBuf> {
    crate::detect::find_files_where(folder, is_manifest_name)
        .into_iter()
        .filter(|f| !project.is_not_resource(f) && (helm_chart_of(f).is_none()))
        .collect()
}

/// The Helm chart whose template `file` is (`CHART/templates/...` beside `CHART/Chart.yaml`):
/// Helm renders it, so it is no manifest until then.
fn helm_chart_of(file: &Path) -> Option<&Path> {
    file.ancestors()
        .skip(1)
        .find(|d| d.file_name().is_some_and(|n| n == "templates"))
        .and_then(Path::parent)
        .filter(|chart| chart.join("Chart.yaml").is_file())
}

/// One note per Helm chart below `dir`, whose templates the search passed over.
fn helm_chart_notes(dir: &Path) -> Vec<Note> {
    crate::detect::find_files_where(dir, |n| n == "Chart.yaml")
        .into_iter()
        .filter_map(|c| c.parent().map(Path::to_path_buf))
        .filter(|chart| chart.join("templates").is_dir())
        .map(|chart| Note {
            service: None,
            message: format!(
                "{} is a Helm chart: its templates are not onboarded (Helm renders them); \
                 onboard the rendered manifests (helm template ... > FILE, then obs-init \
                 kubernetes -f FILE), or set the Dapr annotations through its values",
                display(dir, &chart)
            ),
            kind: NoteKind::Info,
        })
        .collect()
}

pub fn plan_kubernetes(opts: &KubernetesOptions) -> Result<Plan, Error> {
    let named_workloads = opts.workloads.clone();
    let project = kustomize::Project::scan(&opts.dir)?;
    let named = !opts.files.is_empty();
    // A folder named with --file stands for the manifests in it.
    let files: Vec<PathBuf> = if named {
        opts.files
            .iter()
            .map(|f| opts.dir.join(f))
            .flat_map(|f| {
                if f.is_dir() {
                    manifests_below(&project, &f)
                } else {
                    vec![f]
                }
            })
            .collect()
    } else {
        manifests_below(&project, &opts.dir)
    };
    let saved = super::read_answers(&opts.dir)?.map(|(a, _)| a);
    // The build contexts named before count as named again (the flag wins), and an OTLP
    // export asked for an MLflow before 3.4 is asked again.
    let mut opts = opts.clone();
    opts.mlflow_otlp |= saved.as_ref().is_some_and(|a| a.mlflow_otlp);
    for (name, dir) in saved.iter().flat_map(|a| &a.contexts) {
        if !opts.contexts.iter().any(|(n, _)| n == name) {
            opts.contexts.push((name.clone(), PathBuf::from(dir)));
        }
    }
    // Where the images are built, read once: it decides the workloads, their variables
    // and their Python side.
    let built = images::built_images(&opts.dir);
    let (opts, left_out, apps) = default_workloads(&opts, &files, &built)?;
    let extra = framework_env(&opts, &apps, &built);
    let mut plan = match mode(&opts, &project, &files, saved.as_ref())? {
        KustomizeMode::PatchOverlays(overlays) => {
            plan_patches(&opts, &project, &overlays, &extra, &built, &named_workloads)?
        }
        _ => plan_in_place(&opts, &project, &files, &extra, &built, &named_workloads)?,
    };
    plan.notes.splice(0..0, left_out);
    if !named {
        plan.notes.extend(helm_chart_notes(&opts.dir));
    }
    Ok(plan)
}

/// Without --workload, the workloads a user would onboard: where the project builds some
/// workloads' images (skaffold, compose, CI, --context), those are its apps; otherwise every
/// workload but well-known infrastructure (a `postgres` or `redis` Deployment runs someone
/// else's code). What is left out is said, with the flag that includes it.
fn default_workloads(
    opts: &KubernetesOptions,
    files: &[PathBuf],
    built: &[images::BuiltImage],
) -> Result<(KubernetesOptions, Vec<Note>, Vec<App>), Error> {
    let mut apps = Vec::new();
    for file in files {
        let Ok(content) = std::fs::read_to_string(file) else {
            continue;
        };
        if let Ok(out) = onboard::onboard(&content, &[], &opts.collector) {
            apps.extend(out.apps);
        }
    }
    if !opts.workloads.is_empty() {
        return Ok((opts.clone(), Vec::new(), apps));
    }
    let builds_some = apps.iter().any(|a| context_of(opts, built, a).is_some());
    let (ours, theirs): (Vec<&App>, Vec<&App>) = apps.iter().partition(|a| {
        if builds_some {
            context_of(opts, built, a).is_some()
        } else {
            !a.image.as_deref().is_some_and(images::is_infrastructure)
        }
    });
    if ours.is_empty() && !builds_some && !theirs.is_empty() {
        // Only infrastructure: nothing of the project's own to onboard unless named.
        return Err(Error::NoWorkload {
            dir: opts.dir.clone(),
            named: Vec::new(),
        });
    }
    // As `--yes` does for compose services: of the images the project builds, those whose
    // code holds no Python get nothing unless named (the collector's variables would change
    // where a Go or Java app's own OpenTelemetry sends). Where none holds Python, all stay.
    let (python, no_python): (Vec<&App>, Vec<&App>) = ours.iter().partition(|a| {
        let Some((context, _, _)) = context_of(opts, built, a).filter(|(c, _, _)| c.is_dir())
        else {
            return true;
        };
        !crate::detect::detect(
            a.image.as_deref(),
            &a.commands,
            &a.environment,
            Some(&context),
            &opts.dir,
        )
        .found
        .is_empty()
    });
    let (ours, no_python) = if python.is_empty() {
        (ours, Vec::new())
    } else {
        (python, no_python)
    };
    if ours.is_empty() || theirs.is_empty() && no_python.is_empty() {
        return Ok((opts.clone(), Vec::new(), apps));
    }
    // Workloads are named by kind and name: one of the project's in one copy of the
    // manifests is onboarded in every copy, so it is not left out anywhere.
    let mut notes: Vec<Note> = Vec::new();
    let no_python = no_python
        .iter()
        .filter(|a| !ours.iter().any(|o| o.workload.id() == a.workload.id()))
        .map(|a| Note {
            service: Some(a.workload.id()),
            message: format!(
                "left out: no Python in the code its image is built from (name it with \
                 --workload {} for the sidecar and the variables alone)",
                a.workload.id()
            ),
            kind: NoteKind::Decided,
        });
    for note in no_python {
        if !notes.contains(&note) {
            notes.push(note);
        }
    }
    let said: Vec<Option<String>> = notes.iter().map(|n| n.service.clone()).collect();
    let left_out = theirs
        .iter()
        .filter(|a| !said.contains(&Some(a.workload.id())))
        .filter(|a| !ours.iter().any(|o| o.workload.id() == a.workload.id()))
        .map(|a| Note {
            service: Some(a.workload.id()),
            message: format!(
                "left out: its image {} is {} (name it with --workload {} to onboard it too)",
                a.image.as_deref().unwrap_or("(none)"),
                if builds_some {
                    "not one the project builds"
                } else {
                    "well-known infrastructure, not the project's code"
                },
                a.workload.id()
            ),
            kind: NoteKind::Decided,
        });
    for note in left_out {
        if !notes.contains(&note) {
            notes.push(note);
        }
    }
    let mut chosen = opts.clone();
    for a in ours {
        if !chosen.workloads.contains(&a.workload.id()) {
            chosen.workloads.push(a.workload.id());
        }
    }
    Ok((chosen, notes, apps))
}

/// What a workload's pod spec says of its app container, for its Python side.
fn container_of(app: &App, dockerfile: Option<String>) -> Container {
    Container {
        image: app.image.clone(),
        dockerfile,
        target: None,
        commands: app.commands.clone(),
        binds: Vec::new(),
        environment: app.environment.clone(),
    }
}

/// Where a workload's image is built: the folder --context names, else the skaffold
/// artifact or compose build of that image; with the Dockerfile and what said so.
fn context_of(
    opts: &KubernetesOptions,
    built: &[images::BuiltImage],
    app: &App,
) -> Option<(PathBuf, Option<String>, String)> {
    let named = opts
        .contexts
        .iter()
        .find(|(n, _)| *n == app.workload.id() || *n == app.workload.name)
        .map(|(_, dir)| (opts.dir.join(dir), None, "--context".to_string()));
    named.or_else(|| {
        images::find(built, app.image.as_deref(), &app.workload.name)
            .map(|b| (b.context.clone(), b.dockerfile.clone(), b.source.clone()))
    })
}

/// What a workload's framework needs on its container besides the collector's variables:
/// MLflow exports its traces over OTLP only when told where (to the in-cluster collector),
/// where the release its image installs does (as for a compose service).
fn framework_env(
    opts: &KubernetesOptions,
    apps: &[App],
    built: &[images::BuiltImage],
) -> Vec<(String, crate::contract::FrameworkEnv)> {
    apps.iter()
        .filter_map(|app| {
            let (context, dockerfile, _) = context_of(opts, built, app)?;
            let found = crate::detect::detect(
                app.image.as_deref(),
                &app.commands,
                &app.environment,
                Some(&context).filter(|c| c.is_dir()).map(PathBuf::as_path),
                &opts.dir,
            );
            let frameworks: Vec<_> = found.found.iter().map(|(f, _)| *f).collect();
            if !frameworks.iter().any(|f| f.row().exports_itself) {
                return None;
            }
            let target = Target::new(
                app.workload.id(),
                Some(context),
                None,
                frameworks,
                app.port,
                container_of(app, dockerfile),
            );
            let python_opts = PythonOptions {
                dir: opts.dir.clone(),
                module_path: None,
                module_path_flag: false,
                edit_entrypoint: false,
                mlflow_otlp: opts.mlflow_otlp,
            };
            let export = python::mlflow_export(&python_opts, &target);
            let add = if export.exports {
                crate::contract::mlflow_env_at_for(
                    &format!("http://{}", opts.collector),
                    export.otlp,
                )
            } else {
                Vec::new()
            };
            let withheld = export.withheld.iter().map(|v| v.to_string()).collect();
            Some((
                app.workload.id(),
                crate::contract::FrameworkEnv { add, withheld },
            ))
        })
        .collect()
}

/// The mode asked for, else the one the record shows, else editing in place where no
/// overlay builds on the manifests; otherwise the user must choose.
fn mode(
    opts: &KubernetesOptions,
    project: &kustomize::Project,
    files: &[PathBuf],
    saved: Option<&Answers>,
) -> Result<KustomizeMode, Error> {
    let recorded: Vec<&String> = saved
        .map(|a| {
            a.files
                .iter()
                .filter(|(_, who)| who.iter().any(|w| is_workload_needer(w)))
        })
        .into_iter()
        .flatten()
        .map(|(f, _)| &f.path)
        .collect();
    let patched: Vec<PathBuf> = recorded
        .iter()
        .filter(|f| Path::new(f.as_str()).file_name() == Some(kustomize::PATCH_FILE.as_ref()))
        .map(|f| {
            Path::new(f.as_str())
                .parent()
                .unwrap_or(Path::new(""))
                .to_path_buf()
        })
        .collect();
    let from_record = if !patched.is_empty() {
        Some(KustomizeMode::PatchOverlays(
            patched.iter().map(|p| opts.dir.join(p)).collect(),
        ))
    } else if !recorded.is_empty() {
        Some(KustomizeMode::EditBase)
    } else {
        None
    };
    // Named by the folder of the manifests, which is what is onboarded one way or the other.
    let base = files
        .first()
        .and_then(|f| f.parent())
        .map_or(opts.dir.clone(), Path::to_path_buf);
    let switch = |from: &str, to: &str| Error::ModeSwitch {
        compose: base.clone(),
        from: from.into(),
        to: to.into(),
    };
    match (&opts.mode, &from_record) {
        (KustomizeMode::Unset, Some(m)) => return Ok(m.clone()),
        (KustomizeMode::EditBase, Some(KustomizeMode::PatchOverlays(_))) => {
            return Err(switch("as patches in its overlays", "in its base"));
        }
        (KustomizeMode::PatchOverlays(_), Some(KustomizeMode::EditBase)) => {
            return Err(switch("in its base", "as patches in its overlays"));
        }
        (KustomizeMode::Unset, None) => {}
        (asked, _) => return Ok(asked.clone()),
    }
    // Overlays build on the manifests: where the onboarding goes is the user's choice.
    let mut bases = Vec::new();
    let mut overlays = Vec::new();
    for file in files {
        let folder = file.parent().unwrap_or(Path::new("."));
        let Some(base) = project.at(folder) else {
            continue;
        };
        let chains = project.overlays_of(folder);
        for chain in &chains {
            let top = chain[0];
            if project.is_leaf(top) && !overlays.contains(&display(&opts.dir, top.folder())) {
                overlays.push(display(&opts.dir, top.folder()));
            }
        }
        let shown = display(&opts.dir, base.folder());
        if !chains.is_empty() && !bases.contains(&shown) {
            bases.push(shown);
        }
    }
    if overlays.is_empty() {
        return Ok(KustomizeMode::EditBase);
    }
    Err(Error::KustomizeChoice { bases, overlays })
}

/// Onboarding in the manifests themselves.
fn plan_in_place(
    opts: &KubernetesOptions,
    project: &kustomize::Project,
    files: &[PathBuf],
    extra: &[(String, crate::contract::FrameworkEnv)],
    built: &[images::BuiltImage],
    named_workloads: &[String],
) -> Result<Plan, Error> {
    let named = !opts.files.is_empty();
    let mut plan = Plan::empty(opts.dir.clone());
    // The namespaces onboarded workloads run in, by the folder of their manifest.
    let mut folders: BTreeMap<PathBuf, Vec<Option<String>>> = BTreeMap::new();
    // The folders of every onboarded workload, sidecar or not: what is applied.
    let mut touched: std::collections::BTreeSet<PathBuf> = Default::default();
    // The workloads each touched folder holds: two applied roots holding one are copies of
    // each other (a release file beside the manifests), applied one or the other.
    let mut held: std::collections::BTreeMap<PathBuf, std::collections::BTreeSet<String>> =
        Default::default();
    let mut needers: Vec<(PathBuf, Vec<String>)> = Vec::new();
    let mut apps = Vec::new();
    // What each onboarded workload carries, by its manifest: what overlays must keep.
    let mut carried: Vec<(PathBuf, onboard::Added)> = Vec::new();
    let mut own_configs: Vec<(crate::kubernetes::Workload, String, String)> = Vec::new();
    for path in files {
        let content = read_text(path)?;
        let shown = display(&opts.dir, path);
        let Some(out) = onboard_file(opts, extra, path, &content, &shown, named, &mut plan)? else {
            continue;
        };
        if out.onboarded.is_empty() {
            continue;
        }
        apps.extend(
            out.apps
                .into_iter()
                .map(|a| (needer(&shown, &a.workload.id()), a)),
        );
        carried.extend(out.carried.into_iter().map(|a| (path.clone(), a)));
        let folder = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        touched.insert(folder.clone());
        held.entry(folder.clone())
            .or_default()
            .extend(out.onboarded.iter().map(|w| w.id()));
        let mut who = Vec::new();
        for (w, name) in &out.own_configs {
            own_configs.push((w.clone(), name.clone(), needer(&shown, &w.id())));
        }
        for w in &out.onboarded {
            // Only the pods that get the sidecar load the Configuration (obs-init's, unless
            // they name their own).
            let own = out.own_configs.iter().any(|(o, _)| o == w);
            if !onboard::is_run_to_completion(&w.kind) && !own {
                let spaces = folders.entry(folder.clone()).or_default();
                if !spaces.contains(&w.namespace) {
                    spaces.push(w.namespace.clone());
                }
            }
            who.push(needer(&shown, &w.id()));
            if !plan.services.contains(&w.id()) {
                plan.services.push(w.id());
            }
        }
        needers.push((path.clone(), who.clone()));
        plan.push(FileChange {
            display: shown,
            path: path.clone(),
            status: if out.after == content {
                Status::Unchanged
            } else {
                Status::Update
            },
            before: Some(content),
            after: out.after,
        });
    }
    missing_workloads(named_workloads, &opts.dir, &plan)?;
    for (workload, name, who) in &own_configs {
        own_configuration(opts, files, workload, name, who, &mut plan, &mut needers)?;
    }
    // A Component is built only into what lists it, which gets the Configuration from its
    // base: one in the Component too would be the same resource twice there.
    folders.retain(|folder, _| {
        let component = project.at(folder).is_some_and(|k| k.component);
        if component {
            plan.notes.push(Note {
                service: None,
                message: format!(
                    "{} is a kustomize Component: its workloads use the {CONFIG_NAME} \
                     Configuration of the kustomization that includes it, in their namespace",
                    display(&opts.dir, folder)
                ),
                kind: NoteKind::Decided,
            });
        }
        !component
    });
    refuse_duplicate_configurations(opts, project, &folders)?;
    for (folder, spaces) in &folders {
        let config = folder.join(CONFIG_FILE);
        let wanted = configuration(spaces, &opts.collector);
        let change = generated_change(&opts.dir, &config, wanted, &mut plan.conflicts, |_| {
            "it is not the Configuration obs-init writes".to_string()
        })?;
        let who: Vec<String> = needers
            .iter()
            .filter(|(p, _)| p.parent() == Some(folder.as_path()))
            .flat_map(|(_, w)| w.clone())
            .collect();
        needers.push((config.clone(), who.clone()));
        plan.push(change);
        // An overlay that renames would rename the Configuration away from the name the
        // pods carry, and the base's transformer configurations do not reach it.
        for chain in project.overlays_of(folder) {
            if let Some(k) = chain.iter().find(|k| k.renames.is_some()) {
                let (what, line) = k.renames.clone().unwrap_or_default();
                return Err(Error::KustomizeRenames {
                    file: display(&opts.dir, &k.path),
                    line,
                    what,
                    overlay: display(&opts.dir, chain[0].folder()),
                });
            }
        }
        if let Some(own) = project.at(folder) {
            let mut entries = vec![(Entry::Resource, CONFIG_FILE)];
            if own.renames.is_some() {
                entries.push((Entry::Configuration, kustomize::NAME_REFERENCE_FILE));
                let file = folder.join(kustomize::NAME_REFERENCE_FILE);
                let change = name_reference_change(opts, &file, &mut plan.conflicts)?;
                plan.push(change);
                needers.push((file, who.clone()));
            }
            let change = kustomization_change(&opts.dir, &own.path, &entries)?;
            needers.push((own.path.clone(), who));
            plan.push(change);
        }
    }
    let tops = applied_tops(project, &touched);
    keep_through_overlays(opts, project, &tops, &[], &carried, &mut plan, &mut needers)?;
    python_sides(opts, built, &apps, &mut plan, &mut needers)?;
    record_plan(&opts.dir, &mut plan, &needers, opts)?;
    // A base is applied through the overlays that build on it, where it has any.
    let mut kustomized: Vec<PathBuf> = Vec::new();
    let mut plain: Vec<PathBuf> = Vec::new();
    let mut holds: std::collections::BTreeMap<PathBuf, std::collections::BTreeSet<String>> =
        Default::default();
    for folder in &touched {
        let ids = held.get(folder).cloned().unwrap_or_default();
        let Some(own) = project.at(folder) else {
            plain.push(folder.clone());
            holds.entry(folder.clone()).or_default().extend(ids);
            continue;
        };
        let leaves: Vec<PathBuf> = project
            .overlays_of(folder)
            .iter()
            .map(|chain| chain[0])
            .filter(|k| project.is_leaf(k))
            .map(|k| k.folder().to_path_buf())
            .collect();
        let applied = if leaves.is_empty() && !own.component {
            vec![folder.clone()]
        } else {
            leaves
        };
        for f in applied {
            holds
                .entry(f.clone())
                .or_default()
                .extend(ids.iter().cloned());
            if !kustomized.contains(&f) {
                kustomized.push(f);
            }
        }
    }
    let roots: Vec<&std::collections::BTreeSet<String>> = holds.values().collect();
    let copies = roots
        .iter()
        .enumerate()
        .any(|(i, a)| roots[i + 1..].iter().any(|b| !a.is_disjoint(b)));
    plan.next_steps.push(apply_step(
        &opts.dir,
        &kustomized.iter().collect::<Vec<_>>(),
        &plain.iter().collect::<Vec<_>>(),
        copies,
    ));
    Ok(plan)
}

/// The kustomizations applied that build the manifests of `folders`: the overlays nothing
/// else builds on, and a folder's own kustomization where nothing builds on it.
fn applied_tops(
    project: &kustomize::Project,
    folders: &std::collections::BTreeSet<PathBuf>,
) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = Vec::new();
    for folder in folders {
        let own = project.at(folder).into_iter();
        let over = project.overlays_of(folder).into_iter().map(|c| c[0]);
        for k in own.chain(over).filter(|k| project.is_leaf(k)) {
            if !out.iter().any(|f| absolute(f) == absolute(k.folder())) {
                out.push(k.folder().to_path_buf());
            }
        }
    }
    out
}

/// Judges the onboarding on what each applied kustomization builds (kustomize's build of
/// the planned files where it is installed, else obs-init's model of the patches between):
/// where an overlay's components or patches erase what the base's workloads carry, a patch
/// listed last in that overlay puts it back; what is still lost then is refused, naming the
/// patch that erases it.
fn keep_through_overlays(
    opts: &KubernetesOptions,
    project: &kustomize::Project,
    tops: &[PathBuf],
    patched: &[PathBuf],
    carried: &[(PathBuf, onboard::Added)],
    plan: &mut Plan,
    needers: &mut Vec<(PathBuf, Vec<String>)>,
) -> Result<(), Error> {
    if tops.is_empty() || carried.is_empty() {
        return Ok(());
    }
    let tool = render::tool();
    if tool.is_none() {
        plan.notes.push(Note {
            service: None,
            message: format!(
                "overlays not built ({}): neither kustomize nor kubectl is on PATH; judged by \
                 obs-init's model of their patches (JSON 6902 add/replace/remove, strategic \
                 merge $patch: replace/delete)",
                tops.iter()
                    .map(|t| display(&opts.dir, t))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            kind: NoteKind::Info,
        });
    }
    let first = losses(opts, project, tool.as_ref(), tops, patched, carried, plan);
    for (top, gaps) in &first {
        let Some(k) = project.at(top) else { continue };
        let erased: Vec<&survives::Gap> = gaps
            .iter()
            .filter(|g| matches!(g.lost, survives::Lost::Erased(_)))
            .collect();
        if let Some(g) = gaps.iter().find(|g| {
            !matches!(g.lost, survives::Lost::Erased(_))
                || g.by.as_ref().is_some_and(|b| b.transformer)
        }) {
            return Err(loses(opts, top, g));
        }
        if erased.is_empty() {
            continue;
        }
        let mut again: Vec<onboard::Added> = Vec::new();
        for g in &erased {
            let found = carried
                .iter()
                .find(|(f, a)| *f == g.file && a.workload.id() == g.workload);
            if let Some((_, a)) = found
                && !again.contains(a)
            {
                again.push(a.clone());
            }
            plan.notes.push(Note {
                service: Some(g.workload.clone()),
                message: format!(
                    "{}: {} erases {} in its build; put back by {}, listed last among its \
                     patches",
                    display(&opts.dir, top),
                    g.by.as_ref().map_or("a patch".to_string(), |b| format!(
                        "{} ({}:{})",
                        b.how,
                        display(&opts.dir, &b.file),
                        b.line
                    )),
                    g.what(),
                    kustomize::REAPPLY_FILE
                ),
                kind: NoteKind::Decided,
            });
        }
        let text = patch::reapply(&again).map_err(|source| Error::Refused {
            path: k.path.clone(),
            source,
        })?;
        let file = top.join(kustomize::REAPPLY_FILE);
        let change = generated_change(&opts.dir, &file, text, &mut plan.conflicts, |_| {
            "it is not the patch obs-init writes".to_string()
        })?;
        plan.push(change);
        let who: Vec<String> = again
            .iter()
            .filter_map(|a| {
                let (f, _) = carried.iter().find(|(_, c)| c == a)?;
                Some(needer(&display(&opts.dir, f), &a.workload.id()))
            })
            .collect();
        needers.push((file, who.clone()));
        list_in_kustomization(opts, plan, &k.path, Entry::Patch, kustomize::REAPPLY_FILE)?;
        match needers.iter_mut().find(|(p, _)| *p == k.path) {
            Some((_, w)) => {
                for x in who {
                    if !w.contains(&x) {
                        w.push(x);
                    }
                }
            }
            None => needers.push((k.path.clone(), who)),
        }
    }
    // What kustomize still loses once the patches are in is beyond a patch's reach.
    if tool.is_some() && first.iter().any(|(_, g)| !g.is_empty()) {
        let mut after = losses(opts, project, tool.as_ref(), tops, patched, carried, plan);
        for (top, gaps) in &mut after {
            let modelled = project
                .at(top)
                .map(|k| survives::model(project, k, carried, patched))
                .unwrap_or_default();
            survives::blame(gaps, &modelled);
            if let Some(g) = gaps.first() {
                return Err(loses(opts, top, g));
            }
        }
    }
    Ok(())
}

/// Each top's losses: in kustomize's build of the planned files, the erasing patch named by
/// the model; else (no kustomize, or its build fails) as the model predicts them.
fn losses(
    opts: &KubernetesOptions,
    project: &kustomize::Project,
    tool: Option<&render::Tool>,
    tops: &[PathBuf],
    patched: &[PathBuf],
    carried: &[(PathBuf, onboard::Added)],
    plan: &mut Plan,
) -> Vec<(PathBuf, Vec<survives::Gap>)> {
    let builds: Vec<Option<Result<render::Built, String>>> = match tool {
        Some(tool) => {
            let changes: Vec<(PathBuf, Option<String>)> = plan
                .files
                .iter()
                .map(|f| {
                    let text = (f.status != Status::Delete).then(|| f.after.clone());
                    (f.path.clone(), text)
                })
                .collect();
            render::build_changed(tool, &opts.dir, &changes, tops)
                .into_iter()
                .map(Some)
                .collect()
        }
        None => tops.iter().map(|_| None).collect(),
    };
    let mut out = Vec::new();
    for (top, built) in tops.iter().zip(builds) {
        let Some(k) = project.at(top) else { continue };
        let modelled = survives::model(project, k, carried, patched);
        let gaps = match built {
            Some(Ok(built)) => {
                let mut gaps = survives::judge(&built, carried);
                survives::blame(&mut gaps, &modelled);
                gaps
            }
            Some(Err(e)) => {
                let message = format!(
                    "{} not built ({}: {e}); judged by obs-init's model of its patches",
                    display(&opts.dir, top),
                    tool.map_or("", |t| t.command())
                );
                if !plan.notes.iter().any(|n| n.message == message) {
                    plan.notes.push(Note {
                        service: None,
                        message,
                        kind: NoteKind::Info,
                    });
                }
                modelled
            }
            None => modelled,
        };
        out.push((top.clone(), gaps));
    }
    out
}

fn loses(opts: &KubernetesOptions, top: &Path, g: &survives::Gap) -> Error {
    Error::KustomizeLoses {
        overlay: display(&opts.dir, top),
        workload: g.workload.clone(),
        what: g.what(),
        by: g
            .by
            .as_ref()
            .map(|b| Box::new((display(&opts.dir, &b.file), b.line, b.how.clone()))),
        configuration: matches!(g.lost, survives::Lost::Configuration { .. }),
    }
}

/// Lists `file` in a kustomization, on top of what the plan already changes in it.
fn list_in_kustomization(
    opts: &KubernetesOptions,
    plan: &mut Plan,
    path: &Path,
    entry: Entry,
    file: &str,
) -> Result<(), Error> {
    let refused = |source| Error::Refused {
        path: path.to_path_buf(),
        source,
    };
    if let Some(change) = plan.files.iter_mut().find(|f| f.path == path) {
        change.after = with_entry(&change.after, entry, file).map_err(refused)?;
        if change.before.as_deref() != Some(change.after.as_str()) {
            change.status = Status::Update;
        }
        return Ok(());
    }
    let change = kustomization_change(&opts.dir, path, &[(entry, file)])?;
    plan.push(change);
    Ok(())
}

/// Onboarding as a patch in each overlay: the base's manifests are read, never written.
fn plan_patches(
    opts: &KubernetesOptions,
    project: &kustomize::Project,
    overlays: &[PathBuf],
    extra: &[(String, crate::contract::FrameworkEnv)],
    built: &[images::BuiltImage],
    named_workloads: &[String],
) -> Result<Plan, Error> {
    let mut plan = Plan::empty(opts.dir.clone());
    let mut needers: Vec<(PathBuf, Vec<String>)> = Vec::new();
    let mut apps = Vec::new();
    let mut carried: Vec<(PathBuf, onboard::Added)> = Vec::new();
    let named: Vec<PathBuf> = opts
        .files
        .iter()
        .map(|f| absolute(&opts.dir.join(f)))
        .collect();
    for folder in overlays {
        let Some(top) = project.at(folder) else {
            return Err(Error::NoKustomization {
                dir: display(&opts.dir, folder),
            });
        };
        let mut added = Vec::new();
        let mut who = Vec::new();
        let mut namespaces: Vec<Option<String>> = Vec::new();
        for (file, chain) in project.files_built_by(top) {
            let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if !is_manifest_name(name)
                || project.is_not_resource(&file)
                || !file.is_file()
                || (!named.is_empty() && !named.contains(&absolute(&file)))
            {
                continue;
            }
            let content = read_text(&file)?;
            let shown = display(&opts.dir, &file);
            let Some(out) = onboard_file(
                opts,
                extra,
                &file,
                &content,
                &shown,
                !named.is_empty(),
                &mut plan,
            )?
            else {
                continue;
            };
            for w in &out.onboarded {
                // The namespace the outermost kustomization that sets one gives it.
                let ns = chain
                    .iter()
                    .find_map(|k| k.namespace.clone())
                    .or_else(|| w.namespace.clone());
                if !onboard::is_run_to_completion(&w.kind) && !namespaces.contains(&ns) {
                    namespaces.push(ns);
                }
                who.push(needer(&shown, &w.id()));
                if !plan.services.contains(&w.id()) {
                    plan.services.push(w.id());
                }
            }
            added.extend(out.added);
            for a in out.carried {
                if !carried
                    .iter()
                    .any(|(f, c)| *f == file && c.workload == a.workload)
                {
                    carried.push((file.clone(), a));
                }
            }
            apps.extend(
                out.apps
                    .into_iter()
                    .map(|a| (needer(&shown, &a.workload.id()), a)),
            );
        }
        if who.is_empty() {
            continue;
        }
        if added.is_empty() {
            plan.notes.push(Note {
                service: None,
                message: format!(
                    "{}: what it builds is onboarded already, nothing to patch",
                    display(&opts.dir, folder)
                ),
                kind: NoteKind::Info,
            });
            continue;
        }
        let text = patch::patch(&added).map_err(|source| Error::Refused {
            path: top.path.clone(),
            source,
        })?;
        let patch_file = folder.join(kustomize::PATCH_FILE);
        let change = generated_change(&opts.dir, &patch_file, text, &mut plan.conflicts, |_| {
            "it is not the patch obs-init writes".to_string()
        })?;
        plan.push(change);
        needers.push((patch_file, who.clone()));
        let mut entries = vec![(Entry::Patch, kustomize::PATCH_FILE)];
        // Pods that run to completion get no sidecar, so no Configuration for them alone.
        let sidecars = !namespaces.is_empty();
        if sidecars {
            let config = folder.join(CONFIG_FILE);
            let wanted = configuration(&namespaces, &opts.collector);
            let change = generated_change(&opts.dir, &config, wanted, &mut plan.conflicts, |_| {
                "it is not the Configuration obs-init writes".to_string()
            })?;
            plan.push(change);
            needers.push((config, who.clone()));
            entries.insert(0, (Entry::Resource, CONFIG_FILE));
        }
        if sidecars && top.renames.is_some() {
            entries.push((Entry::Configuration, kustomize::NAME_REFERENCE_FILE));
            let file = folder.join(kustomize::NAME_REFERENCE_FILE);
            let change = name_reference_change(opts, &file, &mut plan.conflicts)?;
            plan.push(change);
            needers.push((file, who.clone()));
        }
        let change = kustomization_change(&opts.dir, &top.path, &entries)?;
        plan.push(change);
        needers.push((top.path.clone(), who));
    }
    missing_workloads(named_workloads, &opts.dir, &plan)?;
    // Each patch is last in its overlay; what builds on the overlay may still erase it.
    let tops = applied_tops(project, &overlays.iter().cloned().collect());
    keep_through_overlays(
        opts,
        project,
        &tops,
        overlays,
        &carried,
        &mut plan,
        &mut needers,
    )?;
    python_sides(opts, built, &apps, &mut plan, &mut needers)?;
    record_plan(&opts.dir, &mut plan, &needers, opts)?;
    let overlays: Vec<&PathBuf> = overlays.iter().collect();
    // Each chosen overlay is a variant of the same workloads.
    plan.next_steps
        .push(apply_step(&opts.dir, &overlays, &[], overlays.len() > 1));
    Ok(plan)
}

/// The Python side of each workload whose build context is known (named with --context,
/// or found where skaffold or compose builds its image): the module beside its code and
/// its dependencies, as for a compose service.
fn python_sides(
    opts: &KubernetesOptions,
    built: &[images::BuiltImage],
    apps: &[(String, App)],
    plan: &mut Plan,
    needers: &mut Vec<(PathBuf, Vec<String>)>,
) -> Result<(), Error> {
    let python_opts = PythonOptions {
        dir: opts.dir.clone(),
        module_path: None,
        module_path_flag: false,
        edit_entrypoint: opts.edit_entrypoint,
        mlflow_otlp: opts.mlflow_otlp,
    };
    let mut done: Vec<&str> = Vec::new();
    let mut unknown: Vec<String> = Vec::new();
    // A workload of the same name in another copy of the manifests (a release file, a
    // kustomize base) whose image is built is not one without a build context.
    let mut built_somewhere: Vec<String> = Vec::new();
    for (who, app) in apps {
        let id = app.workload.id();
        if done.contains(&who.as_str()) {
            continue;
        }
        done.push(who);
        let found = context_of(opts, built, app);
        let Some((context, dockerfile, source)) = found else {
            if !unknown.contains(&id) {
                unknown.push(id);
            }
            continue;
        };
        built_somewhere.push(id.clone());
        if !context.is_dir() || !absolute(&context).starts_with(absolute(&opts.dir)) {
            plan.notes.push(Note {
                service: Some(id.clone()),
                message: format!(
                    "its build context {} ({source}) is not a folder of the project: no \
                     Python edits",
                    context.display()
                ),
                kind: NoteKind::Info,
            });
            continue;
        }
        let detection = crate::detect::detect(
            app.image.as_deref(),
            &app.commands,
            &app.environment,
            Some(&context),
            &opts.dir,
        );
        for (f, why) in &detection.found {
            // Once for a workload that several copies of the manifests hold.
            let note = Note {
                service: Some(id.clone()),
                message: format!("detected {f}: {why} (build context from {source})"),
                kind: NoteKind::Decided,
            };
            if !plan.notes.contains(&note) {
                plan.notes.push(note);
            }
        }
        let target = Target::new(
            id.clone(),
            Some(context),
            None,
            detection.found.into_iter().map(|(f, _)| f).collect(),
            app.port,
            container_of(app, dockerfile),
        );
        // Planned apart, so that the files its Python side changes are its own in the
        // record, shared when two workloads run one image.
        let mut own = Plan::empty(opts.dir.clone());
        python::plan(&python_opts, &target, &mut own)?;
        for change in own.files {
            match needers.iter_mut().find(|(p, _)| *p == change.path) {
                Some((_, w)) => {
                    if !w.contains(who) {
                        w.push(who.clone());
                    }
                }
                None => needers.push((change.path.clone(), vec![who.clone()])),
            }
            plan.push(change);
        }
        for note in own.notes {
            if !plan.notes.contains(&note) {
                plan.notes.push(note);
            }
        }
        for step in own.next_steps {
            if !plan.next_steps.contains(&step) {
                plan.next_steps.push(step);
            }
        }
        plan.conflicts.extend(own.conflicts);
        plan.push_relocks(own.relocks);
        plan.entry_points.extend(own.entry_points);
    }
    unknown.retain(|id| !built_somewhere.contains(id));
    if !unknown.is_empty() {
        plan.notes.push(Note {
            service: None,
            message: format!(
                "{}: no build context known for {} (no skaffold.yaml artifact, \
                 compose build or CI build makes it), so only the manifests were onboarded; for the \
                 Python module and dependencies, name the folder: --context NAME=DIR",
                unknown.join(", "),
                if unknown.len() == 1 {
                    "its image"
                } else {
                    "their images"
                }
            ),
            kind: NoteKind::Info,
        });
    }
    Ok(())
}

/// Refuses to put a Configuration in two folders one kustomization builds together where
/// they would land in one namespace: kustomize refuses the same resource twice.
fn refuse_duplicate_configurations(
    opts: &KubernetesOptions,
    project: &kustomize::Project,
    folders: &BTreeMap<PathBuf, Vec<Option<String>>>,
) -> Result<(), Error> {
    // Per kustomization, the folders it builds whose Configuration would have a namespace.
    let mut seen: Vec<(&Path, Option<String>, &PathBuf)> = Vec::new();
    for (folder, spaces) in folders {
        let Some(base) = project.at(folder) else {
            continue;
        };
        let own = base.namespace.clone();
        // The folder's own kustomization builds it too (an overlay with workloads of its own).
        let chains = std::iter::once(vec![base]).chain(project.overlays_of(folder));
        for chain in chains {
            let over = chain.iter().find_map(|k| k.namespace.clone());
            for ns in spaces {
                let ns = over.clone().or(own.clone()).or(ns.clone());
                let top = chain[0].path.as_path();
                if let Some((_, _, other)) = seen
                    .iter()
                    .find(|(t, n, f)| *t == top && *n == ns && *f != folder)
                {
                    let leaf = project
                        .overlays_of(chain[0].folder())
                        .iter()
                        .map(|c| c[0])
                        .find(|k| project.is_leaf(k))
                        .unwrap_or(chain[0]);
                    return Err(Error::KustomizeDuplicate {
                        overlay: display(&opts.dir, chain[0].folder()),
                        bases: vec![display(&opts.dir, other), display(&opts.dir, folder)],
                        patch: display(&opts.dir, leaf.folder()),
                    });
                }
                seen.push((top, ns, folder));
            }
        }
    }
    Ok(())
}

/// The last step: the commands that apply what was onboarded (`kubectl apply` takes one
/// `-k` at a time, and not with `-f`).
/// `copies`: some of them hold the same workloads (a release file, kustomize's variants of
/// one app), so they are alternatives: applied together, each would replace the other's.
fn apply_step(dir: &Path, kustomized: &[&PathBuf], plain: &[&PathBuf], copies: bool) -> String {
    let mut commands: Vec<String> = kustomized
        .iter()
        .map(|f| format!("kubectl apply -k {}", display(dir, f)))
        .collect();
    if copies {
        commands.extend(
            plain
                .iter()
                .map(|f| format!("kubectl apply -f {}", display(dir, f))),
        );
        let listed: Vec<String> = commands.iter().map(|c| format!("`{c}`")).collect();
        return format!(
            "install the Dapr control plane and the platform (obs-init platform --target \
             kubernetes), then apply the variant each cluster uses (they hold the same \
             workloads; in one namespace, one would replace the other's): {}",
            listed.join(", or ")
        );
    }
    if !plain.is_empty() {
        let files: Vec<String> = plain
            .iter()
            .map(|f| format!("-f {}", display(dir, f)))
            .collect();
        commands.push(format!("kubectl apply {}", files.join(" ")));
    }
    format!(
        "install the Dapr control plane and the platform (obs-init platform --target \
         kubernetes), then apply: {}",
        commands.join(" && ")
    )
}

/// Onboards one manifest file's workloads in memory, its conflicts and notes added to the
/// plan (once each: a base two overlays build on is read twice). A file the search found
/// that obs-init cannot read is noted and skipped (`None`); one the user named is an error.
fn onboard_file(
    opts: &KubernetesOptions,
    extra: &[(String, crate::contract::FrameworkEnv)],
    path: &Path,
    content: &str,
    shown: &str,
    named: bool,
    plan: &mut Plan,
) -> Result<Option<onboard::ManifestOutcome>, Error> {
    let mut out = match onboard::onboard_with(content, &opts.workloads, &opts.collector, extra) {
        Ok(out) => out,
        Err(e) if !named && !matches!(e, Refusal::Internal(_)) => {
            if content.contains("kind:") {
                plan.notes.push(Note {
                    service: None,
                    message: format!("{shown} not onboarded: {e}"),
                    kind: NoteKind::Info,
                });
            }
            return Ok(None);
        }
        Err(source) => {
            return Err(Error::Refused {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    for c in std::mem::take(&mut out.conflicts) {
        let c = FileConflict {
            file: shown.to_string(),
            conflict: c,
            kept_either_way: false,
        };
        if !plan.conflicts.contains(&c) {
            plan.conflicts.push(c);
        }
    }
    for note in std::mem::take(&mut out.notes) {
        if !plan.notes.contains(&note) {
            plan.notes.push(note);
        }
    }
    Ok(Some(out))
}

/// The tracing in the project's own Configuration `name` that `workload`'s `dapr.io/config`
/// names: added to its document where the manifests have it (in the workload's namespace),
/// a conflict where it traces elsewhere, said where the manifests lack it.
fn own_configuration(
    opts: &KubernetesOptions,
    files: &[PathBuf],
    workload: &crate::kubernetes::Workload,
    name: &str,
    who: &str,
    plan: &mut Plan,
    needers: &mut Vec<(PathBuf, Vec<String>)>,
) -> Result<(), Error> {
    let id = workload.id();
    for path in files {
        // Edited already (its workloads, or another pod naming the same Configuration).
        let planned = plan.files.iter().position(|f| &f.path == path);
        let base = match planned {
            Some(i) => plan.files[i].after.clone(),
            None => read_text(path)?,
        };
        let found = crate::kubernetes::documents(&base)
            .into_iter()
            .find(|piece| {
                let (_, doc) = match crate::yaml::parse_file(piece.text) {
                    Ok(parsed) => parsed,
                    Err(_) => return false,
                };
                let Some(root) = doc.root.as_ref() else {
                    return false;
                };
                let meta = root.get("metadata");
                let ns = meta
                    .and_then(|m| m.get("namespace"))
                    .and_then(crate::yaml::doc::Node::as_str);
                root.get("kind").and_then(crate::yaml::doc::Node::as_str) == Some("Configuration")
                    && meta
                        .and_then(|m| m.get("name"))
                        .and_then(crate::yaml::doc::Node::as_str)
                        == Some(name)
                    && (ns.is_none()
                        || workload.namespace.is_none()
                        || ns == workload.namespace.as_deref())
            });
        let Some(piece) = found else { continue };
        let shown = display(&opts.dir, path);
        let (start, end) = (piece.start, piece.start + piece.text.len());
        match crate::dapr::add_tracing_to(piece.text, &opts.collector) {
            Ok(crate::dapr::Tracing::Added(text)) => {
                let after = format!("{}{text}{}", &base[..start], &base[end..]);
                plan.notes.push(Note {
                    service: Some(id.clone()),
                    message: format!(
                        "tracing added to the Configuration {name} in {shown}, which its \
                         dapr.io/config names"
                    ),
                    kind: NoteKind::Decided,
                });
                match planned {
                    Some(i) => plan.files[i].after = after,
                    None => plan.push(FileChange {
                        display: shown,
                        path: path.clone(),
                        status: Status::Update,
                        before: Some(base),
                        after,
                    }),
                }
                if let Some(f) = plan.files.iter_mut().find(|f| &f.path == path) {
                    f.status = if f.before.as_deref() == Some(f.after.as_str()) {
                        Status::Unchanged
                    } else {
                        Status::Update
                    };
                }
                match needers.iter_mut().find(|(p, _)| p == path) {
                    Some((_, w)) if !w.iter().any(|x| x == who) => w.push(who.to_string()),
                    Some(_) => {}
                    None => needers.push((path.clone(), vec![who.to_string()])),
                }
            }
            Ok(crate::dapr::Tracing::Present) => {}
            Ok(crate::dapr::Tracing::Elsewhere(what)) => plan.conflicts.push(FileConflict {
                file: shown,
                conflict: crate::conflict::Conflict {
                    service: Some(id.clone()),
                    what: format!(
                        "Configuration {name}: {what}, obs-init would send traces to {} (kept \
                         either way: change its spec.tracing by hand)",
                        opts.collector
                    ),
                    line: Some(piece.lines_before + 1),
                },
                kept_either_way: true,
            }),
            Err(why) => plan.notes.push(Note {
                service: Some(id.clone()),
                message: format!("Configuration {name} in {shown} not edited: {why}"),
                kind: NoteKind::Action,
            }),
        }
        return Ok(());
    }
    plan.notes.push(Note {
        service: Some(id),
        message: format!(
            "its dapr.io/config names the Configuration {name}, which these manifests do not \
             have: give it spec.tracing (otel endpointAddress {}, isSecure false, protocol \
             grpc) where it is defined",
            opts.collector
        ),
        kind: NoteKind::Action,
    });
    Ok(())
}

/// Every workload asked for must be there: a typo is not a smaller onboarding. (Those chosen
/// by default may be in a file no applied kustomization builds.)
fn missing_workloads(named: &[String], dir: &Path, plan: &Plan) -> Result<(), Error> {
    let missing: Vec<String> = named
        .iter()
        .filter(|n| {
            !plan
                .services
                .iter()
                .any(|id| id == *n || id.rsplit('/').next() == Some(n.as_str()))
        })
        .cloned()
        .collect();
    if plan.services.is_empty() || !missing.is_empty() {
        return Err(Error::NoWorkload {
            dir: dir.to_path_buf(),
            named: if plan.services.is_empty() {
                named.to_vec()
            } else {
                missing
            },
        });
    }
    Ok(())
}

/// The Dapr Configuration the pods' `dapr.io/config` names, one document per namespace.
pub fn configuration(namespaces: &[Option<String>], collector: &str) -> String {
    let mut out = String::from(
        "# Written by obs-init: Dapr sends its traces to the platform's OpenTelemetry \
         Collector.\n# Pods annotated `dapr.io/config: dapr-config` load it; it must be in \
         their namespace.\n",
    );
    for (i, ns) in namespaces.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        out.push_str("apiVersion: dapr.io/v1alpha1\nkind: Configuration\nmetadata:\n");
        out.push_str(&format!("  name: {CONFIG_NAME}\n"));
        if let Some(ns) = ns {
            out.push_str(&format!("  namespace: {ns}\n"));
        }
        out.push_str(&format!(
            "spec:\n  tracing:\n    # Sample every request; left unset, Dapr samples 1 in \
             10,000.\n    samplingRate: \"1\"\n    otel:\n      # host:port, no scheme: this \
             is what Dapr expects here.\n      endpointAddress: \"{collector}\"\n      # The \
             platform collector speaks plaintext gRPC; Dapr defaults to TLS.\n      isSecure: \
             false\n      # Required: without a protocol Dapr exports nothing, and says \
             nothing.\n      protocol: grpc\n"
        ));
    }
    out
}

/// An entry obs-init adds to a kustomization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entry {
    /// A file among `resources`.
    Resource,
    /// A patch among `patches` (`- path: FILE`).
    Patch,
    /// A transformer configuration among `configurations`.
    Configuration,
}

impl Entry {
    fn key(self) -> &'static str {
        match self {
            Entry::Resource => "resources",
            Entry::Patch => "patches",
            Entry::Configuration => "configurations",
        }
    }

    fn node(self, file: &str) -> NewNode {
        match self {
            Entry::Patch => NewNode::Map(vec![("path".into(), NewNode::str(file))]),
            _ => NewNode::str(file),
        }
    }

    fn names(self, item: &crate::yaml::doc::Node, file: &str) -> bool {
        match self {
            Entry::Patch => item.get("path").and_then(|p| p.as_str()) == Some(file),
            _ => item.as_str() == Some(file),
        }
    }
}

/// The kustomization file with the change that lists each of `entries` in it.
fn kustomization_change(
    dir: &Path,
    path: &Path,
    entries: &[(Entry, &str)],
) -> Result<FileChange, Error> {
    let before = read_text(path)?;
    let mut after = before.clone();
    for (entry, file) in entries {
        after = with_entry(&after, *entry, file).map_err(|source| Error::Refused {
            path: path.to_path_buf(),
            source,
        })?;
    }
    Ok(FileChange {
        display: display(dir, path),
        status: if after == before {
            Status::Unchanged
        } else {
            Status::Update
        },
        path: path.to_path_buf(),
        before: Some(before),
        after,
    })
}

/// The kustomization with `file` listed under the entry's key (added last, or as a new
/// list).
fn with_entry(content: &str, entry: Entry, file: &str) -> Result<String, Refusal> {
    let (text, doc) = crate::yaml::parse_file(content)?;
    let Some(root) = doc.root.as_ref().filter(|r| r.entries().is_some()) else {
        return Err(Refusal::Empty);
    };
    let lay = Layout {
        step: 2,
        seq_indent: crate::compose::seq_style(&text, root).map_or(0, |(i, _)| i),
        dash_gap: 1,
        eol: text.eol(),
    };
    let key = entry.key();
    let mut editor = Editor::new(&text);
    match root.get_entry(key) {
        None => editor.insert_entry(root, &[], key, NewNode::Seq(vec![entry.node(file)]), &lay),
        Some((key_node, list)) if list.is_empty_null() => editor.set_empty(
            key_node,
            &[],
            key,
            NewNode::Seq(vec![entry.node(file)]),
            &lay,
        ),
        Some((_, list)) => {
            let items = list.items().ok_or_else(|| Refusal::Unsupported {
                service: None,
                what: format!("`{key}` is not a list"),
                line: list.start.line + 1,
            })?;
            if items.iter().any(|i| entry.names(i, file)) {
                return Ok(content.to_string());
            }
            editor.push_item(list, &[key.to_string()], entry.node(file), &lay);
        }
    }
    let (body, changes) = editor.finish();
    crate::yaml::verify::compose(&doc, &changes, &body).map_err(Refusal::Internal)?;
    Ok(text.with_bom(&body))
}

/// The transformer configuration that makes `dapr.io/config` follow a renamed
/// Configuration, as a generated file.
fn name_reference_change(
    opts: &KubernetesOptions,
    file: &Path,
    conflicts: &mut Vec<FileConflict>,
) -> Result<FileChange, Error> {
    generated_change(
        &opts.dir,
        file,
        kustomize::name_reference(),
        conflicts,
        |_| "it is not the transformer configuration obs-init writes".to_string(),
    )
}

/// The answers file with the record of every file the plan changes, for `--remove`.
fn record_plan(
    dir: &Path,
    plan: &mut Plan,
    needers: &[(PathBuf, Vec<String>)],
    opts: &KubernetesOptions,
) -> Result<(), Error> {
    let (mut saved, answers_text) = match super::read_answers(dir)? {
        Some((saved, text)) => (saved, Some(text)),
        None => (Answers::default(), None),
    };
    saved.mlflow_otlp |= opts.mlflow_otlp;
    for (name, folder) in &opts.contexts {
        let folder = folder.to_string_lossy().replace('\\', "/");
        match saved.contexts.iter_mut().find(|(n, _)| n == name) {
            Some((_, known)) => *known = folder,
            None => saved.contexts.push((name.clone(), folder)),
        }
    }
    // What obs-init wrote and nobody changed since is not "uncommitted changes" of the user's.
    plan.own = super::own_files(dir, &saved);
    for change in &plan.files {
        let who = needers
            .iter()
            .find(|(p, _)| *p == change.path)
            .map(|(_, w)| w.clone())
            .unwrap_or_default();
        super::record_file(&mut saved, &display(dir, &change.path), change, who);
    }
    if saved.original.is_none() && saved.composes.is_empty() && saved.files.is_empty() {
        saved.original = answers_text.clone();
    }
    let written = answers::write(answers_text.as_deref(), &saved);
    plan.own.push(dir.join(answers::FILE));
    plan.push(super::answers_change(dir, answers_text, written));
    Ok(())
}

/// `obs-init kubernetes --remove`: every file the record says onboarding changed, given
/// back (created ones deleted) while nobody changed them since.
pub fn plan_kubernetes_remove(dir: &Path) -> Result<Plan, Error> {
    let answers_path = dir.join(answers::FILE);
    let mut plan = Plan::empty(dir.to_path_buf());
    let Some((saved, text)) = super::read_answers(dir)? else {
        return Ok(plan);
    };
    plan.own = super::own_files(dir, &saved);
    let mut left = saved.clone();
    left.files.clear();
    for (file, who) in &saved.files {
        if !who.is_empty() && who.iter().all(|w| is_workload_needer(w)) {
            for w in who {
                let name = w.rsplit(':').next().unwrap_or(w).to_string();
                if !plan.services.contains(&name) {
                    plan.services.push(name);
                }
            }
            super::undo::undo_file(dir, &mut plan, file)?;
        } else {
            left.files.push((file.clone(), who.clone()));
        }
    }
    let (after, status) = if left.files.is_empty() && left.composes.is_empty() {
        match &saved.original {
            Some(original) => (original.clone(), Status::Update),
            None => (String::new(), Status::Delete),
        }
    } else {
        (answers::write(Some(&text), &left), Status::Update)
    };
    plan.own.push(answers_path.clone());
    if !plan.services.is_empty() {
        plan.push(FileChange {
            display: display(dir, &answers_path),
            status: if after == text {
                Status::Unchanged
            } else {
                status
            },
            path: answers_path,
            before: Some(text),
            after,
        });
    }
    Ok(plan)
}
