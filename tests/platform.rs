//! `obs-init platform`: the files it writes, checked offline (no Docker engine runs here)
//! with the real checkers where they install from the registries (promtool from Debian's
//! prometheus package, shellcheck from PyPI, the Compose JSON schema), and otherwise against
//! each other: every host, port, variable and label one file relies on must be provided by
//! another.

#![allow(clippy::print_stderr)] // says why a test that needs root was skipped

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use assert_cmd::Command as BinCommand;
use obs_init::compose::{METRICS_LABEL, METRICS_PORT, NETWORK};
use obs_init::platform::{COLLECTOR_SERVICE, COMPOSE_FILE, FILES};
use serde_json::Value as Json;

fn obs_init(dir: &Path) -> BinCommand {
    let mut cmd = BinCommand::cargo_bin("obs-init").expect("binary");
    cmd.current_dir(dir);
    cmd
}

/// A fresh directory with the platform written into it by the real binary.
fn platform() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    obs_init(dir.path())
        .args(["platform", "--dir", "."])
        .assert()
        .success();
    dir
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn yaml(path: &Path) -> Json {
    let (_, doc) = common::parse(&read(path));
    common::to_json(&doc)
}

fn strings(v: &Json) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// The real checkers, installed once by tests/platform/tools.sh: (shellcheck, promtool).
fn tools() -> &'static (PathBuf, PathBuf) {
    static TOOLS: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    TOOLS.get_or_init(|| {
        let text = common::install("platform/tools.sh");
        let mut lines = text.lines().map(PathBuf::from);
        let shellcheck = lines.next().expect("shellcheck path");
        let promtool = lines.next().expect("promtool path");
        (shellcheck, promtool)
    })
}

#[test]
fn platform_writes_every_file_once_and_a_second_run_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dry = obs_init(dir.path())
        .args(["platform", "--dry-run"])
        .output()
        .expect("runs");
    assert!(dry.status.success());
    let diff = String::from_utf8_lossy(&dry.stdout);
    for (rel, _) in FILES {
        assert!(diff.contains(&format!("+++ b/{rel}")), "no diff for {rel}");
    }
    assert_eq!(
        fs::read_dir(dir.path()).expect("dir").count(),
        0,
        "--dry-run wrote files"
    );

    obs_init(dir.path()).arg("platform").assert().success();
    for (rel, template) in FILES {
        let path = dir.path().join(rel);
        assert_eq!(read(&path), template, "{rel}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
            let want = if rel == "setup.sh" { 0o755 } else { 0o644 };
            assert_eq!(mode, want, "{rel} has mode {mode:o}");
        }
    }

    let again = obs_init(dir.path()).arg("platform").output().expect("runs");
    assert!(again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("Nothing to do"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
}

#[test]
fn a_platform_file_changed_by_hand_is_kept_unless_overwrite_is_asked() {
    let dir = platform();
    let tempo = dir.path().join("tempo.yaml");
    let tuned = format!("{}# retention tuned by the team\n", read(&tempo));
    fs::write(&tempo, &tuned).expect("write");

    // Without a terminal, a conflict stops everything and names the file.
    let out = obs_init(dir.path()).arg("platform").output().expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("tempo.yaml") && err.contains("--on-conflict"),
        "{err}"
    );
    assert_eq!(read(&tempo), tuned);

    obs_init(dir.path())
        .args(["platform", "--on-conflict", "skip"])
        .assert()
        .success();
    assert_eq!(read(&tempo), tuned, "skip overwrote the team's file");

    obs_init(dir.path())
        .args(["platform", "--on-conflict", "overwrite"])
        .assert()
        .success();
    assert_ne!(read(&tempo), tuned, "overwrite kept the team's file");
}

#[test]
fn the_platform_compose_file_is_valid_compose_and_passes_doctor() {
    let dir = platform();
    let compose = dir.path().join(COMPOSE_FILE);
    let validator = common::schema_validator();
    let errors = common::schema_errors(&validator, &read(&compose));
    assert!(errors.is_empty(), "schema errors: {errors:?}");

    let doctor = |dir: &Path| {
        obs_init(dir)
            .args(["doctor", "--file", COMPOSE_FILE])
            .output()
            .expect("runs")
    };
    let out = doctor(dir.path());
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let data = yaml(&compose);
    let services = data["services"].as_object().expect("services");
    for want in [
        "otel-collector",
        "tempo",
        "prometheus",
        "opensearch",
        "fluent-bit",
        "grafana",
    ] {
        let service = &services[want];
        let image = service["image"].as_str().expect("image");
        let tag = image.rsplit_once(':').map(|(_, t)| t).unwrap_or("");
        assert!(
            tag.chars()
                .next()
                .is_some_and(|c| c.is_ascii_digit() || c == 'v')
                && tag != "latest",
            "{want}: image {image} is not pinned"
        );
        assert!(
            strings(&service["networks"]).contains(&NETWORK.to_string()),
            "{want} is not on {NETWORK}"
        );
    }
    // Where the image has a shell and an HTTP client, Compose can tell when it is ready.
    for want in ["prometheus", "opensearch", "grafana"] {
        assert!(services[want]["healthcheck"].is_object(), "{want}");
    }
    assert_eq!(data["networks"][NETWORK]["external"], Json::Bool(true));

    // The same check must fail on a broken file: a service on a network nobody declares.
    let broken = read(&compose).replacen(
        "    networks:\n      - observability-net\n",
        "    networks:\n      - backend\n",
        1,
    );
    fs::write(&compose, broken).expect("write");
    assert_eq!(doctor(dir.path()).status.code(), Some(3));
}

#[test]
fn prometheus_accepts_its_config_and_the_dashboards_queries() {
    let (_, promtool) = tools();
    let dir = platform();
    let config = dir.path().join("prometheus.yml");
    let (ok, out) = common::outcome(
        Command::new(promtool)
            .arg("check")
            .arg("config")
            .arg(&config),
    );
    assert!(ok, "promtool rejects prometheus.yml:\n{out}");

    let broken = dir.path().join("broken.yml");
    fs::write(
        &broken,
        read(&config).replace("docker_sd_configs", "docker_sd_config"),
    )
    .expect("write");
    let (ok, _) = common::outcome(
        Command::new(promtool)
            .arg("check")
            .arg("config")
            .arg(&broken),
    );
    assert!(!ok, "promtool accepted a misspelt discovery key");

    // Prometheus' own parser checks the dashboard's PromQL, as recording rules.
    let dashboard: Json = serde_json::from_str(&read(
        &dir.path().join("grafana/dashboards/dapr-overview.json"),
    ))
    .expect("dashboard is JSON");
    let exprs: Vec<String> = dashboard["panels"]
        .as_array()
        .expect("panels")
        .iter()
        .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
        .filter_map(|t| t["expr"].as_str().map(|e| e.replace("$app", ".+")))
        .collect();
    assert_eq!(exprs.len(), 3, "request rate, error rate, latency");
    for metric in [
        "dapr_http_server_request_count",
        "dapr_http_server_latency_bucket",
    ] {
        assert!(exprs.iter().any(|e| e.contains(metric)), "{metric}");
    }
    let rules = |exprs: &[String]| {
        let mut text = String::from("groups:\n  - name: dashboard\n    rules:\n");
        for (i, e) in exprs.iter().enumerate() {
            text += &format!("      - record: panel_{i}\n        expr: '{e}'\n");
        }
        let path = dir.path().join("rules.yml");
        fs::write(&path, text).expect("write");
        common::outcome(Command::new(promtool).arg("check").arg("rules").arg(&path))
    };
    let (ok, out) = rules(&exprs);
    assert!(ok, "promtool rejects the dashboard's queries:\n{out}");
    let (ok, _) = rules(&["sum by (app_id) (rate(x[5m])".to_string()]);
    assert!(!ok, "promtool accepted an unbalanced query");
    for panel in dashboard["panels"].as_array().expect("panels") {
        assert_eq!(panel["datasource"]["uid"], "prometheus");
    }
}

#[test]
fn setup_sh_is_clean_under_shellcheck() {
    let (shellcheck, _) = tools();
    let dir = platform();
    let script = dir.path().join("setup.sh");
    let (ok, out) = common::outcome(Command::new(shellcheck).arg(&script));
    assert!(ok, "shellcheck:\n{out}");
    fs::write(
        &script,
        read(&script).replacen("\"$(stat -c %u \"$path\")\"", "$(stat -c %u \"$path\")", 1),
    )
    .expect("write");
    let (ok, _) = common::outcome(Command::new(shellcheck).arg(&script));
    assert!(!ok, "shellcheck passed an unquoted expansion");
}

/// A stand-in for the docker client: logs its arguments; `network inspect` fails until
/// `network create` has run, like a host without the network.
const FAKE_DOCKER: &str = r#"#!/usr/bin/env bash
echo "$*" >>"$FAKE_DOCKER_LOG"
case "$1 $2" in
"network inspect") [ -f "$FAKE_DOCKER_LOG.net" ] ;;
"network create") touch "$FAKE_DOCKER_LOG.net" ;;
esac
"#;

