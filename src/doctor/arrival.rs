//! Doctor's part for a project obs-init onboarded: the plan made again from its record, as
//! `--check` makes it, and everything it says keeps telemetry from arriving (code that does
//! not import the module yet, every `action:` printed at onboarding) is a finding until done.

use std::path::Path;

use crate::answers;
use crate::plan::{ConflictPolicy, Options, Status};

use super::finding::{Finding, Severity};

/// The findings for the Kubernetes manifests of `dir`, when obs-init onboarded them: the
/// plan `obs-init kubernetes --check` makes again, and what it says keeps telemetry from
/// arriving. `None` when not onboarded or the plan cannot be made (the checks of the
/// manifests then say why).
pub(super) fn kubernetes_findings(dir: &Path) -> Option<Vec<Finding>> {
    use crate::plan::deployment::Deployment;
    use crate::plan::kubernetes::{KubernetesOptions, KustomizeMode, plan_kubernetes};
    if !Deployment::Kubernetes.onboarded(dir) {
        return None;
    }
    let plan = plan_kubernetes(&KubernetesOptions {
        dir: dir.to_path_buf(),
        files: Vec::new(),
        workloads: Vec::new(),
        collector: crate::kubernetes::CLUSTER_COLLECTOR_ADDRESS.to_string(),
        mode: KustomizeMode::Unset,
        contexts: Vec::new(),
        edit_entrypoint: false,
        // The record's choice is read back by the plan.
        mlflow_otlp: false,
    })
    .ok()?;
    Some(plan.unfinished().into_iter().map(finding).collect())
}

fn finding(w: crate::plan::Waiting) -> Finding {
    Finding {
        severity: Severity::Error,
        file: w.file,
        line: w.line,
        message: match w.service {
            Some(service) => format!("service `{service}`: {}", w.what),
            None => w.what,
        },
        fix: w.fix,
    }
}

/// The findings for the compose file `compose_path` (`file` as the user named it), or
/// `None` when the project has no record to make the plan from, or it cannot be made (the
/// other checks then report why). The second list: manifests lacking the module's packages,
/// for the caller to add unless a more precise finding (a Dagster handler's) names the file.
pub(super) fn findings(
    dir: &Path,
    file: Option<&Path>,
    compose_path: &Path,
) -> Option<(Vec<Finding>, Vec<Finding>)> {
    let recorded = crate::paths::compose_dir(compose_path).join(answers::FILE);
    if !recorded.is_file() && !dir.join(answers::FILE).is_file() {
        return None;
    }
    let opts = Options {
        dir: dir.to_path_buf(),
        file: file.map(Path::to_path_buf),
        services: Vec::new(),
        yes: false,
        app_port: None,
        dapr_version: None,
        dapr_config: None,
        module_path: None,
        frameworks: Vec::new(),
        dagster_home: None,
        fix_invalid: false,
        edit_entrypoint: false,
        on_conflict: ConflictPolicy::Skip,
        overlay: None,
        no_env: false,
        mlflow_otlp: false,
    };
    let plan = crate::plan::plan(&opts, None).ok()?;
    let found: Vec<Finding> = plan.unfinished().into_iter().map(finding).collect();
    // The manifest the image installs, lacking packages the module imports: the image
    // builds without them and the app fails at import.
    let mut manifests = Vec::new();
    for file in plan.files.iter().filter(|f| f.status == Status::Update) {
        let Some(name) = file.path.file_name().map(|n| n.to_string_lossy()) else {
            continue;
        };
        if !(name.ends_with(".txt") || name.ends_with(".in") || name == "pyproject.toml") {
            continue;
        }
        manifests.push(Finding {
            severity: Severity::Error,
            file: file.display.clone(),
            line: None,
            message: format!(
                "{} lacks OpenTelemetry packages that setup_observability.py imports: an \
                 image installing it builds without them, and the app fails at import \
                 (ModuleNotFoundError)",
                file.display
            ),
            fix: "run obs-init again (it adds them; --dry-run shows the lines)".into(),
        });
    }
    Some((found, manifests))
}
