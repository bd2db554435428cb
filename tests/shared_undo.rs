//! Undo where files, services and folders are shared: two compose files building one folder,
//! two services built from one folder. Each scenario onboards, removes part, checks what
//! stays with obs-init's own `--check` and what Compose makes of the files with the real
//! Docker Compose, then removes the rest and expects every byte of the project back.
//! Nothing is committed between the steps: obs-init's own edits never count as the user's.

mod common;

use std::path::Path;
use std::process::Command;

use common::oracle::{self, Profiles};
use common::{obs_init_in as obs_init, printed as both};

/// `obs-init args` in `dir`, which must succeed; its output.
fn ok(dir: &Path, args: &[&str]) -> String {
    let out = obs_init(dir, args);
    assert!(out.status.success(), "obs-init {args:?}: {}", both(&out));
    both(&out)
}

fn write(dir: &Path, files: &[(&str, &str)]) {
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("writes");
    }
}

/// The project committed, as a user's repository is.
fn committed(dir: &Path) {
    for args in [
        &["init", "-q"][..],
        &["add", "-A"],
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-qm",
            "original",
        ],
    ] {
        let out = Command::new("git")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("git");
        assert!(out.status.success(), "git {args:?}");
    }
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).expect("reads")
}

/// The service `name` as the real Compose resolves `file`.
fn service(dir: &Path, file: &str, name: &str) -> serde_json::Value {
    let model = oracle::config(dir, &[Path::new(file)], Profiles::None)
        .unwrap_or_else(|e| panic!("Compose rejects {file}: {e}"));
    model["services"][name].clone()
}

fn assert_same_tree(dir: &Path, before: &std::collections::BTreeMap<String, Vec<u8>>) {
    let after = common::read_tree(dir);
    for (name, bytes) in before {
        assert_eq!(
            after
                .get(name)
                .map(|b| String::from_utf8_lossy(b).into_owned()),
            Some(String::from_utf8_lossy(bytes).into_owned()),
            "{name} after the last remove"
        );
    }
    let extra: Vec<&String> = after.keys().filter(|k| !before.contains_key(*k)).collect();
    assert!(extra.is_empty(), "files left behind: {extra:?}");
}

const DOCKERFILE: &str = "FROM python:3.12-slim\nWORKDIR /app\nCOPY requirements.txt .\n\
                          RUN pip install -r requirements.txt\nCOPY . .\n";

#[test]
fn removing_the_dev_onboarding_keeps_the_entry_edits_production_still_serves() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let p = tmp.path();
    let wsgi = "import os\n\nfrom django.core.wsgi import get_wsgi_application\n\n\
                os.environ.setdefault(\"DJANGO_SETTINGS_MODULE\", \"mysite.settings\")\n\n\
                application = get_wsgi_application()\n";
    let asgi = wsgi.replace("wsgi", "asgi");
    write(
        p,
        &[
            ("app/Dockerfile", DOCKERFILE),
            ("app/requirements.txt", "django==5.1\ngunicorn\n"),
            (
                "app/manage.py",
                "import os\nimport sys\n\nif __name__ == \"__main__\":\n    \
                 os.environ.setdefault(\"DJANGO_SETTINGS_MODULE\", \"mysite.settings\")\n    \
                 from django.core.management import execute_from_command_line\n    \
                 execute_from_command_line(sys.argv)\n",
            ),
            ("app/mysite/__init__.py", ""),
            (
                "app/mysite/settings.py",
                "SECRET_KEY = \"x\"\nINSTALLED_APPS = []\n",
            ),
            ("app/mysite/wsgi.py", wsgi),
            ("app/mysite/asgi.py", &asgi),
            (
                "docker-compose.yml",
                "services:\n  web:\n    build: ./app\n    command: python manage.py \
                 runserver 0.0.0.0:8000\n    ports:\n      - \"8000:8000\"\n",
            ),
            (
                "docker-compose.prod.yml",
                "services:\n  web:\n    build: ./app\n    command: gunicorn \
                 mysite.wsgi:application -b 0.0.0.0:8000\n    ports:\n      - \"8000:8000\"\n",
            ),
        ],
    );
    committed(p);
    let original = common::read_tree(p);
    let dev_model = service(p, "docker-compose.yml", "web");

    ok(p, &["--yes", "--edit-entrypoint"]);
    ok(
        p,
        &[
            "-f",
            "docker-compose.prod.yml",
            "--yes",
            "--edit-entrypoint",
        ],
    );
    let removed = ok(p, &["remove", "--yes"]);
    assert!(
        removed.contains("kept for docker-compose.prod.yml:web, which still needs them:"),
        "{removed}"
    );
    // Production still serves the instrumented application...
    for file in ["app/mysite/wsgi.py", "app/mysite/asgi.py"] {
        assert!(read(p, file).contains("instrument_django()"), "{file}");
    }
    assert!(p.join("app/mysite/setup_observability.py").is_file());
    let check = obs_init(p, &["-f", "docker-compose.prod.yml", "--check"]);
    assert!(check.status.success(), "prod --check: {}", both(&check));
    let prod = oracle::config(p, &[Path::new("docker-compose.prod.yml")], Profiles::None)
        .expect("Compose takes prod");
    assert!(prod["services"]["web-dapr"].is_object(), "{prod}");
    // ...while dev is as it was, byte for byte and for Compose.
    assert_eq!(
        read(p, "docker-compose.yml").as_bytes(),
        original["docker-compose.yml"]
    );
    assert_eq!(service(p, "docker-compose.yml", "web"), dev_model);

    ok(p, &["remove", "-f", "docker-compose.prod.yml", "--yes"]);
    assert_same_tree(p, &original);
}