/// Runs the platform's setup.sh as root in a private mount namespace, where
/// `vm.max_map_count` reads `map_count` (the host's own setting is left alone), with the
/// fake docker client first on PATH. `None`, saying so, where that is not possible (not
/// root, no unshare).
fn setup_sh(dir: &Path, map_count: u64, env: &[(&str, &str)]) -> Option<(bool, String)> {
    let root = Command::new("id").arg("-u").output().ok()?;
    let can_unshare = Command::new("unshare")
        .args(["-m", "true"])
        .status()
        .is_ok_and(|s| s.success());
    if String::from_utf8_lossy(&root.stdout).trim() != "0" || !can_unshare {
        // CI runs as root with unshare: there, skipping would hide a broken setup.sh.
        assert!(
            std::env::var_os("CI").is_none(),
            "setup.sh tests need root and unshare, and CI must run them"
        );
        eprintln!("skipped: needs root and unshare (CI has both)");
        return None;
    }
    let bin = dir.join("fake-bin");
    fs::create_dir_all(&bin).expect("mkdir");
    let docker = bin.join("docker");
    fs::write(&docker, FAKE_DOCKER).expect("write");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&docker, fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let count = dir.join("fake-map-count");
    fs::write(&count, format!("{map_count}\n")).expect("write");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = Command::new("unshare");
    cmd.args(["-m", "bash", "-c"])
        .arg(r#"mount --bind "$1" /proc/sys/vm/max_map_count && exec "$2/setup.sh""#)
        .arg("setup")
        .arg(&count)
        .arg(dir)
        .env("PATH", path)
        .env("FAKE_DOCKER_LOG", dir.join("docker.log"))
        .env_remove("GRAFANA_ADMIN_PASSWORD")
        .env_remove("OPENSEARCH_SECURITY")
        .env_remove("OPENSEARCH_ADMIN_PASSWORD");
    for (k, v) in env {
        cmd.env(k, v);
    }
    Some(common::outcome(&mut cmd))
}

fn env_file(dir: &Path) -> Vec<(String, String)> {
    read(&dir.join(".env"))
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn env_value(dir: &Path, key: &str) -> Option<String> {
    env_file(dir)
        .into_iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
}

#[test]
fn setup_sh_prepares_the_host_and_a_second_run_changes_nothing() {
    let dir = platform();
    let Some((ok, out)) = setup_sh(dir.path(), 262_144, &[]) else {
        return;
    };
    assert!(ok, "setup.sh failed:\n{out}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        for (sub, uid) in [
            ("grafana", 472),
            ("opensearch", 1000),
            ("prometheus", 65534),
            ("tempo", 10001),
        ] {
            let meta = fs::metadata(dir.path().join("data").join(sub)).expect("data dir");
            assert_eq!(meta.uid(), uid, "data/{sub}");
        }
        let mode = fs::metadata(dir.path().join(".env"))
            .expect(".env")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, ".env holds passwords");
    }
    let password = env_value(dir.path(), "GRAFANA_ADMIN_PASSWORD").expect("generated");
    assert!(password.len() >= 20 && password != "admin", "{password}");
    assert_eq!(
        env_value(dir.path(), "OPENSEARCH_SCHEME").as_deref(),
        Some("http")
    );
    assert!(env_value(dir.path(), "DOCKER_GID").is_some());
    assert!(
        out.contains("OpenSearch runs without its security plugin"),
        "no warning for the default:\n{out}"
    );

    let (ok, out) = setup_sh(dir.path(), 262_144, &[]).expect("ran once");
    assert!(ok, "second run failed:\n{out}");
    assert_eq!(
        env_value(dir.path(), "GRAFANA_ADMIN_PASSWORD").as_deref(),
        Some(password.as_str()),
        "a second run changed the password"
    );
    let keys: Vec<String> = env_file(dir.path()).into_iter().map(|(k, _)| k).collect();
    let unique: BTreeSet<&String> = keys.iter().collect();
    assert_eq!(keys.len(), unique.len(), ".env repeats keys: {keys:?}");
    let log = read(&dir.path().join("docker.log"));
    assert_eq!(
        log.matches(&format!("network create {NETWORK}")).count(),
        1,
        "{log}"
    );
    assert_eq!(
        log.matches(&format!("compose -f {COMPOSE_FILE} up -d"))
            .count(),
        2,
        "{log}"
    );

    // Asking for OpenSearch's security gets TLS, a login and a generated password.
    let (ok, out) = setup_sh(dir.path(), 262_144, &[("OPENSEARCH_SECURITY", "on")]).expect("ran");
    assert!(ok, "{out}");
    assert_eq!(
        env_value(dir.path(), "OPENSEARCH_SCHEME").as_deref(),
        Some("https")
    );
    assert_eq!(
        env_value(dir.path(), "OPENSEARCH_TLS").as_deref(),
        Some("on")
    );
    assert!(env_value(dir.path(), "OPENSEARCH_ADMIN_PASSWORD").is_some_and(|p| p.len() >= 20));
}

/// Fluent Bit takes an empty variable for an unset one (`flb_env_get`: an empty value is
/// NULL) and warns at every start; each `${NAME}` its file reads must be non-empty in the
/// `.env` setup.sh writes, whether OpenSearch's security is on or off.
#[test]
fn fluent_bit_reads_only_variables_setup_sh_fills_in_either_security_mode() {
    let dir = platform();
    let wanted = references(&read(&dir.path().join("fluent-bit.yaml")));
    assert!(wanted.contains("OPENSEARCH_ADMIN_PASSWORD"), "{wanted:?}");
    for security in ["off", "on"] {
        let _ = fs::remove_file(dir.path().join(".env"));
        let Some((ok, out)) = setup_sh(dir.path(), 262_144, &[("OPENSEARCH_SECURITY", security)])
        else {
            return;
        };
        assert!(ok, "{out}");
        for name in &wanted {
            assert!(
                env_value(dir.path(), name).is_some_and(|v| !v.is_empty()),
                "security {security}: fluent-bit.yaml reads {name}, empty or unset in .env"
            );
        }
    }
}

#[test]
fn setup_sh_stops_before_starting_when_opensearch_could_not_run() {
    let dir = platform();
    let Some((ok, out)) = setup_sh(dir.path(), 65_530, &[]) else {
        return;
    };
    assert!(!ok, "setup.sh went on with vm.max_map_count too low");
    assert!(out.contains("sysctl -w vm.max_map_count=262144"), "{out}");
    assert!(
        !dir.path().join("docker.log").exists(),
        "docker was called anyway"
    );
}

#[test]
fn setup_sh_keeps_passwords_and_data_out_of_git() {
    let dir = platform();
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(dir.path())
            .output()
            .expect("git runs")
    };
    assert!(git(&["init", "-q"]).status.success());
    fs::write(dir.path().join(".gitignore"), "*.log").expect("write");
    let Some((ok, out)) = setup_sh(dir.path(), 262_144, &[]) else {
        return;
    };
    assert!(ok, "{out}");
    assert_eq!(
        read(&dir.path().join(".gitignore")),
        "*.log\n.env\n.env.new\ndata/\n"
    );
    assert!(git(&["check-ignore", "-q", ".env"]).status.success());
}

