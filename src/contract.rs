//! What obs-init writes, and how it recognises its own work: each of these facts lives here
//! once, and onboarding, `remove`, `--check` and `doctor` ask this module.

use std::path::{Path, PathBuf};

/// The platform's shared network, created by the platform stack; projects join it as external.
pub const NETWORK: &str = "observability-net";
/// The company convention: host and port, no scheme (Dapr's `endpointAddress` wants it so).
pub const COLLECTOR_ADDRESS: &str = "otel-collector:4317";
/// The standard OTLP endpoint: gRPC needs the `http://` scheme to talk plaintext.
pub const COLLECTOR_URL: &str = "http://otel-collector:4317";
/// The collector's address inside a cluster: the service the Kubernetes platform creates.
pub const CLUSTER_COLLECTOR_ADDRESS: &str = "otel-collector.observability.svc.cluster.local:4317";
/// The name of the Dapr Configuration obs-init writes for Kubernetes, which `dapr.io/config`
/// names.
pub const K8S_CONFIG_NAME: &str = "dapr-config";
/// The file it is written to, beside the manifests.
pub const K8S_CONFIG_FILE: &str = "dapr-config.yaml";
/// Where the sidecar sees the Dapr configuration.
pub const CONFIG_MOUNT: &str = "/config/dapr-config.yml";
/// The Dapr configuration obs-init writes, in the project directory unless `--dapr-config`.
pub const DAPR_CONFIG_FILE: &str = "dapr-config.yml";
/// The label Prometheus' Docker discovery (in `obs-init platform`) finds sidecars by: the
/// port daprd serves metrics on, in the app's network namespace.
pub const METRICS_LABEL: &str = "obs-init.dapr-metrics-port";
pub const METRICS_PORT: &str = "9090";
/// Ports daprd takes in the app's network namespace, with the flag that sets each.
pub const DAPR_PORTS: [(u16, &str); 3] = [
    (3500, "--dapr-http-port"),
    (50001, "--dapr-grpc-port"),
    (9090, "--metrics-port"),
];
/// Newest daprd release checked against the design notes' facts.
pub const DEFAULT_DAPR_VERSION: &str = "1.18.3";
/// The Python module obs-init generates.
pub const MODULE_FILE: &str = "setup_observability.py";

/// Where the app's code starts, by what it runs: the module goes beside the first found.
pub const WEB_ENTRY_POINTS: &[&str] = &["main.py", "app.py", "wsgi.py", "__main__.py"];
/// Folders of installed, built or cached code: never scanned for evidence or entry points.
pub const VENDORED_DIRS: &[&str] = &[
    "node_modules",
    ".venv",
    "venv",
    "env",
    "target",
    "build",
    "dist",
    "__pycache__",
    "site-packages",
    ".tox",
];
/// Folders of a project that hold code, but not the app's entry point.
pub const NON_APP_DIRS: &[&str] = &["tests", "test", "migrations", "docs"];

/// The Dapr configuration's path when `--dapr-config` is not given.
pub fn default_dapr_config(dir: &Path) -> PathBuf {
    dir.join(DAPR_CONFIG_FILE)
}

pub fn sidecar_name(service: &str) -> String {
    format!("{service}-dapr")
}

/// The `network_mode` of `app`'s sidecar.
pub fn sidecar_network_mode(app: &str) -> String {
    format!("service:{app}")
}

/// The app whose namespace a `network_mode` shares (`service:app`).
pub fn shared_namespace(mode: &str) -> Option<&str> {
    mode.strip_prefix("service:")
}

/// The Dapr app id for a service: its name, with the dots daprd rejects in self-hosted mode
/// (`parameter app-id cannot contain dots`) turned into dashes.
pub fn app_id(service: &str) -> String {
    service.replace('.', "-")
}

pub fn daprd_image(version: &str) -> String {
    format!("daprio/daprd:{version}")
}

pub fn is_daprd_image(image: &str) -> bool {
    image.contains("daprio/daprd") || image.starts_with("daprd")
}

