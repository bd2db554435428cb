//! `obs-init remove` is the exact inverse of onboarding, as a user meets it in git: for every
//! onboarding fixture case and bundled example (with every optional edit: `--edit-entrypoint`,
//! `--module-path`, Poetry and PEP 621 projects, Dagster), onboard, commit, then `remove
//! --yes` right away: the work tree is the original commit again, byte for byte, and no file
//! is left behind. Every Python file compiles after each step.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

mod common;

fn obs_init(dir: &Path, args: &[String]) -> (bool, String) {
    common::outcome(
        Command::new(env!("CARGO_BIN_EXE_obs-init"))
            .current_dir(dir)
            .args(args)
            .env("NO_COLOR", "1"),
    )
}

fn git(dir: &Path, args: &[&str]) {
    let (ok, out) = common::outcome(
        Command::new("git")
            .current_dir(dir)
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(args),
    );
    assert!(ok, "git {args:?}: {out}");
}

fn tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    common::read_tree(root)
}

/// Every Python file below `root` compiles (a leftover import of a deleted module or a
/// half-removed line would not, or would not import).
fn compiles(root: &Path) -> Result<(), String> {
    let files: Vec<String> = tree(root)
        .into_keys()
        .filter(|p| p.ends_with(".py"))
        .collect();
    if files.is_empty() {
        return Ok(());
    }
    let (ok, out) = common::outcome(
        Command::new("python3")
            .current_dir(root)
            .args(["-B", "-m", "py_compile"])
            .args(&files),
    );
    if ok { Ok(()) } else { Err(out) }
}

/// The `-C`/`-f` flags of an onboarding command line, which `remove` needs too.
fn location_flags(args: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if matches!(
            a.as_str(),
            "-C" | "--dir" | "-f" | "--file" | "--dapr-config"
        ) && let Some(v) = it.next()
        {
            out.extend([a.clone(), v.clone()]);
        }
    }
    out
}

/// Onboards `project` (a copy of it) with `args`, commits, removes: `Err` says what broke.
fn round_trip(project: &Path, args: &[String]) -> Result<(), String> {
    let work = tempfile::tempdir().expect("tempdir");
    let dir = work.path();
    common::copy_dir(project, dir);
    git(dir, &["init", "-q"]);
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "original"]);
    let original = tree(dir);

    let (ok, out) = obs_init(dir, args);
    if !ok {
        return Err(format!("onboarding failed:\n{out}"));
    }
    compiles(dir).map_err(|e| format!("after onboarding: {e}"))?;
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "onboarded"]);

    let mut remove = vec!["remove".to_string(), "--yes".to_string()];
    remove.extend(location_flags(args));
    let (ok, out) = obs_init(dir, &remove);
    if !ok {
        return Err(format!("remove failed:\n{out}"));
    }
    compiles(dir).map_err(|e| format!("after remove: {e}"))?;
    let now = tree(dir);
    for (path, bytes) in &original {
        match now.get(path) {
            None => return Err(format!("{path} is gone after remove\n{out}")),
            Some(b) if b != bytes => {
                return Err(format!(
                    "{path} is not the original after remove:\n{}\n{out}",
                    String::from_utf8_lossy(b)
                ));
            }
            _ => {}
        }
    }
    if let Some(extra) = now.keys().find(|p| !original.contains_key(*p)) {
        return Err(format!("{extra} is left after remove\n{out}"));
    }
    Ok(())
}

/// The onboarding fixture cases: those that exit 0 and write.
fn onboarding_cases() -> Vec<(String, PathBuf, Vec<String>)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut out = Vec::new();
    for entry in fs::read_dir(&root).expect("cases") {
        let case = entry.expect("entry").path();
        let status = fs::read_to_string(case.join("status")).unwrap_or_else(|_| "0".into());
        let Ok(cmd) = fs::read_to_string(case.join("cmd")) else {
            continue;
        };
        let args: Vec<String> = cmd.split_whitespace().map(String::from).collect();
        let writes = !args.iter().any(|a| {
            matches!(
                a.as_str(),
                "-n" | "--dry-run" | "--check" | "doctor" | "remove" | "platform" | "man"
            )
        });
        // A project onboarded already (an older obs-init's record) has its own test below.
        let onboarded = fs::read_to_string(case.join("in").join(".obs-init.toml"))
            .is_ok_and(|t| t.contains("[onboarded"));
        if status.trim() == "0" && writes && case.join("out").is_dir() && !onboarded {
            let name = case.file_name().expect("name").to_string_lossy().into();
            out.push((name, case.join("in"), args));
        }
    }
    out.sort();
    out
}

