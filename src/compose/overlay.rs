//! Onboarding as a Compose override file: the user's compose file stays as it is, and a file
//! of obs-init's own holds the sidecars and, for each app, only what it adds.
//!
//! Compose merges an override file after each file's YAML is resolved (anchors, merge keys,
//! `extends`), environment by key, networks by name, labels by key: so the overlay names
//! only the services it onboards, and services that share an anchor or a merge key with
//! them, or extend them, are not touched. What is already there is read from the base as
//! Compose resolves it; the overlay adds what is missing.

use std::path::{Path, PathBuf};

use super::inherit;
use super::layers::Layers;
use super::onboard::{
    SidecarPlan, adoption_notes, env_entries, external_network_key, sidecar_plan,
};
use super::sidecar::Adoption;
use super::{
    ComposeOptions, Conflict, METRICS_LABEL, METRICS_PORT, Note, app_id, check_names,
    check_namespace, check_ports, label_names, parse, services,
};
use crate::compose::NoteKind;
use crate::contract;
use crate::error::Refusal;
use crate::yaml::doc::{Document, Kind, Node};
use crate::yaml::emit::{self, Layout, NewNode};

/// The overlay for a base compose file, and what planning it found.
#[derive(Debug, Clone)]
pub struct OverlayOutcome {
    /// The overlay file's content.
    pub text: String,
    pub notes: Vec<Note>,
    /// Values the base sets otherwise than obs-init would: kept (the overlay leaves them).
    pub conflicts: Vec<Conflict>,
    /// The overlay with obs-init's values over those, when there are conflicts.
    pub overwritten: Option<String>,
    /// The project's own sidecars that need nothing in the overlay: they load obs-init's
    /// configuration already, or their own Configuration, where the tracing goes.
    pub adopted: Vec<super::Adopted>,
}

/// The first line of every overlay: how obs-init (and a reader) recognises it.
pub const HEADER: &str = "# Written by obs-init: the observability wiring of the services below, merged by \
Docker Compose\n# over the project's compose file (environment by key, networks by name). \
`obs-init remove`\n# takes it back.\n";

/// The services of the compose file `base` that load `name` (a path relative to the compose
/// file's folder, `.env`) with `env_file`, as Compose resolves them (merge keys, `extends`):
/// a variable written there reaches their containers' environment.
pub fn env_file_users(base: &str, name: &str) -> Vec<String> {
    let Ok((_, doc)) = parse(base) else {
        return Vec::new();
    };
    let Ok(svc) = services(&doc) else {
        return Vec::new();
    };
    let same = |p: &str| {
        let p = p.trim().trim_start_matches("./");
        p == name
    };
    let mut out = Vec::new();
    for (key, _) in svc.entries().unwrap_or_default() {
        let Some(service) = key.as_str() else {
            continue;
        };
        let Some(node) = svc.get(service).map(|n| doc.resolve(n)) else {
            continue;
        };
        let bases = inherit::bases(&doc, svc, service).unwrap_or_default();
        let Some(files) =
            inherit::effective(&doc, node, &bases, "env_file").map(|n| doc.resolve(n))
        else {
            continue;
        };
        let paths: Vec<&str> = match (files.as_str(), files.items()) {
            (Some(one), _) => vec![one],
            (None, Some(items)) => items
                .iter()
                .map(|i| doc.resolve(i))
                .filter_map(|i| i.as_str().or_else(|| i.get("path").and_then(Node::as_str)))
                .collect(),
            _ => Vec::new(),
        };
        if paths.into_iter().any(same) {
            out.push(service.to_string());
        }
    }
    out
}

/// Plans the overlay onboarding `opts.services` of the compose file `base`.
pub fn overlay(base: &str, opts: &ComposeOptions) -> Result<OverlayOutcome, Refusal> {
    overlay_files(&[base], opts)
}

/// Plans the overlay onboarding `opts.services` of a project whose compose file (`bases[0]`)
/// Compose reads with override files (the rest, in order), which the overlay comes after:
/// what a service already has is read through all of them.
pub fn overlay_files(bases: &[&str], opts: &ComposeOptions) -> Result<OverlayOutcome, Refusal> {
    let (kept, notes, conflicts, adopted) = build(bases, opts, false)?;
    let overwritten = if conflicts.is_empty() {
        None
    } else {
        Some(build(bases, opts, true)?.0)
    };
    Ok(OverlayOutcome {
        text: kept,
        notes,
        conflicts,
        overwritten,
        adopted,
    })
}

