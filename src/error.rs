//! Errors. Each carries what a person needs to fix the problem: where (file, line, column)
//! and a `help` naming the flag or edit that gets past it.

use std::io;
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::paths::shown;

/// A 1-based position in a file; the column is known for syntax errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    pub line: usize,
    pub col: Option<usize>,
}

/// Why a file obs-init reads or edits (a compose file, a Kubernetes manifest or
/// kustomization, dagster.yaml) is refused: what, where (line, column) and, through
/// [`Refusal::help`], how to get past it.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum Refusal {
    #[error("invalid YAML: {message}")]
    Syntax {
        message: String,
        line: usize,
        col: usize,
        /// The text has template markers (`{%`, `{{`), so it is probably not YAML yet.
        template: bool,
    },
    #[error("duplicate key `{key}` (first defined at line {first_line})")]
    DuplicateKey {
        key: String,
        line: usize,
        col: usize,
        first_line: usize,
    },
    #[error("the file holds more than one YAML document")]
    MultipleDocuments { line: usize },
    #[error("the file has no YAML content")]
    Empty,
    #[error("the top level is a {found}, not a mapping")]
    RootNotMapping { found: &'static str, line: usize },
    #[error("the file has no `services:`")]
    NoServices,
    #[error(
        "a Docker Swarm stack file ({why}): Swarm ignores `network_mode`, so a Dapr sidecar \
         sharing its app's network namespace cannot run there"
    )]
    SwarmStack { why: String, line: usize },
    #[error("`services` is a {found}, not a mapping")]
    ServicesNotMapping { found: &'static str, line: usize },
    #[error("no service named `{name}`")]
    UnknownService {
        name: String,
        suggestions: Vec<String>,
        available: Vec<String>,
    },
    #[error("service `{service}` has `network_mode: {mode}`, so it cannot join {network}", network = crate::contract::NETWORK)]
    NetworkMode {
        service: String,
        mode: String,
        line: usize,
    },
    #[error(
        "service `{service}` already uses port {declared}, which the Dapr sidecar needs for {flag} {port}"
    )]
    PortClash {
        service: String,
        port: u16,
        flag: &'static str,
        declared: String,
        line: usize,
    },
    #[error("cannot add a Dapr sidecar to `{service}`: {reason}")]
    SidecarConflict {
        service: String,
        sidecar: String,
        line: usize,
        reason: String,
    },
    #[error(
        "cannot give `{service}`'s own Dapr sidecar `{sidecar}` the tracing configuration: {reason}"
    )]
    AdoptSidecar {
        service: String,
        sidecar: String,
        line: usize,
        reason: &'static str,
        /// Refused by `--overlay`, which cannot add to a command; in place it can.
        in_overlay: bool,
    },
    #[error("cannot edit service `{service}` safely: {what}")]
    SharedAnchor {
        service: String,
        what: String,
        line: usize,
    },
    #[error(
        "service `{service}` gets `{key}` through a merge key (`<<`); adding its own `{key}` would replace the merged one"
    )]
    MergedKey {
        service: String,
        key: String,
        line: usize,
    },
    #[error(
        "service `{service}` extends a service of `{file}`, whose keys obs-init cannot see here: an edit could change what it inherits"
    )]
    ExtendsFile {
        service: String,
        file: String,
        line: usize,
    },
    #[error(
        "service `{service}` is extended by {}: an edit to it would reach them too", by.iter().map(|b| format!("`{b}`")).collect::<Vec<_>>().join(", ")
    )]
    Extended {
        service: String,
        by: Vec<String>,
        line: usize,
    },
    #[error("network `{key}` is declared, but not as `external: true`")]
    NetworkNotExternal { key: String, line: usize },
    #[error("{}unsupported layout: {what}", service.as_ref().map(|s| format!("service `{s}`: ")).unwrap_or_default())]
    Unsupported {
        service: Option<String>,
        what: String,
        line: usize,
    },
    #[error(
        "`telemetry` holds {}, which Dagster does not accept: every Dagster process would fail to load the instance",
        keys.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
    )]
    InvalidDagsterTelemetry { keys: Vec<String>, line: usize },
    /// The edit did not verify: a bug in obs-init, never the user's fault.
    #[error("internal error: the edited file did not verify ({0})")]
    Internal(String),
}

