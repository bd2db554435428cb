//! `obs-init remove`: takes back exactly what onboarding added to a compose file, and
//! nothing the user wrote. A value the user changed since is theirs, and stays.

use crate::compose::{self, CONFIG_MOUNT, NETWORK, sidecar};
use crate::contract;
use crate::daprd;
use crate::error::Refusal;
use crate::yaml::doc::{Document, Kind, Node};
use crate::yaml::splice::{Editor, Slot};
use crate::yaml::verify;

#[derive(Debug, Clone, Default)]
pub struct RemoveOptions {
    /// The services to take back; empty: every service that has obs-init's sidecar.
    pub services: Vec<String>,
    /// Keys that existed, empty, before onboarding gave them a value (`services.app.networks`):
    /// they go back to empty instead of away.
    pub keep_empty: Vec<String>,
    /// What onboarding added ([`compose::added_paths`]), when recorded: only these go. Without
    /// a record, whatever reads exactly as onboarding writes it goes.
    pub added: Option<Vec<String>>,
}

impl RemoveOptions {
    /// Whether `path` (or a key above it) is recorded as added, or no record was kept.
    fn added(&self, path: &str) -> bool {
        match &self.added {
            None => true,
            Some(added) => added.iter().any(|a| {
                path == a
                    || path
                        .strip_prefix(a.as_str())
                        .is_some_and(|r| r.starts_with('.'))
            }),
        }
    }
}

#[derive(Debug, Clone)]
pub struct RemoveOutcome {
    pub after: String,
    /// The services taken back.
    pub services: Vec<String>,
}

pub fn remove(content: &str, opts: &RemoveOptions) -> Result<RemoveOutcome, Refusal> {
    let (text, doc) = compose::parse(content)?;
    let services = compose::services(&doc)?;
    let root = doc.root.as_ref().expect("services() checked the root");
    let names = compose::service_names(services);
    let targets: Vec<String> = if opts.services.is_empty() {
        names
            .iter()
            .filter(|n| {
                ours_sidecar(&doc, services, n, opts).is_some()
                    || adopted(&doc, services, n, opts).is_some_and(|a| !a.is_empty())
            })
            .cloned()
            .collect()
    } else {
        compose::check_names(services, &opts.services)?;
        opts.services.clone()
    };
    let network = network_key(&doc, root);
    let mut editor = Editor::new(&text);
    let mut sidecars = Vec::new();
    let err = |what: String| Refusal::Internal(format!("removal: {what}"));

    // An adopted sidecar on a network of its own joined the platform network too.
    let mut edited = targets.clone();
    for name in &targets {
        if let Ok(Some(e)) = sidecar::existing(&doc, services, name)
            && !e.shares
            && !sidecar::is_ours(name, &e)
        {
            edited.push(e.name);
        }
    }
    for name in &edited {
        if targets.contains(name) {
            if let Some(i) = ours_sidecar(&doc, services, name, opts) {
                sidecars.push(i);
            }
            if let Some(parts) = adopted(&doc, services, name, opts) {
                parts.take_back(&mut editor).map_err(err)?;
            }
        }
        let Some(node) = services.get(name).filter(|n| n.entries().is_some()) else {
            continue;
        };
        let svc_path = vec!["services".to_string(), name.clone()];
        let mut drop_keys = Vec::new();
        let entries = node.entries().unwrap_or_default();
        for (i, (k, v)) in entries.iter().enumerate() {
            let key = k.as_str().unwrap_or_default();
            let path = [svc_path.clone(), vec![key.to_string()]].concat();
            let keep_empty = opts.keep_empty.contains(&path.join("."));
            if key == "environment" {
                cut_namespace(v, &path, opts, &mut editor).map_err(err)?;
            }
            let ours: Vec<usize> = match key {
                "environment" => env_items(v, name, opts.added.is_some()),
                "networks" => network
                    .as_deref()
                    .map_or_else(Vec::new, |n| net_items(v, n)),
                "labels" => label_items(v),
                _ => continue,
            };
            let dotted = path.join(".");
            let ours: Vec<usize> = ours
                .into_iter()
                .filter(|&i| opts.added(&format!("{dotted}.{}", member_name(v, i))))
                .collect();
            if ours.is_empty() {
                continue;
            }
            let count = v
                .entries()
                .map_or_else(|| v.items().map_or(0, <[_]>::len), <[_]>::len);
            let leftover_default = key == "networks" && only_default_left(v, &ours);
            let whole = ours.len() == count || leftover_default;
            // Onboarding's own key goes whole; without a record, a block one that holds
            // nothing else is taken for onboarding's (a flow `[]` is more likely the user's).
            let inserted = match &opts.added {
                Some(_) => opts.added(&dotted),
                None => !v.is_flow(),
            };
            let created = !keep_empty && whole && inserted;
            if created {
                drop_keys.push(i);
            } else if keep_empty && !v.is_flow() && whole {
                // Back to the empty value it had: every item goes, the key stays.
                let all: Vec<usize> = (0..count).collect();
                editor.remove_items(v, &path, &all).map_err(err)?;
            } else {
                editor.remove_items(v, &path, &ours).map_err(err)?;
            }
        }
        editor
            .remove_items(node, &svc_path, &drop_keys)
            .map_err(err)?;
    }
    sidecars.sort_unstable();
    editor
        .remove_items(services, &["services".into()], &sidecars)
        .map_err(err)?;

    // The external declaration goes when no service left uses it.
    if let (Some(net), Some((i, (_, networks)))) = (
        network.as_deref(),
        root.entries()
            .unwrap_or_default()
            .iter()
            .enumerate()
            .find(|(_, (k, _))| k.as_str() == Some("networks")),
    ) {
        let still_used = compose::service_names(services)
            .iter()
            .filter(|n| !edited.contains(n))
            .any(|n| {
                services
                    .get(n)
                    .and_then(|s| s.get("networks"))
                    .is_some_and(|nets| uses(nets, net))
            });
        let decl = networks
            .entries()
            .unwrap_or_default()
            .iter()
            .position(|(k, v)| k.as_str() == Some(net) && is_plain_external(v))
            .filter(|_| opts.added(&format!("networks.{net}")));
        if let (false, Some(d)) = (still_used, decl) {
            let only = networks.entries().map_or(0, <[_]>::len) == 1;
            let inserted = match &opts.added {
                Some(_) => opts.added("networks"),
                None => !networks.is_flow(),
            };
            let created = inserted && !opts.keep_empty.iter().any(|k| k == "networks");
            if only && created {
                editor.remove_items(root, &[], &[i]).map_err(err)?;
            } else if only && !networks.is_flow() {
                editor
                    .remove_items(networks, &["networks".into()], &[0])
                    .map_err(err)?;
            } else {
                editor
                    .remove_items(networks, &["networks".into()], &[d])
                    .map_err(err)?;
            }
        }
    }

    if editor.is_empty() {
        return Ok(RemoveOutcome {
            after: content.to_string(),
            services: targets,
        });
    }
    let (body, changes) = editor.finish();
    verify::compose(&doc, &changes, &body).map_err(Refusal::Internal)?;
    Ok(RemoveOutcome {
        after: text.with_bom(&body),
        services: targets,
    })
}

