//! `obs-init doctor`: checks the project as it is now, whoever wrote it, against the rules
//! that make telemetry arrive (DESIGN.md's facts). Every finding names a file, a line where
//! there is one, and the fix. A part per kind of file: compose, Kubernetes manifests, and the
//! project's own (the Dapr configuration, modules, Dagster, locks).

mod arrival;
mod compose;
mod finding;
mod kubernetes;
mod project;
mod references;

use std::path::Path;

use crate::compose::interpolate::Vars;
use crate::error::Error;
use crate::files::read_text;
use crate::paths::display;
use crate::plan::deployment::Deployment;
use crate::plan::find_compose;

pub use compose::project_endpoint;
pub use finding::{DoctorOptions, Finding, Severity};

/// Checks the project in `dir` (compose file `file`, or the discovered one).
pub fn diagnose(
    dir: &Path,
    file: Option<&Path>,
    opts: &DoctorOptions,
) -> Result<Vec<Finding>, Error> {
    let mut findings = Vec::new();
    let mut collector = None;
    // A project of Kubernetes manifests (alone or beside a compose file) is checked too.
    let manifests = Deployment::Kubernetes.present(dir, file);
    if manifests {
        findings.extend(kubernetes::diagnose(dir));
        findings.extend(arrival::kubernetes_findings(dir).unwrap_or_default());
    }
    findings.extend(references::dangling(dir));
    let compose_path = match find_compose(dir, file) {
        Ok(path) => path,
        Err(Error::NoComposeFile { .. }) if manifests => {
            return project::project(dir, opts, findings, collector);
        }
        Err(e) => return Err(e),
    };
    let shown = display(dir, &compose_path);
    let content = read_text(&compose_path)?;
    let mut manifests = Vec::new();
    match crate::compose::parse(&content) {
        Err(e) => findings.push(finding::from_error(&shown, &e)),
        Ok((_, doc)) => {
            compose::check_compose(
                &doc,
                &shown,
                &compose_path,
                &Vars::for_project(&crate::paths::compose_dir(&compose_path)),
                &mut findings,
                &mut collector,
            );
            compose::check_sdk_lines(dir, &doc, &compose_path, &mut findings)?;
            // Onboarded by obs-init: its own plan says what is still missing (a COPY line
            // among it); else the images are judged from the modules found.
            match arrival::findings(dir, file, &compose_path) {
                Some((missing, lacking)) => {
                    findings.extend(missing);
                    manifests = lacking;
                }
                None => compose::check_modules_in_images(dir, &doc, &compose_path, &mut findings),
            }
        }
    }
    // An overlay obs-init wrote holds the sidecars and the apps' additions: it is checked
    // the same way (Compose merges it over the compose file).
    for overlay in compose::overlays(dir, &compose_path) {
        let shown = display(dir, &overlay);
        let text = read_text(&overlay)?;
        match crate::compose::parse(&text) {
            Err(e) => findings.push(finding::from_error(&shown, &e)),
            Ok((_, doc)) => compose::check_compose(
                &doc,
                &shown,
                &overlay,
                &Vars::for_project(&crate::paths::compose_dir(&compose_path)),
                &mut findings,
                &mut collector,
            ),
        }
    }
    let mut findings = project::project(dir, opts, findings, collector)?;
    for lacking in manifests {
        if !findings.iter().any(|f| f.message.contains(&lacking.file)) {
            findings.push(lacking);
        }
    }
    Ok(findings)
}
