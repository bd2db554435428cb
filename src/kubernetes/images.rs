//! Where the code behind a manifest's image is, and which images are the project's own: a
//! manifest names an image, not the folder it is built from, so the project's build
//! definitions say — skaffold.yaml's artifacts, a compose service that builds (matched by
//! its image, by its service name, or by another compose file naming that service's image),
//! and the CI files that build and push images.

use std::path::{Path, PathBuf};

use crate::yaml::doc::Node;

/// An image the project builds, and from where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltImage {
    /// The image's name without tag or digest (`None`: compose builds it under the default
    /// name, so only its service name tells which workload runs it).
    pub image: Option<String>,
    /// The compose service that builds it: a workload of that name runs it.
    pub service: Option<String>,
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

/// The images of well-known infrastructure (databases, caches, brokers, proxies), by the
/// last part of their name: someone else's code, never onboarded unless named.
const INFRASTRUCTURE: [&str; 34] = [
    "postgres",
    "postgresql",
    "postgis",
    "redis",
    "redis-stack",
    "valkey",
    "keydb",
    "mysql",
    "mariadb",
    "mongo",
    "mongodb",
    "rabbitmq",
    "nginx",
    "nginx-unprivileged",
    "httpd",
    "caddy",
    "traefik",
    "haproxy",
    "envoy",
    "memcached",
    "elasticsearch",
    "opensearch",
    "kafka",
    "cp-kafka",
    "zookeeper",
    "cp-zookeeper",
    "minio",
    "etcd",
    "consul",
    "vault",
    "cassandra",
    "clickhouse-server",
    "nats",
    "influxdb",
];

/// Whether an image is well-known infrastructure (`postgres:16`, `bitnami/redis`,
/// `docker.io/library/nginx:1.27-alpine`).
pub fn is_infrastructure(image: &str) -> bool {
    let name = repository(image).rsplit('/').next().unwrap_or_default();
    INFRASTRUCTURE.contains(&name)
}

/// The image a workload runs, built by the project: by the image's name, else by the
/// compose service of the workload's name.
pub fn find<'a>(
    built: &'a [BuiltImage],
    image: Option<&str>,
    workload: &str,
) -> Option<&'a BuiltImage> {
    let image = image.map(repository);
    built
        .iter()
        .find(|b| image.is_some() && b.image.as_deref() == image)
        .or_else(|| {
            built
                .iter()
                .find(|b| b.image.is_none() && b.service.as_deref() == Some(workload))
        })
}

/// Every image the project's skaffold, compose and CI files build.
pub fn built_images(dir: &Path) -> Vec<BuiltImage> {
    let mut out = skaffold(dir);
    out.extend(compose(dir));
    out.extend(ci(dir));
    out
}

fn skaffold(dir: &Path) -> Vec<BuiltImage> {
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
                    image: Some(repository(image).to_string()),
                    service: None,
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
    out
}

/// A compose service as far as building goes.
struct ComposeService {
    file: String,
    name: String,
    image: Option<String>,
    context: Option<PathBuf>,
    dockerfile: Option<String>,
}

