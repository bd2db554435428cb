//! End-to-end: the generated Python module against the real OpenTelemetry SDK, a real
//! OTLP/gRPC receiver and a real FastAPI app (tests/e2e/fastapi_e2e.py does the Python side).
//! The packages come from tests/e2e/requirements.lock, installed once into a cached venv
//! outside the repo by tests/e2e/venv.sh.

#![allow(clippy::print_stderr)] // says which Pythons the real-venv check ran on

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use assert_cmd::Command as BinCommand;

fn python() -> &'static Path {
    common::venv_python("requirements.lock")
}

/// A copy of a bundled example.
fn example(name: &str) -> tempfile::TempDir {
    copy_of(&format!("examples/{name}"))
}

/// A copy of a folder of the repository (a bundled example, a test project, a case's input).
fn copy_of(rel: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    common::copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join(rel), dir.path());
    dir
}

fn obs_init(dir: &Path, args: &[&str]) -> std::process::Output {
    BinCommand::cargo_bin("obs-init")
        .expect("binary")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("runs")
}

/// A copy of the bundled FastAPI example, onboarded by the real binary.
fn onboarded_example() -> tempfile::TempDir {
    let dir = example("fastapi-app");
    assert!(obs_init(dir.path(), &["--yes"]).status.success());
    assert!(dir.path().join("app/setup_observability.py").is_file());
    dir
}

fn run_e2e(project: &Path) -> (bool, String) {
    run_script("fastapi_e2e.py", project)
}

/// Runs one of tests/e2e/*.py on `project` with the venv's Python.
fn run_script(name: &str, project: &Path) -> (bool, String) {
    run_script_with(name, project, &[])
}

/// [`run_script`] with more arguments after the project.
fn run_script_with(name: &str, project: &Path, args: &[&str]) -> (bool, String) {
    run_script_in(python(), name, project, args)
}

/// `run_script_with` under another venv's Python.
fn run_script_in(python: &Path, name: &str, project: &Path, args: &[&str]) -> (bool, String) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/e2e")
        .join(name);
    common::outcome(
        Command::new(python)
            .arg(&script)
            .arg(project)
            .args(args)
            .env_remove("OTEL_SERVICE_NAME")
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            // compose_env.py resolves a service's environment with the real Compose.
            .env("OBS_INIT_COMPOSE", common::oracle::binary()),
    )
}

#[test]
fn spans_and_logs_reach_a_real_collector_and_continue_the_dapr_trace() {
    let project = onboarded_example();
    let (ok, output) = run_e2e(project.path());
    assert!(ok, "end-to-end check failed:\n{output}");
    assert!(output.contains("0 failures"), "{output}");
}

