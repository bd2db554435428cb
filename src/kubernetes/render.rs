//! What the cluster receives from a kustomization: kustomize's own build of it (`kustomize
//! build`, else `kubectl kustomize`), each workload traced back to the manifest it came
//! from. The build runs on a copy of the project with the planned changes written, so a plan
//! is judged before anything is written.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::yaml::doc::Node;

/// The program that builds kustomizations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tool {
    /// `kustomize build DIR`.
    Kustomize(PathBuf),
    /// `kubectl kustomize DIR` (kustomize built in since kubectl 1.14, v4+ since 1.21).
    Kubectl(PathBuf),
}

impl Tool {
    /// How it is named in messages.
    pub fn command(&self) -> &'static str {
        match self {
            Tool::Kustomize(_) => "kustomize build",
            Tool::Kubectl(_) => "kubectl kustomize",
        }
    }
}

/// The kustomize on `PATH`, else kubectl's.
pub fn tool() -> Option<Tool> {
    let find = |name: &str| {
        std::env::var_os("PATH")
            .into_iter()
            .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    };
    find("kustomize")
        .map(Tool::Kustomize)
        .or_else(|| find("kubectl").map(Tool::Kubectl))
}

/// A pod template in the build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pod {
    pub kind: String,
    /// Its name after the build's prefixes and suffixes.
    pub name: String,
    pub namespace: Option<String>,
    /// The manifest it came from (`None`: a generator's, or a remote base's).
    pub origin: Option<PathBuf>,
    pub annotations: Vec<(String, String)>,
    /// Each container's name and the names of its `env` entries.
    pub containers: Vec<(String, Vec<String>)>,
}

/// What a kustomization builds, as far as onboarding is judged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Built {
    pub pods: Vec<Pod>,
    /// The Dapr Configurations: name and namespace.
    pub configurations: Vec<(String, Option<String>)>,
}

/// Builds each of `tops` (kustomization folders below `dir`) as it would be with `changes`
/// made (a file's new text, or `None`: deleted), in a copy of the project.
pub fn build_changed(
    tool: &Tool,
    dir: &Path,
    changes: &[(PathBuf, Option<String>)],
    tops: &[PathBuf],
) -> Vec<Result<Built, String>> {
    let copy = match copy_project(dir, changes) {
        Ok(copy) => copy,
        Err(e) => return tops.iter().map(|_| Err(e.clone())).collect(),
    };
    let root = copy
        .path()
        .canonicalize()
        .unwrap_or(copy.path().to_path_buf());
    tops.iter()
        .map(|top| {
            let rel = crate::paths::absolute(top)
                .strip_prefix(crate::paths::absolute(dir))
                .map(Path::to_path_buf)
                .map_err(|_| format!("{} is outside the project", top.display()))?;
            let folder = root.join(rel);
            trace_origins(&folder)?;
            let text = run(tool, &folder)?;
            Ok(parse_build(&text, &folder, &root, dir))
        })
        .collect()
}

/// A copy of the project's files (git's ignored ones and `.git` aside) with `changes` made.
fn copy_project(
    dir: &Path,
    changes: &[(PathBuf, Option<String>)],
) -> Result<tempfile::TempDir, String> {
    let copy = tempfile::tempdir().map_err(|e| format!("no temporary folder: {e}"))?;
    let walk = ignore::WalkBuilder::new(dir)
        .hidden(false)
        .git_ignore(true)
        .require_git(false)
        // kustomize reads manifests, never what a build or an install leaves.
        .filter_entry(|e| {
            let name = e.file_name().to_string_lossy();
            !matches!(
                name.as_ref(),
                ".git" | "node_modules" | ".venv" | "__pycache__"
            )
        })
        .build();
    let dir_abs = crate::paths::absolute(dir);
    let put = |rel: &Path, bytes: &[u8]| -> Result<(), String> {
        let dest = copy.path().join(rel);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
        }
        std::fs::write(&dest, bytes).map_err(|e| e.to_string())
    };
    for entry in walk.flatten() {
        if !entry.file_type().is_some_and(|t| t.is_file()) {
            continue;
        }
        let Ok(rel) = entry.path().strip_prefix(dir) else {
            continue;
        };
        let bytes = std::fs::read(entry.path()).map_err(|e| e.to_string())?;
        put(rel, &bytes)?;
    }
    for (path, text) in changes {
        let Ok(rel) = crate::paths::absolute(path)
            .strip_prefix(&dir_abs)
            .map(Path::to_path_buf)
        else {
            continue;
        };
        match text {
            Some(text) => put(&rel, text.as_bytes())?,
            None => {
                let _ = std::fs::remove_file(copy.path().join(rel));
            }
        }
    }
    Ok(copy)
}

