//! Odd and hostile inputs: each is onboarded correctly or refused with a clear error, never
//! a crash, a hang or a corrupted file; and nothing is ever written outside the project.

mod common;

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use obs_init::compose::{self, ComposeOptions};
use obs_init::error::Refusal;

fn options(service: &str) -> ComposeOptions {
    ComposeOptions {
        services: vec![service.to_string()],
        app_ports: Vec::new(),
        dapr_version: "1.18.3".into(),
        config_source: "./dapr-config.yml".into(),
        extra_env: Vec::new(),
        withheld_env: Vec::new(),
        namespace: obs_init::contract::compose_namespace(Some("shop")),
    }
}

/// Onboards `service`, checks the invariants, and returns the new text.
fn onboard_ok(text: &str, service: &str) -> String {
    let out = compose::onboard(text, &options(service)).expect("onboarded");
    common::assert_only_insertions(text, &out.after);
    let again = compose::onboard(&out.after, &options(service)).expect("second run");
    assert_eq!(again.after, out.after, "second run changed the file");
    out.after
}

fn refused(text: &str, service: &str) -> Refusal {
    let err = compose::onboard(text, &options(service)).expect_err("refused");
    assert!(
        !matches!(err, Refusal::Internal(_)),
        "internal error: {err}"
    );
    err
}