impl Refusal {
    /// The refusal for a YAML parser error in `content` (which tells whether it is a
    /// template not rendered yet).
    pub fn from_parse(e: crate::yaml::doc::ParseError, content: &str) -> Refusal {
        use crate::yaml::doc::ParseError;
        match e {
            ParseError::Syntax { message, line, col } => Refusal::Syntax {
                message,
                line,
                col,
                template: content.contains("{%")
                    || content.contains("{{")
                    || content.contains("{#"),
            },
            ParseError::DuplicateKey {
                key,
                line,
                col,
                first_line,
            } => Refusal::DuplicateKey {
                key,
                line,
                col,
                first_line,
            },
            ParseError::MultipleDocuments { line } => Refusal::MultipleDocuments { line },
        }
    }

    /// 1-based line and column, where known.
    pub fn location(&self) -> Option<Location> {
        use Refusal::*;
        let at = |line: &usize| Location {
            line: *line,
            col: None,
        };
        match self {
            Syntax { line, col, .. } | DuplicateKey { line, col, .. } => Some(Location {
                line: *line,
                col: Some(*col),
            }),
            MultipleDocuments { line }
            | RootNotMapping { line, .. }
            | ServicesNotMapping { line, .. }
            | NetworkMode { line, .. }
            | PortClash { line, .. }
            | SidecarConflict { line, .. }
            | AdoptSidecar { line, .. }
            | SharedAnchor { line, .. }
            | MergedKey { line, .. }
            | ExtendsFile { line, .. }
            | Extended { line, .. }
            | NetworkNotExternal { line, .. }
            | InvalidDagsterTelemetry { line, .. }
            | SwarmStack { line, .. }
            | Unsupported { line, .. } => Some(at(line)),
            Empty | NoServices | UnknownService { .. } | Internal(_) => None,
        }
    }

