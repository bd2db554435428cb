//! Onboarding workloads of one manifest file: the Dapr annotations on each pod template,
//! the collector's variables on its app container, inserted in each document's own layout
//! and verified by parsing the document again.

use super::{CONFIG_NAME, Workload, documents, parse_piece, template_path, workloads};
use crate::compose::{Conflict, Note, NoteKind};
use crate::contract;
use crate::error::Refusal;
use crate::yaml::doc::{Document, Kind, Node};
use crate::yaml::emit::{Layout, NewNode};
use crate::yaml::splice::Editor;
use crate::yaml::text::Text;
use crate::yaml::verify;

/// What onboarding a manifest file gives.
#[derive(Debug, Clone)]
pub struct ManifestOutcome {
    pub after: String,
    /// The workloads onboarded (those asked for that the file has).
    pub onboarded: Vec<Workload>,
    pub notes: Vec<Note>,
    pub conflicts: Vec<Conflict>,
    /// What was added to each workload, for a patch that adds the same (overlay mode).
    pub added: Vec<Added>,
    /// Each onboarded workload's app container, for its Python side.
    pub apps: Vec<App>,
    /// What each onboarded workload carries of the onboarding once onboarded (the project's
    /// own values where it set them): what a patch restates where an overlay erases it.
    pub carried: Vec<Added>,
    /// Workloads already annotated for Dapr whose `dapr.io/config` names the project's own
    /// Configuration: the tracing goes into that one, not into obs-init's.
    pub own_configs: Vec<(Workload, String)>,
}

/// A workload's app container as the manifest has it: what detection reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct App {
    pub workload: Workload,
    pub image: Option<String>,
    /// Its `command` and `args`, on one line.
    pub commands: Vec<String>,
    /// Its `env` entries that have a value.
    pub environment: Vec<(String, String)>,
    pub port: Option<u16>,
}

/// What onboarding adds to one workload: the annotations its pod template lacked and the
/// variables its app container lacked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Added {
    pub workload: Workload,
    pub api_version: String,
    /// The app container's name (`None`: it has none, so no patch can reach it).
    pub container: Option<String>,
    pub annotations: Vec<(String, String)>,
    pub env: Vec<(String, String)>,
}

/// The collector's address for the SDK (which needs the scheme) and for Dapr (which does
/// not), from the in-cluster `host:port`; and the pod's namespace as `service.namespace`,
/// read where the pod runs ([`contract::K8S_NAMESPACE_VAR`], which must come first).
pub fn app_env(workload: &str, collector: &str) -> Vec<(String, String)> {
    vec![
        ("OTEL_COLLECTOR_ENDPOINT".into(), collector.to_string()),
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT".into(),
            format!("http://{collector}"),
        ),
        ("OTEL_SERVICE_NAME".into(), workload.to_string()),
        (
            contract::K8S_NAMESPACE_VAR.into(),
            contract::K8S_NAMESPACE_FIELD.into(),
        ),
        (
            contract::RESOURCE_ATTRIBUTES.into(),
            contract::namespace_attribute(&format!("$({})", contract::K8S_NAMESPACE_VAR)),
        ),
    ]
}

/// A container's `env` item for a variable of [`app_env`]: `name` and `value`, or for
/// [`contract::K8S_NAMESPACE_VAR`] the pod field its value (the field's path) names.
pub fn env_item(name: &str, value: &str) -> NewNode {
    let from = if name == contract::K8S_NAMESPACE_VAR {
        (
            "valueFrom".to_string(),
            NewNode::Map(vec![(
                "fieldRef".into(),
                NewNode::Map(vec![("fieldPath".into(), NewNode::str(value))]),
            )]),
        )
    } else {
        ("value".into(), NewNode::DoubleQuoted(value.to_string()))
    };
    NewNode::Map(vec![("name".into(), NewNode::str(name)), from])
}

