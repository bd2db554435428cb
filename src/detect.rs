//! Which framework a service runs: from its compose definition and a scan of its code.
//!
//! The scan respects `.gitignore` and never enters virtualenvs, `node_modules` or build
//! outputs, so it stays fast on large monorepos.

use std::fs;
use std::path::{Path, PathBuf};

use std::io::Read;

use ignore::WalkBuilder;

use crate::deps;
use crate::frameworks;
pub use crate::frameworks::Framework;

/// What was found, and why: each framework with the first piece of evidence for it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Detection {
    pub found: Vec<(Framework, String)>,
}

impl Detection {
    pub fn has(&self, f: Framework) -> bool {
        self.found.iter().any(|(g, _)| *g == f)
    }

    fn add(&mut self, f: Framework, why: impl FnOnce() -> String) {
        if !self.has(f) {
            self.found.push((f, why()));
        }
    }
}

/// Directories never worth scanning, ignored or not.
const SKIP: &[&str] = crate::contract::VENDORED_DIRS;

/// Files larger than this are not read for imports (generated or vendored code).
const MAX_PY_BYTES: u64 = 512 * 1024;

/// Detects frameworks from a service's compose definition (its image, its entrypoint and
/// command, each on one line) and the code under `context` (its build context), shown
/// relative to `root`.
pub fn detect(
    image: Option<&str>,
    commands: &[String],
    environment: &[(String, String)],
    context: Option<&Path>,
    root: &Path,
) -> Detection {
    let mut d = Detection::default();
    // What the framework's own launcher reads says which framework it is.
    for (key, value) in environment {
        if let Some(framework) = frameworks::by_env(key) {
            d.add(framework, || format!("its environment sets {key}={value}"));
        }
    }
    let said = image
        .map(|i| (i, format!("its image is `{i}`")))
        .into_iter()
        .chain(
            commands
                .iter()
                .map(|c| (c.as_str(), format!("its command runs `{c}`"))),
        );
    for (text, why) in said {
        if let Some(framework) = frameworks::launched_by(text, context) {
            d.add(framework, || why);
        }
    }
    // A worker its command launches (`celery -A app worker`) serves no web app, whatever
    // web framework its shared build context imports: those found only in the code are not
    // what this container runs.
    let launched = d.found.len();
    let worker = d
        .found
        .iter()
        .any(|(f, _)| frameworks::app_module_hook(&[*f]).is_some())
        && !d
            .found
            .iter()
            .any(|(f, _)| frameworks::web_app(&[*f]).is_some());
    if let Some(context) = context {
        scan(context, root, &mut d);
    }
    if worker {
        let mut index = 0;
        d.found.retain(|(f, _)| {
            index += 1;
            index <= launched || frameworks::web_app(&[*f]).is_none()
        });
    }
    d
}

fn scan(dir: &Path, root: &Path, d: &mut Detection) {
    // Reading the files is the cost of a scan on a large tree, so it is shared among the
    // cores there; a small project stays on one thread, where starting others would cost
    // more than they save. The evidence is then taken shallowest path first, which makes
    // what is named deterministic (not the order directories happen to be read in) and
    // prefers the project's own top-level files (requirements.txt) to deep ones.
    let candidates: Vec<(usize, PathBuf, Source)> = WalkBuilder::new(dir)
        .hidden(true)
        .git_ignore(true)
        .git_global(false)
        .require_git(false)
        .filter_entry(|e| !SKIP.contains(&e.file_name().to_string_lossy().as_ref()))
        .build()
        .flatten()
        .filter(|e| e.file_type().is_some_and(|t| t.is_file()))
        .filter_map(|e| source(e.path()).map(|kind| (e.depth(), e.into_path(), kind)))
        .collect();
    let shown = |p: &Path| {
        p.strip_prefix(root)
            .unwrap_or(p)
            .to_string_lossy()
            .replace('\\', "/")
    };
    let examine = |files: &[(usize, PathBuf, Source)]| {
        let mut found = Vec::new();
        for (depth, path, kind) in files {
            for (f, why) in file_evidence(path, *kind, &shown(path)) {
                found.push((*depth, path.clone(), f, why));
            }
        }
        found
    };
    // (Asked only for a large tree: finding the core count reads cgroup files.)
    let threads = || std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut found = if candidates.len() < PARALLEL_FROM || threads() == 1 {
        examine(&candidates)
    } else {
        let chunk = candidates.len().div_ceil(threads());
        std::thread::scope(|scope| {
            let handles: Vec<_> = candidates
                .chunks(chunk)
                .map(|part| scope.spawn(|| examine(part)))
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        })
    };
    found.sort();
    for (_, _, f, why) in found {
        d.add(f, || why);
    }
    let python = candidates
        .iter()
        .any(|(_, _, kind)| *kind != Source::DagsterInstance);
    if python && d.found.is_empty() {
        d.add(Framework::Python, || match shown(dir) {
            d if d.is_empty() || d == "." => "the project holds Python code".to_string(),
            d => format!("{d} holds Python code"),
        });
    }
}

