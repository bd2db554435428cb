//! Fixture cases run through the real binary, cargo-style: each `tests/cases/<name>/` holds
//! `cmd` (the arguments), `in/` (the project), and what must come out: `out/` (the project
//! afterwards; absent = unchanged), `stdout` and `stderr` (exact, with the project's
//! temporary folder written `[ROOT]` and `[..]` matching any text within a line), `status`
//! (exit code, default 0). Every successful case is then run a second time, which
//! must change nothing.
//!
//! The real Docker Compose then judges every compose file the case changed: it must accept
//! the output (with no profile and with every profile) whenever it accepted the input.
//!
//! `OBS_INIT_BLESS=1 cargo test --test cases` rewrites `out/`, `stdout` and `stderr` from the
//! actual results, for review in `git diff`; `OBS_INIT_CASE=WORDS` runs only the cases whose
//! name holds WORDS.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use assert_cmd::Command;

mod common;

use common::oracle::{self, Profiles};
use obs_init::compose::overlay;

fn read_tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    common::read_tree(root)
}

fn copy_tree(from: &Path, to: &Path) {
    for (rel, bytes) in read_tree(from) {
        let dest = to.join(&rel);
        fs::create_dir_all(dest.parent().expect("parent")).expect("mkdir");
        fs::write(dest, bytes).expect("write");
    }
}

fn write_tree(root: &Path, tree: &BTreeMap<String, Vec<u8>>) {
    if root.exists() {
        fs::remove_dir_all(root).expect("clear out/");
    }
    for (rel, bytes) in tree {
        let dest = root.join(rel);
        fs::create_dir_all(dest.parent().expect("parent")).expect("mkdir");
        fs::write(dest, bytes).expect("write");
    }
}

/// The first difference between two trees, as a readable message.
fn tree_diff(
    expected: &BTreeMap<String, Vec<u8>>,
    actual: &BTreeMap<String, Vec<u8>>,
) -> Option<String> {
    for (path, want) in expected {
        match actual.get(path) {
            None => return Some(format!("{path}: missing")),
            Some(got) if got != want => {
                let diff = similar::TextDiff::from_lines(
                    &*String::from_utf8_lossy(want),
                    &*String::from_utf8_lossy(got),
                )
                .unified_diff()
                .header("expected", "actual")
                .to_string();
                return Some(format!("{path} differs:\n{diff}"));
            }
            _ => {}
        }
    }
    actual
        .keys()
        .find(|p| !expected.contains_key(*p))
        .map(|p| format!("{p}: unexpected file"))
}

struct Run {
    status: i32,
    stdout: String,
    stderr: String,
}

