//! Compose files: what a file defines and what a service inherits, read the way Compose
//! reads them (this module and [`inherit`], [`interpolate`], [`ports`]); onboarding a file
//! ([`onboard`]), what it added ([`record`]), and taking that back ([`remove`]).

pub mod inherit;
pub mod interpolate;
pub(crate) mod layers;
mod onboard;
pub mod overlay;
pub mod ports;
mod record;
pub mod remove;
pub mod sidecar;

pub use crate::contract::{
    COLLECTOR_ADDRESS, COLLECTOR_URL, CONFIG_MOUNT, DAPR_PORTS, METRICS_LABEL, METRICS_PORT,
    NETWORK, app_id, daprd_image, sidecar_name,
};
pub(crate) use onboard::seq_style;
pub use onboard::{onboard, onboard_files};
pub use record::{added_paths, filled_empty_keys};

use std::path::{Path, PathBuf};

use crate::contract;
use crate::error::Error;
use crate::error::Refusal;
use crate::yaml::doc::{Document, Kind, Node};
use crate::yaml::splice::Change;
use crate::yaml::text::Text;
use inherit::lookup;
use ports::PortRange;

#[derive(Debug, Clone)]
pub struct ComposeOptions {
    pub services: Vec<String>,
    /// The port each app listens on, for daprd's `--app-port`; inferred from the service's
    /// `ports`/`expose` for services not listed.
    pub app_ports: Vec<(String, u16)>,
    pub dapr_version: String,
    /// The Dapr configuration's path as the compose file's bind mounts spell it
    /// (relative to the compose file's directory, starting with `./` or `../`).
    pub config_source: String,
    /// Variables some services need on top of the common ones (e.g. MLflow's), by service.
    pub extra_env: Vec<(String, Vec<(String, String)>)>,
    /// Common variables some services must not get, by service (MLflow before 3.4 exports
    /// its traces to `OTEL_EXPORTER_OTLP_ENDPOINT` instead of its server).
    pub withheld_env: Vec<(String, Vec<String>)>,
    /// The project's `service.namespace`, as written ([`contract::compose_namespace`]).
    pub namespace: String,
}

impl ComposeOptions {
    /// The variables `service` gets: the common ones but those withheld from it, then its
    /// framework's.
    pub fn env_of(&self, service: &str) -> Vec<(String, String)> {
        let of = |s: &&String| *s == service;
        let framework = crate::contract::FrameworkEnv {
            add: self
                .extra_env
                .iter()
                .filter(|(s, _)| of(&s))
                .flat_map(|(_, vars)| vars.iter().cloned())
                .collect(),
            withheld: self
                .withheld_env
                .iter()
                .filter(|(s, _)| of(&s))
                .flat_map(|(_, vars)| vars.iter().cloned())
                .collect(),
        };
        framework.apply(crate::contract::app_env(service, &self.namespace))
    }
}

pub use crate::conflict::Conflict;

/// What planning needs to know of a service before onboarding it.
#[derive(Debug, Clone, Default)]
pub struct ServiceInfo {
    /// The build context as written (`None`: image only).
    pub build: Option<String>,
    /// `build.dockerfile`, relative to the build context.
    pub dockerfile: Option<String>,
    /// `build.target`: the Dockerfile stage built, when not the last.
    pub target: Option<String>,
    /// Its image: evidence of what it runs.
    pub image: Option<String>,
    /// Its entrypoint and command, each on one line: evidence of what it runs.
    pub commands: Vec<String>,
    /// The app port to suggest: the one its command names, else its one container port.
    pub suggested_port: Option<u16>,
    /// Where the suggested port was read: `command` or `ports`.
    pub port_source: Option<&'static str>,
    /// Its bind mounts: the host path as written, and the container path.
    pub binds: Vec<(String, String)>,
    /// Its `environment` entries that have a value.
    pub environment: Vec<(String, String)>,
}