/// The overlay's text, its notes and conflicts, and the project's sidecars adopted.
type Built = (String, Vec<Note>, Vec<Conflict>, Vec<super::Adopted>);

fn build(bases: &[&str], opts: &ComposeOptions, overwrite: bool) -> Result<Built, Refusal> {
    let (_, doc) = parse(bases[0])?;
    let services = services(&doc)?;
    // The override files, read only: a file Compose would reject is the project's to fix.
    let others: Vec<Document> = bases[1..]
        .iter()
        .filter_map(|b| parse(b).ok().map(|(_, d)| d))
        .collect();
    let mut files = vec![(&doc, services)];
    files.extend(
        others
            .iter()
            .filter_map(|d| super::services(d).ok().map(|s| (d, s))),
    );
    let layers = Layers { files, this: 0 };
    let root = doc.root.as_ref().expect("services() checked the root");
    check_names(services, &opts.services)?;
    let network = external_network_key(&doc, root)?;
    let mut notes = Vec::new();
    let mut conflicts = Vec::new();
    let mut adopted = Vec::new();
    let mut entries: Vec<(String, NewNode)> = Vec::new();
    for name in &opts.services {
        let planned = service(&doc, services, &layers, name, opts, &network.key, overwrite)?;
        notes.extend(planned.notes);
        conflicts.extend(planned.conflicts);
        adopted.extend(planned.adopted);
        if !planned.app.is_empty() {
            entries.push((name.clone(), NewNode::Map(planned.app)));
        }
        if let Some((sidecar_key, sidecar)) = planned.sidecar {
            entries.push((sidecar_key, sidecar));
        }
    }
    let mut top = Vec::new();
    if !entries.is_empty() {
        top.push(("services".to_string(), NewNode::Map(entries)));
    }
    if let Some(key) = network.declare.filter(|_| !top.is_empty()) {
        top.push((
            "networks".to_string(),
            NewNode::Map(vec![(key, external())]),
        ));
    }
    Ok((render(&top), notes, conflicts, adopted))
}

/// `external: true`, and the network's name when the key is not it.
fn external() -> NewNode {
    NewNode::Map(vec![("external".into(), NewNode::Plain("true".into()))])
}

fn render(top: &[(String, NewNode)]) -> String {
    let lay = Layout {
        step: 2,
        seq_indent: 2,
        dash_gap: 1,
        eol: "\n",
    };
    let mut out = String::from(HEADER);
    for (key, value) in top {
        out.push_str(&emit::block_entry(key, value, 0, &lay));
    }
    out
}

/// One service's part of the overlay.
struct Planned {
    /// What the app gets: environment, networks, labels (only what is missing).
    app: Vec<(String, NewNode)>,
    /// The sidecar's entry: obs-init's new one, or what an adopted one needs.
    sidecar: Option<(String, NewNode)>,
    notes: Vec<Note>,
    conflicts: Vec<Conflict>,
    adopted: Option<super::Adopted>,
}

