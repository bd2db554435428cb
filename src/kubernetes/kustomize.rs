//! The kustomizations of a project, read as far as onboarding needs them: which files are
//! resources (workloads to onboard) and which are patches or transformer configurations
//! (never workloads), which folders an overlay builds on, and what it renames.
//!
//! Facts checked with the real kustomize (v5.5, `kubectl kustomize`): a strategic merge
//! patch in an overlay is matched by the name and namespace the manifest itself writes,
//! whatever namespace or prefix a kustomization between them sets; `namePrefix` and
//! `nameSuffix` rename a Configuration listed in the same kustomization, and the
//! `dapr.io/config` annotation follows only where that kustomization's `configurations`
//! say so (a base's transformer configurations do not reach its overlays).

use std::path::{Path, PathBuf};

use crate::error::Refusal;
use crate::paths::absolute;
use crate::yaml::doc::Node;

/// The names kustomize looks for in a folder, in its order.
pub const FILE_NAMES: [&str; 3] = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// The strategic merge patch obs-init writes into an overlay.
pub const PATCH_FILE: &str = "obs-init-patch.yaml";
/// The patch obs-init writes into an overlay whose components or patches erase what editing
/// the base added: listed last among its patches, it puts the onboarding back.
pub const REAPPLY_FILE: &str = "obs-init-reapply-patch.yaml";
/// The transformer configuration that makes `dapr.io/config` follow a renamed Configuration.
pub const NAME_REFERENCE_FILE: &str = "dapr-kustomizeconfig.yaml";

/// One kustomization file, as far as onboarding reads it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Kustomization {
    pub path: PathBuf,
    /// The folders among `resources`, `bases` and `components` (the kustomizations this one
    /// builds on).
    pub builds_on: Vec<PathBuf>,
    /// The files among `resources`.
    pub resources: Vec<PathBuf>,
    /// Files that are not resources: patches and transformer configurations.
    pub not_resources: Vec<PathBuf>,
    pub namespace: Option<String>,
    /// `namePrefix` or `nameSuffix`, with its 1-based line, when either is set.
    pub renames: Option<(String, usize)>,
    /// A `kind: Component`: built only into the kustomizations that list it, never applied
    /// on its own.
    pub component: bool,
    /// Its patches and transformers, in the order kustomize applies them.
    pub patches: Vec<PatchRef>,
}

/// A patch a kustomization applies: a file or inline text, with what it targets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PatchRef {
    /// The patch file (`None`: inline in the kustomization).
    pub file: Option<PathBuf>,
    /// The inline patch's text.
    pub inline: Option<String>,
    /// The 1-based line of its entry in the kustomization.
    pub line: usize,
    /// `target.kind` and `target.name`, when set.
    pub kind: Option<String>,
    pub name: Option<String>,
    /// Listed among `transformers`: a transformer configuration (a `PatchTransformer`
    /// holds a patch), run after every patch.
    pub transformer: bool,
}

impl Kustomization {
    pub fn folder(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }
}

/// The folder's kustomization file, when it has one.
pub fn file_in(folder: &Path) -> Option<PathBuf> {
    FILE_NAMES
        .iter()
        .map(|n| folder.join(n))
        .find(|p| p.is_file())
}

/// Reads a kustomization file's text.
pub fn parse(path: &Path, content: &str) -> Result<Kustomization, Refusal> {
    let (_, doc) = crate::yaml::parse_file(content)?;
    let folder = path.parent().unwrap_or(Path::new("."));
    let mut out = Kustomization {
        path: path.to_path_buf(),
        ..Kustomization::default()
    };
    let Some(root) = doc.root.as_ref() else {
        return Ok(out);
    };
    let strings = |key: &str| -> Vec<String> {
        root.get(key)
            .and_then(Node::items)
            .unwrap_or_default()
            .iter()
            .filter_map(|i| i.as_str().map(String::from))
            .collect()
    };
    // Components are built into the kustomization that lists them, as bases are.
    let listed = ["resources", "bases", "components"].map(strings).concat();
    for entry in listed {
        // A remote base (a URL or a git reference) is not in the project.
        if entry.contains("://") || entry.starts_with("github.com/") {
            continue;
        }
        let p = folder.join(&entry);
        if p.is_dir() {
            out.builds_on.push(p);
        } else {
            out.resources.push(p);
        }
    }
    for key in ["patchesStrategicMerge", "configurations", "crds"] {
        out.not_resources
            .extend(strings(key).iter().map(|f| folder.join(f)));
    }
    for key in ["patches", "patchesJson6902"] {
        for item in root.get(key).and_then(Node::items).unwrap_or_default() {
            if let Some(p) = item.get("path").and_then(Node::as_str) {
                out.not_resources.push(folder.join(p));
            }
        }
    }
    out.patches = patches(root, folder);
    out.component = root.get("kind").and_then(Node::as_str) == Some("Component");
    out.namespace = root
        .get("namespace")
        .and_then(Node::as_str)
        .map(String::from);
    out.renames = ["namePrefix", "nameSuffix"].iter().find_map(|k| {
        let (key, value) = root.get_entry(k)?;
        let v = value.as_str().filter(|v| !v.is_empty())?;
        Some((format!("{k}: {v}"), key.start.line + 1))
    });
    Ok(out)
}

