//! The patches that erase onboarding from kustomize's build: obs-init's own model of the
//! common forms, for naming the patch that does it and for judging where kustomize is not
//! installed.
//!
//! Checked with the real kustomize (v5.5): a JSON 6902 `add` (or `replace`) on
//! `/spec/template/metadata/annotations` REPLACES the whole map (an Istio component's
//! `value: {proxy.istio.io/config: ...}` leaves no `dapr.io` annotation), as it does on a
//! container's `env`; `remove` drops it; a strategic merge patch with `$patch: replace` (or
//! `delete`) on the annotations, the metadata, a container or its `env` does the same. A
//! strategic merge patch listed after them in the overlay (components are built before the
//! overlay's own patches) merges the onboarding back.

use std::path::{Path, PathBuf};

use super::kustomize::{Kustomization, PatchRef, Project, REAPPLY_FILE};
use crate::paths::absolute;
use crate::yaml::doc::{Kind, Node};

/// What a patch erases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Erased {
    /// The pod template's annotations (the Dapr sidecar's).
    Annotations,
    /// An app container's `env` (the collector's variables).
    Env,
}

impl Erased {
    pub fn what(self) -> &'static str {
        match self {
            Erased::Annotations => "the Dapr annotations",
            Erased::Env => "the collector's variables",
        }
    }
}

/// A patch that erases onboarding from the workloads it targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Eraser {
    /// The file that holds it (the patch, or the kustomization for an inline one).
    pub file: PathBuf,
    /// Its 1-based line there.
    pub line: usize,
    pub erased: Erased,
    /// How, in the patch's words: ``JSON patch `add /spec/template/metadata/annotations` ``.
    pub how: String,
    /// The kind and name it targets (`None`: any).
    pub kind: Option<String>,
    pub name: Option<String>,
    /// A transformer, run after every patch: no patch of obs-init's can come after it.
    pub transformer: bool,
}

impl Eraser {
    /// Whether it reaches the workload `kind`/`name` (a target's name may be a regex; only
    /// its literal form is matched, and `.*` matches every name).
    pub fn reaches(&self, kind: &str, name: &str) -> bool {
        self.kind.as_deref().is_none_or(|k| k == kind)
            && self
                .name
                .as_deref()
                .is_none_or(|n| n == name || n == ".*" || n.is_empty())
    }
}

/// The erasers that act on what `folder`'s manifests hold when `top` is built: the patches
/// and transformers of every kustomization between them (`folder`'s own included) and of
/// the components each includes. A patch of obs-init's, listed last in a kustomization
/// (in the project, or in `patched`: planned), puts back what the patches below it erased:
/// only transformers, and what comes above it, still count.
pub fn between(
    project: &Project,
    top: &Kustomization,
    folder: &Path,
    patched: &[PathBuf],
) -> Vec<Eraser> {
    let mut chain: Vec<&Kustomization> = project
        .overlays_of(folder)
        .into_iter()
        .find(|c| c[0].path == top.path)
        .unwrap_or_default();
    if chain.is_empty() && top.folder() != folder {
        return Vec::new();
    }
    if let Some(own) = project.at(folder)
        && !chain.contains(&own)
    {
        chain.push(own);
    }
    let mut out: Vec<Eraser> = Vec::new();
    // Innermost first, as kustomize builds them.
    for k in chain.iter().rev() {
        for b in &k.builds_on {
            if let Some(c) = project.at(b).filter(|c| c.component) {
                out.extend(c.patches.iter().flat_map(of_patch));
            }
        }
        out.extend(k.patches.iter().flat_map(of_patch));
        let ours = k.patches.iter().any(|p| {
            p.file
                .as_ref()
                .and_then(|f| f.file_name())
                .is_some_and(|n| n == super::kustomize::PATCH_FILE || n == REAPPLY_FILE)
        });
        if ours || patched.iter().any(|f| absolute(f) == absolute(k.folder())) {
            out.retain(|e| e.transformer);
        }
    }
    out
}