fn service<'d>(
    doc: &'d Document,
    services: &'d Node,
    layers: &Layers<'d>,
    name: &str,
    opts: &ComposeOptions,
    network_key: &str,
    overwrite: bool,
) -> Result<Planned, Refusal> {
    let (key, node) = services
        .get_entry(name)
        .expect("caller checked the name exists");
    let node = doc.resolve(node);
    let line = key.start.line + 1;
    let svc = || Some(name.to_string());
    if node.entries().is_none() {
        return Err(Refusal::Unsupported {
            service: svc(),
            what: format!("the service is a {}, not a mapping", node.kind_name()),
            line,
        });
    }
    let bases = inherit::bases(doc, services, name)?;
    check_namespace(doc, node, name, &bases)?;
    // The port, from the last file that tells.
    let inferred = (0..layers.files.len()).rev().find_map(|i| {
        let (d, s) = layers.files[i];
        let node = layers.service(i, name)?;
        super::inferred_port(d, node, &inherit::bases(d, s, name).unwrap_or_default())
    });
    let (app_port, mut notes) = check_ports(doc, node, name, &bases, opts, inferred)?;
    let mut adopted = None;
    let sidecar = match sidecar_plan(doc, layers, name, opts, app_port, node, &bases)? {
        SidecarPlan::Add(node) => Some((contract::sidecar_name(name), node)),
        // The base has obs-init's sidecar already (onboarded in place).
        SidecarPlan::Keep | SidecarPlan::Image { .. } => None,
        // The project's own, in the app's namespace, that needs no flag: nothing of it goes
        // into the overlay (its own Configuration gets the tracing).
        SidecarPlan::Adopt {
            existing,
            adoption: adoption @ (Adoption::Done | Adoption::OwnConfig { .. }),
            networks: None,
        } => {
            // It calls the app where it always has: no port to infer, but what is kept.
            notes = adoption_notes(name, &existing, &adoption);
            adopted = Some(super::Adopted {
                service: name.to_string(),
                sidecar: existing.name.clone(),
                binds: existing.binds.clone(),
                own_config: match adoption {
                    Adoption::OwnConfig { path, source } => Some((path, source)),
                    _ => None,
                },
            });
            None
        }
        // Compose replaces a command from an override file, it does not add to it: the
        // overlay repeats the project's command with `--config` added (each run writes it
        // afresh from the compose file, so `--check` sees when the two part), and the mount,
        // which Compose merges by target.
        SidecarPlan::Adopt {
            existing,
            adoption,
            networks: None,
        } => {
            let mut entry = Vec::new();
            let (command, flag, mount) = match &adoption {
                Adoption::Add {
                    command,
                    command_in,
                    flag,
                    mount,
                    ..
                } => (
                    Some((*command, layers.files[*command_in].0)),
                    flag.as_ref(),
                    mount.is_some(),
                ),
                _ => (None, None, false),
            };
            if let (Some((command, command_doc)), Some((words, string))) = (command, flag) {
                let repeated = if *string {
                    NewNode::str(format!(
                        "{} {}",
                        command.as_str().unwrap_or_default(),
                        words.join(" ")
                    ))
                } else {
                    let items = command.items().unwrap_or_default();
                    let mut out = Vec::new();
                    for item in items {
                        let Some(word) = command_doc.resolve(item).as_str() else {
                            return Err(refuse_adopt(
                                name,
                                &existing,
                                "its command has an item that is not a word",
                            ));
                        };
                        out.push(NewNode::DoubleQuoted(word.to_string()));
                    }
                    out.extend(words.iter().cloned().map(NewNode::DoubleQuoted));
                    NewNode::Flow(Box::new(NewNode::Seq(out)))
                };
                entry.push(("command".to_string(), repeated));
            }
            if mount {
                entry.push((
                    "volumes".to_string(),
                    NewNode::Seq(vec![NewNode::str(format!(
                        "{}:{}:ro",
                        opts.config_source,
                        contract::CONFIG_MOUNT
                    ))]),
                ));
            }
            notes = adoption_notes(name, &existing, &adoption);
            if flag.is_some() {
                notes.push(Note {
                    service: svc(),
                    message: format!(
                        "the overlay repeats `{}`'s command with --config added, since Compose \
                         replaces a command rather than adding to it: after changing its \
                         command in the compose file, run obs-init again (--check reports \
                         the difference until then)",
                        existing.name
                    ),
                    kind: NoteKind::Decided,
                });
            }
            adopted = Some(super::Adopted {
                service: name.to_string(),
                sidecar: existing.name.clone(),
                binds: existing.binds.clone(),
                own_config: None,
            });
            (!entry.is_empty()).then(|| (existing.name.clone(), NewNode::Map(entry)))
        }
        // A sidecar in a container of its own would need networks and the label as well.
        SidecarPlan::Adopt { existing, .. } => {
            return Err(Refusal::AdoptSidecar {
                service: name.into(),
                sidecar: existing.name.clone(),
                line: existing.line,
                reason: "it runs in a container of its own, which an overlay does not join \
                         to the platform network",
                in_overlay: true,
            });
        }
    };
    if app_id(name) != name && sidecar.is_some() {
        notes.push(Note {
            service: svc(),
            message: format!(
                "Dapr app id `{}`: daprd rejects dots in app ids",
                app_id(name)
            ),
            kind: NoteKind::Decided,
        });
    }

    let mut conflicts = Vec::new();
    let mut app = Vec::new();
    // Environment: what the service ends up with, its own first (a key of its own wins
    // over what `extends` gives it), then each base's.
    // The override files come after the compose file: theirs first, the last file's first.
    let mut present: Vec<(String, Option<String>)> = layers
        .elsewhere(name, "environment")
        .into_iter()
        .rev()
        .flat_map(|(d, env)| env_entries(d, env, false))
        .map(|p| (p.key, p.value))
        .collect();
    present.extend(
        inherit::layers(doc, node, &bases, "environment")
            .into_iter()
            .flat_map(|env| env_entries(doc, env, false))
            .map(|p| (p.key, p.value)),
    );
    let mut wanted = opts.env_of(name);
    // A project's own resource attributes stay, with the namespace after them (the
    // overlay's value replaces the base's, so it carries both); its own namespace wins.
    if let Some((_, Some(pv))) = present
        .iter()
        .find(|(k, _)| k == contract::RESOURCE_ATTRIBUTES)
    {
        let merged = contract::namespace_tail(pv, &opts.namespace).map(|t| format!("{pv}{t}"));
        if merged.is_some() {
            notes.push(Note {
                service: svc(),
                message: format!(
                    "the overlay sets {key} to the service's own value with the namespace \
                     after it: a later change to that value goes in the overlay too, which \
                     wins",
                    key = contract::RESOURCE_ATTRIBUTES
                ),
                kind: NoteKind::Decided,
            });
        }
        wanted.retain(|(k, _)| k != contract::RESOURCE_ATTRIBUTES);
        wanted.extend(merged.map(|v| (contract::RESOURCE_ATTRIBUTES.to_string(), v)));
    }
    let mut env = Vec::new();
    for (k, v) in wanted {
        match present.iter().find(|(pk, _)| *pk == k) {
            Some((_, Some(pv))) if *pv == v => continue,
            Some((_, Some(_))) if k == contract::RESOURCE_ATTRIBUTES => {
                env.push((k, NewNode::str(v)))
            }
            Some((_, pv)) if !overwrite => {
                conflicts.push(Conflict {
                    service: svc(),
                    what: format!(
                        "{k} is {}, obs-init would set {v}",
                        pv.as_deref().unwrap_or("(taken from the host)")
                    ),
                    line: None,
                });
                continue;
            }
            _ => env.push((k, NewNode::str(v))),
        }
    }
    if !env.is_empty() {
        app.push(("environment".to_string(), NewNode::Map(env)));
    }
    // Networks merge by name; with none anywhere the service is on `default`, which a list
    // of its own would take it off unless it names it too.
    let networks: Option<Vec<String>> = {
        let mut found: Vec<(&Document, &Node)> = inherit::layers(doc, node, &bases, "networks")
            .into_iter()
            .map(|n| (doc, n))
            .collect();
        found.extend(layers.elsewhere(name, "networks"));
        found.retain(|(_, n)| !n.is_empty_null());
        (!found.is_empty()).then(|| found.iter().flat_map(|(d, n)| names(d, n)).collect())
    };
    match &networks {
        Some(names) if names.iter().any(|n| n == network_key) => {}
        Some(_) => app.push((
            "networks".to_string(),
            NewNode::Seq(vec![NewNode::str(network_key)]),
        )),
        None => app.push((
            "networks".to_string(),
            NewNode::Seq(vec![NewNode::str("default"), NewNode::str(network_key)]),
        )),
    }
    let labelled = inherit::layers(doc, node, &bases, "labels")
        .into_iter()
        .chain(layers.elsewhere(name, "labels").into_iter().map(|(_, l)| l))
        .any(|l| label_names(l).iter().any(|n| n == METRICS_LABEL));
    if !labelled {
        app.push((
            "labels".to_string(),
            NewNode::Map(vec![(
                METRICS_LABEL.to_string(),
                NewNode::DoubleQuoted(METRICS_PORT.to_string()),
            )]),
        ));
    }
    Ok(Planned {
        app,
        sidecar,
        notes,
        conflicts,
        adopted,
    })
}

