//! The dependency lines: into the manifest the image installs, on the line its Python takes.

use std::path::{Path, PathBuf};

use super::target::{PythonOptions, Target};
use crate::compose::{Note, NoteKind};
use crate::deps::{self, PyprojectError, Requirement};
use crate::error::Error;
use crate::files::read_text;
use crate::frameworks::Framework;
use crate::paths::{absolute, display};
use crate::plan::{FileChange, Plan, Status};

/// The packages, added to the first requirements.txt or pyproject.toml found in the build
/// context, the project directory or beside the module.
pub(super) fn plan_deps(
    opts: &PythonOptions,
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
    let by_name = deps::first_manifest(search.iter().map(PathBuf::as_path));
    let specs = || {
        wanted
            .iter()
            .map(Requirement::spec)
            .collect::<Vec<_>>()
            .join(" ")
    };
    let service = target.service.clone();
    let mut note_as = |kind: NoteKind, message: String| {
        plan.notes.push(Note {
            service: Some(service.clone()),
            message,
            kind,
        });
    };
    // What the image installs decides: a file found by name that no RUN line installs never
    // reaches the container.
    let installs = image_installs(target);
    let installed: Vec<PathBuf> = match &installs {
        Installed::Files(files) => files.clone(),
        _ => Vec::new(),
    };
    let deps_file = match installs {
        Installed::Files(files) => {
            let chosen = files[0].clone();
            if by_name
                .as_deref()
                .is_some_and(|b| absolute(b) != absolute(&chosen))
            {
                note_as(
                    NoteKind::Decided,
                    format!(
                        "{} installs {} (pip install -r), not {}: the packages go there",
                        target.dockerfile.as_deref().unwrap_or("Dockerfile"),
                        display(&opts.dir, &chosen),
                        by_name
                            .as_deref()
                            .map(|b| display(&opts.dir, b))
                            .unwrap_or_default()
                    ),
                );
            }
            Some(chosen)
        }
        Installed::PackagesOnly(packages) => {
            // Done once the RUN line names every package (whatever the versions it gives).
            let named: Vec<String> = packages
                .iter()
                .filter_map(|p| deps::requirement_name(p.trim_matches(|c| c == '"' || c == '\'')))
                .collect();
            let missing: Vec<String> = wanted
                .iter()
                .filter(|r| !named.contains(&deps::normalize(r.name)))
                .map(Requirement::spec)
                .collect();
            if !missing.is_empty() {
                note_as(
                    NoteKind::Action,
                    format!(
                        "{} installs the packages its RUN line names ({}) and no requirements \
                         file: add {} to that pip install",
                        target.dockerfile.as_deref().unwrap_or("Dockerfile"),
                        packages.join(" "),
                        missing.join(" ")
                    ),
                );
            }
            return Ok(());
        }
        Installed::Untraced(paths) => {
            if let Some(found) = &by_name {
                note_as(
                    NoteKind::Action,
                    format!(
                        "its image installs {}, which is not traced to a file of its build \
                         context: the packages went to {}; make sure the image installs them",
                        paths.join(", "),
                        display(&opts.dir, found)
                    ),
                );
            }
            by_name
        }
        Installed::Unknown => by_name,
    };
    let mut note = |message: String| note_as(NoteKind::Action, message);
    let Some(found) = deps_file else {
        note(format!(
            "no requirements.txt or pyproject.toml found: install {}",
            specs()
        ));
        return Ok(());
    };
    let manifest = match manifest_of(&found)? {
        Manifest::Itself => found,
        // What obs-init does itself (the lock is refreshed, or its command printed and
        // checked as a stale lock): a decision, not an action left to the user, which
        // would keep --check failing once done.
        Manifest::Source(source) => {
            note_as(
                NoteKind::Decided,
                format!(
                    "{} is compiled from {}: the packages go there, then it is compiled again",
                    display(&opts.dir, &found),
                    display(&opts.dir, &source)
                ),
            );
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
    let wanted = keep_protobuf_4(opts, target, &manifest, &installed, wanted, plan)?;
    let wanted = keep_mlflow_spans(opts, target, &manifest, &installed, wanted, plan)?;
    let change = deps_change(opts, &manifest, &wanted)?;
    let names: Vec<String> = wanted.iter().map(|r| r.name.to_string()).collect();
    plan.push_relocks(crate::lock::needed(
        &manifest,
        change.status == Status::Update,
        &names,
    ));
    plan.claim(&manifest, &target.service, Some(names));
    plan.push(change);
    Ok(())
}

/// The packages on the protobuf-4 line where the manifest, or another file the image
/// installs, keeps protobuf below 5: the newest lines need protobuf 5 and pip would refuse
/// the whole file (`ResolutionImpossible`), so the image would no longer build.
fn keep_protobuf_4(
    opts: &PythonOptions,
    target: &Target,
    manifest: &Path,
    installed: &[PathBuf],
    wanted: Vec<Requirement>,
    plan: &mut Plan,
) -> Result<Vec<Requirement>, Error> {
    let line = &deps::PROTOBUF_4;
    let pin = |file: &Path, text: &str, shown: &str| {
        let (spec, at) = deps::protobuf_below_5(file, text)?;
        Some(format!(
            "{shown}:{at} keeps protobuf below 5 (`{spec}`): the packages added are \
             OpenTelemetry {}, the last release on protobuf 4 (the module uses the SDK's own \
             log handler there)",
            line.newest_sdk
        ))
    };
    hold_to_line(opts, target, manifest, installed, wanted, plan, line, pin)
}

/// The packages below SDK 1.45 where the manifest, or another file the image installs, keeps
/// MLflow below 3.4: with 1.45 those MLflow releases fail to end every span, and their
/// traces reach neither the MLflow server nor the collector ([`deps::SDK_BELOW_1_45`]).
fn keep_mlflow_spans(
    opts: &PythonOptions,
    target: &Target,
    manifest: &Path,
    installed: &[PathBuf],
    wanted: Vec<Requirement>,
    plan: &mut Plan,
) -> Result<Vec<Requirement>, Error> {
    let line = &deps::SDK_BELOW_1_45;
    // Only the newest line installs 1.45; the older ones stop below it already.
    if !wanted
        .iter()
        .any(|r| *r == deps::LINES[0].sdk || *r == deps::LINES[0].exporter)
    {
        return Ok(wanted);
    }
    let pin = |file: &Path, text: &str, shown: &str| {
        let (otlp, spec, at, _) = deps::mlflow_otlp(file, text)?;
        (otlp != deps::MlflowOtlp::Dual).then(|| {
            format!(
                "{shown}:{at} keeps MLflow below 3.4 (`{spec}`), whose spans fail to end with \
                 OpenTelemetry SDK 1.45: the packages added stay below it (SDK {})",
                line.newest_sdk
            )
        })
    };
    hold_to_line(opts, target, manifest, installed, wanted, plan, line, pin)
}

/// The packages of `wanted` on `line` once the first of the files the image installs (the
/// manifest first) holds a pin `pin` finds, said in the note `pin` gives (from the file,
/// its text and its shown path); else `wanted` as it is.
#[allow(clippy::too_many_arguments)]
fn hold_to_line(
    opts: &PythonOptions,
    target: &Target,
    manifest: &Path,
    installed: &[PathBuf],
    wanted: Vec<Requirement>,
    plan: &mut Plan,
    line: &deps::Line,
    pin: impl Fn(&Path, &str, &str) -> Option<String>,
) -> Result<Vec<Requirement>, Error> {
    let mut files = vec![manifest.to_path_buf()];
    files.extend(installed.iter().filter(|f| **f != manifest).cloned());
    for file in files {
        let Some(message) = pin(&file, &read_text(&file)?, &display(&opts.dir, &file)) else {
            continue;
        };
        plan.notes.push(Note {
            service: Some(target.service.clone()),
            message,
            kind: NoteKind::Decided,
        });
        return Ok(wanted
            .iter()
            .filter_map(|r| line.same_package(r.name))
            .collect());
    }
    Ok(wanted)
}

/// What the target's image installs with pip, as far as its Dockerfile says.
enum Installed {
    /// Requirements files of the build context, in the order the image installs them.
    Files(Vec<PathBuf>),
    /// Only packages named on its RUN lines: no file to add to.
    PackagesOnly(Vec<String>),
    /// Requirements files at these container paths, not traced to the build context.
    Untraced(Vec<String>),
    /// No Dockerfile, or nothing installed with pip that says where (a project folder,
    /// poetry, uv): the files are found by name.
    Unknown,
}

fn image_installs(target: &Target) -> Installed {
    let Some((context, stage)) = target.image_stage() else {
        return Installed::Unknown;
    };
    let installs = stage.installs();
    let is_dir = |p: &Path| context.join(p).is_dir();
    // In the form the rest of the plan names the context's files (as given, not absolute).
    let shown_context = target.context.as_deref().unwrap_or(context);
    let files: Vec<PathBuf> = installs
        .requirements
        .iter()
        .filter_map(|p| stage.host_file(p, is_dir))
        .map(|rel| shown_context.join(rel))
        .filter(|p| p.is_file())
        .collect();
    if !files.is_empty() {
        Installed::Files(files)
    } else if !installs.requirements.is_empty() {
        Installed::Untraced(installs.requirements)
    } else if !installs.project && !installs.packages.is_empty() {
        Installed::PackagesOnly(installs.packages)
    } else {
        Installed::Unknown
    }
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

/// The packages to add: the base, and each framework's instrumentation.
pub(super) fn wanted_for(line: &deps::Line, frameworks: &[Framework]) -> Vec<Requirement> {
    let mut wanted = line.base();
    for row in crate::frameworks::rows(frameworks) {
        wanted.extend(row.instrumentation.iter().map(|p| line.instrumentation(p)));
    }
    wanted
}

fn deps_change(
    opts: &PythonOptions,
    path: &Path,
    wanted: &[Requirement],
) -> Result<FileChange, Error> {
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

/// What obs-init does for an MLflow app, from the MLflow release its image installs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MlflowExport {
    /// What that release does with the OTLP variables.
    pub otlp: deps::MlflowOtlp,
    /// Whether MLflow gets the OTLP trace variables (and the exporter package).
    pub exports: bool,
    /// Collector variables the app must not get: with them MLflow before 3.4 sends its
    /// traces over OTLP instead of to the MLflow server.
    pub withheld: Vec<&'static str>,
    /// What the plan says of it, and the kind of note.
    pub note: (NoteKind, String),
}

/// The variable that, set on its own, makes MLflow 2.16.1-3.3 export over OTLP instead of
/// to its server (MLflow reads it when the traces one is unset).
pub const MLFLOW_FALLBACK_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";

/// What the target's MLflow does with the OTLP variables, read from the files its image
/// installs (else the first manifest found by name, as the packages' lines are), and what
/// obs-init does about it (`--mlflow-otlp`: OTLP replaces the MLflow server where there is
/// no dual export). The newest release is assumed where no file says.
pub fn mlflow_export(opts: &PythonOptions, target: &Target) -> MlflowExport {
    let mut read: Vec<(String, PathBuf, String)> = Vec::new();
    match image_installs(target) {
        Installed::Files(files) => {
            for f in files {
                if let Ok(text) = read_text(&f) {
                    read.push((display(&opts.dir, &f), f, text));
                }
            }
        }
        Installed::PackagesOnly(packages) => {
            let dockerfile = target.dockerfile.as_deref().unwrap_or("Dockerfile");
            let lines: Vec<&str> = packages
                .iter()
                .map(|p| p.trim_matches(|c| c == '"' || c == '\''))
                .collect();
            read.push((
                dockerfile.to_string(),
                PathBuf::from("requirements.txt"),
                lines.join("\n"),
            ));
        }
        _ => {}
    }
    if read.is_empty() {
        let dirs = target.context.iter().cloned().chain([opts.dir.clone()]);
        let dirs: Vec<PathBuf> = dirs.collect();
        if let Some(f) = deps::first_manifest(dirs.iter().map(PathBuf::as_path))
            && let Ok(text) = read_text(&f)
        {
            read.push((display(&opts.dir, &f), f, text));
        }
    }
    let found = read.iter().find_map(|(shown, path, text)| {
        deps::mlflow_otlp(path, text)
            .map(|(otlp, spec, line, known)| (otlp, spec, line, known, shown))
    });
    mlflow_decision(found, opts.mlflow_otlp)
}

fn mlflow_decision(
    found: Option<(deps::MlflowOtlp, String, usize, bool, &String)>,
    replace_asked: bool,
) -> MlflowExport {
    use deps::MlflowOtlp;
    let (otlp, pinned) = match &found {
        Some((otlp, spec, line, known, shown)) => (*otlp, Some((spec, line, *known, shown))),
        None => (MlflowOtlp::Dual, None),
    };
    let release = |pinned: &Option<(&String, &usize, bool, &&String)>| match pinned {
        Some((spec, line, _, shown)) => format!("`{spec}` ({shown}:{line})"),
        None => "MLflow".into(),
    };
    let which = release(&pinned);
    match otlp {
        MlflowOtlp::Ignores => MlflowExport {
            otlp,
            exports: false,
            withheld: Vec::new(),
            note: (
                NoteKind::Info,
                format!(
                    "{which}: MLflow before 2.16.1 has no OTLP trace export, so it gets no \
                     MLflow variables; its traces stay in the MLflow server"
                ),
            ),
        },
        MlflowOtlp::Replaces if replace_asked => MlflowExport {
            otlp,
            exports: true,
            withheld: Vec::new(),
            note: (
                NoteKind::Decided,
                format!(
                    "{which}: MLflow before 3.4 has no dual export, and --mlflow-otlp asked \
                     for OTLP: its traces go to the collector instead of the MLflow server \
                     (they no longer show in the MLflow UI)"
                ),
            ),
        },
        MlflowOtlp::Replaces => MlflowExport {
            otlp,
            exports: false,
            withheld: vec![MLFLOW_FALLBACK_ENDPOINT],
            // A choice made for the user, with the flag that makes the other: the traces
            // stay where they were, so --check does not fail for it.
            note: (
                NoteKind::Decided,
                format!(
                    "{which}: MLflow before 3.4 has no dual export, so OTLP would replace the \
                     MLflow server (its traces would disappear from the MLflow UI): no OTLP \
                     trace variables set, and no {MLFLOW_FALLBACK_ENDPOINT}, which MLflow \
                     would export to as well; upgrade to mlflow>=3.4 for both, or pass \
                     --mlflow-otlp to send them to the collector instead"
                ),
            ),
        },
        MlflowOtlp::Dual => MlflowExport {
            otlp,
            exports: true,
            withheld: Vec::new(),
            note: match pinned {
                Some((spec, _, true, _)) if deps::mlflow_exports_unnamed(spec) => (
                    NoteKind::Action,
                    format!(
                        "{which}: MLflow 3.4 and 3.5 send their traces to the collector and to \
                         the MLflow server (dual export), but without a resource: the spans \
                         carry no service.name on the platform (MLflow 3.6 takes it from \
                         OTEL_SERVICE_NAME); upgrade to mlflow>=3.6 to tell them apart"
                    ),
                ),
                Some((_, _, true, _)) => (
                    NoteKind::Info,
                    format!(
                        "{which}: MLflow 3.4 and later sends its traces to the collector and \
                         to the MLflow server (dual export)"
                    ),
                ),
                _ => (
                    NoteKind::Decided,
                    format!(
                        "{}: taken as the newest MLflow, which sends its traces to the \
                         collector and to the MLflow server (dual export, 3.4 and later); \
                         an MLflow before 3.4 would send them to the collector only: pin it \
                         and run obs-init again",
                        match pinned {
                            Some(_) => format!("{which} pins no release below 3.4"),
                            None => "no file says which MLflow the image installs".into(),
                        }
                    ),
                ),
            },
        },
    }
}
