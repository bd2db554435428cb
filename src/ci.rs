//! A repository's CI pipelines (GitHub Actions workflows, GitLab CI): the files whose steps
//! build its images and start its compose projects on hosts obs-init never sees.

use std::path::{Path, PathBuf};

/// The CI files of the repository holding `dir` (its nearest ancestor with `.git`, else
/// `dir`): workflows in name order, then `.gitlab-ci.yml`; only those that exist.
pub fn files(dir: &Path) -> Vec<PathBuf> {
    let root = repository_root(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(root.join(".github/workflows"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yml" || x == "yaml"))
        .collect();
    files.sort();
    files.push(root.join(".gitlab-ci.yml"));
    files.retain(|p| p.is_file());
    files
}

/// The CI lines that start the compose project of `compose_path` on a host where the
/// external `network` does not exist: their file does not create it first.
pub fn starts_without(dir: &Path, compose_path: &Path, network: &str) -> Vec<ComposeStart> {
    let root = repository_root(dir);
    let compose = crate::paths::absolute(compose_path);
    let relative = compose
        .strip_prefix(&root)
        .unwrap_or(&compose)
        .to_path_buf();
    let default_named = crate::compose::COMPOSE_NAMES
        .iter()
        .any(|d| relative.file_name().is_some_and(|n| n == *d));
    let mut out = Vec::new();
    for file in files(dir) {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        if creates_network(&text, network) {
            continue;
        }
        out.extend(compose_starts(&file, &text).into_iter().filter(|s| {
            if s.compose_files.is_empty() {
                default_named
            } else {
                s.compose_files
                    .iter()
                    .any(|f| relative.ends_with(f.trim_start_matches("./")))
            }
        }));
    }
    out
}

fn repository_root(dir: &Path) -> PathBuf {
    let dir = crate::paths::absolute(dir);
    dir.ancestors()
        .find(|d| d.join(".git").exists())
        .unwrap_or(&dir)
        .to_path_buf()
}

/// A CI line that starts containers of a compose project (`docker compose up`, `run`,
/// `create`, `start`; `docker-compose` too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComposeStart {
    /// The CI file, and the line (1-based) in it.
    pub file: PathBuf,
    pub line: usize,
    /// The command as written, from `docker`.
    pub command: String,
    /// The compose files it names with `-f`/`--file` (none: the default file where it runs).
    pub compose_files: Vec<String>,
}

/// Every line of `text` (a CI file's) that starts a compose project's containers.
pub fn compose_starts(file: &Path, text: &str) -> Vec<ComposeStart> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim_start().starts_with('#'))
        .filter_map(|(i, l)| {
            compose_start(l).map(|(command, compose_files)| ComposeStart {
                file: file.to_path_buf(),
                line: i + 1,
                command,
                compose_files,
            })
        })
        .collect()
}

/// Whether `text` creates the external network `network` (`docker network create NAME`).
pub fn creates_network(text: &str, network: &str) -> bool {
    text.lines().any(|l| {
        let words: Vec<&str> = l.split_whitespace().collect();
        words
            .windows(3)
            .any(|w| w == ["docker", "network", "create"])
            && words.contains(&network)
    })
}

fn compose_start(line: &str) -> Option<(String, Vec<String>)> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let at = words
        .iter()
        .position(|w| *w == "docker-compose")
        .map(|i| (i, i + 1))
        .or_else(|| {
            words
                .windows(2)
                .position(|w| w == ["docker", "compose"])
                .map(|i| (i, i + 2))
        })?;
    let mut files = Vec::new();
    let mut rest = words[at.1..].iter();
    while let Some(w) = rest.next() {
        match *w {
            "&&" | "||" | ";" | "|" => return None,
            "-f" | "--file" => files.extend(rest.next().map(|f| unquoted(f))),
            w if w.starts_with("--file=") => files.push(unquoted(&w["--file=".len()..])),
            // Global options with a value, which would otherwise read as the subcommand.
            "-p"
            | "--project-name"
            | "--profile"
            | "--env-file"
            | "--project-directory"
            | "--ansi"
            | "--parallel"
            | "--progress" => {
                rest.next();
            }
            w if w.starts_with('-') => {}
            "up" | "run" | "create" | "start" => {
                let taken = words.len() - rest.len();
                let end = words[taken..]
                    .iter()
                    .position(|w| matches!(*w, "&&" | "||" | ";" | "|"))
                    .map_or(words.len(), |p| taken + p);
                return Some((words[at.0..end].join(" "), files));
            }
            _ => return None,
        }
    }
    None
}

fn unquoted(word: &str) -> String {
    word.trim_matches(|c| c == '"' || c == '\'').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn starts(text: &str) -> Vec<(usize, String, Vec<String>)> {
        compose_starts(Path::new("ci.yml"), text)
            .into_iter()
            .map(|s| (s.line, s.command, s.compose_files))
            .collect()
    }

    #[test]
    fn lines_that_start_containers_are_found_with_the_files_they_name() {
        let text = "\
jobs:
  test:
    steps:
      - run: docker compose build
      - run: docker compose -f docker-compose.yml -f ci.yml up -d --wait && pytest
      # - run: docker compose up
      - run: |
          docker-compose --project-name ci run --rm web pytest
      - run: docker compose --file=\"deploy/compose.yaml\" config
";
        assert_eq!(
            starts(text),
            vec![
                (
                    5,
                    "docker compose -f docker-compose.yml -f ci.yml up -d --wait".to_string(),
                    vec!["docker-compose.yml".to_string(), "ci.yml".to_string()]
                ),
                (
                    8,
                    "docker-compose --project-name ci run --rm web pytest".to_string(),
                    vec![]
                ),
            ]
        );
    }

    #[test]
    fn a_network_create_line_names_the_network_it_creates() {
        assert!(creates_network(
            "  - run: docker network create observability-net || true\n",
            "observability-net"
        ));
        assert!(!creates_network(
            "docker network create other\n",
            "observability-net"
        ));
    }
}
