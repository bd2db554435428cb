//! `obs-init platform`: the shared observability stack that onboarded projects connect to.
//!
//! Every file is generated whole from an embedded template, so planning is the same as for
//! `dapr-config.yml`: create what is missing, leave what is equal, and treat a file the team
//! changed as a conflict under the usual `--on-conflict` policy.

use std::path::{Path, PathBuf};

use crate::compose;
use crate::error::Error;
use crate::plan::{self, ConflictPolicy, Plan, Prompter};

/// The compose file of the stack, which `setup.sh` starts.
pub const COMPOSE_FILE: &str = "docker-compose.observability.yml";

/// The hostname and port onboarded projects send OTLP to: the collector's service name in
/// [`COMPOSE_FILE`].
pub const COLLECTOR_SERVICE: &str = "otel-collector";

/// The files written, by path relative to the target directory.
pub const FILES: [(&str, &str); 9] = [
    (
        COMPOSE_FILE,
        include_str!("../templates/platform/docker-compose.observability.yml"),
    ),
    ("setup.sh", include_str!("../templates/platform/setup.sh")),
    (
        "otel-collector.yaml",
        include_str!("../templates/platform/otel-collector.yaml"),
    ),
    (
        "prometheus.yml",
        include_str!("../templates/platform/prometheus.yml"),
    ),
    (
        "tempo.yaml",
        include_str!("../templates/platform/tempo.yaml"),
    ),
    (
        "fluent-bit.yaml",
        include_str!("../templates/platform/fluent-bit.yaml"),
    ),
    (
        "grafana/provisioning/datasources/datasources.yaml",
        include_str!("../templates/platform/grafana/provisioning/datasources/datasources.yaml"),
    ),
    (
        "grafana/provisioning/dashboards/dashboards.yaml",
        include_str!("../templates/platform/grafana/provisioning/dashboards/dashboards.yaml"),
    ),
    (
        "grafana/dashboards/dapr-overview.json",
        include_str!("../templates/platform/grafana/dashboards/dapr-overview.json"),
    ),
];

/// The Kubernetes platform: values files for the official Helm charts, pinned, and the
/// `helmfile.yaml` (or `install.sh`) that installs them into one namespace.
pub const KUBERNETES_FILES: [(&str, &str); 9] = [
    (
        "helmfile.yaml",
        include_str!("../templates/platform-k8s/helmfile.yaml"),
    ),
    (
        "install.sh",
        include_str!("../templates/platform-k8s/install.sh"),
    ),
    (
        "values/opentelemetry-collector.yaml",
        include_str!("../templates/platform-k8s/values/opentelemetry-collector.yaml"),
    ),
    (
        "values/tempo.yaml",
        include_str!("../templates/platform-k8s/values/tempo.yaml"),
    ),
    (
        "values/prometheus.yaml",
        include_str!("../templates/platform-k8s/values/prometheus.yaml"),
    ),
    (
        "values/opensearch.yaml",
        include_str!("../templates/platform-k8s/values/opensearch.yaml"),
    ),
    (
        "values/fluent-bit.yaml",
        include_str!("../templates/platform-k8s/values/fluent-bit.yaml"),
    ),
    (
        "values/grafana.yaml",
        include_str!("../templates/platform-k8s/values/grafana.yaml"),
    ),
    (
        "values/dapr.yaml",
        include_str!("../templates/platform-k8s/values/dapr.yaml"),
    ),
];

/// The namespace the Kubernetes platform is installed into.
pub const KUBERNETES_NAMESPACE: &str = "observability";

/// Where the platform runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Target {
    /// One Docker host: a compose file and setup.sh.
    #[default]
    Compose,
    /// A Kubernetes cluster: the official Helm charts.
    Kubernetes,
}

impl Target {
    /// The files of the platform for this target.
    pub fn files(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Target::Compose => &FILES,
            Target::Kubernetes => &KUBERNETES_FILES,
        }
    }
}

#[derive(Debug, Clone)]
pub struct PlatformOptions {
    /// Where the stack's files go.
    pub dir: PathBuf,
    pub on_conflict: ConflictPolicy,
    pub target: Target,
}

/// Plans the platform's files in `opts.dir`. Writes nothing.
pub fn plan_platform<'p>(
    opts: &PlatformOptions,
    prompter: Option<&mut (dyn Prompter + 'p)>,
) -> Result<Plan, Error> {
    let mut plan = build(&opts.dir, opts.target)?;
    if !plan.conflicts.is_empty()
        && plan::overwrite_conflicts(opts.on_conflict, prompter, &plan.conflicts)?
    {
        plan.overwrite();
    }
    plan::check_inside_dir(&opts.dir, &plan)?;
    Ok(plan)
}

fn build(dir: &Path, target: Target) -> Result<Plan, Error> {
    let mut plan = Plan::empty(dir.join(match target {
        Target::Compose => COMPOSE_FILE,
        Target::Kubernetes => "helmfile.yaml",
    }));
    plan.next_steps = match target {
        Target::Compose => next_steps(dir),
        Target::Kubernetes => kubernetes_next_steps(dir),
    };
    for (rel, template) in target.files() {
        let differs = |_: &str| "it differs from the one obs-init platform writes".to_string();
        let change = plan::generated_change(
            dir,
            &dir.join(rel),
            template.to_string(),
            &mut plan.conflicts,
            differs,
        )?;
        plan.push(change);
    }
    Ok(plan)
}

fn kubernetes_next_steps(dir: &Path) -> Vec<String> {
    let shown = crate::paths::display(Path::new("."), dir);
    vec![
        format!(
            "install it into the {KUBERNETES_NAMESPACE} namespace: cd {shown} && helmfile apply \
             (or ./install.sh, with helm alone)"
        ),
        format!(
            "open Grafana: kubectl -n {KUBERNETES_NAMESPACE} port-forward svc/grafana 3000:80 \
             (user admin; the password is in the Secret grafana)"
        ),
        format!(
            "apps send to {COLLECTOR_SERVICE}.{KUBERNETES_NAMESPACE}.svc.cluster.local:4317 \
             (Dapr: no scheme; the SDK: http://)"
        ),
    ]
}

fn next_steps(dir: &Path) -> Vec<String> {
    let setup = crate::paths::display(Path::new("."), &dir.join("setup.sh"));
    let setup = if setup.starts_with('/') || setup.starts_with('.') {
        setup
    } else {
        format!("./{setup}")
    };
    vec![
        format!(
            "start the platform: {setup} (data folders, the {} network, passwords in .env, then \
             docker compose up)",
            compose::NETWORK
        ),
        "open Grafana at http://localhost:3000 (user admin, password in .env)".into(),
        format!(
            "onboard each project with obs-init: its services join {} and send to {}:4317",
            compose::NETWORK,
            COLLECTOR_SERVICE
        ),
    ]
}