/// Each corpus file as a project (`compose.yaml`), with its first service obs-init would
/// suggest, when it onboards at all.
fn corpus_runs() -> Vec<(String, PathBuf, Vec<String>)> {
    let corpus = common::data().join("compose");
    let mut out = Vec::new();
    let projects = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("roundtrip-corpus");
    let _ = fs::remove_dir_all(&projects);
    let mut files: Vec<PathBuf> = fs::read_dir(&corpus)
        .expect("corpus")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "yml"))
        .collect();
    files.sort();
    for file in files {
        let text = fs::read_to_string(&file).expect("UTF-8");
        let Ok((_, doc)) = obs_init::compose::parse(&text) else {
            continue;
        };
        let Ok(services) = obs_init::compose::services(&doc) else {
            continue;
        };
        let (built, imaged) = obs_init::compose::app_candidates(&doc, services);
        let Some(service) = built.into_iter().chain(imaged).find(|s| {
            obs_init::compose::onboard(
                &text,
                &obs_init::compose::ComposeOptions {
                    services: vec![s.clone()],
                    app_ports: Vec::new(),
                    dapr_version: "1.18.3".into(),
                    config_source: "./dapr-config.yml".into(),
                    extra_env: Vec::new(),
                    withheld_env: Vec::new(),
                    namespace: obs_init::contract::compose_namespace(Some("shop")),
                },
            )
            .is_ok()
        }) else {
            continue;
        };
        let name = file
            .file_name()
            .expect("name")
            .to_string_lossy()
            .to_string();
        let dir = projects.join(&name);
        fs::create_dir_all(&dir).expect("mkdir");
        fs::write(dir.join("compose.yaml"), &text).expect("write");
        // Values the file sets otherwise stay (what a user who keeps them would choose).
        let args = ["--service", &service, "--yes", "--on-conflict", "skip"];
        out.push((name, dir, args.iter().map(|s| s.to_string()).collect()));
    }
    out
}

#[test]
fn onboard_commit_remove_gives_back_every_file_byte_for_byte() {
    let examples = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut runs = onboarding_cases();
    for example in ["fastapi-app", "dagster-pipeline", "mlflow-app"] {
        for extra in [&[][..], &["--edit-entrypoint"][..]] {
            let mut args = vec!["--yes".to_string()];
            args.extend(extra.iter().map(|s| s.to_string()));
            runs.push((
                format!("examples/{example} {extra:?}"),
                examples.join(example),
                args,
            ));
        }
    }
    runs.extend(corpus_runs());
    assert!(runs.len() > 90, "only {} runs", runs.len());
    let failures: Vec<String> = runs
        .iter()
        .filter_map(|(name, project, args)| {
            round_trip(project, args)
                .err()
                .map(|e| format!("{name} ({}): {e}", args.join(" ")))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} round trips failed:\n\n{}",
        failures.len(),
        runs.len(),
        failures.join("\n\n")
    );
}

#[test]
fn removing_one_of_two_onboarded_compose_files_keeps_what_the_other_needs() {
    let work = tempfile::tempdir().expect("tempdir");
    let dir = work.path();
    let example = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/fastapi-app");
    common::copy_dir(&example, dir);
    let dev = fs::read_to_string(dir.join("docker-compose.yml")).expect("dev file");
    fs::write(dir.join("docker-compose.prod.yml"), &dev).expect("prod file");
    git(dir, &["init", "-q"]);
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "original"]);
    let original = tree(dir);
    let run = |args: &[&str]| {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let (ok, out) = obs_init(dir, &args);
        assert!(ok, "obs-init {args:?}:\n{out}");
        out
    };
    run(&["--yes", "--edit-entrypoint"]);
    run(&[
        "-f",
        "docker-compose.prod.yml",
        "--yes",
        "--edit-entrypoint",
    ]);
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "onboarded twice"]);
    let onboarded = tree(dir);

    run(&["remove", "-f", "docker-compose.prod.yml", "--yes"]);
    let now = tree(dir);
    assert_eq!(
        now["docker-compose.prod.yml"], original["docker-compose.prod.yml"],
        "the prod file is not back to its original"
    );
    for shared in [
        "dapr-config.yml",
        "requirements.txt",
        "app/main.py",
        "app/setup_observability.py",
        "docker-compose.yml",
    ] {
        assert_eq!(
            now.get(shared),
            onboarded.get(shared),
            "{shared} changed, though the dev file needs it"
        );
    }
    let check = run(&["--check"]);
    assert!(check.contains("Up to date"), "{check}");

    run(&["remove", "--yes"]);
    assert_eq!(
        tree(dir),
        original,
        "the project is not back to its original"
    );
}

#[test]
fn a_project_onboarded_by_an_obs_init_without_file_records_is_still_removed_whole() {
    let cases = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let work = tempfile::tempdir().expect("tempdir");
    let dir = work.path();
    common::copy_dir(
        &cases.join("an_answers_file_from_before_file_records_is_upgraded/in"),
        dir,
    );
    for args in [&["--yes"][..], &["remove", "--yes"][..]] {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let (ok, out) = obs_init(dir, &args);
        assert!(ok, "obs-init {args:?}:\n{out}");
    }
    let never_onboarded = tree(&cases.join("env_map_gets_otel_keys/in"));
    assert_eq!(
        tree(dir),
        never_onboarded,
        "onboarding was not taken back whole"
    );
}
