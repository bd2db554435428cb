//! `dagster.yaml`: the logging settings that send `context.log` records to the collector.
//!
//! Dagster has no OpenTelemetry block: `telemetry:` accepts only `enabled`, and the company
//! guide's `telemetry: opentelemetry: ...` makes every Dagster process fail to load the
//! instance. What works is a Python logging handler in
//! `python_logs.dagster_handler_config.handlers`, here the generated module's
//! `OtelLogHandler`.

use crate::error::Refusal;
use crate::yaml::doc::Node;
use crate::yaml::emit::{self, Layout, NewNode};
use crate::yaml::model::Value;
use crate::yaml::splice::Editor;
use crate::yaml::text::Text;
use crate::yaml::verify;

/// The handler's name under `handlers:`.
pub const HANDLER_KEY: &str = "otel";

/// The new content of `dagster.yaml` (`None` when it already has everything), given the
/// handler class's dotted path. With `fix_invalid`, the guide's invalid `telemetry` keys are
/// removed; without it they are an error.
pub fn configure(
    content: &str,
    handler_class: &str,
    fix_invalid: bool,
) -> Result<Option<String>, Refusal> {
    let (text, doc) = crate::yaml::parse_file(content)?;
    let handler = NewNode::Map(vec![
        ("class".into(), NewNode::str(handler_class)),
        ("level".into(), NewNode::str("INFO")),
    ]);
    let handlers = || NewNode::Map(vec![(HANDLER_KEY.into(), handler.clone())]);
    let handler_config = || NewNode::Map(vec![("handlers".into(), handlers())]);
    // The handler alone, at its own level: `python_log_level` would raise the level of
    // Dagster's managed loggers too, and DEBUG events would vanish from the run's event log
    // and console (17 stored events became 16, the console's 17 lines 1).
    let python_logs = || NewNode::Map(vec![("dagster_handler_config".into(), handler_config())]);

    let Some(root) = &doc.root else {
        // Empty or comment-only: the settings are the whole document.
        let lay = default_layout(&text);
        let block = emit::block_entry("python_logs", &python_logs(), 0, &lay);
        let mut out = text.as_str().to_string();
        if !out.is_empty() && !out.ends_with('\n') {
            out.push_str(lay.eol);
        }
        out.push_str(&block);
        let expected = NewNode::Map(vec![("python_logs".into(), python_logs())]).to_value();
        let actual = crate::yaml::parse_file(&out)?
            .1
            .root
            .as_ref()
            .map(Value::from_node)
            .ok_or_else(|| Refusal::Internal("dagster.yaml came out empty".into()))?;
        if actual != expected {
            return Err(Refusal::Internal("dagster.yaml did not verify".into()));
        }
        return Ok(Some(text.with_bom(&out)));
    };
    if root.entries().is_none() {
        return Err(Refusal::RootNotMapping {
            found: root.kind_name(),
            line: root.start.line + 1,
        });
    }
    let lay = emit::layout_of(&text, root);
    let mut editor = Editor::new(&text);

    if let Some((tkey, telemetry)) = root.get_entry("telemetry") {
        let invalid: Vec<&(Node, Node)> = telemetry
            .entries()
            .unwrap_or_default()
            .iter()
            .filter(|(k, _)| k.as_str() != Some("enabled"))
            .collect();
        if !invalid.is_empty() {
            let keys: Vec<String> = invalid
                .iter()
                .filter_map(|(k, _)| k.as_str().map(String::from))
                .collect();
            if !fix_invalid {
                return Err(Refusal::InvalidDagsterTelemetry {
                    keys,
                    line: invalid[0].0.start.line + 1,
                });
            }
            let all = invalid.len() == telemetry.entries().map_or(0, <[_]>::len);
            let removal = if all {
                editor.remove_entry(tkey, telemetry, &[], "telemetry")
            } else {
                invalid.iter().try_for_each(|(k, v)| {
                    let key = k.as_str().unwrap_or_default();
                    editor.remove_entry(k, v, &["telemetry".into()], key)
                })
            };
            removal.map_err(|what| Refusal::Unsupported {
                service: None,
                what: format!("cannot remove the invalid telemetry block: {what}"),
                line: tkey.start.line + 1,
            })?;
        }
    }

    let path = |keys: &[&str]| keys.iter().map(|k| k.to_string()).collect::<Vec<_>>();
    match root.get_entry("python_logs") {
        None => editor.insert_entry(root, &[], "python_logs", python_logs(), &lay),
        Some((k, v)) if v.is_empty_null() => {
            editor.set_empty(k, &[], "python_logs", python_logs(), &lay)
        }
        Some((k, logs)) => {
            let Some(_) = logs.entries().filter(|_| !logs.is_flow()) else {
                return Err(unsupported("python_logs is not a block mapping", k));
            };
            match logs.get_entry("dagster_handler_config") {
                None => editor.insert_entry(
                    logs,
                    &path(&["python_logs"]),
                    "dagster_handler_config",
                    handler_config(),
                    &lay,
                ),
                Some((hk, hc)) if hc.is_empty_null() => editor.set_empty(
                    hk,
                    &path(&["python_logs"]),
                    "dagster_handler_config",
                    handler_config(),
                    &lay,
                ),
                Some((hk, hc)) => match hc.get_entry("handlers") {
                    None if hc.entries().is_some() && !hc.is_flow() => editor.insert_entry(
                        hc,
                        &path(&["python_logs", "dagster_handler_config"]),
                        "handlers",
                        handlers(),
                        &lay,
                    ),
                    Some((k, hs)) if hs.is_empty_null() => editor.set_empty(
                        k,
                        &path(&["python_logs", "dagster_handler_config"]),
                        "handlers",
                        handlers(),
                        &lay,
                    ),
                    Some((k, hs)) if hs.entries().is_some() && !hs.is_flow() => {
                        let ours = hs.entries().unwrap_or_default().iter().any(|(_, h)| {
                            h.get("class").and_then(Node::as_str) == Some(handler_class)
                        });
                        if !ours {
                            if hs.get(HANDLER_KEY).is_some() {
                                return Err(unsupported(
                                    "a handler named `otel` exists with another class",
                                    k,
                                ));
                            }
                            editor.insert_entry(
                                hs,
                                &path(&["python_logs", "dagster_handler_config", "handlers"]),
                                HANDLER_KEY,
                                handler.clone(),
                                &lay,
                            );
                        }
                    }
                    _ => return Err(unsupported("dagster_handler_config has an odd shape", hk)),
                },
            }
        }
    }
    if editor.is_empty() {
        return Ok(None);
    }
    let (body, changes) = editor.finish();
    verify::compose(&doc, &changes, &body).map_err(Refusal::Internal)?;
    Ok(Some(text.with_bom(&body)))
}