/// From how many files a scan reads them on several threads.
const PARALLEL_FROM: usize = 512;

/// A file that can say what the project runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// `dagster.yaml` or `workspace.yaml`.
    DagsterInstance,
    /// `requirements*.txt`.
    Requirements,
    Pyproject,
    /// Python code other than obs-init's own module (which mentions every framework it
    /// supports).
    Code,
}

/// What kind of evidence the file is, if any. All but Dagster's files also say the project
/// is Python.
fn source(path: &Path) -> Option<Source> {
    let name = path.file_name()?.to_string_lossy();
    if name == "dagster.yaml" || name == "workspace.yaml" {
        Some(Source::DagsterInstance)
    } else if name.starts_with("requirements") && name.ends_with(".txt") {
        Some(Source::Requirements)
    } else if name == "pyproject.toml" {
        Some(Source::Pyproject)
    } else if name.ends_with(".py") && name != crate::python::MODULE_FILE {
        Some(Source::Code)
    } else {
        None
    }
}

/// The frameworks a file names, each with why (the file shown as `shown`).
fn file_evidence(path: &Path, kind: Source, shown: &str) -> Vec<(Framework, String)> {
    // A requirements file compiled from a `.in` lists what the project's packages pull in
    // too (locust brings flask): the `.in` beside it is what the project asks for.
    // An `.in` that includes others (`-r base.in`) does not list everything itself: then
    // the compiled file, transitive packages and all, is the better evidence.
    let source_in = path.with_extension("in");
    let includes = |text: String| {
        text.lines().any(|l| {
            l.trim_start().starts_with("-r") || l.trim_start().starts_with("--requirement")
        })
    };
    let (path, shown) = match kind {
        Source::Requirements if fs::read_to_string(&source_in).is_ok_and(|t| !includes(t)) => (
            source_in.as_path(),
            format!("{}.in", shown.strip_suffix(".txt").unwrap_or(shown)),
        ),
        _ => (path, shown.to_string()),
    };
    let (packages, verb) = match kind {
        Source::DagsterInstance => {
            return vec![(Framework::Dagster, format!("{shown} exists"))];
        }
        Source::Code => (imports(&read_small(path).unwrap_or_default()), "imports"),
        Source::Pyproject => (
            pyproject_names(&fs::read_to_string(path).unwrap_or_default()),
            "lists",
        ),
        Source::Requirements => (
            deps::requirements_names(&fs::read_to_string(path).unwrap_or_default()),
            "lists",
        ),
    };
    packages
        .into_iter()
        .filter_map(|pkg| Framework::of_package(&pkg).map(|f| (f, format!("{shown} {verb} {pkg}"))))
        .collect()
}

/// The file's text when it is UTF-8 and at most [`MAX_PY_BYTES`] long. Read with a cap
/// rather than after a size check: a scan reads tens of thousands of files, and the open and
/// reads are all it needs (no `stat` for the size, none for the buffer's capacity).
fn read_small(path: &Path) -> Option<String> {
    let mut text = String::new();
    fs::File::open(path)
        .ok()?
        .take(MAX_PY_BYTES + 1)
        .read_to_string(&mut text)
        .ok()?;
    (text.len() as u64 <= MAX_PY_BYTES).then_some(text)
}