#[test]
fn the_collector_reaches_the_platform_services_through_defined_pipelines() {
    let dir = platform();
    let collector = yaml(&dir.path().join("otel-collector.yaml"));
    for protocol in ["grpc", "http"] {
        let endpoint = collector["receivers"]["otlp"]["protocols"][protocol]["endpoint"]
            .as_str()
            .expect("endpoint");
        assert!(
            endpoint.starts_with("0.0.0.0:"),
            "{protocol} listens on {endpoint}: other containers could not reach it"
        );
    }
    let pipelines = collector["service"]["pipelines"]
        .as_object()
        .expect("pipelines");
    for signal in ["traces", "metrics", "logs"] {
        let pipeline = &pipelines[signal];
        for (kind, section) in [
            ("receivers", "receivers"),
            ("processors", "processors"),
            ("exporters", "exporters"),
        ] {
            for name in strings(&pipeline[kind]) {
                assert!(
                    collector[section][&name].is_object(),
                    "{signal} uses {kind} {name}, which is not defined"
                );
            }
        }
        let processors = strings(&pipeline["processors"]);
        assert_eq!(
            processors.first().map(String::as_str),
            Some("memory_limiter")
        );
        assert_eq!(processors.last().map(String::as_str), Some("batch"));
    }
    let exporter = |signal: &str| {
        let name = strings(&pipelines[signal]["exporters"])
            .pop()
            .expect("an exporter");
        collector["exporters"][&name]["endpoint"]
            .as_str()
            .expect("endpoint")
            .to_string()
    };

    let compose = yaml(&dir.path().join(COMPOSE_FILE));
    let services = &compose["services"];
    // Traces: Tempo's OTLP gRPC receiver.
    let tempo = yaml(&dir.path().join("tempo.yaml"));
    let tempo_grpc = tempo["distributor"]["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"]
        .as_str()
        .expect("tempo grpc");
    assert_eq!(
        exporter("traces"),
        format!("tempo:{}", tempo_grpc.rsplit(':').next().expect("port"))
    );
    assert!(services["tempo"].is_object());
    // Metrics: Prometheus' remote-write receiver, which is off unless enabled.
    assert_eq!(exporter("metrics"), "http://prometheus:9090/api/v1/write");
    assert!(
        strings(&services["prometheus"]["command"])
            .contains(&"--web.enable-remote-write-receiver".to_string())
    );
    // Logs: Fluent Bit's OpenTelemetry input, then OpenSearch.
    let fluent = yaml(&dir.path().join("fluent-bit.yaml"));
    let input = &fluent["pipeline"]["inputs"][0];
    assert_eq!(input["name"], "opentelemetry");
    assert_eq!(
        exporter("logs"),
        format!(
            "http://fluent-bit:{}",
            input["port"].as_i64().expect("port")
        )
    );
    let output = &fluent["pipeline"]["outputs"][0];
    assert_eq!(output["name"], "opensearch");
    assert_eq!(output["host"], "opensearch");
    assert!(services["opensearch"].is_object() && services["fluent-bit"].is_object());

    // Trace -> logs: the ids must reach OpenSearch as the field Grafana searches.
    let statements: Vec<String> =
        collector["processors"]["transform/logs-for-opensearch"]["log_statements"][0]["statements"]
            .as_array()
            .expect("statements")
            .iter()
            .filter_map(|s| s.as_str().map(String::from))
            .collect();
    assert!(
        strings(&pipelines["logs"]["processors"]).contains(&"transform/logs-for-opensearch".into())
    );
    assert!(statements.contains(&r#"set(cache["traceId"], trace_id.string)"#.to_string()));
    assert_eq!(
        statements.last().map(String::as_str),
        Some("set(body, cache)")
    );
    let sources = yaml(
        &dir.path()
            .join("grafana/provisioning/datasources/datasources.yaml"),
    );
    let by_uid = |uid: &str| {
        sources["datasources"]
            .as_array()
            .expect("datasources")
            .iter()
            .find(|d| d["uid"] == uid)
            .cloned()
            .unwrap_or_else(|| panic!("no data source {uid}"))
    };
    let tempo_source = by_uid("tempo");
    let opensearch = by_uid("opensearch");
    let links = &tempo_source["jsonData"]["tracesToLogsV2"];
    assert_eq!(links["datasourceUid"], "opensearch");
    assert!(
        links["query"]
            .as_str()
            .expect("query")
            .starts_with("traceId:")
    );
    assert_eq!(opensearch["jsonData"]["database"], output["index"]);
    assert_eq!(opensearch["jsonData"]["dataLinks"][0]["field"], "traceId");
    assert_eq!(
        opensearch["jsonData"]["dataLinks"][0]["datasourceUid"],
        "tempo"
    );
    by_uid("prometheus");
}

/// `${NAME}` and `$NAME` references in `text`'s values (comment lines left out, as the
/// programs do), leaving out `$$` (a literal `$`).
fn references(text: &str) -> BTreeSet<String> {
    let values: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    let text = values.as_str();
    let bytes = text.as_bytes();
    let mut names = BTreeSet::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'$' {
            i += 1;
            continue;
        }
        if bytes.get(i + 1) == Some(&b'$') {
            i += 2;
            continue;
        }
        let start = if bytes.get(i + 1) == Some(&b'{') {
            i + 2
        } else {
            i + 1
        };
        let end = start
            + bytes[start..]
                .iter()
                .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
                .count();
        if end > start {
            names.insert(text[start..end].to_string());
        }
        i = end.max(i + 1);
    }
    names
}

fn environment_keys(service: &Json) -> BTreeSet<String> {
    strings(&service["environment"])
        .iter()
        .map(|e| e.split('=').next().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn every_variable_a_config_reads_is_set_for_its_container() {
    let dir = platform();
    let compose_text = read(&dir.path().join(COMPOSE_FILE));
    let compose = yaml(&dir.path().join(COMPOSE_FILE));
    for (file, service) in [
        ("fluent-bit.yaml", "fluent-bit"),
        (
            "grafana/provisioning/datasources/datasources.yaml",
            "grafana",
        ),
    ] {
        let wanted = references(&read(&dir.path().join(file)));
        let set = environment_keys(&compose["services"][service]);
        let missing: Vec<_> = wanted.difference(&set).collect();
        assert!(
            missing.is_empty(),
            "{file} reads {missing:?}, not set on {service}"
        );
    }
    // Grafana's own macros must reach Grafana, not be expanded away at provisioning.
    let sources = read(
        &dir.path()
            .join("grafana/provisioning/datasources/datasources.yaml"),
    );
    assert!(sources.contains("$${__trace.traceId}") && sources.contains("$${__value.raw}"));
    assert!(references(&sources).iter().all(|n| !n.starts_with("__")));

    // Every variable the compose file needs is one setup.sh writes into .env, or one the
    // user may set (documented at the top of setup.sh).
    let setup = read(&dir.path().join("setup.sh"));
    let provided: BTreeSet<String> = setup
        .lines()
        .filter_map(|l| l.trim().strip_prefix("env_set "))
        .filter_map(|rest| rest.split_whitespace().next().map(String::from))
        .collect();
    for name in references(&compose_text) {
        assert!(
            provided.contains(&name) || setup.contains(&format!("#   {name} ")),
            "the compose file reads {name}, which setup.sh neither writes nor documents"
        );
    }
}

#[test]
fn an_onboarded_project_and_the_platform_resolve_every_network_and_host() {
    let root = tempfile::tempdir().expect("tempdir");
    let project = root.path().join("app");
    common::copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/fastapi-app"),
        &project,
    );
    obs_init(&project).arg("--yes").assert().success();
    let platform_dir = root.path().join("platform");
    obs_init(root.path())
        .args(["platform", "--dir", "platform"])
        .assert()
        .success();

    let platform = yaml(&platform_dir.join(COMPOSE_FILE));
    let services = platform["services"].as_object().expect("services");
    // What the platform puts on each network, by the network's real name.
    let on_network = |network: &str| -> BTreeSet<String> {
        services
            .iter()
            .filter(|(_, s)| strings(&s["networks"]).iter().any(|n| n == network))
            .map(|(name, _)| name.clone())
            .collect()
    };
    let setup = read(&platform_dir.join("setup.sh"));

    let app = yaml(&project.join("docker-compose.yml"));
    let mut external = Vec::new();
    for (key, net) in app["networks"].as_object().expect("networks") {
        if net["external"] == Json::Bool(true) {
            external.push(net["name"].as_str().unwrap_or(key).to_string());
        }
    }
    assert_eq!(external, vec![NETWORK.to_string()]);
    for network in &external {
        assert!(
            setup.contains(&format!("docker network create {network}")),
            "nothing creates {network}"
        );
        assert!(
            !on_network(network).is_empty(),
            "the platform is not on {network}"
        );
    }

    // Every host:port the project sends telemetry to is a platform service on that network
    // listening there.
    let collector = yaml(&platform_dir.join("otel-collector.yaml"));
    let listening: BTreeSet<String> = ["grpc", "http"]
        .iter()
        .filter_map(|p| {
            collector["receivers"]["otlp"]["protocols"][p]["endpoint"]
                .as_str()
                .and_then(|e| e.rsplit(':').next())
                .map(String::from)
        })
        .collect();
    let mut targets = Vec::new();
    for (name, service) in app["services"].as_object().expect("services") {
        for entry in strings(&service["environment"]) {
            let Some((key, value)) = entry.split_once('=') else {
                continue;
            };
            if key.contains("ENDPOINT") {
                targets.push((format!("{name}: {key}"), value.to_string()));
            }
        }
    }
    let dapr = yaml(&project.join("dapr-config.yml"));
    targets.push((
        "dapr-config.yml".into(),
        dapr["spec"]["tracing"]["otel"]["endpointAddress"]
            .as_str()
            .expect("endpointAddress")
            .to_string(),
    ));
    assert!(targets.len() >= 3, "{targets:?}");
    for (what, target) in &targets {
        let hostport = target.split("://").last().expect("address");
        let (host, port) = hostport.split_once(':').expect("host:port");
        assert_eq!(host, COLLECTOR_SERVICE, "{what}");
        assert!(
            on_network(NETWORK).contains(host),
            "{what}: {host} not on {NETWORK}"
        );
        assert!(
            listening.contains(port),
            "{what}: nothing listens on {port}"
        );
    }
}

#[test]
fn prometheus_discovers_sidecars_by_the_label_onboarding_adds() {
    let dir = platform();
    let prometheus = yaml(&dir.path().join("prometheus.yml"));
    let job = prometheus["scrape_configs"]
        .as_array()
        .expect("scrape_configs")
        .iter()
        .find(|j| j["job_name"] == "dapr-sidecars")
        .cloned()
        .expect("a job for the sidecars");
    let filter = &job["docker_sd_configs"][0]["filters"][0];
    assert_eq!(filter["name"], "label");
    assert_eq!(strings(&filter["values"]), vec![METRICS_LABEL.to_string()]);
    // Prometheus turns the label's name into a meta label, with `.` and `-` as `_`.
    let meta = format!(
        "__meta_docker_container_label_{}",
        METRICS_LABEL.replace(['.', '-'], "_")
    );
    let relabels = job["relabel_configs"].as_array().expect("relabel_configs");
    let address = relabels
        .iter()
        .find(|r| r["target_label"] == "__address__")
        .expect("an address rule");
    assert!(strings(&address["source_labels"]).contains(&meta));
    let keep = relabels
        .iter()
        .find(|r| r["action"] == "keep")
        .expect("a network rule");
    assert_eq!(keep["regex"], NETWORK);
    let service = &yaml(&dir.path().join(COMPOSE_FILE))["services"]["prometheus"];
    assert!(strings(&service["networks"]).contains(&NETWORK.to_string()));
    // Discovery reads the Docker socket, which Prometheus (uid 65534) may read only as a
    // member of the socket's group.
    let socket = job["docker_sd_configs"][0]["host"]
        .as_str()
        .and_then(|h| h.strip_prefix("unix://"))
        .expect("a unix socket");
    assert!(
        strings(&service["volumes"])
            .iter()
            .any(|v| v.starts_with(&format!("{socket}:{socket}"))),
        "{socket} is not mounted into prometheus"
    );
    assert!(
        strings(&service["group_add"])
            .iter()
            .any(|g| g.starts_with("${DOCKER_GID")),
        "prometheus is not in the socket's group"
    );

    // And onboarding puts that label, with daprd's metrics port, on the app.
    let project = tempfile::tempdir().expect("tempdir");
    common::copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/fastapi-app"),
        project.path(),
    );
    obs_init(project.path()).arg("--yes").assert().success();
    let app = yaml(&project.path().join("docker-compose.yml"));
    assert_eq!(
        app["services"]["api"]["labels"][METRICS_LABEL],
        METRICS_PORT
    );
    let command = strings(&app["services"]["api-dapr"]["command"]);
    let at = command
        .iter()
        .position(|w| w == "--metrics-port")
        .expect("--metrics-port");
    assert_eq!(command[at + 1], METRICS_PORT);
}

// --- The platform on Kubernetes -------------------------------------------------------

use obs_init::platform::KUBERNETES_FILES;

/// The Kubernetes platform, written by the real binary.
fn kubernetes_platform() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    obs_init(dir.path())
        .args(["platform", "--target", "kubernetes", "--yes"])
        .assert()
        .success();
    dir
}