fn refuse_adopt(app: &str, existing: &super::sidecar::Existing, reason: &'static str) -> Refusal {
    Refusal::AdoptSidecar {
        service: app.into(),
        sidecar: existing.name.clone(),
        line: existing.line,
        reason,
        in_overlay: true,
    }
}

/// The network names a service's `networks` gives: a list's items, a map's keys (merge
/// keys followed).
fn names(doc: &Document, networks: &Node) -> Vec<String> {
    match &networks.kind {
        Kind::Seq { items, .. } => items
            .iter()
            .filter_map(|i| doc.resolve(i).as_str().map(String::from))
            .collect(),
        Kind::Map { .. } => std::iter::once(networks)
            .chain(inherit::merged(doc, networks))
            .flat_map(|m| m.entries().unwrap_or_default())
            .filter_map(|(k, _)| k.as_str().filter(|k| *k != "<<").map(String::from))
            .collect(),
        _ => Vec::new(),
    }
}

/// The overlay without the parts of `services` (their entries and their sidecars'), for
/// `remove` of some of the services it onboards. Everything under a service's entry is
/// obs-init's: the overlay holds nothing else.
pub fn without(content: &str, services: &[String]) -> String {
    let gone: Vec<String> = services
        .iter()
        .flat_map(|s| [s.clone(), contract::sidecar_name(s)])
        .map(|name| format!("  {}:", emit::scalar(&name)))
        .collect();
    let mut out = String::with_capacity(content.len());
    let mut dropping = false;
    for line in content.split_inclusive('\n') {
        let body = line.trim_end_matches(['\n', '\r']);
        let indent = body.len() - body.trim_start().len();
        if !body.trim().is_empty() && indent <= 2 {
            dropping = indent == 2 && gone.iter().any(|g| body == g);
        }
        if !dropping {
            out.push_str(line);
        }
    }
    out
}

