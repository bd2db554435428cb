//! References to obs-init's module whose module is not there (removed, or never written
//! beside them): an import of `setup_observability` stops the app at start, and a Dagster
//! handler class `setup_observability.OtelLogHandler` (in an instance template, or any YAML
//! but dagster.yaml itself, which the Dagster check reads) fails every run.

use std::path::Path;

use super::finding::{Finding, Severity};
use crate::paths::display;

/// Every reference in the project under `dir` that no module answers.
pub(super) fn dangling(dir: &Path) -> Vec<Finding> {
    let modules = crate::detect::find_files(dir, crate::python::MODULE_FILE);
    let mut out = Vec::new();
    for path in crate::references::candidates(dir) {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        // The instance file's handlers are the Dagster check's ([`super::project`]).
        if name.as_deref() == Some("dagster.yaml") {
            continue;
        }
        let python = name.as_deref().is_some_and(|n| n.ends_with(".py"));
        for r in crate::references::find(name.as_deref().unwrap_or(""), &text) {
            // The import, or the YAML naming the class: the lines that load the module.
            let loads = if python {
                r.text.starts_with("from ") || r.text.starts_with("import ")
            } else {
                r.text.contains("setup_observability.")
            };
            if !loads || crate::references::resolves(&path, &r.text, &modules, python) {
                continue;
            }
            let shown = display(dir, &path);
            out.push(if python {
                Finding {
                    severity: Severity::Error,
                    file: shown,
                    line: Some(r.line),
                    message: format!(
                        "`{}` imports setup_observability, which is not there: the app stops \
                         at start with ModuleNotFoundError",
                        r.text
                    ),
                    fix: "take out the import and the instrument call, or run obs-init again \
                          to write the module"
                        .into(),
                }
            } else {
                Finding {
                    severity: Severity::Error,
                    file: shown,
                    line: Some(r.line),
                    message: format!(
                        "`{}` names a handler class whose module, setup_observability, is not \
                         there: every Dagster run fails (Unable to configure handler)",
                        r.text
                    ),
                    fix: "take the handler out, or run obs-init again to write the module".into(),
                }
            });
        }
    }
    out
}