    pub fn help(&self) -> Option<String> {
        use Refusal::*;
        let net = crate::contract::NETWORK;
        Some(match self {
            Syntax { template: true, .. } => {
                "this looks like a template (it has `{%` or `{{`): render it first and run \
                 obs-init on the result"
                    .into()
            }
            Syntax { .. } => "fix the YAML at that position; `docker compose config` shows \
                              the same error"
                .into(),
            DuplicateKey { key, .. } => {
                format!("remove one of the `{key}` keys: YAML keeps only one of them")
            }
            MultipleDocuments { .. } => {
                "split the documents into separate compose files and pass one with --file".into()
            }
            Empty | RootNotMapping { .. } | NoServices | ServicesNotMapping { .. } => {
                "point --file at the compose file that defines your `services:`".into()
            }
            SwarmStack { .. } => "onboard the compose file `docker compose` runs (--file PATH), \
                                  or the Kubernetes manifests (obs-init kubernetes); on Swarm, \
                                  daprd has to run inside the app's own container"
                .into(),
            UnknownService {
                suggestions,
                available,
                ..
            } => match suggestions.first() {
                Some(s) => format!("did you mean `--service {s}`?"),
                None if available.is_empty() => "the file defines no services".into(),
                None => format!("services in this file: {}", available.join(", ")),
            },
            NetworkMode { .. } => format!(
                "a service sharing another network namespace cannot join {net}; onboard the \
                 service that owns the namespace instead"
            ),
            PortClash { port, .. } => format!(
                "the app and its sidecar share one port space: move the app off {port} \
                 (Dapr uses 3500, 50001 and 9090)"
            ),
            SidecarConflict { sidecar, .. } => format!(
                "keep one Dapr sidecar per app, and rename `{sidecar}` if it is not one \
                 (obs-init adds an app's sidecar as `<app>-dapr`); a project's own sidecar is \
                 given `--config {}` and the mount",
                crate::contract::CONFIG_MOUNT
            ),
            AdoptSidecar {
                in_overlay: true, ..
            } => "onboard this service in place (without --overlay): obs-init then gives the \
                  sidecar itself `--config`, the mount, the platform network and the metrics \
                  label"
                .into(),
            AdoptSidecar { .. } => format!(
                "add `--config {}` to its command and mount dapr-config.yml there read-only, \
                 or write the sidecar's command in the service itself and run again",
                crate::contract::CONFIG_MOUNT
            ),
            SharedAnchor { .. } => "onboard it with --overlay (a Compose override file, which \
                                    leaves the shared keys alone), or give this service its own \
                                    copy of them (or move the anchor to an `x-` extension \
                                    field), then run again"
                .into(),
            MergedKey { key, .. } => format!(
                "onboard it with --overlay (a Compose override file adds to the merged \
                 `{key}` without replacing it), or write the service's `{key}` out in the \
                 service itself (e.g. `<<: *anchor` inside `{key}`), then run again"
            ),
            ExtendsFile { file, .. } => format!(
                "onboard the service it extends in `{file}` instead, or write the keys it \
                 takes from there into the service itself, then run again"
            ),
            Extended { by, .. } => format!(
                "onboard it with --overlay (Compose applies an override file after `extends`, \
                 so what extends it stays as it is), or onboard {} itself, then run again",
                by.first().map_or("the extending service", String::as_str)
            ),
            NetworkNotExternal { key, .. } => format!(
                "declare it as `{key}: {{external: true}}`: otherwise Compose creates a \
                 project-local network the collector is not on"
            ),
            InvalidDagsterTelemetry { .. } => "Dagster has no OpenTelemetry settings in \
                                               dagster.yaml (`telemetry` takes only `enabled`); \
                                               run again with --fix-invalid to remove the block"
                .into(),
            Unsupported { .. } => "edit this part by hand (see the README's manual steps)".into(),
            Internal(_) => "nothing was written; please report this with the compose file".into(),
        })
    }
}

/// [`shown`] for serde: a path in JSON reads as in the text.
pub fn serialize_path<S: serde::Serializer>(
    path: &std::path::Path,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.serialize_str(&shown(path))
}

