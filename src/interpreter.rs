//! Which Python a service runs: read from its image, so that the dependency lines obs-init
//! writes are ones pip can install there.
//!
//! What runs decides, so the Dockerfile's final stage comes first (a `FROM python:3.9-slim`,
//! through stage names and `ARG` defaults), then the compose `image:`, then what the project
//! declares: `.python-version`, `requires-python`, Poetry's `python` (their lowest version,
//! where the dependencies must still install).

use std::fs;
use std::path::Path;

/// A Python `major.minor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    pub major: u32,
    pub minor: u32,
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// The version found, and where it was read (for the note and the error that name it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub version: Version,
    pub source: String,
}

/// `3.9`, `3.9.18`, `3.9-slim`, `3.9.18-bookworm`, `3.9rc1`: the leading `major.minor`.
fn leading_version(text: &str) -> Option<Version> {
    fn digits(s: &str) -> Option<(Option<u32>, &str)> {
        let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        (end > 0).then(|| (s[..end].parse::<u32>().ok(), &s[end..]))
    }
    let (major, rest) = digits(text)?;
    let rest = rest.strip_prefix('.')?;
    let (minor, _) = digits(rest)?;
    Some(Version {
        major: major?,
        minor: minor?,
    })
}

/// The Python of an image reference: `python:3.9-slim`, `docker.io/library/python:3.8`,
/// `tiangolo/uvicorn-gunicorn-fastapi:python3.9`, `ghcr.io/astral-sh/uv:python3.12-bookworm`.
pub fn from_image(image: &str) -> Option<Version> {
    let image = image.split('@').next().unwrap_or(image);
    let (repo, tag) = match image.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => (repo, tag),
        _ => return None,
    };
    let name = repo.rsplit('/').next().unwrap_or(repo);
    if name == "python" || name == "pypy" {
        return leading_version(tag);
    }
    let at = tag.find("python")?;
    leading_version(&tag[at + "python".len()..])
}

/// The Python of a Dockerfile's final stage, and the 1-based line of the `FROM` that says
/// so: stage names are followed back, `${ARG}`s take their defaults.
pub fn from_dockerfile(text: &str) -> Option<(Version, usize)> {
    from_dockerfile_stage(text, None)
}

/// [`from_dockerfile`] for the stage compose builds: `target` (`build.target`) when named
/// and found, else the last.
pub fn from_dockerfile_stage(text: &str, target: Option<&str>) -> Option<(Version, usize)> {
    let mut args: Vec<(String, String)> = Vec::new();
    let mut stages: Vec<(Option<String>, String, usize)> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        let mut words = line.split_whitespace();
        let Some(keyword) = words.next() else {
            continue;
        };
        if keyword.eq_ignore_ascii_case("ARG") {
            for arg in words {
                if let Some((k, v)) = arg.split_once('=') {
                    args.push((k.to_string(), v.trim_matches('"').to_string()));
                }
            }
        } else if keyword.eq_ignore_ascii_case("FROM") {
            let rest: Vec<&str> = words.filter(|w| !w.starts_with("--")).collect();
            let Some(image) = rest.first() else { continue };
            let alias = match rest.as_slice() {
                [_, kw, name, ..] if kw.eq_ignore_ascii_case("AS") => Some(name.to_string()),
                _ => None,
            };
            stages.push((alias, substitute(image, &args), i + 1));
        }
    }
    let built = target
        .and_then(|t| {
            stages
                .iter()
                .find(|(alias, _, _)| alias.as_deref().is_some_and(|a| a.eq_ignore_ascii_case(t)))
        })
        .or(stages.last());
    let mut image_at = built.map(|(_, image, line)| (image.clone(), *line))?;
    // A final stage built on an earlier one runs that one's Python.
    for _ in 0..stages.len() {
        let earlier = stages
            .iter()
            .find(|(alias, _, _)| alias.as_deref() == Some(image_at.0.as_str()));
        match earlier {
            Some((_, image, line)) => image_at = (image.clone(), *line),
            None => break,
        }
    }
    from_image(&image_at.0).map(|v| (v, image_at.1))
}

/// `${NAME}`, `$NAME` and `${NAME:-default}` replaced by the `ARG` defaults seen so far.
fn substitute(image: &str, args: &[(String, String)]) -> String {
    let mut out = image.to_string();
    for (name, value) in args.iter().rev() {
        out = out
            .replace(&format!("${{{name}}}"), value)
            .replace(&format!("${name}"), value);
    }
    // What is left unresolved keeps its inline default.
    while let Some(start) = out.find("${") {
        let Some(len) = out[start..].find('}') else {
            break;
        };
        let inner = &out[start + 2..start + len];
        let default = inner.split_once(":-").map_or("", |(_, d)| d).to_string();
        out.replace_range(start..=start + len, &default);
    }
    out
}