/// Run launchers whose runs start in containers of their own, which Compose does not define:
/// they get neither the platform network nor the variables unless the launcher passes them.
const KUBERNETES_LAUNCHERS: [&str; 2] = ["K8sRunLauncher", "CeleryK8sRunLauncher"];

/// `dagster.yaml` with a `DockerRunLauncher`'s run containers joined to `network` and given
/// `env` (`KEY=VALUE`, a key already listed in any form is left as the user set it), every
/// other key kept; `None` for the text when nothing needs adding. The notes say what could
/// not be added, or what to set for launchers obs-init does not edit.
pub fn configure_launcher(
    content: &str,
    network: &str,
    env: &[(String, String)],
) -> Result<(Option<String>, Vec<String>), Refusal> {
    let (text, doc) = crate::yaml::parse_file(content)?;
    let mut notes = Vec::new();
    let Some(root) = doc.root.as_ref().filter(|r| r.entries().is_some()) else {
        return Ok((None, notes));
    };
    let Some((launcher_key, launcher)) = root.get_entry("run_launcher") else {
        return Ok((None, notes));
    };
    let class = launcher.get("class").and_then(Node::as_str).unwrap_or("");
    let pairs: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    if KUBERNETES_LAUNCHERS.contains(&class) {
        notes.push(format!(
            "run_launcher is {class}: its run pods are not in the compose file; give them the \
             collector with `env_vars` ({}) in its config, and let them resolve \
             otel-collector (a Service in their namespace)",
            pairs.join(", ")
        ));
        return Ok((None, notes));
    }
    if class != "DockerRunLauncher" {
        return Ok((None, notes));
    }
    let lay = emit::layout_of(&text, root);
    let mut editor = Editor::new(&text);
    let config_path = ["run_launcher".to_string(), "config".to_string()];
    let networks_item = || NewNode::Seq(vec![NewNode::str(network)]);
    let env_item = || NewNode::Seq(pairs.iter().map(String::as_str).map(NewNode::str).collect());
    match launcher.get_entry("config") {
        None if launcher.entries().is_some() && !launcher.is_flow() => editor.insert_entry(
            launcher,
            &config_path[..1],
            "config",
            NewNode::Map(vec![
                ("networks".into(), networks_item()),
                ("env_vars".into(), env_item()),
            ]),
            &lay,
        ),
        Some((key, config)) if config.entries().is_some() && !config.is_flow() => {
            match (config.get("network"), config.get("networks")) {
                (Some(n), _) if n.as_str() == Some(network) => {}
                (Some(n), _) => notes.push(format!(
                    "run_launcher.config.network is {:?} (line {}): DockerRunLauncher takes \
                     `network` or `networks`, not both, so run containers stay off {network}; \
                     replace it with `networks: [{}, {network}]` for run logs to reach the \
                     collector",
                    n.as_str().unwrap_or("?"),
                    n.start.line + 1,
                    n.as_str().unwrap_or("?")
                )),
                (None, Some(list)) if list.items().is_some() => {
                    let listed = list
                        .items()
                        .unwrap_or_default()
                        .iter()
                        .any(|i| i.as_str() == Some(network));
                    if !listed {
                        let path = [config_path.to_vec(), vec!["networks".into()]].concat();
                        editor.push_item(list, &path, NewNode::str(network), &lay);
                    }
                }
                (None, Some(_)) => {
                    return Err(unsupported(
                        "run_launcher.config.networks is not a list",
                        key,
                    ));
                }
                (None, None) => {
                    editor.insert_entry(config, &config_path, "networks", networks_item(), &lay);
                }
            }
            match config.get("env_vars") {
                None => editor.insert_entry(config, &config_path, "env_vars", env_item(), &lay),
                Some(list) if list.items().is_some() => {
                    let listed: Vec<String> = list
                        .items()
                        .unwrap_or_default()
                        .iter()
                        .filter_map(Node::as_str)
                        .map(|e| e.split('=').next().unwrap_or(e).to_string())
                        .collect();
                    let path = [config_path.to_vec(), vec!["env_vars".into()]].concat();
                    for (k, v) in env {
                        if !listed.contains(k) {
                            editor.push_item(list, &path, NewNode::str(format!("{k}={v}")), &lay);
                        }
                    }
                }
                Some(_) => {
                    return Err(unsupported(
                        "run_launcher.config.env_vars is not a list",
                        key,
                    ));
                }
            }
        }
        _ => return Err(unsupported("run_launcher has an odd shape", launcher_key)),
    }
    if editor.is_empty() {
        return Ok((None, notes));
    }
    let (body, changes) = editor.finish();
    verify::compose(&doc, &changes, &body).map_err(Refusal::Internal)?;
    Ok((Some(text.with_bom(&body)), notes))
}