/// The command obs-init starts its sidecar of `app` with: the app id, the port it calls the
/// app on when known, daprd's ports pinned, metrics on, and the tracing configuration.
pub fn sidecar_command(app: &str, app_port: Option<u16>) -> Vec<String> {
    let mut cmd = vec!["./daprd".to_string(), "--app-id".into(), app_id(app)];
    if let Some(p) = app_port {
        cmd.extend(["--app-port".to_string(), p.to_string()]);
    }
    cmd.extend(sidecar_tail());
    cmd
}

/// What every sidecar obs-init writes ends with.
fn sidecar_tail() -> Vec<String> {
    let mut tail: Vec<String> = DAPR_PORTS
        .iter()
        .flat_map(|(port, flag)| [flag.to_string(), port.to_string()])
        .collect();
    tail.extend([
        "--enable-metrics=true".to_string(),
        "--config".into(),
        CONFIG_MOUNT.into(),
    ]);
    tail
}

/// Whether a service is obs-init's sidecar of `app`: daprd in the app's network namespace,
/// loading the configuration from where obs-init mounts it, with no flag obs-init never
/// writes. A project's own sidecar that obs-init gave `--config` keeps the project's flags
/// (placement, components, ...), so it is not taken for obs-init's.
pub fn is_our_sidecar(
    app: &str,
    image: Option<&str>,
    mode: Option<&str>,
    command: &[&str],
) -> bool {
    let written = sidecar_command(app, Some(0));
    let ours_flag = |w: &str| written.iter().any(|o| o.starts_with('-') && o == w);
    image.is_some_and(is_daprd_image)
        && mode == Some(sidecar_network_mode(app).as_str())
        && command
            .windows(2)
            .any(|w| w[0] == "--config" && w[1] == CONFIG_MOUNT)
        && command
            .iter()
            .filter(|w| w.starts_with('-'))
            .all(|w| ours_flag(w))
}

/// The variables onboarding sets on every app, with their values: `namespace` is what
/// tells two projects' services of one name apart on the shared platform (see
/// [`compose_namespace`]; in a cluster, the workload's namespace).
pub fn app_env(service: &str, namespace: &str) -> Vec<(String, String)> {
    [
        ("OTEL_COLLECTOR_ENDPOINT", COLLECTOR_ADDRESS),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", COLLECTOR_URL),
        ("OTEL_SERVICE_NAME", service),
        (RESOURCE_ATTRIBUTES, &namespace_attribute(namespace)),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// What a workload's framework changes in the variables onboarding sets on it: more of
/// them, and common ones it must not get (MLflow before 3.4 exports its traces to
/// `OTEL_EXPORTER_OTLP_ENDPOINT` instead of its server).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FrameworkEnv {
    pub add: Vec<(String, String)>,
    pub withheld: Vec<String>,
}

impl FrameworkEnv {
    /// `common` without the withheld variables, then the added ones.
    pub fn apply(&self, common: Vec<(String, String)>) -> Vec<(String, String)> {
        let mut vars = common;
        vars.retain(|(k, _)| !self.withheld.contains(k));
        vars.extend(self.add.iter().cloned());
        vars
    }
}

/// The variable every OpenTelemetry SDK reads resource attributes from (`k=v,k=v`). The
/// generated module, Dagster's handler and zero-code instrumentation all build their
/// resource with `Resource.create`, which reads it.
pub const RESOURCE_ATTRIBUTES: &str = "OTEL_RESOURCE_ATTRIBUTES";
/// The resource attribute that groups services: the compose project or the Kubernetes
/// namespace.
pub const NAMESPACE_ATTRIBUTE: &str = "service.namespace";

/// The variable a pod's app container gets its own namespace in, from the downward API
/// (`valueFrom.fieldRef`), for [`RESOURCE_ATTRIBUTES`] to name as `$(...)`: Kubernetes
/// expands a `$(VAR)` in a value from the variables listed before it. So one base
/// manifest built into several namespaces (kustomize overlays, `kubectl -n`) names each.
pub const K8S_NAMESPACE_VAR: &str = "OBS_INIT_NAMESPACE";
/// The pod field it is read from.
pub const K8S_NAMESPACE_FIELD: &str = "metadata.namespace";

/// `service.namespace=<namespace>`, as [`RESOURCE_ATTRIBUTES`] lists it.
pub fn namespace_attribute(namespace: &str) -> String {
    format!("{NAMESPACE_ATTRIBUTE}={namespace}")
}

/// The namespace as a compose file writes it: the real Compose (checked with 2.40) puts the
/// project's name in `COMPOSE_PROJECT_NAME` for interpolation whatever set it (`-p`, the
/// variable, `name:`, or the directory), so another checkout's folder name or a `-p` still
/// gives the right value; `project` (what obs-init found) is the default for tools that do
/// not.
pub fn compose_namespace(project: Option<&str>) -> String {
    match project {
        Some(p) if !p.is_empty() => format!("${{COMPOSE_PROJECT_NAME:-{p}}}"),
        _ => "${COMPOSE_PROJECT_NAME}".to_string(),
    }
}

/// Whether `value` is a namespace as [`compose_namespace`] writes it.
fn is_compose_namespace(value: &str) -> bool {
    value == "${COMPOSE_PROJECT_NAME}"
        || value
            .strip_prefix("${COMPOSE_PROJECT_NAME:-")
            .and_then(|r| r.strip_suffix('}'))
            .is_some_and(|p| !p.is_empty() && p.bytes().all(is_project_name_byte))
}

/// Compose's own rule for a project name from a folder or `name:` (compose-go's
/// `NormalizeProjectName`): lower case, only `[a-z0-9_-]` kept, no leading `_` or `-`.
pub fn normalize_project_name(name: &str) -> String {
    let kept: String = name
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii() && is_project_name_byte(*c as u8))
        .collect();
    kept.trim_start_matches(['_', '-']).to_string()
}