/// The value of an `env` item as [`app_env`] spells it: its `value`, or for
/// [`contract::K8S_NAMESPACE_VAR`] the pod field it is read from.
fn item_value(item: &Node) -> Option<&str> {
    if item.get("name").and_then(Node::as_str) == Some(contract::K8S_NAMESPACE_VAR) {
        return item
            .get("valueFrom")
            .and_then(|v| v.get("fieldRef"))
            .and_then(|f| f.get("fieldPath"))
            .and_then(Node::as_str);
    }
    item.get("value").and_then(Node::as_str)
}

/// Whether a workload kind's pods run to completion (a Job, or a CronJob's Jobs), where a
/// sidecar that never exits keeps them from completing.
pub fn is_run_to_completion(kind: &str) -> bool {
    matches!(kind, "Job" | "CronJob")
}

/// The annotations the Dapr sidecar injector reads on a pod template.
pub fn annotations(app_id: &str, app_port: Option<u16>) -> Vec<(String, String)> {
    let mut out = vec![
        ("dapr.io/enabled".to_string(), "true".to_string()),
        ("dapr.io/app-id".to_string(), app_id.to_string()),
    ];
    if let Some(p) = app_port {
        out.push(("dapr.io/app-port".into(), p.to_string()));
    }
    out.extend([
        ("dapr.io/config".to_string(), CONFIG_NAME.to_string()),
        ("dapr.io/enable-metrics".to_string(), "true".to_string()),
        (
            "dapr.io/metrics-port".to_string(),
            contract::METRICS_PORT.to_string(),
        ),
    ]);
    out
}

/// Onboards the workloads of `content` that `wanted` names (`Kind/name` or `name`; empty:
/// every workload), pointing the apps at `collector` (`host:port` inside the cluster).
pub fn onboard(
    content: &str,
    wanted: &[String],
    collector: &str,
) -> Result<ManifestOutcome, Refusal> {
    onboard_with(content, wanted, collector, &[])
}

/// [`onboard`], with more variables for some workloads' app containers (`Kind/name`, the
/// variables): what their framework needs on top, as MLflow's OTLP settings.
pub fn onboard_with(
    content: &str,
    wanted: &[String],
    collector: &str,
    extra: &[(String, crate::contract::FrameworkEnv)],
) -> Result<ManifestOutcome, Refusal> {
    let found = workloads(content)?;
    let chosen: Vec<Workload> = found
        .into_iter()
        .filter(|w| wanted.is_empty() || wanted.iter().any(|n| *n == w.id() || *n == w.name))
        .collect();
    let mut out = ManifestOutcome {
        after: String::with_capacity(content.len() + 512),
        onboarded: chosen.clone(),
        notes: Vec::new(),
        conflicts: Vec::new(),
        added: Vec::new(),
        apps: Vec::new(),
        carried: Vec::new(),
        own_configs: Vec::new(),
    };
    let mut written = 0;
    for (i, piece) in documents(content).iter().enumerate() {
        let mine: Vec<&Workload> = chosen.iter().filter(|w| w.doc == i).collect();
        // The text up to this document, `---` line included, as it was.
        out.after.push_str(&content[written..piece.start]);
        written = piece.start + piece.text.len();
        if mine.is_empty() {
            out.after.push_str(piece.text);
            continue;
        }
        let (text, doc) = parse_piece(piece)?;
        let mut editor = Editor::new(&text);
        for workload in mine {
            let none = crate::contract::FrameworkEnv::default();
            let more = extra
                .iter()
                .find(|(id, _)| *id == workload.id())
                .map_or(&none, |(_, env)| env);
            edit(
                &doc,
                &text,
                &mut editor,
                workload,
                collector,
                more,
                &mut out,
            )?;
        }
        if editor.is_empty() {
            out.after.push_str(piece.text);
            continue;
        }
        let (body, changes) = editor.finish();
        verify::compose(&doc, &changes, &body).map_err(Refusal::Internal)?;
        out.after.push_str(&text.with_bom(&body));
    }
    out.after.push_str(&content[written..]);
    Ok(out)
}