/// The bundled FastAPI example built `FROM image`, with an attribute of the project's own,
/// onboarded with its entry point edited, in a checkout whose `.env` names the project
/// `orders-eu`; the environment the real Compose resolves for its `api` service.
fn onboarded_in_a_named_project(image: &str) -> (tempfile::TempDir, String) {
    let dir = example("fastapi-app");
    let dockerfile = dir.path().join("Dockerfile");
    let text = std::fs::read_to_string(&dockerfile).expect("Dockerfile");
    let from = "FROM python:3.12-slim\n";
    assert!(text.starts_with(from), "the example changed");
    std::fs::write(
        &dockerfile,
        text.replacen(from, &format!("FROM {image}\n"), 1),
    )
    .expect("write");
    let compose = dir.path().join("docker-compose.yml");
    let text = std::fs::read_to_string(&compose).expect("compose file");
    let own = "      - LOG_LEVEL=info   # debug for local troubleshooting\n";
    assert!(text.contains(own), "the example changed");
    let with_own = text.replace(
        own,
        &format!("{own}      - OTEL_RESOURCE_ATTRIBUTES=deployment.environment=e2e\n"),
    );
    std::fs::write(&compose, with_own).expect("write");
    let out = obs_init(dir.path(), &["--yes", "--edit-entrypoint"]);
    assert!(
        out.status.success(),
        "{image}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Another checkout: the project is named in `.env`, not after the folder.
    std::fs::write(dir.path().join(".env"), "COMPOSE_PROJECT_NAME=orders-eu\n").expect(".env");
    let model = common::oracle::config(dir.path(), &[&compose], common::oracle::Profiles::None)
        .expect("Compose accepts the onboarded file");
    assert_eq!(model["name"], "orders-eu");
    let env = model["services"]["api"]["environment"].to_string();
    (dir, env)
}

/// Two projects' services named `api` are told apart on the shared platform: the real
/// Compose resolves what onboarding wrote to the project's name (here one `.env` sets, not
/// the folder the file was onboarded in), and the real SDK puts it, with the project's own
/// attributes, on every span, log record and metric of the onboarded app under uvicorn.
#[test]
fn every_signal_of_an_onboarded_app_carries_the_compose_projects_namespace() {
    let (dir, env) = onboarded_in_a_named_project("python:3.12-slim");
    let (ok, out) = run_script_with("namespace_e2e.py", dir.path(), &[env.as_str(), "orders-eu"]);
    assert!(ok, "{out}");
}

#[test]
fn the_end_to_end_check_fails_when_the_module_uses_the_guides_imports() {
    let project = onboarded_example();
    let module = project.path().join("app/setup_observability.py");
    let text = std::fs::read_to_string(&module).expect("read");
    // The company guide's import path, which never existed in a release.
    let broken = text.replace(
        "from opentelemetry.sdk._logs import LoggerProvider",
        "from opentelemetry.sdk.logs import LoggerProvider",
    );
    assert_ne!(broken, text, "the import to break was not found");
    std::fs::write(&module, broken).expect("write");
    let (ok, output) = run_e2e(project.path());
    assert!(
        !ok,
        "a broken module passed the end-to-end check:\n{output}"
    );
    assert!(output.contains("opentelemetry.sdk.logs"), "{output}");
}

#[test]
fn the_end_to_end_check_fails_when_a_second_setup_adds_a_second_log_handler() {
    let project = onboarded_example();
    let module = project.path().join("app/setup_observability.py");
    let text = std::fs::read_to_string(&module).expect("read");
    // Every guard against installing twice goes: the call-once flag, the handler check
    // at setup, the one where the handler is attached to each logger and the one where
    // a logger that stops propagating gets it.
    let broken = text
        .replace("        if _done:\n            return\n", "")
        .replace(
            "if not any(_is_otel_log_handler(h) for h in logging.getLogger().handlers):",
            "if True:",
        )
        .replace(
            "if not any(_is_otel_log_handler(h) for h in logger.handlers):",
            "if True:",
        );
    assert_eq!(
        broken.matches("if True:").count(),
        3,
        "the handler checks were not found"
    );
    std::fs::write(&module, broken).expect("write");
    let (ok, output) = run_e2e(project.path());
    assert!(!ok, "double setup went unnoticed:\n{output}");
}

#[test]
fn the_generated_module_and_the_inserted_lines_pass_ruff_mypy_strict_and_pyright() {
    let project = example("fastapi-app");
    assert!(
        obs_init(project.path(), &["--yes", "--edit-entrypoint"])
            .status
            .success()
    );
    let module = project.path().join("app/setup_observability.py");
    let main = project.path().join("app/main.py");
    let status = Command::new(python())
        .args(["-m", "py_compile"])
        .arg(&module)
        .status()
        .expect("python runs");
    assert!(status.success(), "py_compile failed");
    // The module, and the lines inserted into the entry point (import sorting included).
    let out = Command::new(python())
        .args([
            "-m",
            "ruff",
            "check",
            "--isolated",
            "--no-cache",
            "--target-version",
            "py39",
        ])
        .args(["--select", "E,F,W,B,UP,I,N,SIM,RUF"])
        .args([&module, &main])
        .output()
        .expect("ruff runs");
    assert!(
        out.status.success(),
        "ruff found problems:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // What strictly typed projects run on their code.
    let out = Command::new(python())
        .current_dir(project.path())
        .args([
            "-m",
            "mypy",
            "--strict",
            "--no-incremental",
            "--cache-dir",
            "/dev/null",
        ])
        .arg(&module)
        .output()
        .expect("mypy runs");
    assert!(
        out.status.success(),
        "mypy --strict found problems:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // The lines inserted into a Flask app import the module absolutely: isort puts it in
    // the first-party section, among the project's own imports (`from tasks import ship`).
    for app in ["flask-app", "celery-app"] {
        let dir = copy_of(&format!("tests/e2e/{app}"));
        let out = obs_init(dir.path(), &["--yes", "--edit-entrypoint"]);
        assert!(out.status.success(), "{app}: {out:?}");
        let edited = std::fs::read_to_string(dir.path().join("app.py")).expect("read");
        assert!(edited.contains("instrument_flask(app)"), "{app}: {edited}");
        let out = Command::new(python())
            .current_dir(dir.path())
            .args([
                "-m",
                "ruff",
                "check",
                "--isolated",
                "--no-cache",
                "--select",
                "I,E,F",
            ])
            .arg("app.py")
            .output()
            .expect("ruff runs");
        assert!(
            out.status.success(),
            "{app}: ruff on the edited app.py:\n{}\n{edited}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    // Pyright in its default (basic) mode, resolving imports in the venv with the packages.
    let pyright = common::install("tools/pyright.sh");
    let out = Command::new(pyright.trim())
        .current_dir(project.path())
        .arg("--pythonpath")
        .arg(python())
        .args([&module, &main])
        .output()
        .expect("pyright runs");
    assert!(
        out.status.success(),
        "pyright found problems:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn mlflow_exports_its_trace_to_the_collector_with_the_emitted_environment() {
    let dir = example("mlflow-app");
    let out = obs_init(dir.path(), &["--yes"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let requirements = std::fs::read_to_string(dir.path().join("requirements.txt")).expect("read");
    assert!(requirements.contains("opentelemetry-exporter-otlp-proto-grpc>="));
    let (ok, output) = run_script("mlflow_e2e.py", dir.path());
    assert!(ok, "MLflow end-to-end check failed:\n{output}");
}

#[test]
fn an_mlflow_workload_on_kubernetes_exports_its_trace_with_the_emitted_container_env() {
    // The trainer deployed with a manifest; skaffold builds its image from the example.
    let dir = example("mlflow-app");
    let p = dir.path();
    std::fs::remove_file(p.join("docker-compose.yml")).expect("remove");
    std::fs::write(
        p.join("skaffold.yaml"),
        "apiVersion: skaffold/v4beta11\nkind: Config\nbuild:\n  artifacts:\n  - image: \
         shop/trainer\n    context: .\n",
    )
    .expect("write");
    std::fs::create_dir_all(p.join("k8s")).expect("mkdir");
    let manifest = p.join("k8s/trainer.yaml");
    std::fs::write(
        &manifest,
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: trainer\nspec:\n  \
         selector:\n    matchLabels: {app: trainer}\n  template:\n    metadata:\n      \
         labels: {app: trainer}\n    spec:\n      containers:\n      - name: trainer\n        \
         image: shop/trainer:1\n        env:\n        - name: MLFLOW_TRACKING_URI\n          \
         value: http://mlflow:5000\n",
    )
    .expect("write");
    let out = obs_init(p, &["kubernetes", "--yes"]);
    assert!(out.status.success(), "{out:?}");
    let (ok, output) = run_script_with("mlflow_e2e.py", p, &[manifest.to_str().expect("utf-8")]);
    assert!(ok, "MLflow on Kubernetes:\n{output}");
}

/// The example onboarded with `release` (an `mlflow-skinny` specifier) in its requirements,
/// `args` given to obs-init, and a venv on the image's Python holding what the onboarded
/// requirements.txt resolves to (the OpenTelemetry lines obs-init wrote included): its
/// folder and the venv's Python. `None`, said on stderr, without a Python 3.12 here.
fn mlflow_release_venv(release: &str, args: &[&str]) -> Option<(tempfile::TempDir, PathBuf)> {
    mlflow_release_venv_on("3.12", release, args)
}

/// [`mlflow_release_venv`] with the image (and the venv) on Python `version`.
fn mlflow_release_venv_on(
    version: &str,
    release: &str,
    args: &[&str],
) -> Option<(tempfile::TempDir, PathBuf)> {
    let Some(interp) = interpreter(version) else {
        eprintln!("Python {version} is not installed here: MLflow {release} is skipped");
        return None;
    };
    let dir = example("mlflow-app");
    let dockerfile = dir.path().join("Dockerfile");
    let text = std::fs::read_to_string(&dockerfile).expect("read");
    let text = text.replace("python:3.12-slim", &format!("python:{version}-slim"));
    std::fs::write(&dockerfile, text).expect("write");
    // The sqlite store the check reads the traces from needs SQLAlchemy and Alembic.
    std::fs::write(
        dir.path().join("requirements.txt"),
        format!("{release}\nsqlalchemy==2.0.44\nalembic==1.16.5\n"),
    )
    .expect("write");
    let out = obs_init(dir.path(), args);
    assert!(out.status.success(), "{out:?}");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/target_venv.sh");
    let out = Command::new("bash")
        .arg(&script)
        .arg(&interp)
        .arg(dir.path().join("requirements.txt"))
        .output()
        .expect("bash runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let python = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    Some((dir, python))
}

#[test]
fn mlflow_before_3_4_onboarded_keeps_its_traces_in_the_mlflow_store() {
    // 3.3 has no dual export: the OTLP variables would send its traces to the collector
    // instead of the MLflow server, and SDK 1.45 would fail every span it ends.
    // On every Python line MLflow 3.3 installs on (3.10 and later) that this machine has.
    let mut ran = Vec::new();
    for version in ["3.10", "3.12", "3.13"] {
        let release = "mlflow-skinny==3.3.2";
        let Some((dir, python)) = mlflow_release_venv_on(version, release, &["--yes"]) else {
            continue;
        };
        let (ok, output) = run_script_in(&python, "mlflow_e2e.py", dir.path(), &["--store-only"]);
        assert!(ok, "MLflow 3.3.2 on Python {version}, onboarded:\n{output}");
        assert!(output.contains("MLflow 3.3.2"), "{output}");
        ran.push(version);
    }
    eprintln!("real venvs checked: {ran:?}");
    assert!(!ran.is_empty(), "no Python 3.10+ here");
}

#[test]
fn mlflow_3_4_exports_to_both_without_the_service_name_its_note_warns_of() {
    let Some((dir, python)) = mlflow_release_venv("mlflow-skinny==3.4.0", &["--yes"]) else {
        return;
    };
    let (ok, output) = run_script_in(&python, "mlflow_e2e.py", dir.path(), &["--unnamed"]);
    assert!(ok, "MLflow 3.4.0 onboarded:\n{output}");
    assert!(output.contains("MLflow 3.4.0"), "{output}");
    // What obs-init says of this release (planning again says it again).
    let again = obs_init(dir.path(), &["--yes", "--dry-run"]);
    let said = String::from_utf8_lossy(&again.stderr);
    assert!(said.contains("no service.name on the platform"), "{said}");
}

#[test]
fn mlflow_3_4_and_later_onboarded_exports_to_the_collector_and_its_store_and_its_server_is_left_alone()
 {
    // 3.6: 3.4 and 3.5 export with an empty resource (no service.name), read in their wheels.
    // On every Python line MLflow 3.6 installs on (3.10 and later) that this machine has.
    let args = ["--service", "mlflow", "--service", "trainer"];
    let mut ran = Vec::new();
    let mut failed = Vec::new();
    let mut last = None;
    for version in ["3.10", "3.12", "3.13"] {
        let release = "mlflow-skinny==3.6.0";
        let Some((dir, python)) = mlflow_release_venv_on(version, release, &args) else {
            continue;
        };
        let started = std::time::Instant::now();
        let (ok, output) = run_script_in(&python, "mlflow_e2e.py", dir.path(), &[]);
        eprintln!(
            "{version}: MLflow 3.6.0 onboarded checked in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        if !ok || !output.contains("MLflow 3.6.0") {
            failed.push(format!(
                "MLflow 3.6.0 on Python {version}, onboarded:\n{output}"
            ));
        }
        ran.push(version);
        last = Some(dir);
    }
    eprintln!("Python lines run: {ran:?}");
    // Every line is run before judging, so that a failure says which lines it holds on.
    assert!(failed.is_empty(), "{}", failed.join("\n"));
    let Some(dir) = last else {
        return;
    };
    // The tracking server (`mlflow server`) traces nothing: none of MLflow's variables.
    let compose = std::fs::read_to_string(dir.path().join("docker-compose.yml")).expect("read");
    let start = compose.find("\n  mlflow:\n").expect("the mlflow service") + 1;
    let rest = &compose[start..];
    let end = rest[1..]
        .find("\n  ")
        .map(|i| i + 1)
        .into_iter()
        .chain(rest.match_indices("\n  ").map(|(i, _)| i))
        .find(|&i| i > 0 && rest[i + 3..].starts_with(|c: char| c != ' '))
        .unwrap_or(rest.len());
    let server = &rest[..end];
    assert!(server.contains("OTEL_SERVICE_NAME=mlflow"), "{server}");
    assert!(!server.contains("OTEL_EXPORTER_OTLP_TRACES"), "{server}");
    assert!(!server.contains("MLFLOW_TRACE"), "{server}");
}

#[test]
fn the_mlflow_check_fails_without_onboarding() {
    let dir = example("mlflow-app");
    let (ok, output) = run_script("mlflow_e2e.py", dir.path());
    assert!(!ok, "an un-onboarded MLflow app passed:\n{output}");
    assert!(
        output.contains("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is not set"),
        "{output}"
    );
}

#[test]
fn dagster_loads_the_emitted_dagster_yaml_and_delivers_context_log_records() {
    let dir = example("dagster-pipeline");
    let out = obs_init(dir.path(), &["--yes"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let yaml = std::fs::read_to_string(dir.path().join("dagster_home/dagster.yaml")).expect("read");
    assert!(
        yaml.contains("class: pipelines.setup_observability.OtelLogHandler"),
        "{yaml}"
    );
    assert!(
        yaml.starts_with("# Dagster instance settings"),
        "comments lost:\n{yaml}"
    );
    let (ok, output) = run_script("dagster_e2e.py", dir.path());
    assert!(ok, "Dagster end-to-end check failed:\n{output}");
}

/// The handler alone (no `python_log_level`, which raised Dagster's managed loggers): a job
/// that logs at DEBUG stores as many events, DEBUG ones included, and prints as many on the
/// console after onboarding as before, and its records still reach the collector.
#[test]
fn onboarding_keeps_every_event_dagster_stored_and_printed_before() {
    let debug_job = |dir: &Path| {
        let defs = dir.join("pipelines/definitions.py");
        let text = std::fs::read_to_string(&defs).expect("definitions.py");
        let marker = "    rows = [1, 2, 3]\n";
        assert!(text.contains(marker), "the example changed");
        let with_debug = text.replace(
            marker,
            &format!("{marker}    context.log.debug(\"rows read: 3\")\n"),
        );
        std::fs::write(&defs, with_debug).expect("write");
    };
    let mut failed = Vec::new();
    for (version, python) in dagster_pythons() {
        let original = example("dagster-pipeline");
        debug_job(original.path());
        let onboarded = example("dagster-pipeline");
        debug_job(onboarded.path());
        let out = obs_init(onboarded.path(), &["--yes"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let (ok, output) = run_script_in(
            &python,
            "dagster_events_e2e.py",
            original.path(),
            &[onboarded.path().to_str().expect("utf-8")],
        );
        eprintln!("{version}: {output}");
        if !ok {
            failed.push(format!(
                "{version}: Dagster's events after onboarding:\n{output}"
            ));
        }
    }
    // Every line is run before judging, so that a failure says which lines it holds on.
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

#[test]
fn a_dagster_job_defined_outside_definitions_py_delivers_its_records() {
    let dir = example("dagster-pipeline");
    let p = dir.path();
    std::fs::rename(
        p.join("pipelines/definitions.py"),
        p.join("pipelines/jobs.py"),
    )
    .expect("rename");
    let compose = p.join("docker-compose.yml");
    let text = std::fs::read_to_string(&compose).expect("read");
    std::fs::write(
        &compose,
        text.replace("pipelines.definitions", "pipelines.jobs"),
    )
    .expect("write");
    let out = obs_init(p, &["--yes"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Real Dagster judges first: a handler naming a module that is not there fails the run.
    let (ok, output) = run_script_with("dagster_e2e.py", p, &["--module", "pipelines.jobs"]);
    assert!(ok, "Dagster end-to-end check failed:\n{output}");
    assert!(p.join("pipelines/setup_observability.py").is_file());
}

/// Loads the instance in `home` with real Dagster and builds its run launcher, as the
/// daemon does: what the launcher was configured with, as JSON.
const LOAD_LAUNCHER: &str = "
import json, sys
from dagster import DagsterInstance
launcher = DagsterInstance.from_config(sys.argv[1]).run_launcher
print(json.dumps({k: getattr(launcher, k) for k in
    ('network', 'networks', 'env_vars', 'container_kwargs') if hasattr(launcher, k)}))
";

#[test]
fn real_dagster_builds_the_docker_run_launcher_with_the_keys_obs_init_added() {
    for (case, has_networks) in [
        (
            "dagster_docker_run_containers_join_the_network_and_get_the_variables",
            true,
        ),
        (
            "dagster_docker_run_launcher_with_one_network_is_noted_not_rewritten",
            false,
        ),
    ] {
        let dir = copy_of(&format!("tests/cases/{case}/in"));
        let out = obs_init(dir.path(), &["--yes"]);
        assert!(out.status.success(), "{case}: {out:?}");
        let (ok, output) = common::outcome(
            Command::new(common::venv_python("dagster-docker.lock"))
                .args(["-c", LOAD_LAUNCHER])
                .arg(dir.path().join("dagster_home")),
        );
        assert!(ok, "{case}: real Dagster refused the instance:\n{output}");
        let json = output
            .lines()
            .rev()
            .find(|l| l.starts_with('{'))
            .expect("JSON");
        let launcher: serde_json::Value = serde_json::from_str(json).expect("JSON");
        let env = launcher["env_vars"].to_string();
        assert!(
            env.contains("OTEL_COLLECTOR_ENDPOINT=otel-collector:4317")
                && env.contains("OTEL_EXPORTER_OTLP_ENDPOINT=http://otel-collector:4317"),
            "{case}: {launcher}"
        );
        if has_networks {
            assert_eq!(
                launcher["networks"],
                serde_json::json!(["dagster_network", "observability-net"]),
                "{case}"
            );
            // The user's own values stay.
            assert!(env.contains("DAGSTER_POSTGRES_USER") && env.contains("=etl-runs"));
            assert!(
                launcher["container_kwargs"]["volumes"].is_array(),
                "{launcher}"
            );
        } else {
            // One `network` is kept as it is (Dagster refuses `network` with `networks`).
            assert_eq!(
                launcher["networks"],
                serde_json::json!(["dagster_network"]),
                "{case}"
            );
        }
    }
}

#[test]
fn dagsters_deploy_docker_layout_gets_its_instance_edited_and_a_job_delivers_its_records() {
    let dir = copy_of(
        "tests/cases/dagster_deploy_docker_layout_follows_dagster_home_to_its_instance_file/in",
    );
    let p = dir.path();
    let out = obs_init(p, &["--yes"]);
    assert!(out.status.success(), "{out:?}");
    // The instance the webserver's image copies to DAGSTER_HOME was edited, not the dev one.
    assert!(
        !std::fs::read_to_string(p.join("dev/dagster.yaml"))
            .expect("read")
            .contains("OtelLogHandler")
    );
    let python = common::venv_python("dagster-docker.lock");
    let (ok, output) = common::outcome(Command::new(python).args(["-c", LOAD_LAUNCHER]).arg(p));
    assert!(ok, "real Dagster refused the instance:\n{output}");
    let json = output
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .expect("JSON");
    let launcher: serde_json::Value = serde_json::from_str(json).expect("JSON");
    let env = launcher["env_vars"].to_string();
    for wanted in [
        "DAGSTER_POSTGRES_USER",
        "OTEL_EXPORTER_OTLP_ENDPOINT=http://otel-collector:4317",
        // Run containers import the handler's module from the user code image's workdir.
        "PYTHONPATH=/opt/dagster/app",
    ] {
        assert!(env.contains(wanted), "{wanted} missing: {launcher}");
    }
    // A run under that instance, with the user code container's environment, delivers
    // its records: the handler imports in the step processes.
    let (ok, output) = run_script_in(
        python,
        "dagster_e2e.py",
        p,
        &[
            "--file",
            "definitions.py",
            "--job",
            "my_job",
            "--service",
            "docker_example_user_code",
            "--home",
            ".",
            "--expect",
            "hello",
        ],
    );
    assert!(ok, "Dagster end-to-end check failed:\n{output}");
}

#[test]
fn a_code_location_named_by_workspace_yaml_delivers_its_records() {
    let dir = copy_of("tests/cases/dagster_workspace_yaml_says_where_the_code_is/in");
    let p = dir.path();
    let out = obs_init(p, &["--yes"]);
    assert!(out.status.success(), "{out:?}");
    // The module sits in the package workspace.yaml names, imported from src/ (/app/src in
    // the image), not beside the legacy definitions.py a search would find first.
    assert!(p.join("src/etl/setup_observability.py").is_file());
    let (ok, output) = run_script_with(
        "dagster_e2e.py",
        p,
        &[
            "--module",
            "etl.defs",
            "--working-directory",
            "src",
            "--job",
            "greet",
            "--service",
            "webserver",
            "--home",
            "instance",
            "--workdir",
            "/app",
            "--expect",
            "hello",
        ],
    );
    assert!(ok, "Dagster end-to-end check failed:\n{output}");
}

/// The company guide's block, which Dagster rejects.
const GUIDE_TELEMETRY: &str = "telemetry:\n  enabled: false\n  opentelemetry:\n    endpoint: otel-collector:4317\n    service_name: etl\n";

#[test]
fn the_guides_dagster_block_breaks_dagster_and_obs_init_flags_then_fixes_it() {
    let dir = example("dagster-pipeline");
    let yaml = dir.path().join("dagster_home/dagster.yaml");
    std::fs::write(&yaml, GUIDE_TELEMETRY).expect("write");

    // Real Dagster refuses the instance...
    let dagster = python().with_file_name("dagster");
    let info = Command::new(&dagster)
        .args(["instance", "info"])
        .env("DAGSTER_HOME", dir.path().join("dagster_home"))
        .output()
        .expect("dagster runs");
    assert!(!info.status.success(), "Dagster accepted the guide's block");
    assert!(String::from_utf8_lossy(&info.stderr).contains("opentelemetry"));

    // ...obs-init says so and writes nothing...
    let out = obs_init(dir.path(), &["--yes"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("`telemetry` holds `opentelemetry`"), "{err}");
    assert!(err.contains("--fix-invalid"), "{err}");
    assert_eq!(
        std::fs::read_to_string(&yaml).expect("read"),
        GUIDE_TELEMETRY
    );

    // ...and with consent removes it, after which Dagster works and logs arrive.
    let out = obs_init(dir.path(), &["--yes", "--fix-invalid"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let fixed = std::fs::read_to_string(&yaml).expect("read");
    assert!(
        fixed.contains("enabled: false") && !fixed.contains("opentelemetry:"),
        "{fixed}"
    );
    let (ok, output) = run_script("dagster_e2e.py", dir.path());
    assert!(
        ok,
        "Dagster end-to-end check failed after the fix:\n{output}"
    );
}

/// The app imports, with the real packages, after each step of onboard (with the entry
/// point edited) and remove: neither leaves a line that names a module that is not there.
#[test]
fn the_app_imports_after_onboarding_with_the_entry_point_edited_and_after_remove() {
    let dir = example("fastapi-app");
    let imports = |dir: &Path| {
        common::outcome(
            Command::new(python())
                .current_dir(dir)
                .args(["-B", "-c", "import app.main as m; assert m.app"])
                .env_remove("OTEL_SERVICE_NAME")
                .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
                // Nothing is listening: setup must not wait for a collector to import.
                .env("OTEL_COLLECTOR_ENDPOINT", "127.0.0.1:9"),
        )
    };
    let (ok, out) = imports(dir.path());
    assert!(ok, "the example does not import before onboarding:\n{out}");
    let onboard = obs_init(dir.path(), &["--yes", "--edit-entrypoint"]);
    assert!(onboard.status.success(), "{onboard:?}");
    let main = std::fs::read_to_string(dir.path().join("app/main.py")).expect("main.py");
    assert!(
        main.contains("instrument_fastapi(app)"),
        "not edited:\n{main}"
    );
    let (ok, out) = imports(dir.path());
    assert!(ok, "the onboarded app does not import:\n{out}");
    let remove = obs_init(dir.path(), &["remove", "--yes"]);
    assert!(remove.status.success(), "{remove:?}");
    assert!(!dir.path().join("app/setup_observability.py").exists());
    let (ok, out) = imports(dir.path());
    assert!(ok, "the app does not import after remove:\n{out}");
}

/// The JSON object one of tests/e2e/*.py prints, run with `python` on `args`: the scripts
/// that measure and leave the judging to the test.
fn report(python: &Path, name: &str, args: &[&std::ffi::OsStr]) -> serde_json::Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/e2e")
        .join(name);
    let out = Command::new(python)
        .current_dir(script.parent().expect("tests/e2e"))
        .arg(&script)
        .args(args)
        .env_remove("OTEL_SERVICE_NAME")
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .output()
        .expect("the script runs");
    assert!(
        out.status.success(),
        "{name} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON object")
}

/// A real server run of the onboarded (or original) FastAPI example: 20 requests, then
/// SIGTERM at once (tests/e2e/server_e2e.py).
fn server_run(project: &Path, server: &str, collector_down: bool) -> serde_json::Value {
    let mut args = vec![project.as_os_str(), server.as_ref()];
    if collector_down {
        args.push("--collector-down".as_ref());
    }
    report(python(), "server_e2e.py", &args)
}

fn onboarded_with_entry_point() -> tempfile::TempDir {
    let dir = example("fastapi-app");
    let out = obs_init(dir.path(), &["--yes", "--edit-entrypoint"]);
    assert!(out.status.success(), "{out:?}");
    dir
}

const SERVERS: [&str; 4] = ["uvicorn", "uvicorn-workers", "gunicorn", "gunicorn-preload"];

#[test]
fn every_requests_span_and_logs_arrive_when_the_server_is_stopped_right_after_it() {
    let project = onboarded_with_entry_point();
    for server in SERVERS {
        let run = server_run(project.path(), server, false);
        // Each request once: its server span, the app's record and uvicorn's access
        // record, all carrying the request's trace id; nothing lost, nothing twice.
        for key in ["server_spans", "app_logs", "access_logs"] {
            assert_eq!(run[key], 20, "{server}: {key} in {run:#}");
        }
        let stop = run["stop_seconds"].as_f64().expect("seconds");
        assert!(stop < 5.0, "{server}: SIGTERM to exit took {stop} s");
    }
}

/// A program installed in the venv of `python`.
fn python_of(python: &Path, program: &str) -> PathBuf {
    python.with_file_name(program)
}

fn flask_python() -> &'static Path {
    common::venv_python("flask.lock")
}

/// A copy of tests/e2e/flask-app.
fn flask_app() -> tempfile::TempDir {
    copy_of("tests/e2e/flask-app")
}

#[test]
fn a_flask_app_under_gunicorn_delivers_each_requests_span_and_record() {
    let original = flask_app();
    let onboarded = flask_app();
    let out = obs_init(onboarded.path(), &["--yes", "--edit-entrypoint"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let app = std::fs::read_to_string(onboarded.path().join("app.py")).expect("read");
    assert!(app.contains("\ninstrument_flask(app)\n"), "{app}");
    let requirements =
        std::fs::read_to_string(onboarded.path().join("requirements.txt")).expect("read");
    assert!(
        requirements.contains("opentelemetry-instrumentation-flask>="),
        "{requirements}"
    );
    let server = "gunicorn-flask";
    let run = report(
        flask_python(),
        "server_e2e.py",
        &[onboarded.path().as_os_str(), server.as_ref()],
    );
    // Each request's server span continues the caller's trace, and the app's record
    // carries it: nothing lost at SIGTERM, nothing twice.
    assert_eq!(run["server_spans"], 20, "{run:#}");
    assert_eq!(run["app_logs"], 20, "{run:#}");
    let before = report(
        flask_python(),
        "server_e2e.py",
        &[original.path().as_os_str(), server.as_ref()],
    );
    assert_eq!(before["server_spans"], 0, "{before:#}");
    assert_eq!(run["console"], before["console"], "the console changed");
}

/// The Flask app run by its image's start script with `flask run --debug` (on `image`),
/// onboarded with --edit-entrypoint; obs-init's note on the reloader checked.
fn flask_debug_by_start_script(image: &str) -> tempfile::TempDir {
    let dir = flask_app();
    let p = dir.path();
    std::fs::write(
        p.join("Dockerfile"),
        format!(
            "FROM {image}\nWORKDIR /app\nCOPY . .\nRUN pip install -r requirements.txt\n\
             CMD [\"./start.sh\"]\n"
        ),
    )
    .expect("write");
    std::fs::write(
        p.join("start.sh"),
        "#!/bin/sh\nexec flask --app app run --debug --host 0.0.0.0 --port 8000\n",
    )
    .expect("write");
    let out = obs_init(p, &["--yes", "--edit-entrypoint"]);
    assert!(out.status.success(), "{image}: {out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("add --no-reload to the command"),
        "{image}: {stderr}"
    );
    dir
}

#[test]
fn flask_debug_run_by_a_start_script_is_noted_and_its_reloader_loses_the_spans_it_says() {
    let dir = flask_debug_by_start_script("python:3.12-slim");
    let p = dir.path();
    // Done as the note says, every request's span arrives at the stop.
    let run = report(
        flask_python(),
        "server_e2e.py",
        &[p.as_os_str(), "flask-debug-noreload".as_ref()],
    );
    assert_eq!(run["server_spans"], 20, "{run:#}");
    assert_eq!(run["app_logs"], 20, "{run:#}");
    // With the reloader, the stop ends its parent and the child serving the requests is
    // killed with the container, unflushed: what the note says.
    let run = report(
        flask_python(),
        "server_e2e.py",
        &[p.as_os_str(), "flask-debug".as_ref()],
    );
    assert!(run["server_spans"].as_u64() < Some(20), "{run:#}");
}

/// tests/e2e/flask-app's orders API, built by an app factory.
const FLASK_FACTORY: &str = "import logging\n\nfrom flask import Flask, abort\n\n\
    log = logging.getLogger(__name__)\n\n\ndef create_app() -> Flask:\n    \
    app = Flask(__name__)\n\n    @app.get(\"/orders/<int:order_id>\")\n    \
    def get_order(order_id: int) -> dict:\n        log.info(\"looking up order %s\", order_id)\n        \
    if order_id >= 1000:\n            log.warning(\"order %s not found\", order_id)\n            \
    abort(404)\n        return {\"id\": order_id, \"status\": \"shipped\"}\n\n    return app\n";

#[test]
fn a_flask_app_factory_under_gunicorn_delivers_each_requests_span_and_record() {
    let dir = flask_app();
    let p = dir.path();
    std::fs::write(p.join("app.py"), FLASK_FACTORY).expect("write");
    let out = obs_init(p, &["--yes", "--edit-entrypoint"]);
    assert!(out.status.success(), "{out:?}");
    let app = std::fs::read_to_string(p.join("app.py")).expect("read");
    assert!(
        app.contains("    app = Flask(__name__)\n    instrument_flask(app)\n"),
        "{app}"
    );
    let run = report(
        flask_python(),
        "server_e2e.py",
        &[p.as_os_str(), "gunicorn-flask-factory".as_ref()],
    );
    assert_eq!(run["server_spans"], 20, "{run:#}");
    assert_eq!(run["app_logs"], 20, "{run:#}");
}

/// The orders view the Django test project serves, as the FastAPI and Flask examples do.
const DJANGO_VIEWS: &str = "import logging\n\nfrom django.http import Http404, JsonResponse\n\n\
    log = logging.getLogger(__name__)\n\n\ndef get_order(request, order_id):\n    \
    log.info(\"looking up order %s\", order_id)\n    if order_id >= 1000:\n        \
    log.warning(\"order %s not found\", order_id)\n        raise Http404(\"no such order\")\n    \
    return JsonResponse({\"id\": order_id, \"status\": \"shipped\"})\n";
const DJANGO_URLS: &str = "from django.urls import path\n\nfrom . import views\n\n\
    urlpatterns = [path(\"orders/<int:order_id>\", views.get_order)]\n";

/// A Django project as `django-admin startproject mysite .` makes it (the real one), with
/// the orders view, a requirements.txt and a compose file whose service runs `command`.
fn django_project(command: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path();
    let admin = python_of(common::venv_python("django.lock"), "django-admin");
    let made = Command::new(admin)
        .args(["startproject", "mysite", "."])
        .current_dir(p)
        .output()
        .expect("django-admin runs");
    assert!(made.status.success(), "{made:?}");
    std::fs::write(p.join("mysite/views.py"), DJANGO_VIEWS).expect("write");
    std::fs::write(p.join("mysite/urls.py"), DJANGO_URLS).expect("write");
    std::fs::write(p.join("requirements.txt"), "django>=5\ngunicorn>=23\n").expect("write");
    std::fs::write(p.join("Dockerfile"), "FROM python:3.12-slim\n").expect("write");
    std::fs::write(
        p.join("compose.yaml"),
        format!("services:\n  web:\n    build: .\n    command: {command}\n"),
    )
    .expect("write");
    dir
}

const GUNICORN_DJANGO: &str = "gunicorn mysite.wsgi:application -b 0.0.0.0:8000";

#[test]
fn a_django_project_under_gunicorn_delivers_each_requests_span_and_record() {
    let original = django_project(GUNICORN_DJANGO);
    let onboarded = django_project(GUNICORN_DJANGO);
    let out = obs_init(onboarded.path(), &["--yes", "--edit-entrypoint"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let wsgi = std::fs::read_to_string(onboarded.path().join("mysite/wsgi.py")).expect("read");
    assert!(
        wsgi.contains("instrument_django()\napplication = get_wsgi_application()"),
        "{wsgi}"
    );
    let python = common::venv_python("django.lock");
    // asgi.py, edited the same way, still builds the application with real Django.
    let (ok, output) = common::outcome(
        Command::new(python)
            .args([
                "-c",
                "import mysite.asgi; print(type(mysite.asgi.application).__name__)",
            ])
            .current_dir(onboarded.path())
            .env("OTEL_COLLECTOR_ENDPOINT", "127.0.0.1:9"),
    );
    assert!(ok && output.contains("ASGIHandler"), "asgi.py: {output}");
    // And serves: a request through it, as an ASGI server sends it, is traced.
    let asgi = report(python, "django_asgi.py", &[onboarded.path().as_os_str()]);
    assert_eq!(asgi["status"], 200, "{asgi:#}");
    assert_eq!(asgi["server_spans_in_trace"], 1, "{asgi:#}");
    let server = "gunicorn-django";
    let run = report(
        python,
        "server_e2e.py",
        &[onboarded.path().as_os_str(), server.as_ref()],
    );
    assert_eq!(run["server_spans"], 20, "{run:#}");
    assert_eq!(run["app_logs"], 20, "{run:#}");
    let before = report(
        python,
        "server_e2e.py",
        &[original.path().as_os_str(), server.as_ref()],
    );
    assert_eq!(before["server_spans"], 0, "{before:#}");
    assert_eq!(run["console"], before["console"], "the console changed");
}

#[test]
fn manage_py_runserver_serves_the_instrumented_wsgi_application_and_its_reloader_is_noted() {
    // runserver serves settings.WSGI_APPLICATION, so the wsgi.py edit is what traces it.
    let onboarded = django_project("python manage.py runserver 0.0.0.0:8000");
    let out = obs_init(onboarded.path(), &["--yes", "--edit-entrypoint"]);
    assert!(out.status.success(), "{out:?}");
    let python = common::venv_python("django.lock");
    let run = report(
        python,
        "server_e2e.py",
        &[onboarded.path().as_os_str(), "django-runserver".as_ref()],
    );
    assert_eq!(run["server_spans"], 20, "{run:#}");
    assert_eq!(run["app_logs"], 20, "{run:#}");
    // With the autoreloader, the stop reaches only the parent, and the child serving the
    // requests never flushes: what obs-init's note says.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("add --noreload"), "{stderr}");
    let run = report(
        python,
        "server_e2e.py",
        &[
            onboarded.path().as_os_str(),
            "django-runserver-reload".as_ref(),
        ],
    );
    assert_eq!(run["server_spans"], 0, "{run:#}");
}

/// uWSGI as an image runs it: `uwsgi --ini uwsgi.ini`, a master preforking two workers
/// (the app loaded in the master), a release from before 2.0.27 (tests/e2e/flask-uwsgi.lock).
const UWSGI_INI: &str = "[uwsgi]\nmodule = app:app\nmaster = true\nprocesses = 2\n";

/// Serves the onboarded project with the real uWSGI of tests/e2e/flask-uwsgi.lock, stopped
/// by SIGINT (uWSGI 2.0 reloads on SIGTERM), counting what arrived 7 s after the requests
/// (past the SDK's 5 s batch delay) and at the stop.
fn uwsgi_run(project: &Path) -> serde_json::Value {
    report(
        common::venv_python("flask-uwsgi.lock"),
        "server_e2e.py",
        &[
            project.as_os_str(),
            "uwsgi".as_ref(),
            "--signal".as_ref(),
            "INT".as_ref(),
            "--idle".as_ref(),
            "7".as_ref(),
            "--".as_ref(),
            "--ini".as_ref(),
            "uwsgi.ini".as_ref(),
        ],
    )
}

#[test]
fn uwsgi_without_enable_threads_is_named_and_delivers_while_serving_once_they_are_on() {
    // Trial (2.0.26 and 2.0.31, this app and a Django project, stopped by SIGINT): uWSGI
    // runs the SDK's at-fork hooks in its preforked workers and Python's atexit at a worker's
    // stop (but not in a worker still busy with a request), so everything arrives at the
    // stop; what 2.0.26 lacks without enable-threads is any export while it serves.
    let dir = flask_app();
    let p = dir.path();
    std::fs::write(
        p.join("Dockerfile"),
        "FROM python:3.12-slim\nWORKDIR /app\nCOPY . .\nRUN pip install -r requirements.txt\n\
         STOPSIGNAL SIGINT\nCMD [\"uwsgi\", \"--http\", \":8000\", \"--ini\", \"uwsgi.ini\"]\n",
    )
    .expect("write");
    std::fs::write(p.join("requirements.txt"), "flask>=3.0\nuwsgi==2.0.26\n").expect("write");
    std::fs::write(p.join("uwsgi.ini"), UWSGI_INI).expect("write");
    let out = obs_init(p, &["--yes", "--edit-entrypoint"]);
    assert!(out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("add `enable-threads = true` to the [uwsgi] section of uwsgi.ini:4"),
        "{stderr}"
    );
    for args in [&["--check"][..], &["doctor"]] {
        let out = obs_init(p, args);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {out:?}");
    }
    // As the image runs it: the workers' export threads never run while they serve, so
    // nothing arrives until the stop flushes it.
    let run = uwsgi_run(p);
    assert_eq!(run["failed_requests"], 0, "{run:#}");
    assert_eq!(run["server_spans_before_stop"], 0, "{run:#}");
    assert_eq!(run["app_logs_before_stop"], 0, "{run:#}");
    // Done as the action says: every request's span and linked record arrive while it serves,
    // and obs-init has nothing left to say.
    let ini = std::fs::read_to_string(p.join("uwsgi.ini")).expect("read");
    std::fs::write(p.join("uwsgi.ini"), format!("{ini}enable-threads = true\n")).expect("write");
    for args in [&["--check"][..], &["doctor"]] {
        let out = obs_init(p, args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {out:?}");
    }
    let run = uwsgi_run(p);
    assert_eq!(run["server_spans_before_stop"], 20, "{run:#}");
    assert_eq!(run["app_logs_before_stop"], 20, "{run:#}");
}

#[test]
fn a_celery_task_started_from_a_request_continues_its_trace() {
    let dir = copy_of("tests/e2e/celery-app");
    let p = dir.path();
    let out = obs_init(p, &["--yes", "--edit-entrypoint"]);
    assert!(out.status.success(), "{out:?}");
    // The Celery app's module gets the call right after `app = Celery(...)`.
    let tasks = std::fs::read_to_string(p.join("tasks.py")).expect("read");
    assert!(
        tasks.contains(
            "app = Celery(\"tasks\", broker=\"filesystem://\")\ninstrument_celery(app)\n"
        ),
        "{tasks}"
    );
    let run = report(
        common::venv_python("celery.lock"),
        "celery_e2e.py",
        &[p.as_os_str()],
    );
    assert_eq!(run["task_spans_in_the_request_trace"], 3, "{run:#}");
    assert_eq!(run["task_logs_in_the_request_trace"], 3, "{run:#}");
    assert_eq!(run["task_logger_logs_in_the_request_trace"], 3, "{run:#}");
}

#[test]
fn kubernetes_workloads_built_by_skaffold_get_the_python_side_real_celery_traces_with() {
    // The Celery project deployed with manifests instead: skaffold builds the one image
    // both Deployments run.
    let dir = copy_of("tests/e2e/celery-app");
    let p = dir.path();
    std::fs::remove_file(p.join("compose.yaml")).expect("remove");
    std::fs::write(
        p.join("skaffold.yaml"),
        "apiVersion: skaffold/v4beta11\nkind: Config\nbuild:\n  artifacts:\n  - image: \
         shop/app\n    context: .\n",
    )
    .expect("write");
    let deployment = |name: &str, command: &str| {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  \
             selector:\n    matchLabels: {{app: {name}}}\n  template:\n    metadata:\n      \
             labels: {{app: {name}}}\n    spec:\n      containers:\n      - name: {name}\n        \
             image: shop/app:1.0\n        command: {command}\n"
        )
    };
    std::fs::create_dir_all(p.join("k8s")).expect("mkdir");
    std::fs::write(
        p.join("k8s/app.yaml"),
        format!(
            "{}---\n{}",
            deployment("web", r#"["gunicorn", "-b", "0.0.0.0:8000", "app:app"]"#),
            deployment("worker", r#"["celery", "-A", "tasks", "worker"]"#)
        ),
    )
    .expect("write");
    let out = obs_init(p, &["kubernetes", "--yes", "--edit-entrypoint"]);
    assert!(out.status.success(), "{out:?}");
    let tasks = std::fs::read_to_string(p.join("tasks.py")).expect("read");
    assert!(tasks.contains("instrument_celery(app)\n"), "{tasks}");
    let requirements = std::fs::read_to_string(p.join("requirements.txt")).expect("read");
    assert!(
        requirements.contains("opentelemetry-instrumentation-celery"),
        "{requirements}"
    );
    let run = report(
        common::venv_python("celery.lock"),
        "celery_e2e.py",
        &[p.as_os_str()],
    );
    assert_eq!(run["task_spans_in_the_request_trace"], 3, "{run:#}");
    assert_eq!(run["task_logs_in_the_request_trace"], 3, "{run:#}");
    assert_eq!(run["task_logger_logs_in_the_request_trace"], 3, "{run:#}");
}

#[test]
fn an_access_log_the_server_was_told_to_keep_off_stays_off() {
    let original = example("fastapi-app");
    let onboarded = onboarded_with_entry_point();
    let server = "uvicorn-no-access-log";
    let before = server_run(original.path(), server, false);
    let run = server_run(onboarded.path(), server, false);
    // uvicorn skips its access records when their logger has no handler: a forwarder
    // there would bring them back, costing every request a record nobody asked for.
    assert_eq!(run["access_logs"], 0, "{run:#}");
    assert_eq!(run["app_logs"], 20, "{run:#}");
    assert_eq!(run["console"], before["console"], "the console changed");
}

#[test]
fn onboarding_leaves_the_servers_console_output_as_it_was() {
    let original = example("fastapi-app");
    let onboarded = onboarded_with_entry_point();
    for server in ["uvicorn", "gunicorn"] {
        let before = server_run(original.path(), server, false);
        let after = server_run(onboarded.path(), server, false);
        assert_eq!(
            before["server_spans"], 0,
            "the original exported: {before:#}"
        );
        // The app's warnings (Python's last-resort output) are among the lines.
        let console = &before["console"];
        assert!(
            console.to_string().contains("order 1004 not found"),
            "{console:#}"
        );
        assert_eq!(
            after["console"], before["console"],
            "{server}: the console changed"
        );
    }
}

#[test]
fn with_the_collector_down_servers_stop_well_inside_dockers_grace() {
    let project = onboarded_with_entry_point();
    for server in SERVERS {
        let run = server_run(project.path(), server, true);
        let stop = run["stop_seconds"].as_f64().expect("seconds");
        assert!(stop < 3.0, "{server}: SIGTERM to exit took {stop} s");
        // Export problems are reported on the console, but not once per attempt.
        let reports = run["console"]
            .as_array()
            .expect("lines")
            .iter()
            .filter(|l| {
                l.as_str()
                    .is_some_and(|l| l.contains("opentelemetry.exporter"))
            })
            .count();
        assert!(reports <= 12, "{server}: {reports} export reports: {run:#}");
    }
}

/// One tests/e2e/logging_e2e.py scenario on the module of an onboarded example.
fn logging_run(module_dir: &Path, scenario: &str, flags: &[&str]) -> serde_json::Value {
    let mut args = vec![module_dir.as_os_str(), scenario.as_ref()];
    args.extend(flags.iter().map(std::ffi::OsStr::new));
    report(python(), "logging_e2e.py", &args)
}

#[test]
fn the_apps_own_logging_configuration_still_reaches_the_console_and_is_exported() {
    let project = onboarded_example();
    let module_dir = project.path().join("app");
    for (scenario, exported) in [
        // No logging configured: the last-resort line stays, INFO and up are exported.
        ("last-resort", &["disk almost full", "routine work"][..]),
        ("basic-before", &["configured before"][..]),
        ("basic-after", &["configured after"][..]),
        ("dict-after", &["dict configured"][..]),
    ] {
        let without = logging_run(&module_dir, scenario, &["--without"]);
        let with = logging_run(&module_dir, scenario, &[]);
        assert!(
            !without["console"].as_array().expect("lines").is_empty(),
            "{scenario}: the app itself prints nothing: {without:#}"
        );
        assert_eq!(
            with["console"], without["console"],
            "{scenario}: onboarding changed the console"
        );
        assert_eq!(
            with["exported"],
            serde_json::json!(exported),
            "{scenario}: {with:#}"
        );
    }
}

#[test]
fn the_dagster_handler_never_waits_for_a_dead_collector() {
    let project = onboarded_example();
    let module_dir = project.path().join("app");
    let up = logging_run(&module_dir, "dagster-handler", &[]);
    assert_eq!(
        up["exported"],
        serde_json::json!(["step record 0", "step record 1", "step record 2"]),
        "queued records are flushed when the process ends: {up:#}"
    );
    let down = logging_run(&module_dir, "dagster-handler", &["--collector-down"]);
    let logging = down["log_seconds"].as_f64().expect("seconds");
    assert!(logging < 0.5, "three records took {logging} s: {down:#}");
    let run = down["run_seconds"].as_f64().expect("seconds");
    assert!(run < 3.0, "the process took {run} s to end: {down:#}");
}

/// A FastAPI project whose image is `FROM <image>`, onboarded; the dependency lines
/// obs-init added to its requirements.txt.
fn onboarded_on(image: &str) -> (tempfile::TempDir, Vec<String>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    std::fs::create_dir_all(root.join("app")).expect("mkdir");
    std::fs::write(
        root.join("compose.yaml"),
        "services:\n  api:\n    build: .\n",
    )
    .expect("w");
    std::fs::write(
        root.join("Dockerfile"),
        format!("FROM {image}\nCOPY . /srv\n"),
    )
    .expect("w");
    std::fs::write(root.join("app/__init__.py"), "").expect("w");
    std::fs::write(
        root.join("app/main.py"),
        "from fastapi import FastAPI\n\napp = FastAPI()\n",
    )
    .expect("w");
    // Every framework whose instrumentation obs-init adds, so that each line is resolved.
    std::fs::write(
        root.join("app/wsgi.py"),
        "from django.core.wsgi import get_wsgi_application\n\napplication = get_wsgi_application()\n",
    )
    .expect("w");
    std::fs::write(
        root.join("requirements.txt"),
        "fastapi\nflask\ndjango\ncelery\n",
    )
    .expect("w");
    let out = obs_init(root, &["--yes"]);
    assert!(out.status.success(), "{image}: {out:?}");
    let text = std::fs::read_to_string(root.join("requirements.txt")).expect("read");
    let lines = text
        .lines()
        .skip_while(|l| !l.starts_with("# Observability"))
        .skip(1)
        .map(String::from)
        .collect();
    (dir, lines)
}

/// What pip's resolver installs for `specs` on Python `version` (wheels only, as a
/// `docker build` on that image would take them), or its error.
fn pip_resolves(version: &str, specs: &[String]) -> Result<Vec<(String, String)>, String> {
    let report = tempfile::NamedTempFile::new().expect("tempfile");
    let target = tempfile::tempdir().expect("tempdir");
    let out = Command::new(python())
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .args(["--dry-run", "--ignore-installed", "--only-binary=:all:"])
        .args(["--python-version", version, "--target"])
        .arg(target.path())
        .arg("--report")
        .arg(report.path())
        .args(specs)
        .output()
        .expect("pip runs");
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(report.path()).expect("report")).expect("json");
    Ok(report["install"]
        .as_array()
        .expect("install list")
        .iter()
        .map(|i| {
            let m = &i["metadata"];
            (
                m["name"].as_str().unwrap_or("").to_lowercase(),
                m["version"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect())
}

#[test]
fn the_dependency_lines_install_on_the_images_python() {
    for (image, python, sdk) in [
        ("python:3.8-slim", "3.8", "1.33."),
        ("python:3.9-slim-bookworm", "3.9", "1.41."),
        ("python:3.10", "3.10", "1.45."),
        ("python:3.13-alpine", "3.13", "1.45."),
    ] {
        let (_dir, lines) = onboarded_on(image);
        let installed = pip_resolves(python, &lines)
            .unwrap_or_else(|e| panic!("{image}: pip cannot install {lines:?}:\n{e}"));
        let version = installed
            .iter()
            .find(|(n, _)| n == "opentelemetry-sdk")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        assert!(
            version.starts_with(sdk),
            "{image}: SDK {version}, wanted {sdk}x"
        );
        for framework in ["fastapi", "flask", "django", "celery"] {
            let package = format!("opentelemetry-instrumentation-{framework}");
            assert!(
                lines.iter().any(|l| l.starts_with(&package)),
                "{image}: {lines:?}"
            );
            assert!(
                installed.iter().any(|(n, _)| *n == package),
                "{image}: {package} not in {installed:?}"
            );
        }
    }
    // What obs-init wrote before it read the image: the resolver refuses it on 3.9.
    let newest: Vec<String> = obs_init::deps::BASE.iter().map(|r| r.spec()).collect();
    assert!(
        pip_resolves("3.9", &newest).is_err(),
        "SDK 1.45 installed on 3.9"
    );
}

/// An interpreter for `version` on this machine: `pythonX.Y` on PATH, else pyenv's.
fn interpreter(version: &str) -> Option<PathBuf> {
    let name = format!("python{version}");
    let on_path = std::env::var_os("PATH").into_iter().flat_map(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(&name))
            .collect::<Vec<_>>()
    });
    let pyenv = std::env::var_os("PYENV_ROOT")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".pyenv")))
        .and_then(|root| std::fs::read_dir(root.join("versions")).ok())
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(&format!("{version}."))
        })
        .map(|e| e.path().join("bin").join(&name));
    on_path.chain(pyenv).find(|p| {
        // pyenv's shims exist for every version but run only the selected one.
        Command::new(p)
            .args(["-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
            .output()
            .is_ok_and(|o| {
                o.status.success() && String::from_utf8_lossy(&o.stdout).trim() == version
            })
    })
}

#[test]
fn on_python_3_8_and_3_9_the_module_exports_with_the_sdk_line_it_gets() {
    let mut ran = Vec::new();
    for (version, image) in [("3.8", "python:3.8-slim"), ("3.9", "python:3.9-slim")] {
        let Some(interp) = interpreter(version) else {
            eprintln!("Python {version} is not installed here: its real-venv check is skipped");
            continue;
        };
        let (dir, lines) = onboarded_on(image);
        let requirements = dir.path().join("obs-requirements.txt");
        std::fs::write(&requirements, lines.join("\n") + "\n").expect("write");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/target_venv.sh");
        let out = Command::new("bash")
            .arg(&script)
            .arg(&interp)
            .arg(&requirements)
            .output()
            .expect("bash runs");
        assert!(
            out.status.success(),
            "{version}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let venv_python = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        let module_dir = dir.path().join("app");
        let run = report(
            &venv_python,
            "logging_e2e.py",
            &[module_dir.as_os_str(), "last-resort".as_ref()],
        );
        assert_eq!(
            run["exported"],
            serde_json::json!(["disk almost full", "routine work"]),
            "{version}: {run:#}"
        );
        assert_eq!(
            run["console"],
            serde_json::json!(["disk almost full"]),
            "{version}"
        );
        ran.push(version);
    }
    eprintln!("real venvs checked: {ran:?}");
}

/// The frameworks a project on each Python line gets, beside the OpenTelemetry lines
/// obs-init writes for it: on 3.8, the old FastAPI (Starlette 0.13) and Celery 4.4 real
/// projects still lock; elsewhere the newest pip installs there.
const LINE_FRAMEWORKS: [(&str, &str, &[&str]); 5] = [
    (
        "3.8",
        "python:3.8-slim",
        &[
            "fastapi==0.61.2",
            "uvicorn",
            "uvicorn-worker",
            "gunicorn",
            "celery==4.4.7",
            "flask",
        ],
    ),
    ("3.9", "python:3.9-slim", NEWEST_FRAMEWORKS),
    ("3.10", "python:3.10-slim", NEWEST_FRAMEWORKS),
    ("3.12", "python:3.12-slim", NEWEST_FRAMEWORKS),
    ("3.13", "python:3.13-slim", NEWEST_FRAMEWORKS),
];
const NEWEST_FRAMEWORKS: &[&str] = &[
    "fastapi",
    "uvicorn",
    "uvicorn-worker",
    "gunicorn",
    "celery",
    "flask",
];

/// A venv on Python `version` with the dependency lines obs-init writes for a project on
/// `image` and the line's frameworks (cached outside the repo by target_venv.sh); None,
/// said on stderr, when this machine has no such Python.
fn line_venv(version: &str, image: &str, frameworks: &[&str]) -> Option<PathBuf> {
    let Some(interp) = interpreter(version) else {
        eprintln!("Python {version} is not installed here: its line is skipped");
        return None;
    };
    let (dir, mut lines) = onboarded_on(image);
    lines.extend(frameworks.iter().map(|f| f.to_string()));
    let requirements = dir.path().join("line-requirements.txt");
    std::fs::write(&requirements, lines.join("\n") + "\n").expect("write");
    Some(target_venv(version, &interp, &requirements))
}

/// A venv of `interp` with `requirements` (created once, cached by tests/e2e/target_venv.sh);
/// its Python.
fn target_venv(version: &str, interp: &Path, requirements: &Path) -> PathBuf {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/target_venv.sh");
    let out = Command::new("bash")
        .arg(&script)
        .arg(interp)
        .arg(requirements)
        .output()
        .expect("bash runs");
    assert!(
        out.status.success(),
        "{version}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

/// Real Dagster on every line it supports (Dagster 1.13 needs Python 3.10 or newer): the e2e
/// venv's 3.11, and the other lines the machine has (tests/e2e/dagster-lines.lock: the same
/// Dagster, and the SDK line obs-init writes there).
fn dagster_pythons() -> Vec<(&'static str, PathBuf)> {
    let lock = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/dagster-lines.lock");
    let mut pythons = vec![("3.11", python().to_path_buf())];
    for version in ["3.10", "3.12", "3.13"] {
        match interpreter(version) {
            Some(interp) => pythons.push((version, target_venv(version, &interp, &lock))),
            None => eprintln!("Python {version} is not installed here: its line is skipped"),
        }
    }
    pythons
}

/// Every line's venv, with its Python version.
fn line_venvs() -> Vec<(&'static str, PathBuf)> {
    let venvs: Vec<_> = LINE_FRAMEWORKS
        .iter()
        .filter_map(|(version, image, frameworks)| {
            line_venv(version, image, frameworks).map(|p| (*version, p))
        })
        .collect();
    eprintln!(
        "Python lines run: {:?}",
        venvs.iter().map(|(v, _)| v).collect::<Vec<_>>()
    );
    venvs
}

/// A server run (tests/e2e/server_e2e.py) with a line's venv.
fn server_run_in(python: &Path, project: &Path, server: &str, down: bool) -> serde_json::Value {
    let mut args = vec![project.as_os_str(), server.as_ref()];
    if down {
        args.push("--collector-down".as_ref());
    }
    report(python, "server_e2e.py", &args)
}

/// The example's handler, logging the ASGI scope as an extra: a dict holding objects
/// (the app), which SDK 1.33 cannot turn into an attribute (`AttributeError: __name__`).
const FASTAPI_SCOPE_EXTRA: &str = "\"\"\"Orders API.\"\"\"\n\nimport logging\n\n\
    from fastapi import FastAPI, HTTPException, Request\n\nfrom .setup_observability import \
    instrument_fastapi\n\nlog = logging.getLogger(__name__)\napp = FastAPI(title=\"orders\")\n\
    instrument_fastapi(app)\n\n\n@app.get(\"/orders/{order_id}\")\n\
    def get_order(order_id: int, request: Request) -> dict:\n    \
    log.info(\"looking up order %s\", order_id, extra={\"scope\": request.scope})\n    \
    if order_id >= 1000:\n        log.warning(\"order %s not found\", order_id)\n        \
    raise HTTPException(status_code=404, detail=\"no such order\")\n    \
    return {\"id\": order_id, \"status\": \"shipped\"}\n";

#[test]
fn on_every_python_line_a_record_the_sdk_cannot_convert_fails_no_request_and_still_arrives() {
    let project = onboarded_with_entry_point();
    std::fs::write(project.path().join("app/main.py"), FASTAPI_SCOPE_EXTRA).expect("write");
    let venvs = line_venvs();
    assert!(!venvs.is_empty(), "no Python line to run on");
    for (version, python) in &venvs {
        for server in ["uvicorn", "gunicorn"] {
            let run = server_run_in(python, project.path(), server, false);
            eprintln!(
                "{version} {server}: {} of 20 requests failed, {} app records arrived",
                run["failed_requests"], run["app_logs"]
            );
            assert_eq!(run["failed_requests"], 0, "{version} {server}: {run:#}");
            // The record arrives, without the extras the SDK refused, in its trace.
            assert_eq!(run["app_logs"], 20, "{version} {server}: {run:#}");
            assert_eq!(run["server_spans"], 20, "{version} {server}: {run:#}");
            // Reported as logging reports a handler's error: once per process at most.
            let console = run["console"].to_string();
            let reports = console.matches("--- Logging error ---").count();
            assert!(
                reports <= 2,
                "{version} {server}: {reports} reports: {run:#}"
            );
        }
    }
}

#[test]
fn on_python_3_8_an_old_fastapi_starts_serves_and_flushes_at_stop() {
    let (version, image, frameworks) = LINE_FRAMEWORKS[0];
    let Some(python) = line_venv(version, image, frameworks) else {
        return;
    };
    let (ok, starlette) = common::outcome(
        Command::new(&python).args(["-c", "import starlette; print(starlette.__version__)"]),
    );
    assert!(ok && starlette.starts_with("0.13."), "{starlette}");
    let original = example("fastapi-app");
    let project = onboarded_with_entry_point();
    let before = server_run_in(&python, original.path(), "uvicorn", false);
    assert_eq!(before["failed_requests"], 0, "{before:#}");
    // Starts (the script fails when the server exits before serving), serves every
    // request, and flushes after the app's own lifespan: every span arrives at stop.
    let run = server_run_in(&python, project.path(), "uvicorn", false);
    assert_eq!(run["failed_requests"], 0, "{run:#}");
    assert_eq!(run["server_spans"], 20, "{run:#}");
    assert_eq!(run["app_logs"], 20, "{run:#}");
}

/// tests/e2e/celery_e2e.py on an onboarded copy of tests/e2e/celery-app with `python`.
fn celery_run(python: &Path, project: &Path, down: bool) -> serde_json::Value {
    let mut args = vec![project.as_os_str()];
    if down {
        args.push("--collector-down".as_ref());
    }
    report(python, "celery_e2e.py", &args)
}

fn onboarded_celery_app() -> tempfile::TempDir {
    let dir = copy_of("tests/e2e/celery-app");
    let out = obs_init(dir.path(), &["--yes", "--edit-entrypoint"]);
    assert!(out.status.success(), "{out:?}");
    dir
}

/// The lines of a console Python prints for an exception nobody caught: a traceback, or
/// one it ignored in an exit hook, a finalizer or a thread (Python 3.12's "can't create new
/// thread at interpreter shutdown" in an atexit callback was one).
fn uncaught<'a>(console: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    console
        .into_iter()
        .filter(|l| {
            l.contains("Traceback (most recent call last)")
                || l.contains("Exception ignored")
                || l.contains("Exception in thread")
        })
        .collect()
}

/// The console lines of a server_e2e.py or logging_e2e.py report.
fn console_lines(run: &serde_json::Value) -> Vec<&str> {
    run["console"]
        .as_array()
        .expect("console lines")
        .iter()
        .filter_map(|l| l.as_str())
        .collect()
}

#[test]
fn with_the_collector_down_every_python_line_stops_inside_3_s() {
    let project = onboarded_with_entry_point();
    // gunicorn's own sync workers leave through the interpreter's exit (atexit), where
    // uvicorn's flush runs at the end of the app's lifespan.
    let flask = flask_app();
    let out = obs_init(flask.path(), &["--yes", "--edit-entrypoint"]);
    assert!(out.status.success(), "{out:?}");
    let original_celery = copy_of("tests/e2e/celery-app");
    let celery = onboarded_celery_app();
    let venvs = line_venvs();
    assert!(!venvs.is_empty(), "no Python line to run on");
    let mut failed = Vec::new();
    for (version, python) in &venvs {
        for (dir, server) in [
            (project.path(), "uvicorn"),
            (project.path(), "gunicorn"),
            (flask.path(), "gunicorn-flask"),
        ] {
            let run = server_run_in(python, dir, server, true);
            assert_eq!(run["failed_requests"], 0, "{version} {server}: {run:#}");
            let stop = run["stop_seconds"].as_f64().expect("seconds");
            eprintln!("{version} {server}, collector down: SIGTERM to exit {stop} s");
            // The export problems are reported; nothing is printed as the process ends.
            let printed = uncaught(console_lines(&run));
            if stop >= 3.0 || !printed.is_empty() {
                failed.push(format!("{version} {server}: {stop} s, {run:#}"));
            }
        }
        // A prefork worker and its child, against the same worker un-onboarded: Celery
        // 4.4's own warm shutdown takes seconds here, whatever the module does.
        let before = celery_run(python, original_celery.path(), true);
        let run = celery_run(python, celery.path(), true);
        assert_eq!(run["tasks_done"], 3, "{version}: {run:#}");
        let seconds = |r: &serde_json::Value| {
            r["stop_seconds"]["worker_children"]
                .as_f64()
                .expect("seconds")
        };
        let (stop, own) = (seconds(&run), seconds(&before));
        eprintln!("{version} celery prefork, collector down: {stop} s (un-onboarded {own} s)");
        let output = run["worker_output"].as_str().expect("the worker's output");
        let printed = uncaught(output.lines());
        if !(stop < 3.0 || stop < own + 1.0) || !printed.is_empty() {
            failed.push(format!(
                "{version}: the Celery worker took {stop} s to stop (un-onboarded: {own} s): \
                 {run:#}"
            ));
        }
    }
    // Every line is run before judging, so that a failure says which lines it holds on.
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

/// Dagster's two step-process forms on every Python line: the run process (the handler
/// named by dagster.yaml, flushed by the interpreter's exit) and a spawned step (flushed by
/// multiprocessing's exit), each a tests/e2e/logging_e2e.py scenario run with `flags`.
fn step_process_runs(flags: &[&str]) -> Vec<(&'static str, &'static str, serde_json::Value)> {
    let project = onboarded_example();
    let module_dir = project.path().join("app");
    let venvs = line_venvs();
    assert!(!venvs.is_empty(), "no Python line to run on");
    let mut runs = Vec::new();
    for (version, python) in &venvs {
        for scenario in ["dagster-handler", "spawned-step"] {
            let mut args = vec![module_dir.as_os_str(), scenario.as_ref()];
            args.extend(flags.iter().map(std::ffi::OsStr::new));
            runs.push((*version, scenario, report(python, "logging_e2e.py", &args)));
        }
    }
    runs
}

#[test]
fn on_every_python_line_a_step_process_prints_nothing_at_exit_and_delivers_its_records() {
    for (version, scenario, run) in step_process_runs(&[]) {
        // Python 3.12 refuses a thread started at interpreter shutdown: a flush that
        // starts one prints a traceback at every exit.
        assert_eq!(
            run["console"],
            serde_json::json!([]),
            "{version} {scenario}: {run:#}"
        );
        assert_eq!(
            run["exported"],
            serde_json::json!(["step record 0", "step record 1", "step record 2"]),
            "{version} {scenario}: {run:#}"
        );
    }
}

/// The namespace test above on each Python line, with the module and the SDK line
/// obs-init writes for that line's image (and, on 3.8, FastAPI 0.61).
#[test]
fn on_every_python_line_every_signal_carries_the_compose_projects_namespace() {
    let venvs = line_venvs();
    assert!(!venvs.is_empty(), "no Python line to run on");
    let mut failed = Vec::new();
    for (version, python) in &venvs {
        let (_, image, _) = LINE_FRAMEWORKS
            .iter()
            .find(|(v, _, _)| v == version)
            .expect("a line of the table");
        let started = std::time::Instant::now();
        let (dir, env) = onboarded_in_a_named_project(image);
        let (ok, out) = run_script_in(
            python,
            "namespace_e2e.py",
            dir.path(),
            &[env.as_str(), "orders-eu"],
        );
        eprintln!(
            "{version}: {} ({:.1} s)",
            out.trim(),
            started.elapsed().as_secs_f64()
        );
        if !ok {
            failed.push(format!("{version} ({image}): {out}"));
        }
    }
    // Every line is run before judging, so that a failure says which lines it holds on.
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

/// Dagster's step processes with the collector down each end inside 3 s on every line,
/// and print the export problem, no traceback.
#[test]
fn on_every_python_line_a_step_process_with_the_collector_down_ends_inside_3_s() {
    let mut failed = Vec::new();
    for (version, scenario, run) in step_process_runs(&["--collector-down"]) {
        let seconds = run["run_seconds"].as_f64().expect("seconds");
        eprintln!("{version} {scenario}, collector down: ended in {seconds:.2} s");
        let printed = uncaught(console_lines(&run));
        if seconds >= 3.0 || !printed.is_empty() {
            failed.push(format!("{version} {scenario}: {seconds:.2} s, {run:#}"));
        }
    }
    // Every line is run before judging, so that a failure says which lines it holds on.
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

/// Flask's debug server started by the image's start script, on each line's Flask (3.0 on
/// 3.8, 3.1 elsewhere) with the module obs-init writes for the line's image: obs-init
/// notes the reloader, and, done as the note says, every request's span and record
/// arrive at the stop (SIGTERM, as `docker compose stop` sends).
#[test]
fn on_every_python_line_flask_debug_run_as_the_reloader_note_says_delivers_every_span() {
    let venvs = line_venvs();
    assert!(!venvs.is_empty(), "no Python line to run on");
    let mut failed = Vec::new();
    for (version, python) in &venvs {
        let (_, image, _) = LINE_FRAMEWORKS
            .iter()
            .find(|(v, _, _)| v == version)
            .expect("a line of the table");
        let started = std::time::Instant::now();
        let dir = flask_debug_by_start_script(image);
        let run = server_run_in(python, dir.path(), "flask-debug-noreload", false);
        eprintln!(
            "{version}: {} spans, {} records of 20 ({:.1} s)",
            run["server_spans"],
            run["app_logs"],
            started.elapsed().as_secs_f64()
        );
        if run["server_spans"] != 20 || run["app_logs"] != 20 {
            failed.push(format!("{version}: {run:#}"));
        }
    }
    // Every line is run before judging, so that a failure says which lines it holds on.
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

/// tests/e2e/celery-app's tasks, with the Celery app built by a factory under another
/// name (`celery = Celery(...)` in `create_celery_app()`, `celery_app` at module level), as
/// Flask-style projects build it.
const CELERY_FACTORY: &str = "\"\"\"The Celery app of the end-to-end tests, built by a \
    factory.\"\"\"\n\nimport logging\nimport os\n\nfrom celery import Celery\n\
    from celery.utils.log import get_task_logger\n\nlog = logging.getLogger(__name__)\n\
    task_log = get_task_logger(__name__)\n\n\ndef create_celery_app() -> Celery:\n    \
    folder = os.environ[\"CELERY_BROKER_FOLDER\"]\n    \
    celery = Celery(\"tasks\", broker=\"filesystem://\")\n    \
    celery.conf.broker_transport_options = {\"data_folder_in\": folder, \
    \"data_folder_out\": folder}\n    return celery\n\n\ncelery_app = create_celery_app()\n\n\n\
    @celery_app.task\ndef ship(order_id: int) -> int:\n    \
    log.warning(\"shipping order %s\", order_id)\n    \
    task_log.info(\"packed order %s\", order_id)\n    return order_id\n";

/// On each line's Celery (4.4 on 3.8, 5.x elsewhere) and prefork workers: the app built in
/// a factory gets `instrument_celery` where it is built, its tasks continue the request's
/// trace, and get_task_logger's records arrive in it. (The app built at module level is
/// run per line by the stop test, and traced on 3.11 by the tests above.)
#[test]
fn on_every_python_line_a_factory_built_celery_apps_task_logger_records_arrive_in_the_tasks_trace()
{
    let celery = copy_of("tests/e2e/celery-app");
    let p = celery.path();
    std::fs::write(p.join("tasks.py"), CELERY_FACTORY).expect("write");
    let compose = std::fs::read_to_string(p.join("compose.yaml")).expect("read");
    let by_name = compose.replace(
        "celery -A tasks worker",
        "celery -A tasks.celery_app worker",
    );
    assert_ne!(by_name, compose, "the test app changed");
    std::fs::write(p.join("compose.yaml"), by_name).expect("write");
    let out = obs_init(p, &["--yes", "--edit-entrypoint"]);
    assert!(out.status.success(), "{out:?}");
    let tasks = std::fs::read_to_string(p.join("tasks.py")).expect("read");
    assert!(
        tasks.contains(
            "    celery = Celery(\"tasks\", broker=\"filesystem://\")\n    \
             instrument_celery(celery)\n"
        ),
        "{tasks}"
    );
    let venvs = line_venvs();
    assert!(!venvs.is_empty(), "no Python line to run on");
    let mut failed = Vec::new();
    for (version, python) in &venvs {
        let started = std::time::Instant::now();
        let run = celery_run(python, p, false);
        eprintln!(
            "{version}: {} task spans, {} task records, {} task-logger records in the \
             request traces ({:.1} s)",
            run["task_spans_in_the_request_trace"],
            run["task_logs_in_the_request_trace"],
            run["task_logger_logs_in_the_request_trace"],
            started.elapsed().as_secs_f64()
        );
        // get_task_logger's records go to `celery.task`, which the worker stops from
        // propagating when it starts, after setup.
        for key in [
            "task_spans_in_the_request_trace",
            "task_logs_in_the_request_trace",
            "task_logger_logs_in_the_request_trace",
        ] {
            if run[key] != 3 {
                failed.push(format!("{version}: {key} {}: {run:#}", run[key]));
            }
        }
    }
    // Every line is run before judging, so that a failure says which lines it holds on.
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

#[test]
fn a_record_is_exported_with_the_message_it_had_when_logged() {
    // The record is turned into an OTLP record after the call: what it says must not
    // follow what the app does to its arguments afterwards.
    let project = onboarded_example();
    let run = logging_run(&project.path().join("app"), "changed-after", &[]);
    assert_eq!(
        run["exported"],
        serde_json::json!(["basket ['apple']"]),
        "{run:#}"
    );
}

#[test]
fn a_forked_child_exports_its_own_records_and_not_its_parents_again() {
    // The parent's record still waits for conversion when the child is forked: the child
    // must neither export it a second time nor lose its own.
    let project = onboarded_example();
    let run = logging_run(&project.path().join("app"), "forked-child", &[]);
    assert_eq!(
        run["exported"],
        serde_json::json!(["child record", "parent record"]),
        "{run:#}"
    );
}

#[test]
fn mlflows_own_records_are_exported_when_mlflow_is_imported_after_setup() {
    // MLflow gives its loggers a handler and propagate=False when imported (3.17 assigns
    // them directly, no dictConfig), after setup here.
    let project = onboarded_example();
    let module_dir = project.path().join("app");
    let without = logging_run(&module_dir, "mlflow-after", &["--without"]);
    let with = logging_run(&module_dir, "mlflow-after", &[]);
    assert_eq!(
        with["exported"],
        serde_json::json!(["mlflow record"]),
        "{with:#}"
    );
    // MLflow's console line, but for its date and time, as before onboarding.
    assert_eq!(untimed(&with), untimed(&without), "the console changed");
    assert_eq!(untimed(&with), ["WARNING mlflow.tracking: mlflow record"]);
}

/// A logging_e2e.py run's console lines without MLflow's date and time.
fn untimed(run: &serde_json::Value) -> Vec<String> {
    console_lines(run)
        .iter()
        .map(|l| l.splitn(3, ' ').nth(2).unwrap_or(l).to_string())
        .collect()
}

/// The test above with the MLflow and the SDK line an image on each line gets: MLflow 3.3.2
/// (before dual export; the SDK held below 1.45) on every line it installs on, 3.10 and
/// later (it requires Python 3.10; 3.8 and 3.9 would need an MLflow 2.x or 3.0 venv each).
#[test]
fn on_every_python_line_mlflow_installs_on_its_own_records_are_exported_when_imported_after_setup()
{
    let mut ran = Vec::new();
    let mut failed = Vec::new();
    for version in ["3.10", "3.12", "3.13"] {
        let release = "mlflow-skinny==3.3.2";
        let Some((dir, python)) = mlflow_release_venv_on(version, release, &["--yes"]) else {
            continue;
        };
        let started = std::time::Instant::now();
        let run = |flags: &[&str]| {
            let mut args = vec![dir.path().as_os_str(), "mlflow-after".as_ref()];
            args.extend(flags.iter().map(std::ffi::OsStr::new));
            report(&python, "logging_e2e.py", &args)
        };
        let without = run(&["--without"]);
        let with = run(&[]);
        eprintln!(
            "{version}: exported {} ({:.1} s)",
            with["exported"],
            started.elapsed().as_secs_f64()
        );
        if with["exported"] != serde_json::json!(["mlflow record"])
            || untimed(&with) != untimed(&without)
            || untimed(&with) != ["WARNING mlflow.tracking: mlflow record"]
        {
            failed.push(format!(
                "{version}: {with:#} (before onboarding: {without:#})"
            ));
        }
        ran.push(version);
    }
    eprintln!("Python lines run: {ran:?}");
    assert!(!ran.is_empty(), "no Python 3.10+ here");
    // Every line is run before judging, so that a failure says which lines it holds on.
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

#[test]
fn a_logger_a_library_stops_from_propagating_after_setup_is_still_exported() {
    let project = onboarded_example();
    let module_dir = project.path().join("app");
    let without = logging_run(&module_dir, "silenced-after", &["--without"]);
    let with = logging_run(&module_dir, "silenced-after", &[]);
    assert_eq!(with["console"], without["console"], "the console changed");
    assert_eq!(
        with["exported"],
        serde_json::json!(["library record"]),
        "{with:#}"
    );
}

/// `obs-init verify` through `tests/e2e/verify_e2e.py`: a real OTLP/gRPC receiver and
/// stand-ins for Tempo's and OpenSearch's query APIs that answer from what it received.
fn verify_run(flags: &[&str]) -> serde_json::Value {
    let bin = assert_cmd::cargo::cargo_bin("obs-init");
    let mut args: Vec<&std::ffi::OsStr> = vec![bin.as_os_str()];
    args.extend(flags.iter().map(std::ffi::OsStr::new));
    report(python(), "verify_e2e.py", &args)
}

/// The failed hop of a verify report, with its detail and fix.
fn failed_hop(run: &serde_json::Value) -> (String, String, String) {
    let hops = run["report"]["verify"]["hops"].as_array().expect("hops");
    let hop = hops
        .iter()
        .find(|h| h["outcome"] == "failed")
        .unwrap_or_else(|| panic!("no failed hop: {run:#}"));
    (
        hop["name"].as_str().unwrap_or("").into(),
        hop["detail"].as_str().unwrap_or("").into(),
        hop["fix"].as_str().unwrap_or("").into(),
    )
}

#[test]
fn verify_delivers_a_canary_span_and_its_log_and_finds_both_stored() {
    let run = verify_run(&[]);
    assert_eq!(run["exit"], 0, "{run:#}");
    let trace = run["report"]["verify"]["trace_id"]
        .as_str()
        .expect("trace id");
    // The receiver holds the canary span and a log record with the same trace id.
    let spans = run["spans"].as_array().expect("spans");
    assert_eq!(spans.len(), 1, "{run:#}");
    assert_eq!(spans[0]["trace_id"], trace);
    assert_eq!(spans[0]["service"], "obs-init-verify");
    let logs = run["logs"].as_array().expect("logs");
    assert_eq!(logs.len(), 1, "{run:#}");
    assert_eq!(logs[0]["trace_id"], trace);
    let hops: Vec<&str> = run["report"]["verify"]["hops"]
        .as_array()
        .expect("hops")
        .iter()
        .map(|h| h["outcome"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(hops, ["ok", "ok", "ok", "ok"], "{run:#}");
    let link = run["report"]["verify"]["grafana"].as_str().expect("link");
    assert!(
        link.starts_with("http://127.0.0.1:3000/explore?left=") && link.contains(trace),
        "{link}"
    );
}

#[test]
fn verify_waits_while_a_new_log_index_has_no_shard_yet_and_names_it_if_it_never_gets_one() {
    // The first searches after the first record created otel-logs: its shard is not there yet.
    let run = verify_run(&["--shards-unassigned=3"]);
    assert_eq!(run["exit"], 0, "{run:#}");
    // Never allocated within --wait: said as what it is, not as a wrong --opensearch.
    let run = verify_run(&["--shards-unassigned=1000"]);
    assert_eq!(run["exit"], 3, "{run:#}");
    let (hop, detail, fix) = failed_hop(&run);
    assert_eq!(hop, "opensearch");
    assert!(
        detail.contains("all shards failed") && detail.contains("3 s"),
        "{detail}"
    );
    assert!(fix.contains("_cluster/health"), "{fix}");
}

#[test]
fn verify_names_a_closed_collector_port_and_its_address() {
    let run = verify_run(&["--", "--collector", "{closed}"]);
    assert_eq!(run["exit"], 3, "{run:#}");
    let (hop, detail, fix) = failed_hop(&run);
    let closed = run["addresses"]["{closed}"].as_str().expect("address");
    assert_eq!(hop, "collector");
    assert!(
        detail.contains(closed) && detail.contains("refused"),
        "{detail}"
    );
    assert!(fix.contains("--collector"), "{fix}");
    assert!(run["spans"].as_array().expect("spans").is_empty());
}

#[test]
fn verify_names_tls_and_http1_spoken_where_plaintext_grpc_is_wanted() {
    // A TLS port, sent plaintext to.
    let run = verify_run(&["--", "--collector", "{tls}"]);
    let (hop, detail, _) = failed_hop(&run);
    assert_eq!((hop.as_str(), run["exit"].as_i64()), ("collector", Some(3)));
    assert!(detail.contains("answers with TLS"), "{detail}");
    // The plaintext receiver, where the services would open TLS (an https:// endpoint).
    let run = verify_run(&["--", "--collector", "https://{otlp}"]);
    let (_, detail, fix) = failed_hop(&run);
    assert!(detail.contains("open TLS"), "{detail}");
    assert!(fix.contains("http://127.0.0.1:"), "{fix}");
    // An HTTP/1 port (what OTLP/HTTP's 4318 is) given as the gRPC collector.
    let run = verify_run(&["--", "--collector", "{tempo}"]);
    let (_, detail, fix) = failed_hop(&run);
    assert!(detail.contains("HTTP/1"), "{detail}");
    assert!(fix.contains("4317"), "{fix}");
}

#[test]
fn verify_names_each_query_hop_that_fails() {
    // Accepted, never stored.
    let run = verify_run(&["--tempo-never"]);
    let (hop, detail, fix) = failed_hop(&run);
    assert_eq!((hop.as_str(), run["exit"].as_i64()), ("tempo", Some(3)));
    assert!(detail.contains("does not have it after 3 s"), "{detail}");
    assert!(fix.contains("otel-collector"), "{fix}");
    assert_eq!(run["spans"].as_array().map(Vec::len), Some(1));
    // Tempo's API not there at all.
    let run = verify_run(&["--", "--tempo", "http://{closed}"]);
    let (hop, detail, fix) = failed_hop(&run);
    assert_eq!(hop, "tempo");
    assert!(detail.contains("unreachable"), "{detail}");
    assert!(
        fix.contains("--tempo") && fix.contains("--no-query"),
        "{fix}"
    );
    // The log stored without its trace id: Grafana could not link it.
    let run = verify_run(&["--log-without-trace-id"]);
    let (hop, detail, _) = failed_hop(&run);
    assert_eq!(hop, "opensearch");
    assert!(detail.contains("without its trace id"), "{detail}");
    // The collector only.
    let run = verify_run(&["--tempo-never", "--", "--no-query"]);
    assert_eq!(run["exit"], 0, "{run:#}");
}

#[test]
fn verify_sends_where_the_project_is_configured_and_flags_a_scheme_less_endpoint() {
    let dir = tempfile::tempdir().expect("tempdir");
    let project = |setting: &str| format!("--project={}={setting}", dir.path().display());
    // The company variable, bare: the generated module adds http://, so plaintext.
    let run = verify_run(&[
        &project("OTEL_COLLECTOR_ENDPOINT={otlp}"),
        "--",
        "--no-query",
    ]);
    assert_eq!(run["exit"], 0, "{run:#}");
    assert_eq!(run["spans"].as_array().map(Vec::len), Some(1), "{run:#}");
    // The standard variable without a scheme: the services' gRPC exporter opens TLS, which
    // the plaintext collector does not speak, and nothing they send arrives.
    let run = verify_run(&[
        &project("OTEL_EXPORTER_OTLP_ENDPOINT={otlp}"),
        "--",
        "--no-query",
    ]);
    let (hop, detail, fix) = failed_hop(&run);
    assert_eq!((hop.as_str(), run["exit"].as_i64()), ("collector", Some(3)));
    assert!(
        detail.contains("OTEL_EXPORTER_OTLP_ENDPOINT") && detail.contains("open TLS"),
        "{detail}"
    );
    assert!(fix.contains("http://127.0.0.1:"), "{fix}");
}
