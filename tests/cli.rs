//! Behaviour of the binary beyond single fixture cases: help, flags, colour, file modes.

use std::fs;
use std::path::Path;

use assert_cmd::Command;

fn obs_init(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("obs-init").expect("binary");
    cmd.current_dir(dir)
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE");
    cmd
}

fn project(compose: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    fs::write(dir.path().join("compose.yaml"), compose).expect("write");
    dir
}

const APP: &str = "services:\n  app:\n    image: example/app\n";

/// `--help` of every command, as `tests/help/<command>.txt` has it (`OBS_INIT_BLESS=1`
/// rewrites them for review): a change to what users read shows up in review.
#[test]
fn every_commands_help_is_as_snapshotted() {
    let bless = std::env::var_os("OBS_INIT_BLESS").is_some();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/help");
    let mut failures = Vec::new();
    for command in [
        "",
        "remove",
        "doctor",
        "verify",
        "kubernetes",
        "platform",
        "man",
        "completions",
    ] {
        let mut args: Vec<&str> = command.split_whitespace().collect();
        args.push("--help");
        let out = obs_init(Path::new(".")).args(&args).output().expect("runs");
        assert!(out.status.success(), "{command} --help");
        let help = String::from_utf8(out.stdout).expect("utf-8");
        let file = dir.join(format!(
            "{}.txt",
            if command.is_empty() {
                "obs-init"
            } else {
                command
            }
        ));
        if bless {
            fs::write(&file, &help).expect("bless");
        } else if fs::read_to_string(&file).ok().as_deref() != Some(help.as_str()) {
            failures.push(format!("{}:\n{help}", file.display()));
        }
    }
    assert!(
        failures.is_empty(),
        "--help changed:\n{}",
        failures.join("\n")
    );
}

#[test]
fn help_teaches_the_flags_and_exit_codes() {
    let out = obs_init(Path::new("."))
        .arg("--help")
        .output()
        .expect("runs");
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).expect("utf-8");
    for needle in [
        "--dry-run",
        "--service",
        "--app-port",
        "--dapr-version",
        "Exit codes",
        "70",
        "Examples",
    ] {
        assert!(help.contains(needle), "--help lacks {needle}:\n{help}");
    }
}