/// The document's own layout: its nesting step and how it indents sequences.
fn layout(text: &Text, root: &Node) -> Layout {
    let step = root
        .entries()
        .into_iter()
        .flatten()
        .find_map(|(k, v)| {
            let first = v.entries().filter(|_| !v.is_flow())?.first()?;
            (first.0.start.col > k.start.col).then(|| first.0.start.col - k.start.col)
        })
        .unwrap_or(2);
    let (seq_indent, dash_gap) = crate::compose::seq_style(text, root).unwrap_or((step, 1));
    Layout {
        step,
        seq_indent,
        dash_gap,
        eol: text.eol(),
    }
}

fn path_of(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|p| p.to_string()).collect()
}

fn unsupported(workload: &Workload, what: String, node: &Node) -> Refusal {
    Refusal::Unsupported {
        service: Some(workload.id()),
        what,
        line: node.start.line + 1,
    }
}

#[allow(clippy::too_many_arguments)]
fn edit(
    doc: &Document,
    text: &Text,
    editor: &mut Editor<'_>,
    workload: &Workload,
    collector: &str,
    extra: &crate::contract::FrameworkEnv,
    out: &mut ManifestOutcome,
) -> Result<(), Refusal> {
    let root = doc.root.as_ref().expect("a workload has a root");
    let lay = layout(text, root);
    let id = workload.id();
    let mut path: Vec<String> = Vec::new();
    let mut template = root;
    for key in template_path(&workload.kind).unwrap_or_default() {
        template = template.get(key).map(|n| doc.resolve(n)).ok_or_else(|| {
            unsupported(
                workload,
                format!(
                    "no pod template at {}",
                    path_of(template_path(&workload.kind).unwrap_or_default()).join(".")
                ),
                root,
            )
        })?;
        path.push(key.to_string());
    }
    if template.entries().is_none() {
        return Err(unsupported(
            workload,
            "the pod template is not a mapping".into(),
            template,
        ));
    }
    // The classic mistake: the annotations on the workload's own metadata, where the
    // injector never looks.
    let own = root.get("metadata").and_then(|m| m.get("annotations"));
    if own.is_some_and(|a| a.get("dapr.io/enabled").is_some()) {
        out.notes.push(Note {
            service: Some(id.clone()),
            message: format!(
                "dapr.io annotations on the {}'s own metadata do nothing: the sidecar injector \
                 reads the pod template's (spec.template.metadata), where obs-init puts them",
                workload.kind
            ),
            kind: NoteKind::Action,
        });
    }
    let pod_spec = template.get("spec").map(|n| doc.resolve(n));
    let containers = pod_spec
        .and_then(|s| s.get("containers"))
        .map(|n| doc.resolve(n));
    let Some(items) = containers.and_then(Node::items) else {
        return Err(unsupported(
            workload,
            "the pod template has no containers".into(),
            template,
        ));
    };
    // The app: the container named as the workload, else the only one, else the first.
    let index = items
        .iter()
        .position(|c| c.get("name").and_then(Node::as_str) == Some(workload.name.as_str()))
        .unwrap_or(0);
    if items.len() > 1 && items[index].get("name").and_then(Node::as_str) != Some(&workload.name) {
        out.notes.push(Note {
            service: Some(id.clone()),
            message: format!(
                "{} containers: the variables go to the first, `{}`",
                items.len(),
                items[index]
                    .get("name")
                    .and_then(Node::as_str)
                    .unwrap_or("?")
            ),
            kind: NoteKind::Decided,
        });
    }
    let container = doc.resolve(&items[index]);
    let ports: Vec<u16> = container
        .get("ports")
        .and_then(Node::items)
        .unwrap_or_default()
        .iter()
        .filter_map(|p| p.get("containerPort")?.as_str()?.parse().ok())
        .collect();
    // daprd runs until it is told to stop, and a Job's pod completes only when every
    // container has exited: with the sidecar, the Job would never complete (Dapr's docs,
    // "Running Dapr with a Kubernetes Job"). Its app exports to the collector itself.
    let runs_to_completion = is_run_to_completion(&workload.kind);
    let app_port = match ports.as_slice() {
        [one] => Some(*one),
        _ if runs_to_completion => None,
        _ => {
            out.notes.push(Note {
                service: Some(id.clone()),
                message: "no single container port: no dapr.io/app-port, so the sidecar will \
                          not call the app (add the annotation if it serves)"
                    .into(),
                kind: NoteKind::Info,
            });
            None
        }
    };
    let words = |key: &str| -> Vec<String> {
        container
            .get(key)
            .and_then(Node::items)
            .unwrap_or_default()
            .iter()
            .filter_map(|w| w.as_str().map(String::from))
            .collect()
    };
    let command = [words("command"), words("args")].concat();
    out.apps.push(App {
        workload: workload.clone(),
        image: container
            .get("image")
            .and_then(Node::as_str)
            .map(String::from),
        commands: if command.is_empty() {
            Vec::new()
        } else {
            vec![command.join(" ")]
        },
        environment: container
            .get("env")
            .and_then(Node::items)
            .unwrap_or_default()
            .iter()
            .filter_map(|e| {
                Some((
                    e.get("name")?.as_str()?.to_string(),
                    e.get("value")?.as_str()?.to_string(),
                ))
            })
            .collect(),
        port: app_port,
    });
    let mut added = Added {
        workload: workload.clone(),
        api_version: root
            .get("apiVersion")
            .and_then(Node::as_str)
            .unwrap_or_default()
            .to_string(),
        container: container
            .get("name")
            .and_then(Node::as_str)
            .map(String::from),
        annotations: Vec::new(),
        env: Vec::new(),
    };
    let wanted = annotations(&contract::app_id(&workload.name), app_port);
    if runs_to_completion {
        let has_sidecar = template
            .get("metadata")
            .and_then(|m| m.get("annotations"))
            .and_then(|a| a.get("dapr.io/enabled"))
            .and_then(Node::as_str)
            == Some("true");
        out.notes.push(Note {
            service: Some(id.clone()),
            message: if has_sidecar {
                format!(
                    "its pod has the Dapr sidecar, which runs until told to stop: the {} \
                     completes only if the app calls POST localhost:3500/v1.0/shutdown at the \
                     end (the variables are set; the annotations left as they are)",
                    workload.kind
                )
            } else {
                format!(
                    "no Dapr sidecar: a {}'s pod completes only when every container exits, \
                     and daprd runs until told to stop; the collector's variables are set, \
                     so the app's own traces, metrics and logs still reach the collector",
                    workload.kind
                )
            },
            kind: NoteKind::Decided,
        });
    } else {
        let (annotations, own_config) =
            annotate(doc, editor, template, &path, &wanted, &lay, &id, out)?;
        added.annotations = annotations;
        if let Some(name) = own_config {
            out.own_configs.push((workload.clone(), name));
        }
    }
    let vars = extra.apply(app_env(&workload.name, collector));
    let mut carried = carried(doc, template, container, &added, &wanted, &vars);
    let mut container_path = path.clone();
    container_path.extend([
        "spec".to_string(),
        "containers".to_string(),
        index.to_string(),
    ]);
    added.env = set_env(
        doc,
        editor,
        container,
        &container_path,
        &vars,
        workload.namespace.as_deref(),
        &lay,
        &id,
        out,
    )?;
    // A project's own resource attributes: the workload carries them (with the namespace
    // when it was added), not obs-init's variable for the namespace, which it never got.
    let own = container
        .get("env")
        .map(|e| doc.resolve(e))
        .and_then(Node::items)
        .unwrap_or_default()
        .iter()
        .any(|i| {
            i.get("name").and_then(Node::as_str) == Some(contract::RESOURCE_ATTRIBUTES)
                && i.get("value").and_then(Node::as_str).is_some()
        });
    if own {
        carried
            .env
            .retain(|(k, _)| k != contract::K8S_NAMESPACE_VAR);
        if let Some((_, merged)) = added
            .env
            .iter()
            .find(|(k, _)| k == contract::RESOURCE_ATTRIBUTES)
            && let Some(slot) = carried
                .env
                .iter_mut()
                .find(|(k, _)| k == contract::RESOURCE_ATTRIBUTES)
        {
            slot.1 = merged.clone();
        }
    }
    out.carried.push(carried);
    if !added.annotations.is_empty() || !added.env.is_empty() {
        out.added.push(added);
    }
    Ok(())
}

