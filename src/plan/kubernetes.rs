//! The plan for `obs-init kubernetes`: the manifests' workloads onboarded, a Dapr
//! `Configuration` beside them (in each workload's namespace) added to the folder's
//! kustomization, and the record of it all, so that `--remove` gives every byte back.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{FileChange, Plan, Status, display, generated_change, read_text};
use crate::answers::{self, Answers};
use crate::compose::{Note, NoteKind};
use crate::conflict::FileConflict;
use crate::error::{ComposeError, Error};
use crate::kubernetes::{CONFIG_FILE, CONFIG_NAME, onboard};
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

pub fn plan_kubernetes(opts: &KubernetesOptions) -> Result<Plan, Error> {
    let named = !opts.files.is_empty();
    let files: Vec<PathBuf> = if named {
        opts.files.iter().map(|f| opts.dir.join(f)).collect()
    } else {
        crate::detect::find_files_where(&opts.dir, is_manifest_name)
    };
    let mut plan = Plan::empty(opts.dir.clone());
    // The namespaces onboarded workloads run in, by the folder of their manifest.
    let mut folders: BTreeMap<PathBuf, Vec<Option<String>>> = BTreeMap::new();
    let mut needers: Vec<(PathBuf, Vec<String>)> = Vec::new();
    for path in &files {
        let content = read_text(path)?;
        let shown = display(&opts.dir, path);
        let in_file = |source| Error::Compose {
            path: path.clone(),
            source,
        };
        let out = match onboard::onboard(&content, &opts.workloads, &opts.collector) {
            Ok(out) => out,
            // A file found by the search that is not a manifest obs-init can read is noted;
            // one the user named is an error.
            Err(e) if !named && !matches!(e, ComposeError::Internal(_)) => {
                if content.contains("kind:") {
                    plan.notes.push(Note {
                        service: None,
                        message: format!("{shown} not onboarded: {e}"),
                        kind: NoteKind::Info,
                    });
                }
                continue;
            }
            Err(e) => return Err(in_file(e)),
        };
        if out.onboarded.is_empty() {
            continue;
        }
        for c in out.conflicts {
            plan.conflicts.push(FileConflict {
                file: shown.clone(),
                conflict: c,
            });
        }
        plan.notes.extend(out.notes);
        let folder = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        let spaces = folders.entry(folder.clone()).or_default();
        let mut who = Vec::new();
        for w in &out.onboarded {
            if !spaces.contains(&w.namespace) {
                spaces.push(w.namespace.clone());
            }
            who.push(needer(&shown, &w.id()));
            plan.services.push(w.id());
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
    // Every workload asked for must be there: a typo is not a smaller onboarding.
    let missing: Vec<String> = opts
        .workloads
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
            dir: opts.dir.clone(),
            named: if plan.services.is_empty() {
                opts.workloads.clone()
            } else {
                missing
            },
        });
    }
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
        if let Some(kustomization) = kustomization(folder) {
            let before = read_text(&kustomization)?;
            let after = with_resource(&before, CONFIG_FILE).map_err(|source| Error::Compose {
                path: kustomization.clone(),
                source,
            })?;
            needers.push((kustomization.clone(), who));
            plan.push(FileChange {
                display: display(&opts.dir, &kustomization),
                status: if after == before {
                    Status::Unchanged
                } else {
                    Status::Update
                },
                path: kustomization,
                before: Some(before),
                after,
            });
        }
    }
    record_plan(&opts.dir, &mut plan, &needers)?;
    plan.next_steps.push(format!(
        "install the Dapr control plane and the platform (obs-init platform --target \
         kubernetes), then apply: kubectl apply {}",
        folders
            .keys()
            .map(|f| {
                let shown = display(&opts.dir, f);
                if kustomization(f).is_some() {
                    format!("-k {shown}")
                } else {
                    format!("-f {shown}")
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    ));
    Ok(plan)
}

/// The folder's kustomization file, when it has one.
fn kustomization(folder: &Path) -> Option<PathBuf> {
    ["kustomization.yaml", "kustomization.yml", "Kustomization"]
        .iter()
        .map(|n| folder.join(n))
        .find(|p| p.is_file())
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

/// The kustomization with `file` among its `resources` (added last, or as a new list).
fn with_resource(content: &str, file: &str) -> Result<String, ComposeError> {
    let (text, doc) = crate::compose::parse(content)?;
    let Some(root) = doc.root.as_ref().filter(|r| r.entries().is_some()) else {
        return Err(ComposeError::Empty);
    };
    let lay = Layout {
        step: 2,
        seq_indent: crate::compose::seq_style(&text, root).map_or(0, |(i, _)| i),
        dash_gap: 1,
        eol: text.eol(),
    };
    let mut editor = Editor::new(&text);
    match root.get_entry("resources") {
        None => editor.insert_entry(
            root,
            &[],
            "resources",
            NewNode::Seq(vec![NewNode::str(file)]),
            &lay,
        ),
        Some((key, list)) if list.is_empty_null() => editor.set_empty(
            key,
            &[],
            "resources",
            NewNode::Seq(vec![NewNode::str(file)]),
            &lay,
        ),
        Some((_, list)) => {
            let items = list.items().ok_or_else(|| ComposeError::Unsupported {
                service: None,
                what: "`resources` is not a list".into(),
                line: list.start.line + 1,
            })?;
            if items.iter().any(|i| i.as_str() == Some(file)) {
                return Ok(content.to_string());
            }
            editor.push_item(list, &["resources".to_string()], NewNode::str(file), &lay);
        }
    }
    let (body, changes) = editor.finish();
    crate::yaml::verify::compose(&doc, &changes, &body).map_err(ComposeError::Internal)?;
    Ok(text.with_bom(&body))
}

/// The answers file with the record of every file the plan changes, for `--remove`.
fn record_plan(
    dir: &Path,
    plan: &mut Plan,
    needers: &[(PathBuf, Vec<String>)],
) -> Result<(), Error> {
    let (mut saved, answers_text) = match super::read_answers(dir)? {
        Some((saved, text)) => (saved, Some(text)),
        None => (Answers::default(), None),
    };
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
    let req = super::remove::RemoveRequest {
        dir: dir.to_path_buf(),
        file: None,
        services: Vec::new(),
        dapr_config: None,
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
            super::remove::undo_file(&req, &mut plan, file)?;
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
