//! Where the code behind a manifest's image is: a manifest names an image, not the folder
//! it is built from, so the project's build definitions say — skaffold.yaml's artifacts,
//! or a compose service that builds an image of that name.

use std::path::{Path, PathBuf};

use crate::yaml::doc::Node;

/// An image the project builds, and from where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltImage {
    /// The image's name without tag or digest.
    pub image: String,
    /// The build context.
    pub context: PathBuf,
    /// The Dockerfile, relative to the context, when not `Dockerfile`.
    pub dockerfile: Option<String>,
    /// What says so (`skaffold.yaml`, `compose.yaml`), relative to the project.
    pub source: String,
}

/// `registry/name:tag@sha256:…` without its tag and digest.
pub fn repository(image: &str) -> &str {
    let image = image.split('@').next().unwrap_or(image);
    match image.rfind(':') {
        // A colon after the last slash is the tag's; before it, a registry's port.
        Some(i) if !image[i..].contains('/') => &image[..i],
        _ => image,
    }
}

/// Every image the project's skaffold and compose files build.
pub fn built_images(dir: &Path) -> Vec<BuiltImage> {
    let mut out = Vec::new();
    for path in
        crate::detect::find_files_where(dir, |n| n == "skaffold.yaml" || n == "skaffold.yml")
    {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let folder = path.parent().unwrap_or(Path::new("."));
        for piece in super::documents(&text) {
            let Ok((_, doc)) = crate::yaml::parse_file(piece.text) else {
                continue;
            };
            let artifacts = doc
                .root
                .as_ref()
                .and_then(|r| r.get("build"))
                .and_then(|b| b.get("artifacts"))
                .and_then(Node::items)
                .unwrap_or_default();
            for a in artifacts {
                let Some(image) = a.get("image").and_then(Node::as_str) else {
                    continue;
                };
                out.push(BuiltImage {
                    image: repository(image).to_string(),
                    context: folder.join(a.get("context").and_then(Node::as_str).unwrap_or(".")),
                    dockerfile: a
                        .get("docker")
                        .and_then(|d| d.get("dockerfile"))
                        .and_then(Node::as_str)
                        .map(String::from),
                    source: crate::paths::display(dir, &path),
                });
            }
        }
    }
    for path in crate::detect::find_files_where(dir, |n| crate::compose::COMPOSE_NAMES.contains(&n))
    {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let Ok((_, doc)) = crate::yaml::parse_file(&text) else {
            continue;
        };
        let folder = path.parent().unwrap_or(Path::new("."));
        let Some(services) = doc.root.as_ref().and_then(|r| r.get("services")) else {
            continue;
        };
        // As onboarding reads a service: what it extends counts.
        for (name, _) in services.entries().unwrap_or_default() {
            let Some(name) = name.as_str() else { continue };
            let info = crate::compose::service_info(&doc, services, name);
            if let (Some(image), Some(context)) = (info.image, info.build) {
                out.push(BuiltImage {
                    image: repository(&image).to_string(),
                    context: folder.join(context),
                    dockerfile: info.dockerfile,
                    source: crate::paths::display(dir, &path),
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_images_repository_drops_its_tag_and_digest_but_not_a_registry_port() {
        assert_eq!(repository("example/api:1.4"), "example/api");
        assert_eq!(repository("localhost:5000/api"), "localhost:5000/api");
        assert_eq!(
            repository("localhost:5000/api:2@sha256:ab"),
            "localhost:5000/api"
        );
        assert_eq!(repository("api"), "api");
    }

    #[test]
    fn skaffold_artifacts_and_compose_builds_name_their_contexts() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("skaffold.yaml"),
            "apiVersion: skaffold/v4beta11\nkind: Config\nbuild:\n  artifacts:\n  - image: \
             example/api\n    context: src/api\n    docker:\n      dockerfile: Dockerfile.prod\n",
        )
        .expect("write");
        std::fs::write(
            dir.path().join("compose.yaml"),
            "services:\n  worker:\n    image: example/worker:dev\n    build: ./worker\n",
        )
        .expect("write");
        let found = built_images(dir.path());
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].image, "example/api");
        assert_eq!(found[0].context, dir.path().join("src/api"));
        assert_eq!(found[0].dockerfile.as_deref(), Some("Dockerfile.prod"));
        assert_eq!(found[1].image, "example/worker");
        assert_eq!(found[1].context, dir.path().join("./worker"));
    }
}