/// The onboarding the workload carries once onboarded: each annotation and variable with
/// the value the manifest already has, else obs-init's (no annotations for a pod that runs
/// to completion; a variable set from `valueFrom` is the project's, left out).
fn carried(
    doc: &Document,
    template: &Node,
    container: &Node,
    added: &Added,
    wanted: &[(String, String)],
    vars: &[(String, String)],
) -> Added {
    let have = template
        .get("metadata")
        .and_then(|m| m.get("annotations"))
        .map(|a| doc.resolve(a));
    let annotations = if is_run_to_completion(&added.workload.kind) {
        Vec::new()
    } else {
        wanted
            .iter()
            .map(|(k, v)| {
                let kept = have.and_then(|a| a.get(k)).and_then(Node::as_str);
                (k.clone(), kept.unwrap_or(v).to_string())
            })
            .collect()
    };
    let items = container
        .get("env")
        .map(|e| doc.resolve(e))
        .and_then(Node::items)
        .unwrap_or_default();
    let env = vars
        .iter()
        .filter_map(|(k, v)| {
            match items
                .iter()
                .find(|i| i.get("name").and_then(Node::as_str) == Some(k.as_str()))
            {
                Some(i) => Some((k.clone(), item_value(i)?.to_string())),
                None => Some((k.clone(), v.clone())),
            }
        })
        .collect();
    Added {
        annotations,
        env,
        ..added.clone()
    }
}

