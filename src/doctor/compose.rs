//! Doctor's part for compose files (and the overlays obs-init wrote beside them): the rules
//! of Compose and of the sidecars that make telemetry arrive.

use std::path::Path;

use crate::compose::find_compose;
use crate::compose::inherit;
use crate::compose::interpolate::{Vars, interpolate};
use crate::compose::layers::Layers;
use crate::compose::{self, CONFIG_MOUNT, METRICS_LABEL, METRICS_PORT, NETWORK};
use crate::contract;
use crate::error::Error;
use crate::files::read_text;
use crate::paths::display;
use crate::yaml::doc::{Document, Kind, Node};
use crate::yaml::model::{Data, Value};

use super::finding::{Finding, Severity};

/// The collector endpoint the project's services send to, with the variable that says so
/// and whether their exporter opens TLS there: `OTEL_COLLECTOR_ENDPOINT` (the generated
/// module's, plaintext unless `https://`), else `OTEL_EXPORTER_OTLP_ENDPOINT` (the standard
/// one, where a missing scheme means TLS for gRPC). Read from the compose file and its
/// overlays, `${VAR}`s resolved as Compose would.
pub fn project_endpoint(
    dir: &Path,
    file: Option<&Path>,
) -> Result<Option<(String, String, bool)>, Error> {
    let compose_path = find_compose(dir, file)?;
    let vars = Vars::for_project(&crate::paths::compose_dir(&compose_path));
    let resolved = |s: &str| interpolate(s, &vars).unwrap_or_else(|_| s.to_string());
    let mut files = vec![compose_path.clone()];
    files.extend(overlays(dir, &compose_path));
    let mut standard = None;
    for path in files.iter().rev() {
        let Ok((_, doc)) = compose::parse(&read_text(path)?) else {
            continue;
        };
        let Ok(services) = compose::services(&doc) else {
            continue;
        };
        for (_, svc) in services.entries().unwrap_or_default() {
            let svc = doc.resolve(svc);
            for (var, value) in env_vars(inherit::lookup(&doc, svc, "environment"), &resolved) {
                if var == "OTEL_COLLECTOR_ENDPOINT" {
                    let tls = value.starts_with("https://");
                    return Ok(Some((value, var, tls)));
                }
                if var == "OTEL_EXPORTER_OTLP_ENDPOINT" && standard.is_none() {
                    let tls = value.starts_with("https://") || !value.contains("://");
                    standard = Some((value, var, tls));
                }
            }
        }
    }
    Ok(standard)
}

/// The overlays Compose loads with the compose file: the one the answers file records, and
/// those `.env`'s `COMPOSE_FILE` lists that obs-init wrote.
pub(super) fn overlays(dir: &Path, compose_path: &Path) -> Vec<std::path::PathBuf> {
    let compose_dir = crate::paths::compose_dir(compose_path);
    let mut found = Vec::new();
    let recorded = crate::plan::read_answers(dir)
        .ok()
        .flatten()
        .and_then(|(a, _)| {
            a.compose(&display(dir, compose_path))
                .and_then(|c| c.overlay.clone())
        });
    found.extend(recorded.map(|o| dir.join(o)));
    let listed = std::fs::read_to_string(compose_dir.join(".env"))
        .ok()
        .and_then(|t| crate::dotenv::compose_files(&t))
        .unwrap_or_default();
    for file in listed {
        let path = compose_dir.join(file);
        let ours = std::fs::read_to_string(&path).is_ok_and(|t| compose::overlay::is_overlay(&t));
        if ours
            && !found
                .iter()
                .any(|f| crate::paths::absolute(f) == crate::paths::absolute(&path))
        {
            found.push(path);
        }
    }
    found.retain(|p| p.is_file());
    found
}