/// How member `i` of a collection is named in recorded paths: its key, or for a list item
/// `K=V` its `K`.
fn member_name(collection: &Node, i: usize) -> String {
    match &collection.kind {
        Kind::Map { entries, .. } => entries[i].0.as_str().unwrap_or_default().to_string(),
        Kind::Seq { items, .. } => {
            let s = items[i].as_str().unwrap_or_default();
            s.split_once('=').map_or(s, |(k, _)| k).to_string()
        }
        _ => String::new(),
    }
}

/// The index (in `services`) of `<name>-dapr` when it is obs-init's sidecar of `name`: daprd
/// in its namespace that the record says obs-init added, or, without a record, started exactly
/// as obs-init starts it (a project's own sidecar that obs-init adopted is never taken away).
fn ours_sidecar(
    doc: &Document,
    services: &Node,
    name: &str,
    opts: &RemoveOptions,
) -> Option<usize> {
    let sidecar = compose::sidecar_name(name);
    let (i, (_, node)) = services
        .entries()?
        .iter()
        .enumerate()
        .find(|(_, (k, _))| k.as_str() == Some(sidecar.as_str()))?;
    let node = doc.resolve(node);
    let image = node.get("image").and_then(Node::as_str);
    let mode = node.get("network_mode").and_then(Node::as_str);
    let ours = match &opts.added {
        Some(added) => {
            added.iter().any(|a| *a == format!("services.{sidecar}"))
                && image.is_some_and(contract::is_daprd_image)
                && mode == Some(contract::sidecar_network_mode(name).as_str())
        }
        None => {
            let words: Vec<&str> = node
                .get("command")
                .and_then(Node::items)
                .map(|items| items.iter().filter_map(Node::as_str).collect())
                .unwrap_or_default();
            contract::is_our_sidecar(name, image, mode, &words)
        }
    };
    ours.then_some(i)
}