/// Any error of a run, with the file it concerns.
#[derive(Debug, Error)]
pub enum Error {
    #[error("{source}")]
    Refused {
        path: PathBuf,
        #[source]
        source: Refusal,
    },
    #[error("no compose file in {dir}")]
    NoComposeFile { dir: PathBuf },
    /// No compose file, but Kubernetes manifests: `obs-init kubernetes` is the command.
    #[error(
        "no compose file in {}, only Kubernetes manifests ({})",
        shown(dir),
        shown(example)
    )]
    OnlyManifests { dir: PathBuf, example: PathBuf },
    #[error("cannot read {}: {source}", shown(path))]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{} is not UTF-8 text", shown(path))]
    NotUtf8 { path: PathBuf },
    #[error("cannot write {}: {source}", shown(path))]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{} exists with different content: {reason}", shown(path))]
    Conflict {
        path: PathBuf,
        reason: String,
        help: String,
    },
    #[error("{} is not a valid answers file: {reason}", shown(path))]
    InvalidAnswers { path: PathBuf, reason: String },
    #[error("cannot add the dependencies to {}: {reason}", shown(path))]
    Manifest { path: PathBuf, reason: String },
    #[error("cannot ask on the terminal: {source}")]
    Prompt {
        #[source]
        source: io::Error,
    },
    #[error("no service chosen to onboard")]
    NoServiceChosen {
        /// What `--yes` would onboard.
        candidates: Vec<String>,
        /// The services with a build that `--yes` would leave out (no Python found).
        left_out: Vec<String>,
    },
    #[error("no workload to onboard in {} (Deployment, StatefulSet, DaemonSet, Job or CronJob{})", shown(dir), if named.is_empty() { String::new() } else { format!(" named {}", named.join(", ")) })]
    NoWorkload { dir: PathBuf, named: Vec<String> },
    #[error(
        "{} is onboarded {from}; obs-init will not onboard it {to} as well",
        shown(compose)
    )]
    ModeSwitch {
        compose: PathBuf,
        from: String,
        to: String,
    },
    #[error(
        "kustomize overlays build on {}: onboard the base, or patch the overlays?",
        bases.join(", ")
    )]
    KustomizeChoice {
        /// The base folders, as the user sees them.
        bases: Vec<String>,
        /// The overlays nothing else builds on, which are the ones applied.
        overlays: Vec<String>,
    },
    #[error(
        "{file}:{line}: `{what}` renames the Dapr Configuration the base would hold, and the pods' dapr.io/config would name one that is not there"
    )]
    KustomizeRenames {
        file: String,
        line: usize,
        what: String,
        /// The overlay to patch instead.
        overlay: String,
    },
    #[error(
        "{overlay} builds on {}, which would each hold the {} Configuration in one namespace: kustomize refuses the same resource twice",
        bases.join(" and "),
        crate::contract::K8S_CONFIG_NAME
    )]
    KustomizeDuplicate {
        overlay: String,
        bases: Vec<String>,
        /// The overlay to patch instead.
        patch: String,
    },
    #[error(
        "{overlay}: what kustomize builds there loses {what} of {workload}{}",
        by.as_ref().map(|b| format!(": {} at {}:{}", b.2, b.0, b.1)).unwrap_or_default()
    )]
    KustomizeLoses {
        overlay: String,
        workload: String,
        what: String,
        /// The patch that does it, where obs-init's model finds one: file, line, how.
        by: Option<Box<(String, usize, String)>>,
        /// A Configuration is missing (not an erasing patch).
        configuration: bool,
    },
    #[error("{dir} has no kustomization.yaml: --patch-overlay names a kustomize overlay folder")]
    NoKustomization { dir: String },
    #[error("--yes found no Python service to onboard")]
    NoPythonService { candidates: Vec<String> },
    #[error(
        "service `{service}` runs Python {version} ({source_}), which no OpenTelemetry SDK release the module works with supports"
    )]
    UnsupportedPython {
        service: String,
        version: crate::interpreter::Version,
        source_: String,
    },
    #[error("{} value(s) differ from what obs-init would write:{}", .0.len(), .0.iter().map(|c| format!("\n  {}{}: {}", c.file, c.conflict.line.map(|l| format!(":{l}")).unwrap_or_default(), c.conflict.what)).collect::<String>())]
    Conflicts(Vec<crate::conflict::FileConflict>),
    #[error("files obs-init would change have uncommitted changes: {}", files.join(", "))]
    Dirty { files: Vec<String> },
    #[error("{path} is outside the project directory {root} (it resolves to {resolved})")]
    OutsideRoot {
        path: PathBuf,
        root: PathBuf,
        resolved: PathBuf,
    },
    #[error("cannot write {path}: {source}; already written: {}", if written.is_empty() { "none".to_string() } else { written.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ") })]
    PartialWrite {
        path: PathBuf,
        #[source]
        source: io::Error,
        written: Vec<PathBuf>,
    },
    /// The lock refresh after writing failed; every file was put back.
    #[error(
        "`{command}` failed in {} ({status}); every file is back as it was:\n{output}",
        shown(dir)
    )]
    Lock {
        lock: PathBuf,
        dir: PathBuf,
        command: String,
        status: String,
        output: String,
    },
}