/// The patches of a kustomization, as `patches`, `patchesStrategicMerge`,
/// `patchesJson6902` and `transformers` list them.
fn patches(root: &Node, folder: &Path) -> Vec<PatchRef> {
    let mut out = Vec::new();
    let text = |n: Option<&Node>| n.and_then(Node::as_str).map(String::from);
    for key in [
        "patchesStrategicMerge",
        "patches",
        "patchesJson6902",
        "transformers",
    ] {
        for item in root.get(key).and_then(Node::items).unwrap_or_default() {
            let mut p = PatchRef {
                line: item.start.line + 1,
                transformer: key == "transformers",
                ..PatchRef::default()
            };
            match item.as_str() {
                // A strategic merge patch may be written inline, as YAML in a string.
                Some(s) if s.contains('\n') || s.contains(": ") => p.inline = Some(s.into()),
                Some(s) => p.file = Some(folder.join(s)),
                None => {
                    p.file = text(item.get("path")).map(|f| folder.join(f));
                    p.inline = text(item.get("patch"));
                    p.kind = text(item.get("target").and_then(|t| t.get("kind")));
                    p.name = text(item.get("target").and_then(|t| t.get("name")));
                }
            }
            out.push(p);
        }
    }
    out
}

/// Every kustomization of a project, and how they build on each other.
#[derive(Debug, Clone, Default)]
pub struct Project {
    pub all: Vec<Kustomization>,
}

impl Project {
    /// Reads every kustomization below `dir`; one that does not parse is an error naming it.
    pub fn scan(dir: &Path) -> Result<Project, crate::error::Error> {
        let mut all = Vec::new();
        for path in crate::detect::find_files_where(dir, |n| FILE_NAMES.contains(&n)) {
            let content = crate::files::read_text(&path)?;
            all.push(
                parse(&path, &content).map_err(|source| crate::error::Error::Refused {
                    path: path.clone(),
                    source,
                })?,
            );
        }
        Ok(Project { all })
    }

    /// The kustomization of a folder.
    pub fn at(&self, folder: &Path) -> Option<&Kustomization> {
        let folder = absolute(folder);
        self.all.iter().find(|k| absolute(k.folder()) == folder)
    }

    /// Whether a file is a patch or a configuration of some kustomization, or one obs-init
    /// writes for an overlay: not a manifest to onboard.
    pub fn is_not_resource(&self, file: &Path) -> bool {
        let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let file = absolute(file);
        name == PATCH_FILE
            || name == REAPPLY_FILE
            || name == NAME_REFERENCE_FILE
            || self
                .all
                .iter()
                .any(|k| k.not_resources.iter().any(|p| absolute(p) == file))
    }

    /// The kustomizations that build on `folder`, directly or through others, each with the
    /// chain from it down to `folder` (outermost first, `folder`'s own excluded).
    pub fn overlays_of(&self, folder: &Path) -> Vec<Vec<&Kustomization>> {
        let mut out = Vec::new();
        for k in &self.all {
            let mut chain = vec![k];
            if self.reaches(k, &absolute(folder), &mut chain) {
                out.push(chain);
            }
        }
        out
    }

