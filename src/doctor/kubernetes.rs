//! `obs-init doctor` on Kubernetes manifests: the mistakes that keep a pod's telemetry from
//! arriving, whoever wrote the manifests. Each finding names the file, the line and the fix.

use std::path::{Path, PathBuf};

use super::finding::{Finding, Severity};
use crate::kubernetes::kustomize::{Kustomization, PATCH_FILE, Project};
use crate::kubernetes::onboard::Added;
use crate::kubernetes::{Workload, documents, parse_piece, render, survives, template_path};
use crate::paths::{absolute, display};
use crate::yaml::doc::{Document, Node};
use crate::yaml::model::{Data, Value};

/// One workload or Configuration as the manifests have it, with where it is.
struct Seen {
    path: PathBuf,
    file: String,
    /// Lines before the document in its file.
    offset: usize,
    text: String,
    doc: Document,
}

impl Seen {
    fn root(&self) -> Option<&Node> {
        self.doc.root.as_ref()
    }

    fn line(&self, node: &Node) -> Option<usize> {
        Some(self.offset + node.start.line + 1)
    }
}

/// The findings for the manifests below `dir` (patches and templated files are not read;
/// the compose project's dapr-config.yml is doctor's own check).
pub fn diagnose(dir: &Path) -> Vec<Finding> {
    let project = Project::scan(dir).unwrap_or_default();
    let compose_config = crate::contract::default_dapr_config(dir);
    let files = crate::detect::find_files_where(dir, |n| {
        (n.ends_with(".yaml") || n.ends_with(".yml")) && !n.starts_with("kustomization.")
    });
    let mut seen = Vec::new();
    for path in files
        .iter()
        .filter(|f| !project.is_not_resource(f) && **f != compose_config)
    {
        let Ok(content) = std::fs::read_to_string(path) else {
            continue;
        };
        for piece in documents(&content) {
            if let Ok((_, doc)) = parse_piece(&piece) {
                seen.push(Seen {
                    path: path.clone(),
                    file: display(dir, path),
                    offset: piece.lines_before,
                    text: piece.text.to_string(),
                    doc,
                });
            }
        }
    }
    let configurations: Vec<(String, Option<String>)> = seen
        .iter()
        .filter_map(|s| {
            let root = s.root()?;
            (root.get("kind")?.as_str()? == "Configuration").then_some(())?;
            let meta = root.get("metadata")?;
            Some((
                meta.get("name")?.as_str()?.to_string(),
                meta.get("namespace")
                    .and_then(Node::as_str)
                    .map(String::from),
            ))
        })
        .collect();
    let mut out = Vec::new();
    for s in &seen {
        let Some(root) = s.root() else { continue };
        let kind = root.get("kind").and_then(Node::as_str).unwrap_or_default();
        if kind == "Configuration" {
            check_configuration(s, &mut out);
        } else if let Some(path) = template_path(kind) {
            check_workload(s, root, kind, path, &configurations, &project, &mut out);
        }
    }
    check_builds(dir, &project, &seen, &mut out);
    out
}

/// What the manifests' onboarded workloads carry (the `dapr.io` annotations of a pod
/// template that enables the sidecar, the collector's variables of a container): what every
/// overlay's build must keep.
fn onboarded(seen: &[Seen]) -> Vec<(PathBuf, Added)> {
    let mut out = Vec::new();
    for s in seen {
        let Some(root) = s.root() else { continue };
        let kind = root.get("kind").and_then(Node::as_str).unwrap_or_default();
        let Some(path) = template_path(kind) else {
            continue;
        };
        let meta = root.get("metadata");
        let text = |n: Option<&Node>| n.and_then(Node::as_str).map(String::from);
        let template = path.iter().try_fold(root, |n, k| n.get(k));
        let annotations: Vec<(String, String)> = crate::kubernetes::template_annotations(template)
            .into_iter()
            .filter(|(k, _)| k.starts_with("dapr.io/"))
            .collect();
        let enabled = annotations
            .iter()
            .any(|(k, v)| k == "dapr.io/enabled" && v == "true");
        let containers = template
            .and_then(|t| t.get("spec"))
            .and_then(|p| p.get("containers"))
            .and_then(Node::items)
            .unwrap_or_default();
        let collector = |c: &Node| -> Vec<(String, String)> {
            c.get("env")
                .and_then(Node::items)
                .unwrap_or_default()
                .iter()
                .filter_map(|e| e.get("name").and_then(Node::as_str))
                .filter(|n| COLLECTOR_VARIABLES.contains(n))
                .map(|n| (n.to_string(), String::new()))
                .collect()
        };
        let app = containers.iter().find(|c| !collector(c).is_empty());
        if !enabled && app.is_none() {
            continue;
        }
        out.push((
            s.path.clone(),
            Added {
                workload: Workload {
                    doc: 0,
                    kind: kind.to_string(),
                    name: text(meta.and_then(|m| m.get("name"))).unwrap_or_default(),
                    namespace: text(meta.and_then(|m| m.get("namespace"))),
                    line: s.offset + 1,
                },
                api_version: String::new(),
                container: app.and_then(|c| text(c.get("name"))),
                annotations: if enabled { annotations } else { Vec::new() },
                env: app.map(collector).unwrap_or_default(),
            },
        ));
    }
    out
}