fn string_map(items: &[(String, String)]) -> NewNode {
    NewNode::Map(
        items
            .iter()
            .map(|(k, v)| (k.clone(), NewNode::DoubleQuoted(v.clone())))
            .collect(),
    )
}

/// The annotations added to a pod template, and the project's own Configuration its
/// `dapr.io/config` names, when it names one.
type Annotated = (Vec<(String, String)>, Option<String>);

#[allow(clippy::too_many_arguments)]
fn annotate(
    doc: &Document,
    editor: &mut Editor<'_>,
    template: &Node,
    path: &[String],
    wanted: &[(String, String)],
    lay: &Layout,
    id: &str,
    out: &mut ManifestOutcome,
) -> Result<Annotated, Refusal> {
    let Some((meta_key, meta)) = template.get_entry("metadata") else {
        editor.insert_entry(
            template,
            path,
            "metadata",
            NewNode::Map(vec![("annotations".into(), string_map(wanted))]),
            lay,
        );
        return Ok((wanted.to_vec(), None));
    };
    let meta_path = [path, &["metadata".to_string()]].concat();
    let meta = doc.resolve(meta);
    if meta.is_empty_null() {
        editor.set_empty(
            meta_key,
            path,
            "metadata",
            NewNode::Map(vec![("annotations".into(), string_map(wanted))]),
            lay,
        );
        return Ok((wanted.to_vec(), None));
    }
    let Some((ann_key, ann)) = meta.get_entry("annotations") else {
        editor.insert_entry(meta, &meta_path, "annotations", string_map(wanted), lay);
        return Ok((wanted.to_vec(), None));
    };
    let ann = doc.resolve(ann);
    if ann.is_empty_null() {
        editor.set_empty(ann_key, &meta_path, "annotations", string_map(wanted), lay);
        return Ok((wanted.to_vec(), None));
    }
    if !matches!(ann.kind, Kind::Map { .. }) {
        return Err(Refusal::Unsupported {
            service: Some(id.to_string()),
            what: format!("the pod template's annotations are a {}", ann.kind_name()),
            line: ann.start.line + 1,
        });
    }
    let ann_path = [meta_path, vec!["annotations".to_string()]].concat();
    // A pod the project already runs with Dapr keeps its own app id, port and configuration:
    // they are its choices, not values obs-init differs on.
    let annotated = ann
        .get("dapr.io/enabled")
        .map(|n| doc.resolve(n))
        .and_then(Node::as_str)
        == Some("true");
    let mut kept = Vec::new();
    let mut own_config = None;
    let mut added = Vec::new();
    for (k, v) in wanted {
        match ann.get(k).map(|n| doc.resolve(n)) {
            Some(have) if have.as_str() == Some(v.as_str()) => {}
            Some(have) if annotated => {
                let value = have.as_str().unwrap_or("?").to_string();
                if k == "dapr.io/config" {
                    own_config = Some(value.clone());
                }
                kept.push(format!("{k}: {value}"));
            }
            Some(have) => out.conflicts.push(Conflict {
                service: Some(id.to_string()),
                what: format!(
                    "{k} is {}, obs-init would set {v}",
                    have.as_str().unwrap_or("?")
                ),
                line: Some(have.start.line + 1),
            }),
            None => {
                editor.insert_entry(ann, &ann_path, k, NewNode::DoubleQuoted(v.clone()), lay);
                added.push((k.clone(), v.clone()));
            }
        }
    }
    if !kept.is_empty() {
        out.notes.push(Note {
            service: Some(id.to_string()),
            message: format!("already annotated for Dapr: its {} kept", kept.join(", ")),
            kind: NoteKind::Decided,
        });
    }
    Ok((added, own_config))
}