/// Top-level modules imported by `import x` / `from x import y` lines.
pub fn imports(source: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in source.lines() {
        let line = line.trim_start();
        let rest = line
            .strip_prefix("import ")
            .or_else(|| line.strip_prefix("from "));
        let Some(rest) = rest else { continue };
        for part in rest.split(',') {
            let module = part.split_whitespace().next().unwrap_or("");
            let top = module.split('.').next().unwrap_or("");
            if !top.is_empty() && !top.starts_with('.') && !out.iter().any(|m| m == top) {
                out.push(top.to_string());
            }
            if line.starts_with("from ") {
                break;
            }
        }
    }
    out
}

/// Distribution names in a pyproject's dependency lists (PEP 621 and Poetry), read loosely:
/// any quoted requirement or Poetry key.
fn pyproject_names(text: &str) -> Vec<String> {
    let Ok(doc) = text.parse::<toml_edit::DocumentMut>() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if let Some(deps) = doc
        .get("project")
        .and_then(|p| p.get("dependencies"))
        .and_then(|d| d.as_array())
    {
        out.extend(
            deps.iter()
                .filter_map(|v| v.as_str().and_then(deps::requirement_name)),
        );
    }
    if let Some(poetry) = doc
        .get("tool")
        .and_then(|t| t.get("poetry"))
        .and_then(|p| p.get("dependencies"))
        .and_then(|d| d.as_table_like())
    {
        out.extend(poetry.iter().map(|(k, _)| deps::normalize(k)));
    }
    out
}

/// Every file named `name` below `root` (gitignore-aware, same skips as detection).
pub fn find_files(root: &Path, name: &str) -> Vec<PathBuf> {
    find_files_named(root, &[name])
}

/// [`find_files`] for several names in one walk.
pub fn find_files_named(root: &Path, names: &[&str]) -> Vec<PathBuf> {
    find_files_where(root, |name| names.contains(&name))
}

