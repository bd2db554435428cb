//! Lock files judged by the tools that own them: real Poetry, uv, pdm and pip-tools (pinned
//! in tests/e2e/lock-tools.lock, installed once into a cached venv by tests/e2e/venv.sh).
//! Each project is locked by its tool first; after onboarding the tool's own check must
//! pass, and after `remove` the project is as it was. The tools resolve against PyPI.

mod common;

use common::printed as both;

use std::path::Path;
use std::process::{Command, Output};
use std::sync::OnceLock;

use assert_cmd::Command as BinCommand;

/// The folder holding `poetry`, `uv`, `pdm` and `pip-compile`.
fn tools() -> &'static Path {
    common::venv_python("lock-tools.lock")
        .parent()
        .expect("venv bin")
}

/// A `PATH` holding git and nothing else: obs-init finds none of the locking tools.
fn bare_path() -> &'static Path {
    static BARE: OnceLock<tempfile::TempDir> = OnceLock::new();
    BARE.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let git = run(Command::new("sh").args(["-c", "command -v git"]));
        std::os::unix::fs::symlink(stdout(&git).trim(), dir.path().join("git")).expect("link");
        dir
    })
    .path()
}

fn with_tools() -> String {
    format!(
        "{}:{}",
        tools().display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The locking tool `program` run in `dir`, as the user would.
fn tool(dir: &Path, program: &str, args: &[&str]) -> Output {
    run(Command::new(tools().join(program))
        .args(args)
        .current_dir(dir)
        .env("PATH", with_tools())
        .env("NO_COLOR", "1"))
}

fn obs_init(dir: &Path, path: &str, args: &[&str]) -> Output {
    BinCommand::cargo_bin("obs-init")
        .expect("binary")
        .current_dir(dir)
        .env("PATH", path)
        .args(args)
        .output()
        .expect("runs")
}

fn git(dir: &Path, args: &[&str]) -> Output {
    let out = run(Command::new("git")
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .current_dir(dir));
    assert!(out.status.success(), "git {args:?}: {}", both(&out));
    out
}

/// A Python service built from `dir`, with `files` and the lock `lock_with` makes, committed.
fn project(files: &[(&str, &str)], lock_with: (&str, &[&str])) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path();
    std::fs::write(p.join("compose.yaml"), "services:\n  app:\n    build: .\n").expect("writes");
    std::fs::write(p.join("Dockerfile"), "FROM python:3.11-slim\n").expect("writes");
    std::fs::write(p.join("main.py"), "print('hello')\n").expect("writes");
    for (name, content) in files {
        std::fs::write(p.join(name), content).expect("writes");
    }
    let locked = tool(p, lock_with.0, lock_with.1);
    assert!(
        locked.status.success(),
        "locking the original: {}",
        both(&locked)
    );
    git(p, &["init", "-q"]);
    git(p, &["add", "-A"]);
    git(p, &["commit", "-qm", "original"]);
    dir
}

const POETRY: &str = "[tool.poetry]\npackage-mode = false\n\n[tool.poetry.dependencies]\n\
                      python = \"^3.11\"\n";
const PEP621: &str = "[project]\nname = \"app\"\nversion = \"0.1.0\"\n\
                      requires-python = \">=3.11\"\ndependencies = []\n";

/// Onboards with the tools installed, checks with `check` (the tool's own verdict) and
/// obs-init's `--check`, then removes and compares with the original commit.
fn onboard_check_remove(dir: &Path, lock: &str, check: (&str, &[&str]), exact_after_remove: bool) {
    let out = obs_init(dir, &with_tools(), &["--yes"]);
    assert!(out.status.success(), "onboarding: {}", both(&out));
    assert!(
        both(&out).contains(&format!("Locked {lock}")),
        "the lock was not refreshed: {}",
        both(&out)
    );
    let verdict = tool(dir, check.0, check.1);
    assert!(
        verdict.status.success(),
        "{} {:?} after onboarding: {}",
        check.0,
        check.1,
        both(&verdict)
    );
    let again = obs_init(dir, bare_path().to_str().expect("UTF-8"), &["--check"]);
    assert!(again.status.success(), "--check: {}", both(&again));
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-qm", "onboarded"]);

    let removed = obs_init(dir, &with_tools(), &["remove", "--yes"]);
    assert!(removed.status.success(), "remove: {}", both(&removed));
    let verdict = tool(dir, check.0, check.1);
    assert!(verdict.status.success(), "after remove: {}", both(&verdict));
    let changed = stdout(&git(dir, &["diff", "--stat", "HEAD~1"]));
    if exact_after_remove {
        assert!(changed.is_empty(), "remove left changes:\n{changed}");
    } else {
        assert!(
            !changed.contains("pyproject.toml"),
            "remove left pyproject.toml changed:\n{changed}"
        );
    }
}

#[test]
fn a_poetry_lock_passes_poetrys_check_after_onboarding_and_remove_restores_it() {
    let dir = project(&[("pyproject.toml", POETRY)], ("poetry", &["lock"]));
    onboard_check_remove(
        dir.path(),
        "poetry.lock",
        ("poetry", &["check", "--lock"]),
        true,
    );
}

#[test]
fn a_uv_lock_passes_uvs_check_after_onboarding_and_after_remove() {
    let dir = project(&[("pyproject.toml", PEP621)], ("uv", &["lock", "-q"]));
    // A refresh by uv would keep the resolution markers the OpenTelemetry packages brought:
    // remove gives the lock back from its record instead, byte for byte.
    onboard_check_remove(dir.path(), "uv.lock", ("uv", &["lock", "--check"]), true);
}

#[test]
fn a_pdm_lock_passes_pdms_check_after_onboarding_and_remove_restores_it() {
    let pdm = format!("{PEP621}\n[tool.pdm]\ndistribution = false\n");
    let dir = project(&[("pyproject.toml", &pdm)], ("pdm", &["lock", "-q"]));
    onboard_check_remove(dir.path(), "pdm.lock", ("pdm", &["lock", "--check"]), true);
}

#[test]
fn a_pip_compile_pair_gets_the_packages_in_its_source_and_compiles_again() {
    let dir = project(
        &[("requirements.in", "")],
        (
            "pip-compile",
            &["-q", "--generate-hashes", "requirements.in"],
        ),
    );
    let p = dir.path();
    let out = obs_init(p, &with_tools(), &["--yes"]);
    assert!(out.status.success(), "{}", both(&out));
    let source = std::fs::read_to_string(p.join("requirements.in")).expect("reads");
    assert!(source.contains("opentelemetry-sdk>="), "{source}");
    // pip-tools' own verdict: compiling the source again changes nothing, and every line
    // of the compiled file carries a hash (pip's hash-checking mode installs it).
    let compiled = std::fs::read_to_string(p.join("requirements.txt")).expect("reads");
    assert!(compiled.contains("opentelemetry-sdk=="), "{compiled}");
    let again = tool(
        p,
        "pip-compile",
        &["-q", "--generate-hashes", "requirements.in"],
    );
    assert!(again.status.success(), "{}", both(&again));
    assert_eq!(
        std::fs::read_to_string(p.join("requirements.txt")).expect("reads"),
        compiled
    );
    for pin in compiled.lines().filter(|l| l.contains("==")) {
        assert!(pin.ends_with('\\'), "a pin without its hashes: {pin}");
    }
    git(p, &["add", "-A"]);
    git(p, &["commit", "-qm", "onboarded"]);
    let removed = obs_init(p, &with_tools(), &["remove", "--yes"]);
    assert!(removed.status.success(), "{}", both(&removed));
    let changed = stdout(&git(p, &["diff", "--stat", "HEAD~1"]));
    assert!(changed.is_empty(), "remove left changes:\n{changed}");
}

#[test]
fn without_the_tool_the_command_is_printed_and_check_fails_until_it_is_run() {
    let dir = project(&[("pyproject.toml", POETRY)], ("poetry", &["lock"]));
    let p = dir.path();
    let bare = bare_path().to_str().expect("UTF-8").to_string();
    let out = obs_init(p, &bare, &["--yes"]);
    assert!(out.status.success(), "{}", both(&out));
    assert!(
        both(&out).contains(
            "bring poetry.lock up to date (poetry is not installed here; `poetry install` \
             refuses a stale lock): poetry lock"
        ),
        "{}",
        both(&out)
    );
    // The tool's verdict on the stale lock, and obs-init's own agree.
    assert!(!tool(p, "poetry", &["check", "--lock"]).status.success());
    let check = obs_init(p, &bare, &["--check"]);
    assert_eq!(check.status.code(), Some(3), "{}", both(&check));
    assert!(
        both(&check).contains("Stale poetry.lock (it does not lock opentelemetry-sdk"),
        "{}",
        both(&check)
    );
    let doctor = obs_init(p, &bare, &["doctor"]);
    assert_eq!(doctor.status.code(), Some(3), "{}", both(&doctor));
    assert!(both(&doctor).contains("help: run `poetry lock` in ."));

    // The printed command, pasted, is all it takes.
    assert!(tool(p, "poetry", &["lock"]).status.success());
    assert!(tool(p, "poetry", &["check", "--lock"]).status.success());
    let check = obs_init(p, &bare, &["--check"]);
    assert!(check.status.success(), "{}", both(&check));
    assert!(obs_init(p, &bare, &["doctor"]).status.success());
}

#[test]
fn a_lock_the_tool_cannot_refresh_leaves_every_file_as_it_was() {
    // The project pins the API to a release the SDK obs-init adds cannot work with: Poetry's
    // resolver refuses, so nothing of the onboarding may stay.
    let pinned = format!("{POETRY}opentelemetry-api = \"1.20.0\"\n");
    let dir = project(&[("pyproject.toml", &pinned)], ("poetry", &["lock"]));
    let p = dir.path();
    let before = common::read_tree(p);
    let out = obs_init(p, &with_tools(), &["--yes"]);
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    let text = both(&out);
    assert!(
        text.contains("error: `poetry lock` failed in . (exit status: 1); every file is back"),
        "{text}"
    );
    assert!(text.contains("help: fix what it reports and run again; or pass --no-lock"));
    assert_eq!(
        common::read_tree(p),
        before,
        "files changed after a failed lock"
    );
}

#[test]
fn a_uv_workspace_members_dependencies_are_locked_in_the_workspace_roots_lock() {
    // The shape of fastapi/full-stack-fastapi-template: the image is built from the
    // workspace root, and the service's code and dependencies are a member's.
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path();
    let write = |name: &str, text: &str| {
        let path = p.join(name);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("writes");
    };
    write(
        "compose.yaml",
        "services:\n  app:\n    build:\n      context: .\n      dockerfile: backend/Dockerfile\n",
    );
    write(
        "pyproject.toml",
        "[tool.uv.workspace]\nmembers = [\"backend\"]\n",
    );
    write("backend/pyproject.toml", PEP621);
    write("backend/Dockerfile", "FROM python:3.11-slim\n");
    write("backend/main.py", "print('hello')\n");
    let locked = tool(p, "uv", &["lock", "-q"]);
    assert!(
        locked.status.success(),
        "locking the original: {}",
        both(&locked)
    );
    git(p, &["init", "-q"]);
    git(p, &["add", "-A"]);
    git(p, &["commit", "-qm", "original"]);
    onboard_check_remove(p, "uv.lock", ("uv", &["lock", "--check"]), true);
    // The member's manifest got the lines; the workspace root's stayed as it was.
    let root = std::fs::read_to_string(p.join("pyproject.toml")).expect("read");
    assert!(!root.contains("opentelemetry"), "{root}");
}

#[test]
fn a_project_pinning_an_older_opentelemetry_gets_packages_that_resolve_beside_the_pin() {
    // As Google's microservices-demo pins it: the exporter and the distro of SDK 1.39.
    let pins = "flask==3.1.0\nopentelemetry-distro==0.60b1\n\
                opentelemetry-exporter-otlp-proto-grpc==1.39.1\n";
    let dir = project(
        &[("requirements.in", pins)],
        (
            "uv",
            &[
                "pip",
                "compile",
                "-q",
                "requirements.in",
                "-o",
                "requirements.txt",
            ],
        ),
    );
    let p = dir.path();
    let out = obs_init(p, &with_tools(), &["--yes"]);
    assert!(out.status.success(), "{}", both(&out));
    assert!(
        both(&out).contains("pins opentelemetry-distro==0.60b1"),
        "{}",
        both(&out)
    );
    // The real resolver takes the onboarded source, and keeps the project's release.
    let compiled = tool(
        p,
        "uv",
        &[
            "pip",
            "compile",
            "-q",
            "requirements.in",
            "-o",
            "requirements.txt",
        ],
    );
    assert!(compiled.status.success(), "{}", both(&compiled));
    let locked = std::fs::read_to_string(p.join("requirements.txt")).expect("reads");
    assert!(locked.contains("opentelemetry-sdk==1.39.1"), "{locked}");
    assert!(
        locked.contains("opentelemetry-instrumentation-flask==0.60b1"),
        "{locked}"
    );
}

/// Onboards with `path`'s tools, then, nothing committed, removes: the remove must not be
/// refused over obs-init's own lock refresh, and every byte of the project comes back.
fn remove_right_after_onboarding(dir: &Path, path: &str, lock: &str) -> String {
    let before = common::read_tree(dir);
    let out = obs_init(dir, path, &["--yes"]);
    assert!(out.status.success(), "onboarding: {}", both(&out));
    assert_ne!(common::read_tree(dir), before, "onboarding changed nothing");
    let removed = obs_init(dir, path, &["remove", "--yes"]);
    let text = both(&removed);
    assert!(removed.status.success(), "remove: {text}");
    assert!(
        !text.contains(&format!("bring {lock} up to date")),
        "remove asks to refresh a lock it gave back: {text}"
    );
    let after = common::read_tree(dir);
    for (name, bytes) in &before {
        assert_eq!(
            after
                .get(name)
                .map(|b| String::from_utf8_lossy(b).into_owned()),
            Some(String::from_utf8_lossy(bytes).into_owned()),
            "{name} after remove"
        );
    }
    assert_eq!(after.len(), before.len(), "files left: {:?}", after.keys());
    text
}

#[test]
fn remove_right_after_onboarding_gives_poetrys_lock_back_byte_for_byte() {
    let dir = project(&[("pyproject.toml", POETRY)], ("poetry", &["lock"]));
    // A lock another Poetry 2 wrote: the refresh rewrites its header, as it normalises what
    // older releases wrote; only the bytes kept from before give it back.
    let lock = std::fs::read_to_string(dir.path().join("poetry.lock")).expect("reads");
    let older = lock.replacen(
        "@generated by Poetry 2.",
        "@generated by Poetry 2.0.1 (was 2.",
        1,
    );
    assert_ne!(older, lock, "{lock}");
    std::fs::write(dir.path().join("poetry.lock"), older).expect("writes");
    git(dir.path(), &["commit", "-qam", "an older lock"]);
    remove_right_after_onboarding(dir.path(), &with_tools(), "poetry.lock");
    let verdict = tool(dir.path(), "poetry", &["check", "--lock"]);
    assert!(verdict.status.success(), "{}", both(&verdict));
}

#[test]
fn remove_right_after_onboarding_gives_uvs_lock_back_byte_for_byte() {
    let dir = project(&[("pyproject.toml", PEP621)], ("uv", &["lock", "-q"]));
    remove_right_after_onboarding(dir.path(), &with_tools(), "uv.lock");
    let verdict = tool(dir.path(), "uv", &["lock", "--check"]);
    assert!(verdict.status.success(), "{}", both(&verdict));
}

#[test]
fn remove_right_after_onboarding_gives_a_pip_compile_pair_back_byte_for_byte() {
    let dir = project(
        &[("requirements.in", "")],
        ("pip-compile", &["-q", "requirements.in"]),
    );
    remove_right_after_onboarding(dir.path(), &with_tools(), "requirements.txt");
}

#[test]
fn a_remove_that_never_touched_the_lock_asks_for_no_refresh_of_it() {
    // Onboarded where Poetry is not installed: the lock was never refreshed, so once remove
    // gives the manifest back the lock pins it again as it is.
    let dir = project(&[("pyproject.toml", POETRY)], ("poetry", &["lock"]));
    let bare = bare_path().to_str().expect("UTF-8").to_string();
    remove_right_after_onboarding(dir.path(), &bare, "poetry.lock");
}

#[test]
fn a_remove_after_onboarding_with_no_lock_asks_for_no_refresh_either() {
    let dir = project(&[("pyproject.toml", POETRY)], ("poetry", &["lock"]));
    let p = dir.path();
    let before = common::read_tree(p);
    let out = obs_init(p, &with_tools(), &["--yes", "--no-lock"]);
    assert!(out.status.success(), "onboarding: {}", both(&out));
    let removed = obs_init(p, &with_tools(), &["remove", "--yes", "--no-lock"]);
    let text = both(&removed);
    assert!(removed.status.success(), "remove: {text}");
    assert!(!text.contains("bring poetry.lock up to date"), "{text}");
    assert_eq!(common::read_tree(p), before);
}

#[test]
fn a_lock_changed_after_onboarding_is_refreshed_by_remove_and_says_why() {
    let dir = project(&[("pyproject.toml", POETRY)], ("poetry", &["lock"]));
    let p = dir.path();
    let out = obs_init(p, &with_tools(), &["--yes"]);
    assert!(out.status.success(), "onboarding: {}", both(&out));
    // The user's own refresh rewrites the lock's header: not the lock obs-init left.
    let lock = std::fs::read_to_string(p.join("poetry.lock")).expect("reads");
    std::fs::write(p.join("poetry.lock"), format!("# mine\n{lock}")).expect("writes");
    git(p, &["add", "-A"]);
    git(p, &["commit", "-qm", "onboarded"]);
    let removed = obs_init(p, &with_tools(), &["remove", "--yes"]);
    let text = both(&removed);
    assert!(removed.status.success(), "remove: {text}");
    assert!(
        text.contains(
            "poetry.lock was changed since obs-init refreshed it, so it is not given back"
        ),
        "{text}"
    );
    assert!(text.contains("Locked poetry.lock"), "{text}");
    let verdict = tool(p, "poetry", &["check", "--lock"]);
    assert!(verdict.status.success(), "{}", both(&verdict));
}

#[test]
fn removing_one_of_two_services_sharing_a_poetry_project_refreshes_then_gives_the_lock_back() {
    let dir = project(&[("pyproject.toml", POETRY)], ("poetry", &["lock"]));
    remove_one_service_then_the_other(dir.path(), "poetry.lock", ("poetry", &["check", "--lock"]));
}

#[test]
fn removing_one_of_two_services_sharing_a_uv_project_refreshes_then_gives_the_lock_back() {
    let dir = project(&[("pyproject.toml", PEP621)], ("uv", &["lock", "-q"]));
    remove_one_service_then_the_other(dir.path(), "uv.lock", ("uv", &["lock", "--check"]));
}

/// Two services built from the project's one folder: web (Flask) onboarded, then worker
/// (plain Python); web removed, then worker, nothing committed in between.
fn remove_one_service_then_the_other(p: &Path, lock: &str, check: (&str, &[&str])) {
    std::fs::write(
        p.join("compose.yaml"),
        "services:\n  web:\n    build: .\n  worker:\n    build: .\n",
    )
    .expect("writes");
    git(p, &["commit", "-qam", "two services"]);
    let before = common::read_tree(p);
    let run = |args: &[&str]| {
        let out = obs_init(p, &with_tools(), args);
        assert!(out.status.success(), "obs-init {args:?}: {}", both(&out));
        both(&out)
    };
    run(&["--service", "web", "--framework", "flask", "--yes"]);
    run(&["--service", "worker", "--framework", "python", "--yes"]);
    // web's Flask line goes, the lines worker asks for stay, and the tool locks what is left.
    let removed = run(&["remove", "--service", "web", "--yes"]);
    assert!(removed.contains(&format!("Locked {lock}")), "{removed}");
    let manifest = std::fs::read_to_string(p.join("pyproject.toml")).expect("reads");
    assert!(!manifest.contains("instrumentation-flask"), "{manifest}");
    assert!(manifest.contains("opentelemetry-sdk"), "{manifest}");
    let verdict = tool(p, check.0, check.1);
    assert!(verdict.status.success(), "{}", both(&verdict));
    // The last remove gives the lock its bytes from before the first onboarding.
    let removed = run(&["remove", "--yes"]);
    assert!(
        !removed.contains(&format!("bring {lock} up to date")),
        "{removed}"
    );
    let after = common::read_tree(p);
    for (name, bytes) in &before {
        assert_eq!(
            after
                .get(name)
                .map(|b| String::from_utf8_lossy(b).into_owned()),
            Some(String::from_utf8_lossy(bytes).into_owned()),
            "{name} after the last remove"
        );
    }
    assert_eq!(after.len(), before.len(), "files left: {:?}", after.keys());
}
