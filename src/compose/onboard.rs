//! Onboarding a compose file: what to add for each app service, checked against the Compose
//! and Dapr rules of the design notes, rendered as insertions, then verified.

use super::inherit::{self, lookup};
use super::layers::Layers;
use super::sidecar::{self, Adoption, Existing};
use super::{
    CONFIG_MOUNT, ComposeOptions, ComposeOutcome, Conflict, METRICS_LABEL, METRICS_PORT, NETWORK,
    Note, Overwritten, app_id, check_names, check_namespace, check_ports, command_words,
    daprd_image, label_names, parse, services, sidecar_name,
};
use crate::compose::NoteKind;
use crate::contract;
use crate::error::Refusal;
use crate::yaml::doc::{Document, Kind, Node};
use crate::yaml::emit::{Layout, NewNode};
use crate::yaml::model::{Data, Value};
use crate::yaml::splice::{Editor, Slot};
use crate::yaml::text::Text;
use crate::yaml::verify;

/// Plans the onboarding of `opts.services` in the compose file `content`: keeping the
/// project's values where they differ from obs-init's, and (when any do) the alternative
/// that writes obs-init's over them, so that the choice is data.
pub fn onboard(content: &str, opts: &ComposeOptions) -> Result<ComposeOutcome, Refusal> {
    let mut outcomes = onboard_files(&[content], opts).map_err(|(_, e)| e)?;
    Ok(outcomes.remove(0))
}

/// Plans the onboarding of `opts.services` in a project of several compose files that
/// Compose reads together (`contents`, in its order: the file, then its overrides): each
/// service is read through every file, and each piece is edited in the file where it lives
/// (see [`super::layers`]). One outcome per file; a refusal names the file by its index.
pub fn onboard_files(
    contents: &[&str],
    opts: &ComposeOptions,
) -> Result<Vec<ComposeOutcome>, (usize, Refusal)> {
    let kept = edit(contents, opts, false)?;
    if kept.iter().all(|k| k.conflicts.is_empty()) {
        return Ok(kept);
    }
    let over = edit(contents, opts, true)?;
    Ok(kept
        .into_iter()
        .zip(over)
        .map(|(kept, over)| ComposeOutcome {
            overwritten: (over.after != kept.after).then_some(Overwritten {
                after: over.after,
                changes: over.changes,
            }),
            ..kept
        })
        .collect())
}