/// The files below `root` whose name `wanted` takes, in the same gitignore-aware walk.
pub fn find_files_where(root: &Path, wanted: impl Fn(&str) -> bool) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = WalkBuilder::new(root)
        .hidden(true)
        .git_ignore(true)
        .git_global(false)
        .require_git(false)
        .filter_entry(|e| !SKIP.contains(&e.file_name().to_string_lossy().as_ref()))
        .build()
        .flatten()
        .filter(|e| {
            e.file_type().is_some_and(|t| t.is_file()) && wanted(&e.file_name().to_string_lossy())
        })
        .map(|e| e.into_path())
        .collect();
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_compiled_requirements_file_is_read_through_its_source_unless_that_includes_others() {
        let dir = tempfile::tempdir().expect("tempdir");
        let txt = dir.path().join("requirements.txt");
        std::fs::write(&txt, "flask==3.1.3\n    # via locust\nlocust==2.43.0\n").expect("w");
        std::fs::write(dir.path().join("requirements.in"), "locust==2.43.0\n").expect("w");
        let found = file_evidence(&txt, Source::Requirements, "requirements.txt");
        assert!(found.is_empty(), "{found:?}");
        // With `-r`, the source does not list everything: the compiled file is read.
        std::fs::write(dir.path().join("requirements.in"), "-r base.in\nlocust\n").expect("w");
        let found = file_evidence(&txt, Source::Requirements, "requirements.txt");
        assert_eq!(
            found,
            vec![(Framework::Flask, "requirements.txt lists flask".to_string())]
        );
    }

    #[test]
    fn imports_are_read_from_both_forms() {
        let src =
            "import os, mlflow.tracking\nfrom fastapi import FastAPI\n  from .local import x\n";
        assert_eq!(imports(src), vec!["os", "mlflow", "fastapi"]);
    }

    #[test]
    fn a_repo_scan_names_its_evidence_and_skips_virtualenvs() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        fs::write(root.join("requirements.txt"), "FastAPI==0.115\n").expect("write");
        fs::create_dir_all(root.join(".venv/lib")).expect("mkdir");
        fs::write(root.join(".venv/lib/x.py"), "import dagster\n").expect("write");
        fs::create_dir_all(root.join("node_modules")).expect("mkdir");
        fs::write(root.join("node_modules/y.py"), "import mlflow\n").expect("write");
        let d = detect(None, &[], &[], Some(root), root);
        assert_eq!(
            d.found,
            vec![(
                Framework::FastApi,
                "requirements.txt lists fastapi".to_string()
            )]
        );
    }

    #[test]
    fn the_shallowest_evidence_is_named_whatever_the_directory_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        for sub in ["a", "b/c"] {
            fs::create_dir_all(root.join(sub)).expect("mkdir");
            fs::write(root.join(sub).join("main.py"), "import fastapi\n").expect("write");
        }
        fs::write(root.join("requirements.txt"), "fastapi\n").expect("write");
        fs::write(root.join("b/c/jobs.py"), "import dagster\n").expect("write");
        fs::write(root.join("b/flows.py"), "import dagster\n").expect("write");
        for _ in 0..5 {
            let d = detect(None, &[], &[], Some(root), root);
            assert_eq!(
                d.found,
                vec![
                    (Framework::FastApi, "requirements.txt lists fastapi".into()),
                    (Framework::Dagster, "b/flows.py imports dagster".into()),
                ]
            );
        }
    }

    #[test]
    fn a_large_tree_read_on_several_threads_names_the_same_evidence() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        fs::create_dir_all(root.join("gen/deep")).expect("mkdir");
        for i in 0..PARALLEL_FROM * 2 {
            fs::write(root.join(format!("gen/m{i:04}.py")), "x = 1\n").expect("write");
        }
        fs::write(root.join("gen/deep/train.py"), "import mlflow\n").expect("write");
        fs::write(root.join("gen/m0999.py"), "import mlflow\n").expect("write");
        fs::write(root.join("gen/m0001.py"), "import dagster\n").expect("write");
        let d = detect(None, &[], &[], Some(root), root);
        assert_eq!(
            d.found,
            vec![
                (Framework::Dagster, "gen/m0001.py imports dagster".into()),
                (Framework::Mlflow, "gen/m0999.py imports mlflow".into()),
            ]
        );
    }

    #[test]
    fn gitignored_code_is_not_evidence() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        fs::write(root.join(".gitignore"), "scratch/\n").expect("write");
        fs::create_dir_all(root.join("scratch")).expect("mkdir");
        fs::write(root.join("scratch/try.py"), "import mlflow\n").expect("write");
        fs::write(root.join("main.py"), "print(1)\n").expect("write");
        let d = detect(None, &[], &[], Some(root), root);
        assert!(!d.has(Framework::Mlflow));
        assert!(d.has(Framework::Python));
    }

    #[test]
    fn compose_commands_and_images_are_evidence_named_for_what_they_are() {
        let d = detect(
            None,
            &["dagster-webserver -h 0.0.0.0".into()],
            &[],
            None,
            Path::new("."),
        );
        assert!(d.has(Framework::Dagster));
        assert_eq!(
            d.found[0].1,
            "its command runs `dagster-webserver -h 0.0.0.0`"
        );
        let d = detect(
            Some("ghcr.io/mlflow/mlflow:v3"),
            &[],
            &[],
            None,
            Path::new("."),
        );
        assert_eq!(d.found[0].1, "its image is `ghcr.io/mlflow/mlflow:v3`");
        let env = [("FLASK_APP".to_string(), "orders:create_app".to_string())];
        let d = detect(None, &[], &env, None, Path::new("."));
        assert!(d.has(Framework::Flask), "{:?}", d.found);
        assert_eq!(
            d.found[0].1,
            "its environment sets FLASK_APP=orders:create_app"
        );
    }
}