/// The compose files' builds. A service that builds without `image:` is matched by its name;
/// another compose file (a `docker-stack.yml`, a release file) that gives the same service an
/// `image:` names the image it is pushed as.
fn compose(dir: &Path) -> Vec<BuiltImage> {
    let mut services = Vec::new();
    for path in crate::detect::find_files_where(dir, |n| {
        n.ends_with(".yml") || n.ends_with(".yaml") || crate::compose::COMPOSE_NAMES.contains(&n)
    }) {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        // Cheap first: a manifest or a config file has no top-level `services:`.
        if !text.starts_with("services:") && !text.contains("\nservices:") {
            continue;
        }
        let Ok((_, doc)) = crate::yaml::parse_file(&text) else {
            continue;
        };
        let Some(root) = doc.root.as_ref().filter(|r| r.get("kind").is_none()) else {
            continue;
        };
        let Some(all) = root.get("services").filter(|s| s.entries().is_some()) else {
            continue;
        };
        let folder = path.parent().unwrap_or(Path::new("."));
        // As onboarding reads a service: what it extends counts.
        for (name, _) in all.entries().unwrap_or_default() {
            let Some(name) = name.as_str() else { continue };
            let info = crate::compose::service_info(&doc, all, name);
            services.push(ComposeService {
                file: crate::paths::display(dir, &path),
                name: name.to_string(),
                image: info.image.map(|i| repository(&i).to_string()),
                context: info.build.map(|b| folder.join(b)),
                dockerfile: info.dockerfile,
            });
        }
    }
    let mut out = Vec::new();
    for s in &services {
        let Some(context) = &s.context else { continue };
        out.push(BuiltImage {
            image: s.image.clone(),
            service: Some(s.name.clone()),
            context: context.clone(),
            dockerfile: s.dockerfile.clone(),
            source: s.file.clone(),
        });
        for other in &services {
            let Some(image) = &other.image else { continue };
            if other.name == s.name && other.context.is_none() && s.image.as_ref() != Some(image) {
                out.push(BuiltImage {
                    image: Some(image.clone()),
                    service: Some(s.name.clone()),
                    context: context.clone(),
                    dockerfile: s.dockerfile.clone(),
                    source: format!(
                        "{} builds service {}, {} names its image",
                        s.file, s.name, other.file
                    ),
                });
            }
        }
    }
    out
}

/// The images CI builds: GitHub Actions and GitLab CI files, read for a step's `context`
/// beside the image names it pushes (`docker/build-push-action`'s `tags`, a reusable
/// workflow's `image-names`), and for `docker build -t IMAGE CONTEXT` lines.
fn ci(dir: &Path) -> Vec<BuiltImage> {
    let files = crate::ci::files(dir);
    let mut out = Vec::new();
    for path in files {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let Ok((_, doc)) = crate::yaml::parse_file(&text) else {
            continue;
        };
        let source = crate::paths::display(dir, &path);
        if let Some(root) = doc.root.as_ref() {
            ci_node(dir, root, &source, &mut out);
        }
    }
    out
}

fn ci_node(dir: &Path, node: &Node, source: &str, out: &mut Vec<BuiltImage>) {
    if let Some(context) = node.get("context").and_then(Node::as_str) {
        let names = ["tags", "image-names", "images", "image-name", "image"]
            .iter()
            .find_map(|k| node.get(k));
        let listed: Vec<String> = match names {
            Some(n) if n.items().is_some() => n
                .items()
                .unwrap_or_default()
                .iter()
                .filter_map(|i| i.as_str().map(String::from))
                .collect(),
            Some(n) => n
                .as_str()
                .map(|s| s.split([',', '\n']).map(String::from).collect())
                .unwrap_or_default(),
            None => Vec::new(),
        };
        for name in listed {
            push_ci(dir, &name, context, None, source, out);
        }
    }
    if let Some(script) = node.as_str() {
        for line in script.lines() {
            docker_build(dir, line, source, out);
        }
    }
    for (_, v) in node.entries().unwrap_or_default() {
        ci_node(dir, v, source, out);
    }
    for i in node.items().unwrap_or_default() {
        ci_node(dir, i, source, out);
    }
}

/// `docker build -t IMAGE [-f FILE] CONTEXT` (and `docker buildx build`, `podman build`).
fn docker_build(dir: &Path, line: &str, source: &str, out: &mut Vec<BuiltImage>) {
    let words: Vec<&str> = line.split_whitespace().collect();
    let Some(at) = words.windows(2).position(|w| {
        matches!(w[0], "docker" | "podman" | "buildx") && w[1] == "build"
            || w == ["docker", "buildx"]
    }) else {
        return;
    };
    let mut rest = words[at + 2..].iter();
    let (mut tags, mut file, mut context) = (Vec::new(), None, None);
    while let Some(w) = rest.next() {
        match *w {
            "build" => {}
            "&&" | ";" | "|" | "\\" => break,
            "-t" | "--tag" => tags.extend(rest.next().map(|t| t.to_string())),
            "-f" | "--file" => file = rest.next().map(|f| f.to_string()),
            w if w.starts_with("--tag=") => tags.push(w["--tag=".len()..].to_string()),
            w if w.starts_with("-") => {
                // Flags with a value the build takes that would otherwise read as the context.
                if matches!(
                    w,
                    "--build-arg" | "--target" | "--platform" | "--label" | "--cache-from"
                ) {
                    rest.next();
                }
            }
            w => context = Some(w.to_string()),
        }
    }
    if let Some(context) = context {
        for tag in tags {
            push_ci(dir, &tag, &context, file.clone(), source, out);
        }
    }
}

