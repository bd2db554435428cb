//! Paths as obs-init shows and compares them: relative to the project, lexically
//! normalised, and as a compose file's bind mount names them. Nothing here reads a file.

use std::path::{Component, Path, PathBuf};

/// `path` relative to `dir` when it lies inside (`.` for `dir` itself), else as given.
pub fn display(dir: &Path, path: &Path) -> String {
    let rel = absolute(path);
    let base = absolute(dir);
    let shown = rel
        .strip_prefix(&base)
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| path.to_path_buf())
        .to_string_lossy()
        .replace('\\', "/");
    if shown.is_empty() { ".".into() } else { shown }
}

/// An absolute, lexically normalised path (no `.` or `..`), without touching the disk.
pub fn absolute(path: &Path) -> PathBuf {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut out = PathBuf::new();
    for c in abs.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// The folder a compose file's relative paths resolve against: the file's own (`.` for a
/// bare file name, whose parent reads as an empty path).
pub fn compose_dir(compose_path: &Path) -> PathBuf {
    match compose_path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// How a bind mount in a compose file in `from` names `to`: `./x` or `../x`.
pub fn mount_source(from: &Path, to: &Path) -> String {
    let from: Vec<_> = from.components().collect();
    let to_parts: Vec<_> = to.components().collect();
    let common = from
        .iter()
        .zip(&to_parts)
        .take_while(|(a, b)| a == b)
        .count();
    let mut parts: Vec<String> = vec!["..".into(); from.len() - common];
    parts.extend(
        to_parts[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    let joined = parts.join("/");
    if joined.starts_with("..") {
        joined
    } else {
        format!("./{joined}")
    }
}

/// A path as messages show it: without `./` components (`././pyproject.toml` reads
/// `pyproject.toml`).
pub fn shown(path: &Path) -> String {
    let clean: PathBuf = path
        .components()
        .filter(|c| !matches!(c, Component::CurDir))
        .collect();
    if clean.as_os_str().is_empty() {
        ".".into()
    } else {
        clean.display().to_string()
    }
}

/// `word` as a POSIX shell reads it back: as is when it is safe, else single-quoted.
pub fn shell_word(word: &str) -> String {
    let safe = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./:=@+,".contains(c));
    if safe {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_sources_are_relative_to_the_compose_file() {
        assert_eq!(
            mount_source(Path::new("/p"), Path::new("/p/dapr-config.yml")),
            "./dapr-config.yml"
        );
        assert_eq!(
            mount_source(Path::new("/p/deploy"), Path::new("/p/dapr-config.yml")),
            "../dapr-config.yml"
        );
        assert_eq!(
            mount_source(Path::new("/p"), Path::new("/p/dapr/config.yml")),
            "./dapr/config.yml"
        );
    }
}
