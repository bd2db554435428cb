//! End-to-end: the generated Python module against the real OpenTelemetry SDK, a real
//! OTLP/gRPC receiver and a real FastAPI app (tests/e2e/fastapi_e2e.py does the Python side).
//! The packages come from tests/e2e/requirements.lock, installed once into a cached venv
//! outside the repo by tests/e2e/venv.sh.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use assert_cmd::Command as BinCommand;

fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| PathBuf::from(common::install("e2e/venv.sh").trim()))
}

/// A copy of a bundled example.
fn example(name: &str) -> tempfile::TempDir {
    let example = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name);
    let dir = tempfile::tempdir().expect("tempdir");
    common::copy_dir(&example, dir.path());
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
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/e2e")
        .join(name);
    common::outcome(
        Command::new(python())
            .arg(&script)
            .arg(project)
            .env_remove("OTEL_SERVICE_NAME")
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT"),
    )
}

#[test]
fn spans_and_logs_reach_a_real_collector_and_continue_the_dapr_trace() {
    let project = onboarded_example();
    let (ok, output) = run_e2e(project.path());
    assert!(ok, "end-to-end check failed:\n{output}");
    assert!(output.contains("0 failures"), "{output}");
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
    // Both guards against installing twice go: the call-once flag and the handler check.
    let broken = text
        .replace("        if _done:\n            return\n", "")
        .replace(
            "if not any(_is_otel_log_handler(h) for h in root.handlers):",
            "if True:",
        );
    assert_eq!(
        broken.matches("if True:").count(),
        1,
        "the handler check was not found"
    );
    std::fs::write(&module, broken).expect("write");
    let (ok, output) = run_e2e(project.path());
    assert!(!ok, "double setup went unnoticed:\n{output}");
}

#[test]
fn the_generated_module_and_the_inserted_lines_pass_ruff_and_mypy_strict() {
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