/// What obs-init's overlay patches give the workloads of their overlay's build, by the
/// manifest of each workload patched: onboarding that lives in a patch, not in the manifest.
fn patched(project: &Project) -> Vec<(PathBuf, Added)> {
    let mut out = Vec::new();
    for k in &project.all {
        let file = k.folder().join(PATCH_FILE);
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let seen: Vec<Seen> = documents(&text)
            .iter()
            .filter_map(|piece| {
                let (_, doc) = parse_piece(piece).ok()?;
                Some(Seen {
                    path: file.clone(),
                    file: String::new(),
                    offset: piece.lines_before,
                    text: piece.text.to_string(),
                    doc,
                })
            })
            .collect();
        let built: Vec<PathBuf> = project
            .files_built_by(k)
            .into_iter()
            .map(|(f, _)| f)
            .collect();
        for (_, added) in onboarded(&seen) {
            // The manifest that holds the workload the patch targets.
            let target = built.iter().find(|f| {
                std::fs::read_to_string(f)
                    .ok()
                    .and_then(|t| crate::kubernetes::workloads(&t).ok())
                    .is_some_and(|ws| ws.iter().any(|w| w.id() == added.workload.id()))
            });
            if let Some(f) = target {
                out.push((f.clone(), added));
            }
        }
    }
    out
}

const COLLECTOR_VARIABLES: [&str; 2] = ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_COLLECTOR_ENDPOINT"];

/// What each applied kustomization builds of the onboarded workloads: kustomize's build
/// where it is installed, else obs-init's model of the patches between.
fn check_builds(dir: &Path, project: &Project, seen: &[Seen], out: &mut Vec<Finding>) {
    let mut expected = onboarded(seen);
    for (file, added) in patched(project) {
        if !expected
            .iter()
            .any(|(f, a)| *f == file && a.workload.id() == added.workload.id())
        {
            expected.push((file, added));
        }
    }
    let tops: Vec<&Kustomization> = project
        .all
        .iter()
        .filter(|k| project.is_leaf(k))
        .filter(|k| {
            let built: Vec<PathBuf> = project
                .files_built_by(k)
                .iter()
                .map(|(f, _)| absolute(f))
                .collect();
            expected.iter().any(|(f, _)| built.contains(&absolute(f)))
        })
        .collect();
    if tops.is_empty() {
        return;
    }
    let tool = render::tool();
    let folders: Vec<PathBuf> = tops.iter().map(|k| k.folder().to_path_buf()).collect();
    let builds: Vec<Option<Result<render::Built, String>>> = match &tool {
        Some(tool) => render::build_changed(tool, dir, &[], &folders)
            .into_iter()
            .map(Some)
            .collect(),
        None => {
            out.push(Finding {
                severity: Severity::Warning,
                file: display(dir, &tops[0].path),
                line: None,
                message: "overlays not built: neither kustomize nor kubectl is on PATH; judged \
                          by obs-init's model of their patches (JSON 6902 add/replace/remove, \
                          strategic merge $patch: replace/delete)"
                    .into(),
                fix: "install kubectl (its `kubectl kustomize`) or kustomize, and run doctor \
                      again"
                    .into(),
            });
            tops.iter().map(|_| None).collect()
        }
    };
    for (top, built) in tops.iter().zip(builds) {
        let modelled = survives::model(project, top, &expected, &[]);
        let gaps = match built {
            Some(Ok(built)) => {
                let mut gaps = survives::judge(&built, &expected);
                survives::blame(&mut gaps, &modelled);
                gaps
            }
            Some(Err(e)) => {
                out.push(Finding {
                    severity: Severity::Warning,
                    file: display(dir, &top.path),
                    line: None,
                    message: format!(
                        "{} does not build ({}: {e}): judged by obs-init's model of its patches",
                        display(dir, top.folder()),
                        tool.as_ref().map_or("", |t| t.command())
                    ),
                    fix: "fix the kustomization so that it builds".into(),
                });
                modelled
            }
            None => modelled,
        };
        for g in gaps {
            let configuration = matches!(g.lost, survives::Lost::Configuration { .. });
            out.push(Finding {
                severity: Severity::Error,
                file: g
                    .by
                    .as_ref()
                    .map_or(display(dir, &top.path), |b| display(dir, &b.file)),
                line: g.by.as_ref().map(|b| b.line),
                message: format!(
                    "{}: what kustomize builds there loses {} of {}{}",
                    display(dir, top.folder()),
                    g.what(),
                    g.workload,
                    g.by.as_ref()
                        .map(|b| format!(" ({})", b.how))
                        .unwrap_or_default()
                ),
                fix: if configuration {
                    format!(
                        "put the Configuration in the pods' namespace: obs-init kubernetes \
                         --patch-overlay {}",
                        display(dir, top.folder())
                    )
                } else if g.by.as_ref().is_some_and(|b| b.transformer) {
                    "a transformer runs after every patch, so no patch can put it back: make it \
                     add its keys instead of replacing the map or list (in a JSON patch, `add \
                     /spec/template/metadata/annotations/<key>`, `/` written `~1`)"
                        .into()
                } else {
                    "run `obs-init kubernetes`, which puts it back with a patch listed last in \
                     the overlay (or make the patch add its keys instead of replacing the map)"
                        .into()
                },
            });
        }
    }
}

