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
use crate::compose::layers::Layers;
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
    // The files Compose reads as one project, in its order: the compose file, the override
    // beside it (without -f), and the overlays obs-init wrote. A service is judged through
    // all of them (a sidecar's command may be in the override, its `--config` in an
    // overlay); each file's own rules in the file.
    let mut paths = vec![compose_path.clone()];
    if file.is_none() {
        paths.extend(crate::compose::overlay::override_files(&compose_path));
    }
    let overlays = compose::overlays(dir, &compose_path);
    paths.extend(overlays.iter().cloned());
    let mut parsed = Vec::new();
    for (i, path) in paths.iter().enumerate() {
        let shown = display(dir, path);
        match crate::compose::parse(&read_text(path)?) {
            Err(e) => findings.push(finding::from_error(&shown, &e)),
            Ok((_, doc)) => parsed.push((i, shown, doc)),
        }
    }
    let layered: Vec<(
        usize,
        &str,
        &crate::yaml::doc::Document,
        &crate::yaml::doc::Node,
    )> = parsed
        .iter()
        .filter_map(|(i, shown, doc)| {
            Some((*i, shown.as_str(), doc, crate::compose::services(doc).ok()?))
        })
        .collect();
    let vars = Vars::for_project(&crate::paths::compose_dir(&compose_path));
    let mut manifests = Vec::new();
    for (this, (i, shown, doc, _)) in layered.iter().enumerate() {
        // An override file holds fragments of services: judged with the compose file.
        let is_override = *i > 0 && !overlays.contains(&paths[*i]);
        if is_override {
            continue;
        }
        let layers = Layers {
            files: layered.iter().map(|(_, _, d, s)| (*d, *s)).collect(),
            this,
        };
        compose::check_compose(
            doc,
            shown,
            &paths[*i],
            &vars,
            &layers,
            &mut findings,
            &mut collector,
        );
        if *i != 0 {
            continue;
        }
        compose::check_sdk_lines(dir, doc, &compose_path, &mut findings)?;
        // Onboarded by obs-init: its own plan says what is still missing (a COPY line
        // among it); else the images are judged from the modules found.
        match arrival::findings(dir, file, &compose_path) {
            Some((missing, lacking)) => {
                findings.extend(missing);
                manifests = lacking;
            }
            None => compose::check_modules_in_images(dir, doc, &compose_path, &mut findings),
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