#[test]
fn removing_one_of_two_services_sharing_a_folder_takes_back_only_what_it_alone_needed() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let p = tmp.path();
    write(
        p,
        &[
            (
                "vote/Dockerfile",
                &format!("{DOCKERFILE}CMD [\"gunicorn\", \"app:app\", \"-b\", \"0.0.0.0:80\"]\n"),
            ),
            ("vote/requirements.txt", "flask\ngunicorn\nrequests\n"),
            (
                "vote/app.py",
                "from flask import Flask\n\napp = Flask(__name__)\n\n\n@app.route(\"/\")\n\
                 def hello():\n    return \"hi\"\n",
            ),
            (
                "vote/seed.py",
                "import requests\n\nrequests.post(\"http://vote/\", data={\"vote\": \"a\"})\n",
            ),
            (
                "compose.yaml",
                "services:\n  vote:\n    build: ./vote\n    ports:\n      - \"5000:80\"\n  \
                 seed:\n    build: ./vote\n    command: python seed.py\n",
            ),
        ],
    );
    committed(p);
    let original = common::read_tree(p);
    let vote_model = service(p, "compose.yaml", "vote");

    // vote is the Flask app; seed a script of the same folder, onboarded as plain Python.
    ok(p, &["--service", "vote", "--yes", "--edit-entrypoint"]);
    ok(p, &["--service", "seed", "--framework", "python", "--yes"]);
    let removed = ok(p, &["remove", "--service", "vote", "--yes"]);
    assert!(
        removed.contains(
            "vote/requirements.txt: only what compose.yaml:vote alone needed is taken out; \
             compose.yaml:seed still needs the rest"
        ),
        "{removed}"
    );
    assert!(
        removed.contains("kept for compose.yaml:seed, which still needs them: dapr-config.yml, vote/setup_observability.py"),
        "{removed}"
    );
    // vote's own edits are gone: its entry point and its instrumentation line...
    assert_eq!(read(p, "vote/app.py").as_bytes(), original["vote/app.py"]);
    let requirements = read(p, "vote/requirements.txt");
    assert!(
        !requirements.contains("opentelemetry-instrumentation-flask"),
        "{requirements}"
    );
    // ...what seed needs stays, and obs-init finds seed's onboarding whole.
    assert!(
        requirements.contains("opentelemetry-sdk>="),
        "{requirements}"
    );
    assert!(p.join("vote/setup_observability.py").is_file());
    // Every file as obs-init would write it for seed; only seed.py's own call is still to
    // be added by hand (its next step), which --check names.
    let check = obs_init(p, &["--check"]);
    let said = both(&check);
    assert_eq!(check.status.code(), Some(3), "--check: {said}");
    assert!(
        said.contains("not arriving: seed: vote/seed.py does not import setup_observability"),
        "--check: {said}"
    );
    assert!(
        !said.contains("Missing") && !said.contains("Outdated"),
        "--check: {said}"
    );
    assert!(!read(p, ".obs-init.toml").contains("[service.vote]"));
    // Compose sees vote as it was, and seed with its sidecar.
    assert_eq!(service(p, "compose.yaml", "vote"), vote_model);
    assert!(service(p, "compose.yaml", "seed-dapr").is_object());

    ok(p, &["remove", "--yes"]);
    assert_same_tree(p, &original);
}