/// What onboarding added to the project's own sidecar of `name`.
struct Adopted<'d> {
    path: Vec<String>,
    /// The `--config` words in its command list (indices), or the text after its command
    /// string.
    command: Option<(&'d Node, Result<Vec<usize>, String>)>,
    /// The mount in its `volumes`: the whole key (index in the service), or the item.
    mount: Option<(&'d Node, usize, bool)>,
}

impl Adopted<'_> {
    fn is_empty(&self) -> bool {
        self.command.is_none() && self.mount.is_none()
    }

    fn take_back(&self, editor: &mut Editor) -> Result<(), String> {
        let cmd_path = [self.path.clone(), vec!["command".into()]].concat();
        match &self.command {
            Some((node, Ok(indices))) => editor.remove_items(node, &cmd_path, indices)?,
            Some((node, Err(text))) => {
                editor.cut_scalar_tail(node, &self.path, Slot::Key("command".into()), text)?
            }
            None => {}
        }
        match self.mount {
            Some((service, key, true)) => editor.remove_items(service, &self.path, &[key])?,
            Some((volumes, item, false)) => {
                let path = [self.path.clone(), vec!["volumes".into()]].concat();
                editor.remove_items(volumes, &path, &[item])?
            }
            None => {}
        }
        Ok(())
    }
}

/// The `--config` and mount onboarding gave the project's own sidecar of `name` (recorded, or
/// without a record, reading as onboarding writes them); `None` when it has none.
fn adopted<'d>(
    doc: &'d Document,
    services: &'d Node,
    name: &str,
    opts: &RemoveOptions,
) -> Option<Adopted<'d>> {
    let existing = sidecar::existing(doc, services, name).ok()??;
    if ours_sidecar(doc, services, name, opts).is_some() {
        return None;
    }
    let sc = &existing.name;
    let node = existing.node;
    let mut out = Adopted {
        path: vec!["services".into(), sc.clone()],
        command: None,
        mount: None,
    };
    if let Some(command) = node.get("command") {
        let words = compose::words(command);
        if let Some(f) =
            daprd::flag(&words, "config").filter(|f| f.value.as_deref() == Some(CONFIG_MOUNT))
        {
            let word = &words[f.at];
            let flag = word.split_once('=').map_or(word.as_str(), |(k, _)| k);
            if opts.added(&format!("services.{sc}.command.{flag}")) {
                let taken = if f.inline {
                    vec![f.at]
                } else {
                    vec![f.at, f.at + 1]
                };
                out.command = match &command.kind {
                    Kind::Seq { .. } => Some((command, Ok(taken))),
                    _ => {
                        let text = format!(
                            " {}",
                            taken
                                .iter()
                                .map(|&i| words[i].as_str())
                                .collect::<Vec<_>>()
                                .join(" ")
                        );
                        Some((command, Err(text)))
                    }
                };
            }
        }
    }
    if let Some(entries) = node.entries()
        && let Some((key, (_, volumes))) = entries
            .iter()
            .enumerate()
            .find(|(_, (k, _))| k.as_str() == Some("volumes"))
        && let Some(items) = volumes.items()
        && let Some(item) = items.iter().position(|i| {
            i.as_str().is_some_and(|s| {
                s.ends_with(&format!(":{CONFIG_MOUNT}:ro"))
                    && opts.added(&format!("services.{sc}.volumes.{s}"))
            })
        })
    {
        let whole = items.len() == 1 && opts.added(&format!("services.{sc}.volumes"));
        out.mount = Some(if whole {
            (node, key, true)
        } else {
            (volumes, item, false)
        });
    }
    Some(out)
}

/// Indices of the environment entries onboarding wrote, with the values it wrote.
fn env_items(env: &Node, service: &str, recorded: bool) -> Vec<usize> {
    // Without a record, the project's own attributes with the namespace after them are
    // taken for appended to ([`cut_namespace`]), not for a whole entry of onboarding's.
    let ours = |k: &str, v: &str| {
        contract::is_onboarding_value(service, k, v)
            && (recorded || contract::appended_namespace(v).is_none())
    };
    match &env.kind {
        Kind::Seq { items, .. } => items
            .iter()
            .enumerate()
            .filter(|(_, i)| {
                i.as_str()
                    .and_then(|s| s.split_once('='))
                    .is_some_and(|(k, v)| ours(k, v))
            })
            .map(|(i, _)| i)
            .collect(),
        Kind::Map { entries, .. } => entries
            .iter()
            .enumerate()
            .filter(|(_, (k, v))| match (k.as_str(), v.as_str()) {
                (Some(k), Some(v)) => ours(k, v),
                _ => false,
            })
            .map(|(i, _)| i)
            .collect(),
        _ => Vec::new(),
    }
}

