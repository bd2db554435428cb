//! Whether each onboarded workload still carries its onboarding in what a kustomization
//! builds: the Dapr annotations on its pod template, a `dapr.io/config` naming a
//! Configuration the build has in the pod's namespace, the collector's variables on its app
//! container. Judged on kustomize's build where it is installed, else on obs-init's model of
//! the patches between the manifest and the overlay.

use std::path::{Path, PathBuf};

use super::erasers::{self, Erased, Eraser};
use super::kustomize::{Kustomization, Project};
use super::onboard::Added;
use super::render::{Built, Pod};
use crate::paths::absolute;

/// What an onboarded workload lost in a build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lost {
    Erased(Erased),
    /// `dapr.io/config` names this Configuration, which the build lacks in the namespace.
    Configuration {
        name: String,
        namespace: Option<String>,
    },
}

/// One onboarded workload's loss in one overlay's build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gap {
    /// The workload as its manifest names it (`Deployment/web`).
    pub workload: String,
    /// Its manifest.
    pub file: PathBuf,
    pub lost: Lost,
    /// The patch that erases it, where obs-init's model finds one.
    pub by: Option<Eraser>,
}

impl Gap {
    pub fn what(&self) -> String {
        match &self.lost {
            Lost::Erased(e) => e.what().to_string(),
            Lost::Configuration { name, namespace } => format!(
                "the {name} Configuration its dapr.io/config names{}",
                namespace
                    .as_deref()
                    .map(|n| format!(" (namespace {n})"))
                    .unwrap_or_default()
            ),
        }
    }
}

/// The onboarded workloads' losses in `built`, each workload given with its manifest and
/// what it carries once onboarded.
pub fn judge(built: &Built, expected: &[(PathBuf, Added)]) -> Vec<Gap> {
    let mut out = Vec::new();
    for pod in &built.pods {
        let Some((file, added)) = owner(pod, expected) else {
            continue;
        };
        let mut lose = |lost: Lost| {
            let gap = Gap {
                workload: added.workload.id(),
                file: file.clone(),
                lost,
                by: None,
            };
            if !out.contains(&gap) {
                out.push(gap);
            }
        };
        if !added.annotations.is_empty() {
            let get = |k: &str| {
                pod.annotations
                    .iter()
                    .find(|(n, _)| n == k)
                    .map(|(_, v)| v.as_str())
            };
            match (get("dapr.io/enabled"), get("dapr.io/config")) {
                (Some("true"), Some(config)) => {
                    let there = built
                        .configurations
                        .iter()
                        .any(|(n, ns)| n == config && *ns == pod.namespace);
                    if !there {
                        lose(Lost::Configuration {
                            name: config.to_string(),
                            namespace: pod.namespace.clone(),
                        });
                    }
                }
                _ => lose(Lost::Erased(Erased::Annotations)),
            }
        }
        let app = pod
            .containers
            .iter()
            .find(|(n, _)| Some(n) == added.container.as_ref())
            .or(pod.containers.first());
        let has_env =
            app.is_some_and(|(_, env)| added.env.iter().all(|(k, _)| env.iter().any(|e| e == k)));
        if !added.env.is_empty() && !has_env {
            lose(Lost::Erased(Erased::Env));
        }
    }
    out
}

/// The onboarded workload a built pod comes from: same manifest and kind, and the longest
/// name its built name holds (a prefix or suffix may have been added) among the manifest's
/// workloads, onboarded or not (`web-worker` is not `web`).
fn owner<'a>(pod: &Pod, expected: &'a [(PathBuf, Added)]) -> Option<&'a (PathBuf, Added)> {
    let origin = absolute(pod.origin.as_ref()?);
    let mine = |f: &PathBuf, a: &Added| absolute(f) == origin && a.workload.kind == pod.kind;
    let on_disk: Vec<String> = std::fs::read_to_string(&origin)
        .ok()
        .and_then(|t| super::workloads(&t).ok())
        .unwrap_or_default()
        .into_iter()
        .filter(|w| w.kind == pod.kind)
        .map(|w| w.name)
        .collect();
    let names = expected
        .iter()
        .filter(|(f, a)| mine(f, a))
        .map(|(_, a)| a.workload.name.clone())
        .chain(on_disk);
    let name = names
        .filter(|n| pod.name.contains(n.as_str()))
        .max_by_key(String::len)?;
    expected
        .iter()
        .find(|(f, a)| mine(f, a) && a.workload.name == name)
}

