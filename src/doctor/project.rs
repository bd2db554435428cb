//! Doctor's part for what is not a deployment file: the Dapr configuration, the generated
//! modules, Dagster's instance files, the locks, and the collector with --connect.

use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::time::Duration;

use crate::compose::COLLECTOR_ADDRESS;
use crate::contract;
use crate::error::{Error, Refusal};
use crate::files::read_text;
use crate::paths::display;
use crate::{dagster, detect, python};

use super::compose::check_handler_packages;
use super::finding::{DoctorOptions, Finding, Severity, from_error};

/// The checks of what is not the compose file: the Dapr configuration, the generated
/// modules, Dagster's instance files, the locks, and the collector with --connect.
pub(super) fn project(
    dir: &Path,
    opts: &DoctorOptions,
    mut findings: Vec<Finding>,
    collector: Option<String>,
) -> Result<Vec<Finding>, Error> {
    let config = opts
        .dapr_config
        .clone()
        .unwrap_or_else(|| contract::default_dapr_config(dir));
    if let Ok(text) = std::fs::read_to_string(&config) {
        check_dapr_config(&text, &display(dir, &config), &mut findings);
    }
    let modules = detect::find_files(dir, python::MODULE_FILE);
    for module in &modules {
        let text = read_text(module)?;
        check_module(&text, &display(dir, module), &mut findings);
    }
    for yaml in detect::find_files(dir, "dagster.yaml") {
        let text = read_text(&yaml)?;
        if let Err(e @ (Refusal::InvalidDagsterTelemetry { .. } | Refusal::Syntax { .. })) =
            dagster::configure(&text, "x.OtelLogHandler", false)
        {
            findings.push(from_error(&display(dir, &yaml), &e));
        }
        check_handler_modules(dir, &modules, &display(dir, &yaml), &text, &mut findings);
    }
    for manifest in detect::find_files_named(dir, &["pyproject.toml", "requirements.in"]) {
        check_locks(dir, &manifest, &mut findings)?;
    }
    if opts.connect {
        let target = opts
            .collector
            .clone()
            .or(collector)
            .unwrap_or_else(|| COLLECTOR_ADDRESS.to_string());
        if let Some(f) = connect(&target) {
            findings.push(f);
        }
    }
    Ok(findings)
}

/// A lock that does not pin the OpenTelemetry packages its manifest asks for: the image's
/// install refuses it (`poetry install`, `uv sync --locked`) or leaves them out (pip-tools).
pub(super) fn check_locks(
    dir: &Path,
    manifest: &Path,
    findings: &mut Vec<Finding>,
) -> Result<(), Error> {
    let text = read_text(manifest)?;
    let ours: Vec<String> = crate::deps::manifest_names(manifest, &text)
        .into_iter()
        .filter(|n| crate::deps::is_ours(n))
        .collect();
    if ours.is_empty() {
        return Ok(());
    }
    for r in crate::lock::needed(manifest, false, &ours) {
        findings.push(Finding {
            severity: Severity::Error,
            file: display(dir, &r.lock),
            line: None,
            message: format!(
                "{} does not lock {}, which {} asks for: installing from the lock fails or \
                 leaves them out",
                display(dir, &r.lock),
                r.missing.join(", "),
                display(dir, manifest)
            ),
            fix: format!(
                "run `{}` in {} (it keeps every other pin)",
                r.command_line(),
                display(dir, &r.dir)
            ),
        });
    }
    Ok(())
}

/// A dagster.yaml handler whose class names a module of this project that is not there:
/// Dagster then fails every run (`Unable to configure handler`). Classes of installed
/// packages (`logging.StreamHandler`, a library's) are not judged.
/// `modules`: the project's generated modules.
pub(super) fn check_handler_modules(
    root: &Path,
    modules: &[std::path::PathBuf],
    file: &str,
    text: &str,
    findings: &mut Vec<Finding>,
) {
    let stem = python::MODULE_FILE.trim_end_matches(".py");
    for (key, class, line) in dagster::handler_classes(text) {
        let Some((module, _)) = class.rsplit_once('.') else {
            continue;
        };
        if module.rsplit('.').next() != Some(stem) {
            continue;
        }
        let wanted = format!("{}.py", module.replace('.', "/"));
        let found = modules
            .iter()
            .find(|p| p.to_string_lossy().replace('\\', "/").ends_with(&wanted));
        if let Some(found) = found {
            check_handler_packages(root, found, &key, line, file, findings);
        } else {
            findings.push(Finding {
                severity: Severity::Error,
                file: file.to_string(),
                line: Some(line),
                message: format!(
                    "handler `{key}` names `{class}`, but the project has no {wanted}: every \
                     Dagster run fails with `Unable to configure handler '{key}'`"
                ),
                fix: "run obs-init for the Dagster services (with --module-path at the code \
                      location if it is not found), or remove the handler"
                    .into(),
            });
        }
    }
}