/// What one patch entry erases.
pub fn of_patch(p: &PatchRef) -> Vec<Eraser> {
    let (text, file, offset) = match (&p.inline, &p.file) {
        (Some(text), _) => (text.clone(), None, p.line),
        (None, Some(file)) => match std::fs::read_to_string(file) {
            Ok(t) => (t, Some(file.clone()), 0),
            Err(_) => return Vec::new(),
        },
        (None, None) => return Vec::new(),
    };
    let inline = file.is_none();
    let at = |line: usize| if inline { offset } else { offset + line };
    let file = file.unwrap_or_default();
    let mut out = Vec::new();
    for piece in super::documents(&text) {
        let Ok((_, doc)) = crate::yaml::parse_file(piece.text) else {
            continue;
        };
        let Some(root) = doc.root.as_ref() else {
            continue;
        };
        let line0 = piece.lines_before;
        let mut found = Vec::new();
        if p.transformer {
            // A PatchTransformer carries its patch and target in itself.
            if root.get("kind").and_then(Node::as_str) != Some("PatchTransformer") {
                continue;
            }
            let inner = PatchRef {
                inline: root.get("patch").and_then(Node::as_str).map(String::from),
                line: 1,
                kind: root
                    .get("target")
                    .and_then(|t| t.get("kind"))
                    .and_then(Node::as_str)
                    .map(String::from),
                name: root
                    .get("target")
                    .and_then(|t| t.get("name"))
                    .and_then(Node::as_str)
                    .map(String::from),
                ..PatchRef::default()
            };
            // Named at the first line of its patch text.
            let line = root
                .get_entry("patch")
                .map_or(root.start.line + 1, |(k, _)| k.start.line + 2);
            for e in of_patch(&inner) {
                out.push(Eraser {
                    file: file.clone(),
                    line: at(line0 + line),
                    transformer: true,
                    ..e
                });
            }
            continue;
        }
        match &root.kind {
            Kind::Seq { items, .. } => {
                for op in items {
                    for (erased, how) in json_op(op) {
                        found.push((erased, how, op.start.line));
                    }
                }
            }
            Kind::Map { .. } => {
                for (erased, how, node) in strategic(root) {
                    found.push((erased, how, node.start.line));
                }
            }
            _ => {}
        }
        let (kind, name) = match &root.kind {
            Kind::Map { .. } => (
                root.get("kind").and_then(Node::as_str).map(String::from),
                root.get("metadata")
                    .and_then(|m| m.get("name"))
                    .and_then(Node::as_str)
                    .map(String::from),
            ),
            _ => (None, None),
        };
        for (erased, how, line) in found {
            out.push(Eraser {
                file: file.clone(),
                line: at(line0 + line + 1),
                erased,
                how,
                kind: p.kind.clone().or(kind.clone()),
                name: p.name.clone().or(name.clone()),
                transformer: false,
            });
        }
    }
    out
}

/// The pod template paths of the workload kinds, as JSON pointer parts.
const TEMPLATES: [&[&str]; 2] = [
    &["spec", "template"],
    &["spec", "jobTemplate", "spec", "template"],
];

/// What a JSON 6902 operation erases: one that replaces or removes the annotations map or
/// a container's `env` (or something holding them). Adding a key inside them erases
/// nothing; `add` at a list index inserts.
fn json_op(op: &Node) -> Vec<(Erased, String)> {
    let (Some(verb), Some(path)) = (
        op.get("op").and_then(Node::as_str),
        op.get("path").and_then(Node::as_str),
    ) else {
        return Vec::new();
    };
    if !matches!(verb, "add" | "replace" | "remove") {
        return Vec::new();
    }
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    if parts.iter().all(|p| p.is_empty()) {
        return Vec::new();
    }
    let last = parts.last().copied().unwrap_or_default();
    if verb == "add" && (last == "-" || last.parse::<usize>().is_ok()) {
        return Vec::new();
    }
    let mut out = Vec::new();
    for template in TEMPLATES {
        let annotations = [template, &["metadata", "annotations"]].concat();
        let env = [template, &["spec", "containers", "*", "env"]].concat();
        let holds = |target: &[&str]| {
            parts.len() <= target.len()
                && parts
                    .iter()
                    .zip(target)
                    .all(|(p, t)| p == t || (*t == "*" && p.parse::<usize>().is_ok()))
        };
        let how = format!("JSON patch `{verb} {path}`");
        if holds(&annotations) && !out.iter().any(|(e, _)| *e == Erased::Annotations) {
            out.push((Erased::Annotations, how.clone()));
        }
        if holds(&env) && !out.iter().any(|(e, _)| *e == Erased::Env) {
            out.push((Erased::Env, how));
        }
    }
    out
}