fn check_configuration(s: &Seen, out: &mut Vec<Finding>) {
    let is_dapr = s
        .root()
        .and_then(|r| r.get("apiVersion"))
        .and_then(Node::as_str)
        .is_some_and(|v| v.starts_with("dapr.io/"));
    // The spec is the one dapr-config.yml has, so the same rules hold.
    if is_dapr && let Err(problem) = crate::dapr::check_config(&s.text) {
        out.push(Finding {
            severity: Severity::Error,
            file: s.file.clone(),
            line: Some(s.offset + 1),
            message: format!("the Dapr Configuration: {problem}"),
            fix: "run `obs-init kubernetes` to write a working one (or --remove first if it \
                  is obs-init's)"
                .into(),
        });
    }
}

fn check_workload(
    s: &Seen,
    root: &Node,
    kind: &str,
    path: &[&str],
    configurations: &[(String, Option<String>)],
    project: &Project,
    out: &mut Vec<Finding>,
) {
    let name = root
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Node::as_str)
        .unwrap_or("?");
    let namespace = root
        .get("metadata")
        .and_then(|m| m.get("namespace"))
        .and_then(Node::as_str);
    let id = format!("{kind}/{name}");
    let template = path
        .iter()
        .try_fold(root, |n, k| n.get(k).map(|v| s.doc.resolve(v)));
    let pod_annotations = template
        .and_then(|t| t.get("metadata"))
        .and_then(|m| m.get("annotations"))
        .map(|a| s.doc.resolve(a));
    let own = root
        .get("metadata")
        .and_then(|m| m.get("annotations"))
        .map(|a| s.doc.resolve(a));
    // The classic mistake: on the workload's own metadata the injector never sees them.
    if let Some((key, _)) = own
        .and_then(Node::entries)
        .unwrap_or_default()
        .iter()
        .find(|(k, _)| k.as_str().is_some_and(|k| k.starts_with("dapr.io/")))
    {
        let injected = pod_annotations
            .and_then(|a| a.get("dapr.io/enabled"))
            .is_some();
        out.push(Finding {
            severity: if injected {
                Severity::Warning
            } else {
                Severity::Error
            },
            file: s.file.clone(),
            line: s.line(key),
            message: format!(
                "{id}: dapr.io annotations on the {kind}'s own metadata do nothing: the \
                 sidecar injector reads the pod template's{}",
                if injected {
                    ""
                } else {
                    ", so no sidecar is injected"
                }
            ),
            fix: format!(
                "move them to {}.metadata.annotations (or run `obs-init kubernetes`)",
                path.join(".")
            ),
        });
    }
    let Some(annotations) = pod_annotations.and_then(Node::entries) else {
        return;
    };
    // Kubernetes' schema takes annotation values as strings only: `true` or `3000` unquoted
    // and the object is refused (kubernetes-validate says so too).
    for (k, v) in annotations {
        let Some(key) = k.as_str().filter(|k| k.starts_with("dapr.io/")) else {
            continue;
        };
        let data = Value::from_node(s.doc.resolve(v)).data;
        if !matches!(data, Data::Str(_)) {
            out.push(Finding {
                severity: Severity::Error,
                file: s.file.clone(),
                line: s.line(v),
                message: format!(
                    "{id}: {key} is not a string, and annotation values must be: \
                     Kubernetes refuses the object"
                ),
                fix: format!(
                    "quote the value: {key}: \"{}\"",
                    v.as_str().unwrap_or_default()
                ),
            });
        }
    }
    let value = |key: &str| {
        annotations
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
    };
    if value("dapr.io/enabled").and_then(Node::as_str) != Some("true") {
        return;
    }
    if crate::kubernetes::onboard::is_run_to_completion(kind)
        && let Some(enabled) = value("dapr.io/enabled")
    {
        out.push(Finding {
            severity: Severity::Warning,
            file: s.file.clone(),
            line: s.line(enabled),
            message: format!(
                "{id}: the Dapr sidecar runs until told to stop, so the {kind}'s pod does not \
                 complete unless the app calls POST localhost:3500/v1.0/shutdown at the end"
            ),
            fix: "have the app call the shutdown API when it is done, or drop the sidecar (the \
                  app's SDK exports to the collector without it)"
                .into(),
        });
    }
    // A kustomization may set the namespace for the manifests it lists.
    let folder = s.path.parent().unwrap_or(Path::new("."));
    let namespace = namespace
        .map(String::from)
        .or_else(|| project.at(folder).and_then(|k| k.namespace.clone()));
    match value("dapr.io/config") {
        None => out.push(Finding {
            severity: Severity::Warning,
            file: s.file.clone(),
            line: s.line(&annotations[0].0),
            message: format!(
                "{id}: the sidecar has no dapr.io/config: Dapr runs with its defaults, which \
                 send no traces to the collector"
            ),
            fix: format!(
                "add dapr.io/config: \"{}\" with its Configuration (obs-init kubernetes)",
                crate::kubernetes::CONFIG_NAME
            ),
        }),
        Some(v) => {
            let wanted = v.as_str().unwrap_or_default();
            let found = configurations.iter().any(|(n, ns)| {
                n == wanted && (ns.is_none() || namespace.is_none() || *ns == namespace)
            });
            if !found {
                out.push(Finding {
                    severity: Severity::Warning,
                    file: s.file.clone(),
                    line: s.line(v),
                    message: format!(
                        "{id}: dapr.io/config names `{wanted}`, and no Configuration of that \
                         name is in these manifests{}",
                        namespace
                            .as_deref()
                            .map(|n| format!(" (namespace {n})"))
                            .unwrap_or_default()
                    ),
                    fix: "apply the Configuration in the pod's namespace, or run `obs-init \
                          kubernetes` to write it beside the manifests"
                        .into(),
                });
            }
        }
    }
    let containers = template
        .and_then(|t| t.get("spec"))
        .and_then(|p| p.get("containers"))
        .and_then(Node::items)
        .unwrap_or_default();
    let exports = containers.iter().any(|c| {
        c.get("env")
            .and_then(Node::items)
            .unwrap_or_default()
            .iter()
            .any(|e| {
                matches!(
                    e.get("name").and_then(Node::as_str),
                    Some("OTEL_EXPORTER_OTLP_ENDPOINT" | "OTEL_COLLECTOR_ENDPOINT")
                )
            })
    });
    if !exports && let Some(first) = containers.first() {
        out.push(Finding {
            severity: Severity::Warning,
            file: s.file.clone(),
            line: s.line(first),
            message: format!(
                "{id}: the sidecar is injected, but no container has \
                 OTEL_EXPORTER_OTLP_ENDPOINT: the app's own spans and logs go nowhere"
            ),
            fix: "run `obs-init kubernetes`, which sets it to the platform collector".into(),
        });
    }
}