/// The project name Compose gives the project of the compose file at `path` with `content`,
/// as far as its files say (the shell's `COMPOSE_PROJECT_NAME` and `-p` are not known here):
/// `COMPOSE_PROJECT_NAME` in `.env` beside it, else the top-level `name:` (interpolated with
/// `.env`, normalised), else the folder's name normalised, as compose-go does. `None` when
/// that leaves nothing (Compose then refuses the project).
pub fn project_name(path: &Path, content: &str) -> Option<String> {
    let dir = crate::paths::absolute(&crate::paths::compose_dir(path));
    let dotenv = std::fs::read_to_string(dir.join(".env")).unwrap_or_default();
    let vars = interpolate::Vars::from_dotenv(&dotenv);
    let valid = |n: &str| !n.is_empty() && contract::normalize_project_name(n) == n;
    if let Some(n) = vars.get("COMPOSE_PROJECT_NAME").filter(|n| valid(n)) {
        return Some(n);
    }
    let named = parse(content)
        .ok()
        .and_then(|(_, doc)| {
            doc.root
                .as_ref()
                .and_then(|r| r.get("name"))
                .and_then(Node::as_str)
                .map(String::from)
        })
        .and_then(|n| interpolate::interpolate(&n, &vars).ok())
        .map(|n| contract::normalize_project_name(&n))
        .filter(|n| !n.is_empty());
    named.or_else(|| {
        let folder = dir.canonicalize().unwrap_or(dir);
        let base = folder.file_name()?.to_string_lossy().to_string();
        Some(contract::normalize_project_name(&base)).filter(|n| !n.is_empty())
    })
}

/// Checks that every name in `wanted` is a service, suggesting the closest otherwise.
pub fn check_names(services: &Node, wanted: &[String]) -> Result<(), Refusal> {
    let names = service_names(services);
    match wanted.iter().find(|w| !names.contains(w)) {
        None => Ok(()),
        Some(name) => Err(Refusal::UnknownService {
            name: name.clone(),
            suggestions: closest(name, &names),
            available: names,
        }),
    }
}

/// The container-side ports a service publishes or exposes, its own and (through
/// `extends`, which adds them up) its bases', with the line of each.
fn used_ports<'d>(
    doc: &'d Document,
    service: &'d Node,
    bases: &[(String, &'d Node)],
) -> Vec<(PortRange, usize)> {
    std::iter::once(service)
        .chain(bases.iter().map(|(_, b)| *b))
        .flat_map(|n| container_ports(doc, n))
        .collect()
}

/// The port a service listens on as far as its definition says, and where that was read:
/// the one its command names, else its only container port.
pub(crate) fn inferred_port<'d>(
    doc: &'d Document,
    service: &'d Node,
    bases: &[(String, &'d Node)],
) -> Option<(u16, &'static str)> {
    ports::command_port(&command_words(doc, service, bases))
        .map(|p| (p, "command"))
        .or_else(|| single_port(&used_ports(doc, service, bases)).map(|p| (p, "ports")))
}

/// The note for an app port obs-init inferred.
pub fn inferred_port_note(port: u16, source: &str) -> String {
    format!("app port {port} taken from the service's {source} (override with --app-port)")
}

pub fn service_info(doc: &Document, services: &Node, name: &str) -> ServiceInfo {
    let Some(service) = services.get(name).map(|s| doc.resolve(s)) else {
        return ServiceInfo::default();
    };
    // What it runs may come from the service it extends; a base Compose would reject is
    // reported when onboarding, not here.
    let bases = inherit::bases(doc, services, name).unwrap_or_default();
    let get = |key| inherit::effective(doc, service, &bases, key);
    // A block-scalar command reads as one line, as a shell would run it.
    let commands: Vec<String> = ["entrypoint", "command"]
        .into_iter()
        .filter_map(get)
        .map(|n| words(n).join(" "))
        .filter(|c| !c.is_empty())
        .collect();
    let suggested = inferred_port(doc, service, &bases);
    ServiceInfo {
        build: get("build").and_then(build_context),
        dockerfile: get("build")
            .and_then(|b| b.get("dockerfile"))
            .and_then(Node::as_str)
            .map(String::from),
        target: get("build")
            .and_then(|b| b.get("target"))
            .and_then(Node::as_str)
            .map(String::from),
        image: get("image").and_then(Node::as_str).map(String::from),
        commands,
        suggested_port: suggested.map(|(p, _)| p),
        port_source: suggested.map(|(_, s)| s),
        binds: get("volumes").map(binds).unwrap_or_default(),
        environment: get("environment").map(env_values).unwrap_or_default(),
    }
}

/// A `volumes` list's bind mounts, short (`./src:/app/src:ro`) and long syntax.
pub(crate) fn binds(volumes: &Node) -> Vec<(String, String)> {
    let is_path = |s: &str| s.starts_with('.') || s.starts_with('/') || s.starts_with('~');
    volumes
        .items()
        .unwrap_or_default()
        .iter()
        .filter_map(|v| match v.as_str() {
            Some(short) => {
                let mut parts = short.splitn(3, ':');
                let (host, target) = (parts.next()?, parts.next()?);
                is_path(host).then(|| (host.to_string(), target.to_string()))
            }
            None => {
                let field = |k| v.get(k).and_then(Node::as_str);
                (field("type") == Some("bind"))
                    .then(|| Some((field("source")?.to_string(), field("target")?.to_string())))
                    .flatten()
            }
        })
        .collect()
}

/// An `environment` (map or `KEY=VALUE` list): the entries that have a value.
fn env_values(env: &Node) -> Vec<(String, String)> {
    match &env.kind {
        Kind::Seq { items, .. } => items
            .iter()
            .filter_map(|i| {
                let (k, v) = i.as_str()?.split_once('=')?;
                Some((k.to_string(), v.to_string()))
            })
            .collect(),
        _ => env
            .entries()
            .unwrap_or_default()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str()?.to_string(), v.as_str()?.to_string())))
            .collect(),
    }
}