impl Error {
    /// The file and 1-based position the error points at.
    pub fn location(&self) -> Option<(PathBuf, Option<Location>)> {
        match self {
            Error::Refused { path, source } => Some((path.clone(), source.location())),
            Error::Read { path, .. }
            | Error::NotUtf8 { path }
            | Error::Write { path, .. }
            | Error::OutsideRoot { path, .. }
            | Error::PartialWrite { path, .. }
            | Error::Conflict { path, .. }
            | Error::InvalidAnswers { path, .. }
            | Error::Manifest { path, .. }
            | Error::Lock { lock: path, .. } => Some((path.clone(), None)),
            Error::ModeSwitch { compose, .. } => Some((compose.clone(), None)),
            Error::KustomizeRenames { file, line, .. } => Some((
                PathBuf::from(file),
                Some(Location {
                    line: *line,
                    col: None,
                }),
            )),
            Error::KustomizeLoses { by: Some(by), .. } => Some((
                PathBuf::from(&by.0),
                Some(Location {
                    line: by.1,
                    col: None,
                }),
            )),
            Error::NoWorkload { .. }
            | Error::KustomizeLoses { .. }
            | Error::KustomizeChoice { .. }
            | Error::KustomizeDuplicate { .. }
            | Error::NoKustomization { .. }
            | Error::NoComposeFile { .. }
            | Error::OnlyManifests { .. }
            | Error::NoServiceChosen { .. }
            | Error::NoPythonService { .. }
            | Error::UnsupportedPython { .. }
            | Error::Conflicts(_)
            | Error::Prompt { .. }
            | Error::Dirty { .. } => None,
        }
    }