fn is_project_name_byte(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-'
}

/// Whether a [`RESOURCE_ATTRIBUTES`] value names a `service.namespace` already (the
/// project's own choice, which stays).
pub fn names_namespace(attributes: &str) -> bool {
    attributes
        .split(',')
        .filter_map(|kv| kv.split_once('='))
        .any(|(k, _)| k.trim() == NAMESPACE_ATTRIBUTE)
}

/// What goes after a project's own [`RESOURCE_ATTRIBUTES`] to add the namespace to it:
/// `None` when it names one already. An empty value takes the attribute alone.
pub fn namespace_tail(attributes: &str, namespace: &str) -> Option<String> {
    if names_namespace(attributes) {
        return None;
    }
    let sep = if attributes.trim().is_empty() {
        ""
    } else {
        ","
    };
    Some(format!("{sep}{}", namespace_attribute(namespace)))
}

/// Whether `value` of `key` is one onboarding writes: its own value, or, for
/// [`RESOURCE_ATTRIBUTES`], any compose namespace, alone or after the project's attributes
/// (a base's value carried into the service's own `environment`).
pub fn is_onboarding_value(service: &str, key: &str, value: &str) -> bool {
    if key == RESOURCE_ATTRIBUTES {
        let attr = format!("{NAMESPACE_ATTRIBUTE}=");
        let ns = value
            .strip_prefix(&attr)
            .or_else(|| value.rsplit_once(&format!(",{attr}")).map(|(_, ns)| ns));
        return ns.is_some_and(is_compose_namespace);
    }
    every_env(service)
        .iter()
        .any(|(k, v)| k == key && v == value)
}

/// The tail onboarding appended to a project's own [`RESOURCE_ATTRIBUTES`] in a compose
/// file, when `value` ends with one.
pub fn appended_namespace(value: &str) -> Option<&str> {
    let at = value.rfind(&format!(",{NAMESPACE_ATTRIBUTE}="))?;
    let tail = &value[at..];
    is_compose_namespace(&tail[NAMESPACE_ATTRIBUTE.len() + 2..]).then_some(tail)
}

/// What an MLflow app needs on top: MLflow exports traces over OTLP only when told where,
/// and dual export keeps them in the MLflow server too (by default OTLP replaces it).
pub fn mlflow_env() -> Vec<(String, String)> {
    mlflow_env_at(COLLECTOR_URL)
}

/// [`mlflow_env`] for the collector at `url` (`http://host:port`): in a cluster, its
/// service's address.
pub fn mlflow_env_at(url: &str) -> Vec<(String, String)> {
    mlflow_env_at_for(url, crate::deps::MlflowOtlp::Dual)
}