/// `dagster.yaml` without obs-init's handler (`None` when it has none): the whole
/// `python_logs` block when it holds nothing else, else the handler alone.
pub fn unconfigure(content: &str) -> Result<Option<String>, Refusal> {
    let (text, doc) = crate::yaml::parse_file(content)?;
    let Some(root) = doc.root.as_ref().filter(|r| r.entries().is_some()) else {
        return Ok(None);
    };
    let Some((logs_index, (_, logs))) = root
        .entries()
        .unwrap_or_default()
        .iter()
        .enumerate()
        .find(|(_, (k, _))| k.as_str() == Some("python_logs"))
    else {
        return Ok(None);
    };
    let Some(handlers) = logs
        .get("dagster_handler_config")
        .and_then(|h| h.get("handlers"))
    else {
        return Ok(None);
    };
    let ours = |h: &Node| {
        h.get("class")
            .and_then(Node::as_str)
            .is_some_and(|c| c == "OtelLogHandler" || c.ends_with(".OtelLogHandler"))
    };
    let Some(index) = handlers
        .entries()
        .unwrap_or_default()
        .iter()
        .position(|(k, h)| k.as_str() == Some(HANDLER_KEY) && ours(h))
    else {
        return Ok(None);
    };
    let only_ours = logs.entries().is_some_and(|e| {
        e.iter().all(|(k, v)| match k.as_str() {
            Some("python_log_level") => v.as_str() == Some("INFO"),
            Some("dagster_handler_config") => {
                v.entries().is_some_and(|e| e.len() == 1)
                    && handlers.entries().is_some_and(|h| h.len() == 1)
            }
            _ => false,
        })
    });
    let mut editor = Editor::new(&text);
    let err = |what: String| Refusal::Internal(format!("removal: {what}"));
    let config = logs.get("dagster_handler_config").expect("found above");
    let handlers_only_ours = handlers.entries().is_some_and(|h| h.len() == 1);
    let config_only_handlers = config.entries().is_some_and(|e| e.len() == 1);
    let position = |map: &Node, key: &str| {
        map.entries()
            .unwrap_or_default()
            .iter()
            .position(|(k, _)| k.as_str() == Some(key))
            .expect("found above")
    };
    if only_ours {
        editor.remove_items(root, &[], &[logs_index]).map_err(err)?;
    } else if handlers_only_ours && config_only_handlers {
        let i = position(logs, "dagster_handler_config");
        editor
            .remove_items(logs, &["python_logs".into()], &[i])
            .map_err(err)?;
    } else if handlers_only_ours {
        let i = position(config, "handlers");
        let path = ["python_logs", "dagster_handler_config"].map(String::from);
        editor.remove_items(config, &path, &[i]).map_err(err)?;
    } else {
        let path = ["python_logs", "dagster_handler_config", "handlers"].map(String::from);
        editor
            .remove_items(handlers, &path, &[index])
            .map_err(err)?;
    }
    let (body, changes) = editor.finish();
    verify::compose(&doc, &changes, &body).map_err(Refusal::Internal)?;
    Ok(Some(text.with_bom(&body)))
}

