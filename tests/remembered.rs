//! The flags that shape the plan are remembered: a later run, `--check` and `doctor`
//! reproduce an onboarding made with `--module-path` without it.

mod common;

use common::{obs_init_in as obs_init, printed as both};

#[test]
fn check_and_a_later_run_follow_the_module_path_given_once() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let p = tmp.path();
    for (name, text) in [
        ("compose.yaml", "services:\n  app:\n    build: ./app\n"),
        (
            "app/Dockerfile",
            "FROM python:3.12-slim\nCOPY . /srv\nCMD [\"python\", \"/srv/tools/run.py\"]\n",
        ),
        ("app/requirements.txt", "requests\n"),
        ("app/main.py", "print('main')\n"),
        ("app/tools/run.py", "print('run')\n"),
    ] {
        let path = p.join(name);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("writes");
    }
    let out = obs_init(
        p,
        &[
            "--service",
            "app",
            "--framework",
            "python",
            "--module-path",
            "app/tools",
            "--yes",
        ],
    );
    assert!(out.status.success(), "{}", both(&out));
    assert!(p.join("app/tools/setup_observability.py").is_file());
    let answers = std::fs::read_to_string(p.join(".obs-init.toml")).expect("reads");
    assert!(answers.contains("module_path = \"app/tools\""), "{answers}");
    // Without the flag, the plan is the same one: nothing to do, nothing drifted.
    let check = obs_init(p, &["--check"]);
    assert!(check.status.success(), "--check: {}", both(&check));
    let again = obs_init(p, &["--yes"]);
    assert!(again.status.success(), "{}", both(&again));
    assert!(both(&again).contains("Nothing to do"), "{}", both(&again));
    assert!(!p.join("app/setup_observability.py").exists());
}

#[test]
fn doctor_checks_the_dapr_config_onboarding_was_told_to_write() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let p = tmp.path();
    std::fs::write(
        p.join("compose.yaml"),
        "services:\n  app:\n    image: nginx\n",
    )
    .expect("writes");
    let out = obs_init(
        p,
        &["--service", "app", "--dapr-config", "ops/dapr.yml", "--yes"],
    );
    assert!(out.status.success(), "{}", both(&out));
    let doctor = obs_init(p, &["doctor"]);
    assert!(doctor.status.success(), "doctor: {}", both(&doctor));
    // The recorded file is the one doctor reads: spoiled, it is reported.
    let config = std::fs::read_to_string(p.join("ops/dapr.yml")).expect("reads");
    std::fs::write(
        p.join("ops/dapr.yml"),
        config.replace("isSecure: false", "isSecure: true"),
    )
    .expect("writes");
    let doctor = obs_init(p, &["doctor"]);
    assert_eq!(doctor.status.code(), Some(3), "doctor: {}", both(&doctor));
    assert!(both(&doctor).contains("ops/dapr.yml"), "{}", both(&doctor));
}

#[test]
fn check_follows_an_overlay_onboarded_with_no_env() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let p = tmp.path();
    std::fs::write(
        p.join("compose.yaml"),
        "services:\n  app:\n    image: nginx\n",
    )
    .expect("writes");
    let out = obs_init(p, &["--service", "app", "--overlay", "--no-env", "--yes"]);
    assert!(out.status.success(), "{}", both(&out));
    assert!(!p.join(".env").exists());
    let check = obs_init(p, &["--check"]);
    assert!(check.status.success(), "--check: {}", both(&check));
    let again = obs_init(p, &["--yes"]);
    assert!(again.status.success(), "{}", both(&again));
    assert!(!p.join(".env").exists(), "a later run wrote .env");
}

#[test]
fn a_later_run_keeps_the_otlp_export_asked_for_an_mlflow_before_3_4() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let p = tmp.path();
    for (name, text) in [
        ("compose.yaml", "services:\n  trainer:\n    build: .\n"),
        ("requirements.txt", "mlflow-skinny==3.3.2\n"),
        ("train.py", "import mlflow\n"),
    ] {
        std::fs::write(p.join(name), text).expect("writes");
    }
    let out = obs_init(p, &["--service", "trainer", "--mlflow-otlp", "--yes"]);
    assert!(out.status.success(), "{}", both(&out));
    let compose = std::fs::read_to_string(p.join("compose.yaml")).expect("reads");
    assert!(
        compose.contains("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="),
        "{compose}"
    );
    let answers = std::fs::read_to_string(p.join(".obs-init.toml")).expect("reads");
    assert!(answers.contains("mlflow_otlp = true"), "{answers}");
    // Without the flag, the plan is the same one: the variables asked for stay.
    let again = obs_init(p, &["--yes"]);
    assert!(both(&again).contains("Nothing to do"), "{}", both(&again));
    assert!(
        both(&again).contains("--mlflow-otlp asked for OTLP"),
        "{}",
        both(&again)
    );
}

#[test]
fn a_later_kubernetes_run_keeps_the_otlp_export_asked_for_an_mlflow_before_3_4() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let p = tmp.path();
    for (name, text) in [
        (
            "k8s/trainer.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: trainer\nspec:\n  \
             selector:\n    matchLabels: {app: trainer}\n  template:\n    metadata:\n      \
             labels: {app: trainer}\n    spec:\n      containers:\n      - name: trainer\n        \
             image: shop/trainer:1\n",
        ),
        ("trainer/requirements.txt", "mlflow-skinny==3.3.2\n"),
        ("trainer/train.py", "import mlflow\n"),
    ] {
        let path = p.join(name);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("writes");
    }
    let args = [
        "kubernetes",
        "--context",
        "trainer=trainer",
        "--mlflow-otlp",
        "--yes",
    ];
    let out = obs_init(p, &args);
    assert!(out.status.success(), "{}", both(&out));
    let manifest = std::fs::read_to_string(p.join("k8s/trainer.yaml")).expect("reads");
    assert!(
        manifest.contains("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
        "{manifest}"
    );
    let answers = std::fs::read_to_string(p.join(".obs-init.toml")).expect("reads");
    assert!(answers.contains("mlflow_otlp = true"), "{answers}");
    let again = obs_init(p, &["kubernetes", "--yes", "--dry-run"]);
    assert!(
        both(&again).contains("--mlflow-otlp asked for OTLP"),
        "{}",
        both(&again)
    );
}