/// The losses obs-init's model of the patches predicts when `top` is built: the patches
/// between each onboarded manifest and `top` that erase what its workloads carry, unless a
/// patch of obs-init's comes after them (in the project, or planned in the `patched`
/// folders).
pub fn model(
    project: &Project,
    top: &Kustomization,
    expected: &[(PathBuf, Added)],
    patched: &[PathBuf],
) -> Vec<Gap> {
    let built: Vec<PathBuf> = project
        .files_built_by(top)
        .into_iter()
        .map(|(f, _)| absolute(&f))
        .collect();
    let mut out = Vec::new();
    for (file, added) in expected {
        if !built.contains(&absolute(file)) {
            continue;
        }
        let folder = file.parent().unwrap_or(Path::new("."));
        for e in erasers::between(project, top, folder, patched) {
            let w = &added.workload;
            let carries = match e.erased {
                Erased::Annotations => !added.annotations.is_empty(),
                Erased::Env => !added.env.is_empty(),
            };
            if !carries || !e.reaches(&w.kind, &w.name) {
                continue;
            }
            let gap = Gap {
                workload: w.id(),
                file: file.clone(),
                lost: Lost::Erased(e.erased),
                by: Some(e),
            };
            if !out
                .iter()
                .any(|g: &Gap| g.workload == gap.workload && g.lost == gap.lost)
            {
                out.push(gap);
            }
        }
    }
    out
}

/// Names, for each gap found in a build, the patch the model blames.
pub fn blame(gaps: &mut [Gap], modelled: &[Gap]) {
    for g in gaps.iter_mut() {
        g.by = modelled
            .iter()
            .find(|m| m.workload == g.workload && m.lost == g.lost)
            .and_then(|m| m.by.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kubernetes::Workload;

    fn onboarded(file: &Path, name: &str) -> (PathBuf, Added) {
        (
            file.to_path_buf(),
            Added {
                workload: Workload {
                    doc: 0,
                    kind: "Deployment".into(),
                    name: name.into(),
                    namespace: None,
                    line: 2,
                },
                api_version: "apps/v1".into(),
                container: Some(name.into()),
                annotations: vec![
                    ("dapr.io/enabled".into(), "true".into()),
                    ("dapr.io/config".into(), "dapr-config".into()),
                ],
                env: vec![("OTEL_EXPORTER_OTLP_ENDPOINT".into(), "http://c:4317".into())],
            },
        )
    }

    fn pod(file: &Path, name: &str, annotations: &[(&str, &str)], env: &[&str]) -> Pod {
        Pod {
            kind: "Deployment".into(),
            name: name.into(),
            namespace: Some("prod".into()),
            origin: Some(file.to_path_buf()),
            annotations: annotations
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            containers: vec![("web".into(), env.iter().map(|e| e.to_string()).collect())],
        }
    }

    #[test]
    fn a_built_pod_loses_what_its_build_lacks_and_its_configuration_must_share_its_namespace() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("web.yaml");
        std::fs::write(
            &file,
            "kind: Deployment\nmetadata: {name: web}\n---\nkind: Deployment\nmetadata: {name: \
             web-worker}\n",
        )
        .expect("write");
        let expected = vec![onboarded(&file, "web"), onboarded(&file, "web-worker")];
        let dapr = [
            ("dapr.io/enabled", "true"),
            ("dapr.io/config", "dapr-config"),
        ];
        let built = Built {
            pods: vec![
                // Renamed by a prefix, still the base's `web`; the Configuration is elsewhere.
                pod(&file, "prod-web", &dapr, &["OTEL_EXPORTER_OTLP_ENDPOINT"]),
                // The longest name it holds is its own: `web-worker`, not `web`.
                pod(
                    &file,
                    "prod-web-worker",
                    &[("proxy.istio.io/config", "{}")],
                    &[],
                ),
            ],
            configurations: vec![("dapr-config".into(), Some("dev".into()))],
        };
        let gaps = judge(&built, &expected);
        let got: Vec<(&str, &Lost)> = gaps
            .iter()
            .map(|g| (g.workload.as_str(), &g.lost))
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "Deployment/web",
                    &Lost::Configuration {
                        name: "dapr-config".into(),
                        namespace: Some("prod".into())
                    }
                ),
                ("Deployment/web-worker", &Lost::Erased(Erased::Annotations)),
                ("Deployment/web-worker", &Lost::Erased(Erased::Env)),
            ]
        );
        let there = Built {
            configurations: vec![("dapr-config".into(), Some("prod".into()))],
            ..built
        };
        assert_eq!(judge(&there, &expected[..1]), Vec::new());
    }
}