/// Takes the namespace onboarding appended to the project's own `OTEL_RESOURCE_ATTRIBUTES`
/// off again (recorded, or without a record, reading as onboarding writes it).
fn cut_namespace(
    env: &Node,
    path: &[String],
    opts: &RemoveOptions,
    editor: &mut Editor,
) -> Result<(), String> {
    let key = contract::RESOURCE_ATTRIBUTES;
    let found = match &env.kind {
        Kind::Seq { items, .. } => items.iter().enumerate().find_map(|(i, item)| {
            let (k, v) = item.as_str()?.split_once('=')?;
            (k == key).then_some((item, Slot::Index(i), v))
        }),
        Kind::Map { entries, .. } => entries.iter().find_map(|(k, v)| {
            (k.as_str()? == key).then_some((v, Slot::Key(key.to_string()), v.as_str()?))
        }),
        _ => None,
    };
    let Some((node, slot, value)) = found else {
        return Ok(());
    };
    let Some(tail) = contract::appended_namespace(value) else {
        return Ok(());
    };
    let recorded = format!("{}.{key}.{}", path.join("."), contract::NAMESPACE_ATTRIBUTE);
    // Onboarding's own whole entry (a base's value carried with the namespace) goes whole.
    let whole = opts
        .added
        .as_ref()
        .is_some_and(|a| a.iter().any(|p| *p == format!("{}.{key}", path.join("."))));
    if whole || !opts.added(&recorded) {
        return Ok(());
    }
    editor.cut_scalar_tail(node, path, slot, tail)
}

/// Index of the metrics label, when it reads as onboarding writes it.
fn label_items(labels: &Node) -> Vec<usize> {
    let wanted = format!("{}={}", compose::METRICS_LABEL, compose::METRICS_PORT);
    match &labels.kind {
        Kind::Seq { items, .. } => items
            .iter()
            .position(|i| i.as_str() == Some(wanted.as_str()))
            .into_iter()
            .collect(),
        Kind::Map { entries, .. } => entries
            .iter()
            .position(|(k, v)| {
                k.as_str() == Some(compose::METRICS_LABEL)
                    && v.as_str() == Some(compose::METRICS_PORT)
            })
            .into_iter()
            .collect(),
        _ => Vec::new(),
    }
}

/// Indices of `network` in a service's `networks`, when written as onboarding writes it.
fn net_items(nets: &Node, network: &str) -> Vec<usize> {
    match &nets.kind {
        Kind::Seq { items, .. } => items
            .iter()
            .position(|i| i.as_str() == Some(network))
            .into_iter()
            .collect(),
        Kind::Map { entries, .. } => entries
            .iter()
            .position(|(k, v)| {
                k.as_str() == Some(network) && v.entries().is_some_and(<[_]>::is_empty)
            })
            .into_iter()
            .collect(),
        _ => Vec::new(),
    }
}

/// Whether removing `ours` from a block `networks` leaves only the `default` onboarding added
/// next to it (so the whole key was onboarding's).
fn only_default_left(nets: &Node, ours: &[usize]) -> bool {
    let names: Vec<Option<&str>> = match &nets.kind {
        Kind::Seq { items, .. } => items.iter().map(Node::as_str).collect(),
        _ => return false,
    };
    let left: Vec<Option<&str>> = names
        .iter()
        .enumerate()
        .filter(|(i, _)| !ours.contains(i))
        .map(|(_, n)| *n)
        .collect();
    left == [Some("default")] && names.first() == Some(&Some("default"))
}

fn uses(nets: &Node, network: &str) -> bool {
    match &nets.kind {
        Kind::Seq { items, .. } => items.iter().any(|i| i.as_str() == Some(network)),
        Kind::Map { entries, .. } => entries.iter().any(|(k, _)| k.as_str() == Some(network)),
        _ => false,
    }
}

/// `{external: true}` exactly, as onboarding declares it.
fn is_plain_external(v: &Node) -> bool {
    match v.entries() {
        Some([(k, val)]) => k.as_str() == Some("external") && val.as_str() == Some("true"),
        _ => false,
    }
}

/// The key services use for the platform network: declared under its own name, or under
/// another key with `name: observability-net`.
fn network_key(doc: &Document, root: &Node) -> Option<String> {
    let networks = doc.resolve(root.get("networks")?);
    let entries = networks.entries()?;
    entries
        .iter()
        .find(|(k, v)| {
            k.as_str() == Some(NETWORK)
                || doc.resolve(v).get("name").and_then(Node::as_str) == Some(NETWORK)
        })
        .and_then(|(k, _)| k.as_str().map(String::from))
        .or_else(|| Some(NETWORK.to_string()))
}