#[test]
fn app_port_zero_is_a_usage_error_and_writes_nothing() {
    let dir = project(APP);
    let out = obs_init(dir.path())
        .args(["--service", "app", "--app-port", "0", "--yes"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("0 is not in 1..=65535"), "{err}");
    let files: Vec<_> = fs::read_dir(dir.path()).expect("dir").collect();
    assert_eq!(files.len(), 1, "something was written");
}

#[test]
fn a_v_prefixed_dapr_version_is_a_usage_error() {
    let dir = project(APP);
    let out = obs_init(dir.path())
        .args(["--service", "app", "--dapr-version", "v1.18.3"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("daprd image tags have no `v`: use 1.18.3"),
        "{err}"
    );
}

#[test]
fn output_to_a_pipe_has_no_colour_unless_forced() {
    let dir = project(APP);
    let plain = obs_init(dir.path())
        .args(["--service", "app", "--dry-run"])
        .output()
        .expect("runs");
    assert!(plain.status.success());
    assert!(
        !plain.stdout.contains(&0x1b),
        "escape codes in piped output"
    );
    let forced = obs_init(dir.path())
        .args(["--service", "app", "--dry-run", "--color", "always"])
        .output()
        .expect("runs");
    assert!(
        forced.stdout.contains(&0x1b),
        "--color always printed no colour"
    );
}

#[test]
fn no_color_wins_over_a_forced_terminal() {
    let dir = project(APP);
    let out = obs_init(dir.path())
        .args(["--service", "app", "--dry-run"])
        .env("NO_COLOR", "1")
        .env("CLICOLOR_FORCE", "1")
        .output()
        .expect("runs");
    assert!(!out.stdout.contains(&0x1b), "NO_COLOR was ignored");
}

#[test]
fn dry_run_leaves_every_file_untouched() {
    let dir = project(APP);
    obs_init(dir.path())
        .args(["--service", "app", "--dry-run"])
        .assert()
        .success();
    assert_eq!(
        fs::read_to_string(dir.path().join("compose.yaml")).expect("read"),
        APP
    );
    assert!(!dir.path().join("dapr-config.yml").exists());
    let leftovers: Vec<_> = fs::read_dir(dir.path()).expect("dir").collect();
    assert_eq!(leftovers.len(), 1, "dry run left files behind");
}

#[cfg(unix)]
#[test]
fn writing_keeps_the_compose_mode_and_makes_the_config_world_readable() {
    use std::os::unix::fs::PermissionsExt;
    let dir = project(APP);
    let compose = dir.path().join("compose.yaml");
    fs::set_permissions(&compose, fs::Permissions::from_mode(0o640)).expect("chmod");
    obs_init(dir.path())
        .args(["--service", "app"])
        .assert()
        .success();
    let mode = |p: &Path| fs::metadata(p).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode(&compose), 0o640);
    // daprd runs as uid 65532 and must read the mounted file.
    assert_eq!(mode(&dir.path().join("dapr-config.yml")), 0o644);
}

#[cfg(unix)]
#[test]
fn a_symlinked_compose_file_stays_a_symlink() {
    let dir = project(APP);
    fs::rename(
        dir.path().join("compose.yaml"),
        dir.path().join("real.yaml"),
    )
    .expect("mv");
    std::os::unix::fs::symlink("real.yaml", dir.path().join("compose.yaml")).expect("ln");
    obs_init(dir.path())
        .args(["--service", "app"])
        .assert()
        .success();
    let link = dir.path().join("compose.yaml");
    assert!(
        fs::symlink_metadata(&link)
            .expect("lstat")
            .file_type()
            .is_symlink()
    );
    assert!(
        fs::read_to_string(dir.path().join("real.yaml"))
            .expect("read")
            .contains("app-dapr:")
    );
}

#[test]
fn the_bundled_example_onboards_and_then_has_nothing_to_do() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/fastapi-app");
    let dir = tempfile::tempdir().expect("tempdir");
    for name in ["docker-compose.yml", "requirements.txt"] {
        fs::copy(example.join(name), dir.path().join(name)).expect("copy");
    }
    obs_init(dir.path()).arg("--yes").assert().success();
    let after = fs::read_to_string(dir.path().join("docker-compose.yml")).expect("read");
    assert!(after.contains("api-dapr:"));
    assert!(
        after.contains("--app-port\", \"8000\""),
        "app port not inferred:\n{after}"
    );
    assert!(after.contains("# uvicorn serves the app defined in app/main.py"));
    let again = obs_init(dir.path()).arg("--yes").output().expect("runs");
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("Nothing to do"));
}

#[test]
fn completions_are_generated_for_the_common_shells() {
    for (shell, needle) in [
        ("bash", "complete -F _obs__init"),
        ("zsh", "#compdef obs-init"),
        ("fish", "complete -c obs-init"),
    ] {
        let out = obs_init(Path::new("."))
            .args(["completions", shell])
            .output()
            .expect("runs");
        assert!(out.status.success(), "{shell}");
        let script = String::from_utf8_lossy(&out.stdout);
        assert!(script.contains(needle), "{shell} script lacks {needle}");
        assert!(script.contains("dry-run"), "{shell} script lacks the flags");
    }
}

#[test]
fn the_man_page_documents_the_flags() {
    let out = obs_init(Path::new(".")).arg("man").output().expect("runs");
    assert!(out.status.success());
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(
        page.starts_with(".ie") || page.contains(".TH obs-init"),
        "not roff:\n{page}"
    );
    assert!(page.contains("on\\-conflict"), "{page}");
    assert!(
        page.contains(".SH DETAILS") && !page.contains("EXTRA"),
        "{page}"
    );

    // Each subcommand has its own page, with its options.
    for (sub, option) in [
        ("remove", "dapr\\-config"),
        ("doctor", "connect"),
        ("verify", "opensearch"),
        ("platform", "on\\-conflict"),
    ] {
        let out = obs_init(Path::new("."))
            .args(["man", sub])
            .output()
            .expect("runs");
        assert!(out.status.success(), "{sub}");
        let page = String::from_utf8_lossy(&out.stdout);
        assert!(
            page.contains(&format!(".TH obs-init-{sub} 1")),
            "{sub}:\n{page}"
        );
        assert!(page.contains(option), "{sub} page lacks {option}:\n{page}");
    }
    let dir = tempfile::tempdir().expect("tempdir");
    obs_init(Path::new("."))
        .args(["man", "--out-dir"])
        .arg(dir.path())
        .assert()
        .success();
    let mut written: Vec<String> = fs::read_dir(dir.path())
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    written.sort();
    assert_eq!(
        written,
        [
            "obs-init-completions.1",
            "obs-init-doctor.1",
            "obs-init-kubernetes.1",
            "obs-init-man.1",
            "obs-init-platform.1",
            "obs-init-remove.1",
            "obs-init-verify.1",
            "obs-init.1"
        ]
    );
}