/// The override files Compose reads after `compose_path` when no `-f` names files: those
/// `.env`'s `COMPOSE_FILE` lists after it (obs-init's overlays left out: they are its own
/// output), else the first of `compose.override.yml`, ..., `docker-compose.override.yaml`
/// beside it.
pub fn override_files(compose_path: &Path) -> Vec<PathBuf> {
    let dir = crate::paths::compose_dir(compose_path);
    let listed = std::fs::read_to_string(dir.join(".env"))
        .ok()
        .and_then(|t| crate::dotenv::compose_files(&t));
    let same = |p: &Path| crate::paths::absolute(p) == crate::paths::absolute(compose_path);
    if let Some(listed) = listed {
        let paths: Vec<PathBuf> = listed.iter().map(|f| dir.join(f)).collect();
        let Some(at) = paths.iter().position(|p| same(p)) else {
            return Vec::new();
        };
        return paths[at + 1..]
            .iter()
            .filter(|p| std::fs::read_to_string(p).is_ok_and(|t| !is_overlay(&t)))
            .cloned()
            .collect();
    }
    crate::dotenv::OVERRIDE_NAMES
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file() && crate::paths::absolute(p) != crate::paths::absolute(compose_path))
        .into_iter()
        .collect()
}

/// Whether `content` is an overlay obs-init wrote (whoever edited it since).
pub fn is_overlay(content: &str) -> bool {
    content.starts_with(HEADER.lines().next().unwrap_or(HEADER))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(services: &[&str]) -> ComposeOptions {
        ComposeOptions {
            services: services.iter().map(|s| s.to_string()).collect(),
            app_ports: vec![("web".into(), 8000)],
            dapr_version: "1.18.3".into(),
            config_source: "./dapr-config.yml".into(),
            extra_env: Vec::new(),
            withheld_env: Vec::new(),
            namespace: contract::compose_namespace(Some("shop")),
        }
    }

    const BASE: &str = "x-app: &app\n  build: .\n  environment:\n    OTEL_SERVICE_NAME: web\n\
                        services:\n  web:\n    <<: *app\n    networks: [back]\n  worker:\n    <<: *app\n\
                        networks:\n  back: {}\n";

    #[test]
    fn only_what_is_missing_is_added_read_through_merge_keys() {
        let out = overlay(BASE, &opts(&["web"])).expect("overlay");
        // The merged environment names the service already: a conflict, kept.
        assert!(!out.text.contains("OTEL_SERVICE_NAME"), "{}", out.text);
        assert_eq!(out.conflicts.len(), 0, "{:?}", out.conflicts);
        // On a network of its own already: only the platform's is added, not `default`.
        assert!(
            out.text
                .contains("    networks:\n      - observability-net\n"),
            "{}",
            out.text
        );
        let worker = overlay(BASE, &opts(&["worker"])).expect("overlay");
        assert!(
            worker
                .conflicts
                .iter()
                .any(|c| c.what.contains("OTEL_SERVICE_NAME is web"))
        );
        assert!(
            worker
                .text
                .contains("      - default\n      - observability-net\n")
        );
    }

    #[test]
    fn taking_a_service_out_leaves_the_overlay_of_the_others() {
        let both = overlay(BASE, &opts(&["web", "worker"])).expect("overlay");
        let web = overlay(BASE, &opts(&["web"])).expect("overlay");
        assert_eq!(without(&both.text, &["worker".into()]), web.text);
        assert!(is_overlay(&both.text));
    }
}