/// Asks kustomize to annotate each resource with the file it came from (in the copy only).
fn trace_origins(folder: &Path) -> Result<(), String> {
    let Some(file) = super::kustomize::file_in(folder) else {
        return Err(format!("no kustomization in {}", folder.display()));
    };
    let mut text = std::fs::read_to_string(&file).map_err(|e| e.to_string())?;
    if text.lines().any(|l| l.starts_with("buildMetadata:")) {
        return Ok(());
    }
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str("buildMetadata: [originAnnotations]\n");
    std::fs::write(&file, text).map_err(|e| e.to_string())
}

fn run(tool: &Tool, folder: &Path) -> Result<String, String> {
    let mut command = match tool {
        Tool::Kustomize(p) => {
            let mut c = Command::new(p);
            c.arg("build");
            c
        }
        Tool::Kubectl(p) => {
            let mut c = Command::new(p);
            c.arg("kustomize");
            c
        }
    };
    let out = command
        .arg(folder)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("{} could not start: {e}", tool.command()))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(err.lines().last().unwrap_or("failed").trim().to_string());
    }
    String::from_utf8(out.stdout).map_err(|_| "its output is not UTF-8".into())
}

/// The pods and Configurations of a build's output; origins are read relative to `folder`
/// in the copy at `root` and named as the project's files below `dir`.
fn parse_build(text: &str, folder: &Path, root: &Path, dir: &Path) -> Built {
    let mut out = Built::default();
    for piece in super::documents(text) {
        let Ok((_, doc)) = crate::yaml::parse_file(piece.text) else {
            continue;
        };
        let Some(r) = doc.root.as_ref() else { continue };
        let text_at = |n: Option<&Node>| n.and_then(Node::as_str).map(String::from);
        let kind = text_at(r.get("kind")).unwrap_or_default();
        let meta = r.get("metadata");
        let name = text_at(meta.and_then(|m| m.get("name"))).unwrap_or_default();
        let namespace = text_at(meta.and_then(|m| m.get("namespace")));
        if kind == "Configuration"
            && text_at(r.get("apiVersion")).is_some_and(|v| v.starts_with("dapr.io/"))
        {
            out.configurations.push((name, namespace));
            continue;
        }
        let Some(path) = super::template_path(&kind) else {
            continue;
        };
        let origin = text_at(
            meta.and_then(|m| m.get("annotations"))
                .and_then(|a| a.get("config.kubernetes.io/origin")),
        )
        .and_then(|o| {
            let rel = o.lines().find_map(|l| l.strip_prefix("path: "))?.trim();
            let found = folder.join(rel).canonicalize().ok()?;
            Some(dir.join(found.strip_prefix(root).ok()?))
        });
        let template = path.iter().try_fold(r, |n, k| n.get(k));
        let annotations = super::template_annotations(template);
        let containers = template
            .and_then(|t| t.get("spec"))
            .and_then(|s| s.get("containers"))
            .and_then(Node::items)
            .unwrap_or_default()
            .iter()
            .map(|c| {
                let env = c
                    .get("env")
                    .and_then(Node::items)
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|e| e.get("name").and_then(Node::as_str).map(String::from))
                    .collect();
                (text_at(c.get("name")).unwrap_or_default(), env)
            })
            .collect();
        out.pods.push(Pod {
            kind,
            name,
            namespace,
            origin,
            annotations,
            containers,
        });
    }
    out
}
