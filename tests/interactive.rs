//! The interactive flow, driven in a real pseudo-terminal: the prompts appear, answers are
//! taken, and the files written reflect them. Also: without a terminal nothing ever waits.

#![cfg(unix)]

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use expectrl::session::OsSession;
use expectrl::{Expect, Session};

fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        fs::write(path, text).expect("write");
    };
    write(
        "compose.yaml",
        "services:\n  api:\n    build: .\n    ports:\n      - \"8000:8000\"\n  redis:\n    image: redis:7\n",
    );
    write("requirements.txt", "fastapi\n");
    write("app/__init__.py", "");
    write(
        "app/main.py",
        "from fastapi import FastAPI\n\napp = FastAPI()\n",
    );
    dir
}

fn spawn(dir: &Path) -> OsSession {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_obs-init"));
    cmd.current_dir(dir)
        .env("TERM", "xterm-256color")
        .env("NO_COLOR", "1");
    let mut session = Session::spawn(cmd).expect("spawns in a pty");
    session.set_expect_timeout(Some(Duration::from_secs(20)));
    session
}

const ENTER: &str = "\r";

#[test]
fn a_person_answers_the_prompts_and_the_files_reflect_the_answers() {
    let dir = project();
    let mut p = spawn(dir.path());
    p.expect("Services to onboard").expect("service question");
    p.send(ENTER).expect("accept the suggested api");
    p.expect("Port api listens on").expect("port question");
    // Replace the suggested 8000.
    for _ in 0..4 {
        p.send("\x7f").expect("backspace");
    }
    p.send("9000").expect("type");
    p.send(ENTER).expect("enter");
    p.expect("What does api run?").expect("framework question");
    p.send(ENTER).expect("accept the detected fastapi");
    // The one entry point is clear: the flow offers to make the edit rather than print it.
    p.expect("Insert the instrumentation lines into app/main.py")
        .expect("entry point question");
    p.send("y").expect("insert them");
    p.expect("Show the diff first?").expect("diff question");
    p.send("n").expect("no diff");
    p.expect("Write these changes?").expect("write question");
    p.send("y").expect("write");
    p.expect("Next steps").expect("finished");
    let main = fs::read_to_string(dir.path().join("app/main.py")).expect("read");
    assert!(
        main.contains("from .setup_observability import instrument_fastapi")
            && main.contains("app = FastAPI()\ninstrument_fastapi(app)\n"),
        "{main}"
    );

    let compose = fs::read_to_string(dir.path().join("compose.yaml")).expect("read");
    assert!(compose.contains("api-dapr:"), "{compose}");
    assert!(compose.contains("\"--app-port\", \"9000\""), "{compose}");
    assert!(!compose.contains("redis-dapr"), "{compose}");
    let answers = fs::read_to_string(dir.path().join(".obs-init.toml")).expect("read");
    assert!(answers.contains("services = [\"api\"]"), "{answers}");
    assert!(answers.contains("app_port = 9000"), "{answers}");
    assert!(answers.contains("frameworks = [\"fastapi\"]"), "{answers}");
    assert!(dir.path().join("app/setup_observability.py").is_file());
}

#[test]
fn declining_to_write_leaves_every_file_as_it_was() {
    let dir = project();
    let before = fs::read_to_string(dir.path().join("compose.yaml")).expect("read");
    let mut p = spawn(dir.path());
    p.expect("Services to onboard").expect("service question");
    p.send(ENTER).expect("enter");
    p.expect("Port api listens on").expect("port question");
    p.send(ENTER).expect("enter");
    p.expect("What does api run?").expect("framework question");
    p.send(ENTER).expect("enter");
    p.expect("Insert the instrumentation lines")
        .expect("entry point question");
    p.send("n").expect("print them instead");
    p.expect("Show the diff first?").expect("diff question");
    p.send("y").expect("show it");
    p.expect("+  api-dapr:").expect("the diff is shown");
    p.expect("Write these changes?").expect("write question");
    p.send("n").expect("decline");
    p.expect("Cancelled: nothing written").expect("cancelled");
    assert_eq!(
        fs::read_to_string(dir.path().join("compose.yaml")).expect("read"),
        before
    );
    assert!(!dir.path().join("dapr-config.yml").exists());
    assert!(!dir.path().join(".obs-init.toml").exists());
}

#[test]
fn without_a_terminal_it_never_waits_for_input() {
    let dir = project();
    let out = assert_cmd::Command::cargo_bin("obs-init")
        .expect("binary")
        .current_dir(dir.path())
        .timeout(Duration::from_secs(20))
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1), "it must fail fast, not block");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--service NAME"), "{err}");
}

#[test]
fn a_person_chooses_which_overlay_gets_the_kustomize_patch() {
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        fs::write(path, text).expect("write");
    };
    let deployment = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  \
                      template:\n    spec:\n      containers:\n      - name: api\n        \
                      image: api:1\n";
    write("base/deployment.yaml", deployment);
    write("base/kustomization.yaml", "resources:\n- deployment.yaml\n");
    for overlay in ["prod", "staging"] {
        write(
            &format!("overlays/{overlay}/kustomization.yaml"),
            "resources:\n- ../../base\n",
        );
    }
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_obs-init"));
    cmd.arg("kubernetes")
        .current_dir(dir.path())
        .env("TERM", "xterm-256color")
        .env("NO_COLOR", "1");
    let mut p = Session::spawn(cmd).expect("spawns in a pty");
    p.set_expect_timeout(Some(Duration::from_secs(20)));
    p.expect("where does the onboarding go?")
        .expect("the kustomize question");
    // Edit the base, each overlay, prod only, staging only: the fourth.
    for _ in 0..3 {
        p.send("\x1b[B").expect("down");
    }
    p.send(ENTER).expect("staging only");
    p.expect("Show the diff first?").expect("diff question");
    p.send("n").expect("no diff");
    p.expect("Write these changes?").expect("write question");
    p.send("y").expect("write");
    p.expect("Next steps").expect("finished");
    assert!(
        dir.path()
            .join("overlays/staging/obs-init-patch.yaml")
            .is_file()
    );
    assert!(
        !dir.path()
            .join("overlays/prod/obs-init-patch.yaml")
            .exists()
    );
    assert_eq!(
        fs::read_to_string(dir.path().join("base/deployment.yaml")).expect("read"),
        deployment
    );
}