#[test]
fn a_huge_file_is_onboarded_quickly() {
    let mut text = String::from("services:\n");
    for i in 0..5_000 {
        text.push_str(&format!(
            "  # service {i}\n  svc{i}:\n    image: example/svc:{i}\n    environment:\n      - N={i}\n"
        ));
    }
    let started = Instant::now();
    let after = onboard_ok(&text, "svc4999");
    assert!(after.contains("svc4999-dapr:"));
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn deep_nesting_is_refused_not_a_stack_overflow() {
    let text = format!(
        "services:\n  app:\n    image: x\nx-deep: {}{}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let err = refused(&text, "app");
    assert!(err.to_string().contains("nesting deeper than"), "{err}");
}

#[test]
fn a_very_long_line_is_kept_byte_for_byte() {
    let long = "x".repeat(1_000_000);
    let text =
        format!("services:\n  app:\n    image: example/app\n    labels:\n      note: \"{long}\"\n");
    let after = onboard_ok(&text, "app");
    assert!(after.contains(&long));
}

#[test]
fn tab_indentation_is_a_clear_syntax_error() {
    let err = refused("services:\n\tapp:\n\t\timage: x\n", "app");
    let Refusal::Syntax { line, .. } = err else {
        panic!("not a syntax error: {err}");
    };
    assert_eq!(line, 2);
}

#[test]
fn mixed_line_endings_follow_the_majority() {
    let text = "services:\r\n  app:\r\n    image: x\r\n    restart: always\n";
    let after = onboard_ok(text, "app");
    assert!(after.contains("  app-dapr:\r\n"), "{after:?}");
}

#[test]
fn document_markers_stay_in_place() {
    let text = "---\nservices:\n  app:\n    image: x\n...\n";
    let after = onboard_ok(text, "app");
    assert!(after.starts_with("---\nservices:\n"));
    assert!(after.ends_with("external: true\n...\n"), "{after}");
}

#[test]
fn multi_document_files_are_refused() {
    let err = refused(
        "services:\n  app:\n    image: x\n---\nservices: {}\n",
        "app",
    );
    assert!(
        matches!(err, Refusal::MultipleDocuments { line: 4 }),
        "{err}"
    );
}

#[test]
fn compose_tags_survive_next_to_the_edit() {
    let text = "services:\n  app:\n    image: x\n    labels: !reset []\n    ports: !override\n      - \"8000:8000\"\n";
    let after = onboard_ok(text, "app");
    assert!(after.contains("labels: !reset []\n    ports: !override\n"));
}

#[test]
fn an_anchor_shared_with_another_service_is_not_edited() {
    let text = "services:\n  app:\n    image: x\n    environment: &env\n      A: 1\n  worker:\n    image: y\n    environment: *env\n";
    let err = refused(text, "app");
    assert!(
        err.to_string()
            .contains("anchored as `&env` and reused at line 8"),
        "{err}"
    );
}

#[test]
fn service_names_that_need_quotes_get_quoted_sidecars() {
    for name in ["123", "yes", "null", "true"] {
        let text = format!("services:\n  \"{name}\":\n    image: x\n");
        let after = onboard_ok(&text, name);
        assert!(
            after.contains(&format!("  \"{name}-dapr\":"))
                || after.contains(&format!("  {name}-dapr:")),
            "{after}"
        );
        assert!(
            after.contains(&format!("OTEL_SERVICE_NAME={name}")),
            "{after}"
        );
        let (_, doc) = common::parse(&after);
        let json = common::to_json(&doc);
        assert_eq!(
            json["services"][format!("{name}-dapr")]["network_mode"],
            format!("service:{name}")
        );
    }
}

#[test]
fn empty_and_comment_only_files_are_refused_clearly() {
    assert!(matches!(refused("", "app"), Refusal::Empty));
    assert!(matches!(
        refused("# nothing yet\n\n", "app"),
        Refusal::Empty
    ));
    assert!(matches!(refused("   \n", "app"), Refusal::Empty));
}

#[test]
fn a_lone_carriage_return_is_refused() {
    let err = refused("services:\r  app:\r    image: x\r", "app");
    assert!(err.to_string().contains("carriage return"), "{err}");
}

#[test]
fn a_block_scalar_at_the_very_end_without_newline_parses() {
    let text = "services:\n  app:\n    image: x\n    command: |\n      run";
    let after = onboard_ok(text, "app");
    assert!(!after.ends_with('\n'));
}

fn binary(dir: &Path, args: &[&str]) -> std::process::Output {
    assert_cmd::Command::cargo_bin("obs-init")
        .expect("binary")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("runs")
}

#[test]
fn non_utf8_bytes_are_an_error_naming_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    fs::write(
        dir.path().join("compose.yaml"),
        b"services:\n  app:\n    image: \xff\n",
    )
    .expect("write");
    let out = binary(dir.path(), &["--service", "app"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("compose.yaml is not UTF-8 text"), "{err}");
}

#[cfg(unix)]
#[test]
fn a_symlink_leading_out_of_the_project_is_never_written_through() {
    let outside = tempfile::tempdir().expect("tempdir");
    let secret = outside.path().join("compose.yaml");
    let original = "services:\n  app:\n    image: x\n";
    fs::write(&secret, original).expect("write");
    let dir = tempfile::tempdir().expect("tempdir");
    std::os::unix::fs::symlink(&secret, dir.path().join("compose.yaml")).expect("ln");

    let out = binary(dir.path(), &["--service", "app"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is outside the project directory"), "{err}");
    assert_eq!(fs::read_to_string(&secret).expect("read"), original);
    assert!(
        !dir.path().join("dapr-config.yml").exists(),
        "wrote part of the plan"
    );
}

#[test]
fn a_path_option_outside_the_project_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    fs::write(
        dir.path().join("compose.yaml"),
        "services:\n  app:\n    image: x\n",
    )
    .expect("write");
    let out = binary(
        dir.path(),
        &["--service", "app", "--dapr-config", "../elsewhere.yml"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("outside the project directory"));
    assert!(!dir.path().join("../elsewhere.yml").exists());
}

// Regressions found by tests/fuzz.rs, kept as fixed inputs.

#[test]
fn fuzz_regression_several_entries_into_an_empty_flow_list() {
    let text = "services:\n  web:\n    image: x\n    environment: []\n";
    let after = onboard_ok(text, "web");
    assert!(
        after.contains(
            "environment: [OTEL_COLLECTOR_ENDPOINT=otel-collector:4317, OTEL_EXPORTER_OTLP_ENDPOINT"
        ),
        "{after}"
    );
}

#[test]
fn fuzz_regression_an_anchored_empty_environment_is_refused() {
    let text = "services:\n  web:\n    build: .\n    environment: &a\n    networks: [backend]\nnetworks:\n  backend: {}\n";
    let err = refused(text, "web");
    assert!(err.to_string().contains("`environment` is a null"), "{err}");
}

#[test]
fn fuzz_regression_flow_services_round_trip_through_remove() {
    let text = "services: {db: {image: \"x/2\"}, worker: {image: \"x/6\"}}\nnetworks:\n";
    let out = compose::onboard(text, &options("db")).expect("onboarded");
    let back = obs_init::compose::remove::remove(
        &out.after,
        &obs_init::compose::remove::RemoveOptions {
            services: vec!["db".into()],
            keep_empty: compose::filled_empty_keys(&out.changes),
            added: Some(compose::added_paths(&out.changes)),
        },
    )
    .expect("removed");
    assert_eq!(back.after, text);
}

#[test]
fn a_projects_own_resource_attributes_get_the_namespace_and_remove_gives_them_back() {
    // List and map forms, plain and quoted: the namespace goes at the end of the
    // project's value, and remove (with the record, and without one) cuts it off again.
    for text in [
        "services:\n  app:\n    image: x\n    environment:\n      - OTEL_RESOURCE_ATTRIBUTES=team=a\n",
        "services:\n  app:\n    image: x\n    environment:\n      - \"OTEL_RESOURCE_ATTRIBUTES=team=a\"\n",
        "services:\n  app:\n    image: x\n    environment:\n      OTEL_RESOURCE_ATTRIBUTES: 'team=a'\n",
        "services:\n  app:\n    image: x\n    environment: {OTEL_RESOURCE_ATTRIBUTES: \"team=a\"}\n",
    ] {
        let out = compose::onboard(text, &options("app")).expect("onboarded");
        assert!(
            out.after
                .contains("team=a,service.namespace=${COMPOSE_PROJECT_NAME:-shop}"),
            "{}",
            out.after
        );
        assert_eq!(
            out.after.matches("OTEL_RESOURCE_ATTRIBUTES").count(),
            1,
            "{}",
            out.after
        );
        let again = compose::onboard(&out.after, &options("app")).expect("second run");
        assert_eq!(again.after, out.after, "second run changed the file");
        for added in [Some(compose::added_paths(&out.changes)), None] {
            let recorded = added.is_some();
            let back = obs_init::compose::remove::remove(
                &out.after,
                &obs_init::compose::remove::RemoveOptions {
                    services: vec!["app".into()],
                    keep_empty: compose::filled_empty_keys(&out.changes),
                    added,
                },
            )
            .expect("removed");
            assert_eq!(back.after, text, "recorded: {recorded}");
        }
    }
}

#[test]
fn a_plain_value_in_a_flow_environment_is_left_with_a_note_saying_what_to_add() {
    // A `,` would end the plain scalar there: the file would no longer parse.
    let text =
        "services:\n  app:\n    image: x\n    environment: {OTEL_RESOURCE_ATTRIBUTES: team=a}\n";
    let out = compose::onboard(text, &options("app")).expect("onboarded");
    assert!(
        out.after.contains("{OTEL_RESOURCE_ATTRIBUTES: team=a, "),
        "{}",
        out.after
    );
    let note = out
        .notes
        .iter()
        .find(|n| n.message.contains("OTEL_RESOURCE_ATTRIBUTES"))
        .expect("a note");
    assert!(
        note.message
            .contains("add ,service.namespace=${COMPOSE_PROJECT_NAME:-shop} at its end"),
        "{}",
        note.message
    );
}