/// A Flask app built from `vote/`, committed.
fn flask_project(p: &Path) {
    write(
        p,
        &[
            (
                "vote/Dockerfile",
                &format!("{DOCKERFILE}CMD [\"gunicorn\", \"app:app\", \"-b\", \"0.0.0.0:80\"]\n"),
            ),
            ("vote/requirements.txt", "flask\ngunicorn\n"),
            (
                "vote/app.py",
                "from flask import Flask\n\nserver = Flask(__name__)\n\n\n@server.route(\"/\")\n\
                 def hello():\n    return \"hi\"\n",
            ),
            (
                "compose.yaml",
                "services:\n  vote:\n    build: ./vote\n    ports:\n      - \"5000:80\"\n",
            ),
        ],
    );
    committed(p);
}

/// The next step's two lines, pasted into vote/app.py as printed, and committed.
fn paste_next_step(p: &Path, printed: &str) {
    assert!(
        printed.contains("from setup_observability import instrument_flask")
            && printed.contains("instrument_flask(server)"),
        "{printed}"
    );
    let app = read(p, "vote/app.py")
        .replace(
            "from flask import Flask\n",
            "from flask import Flask\nfrom setup_observability import instrument_flask\n",
        )
        .replace(
            "server = Flask(__name__)\n",
            "server = Flask(__name__)\ninstrument_flask(server)\n",
        );
    write(p, &[("vote/app.py", &app)]);
    for args in [
        &["add", "-A"][..],
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-qm",
            "pasted",
        ],
    ] {
        assert!(
            Command::new("git")
                .args(args)
                .current_dir(p)
                .status()
                .expect("git")
                .success()
        );
    }
}

#[test]
fn remove_takes_back_the_next_steps_lines_pasted_by_hand_with_the_module() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let p = tmp.path();
    flask_project(p);
    let original = common::read_tree(p);
    let printed = ok(p, &["--yes"]);
    paste_next_step(p, &printed);
    let removed = ok(p, &["remove", "--yes"]);
    assert!(
        removed.contains("vote/app.py: took out `from setup_observability import instrument_flask`, `instrument_flask(server)`"),
        "{removed}"
    );
    // The app imports nothing that is gone: doctor finds nothing, every byte is back.
    let doctor = obs_init(p, &["doctor"]);
    assert!(doctor.status.success(), "doctor: {}", both(&doctor));
    assert_same_tree(p, &original);
}

#[test]
fn a_reference_remove_cannot_take_back_keeps_the_module_and_says_why() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let p = tmp.path();
    flask_project(p);
    let original = common::read_tree(p);
    ok(p, &["--yes"]);
    // A Dagster instance template edited as a next step says: a class path, not a paste
    // remove can recognise.
    let template = "python_logs:\n  dagster_handler_config:\n    handlers:\n      otel:\n        \
                    class: setup_observability.OtelLogHandler\n";
    write(p, &[("vote/dagster.yaml.jinja", template)]);
    let removed = ok(p, &["remove", "--yes"]);
    assert!(
        removed.contains(
            "kept vote/setup_observability.py, vote/requirements.txt: \
             vote/dagster.yaml.jinja:5 still refers to the module \
             (`class: setup_observability.OtelLogHandler`); take it out, then run \
             `obs-init remove` again"
        ),
        "{removed}"
    );
    assert!(p.join("vote/setup_observability.py").is_file());
    assert!(read(p, "vote/requirements.txt").contains("opentelemetry-sdk"));
    let doctor = obs_init(p, &["doctor"]);
    assert!(doctor.status.success(), "doctor: {}", both(&doctor));
    // Once the reference is out, remove finishes the job.
    std::fs::remove_file(p.join("vote/dagster.yaml.jinja")).expect("removes");
    ok(p, &["remove", "--yes"]);
    assert_same_tree(p, &original);
}

#[test]
fn doctor_reports_an_import_and_a_handler_class_whose_module_is_gone() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let p = tmp.path();
    flask_project(p);
    let printed = ok(p, &["--yes"]);
    paste_next_step(p, &printed);
    write(
        p,
        &[(
            "vote/dagster.yaml.jinja",
            "python_logs:\n  dagster_handler_config:\n    handlers:\n      otel:\n        \
             class: setup_observability.OtelLogHandler\n",
        )],
    );
    std::fs::remove_file(p.join("vote/setup_observability.py")).expect("removes");
    let doctor = obs_init(p, &["doctor"]);
    let text = both(&doctor);
    assert_eq!(doctor.status.code(), Some(3), "{text}");
    assert!(
        text.contains(
            "`from setup_observability import instrument_flask` imports setup_observability, \
             which is not there"
        ) && text.contains("--> vote/app.py:2"),
        "{text}"
    );
    assert!(
        text.contains("names a handler class whose module, setup_observability, is not there")
            && text.contains("--> vote/dagster.yaml.jinja:5"),
        "{text}"
    );
}