    fn reaches<'a>(
        &'a self,
        from: &'a Kustomization,
        folder: &Path,
        chain: &mut Vec<&'a Kustomization>,
    ) -> bool {
        for next in &from.builds_on {
            let next = absolute(next);
            if next == folder {
                return true;
            }
            if let Some(k) = self.at(&next).filter(|k| !chain.contains(k)) {
                chain.push(k);
                if self.reaches(k, folder, chain) {
                    return true;
                }
                chain.pop();
            }
        }
        false
    }

    /// The kustomizations nothing else builds on: the ones that are applied.
    pub fn is_leaf(&self, k: &Kustomization) -> bool {
        let folder = absolute(k.folder());
        !k.component
            && !self
                .all
                .iter()
                .any(|o| o.builds_on.iter().any(|b| absolute(b) == folder))
    }

    /// The manifest files `top` builds, each with the chain of kustomizations from `top`
    /// down to the one listing it.
    pub fn files_built_by<'a>(
        &'a self,
        top: &'a Kustomization,
    ) -> Vec<(PathBuf, Vec<&'a Kustomization>)> {
        let mut out = Vec::new();
        self.collect(top, &mut vec![top], &mut out);
        out
    }

    fn collect<'a>(
        &'a self,
        k: &'a Kustomization,
        chain: &mut Vec<&'a Kustomization>,
        out: &mut Vec<(PathBuf, Vec<&'a Kustomization>)>,
    ) {
        for r in &k.resources {
            out.push((r.clone(), chain.clone()));
        }
        for b in &k.builds_on {
            if let Some(next) = self.at(b).filter(|n| !chain.contains(n)) {
                chain.push(next);
                self.collect(next, chain, out);
                chain.pop();
            }
        }
    }
}

/// The transformer configuration that makes kustomize rename the `dapr.io/config`
/// annotation of pod templates with the Configuration it names.
pub fn name_reference() -> String {
    "# Written by obs-init: this kustomization renames its resources (namePrefix or \
     nameSuffix),\n# the Dapr Configuration among them; this makes the pods' dapr.io/config \
     annotation follow.\nnameReference:\n- kind: Configuration\n  group: dapr.io\n  \
     fieldSpecs:\n  - path: spec/template/metadata/annotations/dapr.io\\/config\n  - path: \
     spec/jobTemplate/spec/template/metadata/annotations/dapr.io\\/config\n"
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kustomization_tells_resources_from_patches_and_bases() {
        let dir = tempfile::tempdir().expect("tempdir");
        let base = dir.path().join("base");
        let prod = dir.path().join("overlays/prod");
        std::fs::create_dir_all(&base).expect("base");
        std::fs::create_dir_all(&prod).expect("prod");
        std::fs::write(base.join("kustomization.yaml"), "resources: [web.yaml]\n").expect("w");
        let text = "namespace: prod\nnamePrefix: prod-\nresources:\n- ../../base\n- extra.yaml\n\
                    - https://example.com/x.yaml\npatches:\n- path: replicas.yaml\n\
                    patchesStrategicMerge:\n- memory.yaml\n";
        let path = prod.join("kustomization.yaml");
        std::fs::write(&path, text).expect("w");
        let k = parse(&path, text).expect("parses");
        assert_eq!(k.builds_on, vec![prod.join("../../base")]);
        assert_eq!(k.resources, vec![prod.join("extra.yaml")]);
        assert_eq!(
            k.not_resources,
            vec![prod.join("memory.yaml"), prod.join("replicas.yaml")]
        );
        assert_eq!(k.namespace.as_deref(), Some("prod"));
        assert_eq!(k.renames, Some(("namePrefix: prod-".to_string(), 2)));
        let project = Project::scan(dir.path()).expect("scan");
        let chains = project.overlays_of(&base);
        assert_eq!(chains.len(), 1);
        assert_eq!(chains[0][0].path, path);
        assert!(project.is_not_resource(&prod.join("replicas.yaml")));
        assert!(!project.is_not_resource(&base.join("web.yaml")));
        assert!(project.is_leaf(&k));
        let built = project.files_built_by(project.at(&prod).expect("prod"));
        let files: Vec<PathBuf> = built.iter().map(|(f, _)| absolute(f)).collect();
        assert_eq!(
            files,
            vec![
                absolute(&prod.join("extra.yaml")),
                absolute(&base.join("web.yaml"))
            ]
        );
    }
}