/// The logging handlers a dagster.yaml configures for runs: each handler's key, the class
/// it names, and the 1-based line of the class.
pub fn handler_classes(content: &str) -> Vec<(String, String, usize)> {
    let Ok((_, doc)) = crate::yaml::parse_file(content) else {
        return Vec::new();
    };
    let handlers = doc
        .root
        .as_ref()
        .and_then(|r| r.get("python_logs"))
        .and_then(|l| l.get("dagster_handler_config"))
        .and_then(|h| h.get("handlers"))
        .and_then(Node::entries)
        .unwrap_or_default();
    handlers
        .iter()
        .filter_map(|(k, h)| {
            let class = h.get("class")?;
            Some((
                k.as_str()?.to_string(),
                class.as_str()?.to_string(),
                class.start.line + 1,
            ))
        })
        .collect()
}

fn unsupported(what: &str, key: &Node) -> Refusal {
    Refusal::Unsupported {
        service: None,
        what: what.into(),
        line: key.start.line + 1,
    }
}

fn default_layout(text: &Text) -> Layout {
    Layout {
        step: 2,
        seq_indent: 2,
        dash_gap: 1,
        eol: text.eol(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLASS: &str = "setup_observability.OtelLogHandler";

    #[test]
    fn an_empty_file_gets_the_whole_block() {
        let out = configure("# instance settings\n", CLASS, false)
            .expect("ok")
            .expect("changed");
        assert_eq!(
            out,
            "# instance settings\npython_logs:\n  dagster_handler_config:\n    handlers:\n      otel:\n        class: setup_observability.OtelLogHandler\n        level: INFO\n"
        );
        // Dagster's own loggers keep their level: DEBUG events stay in the run's event log.
        assert!(!out.contains("python_log_level"));
        assert_eq!(configure(&out, CLASS, false), Ok(None));
    }

    #[test]
    fn unconfigure_takes_back_exactly_what_configure_added() {
        for before in [
            "# instance\ntelemetry:\n  enabled: false\n",
            "python_logs:\n  python_log_level: DEBUG\n",
            "storage:\n    sqlite:\n        base_dir: /tmp\n",
            "",
        ] {
            let after = configure(before, CLASS, false)
                .expect("ok")
                .expect("changed");
            let back = unconfigure(&after).expect("ok").expect("changed");
            if before.is_empty() {
                assert!(back.trim().is_empty(), "{back:?}");
            } else {
                assert_eq!(back, before);
            }
        }
    }

    #[test]
    fn existing_python_logs_keys_are_kept() {
        let before = "storage:\n    sqlite:\n        base_dir: /tmp\npython_logs:\n    python_log_level: DEBUG\n    managed_python_loggers:\n        - my_logger\n";
        let out = configure(before, CLASS, false)
            .expect("ok")
            .expect("changed");
        assert!(out.starts_with(before), "{out}");
        assert!(out.contains("    python_log_level: DEBUG\n"));
        assert!(
            out.contains("        handlers:\n            otel:\n"),
            "{out}"
        );
    }

    #[test]
    fn the_guides_telemetry_block_is_an_error_unless_fixing() {
        let before = "telemetry:\n  opentelemetry:\n    endpoint: otel-collector:4317\n# end\n";
        let err = configure(before, CLASS, false).expect_err("invalid");
        assert!(matches!(
            err,
            Refusal::InvalidDagsterTelemetry { line: 2, .. }
        ));
        let fixed = configure(before, CLASS, true)
            .expect("ok")
            .expect("changed");
        assert!(!fixed.contains("telemetry"), "{fixed}");
        assert!(
            fixed.starts_with("python_logs:") && fixed.ends_with("# end\n"),
            "{fixed}"
        );
    }

    #[test]
    fn a_valid_telemetry_setting_survives_the_fix() {
        let before = "telemetry:\n  enabled: false\n  opentelemetry:\n    endpoint: x\n";
        let fixed = configure(before, CLASS, true)
            .expect("ok")
            .expect("changed");
        assert!(
            fixed.starts_with("telemetry:\n  enabled: false\npython_logs:"),
            "{fixed}"
        );
    }
}