/// A Python app and a database that loads `.env` with `env_file`, committed.
fn env_file_project(p: &Path, gitignore: Option<&str>) {
    write(
        p,
        &[
            ("app/requirements.txt", "fastapi\nuvicorn\n"),
            (
                "app/main.py",
                "from fastapi import FastAPI\n\napp = FastAPI()\n",
            ),
            (
                "app/Dockerfile",
                &format!("{DOCKERFILE}CMD [\"uvicorn\", \"main:app\", \"--port\", \"8000\"]\n"),
            ),
            (".env", "POSTGRES_PASSWORD=secret\n"),
            (
                "compose.yaml",
                "services:\n  app:\n    build: ./app\n  db:\n    image: postgres:16\n    \
                 env_file: .env\n",
            ),
        ],
    );
    if let Some(ignore) = gitignore {
        write(p, &[(".gitignore", ignore)]);
    }
    committed(p);
}

#[test]
fn an_overlay_never_writes_into_a_dotenv_that_services_load_as_env_file() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let p = tmp.path();
    env_file_project(p, None);
    let original = common::read_tree(p);
    let db = service(p, "compose.yaml", "db");
    let out = ok(p, &["--overlay", "--service", "app", "--yes"]);
    assert!(
        out.contains(
            ".env not edited: .env is the env_file of db, so COMPOSE_FILE there would enter \
             its containers' environment; start with the -f flags below"
        ),
        "{out}"
    );
    assert!(
        out.contains("docker compose -f compose.yaml -f compose.observability.yaml up"),
        "{out}"
    );
    assert_eq!(read(p, ".env").as_bytes(), original[".env"]);
    // Compose with the overlay: db's container is exactly what it was.
    let model = oracle::config(
        p,
        &[
            Path::new("compose.yaml"),
            Path::new("compose.observability.yaml"),
        ],
        Profiles::None,
    )
    .expect("Compose takes the overlay");
    assert_eq!(model["services"]["db"], db);
    assert!(model["services"]["app-dapr"].is_object(), "{model}");
    ok(p, &["remove", "--yes"]);
    assert_same_tree(p, &original);
}

#[test]
fn an_overlay_never_writes_into_a_dotenv_git_ignores() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let p = tmp.path();
    env_file_project(p, Some(".env\n"));
    // Only the app here: no service loads .env, but the team never gets it.
    write(
        p,
        &[("compose.yaml", "services:\n  app:\n    build: ./app\n")],
    );
    let original = common::read_tree(p);
    let out = ok(p, &["--overlay", "--service", "app", "--yes"]);
    assert!(
        out.contains(
            ".env not edited: .env is ignored by git, so whoever clones the project would \
             not load the overlay; start with the -f flags below"
        ),
        "{out}"
    );
    assert_eq!(read(p, ".env").as_bytes(), original[".env"]);
    ok(p, &["remove", "--yes"]);
    assert_same_tree(p, &original);
}

#[test]
fn removing_a_service_leaves_the_imports_of_another_folders_module_alone() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let p = tmp.path();
    let app = "from flask import Flask\n\napp = Flask(__name__)\n";
    let dockerfile = format!("{DOCKERFILE}CMD [\"gunicorn\", \"app:app\"]\n");
    write(
        p,
        &[
            ("vote/Dockerfile", &dockerfile),
            ("vote/requirements.txt", "flask\ngunicorn\n"),
            ("vote/app.py", app),
            ("result/Dockerfile", &dockerfile),
            ("result/requirements.txt", "flask\ngunicorn\n"),
            ("result/app.py", app),
            (
                "compose.yaml",
                "services:\n  vote:\n    build: ./vote\n  result:\n    build: ./result\n",
            ),
        ],
    );
    committed(p);
    let original = common::read_tree(p);
    ok(p, &["--yes", "--edit-entrypoint"]);
    let onboarded = read(p, "result/app.py");
    ok(p, &["remove", "--service", "vote", "--yes"]);
    assert_eq!(read(p, "vote/app.py").as_bytes(), original["vote/app.py"]);
    // result's import is answered by its own module, which stays.
    assert_eq!(read(p, "result/app.py"), onboarded);
    let check = obs_init(p, &["--check"]);
    assert!(check.status.success(), "--check: {}", both(&check));
    ok(p, &["remove", "--yes"]);
    assert_same_tree(p, &original);
}