/// One way to onboard: `overwrite` writes obs-init's values over the project's.
fn edit(
    contents: &[&str],
    opts: &ComposeOptions,
    overwrite: bool,
) -> Result<Vec<ComposeOutcome>, (usize, Refusal)> {
    let parsed = contents
        .iter()
        .enumerate()
        .map(|(i, c)| parse(c).map_err(|e| (i, e)))
        .collect::<Result<Vec<_>, _>>()?;
    let files = parsed
        .iter()
        .enumerate()
        .map(|(i, (_, doc))| services(doc).map(|s| (doc, s)).map_err(|e| (i, e)))
        .collect::<Result<Vec<_>, _>>()?;
    let all = Layers {
        files: files.clone(),
        this: 0,
    };
    let names = all.names();
    if let Some(name) = opts.services.iter().find(|w| !names.contains(w)) {
        // The names of the first file lead, as for a project of one file.
        return Err((
            0,
            check_names(files[0].1, std::slice::from_ref(name))
                .err()
                .unwrap_or(Refusal::UnknownService {
                    name: name.clone(),
                    suggestions: super::closest(name, &names),
                    available: names.clone(),
                }),
        ));
    }
    // The platform network, declared once for the project: where a file declares it
    // already, else in the first file.
    let keys = files
        .iter()
        .enumerate()
        .map(|(i, (doc, _))| {
            let root = doc.root.as_ref().expect("services() checked the root");
            external_network_key(doc, root).map_err(|e| (i, e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let declared = keys
        .iter()
        .find(|k| k.declare.is_none())
        .map(|k| k.key.clone());

    let mut out = Vec::new();
    for (i, (text, doc)) in parsed.iter().enumerate() {
        let at = |e| (i, e);
        let (_, services) = files[i];
        let root = doc.root.as_ref().expect("services() checked the root");
        let layers = Layers {
            files: files.clone(),
            this: i,
        };
        let network_key = NetworkKey {
            key: declared.clone().unwrap_or_else(|| keys[0].key.clone()),
            declare: declared
                .is_none()
                .then(|| keys[0].declare.clone())
                .flatten()
                .filter(|_| i == 0),
        };
        let mut editor = Editor::new(text);
        let mut notes = Vec::new();
        let mut conflicts = Vec::new();
        let mut adopted = Vec::new();
        for name in opts
            .services
            .iter()
            .filter(|n| layers.service(i, n).is_some())
        {
            let plan = ServicePlan::new(doc, text, services, name, opts, &layers).map_err(at)?;
            adopted.extend(plan.adopted());
            plan.apply(
                &mut editor,
                &network_key,
                &mut notes,
                &mut conflicts,
                overwrite,
            )
            .map_err(at)?;
        }
        if let Some(key) = &network_key.declare {
            declare_network(&mut editor, text, root, services, key);
        }
        if editor.is_empty() {
            out.push(ComposeOutcome {
                after: contents[i].to_string(),
                changes: Vec::new(),
                notes,
                conflicts,
                overwritten: None,
                adopted,
            });
            continue;
        }
        let (body, changes) = editor.finish();
        verify::compose(doc, &changes, &body).map_err(|e| at(Refusal::Internal(e)))?;
        out.push(ComposeOutcome {
            after: text.with_bom(&body),
            changes,
            notes,
            conflicts,
            overwritten: None,
            adopted,
        });
    }
    Ok(out)
}

/// How the external network is (or will be) known in this file.
pub(super) struct NetworkKey {
    /// The key services list; usually `observability-net`, or the key of an existing entry
    /// declaring `name: observability-net`.
    pub key: String,
    /// Whether the declaration still has to be written (and under which key).
    pub declare: Option<String>,
}

pub(super) fn external_network_key(doc: &Document, root: &Node) -> Result<NetworkKey, Refusal> {
    let Some((nkey, networks)) = root.get_entry("networks") else {
        return Ok(NetworkKey {
            key: NETWORK.into(),
            declare: Some(NETWORK.into()),
        });
    };
    let networks = doc.resolve(networks);
    if networks.is_empty_null() {
        return Ok(NetworkKey {
            key: NETWORK.into(),
            declare: Some(NETWORK.into()),
        });
    }
    let Some(entries) = networks.entries() else {
        return Err(Refusal::Unsupported {
            service: None,
            what: format!("the top-level `networks:` is a {}", networks.kind_name()),
            line: nkey.start.line + 1,
        });
    };
    for (k, v) in entries {
        let Some(key) = k.as_str() else { continue };
        let v = doc.resolve(v);
        let name = v.get("name").and_then(Node::as_str).unwrap_or(key);
        if name != NETWORK && key != NETWORK {
            continue;
        }
        let external = v.get("external").map(|e| Value::from_node(doc.resolve(e)));
        let is_external = match external.map(|e| e.data) {
            Some(Data::Bool(b)) => b,
            // The pre-v3 form `external: {name: ...}`.
            Some(Data::Map(_)) => true,
            _ => false,
        };
        if !is_external {
            return Err(Refusal::NetworkNotExternal {
                key: key.to_string(),
                line: k.start.line + 1,
            });
        }
        return Ok(NetworkKey {
            key: key.to_string(),
            declare: None,
        });
    }
    Ok(NetworkKey {
        key: NETWORK.into(),
        declare: Some(NETWORK.into()),
    })
}

fn declare_network(editor: &mut Editor, text: &Text, root: &Node, services: &Node, key: &str) {
    let lay = layout(text, root, services, None);
    let external = NewNode::Map(vec![("external".into(), NewNode::Plain("true".into()))]);
    match root.get_entry("networks") {
        None => {
            let value = NewNode::Map(vec![(key.to_string(), external)]);
            editor.insert_entry(root, &[], "networks", value, &lay);
        }
        Some((k, v)) if v.is_empty_null() => {
            let value = NewNode::Map(vec![(key.to_string(), external)]);
            editor.set_empty(k, &[], "networks", value, &lay);
        }
        Some((_, v)) => {
            editor.insert_entry(v, &["networks".into()], key, external, &lay);
        }
    }
}

/// Everything decided about one service before any text is touched.
struct ServicePlan<'d> {
    name: String,
    node: &'d Node,
    layout: Layout,
    env: EnvPlan<'d>,
    networks: CollectionPlan<'d>,
    /// `None`: the labels cannot be edited safely; a note says so.
    labels: Option<CollectionPlan<'d>>,
    /// The service the label goes on and its path: the app, whose namespace daprd serves
    /// metrics in, or a sidecar that runs in a container of its own.
    label_on: (&'d Node, Vec<String>),
    sidecar: SidecarPlan<'d>,
    services: &'d Node,
    /// The Dapr configuration's bind-mount source, for an adopted sidecar's mount.
    config_source: String,
    /// The file this plan edits, among the project's: each piece is edited in one file.
    this: usize,
    /// Whether the service's `environment`, `networks` and the label's `labels` are edited
    /// in this file (the last that sets them, else the one first defining the service).
    owns_env: bool,
    owns_networks: bool,
    owns_labels: bool,
    /// This file is the one that first defines the service.
    home: bool,
    notes: Vec<Note>,
    /// The variables it gets ([`ComposeOptions::env_of`]).
    wanted_env: Vec<(String, String)>,
    /// The `service.namespace` value ([`contract::compose_namespace`]).
    namespace: String,
}

enum EnvPlan<'d> {
    /// No `environment` of its own; what it inherits through `extends`, which a key of its
    /// own adds to.
    Absent(Vec<Present<'d>>),
    /// `environment:` with no value, and what it inherits (a null does not override it).
    Empty(&'d Node, Vec<Present<'d>>),
    List(&'d Node, Vec<Present<'d>>, crate::yaml::doc::Style),
    Map(&'d Node, Vec<Present<'d>>),
}

/// A variable the service already sets.
pub(super) struct Present<'d> {
    pub key: String,
    pub value: Option<String>,
    /// The scalar to replace on overwrite, and where it sits; `None` when it comes through
    /// a merge key (a local key then overrides it).
    at: Option<(&'d Node, Slot)>,
}

/// Where an item goes in one of a service's collections (`networks`, `labels`), which may be
/// written as a list or a map: what is there already, and in which form.
pub(super) enum CollectionPlan<'d> {
    Absent,
    /// Absent, but the service inherits the collection through `extends`, which a
    /// collection of its own adds to.
    Inherited,
    /// Empty (`key:` alone), and inherited likewise.
    EmptyInherited(&'d Node),
    Empty(&'d Node),
    List(&'d Node, Vec<String>),
    Map(&'d Node, Vec<String>),
}

impl<'d> ServicePlan<'d> {
    fn new(
        doc: &'d Document,
        text: &Text,
        services: &'d Node,
        name: &str,
        opts: &ComposeOptions,
        layers: &Layers<'d>,
    ) -> Result<ServicePlan<'d>, Refusal> {
        let (key, node) = services
            .get_entry(name)
            .expect("caller checked the name exists");
        let line = key.start.line + 1;
        let svc = || Some(name.to_string());
        if let Kind::Alias(_) = node.kind {
            return Err(Refusal::SharedAnchor {
                service: name.into(),
                what: format!("the service is the alias `{}`", anchor_text(doc, node)),
                line,
            });
        }
        if node.entries().is_none() {
            return Err(Refusal::Unsupported {
                service: svc(),
                what: format!("the service is a {}, not a mapping", node.kind_name()),
                line,
            });
        }
        if let Some(&alias_line) = doc.aliased.get(&node.anchor)
            && node.anchor != 0
        {
            return Err(Refusal::SharedAnchor {
                service: name.into(),
                what: format!(
                    "the service is anchored as `{}` and reused at line {alias_line}, so \
                     edits to it would onboard that service too",
                    anchor_text(doc, node)
                ),
                line,
            });
        }
        let extended_by = inherit::extended_by(doc, services, name);
        if !extended_by.is_empty() {
            return Err(Refusal::Extended {
                service: name.into(),
                by: extended_by,
                line,
            });
        }
        let bases = inherit::bases(doc, services, name)?;
        check_namespace(doc, node, name, &bases)?;
        for key in ["environment", "networks"] {
            if inherit::only_merged(doc, node, key) {
                return Err(Refusal::MergedKey {
                    service: name.into(),
                    key: key.into(),
                    line,
                });
            }
        }

        // The project's own sidecar calls the app where it already does, on its own ports.
        let adopting =
            sidecar::existing_in(layers, name)?.is_some_and(|e| !sidecar::is_ours(name, &e));
        let (app_port, mut notes) = if adopting {
            (None, Vec::new())
        } else {
            // The port the app listens on, from the last file that tells (an override
            // file often holds the app's ports).
            let inferred = (0..layers.files.len()).rev().find_map(|i| {
                let (d, s) = layers.files[i];
                let node = layers.service(i, name)?;
                let bases = inherit::bases(d, s, name).unwrap_or_default();
                super::inferred_port(d, node, &bases)
            });
            check_ports(doc, node, name, &bases, opts, inferred)?
        };

        let sidecar = sidecar_plan(doc, layers, name, opts, app_port, node, &bases)?;
        if app_id(name) != name && matches!(sidecar, SidecarPlan::Add(_)) {
            notes.push(Note {
                service: svc(),
                message: format!(
                    "Dapr app id `{}`: daprd rejects dots in app ids",
                    app_id(name)
                ),
                kind: NoteKind::Decided,
            });
        }
        if let SidecarPlan::Adopt {
            existing, adoption, ..
        } = &sidecar
        {
            notes.extend(adoption_notes(name, existing, adoption));
        }
        let mut env = env_plan(doc, name, node, &bases)?;
        // What the other files set adds up with this file's (a later file's value wins).
        let elsewhere: Vec<Present<'d>> = layers
            .elsewhere(name, "environment")
            .into_iter()
            .flat_map(|(d, e)| env_entries(d, e, false))
            .collect();
        match &mut env {
            EnvPlan::Absent(p)
            | EnvPlan::Empty(_, p)
            | EnvPlan::List(_, p, _)
            | EnvPlan::Map(_, p) => p.extend(elsewhere),
        }
        let networks = match net_plan(doc, name, node, &bases)? {
            // Another file gives it networks: Compose adds this file's to them.
            plan if !layers
                .elsewhere(name, "networks")
                .iter()
                .any(|(_, n)| !n.is_empty_null()) =>
            {
                plan
            }
            CollectionPlan::Absent => CollectionPlan::Inherited,
            CollectionPlan::Empty(key) => CollectionPlan::EmptyInherited(key),
            plan => plan,
        };
        let labels = match &sidecar {
            // The label tells the platform's Prometheus where daprd serves metrics: the
            // project's sidecar may serve them elsewhere, or not at all.
            SidecarPlan::Adopt { existing, .. }
                if sidecar::metrics_port(&existing.words).as_deref() != Some(METRICS_PORT) =>
            {
                let why = match sidecar::metrics_port(&existing.words) {
                    Some(port) => format!(
                        "`{}` serves its metrics on {port}: add {METRICS_LABEL}=\"{port}\" to `{name}` \
                         so the platform's Prometheus scrapes them",
                        existing.name
                    ),
                    None => format!(
                        "`{}` runs with metrics off: the platform's Prometheus has nothing to \
                         scrape ({METRICS_LABEL} not added)",
                        existing.name
                    ),
                };
                notes.push(Note {
                    service: svc(),
                    message: why,
                    kind: NoteKind::Info,
                });
                None
            }
            SidecarPlan::Adopt { existing, .. } if !existing.shares => {
                match layers.service(layers.this, &existing.name) {
                    Some(own) => {
                        let bases =
                            inherit::bases(doc, services, &existing.name).unwrap_or_default();
                        label_plan(doc, &existing.name, own, &bases, &mut notes)
                    }
                    None => None,
                }
            }
            _ => label_plan(doc, name, node, &bases, &mut notes),
        };
        // Traefik routes to a container on any network it shares with it unless told which:
        // with observability-net added, it may pick that one, where it cannot reach the app.
        let routed: Vec<String> = inherit::layers(doc, node, &bases, "labels")
            .into_iter()
            .flat_map(label_names)
            .collect();
        if routed.iter().any(|l| l.starts_with("traefik."))
            && !routed.iter().any(|l| l == "traefik.docker.network")
        {
            notes.push(Note {
                service: svc(),
                message: format!(
                    "its labels route Traefik to it, and it now joins {} too: add the label \
                     traefik.docker.network=<the network Traefik and {name} share> so Traefik \
                     does not pick a network it cannot reach the app on",
                    contract::NETWORK
                ),
                kind: NoteKind::Action,
            });
        }
        let label_on = match &sidecar {
            SidecarPlan::Adopt { existing, .. } if !existing.shares => (
                layers
                    .service(layers.this, &existing.name)
                    .unwrap_or(existing.node),
                vec!["services".to_string(), existing.name.clone()],
            ),
            _ => (node, vec!["services".to_string(), name.to_string()]),
        };
        let labelled = match &sidecar {
            SidecarPlan::Adopt { existing, .. } if !existing.shares => existing.name.clone(),
            _ => name.to_string(),
        };
        // What the summary says is said once, by the file that first defines the service.
        if !layers.is_home(name) {
            notes.clear();
        }
        let layout = layout(text, doc.root.as_ref().expect("root"), services, Some(node));
        Ok(ServicePlan {
            name: name.to_string(),
            node,
            layout,
            env,
            networks,
            labels,
            label_on,
            sidecar,
            services,
            config_source: opts.config_source.clone(),
            this: layers.this,
            owns_env: layers.owns(name, "environment"),
            owns_networks: layers.owns(name, "networks"),
            owns_labels: layers.owns(&labelled, "labels")
                && layers.service(layers.this, &labelled).is_some(),
            home: layers.is_home(name),
            notes,
            wanted_env: opts.env_of(name),
            namespace: opts.namespace.clone(),
        })
    }

    /// The project's sidecar this plan adopts, if it does.
    fn adopted(&self) -> Option<super::Adopted> {
        if !self.home {
            return None;
        }
        let SidecarPlan::Adopt {
            existing, adoption, ..
        } = &self.sidecar
        else {
            return None;
        };
        Some(super::Adopted {
            service: self.name.clone(),
            sidecar: existing.name.clone(),
            binds: existing.binds.clone(),
            own_config: match adoption {
                Adoption::OwnConfig { path, source } => Some((path.clone(), source.clone())),
                _ => None,
            },
        })
    }

    fn apply(
        self,
        editor: &mut Editor,
        network: &NetworkKey,
        notes: &mut Vec<Note>,
        conflicts: &mut Vec<Conflict>,
        overwrite: bool,
    ) -> Result<(), Refusal> {
        let name = &self.name;
        let svc_path = vec!["services".to_string(), name.clone()];
        let lay = &self.layout;
        notes.extend(self.notes);

        let mut wanted = self.wanted_env;
        // A project's own resource attributes stay: the namespace goes after them (in
        // place when the service sets them, else with a copy of what it inherits), and a
        // namespace of the project's own is left alone.
        let merged = |pv: &str| {
            contract::namespace_tail(pv, &self.namespace).map(|tail| format!("{pv}{tail}"))
        };
        let attributes = own_attributes;
        let merge_inherited = |wanted: &mut Vec<(String, String)>, present: &[Present<'_>]| {
            if let Some((pv, _)) = attributes(present) {
                let value = merged(&pv);
                wanted.retain(|(k, _)| k != contract::RESOURCE_ATTRIBUTES);
                wanted.extend(value.map(|v| (contract::RESOURCE_ATTRIBUTES.to_string(), v)));
            }
        };
        let env_path = [svc_path.clone(), vec!["environment".into()]].concat();
        let list_items = |items: &[(String, String)], style| -> Vec<NewNode> {
            items
                .iter()
                .map(|(k, v)| {
                    let entry = format!("{k}={v}");
                    match style {
                        crate::yaml::doc::Style::DoubleQuoted => NewNode::DoubleQuoted(entry),
                        crate::yaml::doc::Style::SingleQuoted => NewNode::SingleQuoted(entry),
                        _ => NewNode::Str(entry),
                    }
                })
                .collect()
        };
        match &self.env {
            // Another file holds the service's variables: they are edited there.
            _ if !self.owns_env => {}
            EnvPlan::Absent(inherited) | EnvPlan::Empty(_, inherited) => {
                merge_inherited(&mut wanted, inherited);
                let missing: Vec<(String, String)> = wanted
                    .iter()
                    .filter(|(k, v)| {
                        let Some(p) = inherited.iter().find(|p| &p.key == k) else {
                            return true;
                        };
                        if p.value.as_deref() == Some(v.as_str()) {
                            return false;
                        }
                        // The project's attributes with the namespace after them.
                        if k == contract::RESOURCE_ATTRIBUTES && p.value.is_some() {
                            return true;
                        }
                        if !overwrite {
                            conflicts.push(Conflict {
                                service: Some(name.clone()),
                                what: format!(
                                    "{k} is {}, obs-init would set {v}",
                                    p.value.as_deref().unwrap_or("(taken from the host)")
                                ),
                                line: None,
                            });
                        }
                        overwrite
                    })
                    .cloned()
                    .collect();
                let items = NewNode::Seq(list_items(&missing, crate::yaml::doc::Style::Plain));
                match &self.env {
                    // Nothing to write when everything is inherited already.
                    _ if missing.is_empty() => {}
                    EnvPlan::Empty(key, _) => {
                        editor.set_empty(key, &svc_path, "environment", items, lay)
                    }
                    _ => editor.insert_entry(self.node, &svc_path, "environment", items, lay),
                }
            }
            EnvPlan::List(collection, present, _) | EnvPlan::Map(collection, present) => {
                let list_style = match &self.env {
                    EnvPlan::List(_, _, style) => Some(*style),
                    _ => None,
                };
                let render = |k: &str, v: &str| match list_style {
                    Some(style) => list_items(&[(k.to_string(), v.to_string())], style).remove(0),
                    None => NewNode::Str(v.to_string()),
                };
                let add = |editor: &mut Editor, k: &str, v: &str| match list_style {
                    Some(_) => editor.push_item(collection, &env_path, render(k, v), lay),
                    None => editor.insert_entry(collection, &env_path, k, render(k, v), lay),
                };
                match attributes(present) {
                    Some((pv, Some((node, slot)))) => {
                        wanted.retain(|(k, _)| k != contract::RESOURCE_ATTRIBUTES);
                        if let Some(tail) = contract::namespace_tail(&pv, &self.namespace) {
                            let key = contract::RESOURCE_ATTRIBUTES;
                            if let Err(why) = editor.append_to_scalar(
                                node,
                                &env_path,
                                (slot, key),
                                &tail,
                                collection.is_flow(),
                            ) {
                                notes.push(Note {
                                    service: Some(name.clone()),
                                    message: format!(
                                        "{key} (line {}) is the project's own, and obs-init \
                                         cannot add to it ({why}): add {tail} at its end, so \
                                         that the platform tells this project's {name} apart",
                                        node.start.line + 1
                                    ),
                                    kind: NoteKind::Action,
                                });
                            }
                        }
                    }
                    // Through a merge key: a key of the service's own, with both, overrides it.
                    Some((_, None)) => merge_inherited(&mut wanted, present),
                    None => {}
                }
                for (k, v) in &wanted {
                    let Some(p) = present.iter().find(|p| &p.key == k) else {
                        add(editor, k, v);
                        continue;
                    };
                    if p.value.as_deref() == Some(v.as_str()) {
                        continue;
                    }
                    // The project's attributes, merged in through `<<`, with the namespace.
                    if k == contract::RESOURCE_ATTRIBUTES && p.value.is_some() && p.at.is_none() {
                        add(editor, k, v);
                        continue;
                    }
                    let current = p.value.as_deref().unwrap_or("(taken from the host)");
                    let line = p.at.as_ref().map(|(n, _)| n.start.line + 1);
                    if !overwrite {
                        conflicts.push(Conflict {
                            service: Some(name.clone()),
                            what: format!("{k} is {current}, obs-init would set {v}"),
                            line,
                        });
                        continue;
                    }
                    match &p.at {
                        Some((node, slot)) => editor
                            .replace_scalar(node, &env_path, slot.clone(), render(k, v))
                            .map_err(|why| Refusal::Unsupported {
                                service: Some(name.clone()),
                                what: format!("cannot overwrite {k}: {why}"),
                                line: node.start.line + 1,
                            })?,
                        // Merged in through `<<`: a key of the service's own overrides it.
                        None => add(editor, k, v),
                    }
                }
            }
        }

        if self.owns_networks {
            join_network(
                editor,
                self.node,
                &svc_path,
                &self.networks,
                &network.key,
                lay,
            );
        }
        // A sidecar on a network of its own sends its traces from there: it joins too.
        if let SidecarPlan::Adopt {
            existing,
            networks: Some(nets),
            ..
        } = &self.sidecar
        {
            let path = vec!["services".to_string(), existing.name.clone()];
            join_network(editor, existing.node, &path, nets, &network.key, lay);
        }

        // The label that lets the platform's Prometheus find this sidecar.
        let (label_node, label_svc) = &self.label_on;
        let label_path = [label_svc.clone(), vec!["labels".into()]].concat();
        let label_map = || {
            NewNode::Map(vec![(
                METRICS_LABEL.to_string(),
                NewNode::str(METRICS_PORT),
            )])
        };
        let has_label = |present: &[String]| present.iter().any(|l| l == METRICS_LABEL);
        match &self.labels {
            _ if !self.owns_labels => {}
            Some(CollectionPlan::Absent | CollectionPlan::Inherited) => {
                editor.insert_entry(label_node, label_svc, "labels", label_map(), lay)
            }
            Some(CollectionPlan::Empty(key) | CollectionPlan::EmptyInherited(key)) => {
                editor.set_empty(key, label_svc, "labels", label_map(), lay)
            }
            Some(CollectionPlan::List(seq, present)) if !has_label(present) => {
                let item = NewNode::str(format!("{METRICS_LABEL}={METRICS_PORT}"));
                editor.push_item(seq, &label_path, item, lay);
            }
            Some(CollectionPlan::Map(map, present)) if !has_label(present) => {
                let value = NewNode::str(METRICS_PORT);
                editor.insert_entry(map, &label_path, METRICS_LABEL, value, lay);
            }
            // Present already, or not safely editable (noted when planned).
            _ => {}
        }

        let key = sidecar_name(name);
        match self.sidecar {
            SidecarPlan::Add(sidecar) => {
                editor.insert_entry(self.services, &["services".into()], &key, sidecar, lay)
            }
            SidecarPlan::Keep => {}
            SidecarPlan::Adopt {
                existing, adoption, ..
            } => adopt(
                editor,
                &existing,
                adoption,
                &self.config_source,
                lay,
                self.this,
            )?,
            SidecarPlan::Image { node, wanted } if overwrite => {
                let path = ["services".to_string(), key.clone()];
                editor
                    .replace_scalar(
                        node,
                        &path,
                        Slot::Key("image".into()),
                        NewNode::str(&wanted),
                    )
                    .map_err(|why| Refusal::Unsupported {
                        service: Some(name.clone()),
                        what: format!("cannot overwrite the sidecar image: {why}"),
                        line: node.start.line + 1,
                    })?;
            }
            SidecarPlan::Image { node, wanted } => conflicts.push(Conflict {
                service: Some(name.clone()),
                what: format!(
                    "sidecar {key} runs {}, obs-init would pin {wanted}",
                    node.as_str().unwrap_or("?")
                ),
                line: Some(node.start.line + 1),
            }),
        }
        Ok(())
    }
}

/// Adds the platform network `net` to the service `node` (at `svc_path`), in the form its
/// `networks` has.
fn join_network(
    editor: &mut Editor,
    node: &Node,
    svc_path: &[String],
    networks: &CollectionPlan,
    net: &str,
    lay: &Layout,
) {
    let net = net.to_string();
    let net_path = [svc_path.to_vec(), vec!["networks".into()]].concat();
    let fresh = || {
        // A service without `networks:` is on `default`; naming only ours would take it off.
        NewNode::Seq(vec![NewNode::str("default"), NewNode::str(net.clone())])
    };
    match networks {
        CollectionPlan::Absent => editor.insert_entry(node, svc_path, "networks", fresh(), lay),
        CollectionPlan::Inherited => {
            let ours = NewNode::Seq(vec![NewNode::str(net.clone())]);
            editor.insert_entry(node, svc_path, "networks", ours, lay)
        }
        CollectionPlan::EmptyInherited(key) => {
            let ours = NewNode::Seq(vec![NewNode::str(net.clone())]);
            editor.set_empty(key, svc_path, "networks", ours, lay)
        }
        CollectionPlan::Empty(key) => editor.set_empty(key, svc_path, "networks", fresh(), lay),
        CollectionPlan::List(seq, present) => {
            if !present.contains(&net) {
                editor.push_item(seq, &net_path, NewNode::str(net.clone()), lay);
            }
        }
        CollectionPlan::Map(map, present) => {
            if !present.contains(&net) {
                let empty = NewNode::Map(Vec::new());
                editor.insert_entry(map, &net_path, &net, empty, lay);
            }
        }
    }
}

/// What happens to a service's sidecar.
pub(super) enum SidecarPlan<'d> {
    Add(NewNode),
    /// The project's own: given the tracing configuration, everything else kept.
    Adopt {
        existing: Box<Existing<'d>>,
        adoption: Adoption<'d>,
        /// Where it joins the platform network: when it calls the app over a network of
        /// its own rather than sharing the app's.
        networks: Option<CollectionPlan<'d>>,
    },
    /// Ours, and as obs-init would write it.
    Keep,
    /// Ours, but running another daprd image than the pinned one.
    Image {
        node: &'d Node,
        wanted: String,
    },
}

pub(super) fn sidecar_plan<'d>(
    doc: &'d Document,
    layers: &Layers<'d>,
    name: &str,
    opts: &ComposeOptions,
    app_port: Option<u16>,
    app: &'d Node,
    bases: &[(String, &'d Node)],
) -> Result<SidecarPlan<'d>, Refusal> {
    let wanted_name = sidecar_name(name);
    let found = layers.home(&wanted_name).map(|h| {
        let (d, services) = layers.files[h];
        let (k, v) = services.get_entry(&wanted_name).expect("defined there");
        (h, d, k, d.resolve(v))
    });
    if let Some((h, d, k, v)) = found {
        let words = command_words(d, v, &[]);
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        let image = lookup(d, v, "image").and_then(Node::as_str);
        let mode = lookup(d, v, "network_mode").and_then(Node::as_str);
        if contract::is_our_sidecar(name, image, mode, &words) {
            let wanted = daprd_image(&opts.dapr_version);
            return Ok(match v.get("image") {
                // Its image is judged in the file that has it.
                Some(node) if h == layers.this && node.as_str() != Some(wanted.as_str()) => {
                    SidecarPlan::Image { node, wanted }
                }
                _ => SidecarPlan::Keep,
            });
        }
        if sidecar::existing_in(layers, name)?.is_none_or(|e| e.name != wanted_name) {
            return Err(Refusal::SidecarConflict {
                service: name.into(),
                sidecar: wanted_name,
                line: k.start.line + 1,
                reason: "a service of that name exists and is not a Dapr sidecar of it (daprd \
                         sharing its network namespace, or calling it with \
                         --app-channel-address)"
                    .into(),
            });
        }
    }
    if let Some(existing) = sidecar::existing_in(layers, name)? {
        let adoption = existing.adoption(layers, name)?;
        // A sidecar in a container of its own joins the platform network in the file
        // that holds its networks.
        let own = layers
            .service(layers.this, &existing.name)
            .filter(|_| !existing.shares && layers.owns(&existing.name, "networks"));
        let networks = match own {
            Some(node) => {
                let (_, services) = layers.files[layers.this];
                let bases = inherit::bases(doc, services, &existing.name)?;
                Some(net_plan(doc, &existing.name, node, &bases)?)
            }
            None => None,
        };
        return Ok(SidecarPlan::Adopt {
            existing: Box::new(existing),
            adoption,
            networks,
        });
    }
    // A new sidecar goes into the file that first defines its app.
    if !layers.is_home(name) {
        return Ok(SidecarPlan::Keep);
    }
    let command = NewNode::Flow(Box::new(NewNode::Seq(
        contract::sidecar_command(name, app_port)
            .into_iter()
            .map(NewNode::DoubleQuoted)
            .collect(),
    )));
    let mut extra = Vec::new();
    // A sidecar in the app's namespace depends on the app: Compose rejects the project when
    // the app's profile is off and the sidecar has none.
    let profiles = app_profiles(doc, app, bases);
    if !profiles.is_empty() {
        extra.push((
            "profiles".to_string(),
            NewNode::Seq(profiles.into_iter().map(NewNode::Str).collect()),
        ));
    }
    // The app restarting while its sidecar stays down would leave it without tracing.
    if let Some(restart) = inherit::effective(doc, app, bases, "restart").and_then(Node::as_str) {
        extra.push(("restart".to_string(), NewNode::str(restart)));
    }
    Ok(SidecarPlan::Add(NewNode::Map(
        [
            vec![
                (
                    "image".into(),
                    NewNode::str(daprd_image(&opts.dapr_version)),
                ),
                ("command".into(), command),
                (
                    "volumes".into(),
                    NewNode::Seq(vec![NewNode::str(format!(
                        "{}:{CONFIG_MOUNT}:ro",
                        opts.config_source
                    ))]),
                ),
                (
                    "network_mode".into(),
                    NewNode::DoubleQuoted(contract::sidecar_network_mode(name)),
                ),
            ],
            extra,
        ]
        .concat(),
    )))
}

/// The profiles a service is active in: its own and, through `extends`, its bases' (they add
/// up), base first as Compose lists them.
fn app_profiles(doc: &Document, app: &Node, bases: &[(String, &Node)]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for layer in inherit::layers(doc, app, bases, "profiles")
        .into_iter()
        .rev()
    {
        for p in layer.items().unwrap_or_default() {
            if let Some(p) = doc.resolve(p).as_str()
                && !out.iter().any(|o| o == p)
            {
                out.push(p.to_string());
            }
        }
    }
    out
}

/// The value of `OTEL_RESOURCE_ATTRIBUTES` among a service's variables, and where it sits.
fn own_attributes<'d>(present: &[Present<'d>]) -> Option<(String, Option<(&'d Node, Slot)>)> {
    present
        .iter()
        .find(|p| p.key == contract::RESOURCE_ATTRIBUTES)
        .and_then(|p| Some((p.value.clone()?, p.at.clone())))
}

fn env_plan<'d>(
    doc: &'d Document,
    name: &str,
    node: &'d Node,
    bases: &[(String, &'d Node)],
) -> Result<EnvPlan<'d>, Refusal> {
    // What the bases give, nearest first: a key of the service's own overrides it.
    let inherited: Vec<Present<'d>> = bases
        .iter()
        .filter_map(|(_, b)| lookup(doc, b, "environment"))
        .flat_map(|env| env_entries(doc, env, false))
        .collect();
    let Some((key, env)) = node.get_entry("environment") else {
        return Ok(EnvPlan::Absent(inherited));
    };
    check_editable(doc, name, "environment", env, key.start.line + 1)?;
    if env.is_empty_null() {
        return Ok(EnvPlan::Empty(key, inherited));
    }
    match &env.kind {
        Kind::Seq { items, .. } => {
            let style = match items.first().map(|i| &i.kind) {
                Some(Kind::Scalar { style, .. }) => *style,
                _ => crate::yaml::doc::Style::Plain,
            };
            let mut present = env_entries(doc, env, true);
            present.extend(inherited);
            Ok(EnvPlan::List(env, present, style))
        }
        Kind::Map { .. } => {
            let mut present = env_entries(doc, env, true);
            present.extend(inherited);
            Ok(EnvPlan::Map(env, present))
        }
        _ => Err(Refusal::Unsupported {
            service: Some(name.into()),
            what: format!("`environment` is a {}", env.kind_name()),
            line: key.start.line + 1,
        }),
    }
}

/// The variables an `environment` (list or map, merge keys followed) sets, in precedence
/// order. `own`: the node is the service's own, so its scalars can be replaced in place.
pub(super) fn env_entries<'d>(doc: &'d Document, env: &'d Node, own: bool) -> Vec<Present<'d>> {
    match &env.kind {
        Kind::Seq { items, .. } => items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| {
                let s = doc.resolve(item).as_str()?;
                let (key, value) = match s.split_once('=') {
                    Some((k, v)) => (k.to_string(), Some(v.to_string())),
                    None => (s.to_string(), None),
                };
                Some(Present {
                    key,
                    value,
                    at: own.then_some((item, Slot::Index(i))),
                })
            })
            .collect(),
        Kind::Map { .. } => std::iter::once(env)
            .chain(inherit::merged(doc, env))
            .enumerate()
            .flat_map(|(n, m)| {
                m.entries()
                    .unwrap_or_default()
                    .iter()
                    .filter_map(move |(k, v)| {
                        let k = k.as_str().filter(|k| *k != "<<")?;
                        Some(Present {
                            key: k.to_string(),
                            value: doc.resolve(v).as_str().map(String::from),
                            at: (own && n == 0).then(|| (v, Slot::Key(k.to_string()))),
                        })
                    })
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Where the metrics label goes. The label is a convenience for the platform's discovery:
/// a shape obs-init cannot edit safely is noted and left alone, not refused.
fn label_plan<'d>(
    doc: &'d Document,
    name: &str,
    node: &'d Node,
    bases: &[(String, &'d Node)],
    notes: &mut Vec<Note>,
) -> Option<CollectionPlan<'d>> {
    let mut skip = |why: String| {
        notes.push(Note {
            service: Some(name.to_string()),
            message: format!(
                "label {METRICS_LABEL}={METRICS_PORT} not added ({why}): add it by hand so the \
                 platform's Prometheus scrapes the sidecar's metrics"
            ),
            kind: NoteKind::Action,
        });
        None
    };
    let Some((key, labels)) = node.get_entry("labels") else {
        let inherited = inherit::layers(doc, node, bases, "labels")
            .into_iter()
            .any(|l| label_names(l).iter().any(|n| n == METRICS_LABEL));
        if inherited {
            // A merge key or its base carries the label already, and passes it on.
            return None;
        }
        if inherit::only_merged(doc, node, "labels") {
            return skip("the service's labels come through a merge key".into());
        }
        return Some(CollectionPlan::Absent);
    };
    if let Err(e) = check_editable(doc, name, "labels", labels, key.start.line + 1) {
        return skip(e.to_string());
    }
    if labels.is_empty_null() {
        return Some(CollectionPlan::Empty(key));
    }
    match &labels.kind {
        Kind::Seq { .. } => Some(CollectionPlan::List(labels, label_names(labels))),
        Kind::Map { .. } => Some(CollectionPlan::Map(labels, label_names(labels))),
        _ => skip(format!("`labels` is a {}", labels.kind_name())),
    }
}

fn net_plan<'d>(
    doc: &'d Document,
    name: &str,
    node: &'d Node,
    bases: &[(String, &'d Node)],
) -> Result<CollectionPlan<'d>, Refusal> {
    // `extends` merges networks by name: with networks from a base, the service is not on
    // `default` unless the base says so, and a list of its own (or a value given to its
    // empty `networks:`, which overrides nothing) adds to the base's.
    let inherited = bases
        .iter()
        .any(|(_, b)| lookup(doc, b, "networks").is_some_and(|n| !n.is_empty_null()));
    let Some((key, nets)) = node.get_entry("networks") else {
        return Ok(if inherited {
            CollectionPlan::Inherited
        } else {
            CollectionPlan::Absent
        });
    };
    check_editable(doc, name, "networks", nets, key.start.line + 1)?;
    if nets.is_empty_null() {
        return Ok(if inherited {
            CollectionPlan::EmptyInherited(key)
        } else {
            CollectionPlan::Empty(key)
        });
    }
    match &nets.kind {
        Kind::Seq { items, .. } => Ok(CollectionPlan::List(
            nets,
            items
                .iter()
                .filter_map(|i| doc.resolve(i).as_str().map(String::from))
                .collect(),
        )),
        Kind::Map { entries, .. } => Ok(CollectionPlan::Map(
            nets,
            entries
                .iter()
                .filter_map(|(k, _)| k.as_str().map(String::from))
                .collect(),
        )),
        _ => Err(Refusal::Unsupported {
            service: Some(name.into()),
            what: format!("`networks` is a {}", nets.kind_name()),
            line: key.start.line + 1,
        }),
    }
}

/// Refuses to edit a node that other parts of the file share through an anchor, or that is
/// itself an alias: the edit would change (or could not reach) the other users.
fn check_editable(
    doc: &Document,
    service: &str,
    key: &str,
    node: &Node,
    line: usize,
) -> Result<(), Refusal> {
    if let Kind::Alias(_) = node.kind {
        return Err(Refusal::SharedAnchor {
            service: service.into(),
            what: format!("`{key}` is the alias `{}`", anchor_text(doc, node)),
            line,
        });
    }
    if node.anchor != 0
        && let Some(alias_line) = doc.aliased.get(&node.anchor)
    {
        return Err(Refusal::SharedAnchor {
            service: service.into(),
            what: format!(
                "`{key}` is anchored as `{}` and reused at line {alias_line}",
                anchor_text(doc, node)
            ),
            line,
        });
    }
    if node.tag.is_some() {
        return Err(Refusal::Unsupported {
            service: Some(service.into()),
            what: format!(
                "`{key}` carries the tag `{}`",
                node.tag.as_deref().unwrap_or("")
            ),
            line,
        });
    }
    Ok(())
}

/// `&name` for an anchored node, `*name` for an alias.
fn anchor_text(doc: &Document, node: &Node) -> String {
    let (sigil, id) = match node.kind {
        Kind::Alias(id) => ('*', id),
        _ => ('&', node.anchor),
    };
    doc.anchor_name(id)
        .map_or_else(|| "an anchor".to_string(), |n| format!("{sigil}{n}"))
}

/// The layout new text should follow around `service` (or at the top level when `None`).
fn layout(text: &Text, root: &Node, services: &Node, service: Option<&Node>) -> Layout {
    let first_key_col = |n: &Node| {
        n.entries()
            .filter(|_| !n.is_flow())
            .and_then(|e| e.first())
            .map(|(k, _)| k.start.col)
    };
    let root_col = first_key_col(root).unwrap_or(0);
    let top_step = first_key_col(services)
        .filter(|&c| c > root_col)
        .map_or(2, |c| c - root_col);
    let step = service
        .and_then(|s| {
            let (k, _) = services
                .entries()?
                .iter()
                .find(|(_, v)| std::ptr::eq(v, s))?;
            first_key_col(s)
                .filter(|&c| c > k.start.col)
                .map(|c| c - k.start.col)
        })
        .unwrap_or(top_step);
    let (seq_indent, dash_gap) = service
        .and_then(|s| seq_style(text, s))
        .or_else(|| seq_style(text, root))
        .unwrap_or((step, 1));
    Layout {
        step,
        seq_indent,
        dash_gap,
        eol: text.eol(),
    }
}

/// How far block sequences under a key are indented, and the gap after their dash: the
/// first example found below `node`.
pub(crate) fn seq_style(text: &Text, node: &Node) -> Option<(usize, usize)> {
    for (k, v) in node.entries()? {
        if let Kind::Seq {
            items,
            flow_close: None,
        } = &v.kind
            && let Some(first) = items.first()
        {
            let line: Vec<char> = text.line(first.start.line).chars().collect();
            let mut col = first.start.col;
            while col > 0 && line.get(col - 1) == Some(&' ') {
                col -= 1;
            }
            if col > 0 && line.get(col - 1) == Some(&'-') && col > k.start.col {
                return Some((col - 1 - k.start.col, first.start.col - col));
            }
        }
        if let Some(found) = seq_style(text, v) {
            return Some(found);
        }
    }
    None
}

/// What the summary says about an adopted sidecar: what was added, what is kept, and an
/// image tag that is no release.
pub(super) fn adoption_notes(app: &str, existing: &Existing, adoption: &Adoption) -> Vec<Note> {
    let svc = || Some(app.to_string());
    let mut notes = vec![Note {
        service: svc(),
        message: match adoption {
            // The tracing goes in only where the file is known and does not trace
            // elsewhere already: a conflict or an action then says so.
            Adoption::OwnConfig { path, .. } => format!(
                "adopted the project's Dapr sidecar `{}`: it loads its own Configuration \
                 {path}, so obs-init's tracing goes there, not into a second file (a conflict \
                 or an action says when it cannot); its flags, ports and volumes are kept",
                existing.name
            ),
            _ if existing.shares => format!(
                "adopted the project's Dapr sidecar `{}`: given --config {CONFIG_MOUNT} and the \
                 mount; its app id, ports, placement, components and networks are kept",
                existing.name
            ),
            _ => format!(
                "adopted the project's Dapr sidecar `{}`: given --config {CONFIG_MOUNT} and the \
                 mount, and, since it runs in a container of its own, {NETWORK} (to reach the \
                 collector) and the metrics label; its app id, ports, placement and components \
                 are kept",
                existing.name
            ),
        },
        kind: NoteKind::Decided,
    }];
    // The image as Compose runs it: its own, merged in, from the service it extends, or
    // from a later file.
    let image = existing.image.as_deref().unwrap_or_default();
    let tag = image
        .rsplit_once(':')
        .map(|(_, t)| t)
        .filter(|t| !t.contains('/'));
    let pinned = tag.is_some_and(|t| t.chars().next().is_some_and(|c| c.is_ascii_digit()));
    if !pinned {
        notes.push(Note {
            service: svc(),
            message: format!(
                "`{}` runs {image}, which is no release: pin one (obs-init checked daprd {})",
                existing.name,
                contract::DEFAULT_DAPR_VERSION
            ),
            kind: NoteKind::Info,
        });
    }
    notes
}

/// Gives an adopted sidecar `--config`, in its command's style, and the mount.
fn adopt(
    editor: &mut Editor,
    existing: &Existing,
    adoption: Adoption,
    config_source: &str,
    lay: &Layout,
    this: usize,
) -> Result<(), Refusal> {
    let Adoption::Add {
        command,
        command_in,
        flag,
        mount,
        mount_in,
        service,
    } = adoption
    else {
        return Ok(());
    };
    // Each piece in the file it is in: this run edits only this file.
    let flag = flag.filter(|_| command_in == this);
    let mount = mount.filter(|_| mount_in == this);
    let path = vec!["services".to_string(), existing.name.clone()];
    let internal = |why: String| Refusal::Internal(format!("adopting {}: {why}", existing.name));
    if let Some((words, string)) = flag {
        if string {
            let text = format!(" {}", words.join(" "));
            editor
                .append_to_scalar(
                    command,
                    &path,
                    (Slot::Key("command".into()), "command"),
                    &text,
                    false,
                )
                .map_err(internal)?;
        } else {
            let cmd_path = [path.clone(), vec!["command".into()]].concat();
            for w in words {
                editor.push_item(command, &cmd_path, like_items(command, w), lay);
            }
        }
    }
    let spec = format!("{config_source}:{CONFIG_MOUNT}:ro");
    match mount {
        Some(Some(volumes)) => {
            let vol_path = [path.clone(), vec!["volumes".into()]].concat();
            editor.push_item(volumes, &vol_path, like_items(volumes, spec), lay);
        }
        Some(None) => editor.insert_entry(
            service,
            &path,
            "volumes",
            NewNode::Seq(vec![NewNode::str(spec)]),
            lay,
        ),
        None => {}
    }
    Ok(())
}

/// `word` as a new item of `seq`, quoted as its first item is.
fn like_items(seq: &Node, word: String) -> NewNode {
    let first = seq.items().and_then(|i| i.first()).map(|i| &i.kind);
    // A flag reads plain where the list's words are plain (`- --app-id`), as YAML allows.
    let flag_plain = word.starts_with('-') && {
        let bare = word.trim_start_matches('-');
        !bare.is_empty() && crate::yaml::emit::scalar(bare) == bare
    };
    if flag_plain
        && matches!(
            first,
            Some(Kind::Scalar {
                style: crate::yaml::doc::Style::Plain,
                ..
            })
        )
    {
        return NewNode::Plain(word);
    }
    match first {
        Some(Kind::Scalar {
            style: crate::yaml::doc::Style::DoubleQuoted,
            ..
        }) => NewNode::DoubleQuoted(word),
        Some(Kind::Scalar {
            style: crate::yaml::doc::Style::SingleQuoted,
            ..
        }) => NewNode::SingleQuoted(word),
        _ => NewNode::Str(word),
    }
}