fn push_ci(
    dir: &Path,
    name: &str,
    context: &str,
    dockerfile: Option<String>,
    source: &str,
    out: &mut Vec<BuiltImage>,
) {
    let image = repository(name.trim().trim_matches(['"', '\'']));
    // A name made of CI variables says nothing about which manifest runs it.
    if image.is_empty() || image.contains('$') || context.contains('$') {
        return;
    }
    out.push(BuiltImage {
        image: Some(image.to_string()),
        service: None,
        context: dir.join(context),
        dockerfile,
        source: source.to_string(),
    });
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
        assert_eq!(found[0].image.as_deref(), Some("example/api"));
        assert_eq!(found[0].context, dir.path().join("src/api"));
        assert_eq!(found[0].dockerfile.as_deref(), Some("Dockerfile.prod"));
        assert_eq!(found[1].image.as_deref(), Some("example/worker"));
        assert_eq!(found[1].context, dir.path().join("./worker"));
    }

    #[test]
    fn infrastructure_is_known_by_its_name_whatever_its_registry_and_tag() {
        assert!(is_infrastructure("postgres:15-alpine"));
        assert!(is_infrastructure("docker.io/library/redis"));
        assert!(is_infrastructure("bitnami/rabbitmq:3.13@sha256:ab"));
        assert!(!is_infrastructure("dockersamples/examplevotingapp_vote"));
        assert!(!is_infrastructure("example/postgres-exporter"));
    }

    #[test]
    fn a_compose_build_is_named_by_its_service_and_by_the_image_another_file_gives_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("docker-compose.yml"),
            "services:\n  vote:\n    build: ./vote\n  db:\n    image: postgres:15\n",
        )
        .expect("write");
        std::fs::write(
            dir.path().join("docker-stack.yml"),
            "services:\n  vote:\n    image: dockersamples/examplevotingapp_vote:latest\n",
        )
        .expect("write");
        let found = built_images(dir.path());
        let vote = find(
            &found,
            Some("dockersamples/examplevotingapp_vote:v2"),
            "web",
        );
        assert_eq!(
            vote.map(|b| b.context.clone()),
            Some(dir.path().join("./vote"))
        );
        assert!(find(&found, Some("other/image"), "vote").is_some());
        assert!(find(&found, Some("postgres:15"), "db").is_none());
    }

    #[test]
    fn ci_files_name_the_images_they_build_and_from_where() {
        let dir = tempfile::tempdir().expect("tempdir");
        let workflows = dir.path().join(".github/workflows");
        std::fs::create_dir_all(&workflows).expect("mkdir");
        std::fs::write(
            workflows.join("build.yml"),
            "jobs:\n  push:\n    steps:\n    - uses: docker/build-push-action@v6\n      with:\n        \
             context: ./result\n        tags: example/result:${{ github.sha }},example/result:latest\n    \
             - run: |\n        docker build -t example/worker:dev -f Dockerfile.prod --target app worker\n    \
             - uses: acme/reusable.yml@main\n      with:\n        context: vote\n        \
             image-names: ${{ env.IMAGE }}\n",
        )
        .expect("write");
        let found = built_images(dir.path());
        let names: Vec<(Option<&str>, PathBuf)> = found
            .iter()
            .map(|b| (b.image.as_deref(), b.context.clone()))
            .collect();
        assert_eq!(
            names,
            vec![
                (Some("example/result"), dir.path().join("./result")),
                (Some("example/result"), dir.path().join("./result")),
                (Some("example/worker"), dir.path().join("worker")),
            ]
        );
        assert_eq!(found[2].dockerfile.as_deref(), Some("Dockerfile.prod"));
    }
}