pub(super) fn check_dapr_config(text: &str, file: &str, findings: &mut Vec<Finding>) {
    if let Err(problem) = crate::dapr::check_config(text) {
        findings.push(Finding {
            severity: Severity::Error,
            file: file.to_string(),
            line: None,
            message: problem,
            fix: "run `obs-init --on-conflict overwrite` to write a working one".into(),
        });
    }
    match crate::dapr::sampling_rate(text) {
        Some(rate) if rate <= 0.0 => findings.push(Finding {
            severity: Severity::Error,
            file: file.to_string(),
            line: None,
            message: format!("spec.tracing.samplingRate is {rate}: no trace is sampled"),
            fix: "set samplingRate: \"1\" (every request), or a fraction above 0".into(),
        }),
        None => findings.push(Finding {
            severity: Severity::Warning,
            file: file.to_string(),
            line: None,
            message: "spec.tracing.samplingRate is not set: Dapr samples 1 in 10,000".into(),
            fix: "set samplingRate: \"1\"".into(),
        }),
        Some(_) => {}
    }
}

/// Imports the company guide used, which no OpenTelemetry release has had, or which are
/// deprecated.
const BAD_IMPORTS: [(&str, &str); 3] = [
    (
        "opentelemetry.sdk.logs",
        "use opentelemetry.sdk._logs (the log SDK is still underscored)",
    ),
    (
        "otlp.proto.grpc.log_exporter",
        "use opentelemetry.exporter.otlp.proto.grpc._log_exporter",
    ),
    (
        "from opentelemetry.sdk._logs import LoggingHandler",
        "use opentelemetry.instrumentation.logging.handler.LoggingHandler (the SDK's is deprecated)",
    ),
];

pub(super) fn check_module(text: &str, file: &str, findings: &mut Vec<Finding>) {
    // The block an indented line is in: the last line above it indented less.
    let mut opener: Vec<(usize, &str)> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let code = line.trim_start();
        if code.is_empty() || code.starts_with('#') {
            continue;
        }
        let indent = line.len() - code.len();
        while opener.last().is_some_and(|(at, _)| *at >= indent) {
            opener.pop();
        }
        // An import in `except ImportError:` is the fallback for when the one above fails.
        let fallback = opener.last().is_some_and(|(_, o)| {
            o.starts_with("except") && (o.contains("ImportError") || o.contains("ModuleNotFound"))
        });
        opener.push((indent, code));
        if fallback || !(code.starts_with("import ") || code.starts_with("from ")) {
            continue;
        }
        for (bad, fix) in BAD_IMPORTS {
            if code.contains(bad) {
                findings.push(Finding {
                    severity: Severity::Error,
                    file: file.to_string(),
                    line: Some(i + 1),
                    message: format!("`{}` fails on current OpenTelemetry", code.trim_end()),
                    fix: fix.to_string(),
                });
            }
        }
    }
}

/// Tries a TCP connection to `target` (`host:port`), two seconds at most.
pub(super) fn connect(target: &str) -> Option<Finding> {
    let finding = |message: String, fix: &str| Finding {
        severity: Severity::Error,
        file: target.to_string(),
        line: None,
        message,
        fix: fix.to_string(),
    };
    let addrs: Vec<_> = match target.to_socket_addrs() {
        Ok(a) => a.collect(),
        Err(e) => {
            return Some(finding(
                format!("cannot resolve the collector {target}: {e}"),
                "run this inside a container on observability-net, or pass --collector HOST:PORT",
            ));
        }
    };
    let reached = addrs
        .iter()
        .any(|a| TcpStream::connect_timeout(a, Duration::from_secs(2)).is_ok());
    (!reached).then(|| {
        finding(
            format!("no answer from the collector at {target}"),
            "start the platform stack (and create observability-net), or check the address",
        )
    })
}