fn charts() -> PathBuf {
    common::data().join("k8s/charts")
}

/// `over` merged onto `base` as Helm merges values: maps key by key, a null deleting.
fn merged(base: &Json, over: &Json) -> Json {
    match (base, over) {
        (Json::Object(b), Json::Object(o)) => {
            let mut out = b.clone();
            for (k, v) in o {
                if v.is_null() {
                    out.remove(k);
                } else {
                    let next = b.get(k).map_or_else(|| v.clone(), |bv| merged(bv, v));
                    out.insert(k.clone(), next);
                }
            }
            Json::Object(out)
        }
        _ => over.clone(),
    }
}

/// The key paths of `ours` that the chart's defaults do not have, where the defaults are a
/// non-empty mapping (an empty one, or a scalar, takes anything).
fn unknown_keys(defaults: &Json, ours: &Json, at: &str, out: &mut Vec<String>) {
    let (Json::Object(d), Json::Object(o)) = (defaults, ours) else {
        return;
    };
    // The collector chart's `config` is the collector's own configuration, whose component
    // names are the user's: its pipelines are checked against it below.
    if d.is_empty() || at == ".config" && d.contains_key("receivers") {
        return;
    }
    for (k, v) in o {
        let path = format!("{at}.{k}");
        match d.get(k) {
            None => out.push(path),
            Some(dv) => unknown_keys(dv, v, &path, out),
        }
    }
}

/// What is wrong with `values` for `chart`: its `values.schema.json`'s errors on the merged
/// values, as Helm checks them, where it has one; and the keys its defaults do not know
/// (a schema may leave those open).
fn chart_problems(chart: &str, values: &Json) -> Vec<String> {
    let defaults = yaml(&charts().join(format!("{chart}-values.yaml")));
    let schema = charts().join(format!("{chart}-values.schema.json"));
    let mut out = Vec::new();
    if schema.is_file() {
        let schema: Json = serde_json::from_str(&read(&schema)).expect("schema is JSON");
        let validator = jsonschema::validator_for(&schema).expect("schema compiles");
        out.extend(
            validator
                .iter_errors(&merged(&defaults, values))
                .map(|e| format!("{}: {e}", e.instance_path())),
        );
    }
    unknown_keys(&defaults, values, "", &mut out);
    out
}

/// The key paths below `v` whose name says password.
fn password_keys(v: &Json, at: &str, out: &mut Vec<String>) {
    match v {
        Json::Object(m) => {
            for (k, v) in m {
                let path = format!("{at}.{k}");
                if k.to_lowercase().contains("password") {
                    out.push(path.clone());
                }
                password_keys(v, &path, out);
            }
        }
        Json::Array(items) => items.iter().for_each(|i| password_keys(i, at, out)),
        _ => {}
    }
}

#[test]
fn kubernetes_values_validate_against_their_charts() {
    let dir = kubernetes_platform();
    let mut checked = 0;
    for (rel, _) in KUBERNETES_FILES {
        let Some(name) = rel.strip_prefix("values/") else {
            continue;
        };
        let chart = name.trim_end_matches(".yaml");
        let values = yaml(&dir.path().join(rel));
        let problems = chart_problems(chart, &values);
        assert!(problems.is_empty(), "{rel}:\n{}", problems.join("\n"));
        // The check can fail: a key the chart does not have is caught either way.
        let mut bogus = values.clone();
        bogus["serviceAccunt"] = serde_json::json!({ "create": true });
        assert!(
            !chart_problems(chart, &bogus).is_empty(),
            "{chart} took a bogus key"
        );
        checked += 1;
    }
    assert_eq!(checked, 7);
}

#[test]
fn the_helmfile_pins_each_chart_and_install_sh_installs_the_same_releases() {
    let dir = kubernetes_platform();
    let helmfile = yaml(&dir.path().join("helmfile.yaml"));
    let repos: Vec<String> = helmfile["repositories"]
        .as_array()
        .expect("repositories")
        .iter()
        .map(|r| r["name"].as_str().expect("name").to_string())
        .collect();
    let pinned: Vec<(String, String)> = read(&charts().join("CHARTS.tsv"))
        .lines()
        .skip(1)
        .filter_map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            Some((cols.first()?.to_string(), cols.get(3)?.to_string()))
        })
        .collect();
    let install = read(&dir.path().join("install.sh"));
    let releases = helmfile["releases"].as_array().expect("releases");
    assert_eq!(releases.len(), 7);
    for r in releases {
        let (name, chart) = (
            r["name"].as_str().expect("name"),
            r["chart"].as_str().expect("chart"),
        );
        let version = r["version"]
            .as_str()
            .map(String::from)
            .unwrap_or_else(|| r["version"].to_string());
        let (repo, chart_name) = chart.split_once('/').expect("repo/chart");
        assert!(
            repos.iter().any(|x| x == repo),
            "{chart}: no repository {repo}"
        );
        assert_eq!(r["namespace"], "observability", "{name}");
        // The version CHARTS.tsv records (Dapr's chart says 0.0.0 in its repository: its
        // release is the tag, 1.18.3, the daprd the sidecars run).
        let want = pinned
            .iter()
            .find(|(c, _)| c == chart_name)
            .map(|(_, v)| {
                if v == "0.0.0" {
                    obs_init::contract::DEFAULT_DAPR_VERSION.to_string()
                } else {
                    v.clone()
                }
            })
            .unwrap_or_else(|| panic!("{chart_name} is not in CHARTS.tsv"));
        assert_eq!(version, want, "{chart}");
        let values = strings(&r["values"]);
        assert_eq!(values.len(), 1, "{name}");
        assert!(
            dir.path().join(&values[0]).is_file(),
            "{name}: {}",
            values[0]
        );
        let stem = values[0]
            .trim_start_matches("values/")
            .trim_end_matches(".yaml");
        let line = format!("release {name} {chart} {version} {stem}");
        assert!(install.contains(&line), "install.sh lacks `{line}`");
    }
    let (shellcheck, _) = tools();
    let (ok, out) = common::outcome(Command::new(shellcheck).arg(dir.path().join("install.sh")));
    assert!(ok, "shellcheck install.sh:\n{out}");
}

#[test]
fn on_kubernetes_each_signal_goes_where_the_charts_serve_it() {
    let dir = kubernetes_platform();
    let values = |name: &str| yaml(&dir.path().join(format!("values/{name}.yaml")));
    let chart = |name: &str| yaml(&charts().join(format!("{name}-values.yaml")));
    let collector = values("opentelemetry-collector");
    assert_eq!(collector["fullnameOverride"], COLLECTOR_SERVICE);
    let config = &collector["config"];
    let pipelines = &config["service"]["pipelines"];
    assert_eq!(
        pipelines["traces"]["exporters"],
        serde_json::json!(["otlp_grpc/tempo"])
    );
    assert_eq!(
        pipelines["metrics"]["exporters"],
        serde_json::json!(["prometheus_remote_write"])
    );
    assert_eq!(
        pipelines["logs"]["exporters"],
        serde_json::json!(["otlp_http/fluent-bit"])
    );
    // The processors the pipelines name are configured, here or by the chart.
    let defaults = chart("opentelemetry-collector");
    for pipeline in ["traces", "metrics", "logs"] {
        for p in strings(&pipelines[pipeline]["processors"]) {
            assert!(
                config["processors"].get(&p).is_some()
                    || defaults["config"]["processors"].get(&p).is_some(),
                "{pipeline}: processor {p} is not configured"
            );
        }
    }
    // Traces: Tempo's service, named by its fullnameOverride, takes OTLP gRPC on 4317.
    let tempo = values("tempo");
    assert_eq!(
        config["exporters"]["otlp_grpc/tempo"]["endpoint"],
        format!("{}:4317", tempo["fullnameOverride"].as_str().expect("name"))
    );
    assert!(
        tempo["tempo"]["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"]
            .as_str()
            .is_some_and(|e| e.ends_with(":4317"))
    );
    // Metrics: Prometheus' server takes remote writes.
    let prometheus = values("prometheus");
    assert!(
        strings(&prometheus["server"]["extraFlags"])
            .contains(&"web.enable-remote-write-receiver".to_string())
    );
    assert_eq!(
        config["exporters"]["prometheus_remote_write"]["endpoint"],
        format!(
            "http://{}/api/v1/write",
            prometheus["server"]["fullnameOverride"]
                .as_str()
                .expect("name")
        )
    );
    // Logs: Fluent Bit listens for OTLP/HTTP on the port it publishes, and writes to the
    // OpenSearch service the chart creates.
    let fluent = values("fluent-bit");
    assert_eq!(
        config["exporters"]["otlp_http/fluent-bit"]["endpoint"],
        format!(
            "http://{}:4318",
            fluent["fullnameOverride"].as_str().expect("name")
        )
    );
    assert_eq!(fluent["extraPorts"][0]["port"], 4318);
    let inputs = fluent["config"]["inputs"].as_str().expect("inputs");
    assert!(
        inputs.contains("opentelemetry") && inputs.contains("Port   4318"),
        "{inputs}"
    );
    let master = chart("opensearch")["masterService"]
        .as_str()
        .expect("masterService")
        .to_string();
    let outputs = fluent["config"]["outputs"].as_str().expect("outputs");
    assert!(
        outputs.contains(&format!("Host               {master}")) && outputs.contains("otel-logs"),
        "{outputs}"
    );
    // Grafana reads each store where it is, with no password written anywhere.
    let grafana = values("grafana");
    let sources = grafana["datasources"]["datasources.yaml"]["datasources"]
        .as_array()
        .expect("datasources");
    let url = |uid: &str| {
        sources
            .iter()
            .find(|s| s["uid"] == uid)
            .and_then(|s| s["url"].as_str())
            .unwrap_or("")
            .to_string()
    };
    assert_eq!(url("prometheus"), "http://prometheus-server");
    assert_eq!(url("tempo"), "http://tempo:3200");
    assert_eq!(url("opensearch"), format!("http://{master}:9200"));
    for (rel, _) in KUBERNETES_FILES
        .iter()
        .filter(|(r, _)| r.starts_with("values/"))
    {
        let mut found = Vec::new();
        password_keys(&yaml(&dir.path().join(rel)), "", &mut found);
        assert!(found.is_empty(), "{rel} sets {found:?}");
    }
}