/// Something worth telling the user that does not stop onboarding.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Note {
    pub service: Option<String>,
    pub message: String,
    pub kind: NoteKind,
}

/// What a note asks of the reader: the summary shows each kind on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NoteKind {
    /// Something left for the user to do before onboarding is complete.
    Action,
    /// A choice obs-init made where no flag said (a port, a framework, where a file goes).
    Decided,
    /// Worth knowing; needs nothing.
    Info,
}

#[derive(Debug, Clone)]
pub struct ComposeOutcome {
    /// The new file content (BOM included when the original had one), the project's values
    /// kept where they differ from obs-init's.
    pub after: String,
    pub changes: Vec<Change>,
    pub notes: Vec<Note>,
    /// The values kept: each is one choice the user (or `--on-conflict`) makes.
    pub conflicts: Vec<Conflict>,
    /// The other choice, when there are conflicts: obs-init's values written over them.
    pub overwritten: Option<Overwritten>,
    /// The project's own sidecars onboarding gave the tracing configuration.
    pub adopted: Vec<Adopted>,
}

/// A Dapr sidecar the project already ran for an app, adopted rather than added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adopted {
    pub service: String,
    pub sidecar: String,
    /// When it passes `--config` with its own Configuration: the path in the container, and
    /// the bind mount's source (as written) that provides it, when one does.
    pub own_config: Option<(String, Option<String>)>,
    /// Its bind mounts (host path, container path) as written, through every file: what
    /// finds the Configuration once variables in them are resolved.
    pub binds: Vec<(String, String)>,
}

/// The file with obs-init's values written over every conflict.
#[derive(Debug, Clone)]
pub struct Overwritten {
    pub after: String,
    pub changes: Vec<Change>,
}

/// Compose's own discovery order.
pub const COMPOSE_NAMES: [&str; 4] = [
    "compose.yaml",
    "compose.yml",
    "docker-compose.yml",
    "docker-compose.yaml",
];

/// The compose file: `file` (relative to `dir`, as `-C DIR -f FILE` reads in git and cargo),
/// or the first of [`COMPOSE_NAMES`] found in `dir`.
pub fn find_compose(dir: &Path, file: Option<&Path>) -> Result<PathBuf, Error> {
    if let Some(f) = file {
        return Ok(dir.join(f));
    }
    COMPOSE_NAMES
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
        .ok_or_else(|| Error::NoComposeFile {
            dir: dir.to_path_buf(),
        })
}