/// The dependency file nearest the handler's module (its folder, then up to the project
/// root) must list the packages the module imports: without them the handler cannot be
/// configured and every run fails.
pub(super) fn check_handler_packages(
    root: &Path,
    module: &Path,
    key: &str,
    line: usize,
    file: &str,
    findings: &mut Vec<Finding>,
) {
    let manifest = crate::deps::first_manifest(
        module
            .ancestors()
            .skip(1)
            .take_while(|d| d.starts_with(root)),
    );
    let Some(manifest) = manifest else { return };
    let Ok(text) = std::fs::read_to_string(&manifest) else {
        return;
    };
    let listed = crate::deps::manifest_names(&manifest, &text);
    let missing: Vec<&str> = crate::deps::BASE[..2]
        .iter()
        .map(|r| r.name)
        .filter(|n| !listed.contains(&crate::deps::normalize(n)))
        .collect();
    if missing.is_empty() {
        return;
    }
    findings.push(Finding {
        severity: Severity::Error,
        file: file.to_string(),
        line: Some(line),
        message: format!(
            "handler `{key}` imports {}, whose packages {} does not list ({}): every Dagster \
             run fails with `Unable to configure handler '{key}'` in an image built from it",
            display(root, module),
            display(root, &manifest),
            missing.join(", ")
        ),
        fix: format!(
            "run obs-init for the Dagster services, or add {} to {}",
            missing.join(", "),
            display(root, &manifest)
        ),
    });
}

/// A dependency file asking for an OpenTelemetry SDK newer than any release for the Python
/// of the image it is installed into: `pip install` fails in `docker build`.
pub(super) fn check_sdk_lines(
    dir: &Path,
    doc: &Document,
    compose_path: &Path,
    findings: &mut Vec<Finding>,
) -> Result<(), Error> {
    let mut seen = Vec::new();
    for (name, info, context) in built_services(doc, compose_path) {
        let Some(python) = crate::interpreter::detect(
            &context,
            info.dockerfile.as_deref(),
            info.target.as_deref(),
            info.image.as_deref(),
        ) else {
            continue;
        };
        let manifest = crate::deps::first_manifest([context.as_path(), dir]);
        let Some(manifest) = manifest else { continue };
        if seen.contains(&(manifest.clone(), python.version)) {
            continue;
        }
        seen.push((manifest.clone(), python.version));
        let text = read_text(&manifest)?;
        let Some((asked, line)) =
            crate::deps::lowest_version(&manifest, &text, "opentelemetry-sdk")
        else {
            continue;
        };
        let newest_line = &crate::deps::LINES[0];
        let (newest, fix) = match crate::deps::line_for(Some(python.version)) {
            Some(l) if asked <= l.newest() => continue,
            Some(l) => (
                format!("the newest release for it is {}", l.newest_sdk),
                format!(
                    "ask for `{}` there (what obs-init writes for Python {}), or build the \
                     image on Python {} or newer",
                    l.sdk.spec(),
                    python.version,
                    newest_line.python
                ),
            ),
            None => (
                "no release supports it".to_string(),
                format!(
                    "build the image on Python {} or newer",
                    crate::deps::LINES[2].python
                ),
            ),
        };
        findings.push(Finding {
            severity: Severity::Error,
            file: display(dir, &manifest),
            line: Some(line),
            message: format!(
                "{} asks for opentelemetry-sdk {asked} or newer, but service `{name}` runs \
                 Python {} ({}) and {newest}: `pip install` fails in `docker build`",
                display(dir, &manifest),
                python.version,
                python.source
            ),
            fix,
        });
    }
    Ok(())
}