#[test]
fn promtool_accepts_the_dapr_sidecar_scrape_job() {
    let (_, promtool) = tools();
    let dir = kubernetes_platform();
    let prometheus = yaml(&dir.path().join("values/prometheus.yaml"));
    let jobs = prometheus["extraScrapeConfigs"]
        .as_str()
        .expect("a YAML string");
    assert!(jobs.contains("__meta_kubernetes_pod_annotation_dapr_io_enabled"));
    // As the chart puts it: under scrape_configs of prometheus.yml. Debian's promtool is
    // built without Kubernetes discovery, so a static target stands in for it; the
    // relabelling, where the annotations are read, is checked as written.
    let indented: String = jobs
        .replace(
            "kubernetes_sd_configs:\n    - role: pod",
            "static_configs:\n    - targets: [\"10.0.0.1:3500\"]",
        )
        .lines()
        .map(|l| format!("  {l}\n"))
        .collect();
    assert!(!indented.contains("kubernetes_sd_configs"), "{indented}");
    let config = dir.path().join("prometheus.yml");
    fs::write(&config, format!("scrape_configs:\n{indented}")).expect("write");
    let (ok, out) = common::outcome(
        Command::new(promtool)
            .args(["check", "config"])
            .arg(&config),
    );
    assert!(ok, "promtool:\n{out}");
    let broken = indented.replacen("action: keep", "action: keepx", 1);
    fs::write(&config, format!("scrape_configs:\n{broken}")).expect("write");
    let (ok, _) = common::outcome(
        Command::new(promtool)
            .args(["check", "config"])
            .arg(&config),
    );
    assert!(!ok, "promtool took a bad relabel action");
}

// The real OpenTelemetry Collector, OpenSearch and Prometheus (tests/platform/*.sh build or
// fetch them once into the cache; see the README's Tests section).

/// The collector tests/platform/collector.sh builds from tests/platform/otelcol-builder.yaml.
fn collector() -> &'static Path {
    static COLLECTOR: OnceLock<PathBuf> = OnceLock::new();
    COLLECTOR.get_or_init(|| PathBuf::from(common::install("platform/collector.sh").trim()))
}

/// The OpenSearch node folder tests/platform/opensearch.sh lays out from Maven artifacts.
fn opensearch_home() -> &'static Path {
    static HOME: OnceLock<PathBuf> = OnceLock::new();
    HOME.get_or_init(|| PathBuf::from(common::install("platform/opensearch.sh").trim()))
}

fn platform_script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/platform")
        .join(name)
}

/// The collector's own `validate` on a configuration file.
fn collector_validate(config: &Path) -> (bool, String) {
    common::outcome(
        Command::new(collector())
            .arg("validate")
            .arg(format!("--config={}", config.display()))
            // Read by the Helm chart's default configuration (the pod's address and names).
            .env("MY_POD_IP", "127.0.0.1")
            .env("OTEL_K8S_NODE_NAME", "node")
            .env("OTEL_K8S_NAMESPACE", "observability")
            .env("OTEL_K8S_NODE_IP", "127.0.0.1")
            .env("OTEL_K8S_POD_IP", "127.0.0.1")
            .env("OTEL_K8S_POD_NAME", "otel-collector-0"),
    )
}

/// The collector configuration the Helm chart renders: its default `config` with the
/// platform's values merged over it, as Helm merges values.
fn helm_collector_config(dir: &Path) -> Json {
    let ours = yaml(&dir.join("values/opentelemetry-collector.yaml"));
    let defaults = yaml(&charts().join("opentelemetry-collector-values.yaml"));
    merged(&defaults["config"], &ours["config"])
}

#[test]
fn the_real_collector_validates_the_compose_and_helm_configurations_and_rejects_a_misspelt_exporter()
 {
    let dir = platform();
    let compose_config = dir.path().join("otel-collector.yaml");
    let (ok, out) = collector_validate(&compose_config);
    assert!(ok, "the collector rejects otel-collector.yaml:\n{out}");

    let k8s = kubernetes_platform();
    let helm = k8s.path().join("helm-config.yaml");
    fs::write(
        &helm,
        serde_json::to_string(&helm_collector_config(k8s.path())).expect("json"),
    )
    .expect("write");
    let (ok, out) = collector_validate(&helm);
    assert!(ok, "the collector rejects the Helm values' config:\n{out}");

    let broken = dir.path().join("broken.yaml");
    fs::write(
        &broken,
        read(&compose_config).replace("otlp_http/fluent-bit:", "otlp_htp/fluent-bit:"),
    )
    .expect("write");
    let (ok, out) = collector_validate(&broken);
    assert!(!ok, "the collector accepted a misspelt exporter");
    assert!(out.contains("unknown type: \"otlp_htp\""), "{out}");
}

/// The component types a collector configuration names (`otlp_grpc/tempo` is `otlp_grpc`).
fn component_types(config: &Json) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for kind in ["receivers", "processors", "exporters", "extensions"] {
        for name in config[kind].as_object().into_iter().flat_map(|m| m.keys()) {
            let ty = name.split('/').next().unwrap_or_default();
            out.insert((kind.to_string(), ty.to_string()));
        }
    }
    out
}

#[test]
fn the_tested_collector_has_exactly_the_components_the_platform_configurations_name() {
    let dir = platform();
    let k8s = kubernetes_platform();
    let mut wanted = component_types(&yaml(&dir.path().join("otel-collector.yaml")));
    wanted.extend(component_types(&helm_collector_config(k8s.path())));

    let out = Command::new(collector())
        .arg("components")
        .output()
        .expect("the collector runs");
    assert!(out.status.success());
    let (_, doc) = common::parse(&String::from_utf8_lossy(&out.stdout));
    let built = common::to_json(&doc);
    let mut has = BTreeSet::new();
    for kind in ["receivers", "processors", "exporters", "extensions"] {
        for c in built[kind].as_array().into_iter().flatten() {
            has.insert((
                kind.to_string(),
                c["name"].as_str().unwrap_or("").to_string(),
            ));
        }
    }
    assert_eq!(
        has, wanted,
        "tests/platform/otelcol-builder.yaml and the platform's configurations disagree"
    );
}

#[test]
fn the_platform_pins_the_collector_release_the_tests_build() {
    let manifest = read(&platform_script("otelcol-builder.yaml"));
    let (_, doc) = common::parse(&manifest);
    let manifest = common::to_json(&doc);
    let version = manifest["dist"]["version"].as_str().expect("dist.version");
    for kind in ["receivers", "processors", "exporters", "extensions"] {
        for c in manifest[kind].as_array().expect(kind) {
            let gomod = c["gomod"].as_str().expect("gomod");
            assert!(
                gomod.ends_with(&format!(" v{version}")),
                "{gomod} is not at the collector's release v{version}"
            );
        }
    }
    let dir = platform();
    let compose = yaml(&dir.path().join(COMPOSE_FILE));
    assert_eq!(
        compose["services"]["otel-collector"]["image"],
        format!("otel/opentelemetry-collector-contrib:{version}")
    );
    let k8s = kubernetes_platform();
    let values = yaml(&k8s.path().join("values/opentelemetry-collector.yaml"));
    assert_eq!(values["image"]["tag"], version);
}