/// Refuses a service that runs in another's network namespace: the sidecar shares the
/// app's, and `network_mode` excludes the platform network. Onboarding in place and in an
/// overlay check it alike.
pub(crate) fn check_namespace<'d>(
    doc: &'d Document,
    node: &'d Node,
    name: &str,
    bases: &[(String, &'d Node)],
) -> Result<(), Refusal> {
    match inherit::effective(doc, node, bases, "network_mode") {
        Some(mode) => Err(Refusal::NetworkMode {
            service: name.into(),
            mode: mode.as_str().unwrap_or("?").to_string(),
            line: mode.start.line + 1,
        }),
        None => Ok(()),
    }
}

/// Refuses a service already using a port daprd takes in its namespace, then decides the
/// port the sidecar calls the app on (`--app-port`, else inferred), with the note saying how.
/// The ports the service's own file uses must leave daprd's free; the app port is the one
/// given, else `inferred` (its command's, or its one container port, read through the
/// project's files by the caller).
pub(crate) fn check_ports<'d>(
    doc: &'d Document,
    node: &'d Node,
    name: &str,
    bases: &[(String, &'d Node)],
    opts: &ComposeOptions,
    inferred: Option<(u16, &'static str)>,
) -> Result<(Option<u16>, Vec<Note>), Refusal> {
    let used = used_ports(doc, node, bases);
    for (port, flag) in DAPR_PORTS {
        if let Some((range, line)) = used.iter().find(|(r, _)| r.contains(port)) {
            return Err(Refusal::PortClash {
                service: name.into(),
                port,
                flag,
                declared: range.to_string(),
                line: *line,
            });
        }
    }
    let mut notes = Vec::new();
    let svc = || Some(name.to_string());
    let given = opts
        .app_ports
        .iter()
        .find(|(s, _)| s == name)
        .map(|(_, p)| *p);
    let app_port = given.or_else(|| match inferred {
        Some((one, source)) => {
            notes.push(Note {
                service: svc(),
                message: inferred_port_note(one, source),
                kind: NoteKind::Decided,
            });
            Some(one)
        }
        None => {
            notes.push(Note {
                service: svc(),
                message: "no app port known: the sidecar will not call the app \
                          (pass --app-port PORT)"
                    .into(),
                kind: NoteKind::Info,
            });
            None
        }
    });
    Ok((app_port, notes))
}

/// Parses `content` as YAML, with the parser's errors as the refusals they are.
pub fn parse(content: &str) -> Result<(Text, Document), Refusal> {
    crate::yaml::parse_file(content)
}

/// The mapping of services in a parsed compose document.
pub fn services(doc: &Document) -> Result<&Node, Refusal> {
    let root = doc.root.as_ref().ok_or(Refusal::Empty)?;
    let Kind::Map { .. } = root.kind else {
        return Err(Refusal::RootNotMapping {
            found: root.kind_name(),
            line: root.start.line + 1,
        });
    };
    let (key, services) = root.get_entry("services").ok_or(Refusal::NoServices)?;
    match services.kind {
        Kind::Map { .. } => Ok(services),
        _ => Err(Refusal::ServicesNotMapping {
            found: services.kind_name(),
            line: key.start.line + 1,
        }),
    }
}

/// Why `path` is a Docker Swarm stack file, where it says so: its header names `docker stack
/// deploy` or Swarm, or its name says stack and its services have `deploy:` sections. Swarm
/// ignores `network_mode`, the sidecar's whole design.
pub fn swarm_stack(path: &std::path::Path, text: &str, services: &Node) -> Option<Refusal> {
    let header = text
        .lines()
        .take_while(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
        .position(|l| {
            let l = l.to_ascii_lowercase();
            l.contains("docker stack deploy") || l.contains("swarm")
        });
    if let Some(i) = header {
        return Some(Refusal::SwarmStack {
            why: "its header says so".into(),
            line: i + 1,
        });
    }
    // docker-stack.yml, stack.yml, stack.prod.yml, app_stack.yaml; not full-stack-app.yml.
    let named = path.file_stem().is_some_and(|n| {
        let n = n.to_string_lossy().to_ascii_lowercase();
        let n = n.split('.').next().unwrap_or_default().to_string();
        n == "stack" || n.ends_with("-stack") || n.ends_with("_stack") || n.starts_with("stack-")
    });
    let deploy = services
        .entries()
        .unwrap_or_default()
        .iter()
        .find_map(|(_, s)| s.get_entry("deploy").map(|(k, _)| k.start.line + 1));
    match (named, deploy) {
        (true, Some(line)) => Some(Refusal::SwarmStack {
            why: "a stack file with `deploy:` sections".into(),
            line,
        }),
        _ => None,
    }
}

/// Service names in file order.
pub fn service_names(services: &Node) -> Vec<String> {
    services
        .entries()
        .unwrap_or_default()
        .iter()
        .filter_map(|(k, _)| k.as_str().map(str::to_string))
        .collect()
}

/// Services that look like the project's own apps, neither a Dapr sidecar nor sharing another
/// container's network: those built here, and those run from an image.
pub fn app_candidates(doc: &Document, services: &Node) -> (Vec<String>, Vec<String>) {
    let mut built = Vec::new();
    let mut imaged = Vec::new();
    for (k, v) in services.entries().unwrap_or_default() {
        let (Some(name), v) = (k.as_str(), doc.resolve(v)) else {
            continue;
        };
        // What it runs may come from the service it extends.
        let bases = inherit::bases(doc, services, name).unwrap_or_default();
        let get = |key| inherit::effective(doc, v, &bases, key);
        let daprd = get("image")
            .and_then(Node::as_str)
            .is_some_and(contract::is_daprd_image);
        if get("network_mode").is_some() || daprd {
            continue;
        }
        if get("build").is_some() {
            built.push(name.to_string());
        } else if get("image").is_some() {
            imaged.push(name.to_string());
        }
    }
    (built, imaged)
}

/// The names a service's `labels` defines, in either form Compose allows: `- name=value`
/// items, or `name: value` entries.
pub(crate) fn label_names(labels: &Node) -> Vec<String> {
    match &labels.kind {
        Kind::Seq { items, .. } => items
            .iter()
            .filter_map(Node::as_str)
            .filter_map(|l| l.split('=').next().map(String::from))
            .collect(),
        Kind::Map { entries, .. } => entries
            .iter()
            .filter_map(|(k, _)| k.as_str().map(String::from))
            .collect(),
        _ => Vec::new(),
    }
}

/// A service's command as words, from its own keys or, through `extends`, its bases'.
fn command_words<'d>(
    doc: &'d Document,
    service: &'d Node,
    bases: &[(String, &'d Node)],
) -> Vec<String> {
    inherit::effective(doc, service, bases, "command").map_or_else(Vec::new, words)
}

/// A `command` (or `entrypoint`) as words: a list's items, or a string split at spaces.
pub(crate) fn words(command: &Node) -> Vec<String> {
    match &command.kind {
        Kind::Seq { items, .. } => items
            .iter()
            .filter_map(|i| i.as_str().map(String::from))
            .collect(),
        _ => command
            .as_str()
            .map(|s| s.split_whitespace().map(String::from).collect())
            .unwrap_or_default(),
    }
}

/// A service's build context: `build: DIR`, or `build: {context: DIR}` (default `.`).
fn build_context(build: &Node) -> Option<String> {
    match &build.kind {
        Kind::Scalar { value, .. } => Some(value.clone()),
        Kind::Map { .. } => Some(
            build
                .get("context")
                .and_then(Node::as_str)
                .unwrap_or(".")
                .to_string(),
        ),
        _ => None,
    }
}

/// The service's one container port, when it has exactly one.
fn single_port(used: &[(PortRange, usize)]) -> Option<u16> {
    let mut singles: Vec<u16> = used.iter().filter_map(|(r, _)| r.single()).collect();
    singles.sort_unstable();
    singles.dedup();
    match singles.as_slice() {
        [one] => Some(*one),
        _ => None,
    }
}

/// The container-side ports a service publishes or exposes, with the 1-based line of each.
fn container_ports(doc: &Document, service: &Node) -> Vec<(PortRange, usize)> {
    let mut out = Vec::new();
    for key in ["ports", "expose"] {
        let Some(list) = lookup(doc, service, key).and_then(Node::items) else {
            continue;
        };
        for item in list {
            let item = doc.resolve(item);
            let line = item.start.line + 1;
            let range = match &item.kind {
                Kind::Scalar { value, .. } => ports::container_side(value),
                Kind::Map { .. } => item
                    .get("target")
                    .and_then(Node::as_str)
                    .and_then(ports::container_side),
                _ => None,
            };
            out.extend(range.map(|r| (r, line)));
        }
    }
    out
}

/// Up to three known names closest to `wanted`.
fn closest(wanted: &str, names: &[String]) -> Vec<String> {
    let mut scored: Vec<(f64, &String)> = names
        .iter()
        .map(|n| {
            let contains = n.contains(wanted) || wanted.contains(n.as_str());
            let score = strsim::normalized_damerau_levenshtein(wanted, n);
            (if contains { score.max(0.6) } else { score }, n)
        })
        .filter(|(s, _)| *s >= 0.5)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    scored.into_iter().take(3).map(|(_, n)| n.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_names_are_suggested_first() {
        let names = vec!["api".to_string(), "web".into(), "worker".into()];
        assert_eq!(closest("wbe", &names), vec!["web".to_string()]);
        assert!(closest("zzzz", &names).is_empty());
    }
}