fn run(dir: &Path, args: &[String]) -> Run {
    let out = Command::cargo_bin("obs-init")
        .expect("binary")
        .current_dir(dir)
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("CLICOLOR_FORCE")
        .output()
        .expect("runs");
    Run {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A case's project folder, inside its temporary folder.
struct Project(PathBuf);

impl Project {
    fn path(&self) -> &Path {
        &self.0
    }
}

fn check_case(case: &Path, bless: bool) -> Result<(), String> {
    let read = |name: &str| fs::read_to_string(case.join(name)).ok();
    let args: Vec<String> = read("cmd")
        .ok_or("missing cmd file")?
        .split_whitespace()
        .map(String::from)
        .collect();
    let want_status: i32 = read("status").map_or(0, |s| s.trim().parse().expect("status"));
    let input = read_tree(&case.join("in"));
    let out_dir = case.join("out");
    // The project sits in a folder of a fixed name: Compose names the project after it,
    // and that name is written (`service.namespace`).
    let tmp_dir = tempfile::tempdir().expect("tempdir");
    let tmp = Project(tmp_dir.path().join("shop"));
    fs::create_dir_all(tmp.path()).expect("project folder");
    copy_tree(&case.join("in"), tmp.path());

    let mut first = run(tmp.path(), &args);
    // The temporary folder differs between runs: messages show it as `[ROOT]`.
    let root = tmp.path().to_string_lossy().to_string();
    first.stdout = first.stdout.replace(&root, "[ROOT]");
    first.stderr = first.stderr.replace(&root, "[ROOT]");
    let actual = read_tree(tmp.path());
    if bless {
        if actual != input {
            write_tree(&out_dir, &actual);
        } else if out_dir.exists() {
            fs::remove_dir_all(&out_dir).expect("remove out/");
        }
        if case.join("stdout").exists() {
            fs::write(case.join("stdout"), &first.stdout).expect("bless stdout");
        }
        let wildcards = read("stderr").is_some_and(|s| s.contains("[..]"));
        if !wildcards {
            fs::write(case.join("stderr"), &first.stderr).expect("bless stderr");
        }
    }
    let context = || format!("\n--- stdout\n{}--- stderr\n{}", first.stdout, first.stderr);
    if first.status != want_status {
        return Err(format!(
            "exit code {} (expected {want_status}){}",
            first.status,
            context()
        ));
    }
    let expected = if out_dir.exists() {
        read_tree(&out_dir)
    } else {
        input.clone()
    };
    if let Some(diff) = tree_diff(&expected, &actual) {
        return Err(format!("{diff}{}", context()));
    }
    // What `remove` leaves was onboarded before (maybe by an older obs-init): only what
    // onboarding writes is judged for its namespace.
    let onboards = args.first().is_none_or(|a| a != "remove");
    compose_accepts(case, tmp.path(), &input, &actual, onboards)?;
    if let Some(want) = read("stdout")
        && want != first.stdout
    {
        return Err(format!(
            "stdout differs:\n--- expected\n{want}{}",
            context()
        ));
    }
    let want_stderr = read("stderr").unwrap_or_default();
    if !matches_wildcards(&want_stderr, &first.stderr) {
        return Err(format!(
            "stderr differs:\n--- expected\n{want_stderr}{}",
            context()
        ));
    }
    let dry_run = args
        .iter()
        .any(|a| a == "--dry-run" || a == "-n" || a == "--check" || a == "doctor");
    if want_status == 0 && !dry_run {
        let second = run(tmp.path(), &args);
        // Under --no-lock the lock stays stale, so a second run still names it, but
        // writes nothing.
        let wrote = ["Updated ", "Created ", "Deleted "]
            .iter()
            .any(|verb| second.stderr.contains(verb));
        let idle = second.stderr.contains("Nothing to do")
            || second.stderr.contains("Nothing to remove")
            || (args.iter().any(|a| a == "--no-lock") && !wrote);
        if second.status != 0 || !idle {
            return Err(format!(
                "second run was not a no-op (exit {}):\n{}{}",
                second.status, second.stderr, second.stdout
            ));
        }
        if let Some(diff) = tree_diff(&actual, &read_tree(tmp.path())) {
            return Err(format!("second run changed files: {diff}"));
        }
    }
    Ok(())
}

/// Whether `actual` is `expected` line for line, where `[..]` in an expected line matches
/// any text.
fn matches_wildcards(expected: &str, actual: &str) -> bool {
    let (want, got): (Vec<&str>, Vec<&str>) =
        (expected.lines().collect(), actual.lines().collect());
    want.len() == got.len()
        && want.iter().zip(&got).all(|(w, g)| {
            let parts: Vec<&str> = w.split("[..]").collect();
            if parts.len() == 1 {
                return w == g;
            }
            let mut rest = *g;
            for (i, part) in parts.iter().enumerate() {
                if i == 0 {
                    let Some(r) = rest.strip_prefix(part) else {
                        return false;
                    };
                    rest = r;
                } else if i == parts.len() - 1 {
                    return rest.ends_with(part);
                } else {
                    let Some(at) = rest.find(part) else {
                        return false;
                    };
                    rest = &rest[at + part.len()..];
                }
            }
            true
        })
}

/// Whether a file name is one Compose loads as a compose file.
fn is_compose_file(rel: &str) -> bool {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    (name.starts_with("compose") || name.starts_with("docker-compose"))
        && (name.ends_with(".yml") || name.ends_with(".yaml"))
}

/// An overlay obs-init wrote loads in the real Compose with the files it goes with: through
/// `.env`'s `COMPOSE_FILE` when there is one (plain `docker compose`, no flags), else with
/// the compose files beside it as `-f` flags; either way the sidecars it adds run.
fn overlay_loads(project: &Path, rel: &str, onboards: bool) -> Result<(), String> {
    let file = project.join(rel);
    let dir = file.parent().expect("in a folder").to_path_buf();
    let env = fs::read_to_string(dir.join(".env")).unwrap_or_default();
    let files: Vec<PathBuf> = if env.contains("COMPOSE_FILE") {
        Vec::new()
    } else {
        let mut base: Vec<PathBuf> = fs::read_dir(&dir)
            .expect("dir")
            .map(|e| e.expect("entry").path())
            .filter(|p| {
                p != &file
                    && p.file_name()
                        .is_some_and(|n| is_compose_file(&n.to_string_lossy()))
            })
            .collect();
        base.sort();
        base.push(file.clone());
        base
    };
    let refs: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    for profiles in Profiles::BOTH {
        let model = oracle::config(&dir, &refs, profiles).map_err(|e| {
            format!(
                "Compose rejects the project with the overlay {rel} ({profiles:?} profiles): {e}"
            )
        })?;
        if onboards && profiles == Profiles::All {
            // The project's own values live in the files beside the overlay.
            let texts: Vec<u8> = fs::read_dir(&dir)
                .expect("dir")
                .map(|e| e.expect("entry").path())
                .filter(|p| {
                    p.file_name()
                        .is_some_and(|n| is_compose_file(&n.to_string_lossy()))
                })
                .flat_map(|p| fs::read(p).expect("read"))
                .collect();
            let overlay = fs::read(&file).expect("overlay");
            let both = [overlay.as_slice(), texts.as_slice()].concat();
            namespace_is_the_project(rel, &both, &model)?;
        }
        let sidecars = model["services"]
            .as_object()
            .map_or(0, |s| s.keys().filter(|k| k.ends_with("-dapr")).count());
        if profiles == Profiles::All && sidecars == 0 {
            return Err(format!("Compose loaded no sidecar with the overlay {rel}"));
        }
    }
    Ok(())
}

/// The files Compose reads together with the compose file `rel` of `tree`: the file, then
/// the override beside it (as plain `docker compose` does), or, for an override, the compose
/// file it goes with first.
fn read_with(rel: &str, tree: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
    const MAIN: [&str; 4] = [
        "compose.yaml",
        "compose.yml",
        "docker-compose.yaml",
        "docker-compose.yml",
    ];
    let (folder, name) = match rel.rsplit_once('/') {
        Some((f, n)) => (format!("{f}/"), n),
        None => (String::new(), rel),
    };
    let first = |names: &[&str]| {
        names
            .iter()
            .map(|n| format!("{folder}{n}"))
            .find(|p| tree.contains_key(p))
    };
    if obs_init::dotenv::OVERRIDE_NAMES.contains(&name) {
        return first(&MAIN).into_iter().chain([rel.to_string()]).collect();
    }
    if !MAIN.contains(&name) {
        return vec![rel.to_string()];
    }
    std::iter::once(rel.to_string())
        .chain(first(&obs_init::dotenv::OVERRIDE_NAMES))
        .collect()
}

/// Every compose file the case changed loads in the real Compose if its input did, with the
/// override file Compose reads with it.
fn compose_accepts(
    case: &Path,
    project: &Path,
    input: &BTreeMap<String, Vec<u8>>,
    actual: &BTreeMap<String, Vec<u8>>,
    onboards: bool,
) -> Result<(), String> {
    let mut judged: Vec<Vec<String>> = Vec::new();
    for (rel, after) in actual {
        if !is_compose_file(rel) || input.get(rel) == Some(after) {
            continue;
        }
        if after.starts_with(overlay::HEADER.as_bytes()) {
            overlay_loads(project, rel, onboards)?;
            continue;
        }
        let files = read_with(rel, actual);
        if judged.contains(&files) {
            continue;
        }
        judged.push(files.clone());
        let before_dir = tempfile::tempdir().expect("tempdir");
        copy_tree(&case.join("in"), before_dir.path());
        let file = Path::new(rel);
        let paths = |root: &Path| -> Vec<PathBuf> { files.iter().map(|f| root.join(f)).collect() };
        for profiles in Profiles::BOTH {
            let dir_of = |root: &Path| root.join(file.parent().unwrap_or(Path::new("")));
            let before = paths(before_dir.path());
            let before: Vec<&Path> = before.iter().map(PathBuf::as_path).collect();
            let accepted = oracle::config(&dir_of(before_dir.path()), &before, profiles);
            if accepted.is_err() {
                continue;
            }
            let after_paths = paths(project);
            let after_paths: Vec<&Path> = after_paths.iter().map(PathBuf::as_path).collect();
            match oracle::config(&dir_of(project), &after_paths, profiles) {
                Err(e) => {
                    return Err(format!(
                        "Compose rejects the output {} ({profiles:?} profiles): {e}",
                        files.join(" + ")
                    ));
                }
                Ok(model) if onboards && profiles == Profiles::All => {
                    namespace_is_the_project(rel, after, &model)?
                }
                Ok(_) => {}
            }
        }
    }
    Ok(())
}

/// Every `service.namespace` obs-init wrote resolves, in the real Compose, to the project's
/// name, and the default written beside it (for tools that do not set
/// `COMPOSE_PROJECT_NAME`) is the name Compose gives the project too.
fn namespace_is_the_project(
    rel: &str,
    after: &[u8],
    model: &serde_json::Value,
) -> Result<(), String> {
    let text = String::from_utf8_lossy(after);
    let name = model["name"].as_str().unwrap_or_default();
    let default = text
        .find("service.namespace=${COMPOSE_PROJECT_NAME")
        .and_then(|at| text[at..].split_once(":-"))
        .and_then(|(_, rest)| rest.split_once('}'))
        .map(|(d, _)| d);
    if default.is_some_and(|d| d != name) {
        return Err(format!(
            "{rel}: service.namespace defaults to {default:?}, Compose names the project {name}"
        ));
    }
    // Every service pointed at the platform's collector: onboarded.
    let services = model["services"].as_object().cloned().unwrap_or_default();
    let resolved: Vec<String> = services
        .values()
        .filter(|s| s["environment"]["OTEL_COLLECTOR_ENDPOINT"] == "otel-collector:4317")
        .map(|s| {
            s["environment"]["OTEL_RESOURCE_ATTRIBUTES"]
                .as_str()
                .unwrap_or_default()
        })
        // A namespace of the project's own, written as it resolves, stays its own.
        .filter(|v| {
            !v.split(',')
                .any(|kv| kv.starts_with("service.namespace=") && text.contains(kv))
        })
        .map(String::from)
        .collect();
    let wanted = format!("service.namespace={name}");
    match resolved
        .iter()
        .find(|v| !v.split(',').any(|kv| kv == wanted))
    {
        Some(v) => Err(format!(
            "{rel}: Compose resolves OTEL_RESOURCE_ATTRIBUTES to {v}, not with {wanted}"
        )),
        None => Ok(()),
    }
}

#[test]
fn fixture_cases() {
    let bless = std::env::var_os("OBS_INIT_BLESS").is_some();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut cases: Vec<PathBuf> = fs::read_dir(&root)
        .expect("tests/cases")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir())
        // `OBS_INIT_CASE=kubernetes_` runs the cases whose name holds it (bless included).
        .filter(|p| {
            std::env::var("OBS_INIT_CASE").map_or(true, |f| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().contains(&f))
            })
        })
        .collect();
    cases.sort();
    assert!(!cases.is_empty(), "no cases found");
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|case| {
            check_case(case, bless).err().map(|e| {
                format!(
                    "case {}: {e}",
                    case.file_name().expect("name").to_string_lossy()
                )
            })
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}