    pub fn help(&self) -> Option<String> {
        match self {
            Error::Refused { source, .. } => source.help(),
            Error::NoComposeFile { .. } => Some(
                "run obs-init in the project's directory (--dir PATH), or name the file with \
                 --file PATH; looked for compose.yaml, compose.yml, docker-compose.yml, \
                 docker-compose.yaml"
                    .into(),
            ),
            Error::OnlyManifests { dir, .. } => Some(format!(
                "onboard the manifests with `obs-init kubernetes{}` (the Dapr annotations, the \
                 collector's variables and the Dapr Configuration; add --dry-run to see the \
                 changes first), or name a compose file with --file PATH",
                if dir == Path::new(".") {
                    String::new()
                } else {
                    format!(" -C {}", shown(dir))
                }
            )),
            Error::NotUtf8 { .. } => Some("convert the file to UTF-8 first".into()),
            Error::Conflict { help, .. } => Some(help.clone()),
            Error::InvalidAnswers { .. } => Some(
                "fix it, or delete it: onboarding then asks (or takes flags) again, and remove \
                 goes by what reads as obs-init's"
                    .into(),
            ),
            Error::Manifest { .. } => Some(
                "declare the project's dependencies in [project] or [tool.poetry.dependencies] \
                 (or use a requirements.txt), then run again"
                    .into(),
            ),
            Error::Prompt { .. } => Some(
                "run again with --yes, or answer with flags (--service, --app-port, \
                 --framework, --on-conflict)"
                    .into(),
            ),
            Error::NoServiceChosen {
                candidates,
                left_out,
            } if candidates.is_empty() && !left_out.is_empty() => Some(format!(
                "name the services to onboard with --service NAME: {} {} a build but no Python \
                 that obs-init found, so --yes would take none",
                left_out.join(", "),
                if left_out.len() == 1 { "has" } else { "have" }
            )),
            Error::NoServiceChosen { candidates, .. } if candidates.is_empty() => {
                Some("name the services to onboard with --service NAME".into())
            }
            Error::NoWorkload { .. } => Some(
                "name the manifests with --file PATH (a rendered chart, not its templates), \
                 and the workloads with --workload Kind/name (well-known infrastructure, a \
                 postgres or redis, is onboarded only when named)"
                    .into(),
            ),
            Error::ModeSwitch { .. } => Some(
                "take the onboarding back with `obs-init remove`, then onboard again the other \
                 way (or run without --overlay, --edit-base or --patch-overlay to keep the way \
                 it is onboarded)"
                    .into(),
            ),
            Error::KustomizeChoice { overlays, .. } => Some(format!(
                "choose `obs-init kubernetes --edit-base` (the manifests themselves: every \
                 overlay gets it) or `obs-init kubernetes --patch-overlay DIR`, repeatable (a \
                 patch in that overlay, the base untouched); the overlays: {}",
                overlays.join(", ")
            )),
            Error::KustomizeRenames { overlay, .. } => Some(format!(
                "onboard that overlay with a patch, which renames the annotation with the \
                 Configuration: obs-init kubernetes --patch-overlay {overlay}"
            )),
            Error::KustomizeDuplicate { patch, .. } => Some(format!(
                "onboard the overlay with one patch and one Configuration instead: obs-init \
                 kubernetes --patch-overlay {patch}"
            )),
            Error::KustomizeLoses {
                overlay,
                configuration: true,
                ..
            } => Some(format!(
                "put the Configuration in the pods' namespace: onboard that overlay with a \
                 patch and its own Configuration, obs-init kubernetes --patch-overlay {overlay}"
            )),
            Error::KustomizeLoses { .. } => Some(
                "obs-init puts what a patch erases back with a patch listed last in the \
                 overlay, and this one runs after every patch (a transformer) or the build \
                 still loses it: make it add its keys instead of replacing the map or list (in a \
                 JSON patch, `add /spec/template/metadata/annotations/<key>`, `/` written `~1`), \
                 then run again"
                    .into(),
            ),
            Error::NoKustomization { .. } => Some(
                "name the folder of an overlay's kustomization.yaml, whose resources list the \
                 base (e.g. --patch-overlay k8s/overlays/prod)"
                    .into(),
            ),
            Error::NoPythonService { candidates } => Some(format!(
                "obs-init instruments Python services, and found none among the built ones; \
                 name the services to onboard anyway with --service NAME (they get the Dapr \
                 sidecar and the OTEL variables, no module): {}",
                candidates.join(", ")
            )),
            Error::UnsupportedPython { .. } => Some(
                "the generated module needs Python 3.8 or newer (OpenTelemetry SDK 1.33 is the \
                 last release for 3.8, 1.41 for 3.9); build the image on a newer Python and run \
                 again"
                    .into(),
            ),
            Error::NoServiceChosen {
                candidates,
                left_out,
            } if left_out.is_empty() => Some(format!(
                "pass --service NAME (repeatable), or --yes to onboard the suggested: {}",
                candidates.join(", ")
            )),
            Error::NoServiceChosen {
                candidates,
                left_out,
            } => Some(format!(
                "pass --service NAME (repeatable), or --yes to onboard the Python services: {} \
                 ({} {} no Python: name {} with --service for the sidecar and the variables \
                 alone)",
                candidates.join(", "),
                left_out.join(", "),
                if left_out.len() == 1 { "runs" } else { "run" },
                if left_out.len() == 1 { "it" } else { "them" },
            )),
            Error::Conflicts(conflicts) => Some(crate::conflict::help(conflicts)),
            Error::Dirty { .. } => Some(
                "commit or stash them first, so that obs-init's edits can be reviewed on their \
                 own; or pass --allow-dirty"
                    .into(),
            ),
            Error::OutsideRoot { .. } => Some(
                "obs-init writes only inside --dir (following symlinks): point --dir at the \
                 project root, or the path option inside it"
                    .into(),
            ),
            Error::PartialWrite { .. } => Some(
                "the files listed were replaced; the others are unchanged. Fix the cause and \
                 run again: obs-init picks up where it stopped"
                    .into(),
            ),
            Error::Lock { lock, command, .. } => Some(format!(
                "fix what it reports and run again; or pass --no-lock to write the changes \
                 without refreshing {}, and run `{command}` there once it can",
                shown(lock)
            )),
            Error::Read { .. } | Error::Write { .. } => None,
        }
    }

    /// Whether this is obs-init's own fault (a failed self-check), not the input's.
    pub fn is_internal(&self) -> bool {
        matches!(
            self,
            Error::Refused {
                source: Refusal::Internal(_),
                ..
            }
        )
    }
}