/// One run of tests/platform/platform_e2e.py: the real collector with the compose platform's
/// configuration, a real OpenSearch node and real Prometheus, stand-ins for Tempo and Fluent
/// Bit 5.x, then `obs-init verify` against them.
fn platform_run(config: &Path) -> Json {
    let (_, promtool) = tools();
    let python = common::venv_python("requirements.lock");
    let out = Command::new(python)
        .arg(platform_script("platform_e2e.py"))
        .arg(collector())
        .arg(config)
        .arg(opensearch_home())
        .arg(promtool.with_file_name("prometheus"))
        .arg(assert_cmd::cargo::cargo_bin("obs-init"))
        .output()
        .expect("the script runs");
    assert!(
        out.status.success(),
        "platform_e2e.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON object")
}

#[test]
fn a_span_its_log_and_a_metric_reach_tempo_opensearch_and_prometheus_through_the_real_collector() {
    let dir = platform();
    let run = platform_run(&dir.path().join("otel-collector.yaml"));
    let trace = run["trace_id"].as_str().expect("trace id");
    let brief = {
        let mut r = run.clone();
        r["collector_log"] = Json::Null;
        r
    };

    // Traces: the span, at Tempo's OTLP receiver.
    let spans = run["tempo_spans"].as_array().expect("spans");
    assert_eq!(spans.len(), 1, "{brief:#}");
    assert_eq!(spans[0]["trace_id"], trace);

    // Logs: Grafana's query finds the record in the real OpenSearch, with the fields its
    // data source reads.
    assert_eq!(run["bulk_errors"], serde_json::json!([]), "{brief:#}");
    let hits = run["opensearch_hits"].as_array().expect("hits");
    assert_eq!(
        hits.len(),
        2,
        "traceId:\"{trace}\" finds {hits:?}; Fluent Bit wrote {}",
        run["fluent_bit_documents"]
    );
    assert!(hits.iter().all(|h| h["traceId"] == trace));
    let by_level = |level: &str| {
        hits.iter()
            .find(|h| h["severity"] == level)
            .unwrap_or_else(|| panic!("no {level} record: {hits:?}"))
    };
    let doc = by_level("INFO");
    // A map body reaches Grafana's message field as text, like a plain one: a map there
    // would clash with the field's mapping and OpenSearch would refuse the document.
    let structured = by_level("WARN")["message"].as_str().unwrap_or_default();
    assert!(
        structured.contains("checkout slow") && structured.contains("c-42"),
        "{structured:?}"
    );
    let sources = yaml(
        &dir.path()
            .join("grafana/provisioning/datasources/datasources.yaml"),
    );
    let opensearch = sources["datasources"]
        .as_array()
        .expect("datasources")
        .iter()
        .find(|d| d["uid"] == "opensearch")
        .expect("opensearch data source");
    let fields = &opensearch["jsonData"];
    for (setting, want) in [
        ("logMessageField", "items listed"),
        ("logLevelField", "INFO"),
    ] {
        let field = fields[setting].as_str().expect(setting);
        assert_eq!(doc[field], want, "Grafana's {setting} {field}: {doc}");
    }
    let time_field = fields["timeField"].as_str().expect("timeField");
    assert_eq!(
        run["opensearch_timestamp_mapping"]["type"], "date",
        "{time_field} is not a date in OpenSearch: {brief:#}"
    );
    assert!(doc[time_field].is_string());
    assert_eq!(
        run["opensearch_in_time_range"].as_array().map(Vec::len),
        Some(2),
        "a range on {time_field} around now does not find the record: {brief:#}"
    );
    // The record's service and its namespace (the compose project, the Kubernetes
    // namespace), for telling two projects' services of one name apart in the logs.
    assert_eq!(doc["service"], "platform-e2e", "{doc}");
    assert_eq!(doc["namespace"], "shop", "{doc}");
    // Dotted attribute names arrive with replace_dots' underscores.
    assert_eq!(doc["attributes"]["code_filepath"], "/app/main.py");
    // A Fluent Bit 3.2.2 time stamp (14 fraction digits) is refused by the same index.
    assert_eq!(run["opensearch_old_fluent_bit_document"]["status"], 400);
    assert_eq!(
        run["opensearch_old_fluent_bit_document"]["error"],
        "mapper_parsing_exception"
    );

    // Metrics: the counter, through Prometheus' remote-write receiver.
    let series = run["prometheus_series"].as_array().expect("series");
    assert_eq!(series.len(), 1, "{brief:#}");
    assert_eq!(series[0]["value"][1], "7");
    // The app's own metrics: the real collector's remote write names the job
    // `service.namespace/service.name`, so two projects' `api` are two jobs.
    assert_eq!(series[0]["metric"]["job"], "shop/platform-e2e", "{brief:#}");

    // `obs-init verify` against the same stack confirms every hop.
    assert_eq!(run["verify"]["exit"], 0, "{brief:#}");
    let hops: Vec<&str> = run["verify"]["report"]["verify"]["hops"]
        .as_array()
        .expect("hops")
        .iter()
        .map(|h| h["outcome"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(hops, ["ok", "ok", "ok", "ok"]);

    // The collector starts without warnings (deprecated component names among them).
    let log = run["collector_log"].as_str().expect("log");
    let warnings: Vec<&str> = log.lines().filter(|l| l.contains("\twarn\t")).collect();
    assert!(warnings.is_empty(), "{warnings:#?}");
}

#[test]
fn opensearch_refuses_to_start_with_a_misspelt_setting() {
    let python = common::venv_python("requirements.lock");
    let node = |setting: &str| {
        let out = Command::new(python)
            .arg(platform_script("opensearch_node.py"))
            .arg(opensearch_home())
            .args((!setting.is_empty()).then_some(setting))
            .output()
            .expect("the script runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<Json>(&out.stdout).expect("one JSON object")
    };
    let broken = node("discovery.typ=single-node");
    assert_eq!(broken["answered"], false, "{broken:#}");
    assert!(
        broken["output"]
            .as_str()
            .unwrap_or("")
            .contains("unknown setting [discovery.typ]"),
        "{broken:#}"
    );
}

// Grafana cannot run here: its provisioning files are checked against the format Grafana
// documents ("Provision Grafana": data sources and dashboard providers, apiVersion 1, the
// keys of pkg/services/provisioning/{datasources,dashboards}/types.go), the Tempo data
// source's trace-to-logs settings (tracesToLogsV2) and the OpenSearch plugin's jsonData
// (grafana/opensearch-datasource, OpenSearchOptions).

const DATASOURCE_KEYS: [&str; 18] = [
    "orgId",
    "orgName",
    "version",
    "name",
    "type",
    "access",
    "url",
    "user",
    "database",
    "basicAuth",
    "basicAuthUser",
    "withCredentials",
    "isDefault",
    "correlations",
    "jsonData",
    "secureJsonData",
    "editable",
    "uid",
];
/// jsonData keys every data source takes (TLS, timeouts, HTTP headers).
const COMMON_JSON_DATA: [&str; 7] = [
    "tlsSkipVerify",
    "tlsAuth",
    "tlsAuthWithCACert",
    "serverName",
    "timeout",
    "keepCookies",
    "oauthPassThru",
];
const OPENSEARCH_JSON_DATA: [&str; 13] = [
    "database",
    "timeField",
    "version",
    "flavor",
    "interval",
    "timeInterval",
    "maxConcurrentShardRequests",
    "logMessageField",
    "logLevelField",
    "dataLinks",
    "pplEnabled",
    "sigV4Auth",
    "serverless",
];
const TRACES_TO_LOGS_V2: [&str; 8] = [
    "datasourceUid",
    "spanStartTimeShift",
    "spanEndTimeShift",
    "tags",
    "filterByTraceID",
    "filterBySpanID",
    "customQuery",
    "query",
];
const DASHBOARD_PROVIDER_KEYS: [&str; 10] = [
    "name",
    "orgId",
    "folder",
    "folderUid",
    "type",
    "disableDeletion",
    "editable",
    "updateIntervalSeconds",
    "allowUiUpdates",
    "options",
];

fn keys_outside(v: &Json, known: &[&str], at: &str, out: &mut Vec<String>) {
    for k in v.as_object().into_iter().flat_map(|m| m.keys()) {
        if !known.contains(&k.as_str()) {
            out.push(format!("{at}.{k}"));
        }
    }
}

/// What a data sources provisioning file (as JSON) has that Grafana's format does not.
fn datasource_problems(file: &Json) -> Vec<String> {
    let mut out = Vec::new();
    if file["apiVersion"] != 1 {
        out.push(format!("apiVersion is {}, not 1", file["apiVersion"]));
    }
    keys_outside(
        file,
        &["apiVersion", "datasources", "deleteDatasources", "prune"],
        "",
        &mut out,
    );
    let sources = file["datasources"].as_array().cloned().unwrap_or_default();
    let uids: BTreeSet<&str> = sources.iter().filter_map(|d| d["uid"].as_str()).collect();
    for d in &sources {
        let at = d["uid"].as_str().unwrap_or("?");
        keys_outside(d, &DATASOURCE_KEYS, at, &mut out);
        for required in ["name", "type"] {
            if !d[required].is_string() {
                out.push(format!("{at}: no {required}"));
            }
        }
        if !matches!(d["access"].as_str(), Some("proxy" | "direct") | None) {
            out.push(format!("{at}: access {}", d["access"]));
        }
        if at.len() > 40 {
            out.push(format!("{at}: a uid has at most 40 characters"));
        }
        let json_data = &d["jsonData"];
        match d["type"].as_str() {
            Some("grafana-opensearch-datasource") => {
                let known: Vec<&str> = OPENSEARCH_JSON_DATA
                    .iter()
                    .chain(&COMMON_JSON_DATA)
                    .copied()
                    .collect();
                keys_outside(json_data, &known, &format!("{at}.jsonData"), &mut out);
                for link in json_data["dataLinks"].as_array().into_iter().flatten() {
                    keys_outside(
                        link,
                        &["field", "url", "datasourceUid"],
                        &format!("{at}.jsonData.dataLinks"),
                        &mut out,
                    );
                    if let Some(uid) = link["datasourceUid"].as_str()
                        && !uids.contains(uid)
                    {
                        out.push(format!("{at}: a data link to {uid}, not provisioned"));
                    }
                }
            }
            Some("tempo") => {
                let links = &json_data["tracesToLogsV2"];
                keys_outside(
                    links,
                    &TRACES_TO_LOGS_V2,
                    &format!("{at}.jsonData.tracesToLogsV2"),
                    &mut out,
                );
                if let Some(uid) = links["datasourceUid"].as_str()
                    && !uids.contains(uid)
                {
                    out.push(format!("{at}: trace to logs in {uid}, not provisioned"));
                }
            }
            _ => {}
        }
    }
    out
}

#[test]
fn grafana_provisioning_uses_only_what_grafana_documents() {
    let dir = platform();
    let sources = yaml(
        &dir.path()
            .join("grafana/provisioning/datasources/datasources.yaml"),
    );
    let problems = datasource_problems(&sources);
    assert!(problems.is_empty(), "{problems:#?}");
    let k8s = kubernetes_platform();
    let values = yaml(&k8s.path().join("values/grafana.yaml"));
    let problems = datasource_problems(&values["datasources"]["datasources.yaml"]);
    assert!(problems.is_empty(), "Helm values: {problems:#?}");

    // The OpenSearch data source says the version the platform runs.
    let compose = yaml(&dir.path().join(COMPOSE_FILE));
    let image = compose["services"]["opensearch"]["image"]
        .as_str()
        .expect("image");
    let opensearch = sources["datasources"]
        .as_array()
        .expect("datasources")
        .iter()
        .find(|d| d["uid"] == "opensearch")
        .expect("opensearch");
    assert_eq!(
        Some(opensearch["jsonData"]["version"].as_str().unwrap_or("")),
        image.rsplit(':').next()
    );

    let providers = yaml(
        &dir.path()
            .join("grafana/provisioning/dashboards/dashboards.yaml"),
    );
    assert_eq!(providers["apiVersion"], 1);
    let mut problems = Vec::new();
    for p in providers["providers"].as_array().expect("providers") {
        keys_outside(p, &DASHBOARD_PROVIDER_KEYS, "providers", &mut problems);
        assert_eq!(p["type"], "file");
        // The folder the compose file mounts the dashboards into.
        let path = p["options"]["path"].as_str().expect("options.path");
        let mounts = strings(&compose["services"]["grafana"]["volumes"]);
        assert!(
            mounts
                .iter()
                .any(|m| m.starts_with("./grafana/dashboards:") && m.contains(&format!(":{path}"))),
            "{path} is not where the compose file mounts ./grafana/dashboards: {mounts:?}"
        );
    }
    assert!(problems.is_empty(), "{problems:#?}");
    // Grafana refuses a provisioned dashboard without a title.
    let dashboard: Json = serde_json::from_str(&read(
        &dir.path().join("grafana/dashboards/dapr-overview.json"),
    ))
    .expect("JSON");
    assert!(dashboard["title"].as_str().is_some_and(|t| !t.is_empty()));

    // The same check on a misspelt trace-to-logs setting.
    let broken = read(
        &dir.path()
            .join("grafana/provisioning/datasources/datasources.yaml"),
    )
    .replace("filterByTraceID", "filterByTraceId");
    let (_, doc) = common::parse(&broken);
    let problems = datasource_problems(&common::to_json(&doc));
    assert_eq!(
        problems,
        ["tempo.jsonData.tracesToLogsV2.filterByTraceId"],
        "a misspelt key passed"
    );
}

/// The starter dashboard's queries, evaluated by Prometheus' own engine (`promtool test
/// rules`) over series shaped as daprd exposes them (`app_id`, `method`, `status`, and `le`
/// for the latency histogram) with the `namespace` the scrape job adds (the compose project,
/// or the Kubernetes namespace): two projects' apps both named `orders`, told apart. In
/// `shop`, `ok` and `failed` requests a minute, every one between 50 and 100 ms; in
/// `billing`, fewer, none failed, all under 50 ms.
#[test]
fn the_dashboards_queries_tell_two_projects_apps_of_one_name_apart() {
    let (_, promtool) = tools();
    let dir = platform();
    let dashboard: Json = serde_json::from_str(&read(
        &dir.path().join("grafana/dashboards/dapr-overview.json"),
    ))
    .expect("dashboard is JSON");
    let variables: Vec<&str> = dashboard["templating"]["list"]
        .as_array()
        .expect("variables")
        .iter()
        .filter_map(|v| v["name"].as_str())
        .collect();
    assert_eq!(variables, ["namespace", "app"]);
    let exprs: Vec<String> = dashboard["panels"]
        .as_array()
        .expect("panels")
        .iter()
        .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
        .filter_map(|t| {
            t["expr"]
                .as_str()
                .map(|e| e.replace("$namespace", ".+").replace("$app", ".+"))
        })
        .collect();
    // Per namespace: requests a minute that succeed and fail, and the upper bound of the
    // latency bucket they all fall in.
    let projects = [
        ("shop", 54.0_f64, 6.0_f64, 100.0),
        ("billing", 30.0, 0.0, 50.0),
    ];
    assert_eq!(exprs.len(), 3, "{exprs:?}");

    let series = |ns: &str, name: &str, labels: &str, per_minute: f64| {
        format!(
            "      - series: '{name}{{namespace=\"{ns}\",app_id=\"orders\",method=\"GET\",{labels}}}'\n        values: '0+{per_minute}x10'\n"
        )
    };
    let mut text = String::from(
        "rule_files: []\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n",
    );
    for (ns, ok, failed, bucket) in projects {
        let total = ok + failed;
        text += &series(ns, "dapr_http_server_request_count", "status=\"200\"", ok);
        text += &series(
            ns,
            "dapr_http_server_request_count",
            "status=\"500\"",
            failed,
        );
        for le in ["50", "100", "+Inf"] {
            let count = if le == "+Inf" || le.parse::<f64>().is_ok_and(|l| l >= bucket) {
                total
            } else {
                0.0
            };
            text += &series(
                ns,
                "dapr_http_server_latency_bucket",
                &format!("status=\"200\",le=\"{le}\""),
                count,
            );
        }
    }
    text += "    promql_expr_test:\n";
    for (i, expr) in exprs.iter().enumerate() {
        text += &format!("      - expr: '{expr}'\n        eval_time: 10m\n        exp_samples:\n");
        for (ns, ok, failed, bucket) in projects {
            let total = ok + failed;
            // Request rate, error rate, p95 latency (linear within its bucket).
            let value = [total / 60.0, failed / total, (bucket - 50.0) + 50.0 * 0.95][i];
            text += &format!(
                "          - labels: '{{namespace=\"{ns}\",app_id=\"orders\"}}'\n            value: {value}\n"
            );
        }
    }
    let tests = dir.path().join("dashboard-tests.yml");
    fs::write(&tests, &text).expect("write");
    let (passed, out) = common::outcome(Command::new(promtool).args(["test", "rules"]).arg(&tests));
    assert!(
        passed,
        "the dashboard's queries over daprd's series:\n{out}\n{text}"
    );
}

// The guide's headline, with the real sidecar: the bundled FastAPI example, onboarded, beside
// a real daprd with the generated dapr-config.yml, sending to the real collector.

/// The daprd version tests/platform/daprd.sh builds from Go modules. Onboarding pins
/// `DEFAULT_DAPR_VERSION` (1.18.3), whose dependencies the Go module proxy refuses here; the
/// Configuration obs-init writes (`spec.tracing.samplingRate`, `spec.tracing.otel`) is read
/// the same way by 1.16 (dapr's pkg/config `TracingSpec` and `OtelSpec`).
const TESTED_DAPRD: &str = "1.16.0";

/// daprd, built once by tests/platform/daprd.sh.
fn daprd() -> &'static Path {
    static DAPRD: OnceLock<PathBuf> = OnceLock::new();
    DAPRD.get_or_init(|| {
        let path = PathBuf::from(common::install("platform/daprd.sh").trim());
        let out = Command::new(&path)
            .arg("--version")
            .output()
            .expect("daprd runs");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            TESTED_DAPRD,
            "daprd.sh built another version"
        );
        path
    })
}

/// A copy of the bundled FastAPI example, onboarded by the real binary as the guide says
/// (`--edit-entrypoint` adds `instrument_fastapi(app)` to app/main.py).
fn onboarded_fastapi() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    common::copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/fastapi-app"),
        dir.path(),
    );
    let out = common::obs_init_in(dir.path(), &["--yes", "--edit-entrypoint"]);
    assert!(out.status.success(), "{}", common::printed(&out));
    dir
}