pub(super) fn check_compose(
    doc: &Document,
    file: &str,
    compose_path: &Path,
    vars: &Vars,
    layers: &Layers,
    findings: &mut Vec<Finding>,
    collector: &mut Option<String>,
) {
    let mut add = |severity, line: usize, message: String, fix: &str| {
        findings.push(Finding {
            severity,
            file: file.to_string(),
            line: Some(line),
            message,
            fix: fix.to_string(),
        })
    };
    let Ok(services) = compose::services(doc) else {
        return;
    };
    let root = doc.root.as_ref().expect("services() checked the root");
    let names = compose::service_names(services);
    let declared: Vec<(String, &Node, usize)> = root
        .get("networks")
        .and_then(Node::entries)
        .unwrap_or_default()
        .iter()
        .filter_map(|(k, v)| {
            k.as_str()
                .map(|name| (name.to_string(), v, k.start.line + 1))
        })
        .collect();
    let included = root.get("include").is_some();
    for (k, v, line) in declared.iter() {
        let name = v.get("name").and_then(Node::as_str).unwrap_or(k);
        let external = v
            .get("external")
            .map(|e| Value::from_node(doc.resolve(e)).data);
        if name == NETWORK && !matches!(external, Some(Data::Bool(true)) | Some(Data::Map(_))) {
            add(
                Severity::Error,
                *line,
                format!("network `{k}` ({NETWORK}) is not declared `external: true`"),
                "declare it `external: true`: otherwise Compose creates a project-local \
                 network the collector is not on",
            );
        }
    }

    // Names are judged as Compose sees them: merge keys followed, variables interpolated
    // (a value that cannot be is judged as written).
    let resolved = |s: &str| interpolate(s, vars).unwrap_or_else(|_| s.to_string());
    for (key, svc) in services.entries().unwrap_or_default() {
        let Some(name) = key.as_str() else { continue };
        let svc = doc.resolve(svc);
        let line = key.start.line + 1;
        let mode = inherit::lookup(doc, svc, "network_mode")
            .and_then(Node::as_str)
            .map(resolved);
        let mode = mode.as_deref();
        let nets = inherit::lookup(doc, svc, "networks");
        if let (Some(mode), Some(nets)) = (mode, nets) {
            add(
                Severity::Error,
                nets.start.line.max(key.start.line) + 1,
                format!("service `{name}` has both `network_mode: {mode}` and `networks`"),
                "Compose rejects the pair: keep one (a sidecar shares its app's network and \
                 needs no networks of its own)",
            );
        }
        if let Some(target) = mode.and_then(contract::shared_namespace)
            && !names.iter().any(|n| n == target)
        {
            add(
                Severity::Error,
                line,
                format!(
                    "service `{name}` shares the network of `{target}`, which this file does not define"
                ),
                "name a service of this file in `network_mode: \"service:...\"`",
            );
        }
        for dep in members(inherit::lookup(doc, svc, "depends_on"), &resolved) {
            if !names.contains(&dep) {
                add(
                    Severity::Error,
                    line,
                    format!(
                        "service `{name}` depends on `{dep}`, which is not a service of this project"
                    ),
                    if dep == "otel-collector" {
                        "remove it: the collector belongs to the platform's own compose \
                         project; reach it over observability-net instead"
                    } else {
                        "depends_on may only name services of the same compose project"
                    },
                );
            }
        }
        for net in members(nets, &resolved) {
            let known = net == "default" || declared.iter().any(|(k, _, _)| *k == net);
            if !known {
                add(
                    if included {
                        Severity::Warning
                    } else {
                        Severity::Error
                    },
                    line,
                    format!("service `{name}` joins network `{net}`, which is not declared"),
                    if included {
                        "declare it under top-level `networks:` (unless an included file does)"
                    } else {
                        "declare it under top-level `networks:`"
                    },
                );
            }
        }
        for (var, value) in env_vars(inherit::lookup(doc, svc, "environment"), &resolved) {
            if var == "OTEL_COLLECTOR_ENDPOINT" && collector.is_none() {
                *collector = Some(value.trim_start_matches("http://").to_string());
            }
            if (var == "OTEL_EXPORTER_OTLP_ENDPOINT" || var == "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
                && !value.contains("://")
                && !value.is_empty()
            {
                add(
                    Severity::Error,
                    line,
                    format!(
                        "service `{name}`: {var}={value} has no scheme, so gRPC tries TLS and nothing arrives"
                    ),
                    &format!("set {var}=http://{value}"),
                );
            }
        }
        // A sidecar is judged once, in the file that first defines it, through every file.
        let image = layers
            .effective(name, "image")
            .and_then(|(_, _, n)| n.as_str())
            .unwrap_or("");
        if contract::is_daprd_image(image) && layers.is_home(name) {
            let words = layers
                .effective(name, "command")
                .map_or_else(Vec::new, |(_, _, n)| compose::words(n));
            let mut volumes: Vec<String> = Vec::new();
            for i in 0..layers.files.len() {
                let node = layers.effective_in(i, name, "volumes");
                for m in members(node, &|s: &str| s.to_string()) {
                    let target = m.split(':').nth(1).map(String::from);
                    volumes.retain(|v| v.split(':').nth(1).map(String::from) != target);
                    volumes.push(m);
                }
            }
            check_sidecar(name, &words, &volumes, line, compose_path, vars, &mut add);
            if let Some(app) = mode.and_then(contract::shared_namespace) {
                check_sidecar_profiles(doc, services, name, svc, app, line, &mut add);
            }
            if let Some(app) = mode.and_then(contract::shared_namespace)
                && services.get(app).is_some()
                && !(0..layers.files.len()).any(|i| {
                    layers
                        .service(i, app)
                        .is_some_and(|n| has_metrics_label(layers.files[i].0, n))
                })
            {
                add(
                    Severity::Warning,
                    line,
                    format!(
                        "service `{app}` has no label {METRICS_LABEL}, so the platform's \
                         Prometheus does not scrape the metrics of its Dapr sidecar `{name}`"
                    ),
                    &format!(
                        "run obs-init again (it adds the label), or add \
                         `{METRICS_LABEL}: \"{METRICS_PORT}\"` to the labels of `{app}`"
                    ),
                );
            }
        }
    }
}

/// Whether the app carries the label the platform's Prometheus discovers sidecars by, its
/// own or merged in.
pub(super) fn has_metrics_label(doc: &Document, app: &Node) -> bool {
    crate::compose::inherit::lookup(doc, app, "labels").is_some_and(|labels| {
        compose::label_names(labels)
            .iter()
            .any(|n| n == METRICS_LABEL)
    })
}

/// A Dapr sidecar's `--config` and the mount that provides it: `words`, its command, and
/// `volumes`, its mounts as written, both as Compose merges them across the project's files.
pub(super) fn check_sidecar(
    name: &str,
    words: &[String],
    volumes: &[String],
    line: usize,
    compose_path: &Path,
    vars: &Vars,
    add: &mut impl FnMut(Severity, usize, String, &str),
) {
    // daprd reads `-config x`, `--config x` and `--config=x` alike.
    let raw = crate::daprd::value(words, "config");
    // Compose interpolates the command and the mounts: judged as it resolves them, unless
    // a variable they depend on is set nowhere (then which file is meant is not known).
    let unknown = |text: &str, add: &mut dyn FnMut(Severity, usize, String, &str)| {
        let unset = crate::compose::interpolate::unset(text, vars);
        if unset.is_empty() {
            return false;
        }
        add(
            Severity::Error,
            line,
            format!(
                "Dapr sidecar `{name}` loads its Configuration through {text}, which depends on \
                 {}, set neither in .env nor in the environment: Compose reads it empty",
                unset.join(", ")
            ),
            &format!("set {} in .env beside the compose file", unset.join(", ")),
        );
        true
    };
    if raw.as_deref().is_some_and(|r| unknown(r, add)) {
        return;
    }
    let config = raw.map(|r| interpolate(&r, vars).unwrap_or(r));
    let config = config.as_ref();
    let Some(config) = config else {
        add(
            Severity::Error,
            line,
            format!("Dapr sidecar `{name}` is started without --config, so it does not trace"),
            &format!("add `--config {CONFIG_MOUNT}` and mount dapr-config.yml there"),
        );
        return;
    };
    let mut mounts: Vec<(String, String)> = Vec::new();
    for m in volumes {
        let mut parts = m.split(':');
        let (Some(source), Some(target)) = (parts.next(), parts.next()) else {
            continue;
        };
        let resolved = |t: &str| interpolate(t, vars).unwrap_or_else(|_| t.to_string());
        let target = resolved(target);
        // Only the mount that provides the Configuration matters.
        if compose::sidecar::mount_source(&[(String::new(), target.clone())], config).is_some()
            && unknown(source, add)
        {
            return;
        }
        mounts.push((resolved(source), target));
    }
    match compose::sidecar::mount_source(&mounts, config) {
        None => add(
            Severity::Error,
            line,
            format!("Dapr sidecar `{name}` reads {config}, but nothing is mounted there"),
            &format!("mount the Dapr configuration: `./dapr-config.yml:{config}:ro`"),
        ),
        Some(src) => {
            // Compose resolves a relative source against the compose file's folder; a
            // source that is not a file there becomes an empty directory in the container.
            let resolved = crate::paths::compose_dir(compose_path).join(&src);
            if !resolved.is_file() {
                add(
                    Severity::Error,
                    line,
                    format!(
                        "Dapr sidecar `{name}` mounts {src}, which resolves to {}, where there \
                         is no file: Docker would mount an empty directory and daprd would \
                         start without its tracing configuration",
                        resolved.display()
                    ),
                    "run obs-init to write it, or mount the dapr-config.yml beside the compose \
                     file as `./dapr-config.yml`",
                );
            } else if !src.ends_with(contract::DAPR_CONFIG_FILE) {
                // The project's own Configuration (obs-init's is checked on its own): the
                // sidecar traces only if it says so.
                let text = std::fs::read_to_string(&resolved).unwrap_or_default();
                if let Err(problem) = crate::dapr::check_config(&text) {
                    add(
                        Severity::Error,
                        line,
                        format!(
                            "Dapr sidecar `{name}` loads its own Configuration {src}, and {problem}"
                        ),
                        "run obs-init (it adds the tracing to that Configuration), or add \
                         spec.tracing.otel as dapr-config.yml has it",
                    );
                }
            }
        }
    }
}

/// The names in a list (`[a, b]`) or the keys of a mapping (`{a: ..., b: ...}`).
/// The names a list or mapping holds: list items are values, so Compose interpolates them;
/// mapping keys are not.
pub(super) fn members(node: Option<&Node>, resolved: &dyn Fn(&str) -> String) -> Vec<String> {
    match node.map(|n| &n.kind) {
        Some(Kind::Seq { items, .. }) => items
            .iter()
            .filter_map(|i| i.as_str().map(resolved))
            .collect(),
        Some(Kind::Map { entries, .. }) => entries
            .iter()
            .filter_map(|(k, _)| k.as_str().filter(|k| *k != "<<").map(String::from))
            .collect(),
        _ => Vec::new(),
    }
}

pub(super) fn env_vars(
    env: Option<&Node>,
    resolved: &dyn Fn(&str) -> String,
) -> Vec<(String, String)> {
    match env.map(|e| &e.kind) {
        Some(Kind::Seq { items, .. }) => items
            .iter()
            .filter_map(|i| i.as_str()?.split_once('='))
            .map(|(k, v)| (k.to_string(), resolved(v)))
            .collect(),
        Some(Kind::Map { entries, .. }) => entries
            .iter()
            .filter_map(|(k, v)| Some((k.as_str()?.to_string(), resolved(v.as_str()?))))
            .collect(),
        _ => Vec::new(),
    }
}

/// A sidecar in its app's namespace depends on the app: active while the app is not (its
/// profile off), Compose rejects the whole project.
pub(super) fn check_sidecar_profiles(
    doc: &Document,
    services: &Node,
    name: &str,
    sidecar: &Node,
    app: &str,
    line: usize,
    add: &mut impl FnMut(Severity, usize, String, &str),
) {
    let Some(app_node) = services.get(app).map(|n| doc.resolve(n)) else {
        return;
    };
    let profiles = |node: &Node, bases: &[(String, &Node)]| -> Vec<String> {
        inherit::layers(doc, node, bases, "profiles")
            .into_iter()
            .flat_map(|l| l.items().unwrap_or_default())
            .filter_map(|p| doc.resolve(p).as_str().map(String::from))
            .collect()
    };
    let app_bases = inherit::bases(doc, services, app).unwrap_or_default();
    let app_profiles = profiles(app_node, &app_bases);
    if app_profiles.is_empty() {
        return;
    }
    let own = profiles(sidecar, &[]);
    let outside: Vec<&String> = own.iter().filter(|p| !app_profiles.contains(p)).collect();
    if !own.is_empty() && outside.is_empty() {
        return;
    }
    let quoted = |list: &[&String]| {
        list.iter()
            .map(|p| format!("`{p}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let when = if own.is_empty() {
        "whatever profiles are on".to_string()
    } else {
        format!("with profile {}", quoted(&outside))
    };
    add(
        Severity::Error,
        line,
        format!(
            "Dapr sidecar `{name}` runs {when}, but `{app}` only with {}: with those off, \
             Compose rejects the project (`depends on undefined service`)",
            quoted(&app_profiles.iter().collect::<Vec<_>>())
        ),
        &format!(
            "give `{name}` the profiles of `{app}`: `profiles: [{}]`",
            app_profiles.join(", ")
        ),
    );
}

/// The generated modules an image would not have: its Dockerfile copies the app's files
/// one by one and not the module, so the setup lines (or a next step done by hand) fail at
/// import and nothing arrives.
pub(super) fn check_modules_in_images(
    dir: &Path,
    doc: &Document,
    compose_path: &Path,
    findings: &mut Vec<Finding>,
) {
    use crate::plan::python::{Container, Target};
    let mut seen = Vec::new();
    for (name, info, context) in built_services(doc, compose_path) {
        let dockerfile = info
            .dockerfile
            .clone()
            .unwrap_or_else(|| "Dockerfile".into());
        let target = Target::new(
            name.clone(),
            Some(context.clone()),
            None,
            Vec::new(),
            None,
            Container {
                image: info.image.clone(),
                dockerfile: info.dockerfile.clone(),
                target: info.target.clone(),
                ..Container::default()
            },
        );
        for module in crate::detect::find_files(&context, crate::python::MODULE_FILE) {
            let Some(copy) = target.module_copy_missing(&module) else {
                continue;
            };
            let file = display(dir, &context.join(&dockerfile));
            if seen.contains(&(file.clone(), copy.clone())) {
                continue;
            }
            seen.push((file.clone(), copy.clone()));
            findings.push(Finding {
                severity: Severity::Error,
                file,
                line: None,
                message: format!(
                    "service `{name}`'s image does not have {} (the Dockerfile copies the \
                     files beside it one by one): its code fails to import it, and nothing \
                     arrives",
                    display(dir, &module)
                ),
                fix: format!("add `{copy}` to the Dockerfile"),
            });
        }
    }
}

/// The services the compose file builds, with what it says of each and its build context.
fn built_services(
    doc: &Document,
    compose_path: &Path,
) -> Vec<(String, compose::ServiceInfo, std::path::PathBuf)> {
    let Ok(services) = compose::services(doc) else {
        return Vec::new();
    };
    let compose_dir = crate::paths::compose_dir(compose_path);
    compose::service_names(services)
        .into_iter()
        .filter_map(|name| {
            let info = compose::service_info(doc, services, &name);
            let context = compose_dir.join(info.build.as_ref()?);
            Some((name, info, context))
        })
        .collect()
}