fn git(dir: &Path, args: &[&str]) {
    let ok = std::process::Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .status()
        .expect("git runs")
        .success();
    assert!(ok, "git {args:?}");
}

#[test]
fn uncommitted_changes_to_touched_files_stop_the_run_unless_allowed() {
    let dir = project(APP);
    git(dir.path(), &["init", "-q"]);
    git(dir.path(), &["add", "."]);
    git(dir.path(), &["commit", "-q", "-m", "start"]);
    fs::write(
        dir.path().join("compose.yaml"),
        format!("{APP}    restart: always\n"),
    )
    .expect("edit");

    let out = obs_init(dir.path())
        .args(["--service", "app"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("uncommitted changes: compose.yaml"), "{err}");
    assert!(err.contains("--allow-dirty"), "{err}");
    assert!(
        !dir.path().join("dapr-config.yml").exists(),
        "wrote despite refusing"
    );

    obs_init(dir.path())
        .args(["--service", "app", "--allow-dirty"])
        .assert()
        .success();
    assert!(dir.path().join("dapr-config.yml").exists());
}

#[test]
fn remove_right_after_onboarding_takes_obs_inits_own_uncommitted_edits_back() {
    let dir = project(APP);
    git(dir.path(), &["init", "-q"]);
    git(dir.path(), &["add", "."]);
    git(dir.path(), &["commit", "-q", "-m", "start"]);
    obs_init(dir.path())
        .args(["--service", "app", "--yes"])
        .assert()
        .success();
    // Uncommitted, but exactly what obs-init wrote: not the user's changes to protect.
    obs_init(dir.path())
        .args(["remove", "--yes"])
        .assert()
        .success();
    assert_eq!(
        fs::read_to_string(dir.path().join("compose.yaml")).expect("compose"),
        APP
    );
    let left: Vec<_> = fs::read_dir(dir.path())
        .expect("dir")
        .map(|e| e.expect("entry").file_name())
        .filter(|n| n != ".git")
        .collect();
    assert_eq!(left, ["compose.yaml"], "files left behind");

    // Once the user changes a file obs-init wrote, it is theirs again.
    obs_init(dir.path())
        .args(["--service", "app", "--yes"])
        .assert()
        .success();
    let onboarded = fs::read_to_string(dir.path().join("compose.yaml")).expect("compose");
    fs::write(
        dir.path().join("compose.yaml"),
        format!("{onboarded}# mine\n"),
    )
    .expect("edit");
    let out = obs_init(dir.path())
        .args(["remove", "--yes"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("uncommitted changes: compose.yaml"), "{err}");
}

#[test]
fn a_clean_work_tree_is_written_without_ceremony() {
    let dir = project(APP);
    git(dir.path(), &["init", "-q"]);
    git(dir.path(), &["add", "."]);
    git(dir.path(), &["commit", "-q", "-m", "start"]);
    obs_init(dir.path())
        .args(["--service", "app"])
        .assert()
        .success();
}

#[test]
fn json_output_of_a_write_is_one_parsable_document() {
    let dir = project(APP);
    let out = obs_init(dir.path())
        .args(["--service", "app", "--format", "json"])
        .output()
        .expect("runs");
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    assert_eq!(v["ok"], true);
    assert_eq!(v["mode"], "apply");
    let statuses: Vec<(&str, &str)> = v["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap_or(""),
                f["status"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert!(
        statuses.contains(&("compose.yaml", "update")),
        "{statuses:?}"
    );
    assert!(
        statuses.contains(&("dapr-config.yml", "create")),
        "{statuses:?}"
    );
    assert!(out.stderr.is_empty(), "JSON mode printed to stderr");
}

#[test]
fn check_exits_3_until_onboarded_then_0() {
    let dir = project(APP);
    let check = |dir: &Path| {
        obs_init(dir)
            .args(["--service", "app", "--check"])
            .output()
            .expect("runs")
            .status
            .code()
    };
    assert_eq!(check(dir.path()), Some(3));
    assert_eq!(
        fs::read_to_string(dir.path().join("compose.yaml")).expect("read"),
        APP
    );
    obs_init(dir.path())
        .args(["--service", "app"])
        .assert()
        .success();
    assert_eq!(check(dir.path()), Some(0));
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in fs::read_dir(from).expect("dir") {
        let path = entry.expect("entry").path();
        let dest = to.join(path.file_name().expect("name"));
        if path.is_dir() {
            fs::create_dir_all(&dest).expect("mkdir");
            copy_tree(&path, &dest);
        } else {
            fs::copy(&path, &dest).expect("copy");
        }
    }
}

fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).expect("dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path
                    .strip_prefix(dir)
                    .expect("inside")
                    .display()
                    .to_string();
                out.push((rel, fs::read(&path).expect("read")));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn onboard_then_remove_restores_every_bundled_example_exactly() {
    for example in ["fastapi-app", "dagster-pipeline", "mlflow-app"] {
        let dir = tempfile::tempdir().expect("tempdir");
        copy_tree(
            &Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("examples")
                .join(example),
            dir.path(),
        );
        let before = snapshot(dir.path());
        obs_init(dir.path())
            .args(["--yes", "--edit-entrypoint"])
            .assert()
            .success();
        assert_ne!(
            snapshot(dir.path()),
            before,
            "{example}: onboarding changed nothing"
        );
        // doctor judges obs-init's own output like anyone's: with the entry points edited,
        // it must find nothing to fix; a plain script (MLflow's train.py) still lacks the
        // call its next step names, and doctor says so.
        let doctor = obs_init(dir.path()).arg("doctor").output().expect("runs");
        let said = String::from_utf8_lossy(&doctor.stderr);
        if example == "mlflow-app" {
            assert_eq!(doctor.status.code(), Some(3), "{example}: {said}");
            assert!(
                said.contains("train.py does not import setup_observability"),
                "{example}: {said}"
            );
        } else {
            assert!(
                doctor.status.success(),
                "{example}: doctor on the onboarded example: {said}"
            );
        }

        let dry = obs_init(dir.path())
            .args(["remove", "--dry-run"])
            .output()
            .expect("runs");
        assert!(
            dry.status.success(),
            "{example}: {}",
            String::from_utf8_lossy(&dry.stderr)
        );
        assert!(
            String::from_utf8_lossy(&dry.stdout).contains("-  api-dapr:")
                || example != "fastapi-app"
        );

        let out = obs_init(dir.path()).arg("remove").output().expect("runs");
        assert!(
            out.status.success(),
            "{example}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let after = snapshot(dir.path());
        for ((path, want), (got_path, got)) in before.iter().zip(&after) {
            assert_eq!(path, got_path, "{example}: file sets differ");
            assert!(
                want == got,
                "{example}: {path} differs after remove:\n{}",
                String::from_utf8_lossy(got)
            );
        }
        assert_eq!(
            before.len(),
            after.len(),
            "{example}: {:?}",
            after.iter().map(|(p, _)| p).collect::<Vec<_>>()
        );
    }
}

#[test]
fn remove_keeps_what_the_user_changed_after_onboarding() {
    let dir = project(APP);
    obs_init(dir.path())
        .args(["--service", "app"])
        .assert()
        .success();
    let compose = dir.path().join("compose.yaml");
    let onboarded = fs::read_to_string(&compose).expect("read");
    // The team renames the service in telemetry and tunes sampling.
    fs::write(
        &compose,
        onboarded.replace("OTEL_SERVICE_NAME=app", "OTEL_SERVICE_NAME=billing"),
    )
    .expect("write");
    let config = dir.path().join("dapr-config.yml");
    let tuned = fs::read_to_string(&config)
        .expect("read")
        .replace("samplingRate: \"1\"", "samplingRate: \"0.1\"");
    fs::write(&config, &tuned).expect("write");

    obs_init(dir.path()).arg("remove").assert().success();
    let after = fs::read_to_string(&compose).expect("read");
    assert!(after.contains("OTEL_SERVICE_NAME=billing"), "{after}");
    assert!(!after.contains("app-dapr"), "{after}");
    assert!(!after.contains("OTEL_COLLECTOR_ENDPOINT"), "{after}");
    assert_eq!(
        fs::read_to_string(&config).expect("read"),
        tuned,
        "a changed file was deleted"
    );
}

#[test]
fn doctor_connect_reaches_a_listening_collector_and_reports_a_silent_one() {
    let dir = project(APP);
    obs_init(dir.path())
        .args(["--service", "app"])
        .assert()
        .success();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let up = listener.local_addr().expect("addr").to_string();
    let ok = obs_init(dir.path())
        .args(["doctor", "--connect", "--collector", &up])
        .output()
        .expect("runs");
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    drop(listener);
    let down = obs_init(dir.path())
        .args(["doctor", "--connect", "--collector", &up])
        .output()
        .expect("runs");
    assert_eq!(down.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&down.stderr).contains("no answer from the collector"));
}

#[test]
fn remove_takes_back_the_metrics_label_from_labels_the_user_had() {
    for (form, compose) in [
        (
            "list",
            "services:\n  app:\n    image: example/app\n    labels:\n      - team=payments  # pager\n",
        ),
        (
            "map",
            "services:\n  app:\n    image: example/app\n    labels:\n      team: payments\n",
        ),
        (
            "flow",
            "services:\n  app: {image: example/app, labels: {team: payments}}\n",
        ),
    ] {
        let dir = project(compose);
        obs_init(dir.path())
            .args(["--service", "app"])
            .assert()
            .success();
        let onboarded = fs::read_to_string(dir.path().join("compose.yaml")).expect("read");
        assert!(
            onboarded.contains("obs-init.dapr-metrics-port"),
            "{form}: no label added:\n{onboarded}"
        );
        obs_init(dir.path()).arg("remove").assert().success();
        assert_eq!(
            fs::read_to_string(dir.path().join("compose.yaml")).expect("read"),
            compose,
            "{form}: remove did not restore the original"
        );
    }
}

#[test]
fn doctor_accepts_a_metrics_label_merged_in_from_an_anchor() {
    let compose = "x-app: &app\n  labels:\n    obs-init.dapr-metrics-port: \"9090\"\nservices:\n  app:\n    <<: *app\n    image: example/app\n";
    let dir = project(compose);
    obs_init(dir.path())
        .args(["--service", "app"])
        .assert()
        .success();
    let out = obs_init(dir.path()).arg("doctor").output().expect("runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!err.contains("has no label"), "{err}");
    // Without the anchor's label, the same project gets the warning.
    fs::write(
        dir.path().join("compose.yaml"),
        fs::read_to_string(dir.path().join("compose.yaml"))
            .expect("read")
            .replace(
                "    obs-init.dapr-metrics-port: \"9090\"\n",
                "    team: payments\n",
            ),
    )
    .expect("write");
    let out = obs_init(dir.path()).arg("doctor").output().expect("runs");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("has no label obs-init.dapr-metrics-port")
    );
}

#[test]
fn global_options_are_taken_before_or_after_any_subcommand() {
    // A compose file obs-init would flag: a gRPC endpoint without a scheme opens TLS.
    let compose = "services:\n  app:\n    image: example/app\n    environment:\n      \
                   OTEL_EXPORTER_OTLP_ENDPOINT: otel-collector:4317\n";
    let outer = tempfile::tempdir().expect("tempdir");
    let dir = outer.path().join("proj");
    fs::create_dir(&dir).expect("mkdir");
    fs::write(dir.join("stack.yml"), compose).expect("write");
    for args in [
        &[
            "-C",
            "proj",
            "-f",
            "stack.yml",
            "doctor",
            "--format",
            "json",
        ][..],
        &[
            "doctor",
            "-C",
            "proj",
            "--file",
            "stack.yml",
            "--color",
            "never",
            "--format",
            "json",
        ],
        &[
            "--format",
            "json",
            "-f",
            "stack.yml",
            "doctor",
            "--dir",
            "proj",
        ],
    ] {
        let out = obs_init(outer.path()).args(args).output().expect("runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {stdout}");
        let report: serde_json::Value = serde_json::from_str(&stdout).expect("one JSON document");
        let files: Vec<&str> = report["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .filter_map(|f| f["file"].as_str())
            .collect();
        assert!(files.contains(&"stack.yml"), "{args:?}: {stdout}");
    }
}

#[test]
fn an_onboarding_flag_given_to_a_subcommand_is_refused_not_ignored() {
    let dir = project(APP);
    let out = obs_init(dir.path())
        .args(["--service", "app", "doctor"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("the argument '--service' cannot be used with subcommand 'doctor'"),
        "{stderr}"
    );
    // One compose file at a time, except for manifests.
    let out = obs_init(dir.path())
        .args(["-f", "a.yml", "-f", "b.yml", "--dry-run"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("'--file' was given twice (b.yml)"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn check_fails_until_the_served_code_imports_the_module() {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/fastapi-app"),
        dir.path(),
    );
    obs_init(dir.path()).arg("--yes").assert().success();
    // Every file as obs-init writes it, but main.py does not call the module yet: nothing
    // of the app's arrives, and --check says so with the lines that are missing.
    let check = obs_init(dir.path()).arg("--check").output().expect("runs");
    let said = String::from_utf8_lossy(&check.stderr);
    assert_eq!(check.status.code(), Some(3), "{said}");
    assert!(
        said.contains("not arriving: api: app/main.py does not import setup_observability"),
        "{said}"
    );
    assert!(said.contains("`instrument_fastapi(app)`"), "{said}");
    let json = obs_init(dir.path())
        .args(["--check", "--format", "json"])
        .output()
        .expect("runs");
    let doc: serde_json::Value = serde_json::from_slice(&json.stdout).expect("json");
    assert_eq!(doc["up_to_date"], false, "{doc}");
    assert_eq!(doc["not_arriving"][0]["file"], "app/main.py", "{doc}");
    // Done as the next step says (here by obs-init itself), --check passes.
    obs_init(dir.path())
        .args(["--yes", "--edit-entrypoint", "--allow-dirty"])
        .assert()
        .success();
    let check = obs_init(dir.path()).arg("--check").output().expect("runs");
    assert_eq!(
        check.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
}

#[test]
fn check_on_a_project_never_onboarded_names_the_command_with_its_directory() {
    let parent = tempfile::tempdir().expect("tempdir");
    let dir = parent.path().join("shop");
    fs::create_dir(&dir).expect("mkdir");
    fs::write(
        dir.join("compose.yaml"),
        "services:\n  web:\n    image: example/web\n",
    )
    .expect("write");
    let out = Command::cargo_bin("obs-init")
        .expect("binary")
        .current_dir(parent.path())
        .args(["-C", "shop", "--check"])
        .output()
        .expect("runs");
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{said}");
    // Pasted where --check ran, the command onboards that project.
    assert!(
        said.contains("onboard it with `obs-init -C shop --service web`"),
        "{said}"
    );
}

#[test]
fn check_says_when_no_file_beside_the_module_builds_the_app() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path();
    fs::create_dir_all(p.join("api/lib")).expect("mkdir");
    fs::write(
        p.join("compose.yaml"),
        "services:\n  api:\n    build: ./api\n    command: uvicorn main:app --port 8000\n",
    )
    .expect("write");
    fs::write(p.join("api/requirements.txt"), "fastapi\n").expect("write");
    fs::write(
        p.join("api/main.py"),
        "from fastapi import FastAPI\n\napp = FastAPI()\n",
    )
    .expect("write");
    fs::write(p.join("api/lib/util.py"), "X = 1\n").expect("write");
    obs_init(p)
        .args(["--service", "api", "--yes", "--module-path", "api/lib"])
        .assert()
        .success();
    // The module is where it was asked for, but nothing beside it builds the app.
    let check = obs_init(p).arg("--check").output().expect("runs");
    let said = String::from_utf8_lossy(&check.stderr);
    assert_eq!(check.status.code(), Some(3), "{said}");
    assert!(
        said.contains("no file beside api/lib/setup_observability.py builds the FastAPI app"),
        "{said}"
    );
}

#[test]
fn verify_in_a_repository_of_manifests_alone_sends_where_a_port_forward_puts_the_collector() {
    let dir = tempfile::tempdir().expect("tempdir");
    fs::create_dir(dir.path().join("k8s")).expect("mkdir");
    fs::write(
        dir.path().join("k8s/app.yaml"),
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    \
         spec:\n      containers:\n        - name: web\n          image: example/web:1\n",
    )
    .expect("write");
    let out = obs_init(dir.path())
        .args(["--format", "json", "verify", "--no-query", "--wait", "0"])
        .output()
        .expect("runs");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(json["verify"]["collector"], "127.0.0.1:4317", "{json}");
    // Whether something listens on 4317 here is not this test's to say; when nothing
    // does, the fix is the cluster's port-forward, not the compose platform's start.
    let hop = &json["verify"]["hops"][0];
    if hop["outcome"] == "failed"
        && hop["detail"]
            .as_str()
            .is_some_and(|d| d.contains("refused"))
    {
        assert_eq!(
            hop["fix"],
            "forward the cluster's collector here first: kubectl -n observability \
             port-forward svc/otel-collector 4317 (or pass --collector HOST:PORT where it is \
             reachable)",
            "{json}"
        );
    }
}