/// [`mlflow_env`] for an MLflow release that does `otlp` with the variables: dual export
/// only where it exists (before 3.4 MLflow does not know the variable).
pub fn mlflow_env_for(otlp: crate::deps::MlflowOtlp) -> Vec<(String, String)> {
    mlflow_env_at_for(COLLECTOR_URL, otlp)
}

/// [`mlflow_env_for`] for the collector at `url`.
pub fn mlflow_env_at_for(url: &str, otlp: crate::deps::MlflowOtlp) -> Vec<(String, String)> {
    let mut vars = vec![
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", url),
        ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc"),
    ];
    if otlp == crate::deps::MlflowOtlp::Dual {
        vars.push(("MLFLOW_TRACE_ENABLE_OTLP_DUAL_EXPORT", "true"));
    }
    vars.into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The variable that puts `dir` (a container path) on `sys.path`, for Dagster's processes
/// to import the log handler's module before they load the code location.
pub fn import_env(dir: &str) -> (String, String) {
    ("PYTHONPATH".to_string(), dir.to_string())
}

/// Every variable onboarding may have set on `service`, for taking them back.
pub fn every_env(service: &str) -> Vec<(String, String)> {
    let mut all = app_env(service, "");
    all.extend(mlflow_env());
    all
}

/// The one checksum rule: how obs-init recognises a file (or the body of its module) it
/// wrote and nobody changed since.
pub use crate::record::checksum;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_project_name_is_normalised_as_compose_go_does() {
        // Checked against docker compose 2.40.3: `My.Proj_Dir` is the project `myproj_dir`.
        assert_eq!(normalize_project_name("My.Proj_Dir"), "myproj_dir");
        assert_eq!(normalize_project_name("_-Shop 2"), "shop2");
        assert_eq!(normalize_project_name("Café-api"), "caf-api");
        assert_eq!(normalize_project_name("..."), "");
    }

    #[test]
    fn the_namespace_goes_after_a_projects_own_attributes_unless_it_names_one() {
        let ns = compose_namespace(Some("shop"));
        assert_eq!(ns, "${COMPOSE_PROJECT_NAME:-shop}");
        assert_eq!(
            namespace_tail("team=a", &ns).as_deref(),
            Some(",service.namespace=${COMPOSE_PROJECT_NAME:-shop}")
        );
        assert_eq!(
            namespace_tail("", "prod").as_deref(),
            Some("service.namespace=prod")
        );
        assert_eq!(namespace_tail("a=1, service.namespace=x", &ns), None);
        let merged = "team=a,service.namespace=${COMPOSE_PROJECT_NAME:-shop}";
        assert_eq!(
            appended_namespace(merged),
            Some(",service.namespace=${COMPOSE_PROJECT_NAME:-shop}")
        );
        assert_eq!(appended_namespace("team=a,service.namespace=shop"), None);
        assert!(is_onboarding_value(
            "api",
            RESOURCE_ATTRIBUTES,
            "service.namespace=${COMPOSE_PROJECT_NAME:-other}"
        ));
        assert!(!is_onboarding_value(
            "api",
            RESOURCE_ATTRIBUTES,
            "service.namespace=billing"
        ));
    }

    #[test]
    fn only_daprd_in_the_apps_namespace_with_our_config_is_ours() {
        let written = sidecar_command("api", Some(8000));
        let cmd: Vec<&str> = written.iter().map(String::as_str).collect();
        let image = Some("daprio/daprd:1.18.3");
        assert!(is_our_sidecar("api", image, Some("service:api"), &cmd));
        assert!(!is_our_sidecar("api", image, Some("service:web"), &cmd));
        assert!(!is_our_sidecar(
            "api",
            Some("redis"),
            Some("service:api"),
            &cmd
        ));
        let other = ["./daprd", "--config", "/other.yml"];
        assert!(!is_our_sidecar("api", image, Some("service:api"), &other));
        // The project's own sidecar, given obs-init's --config: adopted, not obs-init's.
        let adopted = [
            "./daprd",
            "--app-id",
            "api",
            "--placement-host-address",
            "placement:50006",
            "--config",
            CONFIG_MOUNT,
        ];
        assert!(!is_our_sidecar("api", image, Some("service:api"), &adopted));
    }
}