/// The lowest version a `requires-python` or Poetry `python` constraint allows:
/// `>=3.8`, `^3.9`, `~=3.10`, `>=3.8,<4`, `3.11.*`, `==3.12`.
pub fn lowest_allowed(spec: &str) -> Option<Version> {
    spec.split([',', '|'])
        .filter_map(|part| {
            let part = part.trim();
            if part.starts_with('<') || part.starts_with("!=") {
                return None;
            }
            leading_version(part.trim_start_matches(['>', '=', '^', '~', ' ']))
        })
        .min()
}

/// What the service's Python is, as far as its build context says.
pub fn detect(
    context: &Path,
    dockerfile: Option<&str>,
    target: Option<&str>,
    image: Option<&str>,
) -> Option<Found> {
    let dockerfile_name = dockerfile.unwrap_or("Dockerfile");
    let dockerfile = fs::read_to_string(context.join(dockerfile_name)).ok();
    let built = dockerfile
        .as_deref()
        .and_then(|d| from_dockerfile_stage(d, target));
    if let Some((version, line)) = built {
        return Some(Found {
            version,
            source: format!("{dockerfile_name} line {line}"),
        });
    }
    if let Some(version) = image.and_then(from_image) {
        return Some(Found {
            version,
            source: format!("its image {}", image.unwrap_or_default()),
        });
    }
    let pinned = fs::read_to_string(context.join(".python-version")).ok();
    let pinned = pinned.as_deref().and_then(|t| t.lines().next());
    if let Some(version) = pinned.and_then(|l| leading_version(l.trim())) {
        return Some(Found {
            version,
            source: ".python-version".into(),
        });
    }
    let pyproject = fs::read_to_string(context.join("pyproject.toml")).ok()?;
    let doc: toml_edit::DocumentMut = pyproject.parse().ok()?;
    let declared = doc
        .get("project")
        .and_then(|p| p.get("requires-python"))
        .map(|v| (v, "requires-python"))
        .or_else(|| {
            doc.get("tool")
                .and_then(|t| t.get("poetry"))
                .and_then(|p| p.get("dependencies"))
                .and_then(|d| d.get("python"))
                .map(|v| (v, "Poetry's python"))
        })?;
    let version = lowest_allowed(declared.0.as_str()?)?;
    Some(Found {
        version,
        source: format!("pyproject.toml's {}", declared.1),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn v(major: u32, minor: u32) -> Version {
        Version { major, minor }
    }

    #[test]
    fn image_tags_name_their_python() {
        assert_eq!(from_image("python:3.9-slim"), Some(v(3, 9)));
        assert_eq!(
            from_image("docker.io/library/python:3.8.18-bullseye"),
            Some(v(3, 8))
        );
        assert_eq!(from_image("python:3.12@sha256:abc"), Some(v(3, 12)));
        assert_eq!(
            from_image("tiangolo/uvicorn-gunicorn-fastapi:python3.9"),
            Some(v(3, 9))
        );
        assert_eq!(from_image("localhost:5000/python:3.10"), Some(v(3, 10)));
        assert_eq!(from_image("python:slim"), None);
        assert_eq!(from_image("python"), None);
        assert_eq!(from_image("node:20"), None);
    }

    #[test]
    fn the_final_stage_decides_through_stage_names_and_args() {
        let multi = "ARG PY=3.8\nFROM python:${PY}-slim AS base\nRUN pip install x\n\
                     FROM node:20 AS assets\nFROM base AS runtime\nCMD [\"app\"]\n";
        assert_eq!(from_dockerfile(multi), Some((v(3, 8), 2)));
        let plain = "# syntax=docker/dockerfile:1\nFROM --platform=$BUILDPLATFORM python:3.11 AS build\nFROM python:3.9-slim\n";
        assert_eq!(from_dockerfile(plain), Some((v(3, 9), 3)));
        let inline = "FROM python:${PYTHON_VERSION:-3.10}-slim\n";
        assert_eq!(from_dockerfile(inline), Some((v(3, 10), 1)));
        assert_eq!(from_dockerfile("FROM ubuntu:24.04\n"), None);
    }

    #[test]
    fn constraints_give_their_lowest_version() {
        assert_eq!(lowest_allowed(">=3.8"), Some(v(3, 8)));
        assert_eq!(lowest_allowed("^3.9"), Some(v(3, 9)));
        assert_eq!(lowest_allowed(">=3.8,<4"), Some(v(3, 8)));
        assert_eq!(lowest_allowed("~=3.10"), Some(v(3, 10)));
        assert_eq!(lowest_allowed("3.11.*"), Some(v(3, 11)));
        assert_eq!(lowest_allowed("<3.12"), None);
    }
}