#[allow(clippy::too_many_arguments)]
fn set_env(
    doc: &Document,
    editor: &mut Editor<'_>,
    container: &Node,
    path: &[String],
    vars: &[(String, String)],
    namespace: Option<&str>,
    lay: &Layout,
    id: &str,
    out: &mut ManifestOutcome,
) -> Result<Vec<(String, String)>, Refusal> {
    let item = env_item;
    let Some((env_key, env)) = container.get_entry("env") else {
        editor.insert_entry(
            container,
            path,
            "env",
            NewNode::Seq(vars.iter().map(|(k, v)| item(k, v)).collect()),
            lay,
        );
        return Ok(vars.to_vec());
    };
    let env = doc.resolve(env);
    if env.is_empty_null() {
        editor.set_empty(
            env_key,
            path,
            "env",
            NewNode::Seq(vars.iter().map(|(k, v)| item(k, v)).collect()),
            lay,
        );
        return Ok(vars.to_vec());
    }
    let Some(items) = env.items() else {
        return Err(Refusal::Unsupported {
            service: Some(id.to_string()),
            what: format!("the container's env is a {}", env.kind_name()),
            line: env.start.line + 1,
        });
    };
    let env_path = [path, &["env".to_string()]].concat();
    let mut vars = vars.to_vec();
    let mut added = Vec::new();
    // Merged in place; a patch (which replaces the value by name) carries the whole.
    added.extend(merge_attributes(
        editor, items, &env_path, namespace, &mut vars, id, out,
    ));
    for (k, v) in &vars {
        let have = items
            .iter()
            .enumerate()
            .find(|(_, i)| i.get("name").and_then(Node::as_str) == Some(k.as_str()));
        let have = have.map(|(_, i)| i);
        match have {
            Some(i) if item_value(i) == Some(v.as_str()) => {}
            Some(i) => out.conflicts.push(Conflict {
                service: Some(id.to_string()),
                what: format!(
                    "{k} is {}, obs-init would set {v}",
                    i.get("value")
                        .and_then(Node::as_str)
                        .unwrap_or("(from valueFrom)")
                ),
                line: Some(i.start.line + 1),
            }),
            None => {
                editor.push_item(env, &env_path, item(k, v), lay);
                added.push((k.clone(), v.clone()));
            }
        }
    }
    Ok(added)
}