/// What a strategic merge patch erases: a `$patch: replace` or `delete` directive on the
/// pod template, its metadata or annotations, its spec, the containers, a container or its
/// `env`.
fn strategic(root: &Node) -> Vec<(Erased, String, &Node)> {
    let mut out = Vec::new();
    for path in TEMPLATES {
        let Some(template) = path.iter().try_fold(root, |n, k| n.get(k)) else {
            continue;
        };
        let meta = template.get("metadata");
        let annotations = meta.and_then(|m| m.get("annotations"));
        let spec = template.get("spec");
        if let Some((how, key)) = [Some(template), meta, annotations]
            .into_iter()
            .flatten()
            .find_map(directive)
        {
            out.push((Erased::Annotations, how, key));
        }
        let containers = spec.and_then(|s| s.get("containers"));
        let mut env = [Some(template), spec]
            .into_iter()
            .flatten()
            .find_map(directive);
        env = env.or_else(|| containers.and_then(in_list));
        for c in containers.and_then(Node::items).unwrap_or_default() {
            env = env
                .or_else(|| directive(c))
                .or_else(|| c.get("env").and_then(in_list));
        }
        if let Some((how, key)) = env {
            out.push((Erased::Env, how, key));
        }
    }
    out
}

/// A `$patch: replace` or `delete` directive on a node, with its `$patch` key (for its line).
fn directive(n: &Node) -> Option<(String, &Node)> {
    let (key, value) = n.get_entry("$patch")?;
    let d = value
        .as_str()
        .filter(|d| matches!(*d, "replace" | "delete"))?;
    Some((format!("strategic merge `$patch: {d}`"), key))
}

/// `- $patch: replace` as an item replaces the whole list.
fn in_list(n: &Node) -> Option<(String, &Node)> {
    n.items().unwrap_or_default().iter().find_map(directive)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn erased(text: &str) -> Vec<(Erased, usize)> {
        of_patch(&PatchRef {
            inline: Some(text.into()),
            line: 10,
            ..PatchRef::default()
        })
        .iter()
        .map(|e| (e.erased, e.line))
        .collect()
    }

    #[test]
    fn a_json_patch_that_replaces_the_annotations_or_env_erases_them_and_adding_inside_does_not() {
        let istio = "- op: add\n  path: /spec/template/metadata/annotations\n  value:\n    \
                     proxy.istio.io/config: '{}'\n";
        assert_eq!(erased(istio), vec![(Erased::Annotations, 10)]);
        let key = "- op: add\n  path: /spec/template/metadata/annotations/sidecar.istio.io~1inject\n  value: 'false'\n";
        assert!(erased(key).is_empty());
        let env = "- op: replace\n  path: /spec/template/spec/containers/0/env\n  value: []\n\
                   - op: add\n  path: /spec/template/spec/containers/-\n  value: {name: x}\n";
        assert_eq!(erased(env), vec![(Erased::Env, 10)]);
        let gone = "- op: remove\n  path: /spec/jobTemplate/spec/template/metadata\n";
        assert_eq!(erased(gone), vec![(Erased::Annotations, 10)]);
    }

    #[test]
    fn a_strategic_merge_replace_erases_what_it_replaces() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("replace.yaml");
        std::fs::write(
            &file,
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    \
             metadata:\n      annotations:\n        $patch: replace\n        team: a\n    spec:\n      \
             containers:\n      - name: web\n        env:\n        - $patch: replace\n        - name: A\n          value: b\n",
        )
        .expect("write");
        let found = of_patch(&PatchRef {
            file: Some(file.clone()),
            line: 3,
            ..PatchRef::default()
        });
        let got: Vec<(Erased, usize, Option<&str>)> = found
            .iter()
            .map(|e| (e.erased, e.line, e.name.as_deref()))
            .collect();
        assert_eq!(
            got,
            vec![
                (Erased::Annotations, 9, Some("web")),
                (Erased::Env, 15, Some("web"))
            ]
        );
        assert!(found[0].reaches("Deployment", "web"));
        assert!(!found[0].reaches("Deployment", "api"));
    }
}