/// The app's own venv: its onboarded requirements.txt installed as its image's
/// `pip install -r requirements.txt` does (cached by tests/e2e/target_venv.sh).
fn app_python(project: &Path) -> PathBuf {
    PathBuf::from(
        common::install_with(
            "e2e/target_venv.sh",
            &[Path::new("python3"), &project.join("requirements.txt")],
        )
        .trim(),
    )
}

/// A compose service's `environment`, as a list of `KEY=VALUE` or a map.
fn environment(service: &Json) -> serde_json::Map<String, Json> {
    match &service["environment"] {
        Json::Object(m) => m.clone(),
        Json::Array(items) => items
            .iter()
            .filter_map(|i| i.as_str()?.split_once('='))
            .map(|(k, v)| (k.to_string(), Json::String(v.to_string())))
            .collect(),
        _ => serde_json::Map::new(),
    }
}

#[test]
fn a_request_through_daprd_is_one_trace_with_its_logs_and_both_metrics_on_the_real_platform() {
    let platform = platform();
    let project = onboarded_fastapi();
    let compose = yaml(&project.path().join("docker-compose.yml"));
    let app = &compose["services"]["api"];
    let sidecar = &compose["services"]["api-dapr"];
    assert_eq!(
        sidecar["image"],
        format!("daprio/daprd:{}", obs_init::plan::DEFAULT_DAPR_VERSION)
    );
    let (_, promtool) = tools();
    let compose_file = project.path().join("docker-compose.yml");
    let resolved = common::oracle::config(
        project.path(),
        &[compose_file.as_path()],
        common::oracle::Profiles::None,
    )
    .expect("Compose resolves the onboarded file");
    let spec = serde_json::json!({
        "collector": collector(),
        "collector_config": platform.path().join("otel-collector.yaml"),
        "opensearch_home": opensearch_home(),
        "prometheus": promtool.with_file_name("prometheus"),
        "prometheus_config": yaml(&platform.path().join("prometheus.yml")),
        "obs_init": assert_cmd::cargo::cargo_bin("obs-init"),
        "daprd": daprd(),
        "app_python": app_python(project.path()),
        "project": project.path(),
        "app_service": "api",
        "app_command": app["command"],
        // As Compose runs it: the namespace is `${COMPOSE_PROJECT_NAME:-...}` in the file.
        "app_env": environment(&resolved["services"]["api"]),
        "sidecar_command": sidecar["command"],
        "dapr_config": project.path().join("dapr-config.yml"),
    });
    let spec_file = project.path().join("headline-spec.json");
    fs::write(&spec_file, spec.to_string()).expect("write");
    let out = Command::new(common::venv_python("requirements.lock"))
        .arg(platform_script("headline_e2e.py"))
        .arg(&spec_file)
        .output()
        .expect("the script runs");
    assert!(
        out.status.success(),
        "headline_e2e.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run: Json = serde_json::from_slice(&out.stdout).expect("one JSON object");
    let brief = {
        let mut r = run.clone();
        r["daprd_log"] = Json::Null;
        r
    };
    eprintln!("seconds into the run: {}", run["timings"]);
    for span in run["trace"].as_array().into_iter().flatten() {
        eprintln!(
            "span {} {} ({}, {}): parent {}",
            span["span_id"], span["name"], span["kind"], span["sdk"], span["parent_span_id"]
        );
    }

    // The request, through daprd to the app.
    assert_eq!(run["invoke"]["status"], 200, "{brief:#}");
    assert!(
        run["invoke"]["body"]
            .as_str()
            .is_some_and(|b| b.contains("shipped")),
        "{brief:#}"
    );

    // One trace: daprd's span its root, the app's server span under it.
    let trace = run["trace"].as_array().expect("trace");
    let by =
        |pred: &dyn Fn(&Json) -> bool| -> Vec<&Json> { trace.iter().filter(|s| pred(s)).collect() };
    let roots = by(&|s| s["parent_span_id"] == "");
    assert_eq!(
        roots.len(),
        1,
        "not one root: {trace:#?}\n{}",
        run["daprd_log"]
    );
    let dapr = roots[0];
    assert_ne!(dapr["sdk"], "python", "the root is not daprd's: {trace:#?}");
    let servers = by(&|s| s["sdk"] == "python" && s["kind"] == "SPAN_KIND_SERVER");
    assert_eq!(servers.len(), 1, "{trace:#?}");
    let server = servers[0];
    assert_eq!(server["path"], "/orders/42");
    assert_eq!(
        server["parent_span_id"], dapr["span_id"],
        "the app's server span is not daprd's child: {trace:#?}"
    );
    // Nothing else: the ASGI instrumentation's span per message sent is left out.
    assert_eq!(trace.len(), 2, "{trace:#?}");

    // The app's log records, in OpenSearch, found by Grafana's query on the trace id.
    let hits = run["opensearch_hits"].as_array().expect("hits");
    let record = hits
        .iter()
        .find(|h| h["message"] == "looking up order 42")
        .unwrap_or_else(|| panic!("the request's log is not found: {brief:#}"));
    assert_eq!(record["traceId"], run["trace_id"]);
    assert_eq!(record["spanId"], server["span_id"]);
    assert_eq!(record["service"], "api");

    // Metrics: the app's through the collector's remote write, daprd's scraped.
    let names = |key: &str| -> BTreeSet<String> {
        run[key]
            .as_array()
            .expect(key)
            .iter()
            .filter_map(|s| s["__name__"].as_str().map(String::from))
            .collect()
    };
    let app_metrics = names("app_series");
    assert!(
        app_metrics.iter().any(|n| n.starts_with("http_server_")),
        "no HTTP server metric from the app: {app_metrics:?}"
    );
    let dapr_metrics = names("dapr_series");
    assert!(
        dapr_metrics.contains("dapr_http_server_request_count"),
        "{dapr_metrics:?}"
    );
    let requests = run["dapr_requests"].as_array().expect("requests");
    assert!(
        requests.iter().any(|s| s["metric"]["app"] == "api"),
        "daprd's request count has no `app` label: {requests:?}"
    );

    // `obs-init verify` against the same stack.
    assert_eq!(run["verify"]["exit"], 0, "{brief:#}");
    let hops: Vec<&str> = run["verify"]["report"]["verify"]["hops"]
        .as_array()
        .expect("hops")
        .iter()
        .map(|h| h["outcome"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(hops, ["ok", "ok", "ok", "ok"]);

    // Broken once: daprd without --config still serves the request, and the request's
    // trace has no span of daprd's.
    let bare = &run["without_config"];
    assert_eq!(bare["status"], 200, "{bare:#}");
    assert!(
        bare["log_trace_id"].as_str().is_some_and(|t| !t.is_empty()),
        "{bare:#}"
    );
    let spans = bare["spans"].as_array().expect("spans");
    assert!(
        spans.iter().all(|s| s["sdk"] == "python"),
        "a daprd span without its Configuration: {bare:#}"
    );
    // daprd passed no trace context on: the app's span starts the trace.
    assert_eq!(bare["app_server_span"]["parent_span_id"], "", "{bare:#}");

    // Broken once: the collector down, verify names its hop.
    let down = &run["collector_down"];
    assert_ne!(down["exit"], 0, "{down:#}");
    let first = &down["report"]["verify"]["hops"][0];
    assert_eq!(first["name"], "collector", "{down:#}");
    assert_eq!(first["outcome"], "failed", "{down:#}");
    assert!(
        first["detail"]
            .as_str()
            .is_some_and(|d| d.contains("nothing listens")),
        "{down:#}"
    );
}

/// A free port on the loopback.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// daprd started alone (no app) with `config`: whether its API answered healthy within
/// 30 s, and what it printed.
fn daprd_with(config: &Path) -> (bool, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let http = free_port();
    let log = dir.path().join("daprd.log");
    let mut child = Command::new(daprd())
        .args(["--app-id", "api", "--config"])
        .arg(config)
        .args(["--dapr-http-port", &http.to_string()])
        .args(["--dapr-grpc-port", &free_port().to_string()])
        .args(["--dapr-internal-grpc-port", &free_port().to_string()])
        .args(["--metrics-port", &free_port().to_string()])
        .args(["--dapr-listen-addresses", "127.0.0.1"])
        .args(["--dapr-internal-grpc-listen-address", "127.0.0.1"])
        .args(["--metrics-listen-address", "127.0.0.1"])
        .arg("--resources-path")
        .arg(dir.path())
        .env_clear()
        .env("HOME", dir.path())
        .stdout(fs::File::create(&log).expect("log"))
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("daprd starts");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut healthy = false;
    while std::time::Instant::now() < deadline {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        let answered = std::net::TcpStream::connect(("127.0.0.1", http)).and_then(|mut s| {
            use std::io::{Read, Write};
            s.write_all(b"GET /v1.0/healthz HTTP/1.0\r\n\r\n")?;
            let mut head = String::new();
            s.read_to_string(&mut head)?;
            Ok(head)
        });
        if answered.is_ok_and(|h| h.starts_with("HTTP/1.0 204") || h.starts_with("HTTP/1.1 204")) {
            healthy = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    let _ = child.kill();
    let _ = child.wait();
    (healthy, read(&log))
}

#[test]
fn daprd_runs_with_the_generated_configuration_and_refuses_an_unknown_tracing_protocol() {
    let project = onboarded_fastapi();
    let config = project.path().join("dapr-config.yml");
    let (healthy, log) = daprd_with(&config);
    assert!(healthy, "daprd did not start with dapr-config.yml:\n{log}");

    let broken = project.path().join("broken-dapr-config.yml");
    let text = read(&config);
    assert_eq!(text.matches("protocol: grpc\n").count(), 1, "{text}");
    fs::write(
        &broken,
        text.replace("protocol: grpc\n", "protocol: grcp\n"),
    )
    .expect("write");
    let (healthy, log) = daprd_with(&broken);
    assert!(!healthy, "daprd accepted protocol grcp:\n{log}");
    assert!(
        log.contains("invalid protocol grcp provided for Otel endpoint"),
        "{log}"
    );
}