/// A project's own `OTEL_RESOURCE_ATTRIBUTES` stays, with the namespace added at its end
/// (taken out of `vars`); a namespace of its own wins. Its value comes before any variable
/// obs-init adds, so it cannot name [`contract::K8S_NAMESPACE_VAR`]: the manifest's own
/// namespace goes there, and without one a note says what to add. Gives the variable with
/// its new value when it added the namespace.
fn merge_attributes(
    editor: &mut Editor<'_>,
    items: &[Node],
    env_path: &[String],
    namespace: Option<&str>,
    vars: &mut Vec<(String, String)>,
    id: &str,
    out: &mut ManifestOutcome,
) -> Option<(String, String)> {
    let key = contract::RESOURCE_ATTRIBUTES;
    let (n, item, value) = items.iter().enumerate().find_map(|(n, i)| {
        (i.get("name").and_then(Node::as_str) == Some(key))
            .then(|| i.get("value").filter(|v| v.as_str().is_some()))
            .flatten()
            .map(|v| (n, i, v))
    })?;
    vars.retain(|(k, _)| k != key && k != contract::K8S_NAMESPACE_VAR);
    let own = value.as_str().unwrap_or_default();
    let line = value.start.line + 1;
    let Some(ns) = namespace else {
        if !contract::names_namespace(own) {
            out.notes.push(Note {
                service: Some(id.to_string()),
                message: format!(
                    "{key} (line {line}) is the project's own and the manifest names no \
                     namespace: for the platform to tell this namespace's {id} apart, add \
                     `,service.namespace=$({var})` at its end and, before it, the variable \
                     {var} from `valueFrom: {{fieldRef: {{fieldPath: {field}}}}}`",
                    var = contract::K8S_NAMESPACE_VAR,
                    field = contract::K8S_NAMESPACE_FIELD,
                ),
                kind: NoteKind::Action,
            });
        }
        return None;
    };
    let tail = contract::namespace_tail(own, ns)?;
    let item_path = [env_path.to_vec(), vec![n.to_string()]].concat();
    let slot = crate::yaml::splice::Slot::Key("value".into());
    let appended =
        editor.append_to_scalar(value, &item_path, (slot, "value"), &tail, item.is_flow());
    if let Err(why) = &appended {
        out.notes.push(Note {
            service: Some(id.to_string()),
            message: format!(
                "{key} (line {line}) is the project's own, and obs-init cannot add to it \
                 ({why}): add {tail} at its end, so that the platform tells this namespace's \
                 {id} apart"
            ),
            kind: NoteKind::Action,
        });
    }
    appended
        .ok()
        .map(|()| (key.to_string(), format!("{own}{tail}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEPLOYMENT: &str = "# The web tier.\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    metadata:\n      labels:\n        app: web\n    spec:\n      containers:\n      - name: web\n        image: web:1\n        ports:\n        - containerPort: 8080\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: web\n";

    #[test]
    fn the_pod_template_gets_the_annotations_and_the_container_the_variables() {
        let out =
            onboard(DEPLOYMENT, &[], super::super::CLUSTER_COLLECTOR_ADDRESS).expect("onboards");
        let after = &out.after;
        assert!(
            after.contains("      labels:\n        app: web\n      annotations:\n        dapr.io/enabled: \"true\"\n        dapr.io/app-id: \"web\"\n        dapr.io/app-port: \"8080\"\n"),
            "{after}"
        );
        assert!(
            after.contains("        - containerPort: 8080\n        env:\n        - name: OTEL_COLLECTOR_ENDPOINT\n          value: \"otel-collector.observability.svc.cluster.local:4317\"\n"),
            "{after}"
        );
        // The Service document and the comment stay byte for byte.
        assert!(
            after.starts_with("# The web tier.\n")
                && after.ends_with("---\napiVersion: v1\nkind: Service\nmetadata:\n  name: web\n")
        );
        // Idempotent.
        let again = onboard(after, &[], super::super::CLUSTER_COLLECTOR_ADDRESS).expect("again");
        assert_eq!(&again.after, after);
        assert!(again.conflicts.is_empty());
    }
}
