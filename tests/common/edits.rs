//! What onboarding may change in a resolved compose model, and nothing else: the judge
//! shared by the corpus test (models from the real Compose) and the fuzzer (the real Compose
//! on a sample, obs-init's own YAML reading on the rest, normalised to Compose's forms).

use obs_init::compose;
use serde_json::{Map, Value as Json};

pub const DAPR_VERSION: &str = "1.18.3";

/// A model read by obs-init's own parser ([`super::to_json`]) in the forms Compose's
/// `config --format json` prints for the keys onboarding touches: `environment` and
/// `labels` as maps of strings, `networks` as a map (`default` when absent), a sidecar's
/// short volume syntax as Compose's long one, relative paths under [`super::oracle::PROJECT`].
pub fn normalize(model: &Json) -> Json {
    let mut out = model.clone();
    // An external network is known by its key unless it names another (Compose's `name`).
    if let Some(nets) = out.get_mut("networks").and_then(Json::as_object_mut) {
        for (key, net) in nets.iter_mut() {
            if let Some(n) = net.as_object_mut()
                && n.get("external").is_some_and(|e| e == &Json::Bool(true))
                && n.get("name").is_none()
            {
                n.insert("name".into(), Json::String(key.clone()));
            }
        }
    }
    let Some(services) = out.get_mut("services").and_then(Json::as_object_mut) else {
        return out;
    };
    for svc in services.values_mut().filter_map(Json::as_object_mut) {
        for key in ["environment", "labels"] {
            if let Some(v) = svc.get(key) {
                let map = as_map(v, |s| match s.split_once('=') {
                    Some((k, v)) => (k.to_string(), Json::String(v.to_string())),
                    None => (s.to_string(), Json::Null),
                });
                svc.insert(key.into(), map);
            }
        }
        if let Some(v) = svc.get("networks").filter(|v| !v.is_null()) {
            let map = as_map(v, |s| (s.to_string(), Json::Null));
            svc.insert("networks".into(), map);
        }
    }
    let originals = services.clone();
    for (name, svc) in services.iter_mut() {
        *svc = extended(name, svc, &originals);
        let Some(svc) = svc.as_object_mut() else {
            continue;
        };
        if svc.get("network_mode").is_none() && svc.get("networks").is_none_or(Json::is_null) {
            let default = Map::from_iter([("default".to_string(), Json::Null)]);
            svc.insert("networks".into(), Json::Object(default));
        }
        if let Some(Json::Array(vols)) = svc.get_mut("volumes") {
            for v in vols.iter_mut() {
                if let Some(spec) = v.as_str() {
                    let parts: Vec<&str> = spec.split(':').collect();
                    if let [source, target, rest @ ..] = parts.as_slice() {
                        let source = source.strip_prefix("./").map_or(source.to_string(), |s| {
                            format!("{}/{s}", super::oracle::PROJECT)
                        });
                        *v = serde_json::json!({
                            "source": source,
                            "target": target,
                            "read_only": rest.contains(&"ro"),
                        });
                    }
                }
            }
        }
    }
    out
}

/// `svc` with what it `extends` in the same file applied, as Compose applies it: the base's
/// keys under the service's, mappings merged by key, profiles added up.
fn extended(name: &str, svc: &Json, services: &Map<String, Json>) -> Json {
    let base_of = |s: &Json| -> Option<String> {
        let e = s.get("extends")?;
        match e.as_str() {
            Some(b) => Some(b.to_string()),
            None if e.get("file").is_none() => e["service"].as_str().map(String::from),
            None => None,
        }
    };
    let mut seen = vec![name.to_string()];
    let mut current = svc.clone();
    while let Some(base) = base_of(&current) {
        let Some(base_svc) = services.get(&base).filter(|_| !seen.contains(&base)) else {
            break;
        };
        seen.push(base);
        let mut merged = base_svc.clone();
        let (Some(m), Some(own)) = (merged.as_object_mut(), current.as_object()) else {
            break;
        };
        m.remove("extends");
        // A key left empty (`environment:`) overrides nothing.
        for (k, v) in own.iter().filter(|(k, v)| *k != "extends" && !v.is_null()) {
            let combined = match (k.as_str(), m.get(k), v) {
                ("environment" | "labels" | "networks", Some(Json::Object(b)), Json::Object(o)) => {
                    let mut all = b.clone();
                    all.extend(o.clone());
                    Json::Object(all)
                }
                ("profiles", Some(Json::Array(b)), Json::Array(o)) => {
                    let mut all = b.clone();
                    all.extend(o.iter().filter(|p| !b.contains(p)).cloned());
                    Json::Array(all)
                }
                _ => v.clone(),
            };
            m.insert(k.clone(), combined);
        }
        if let Some(next) = base_svc.get("extends") {
            m.insert("extends".into(), next.clone());
        }
        current = merged;
    }
    if let Some(m) = current.as_object_mut() {
        m.remove("extends");
    }
    current
}

/// A list (`- K=V`, `- name`) or map as a map with string values.
fn as_map(v: &Json, item: impl Fn(&str) -> (String, Json)) -> Json {
    match v {
        Json::Array(items) => {
            Json::Object(items.iter().filter_map(|i| i.as_str().map(&item)).collect())
        }
        Json::Object(m) => Json::Object(
            m.iter()
                .map(|(k, v)| {
                    let v = match v {
                        Json::Null => Json::Null,
                        Json::String(_) | Json::Object(_) => v.clone(),
                        other => Json::String(other.to_string()),
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        _ => v.clone(),
    }
}

/// `before` with exactly the documented edits for `service`, taking each added value from
/// `after` once it is checked to be what the documentation says. Whatever else differs
/// between the two then shows up when the caller compares the result with `after`.
pub fn documented(before: &Json, after: &Json, service: &str, label_skipped: bool) -> Json {
    let mut expected = before.clone();
    let Some(app_before) = before["services"].get(service) else {
        // Not active under these profiles: its sidecar must not be either.
        let sidecar = compose::sidecar_name(service);
        assert!(
            after["services"].get(&sidecar).is_none(),
            "{sidecar} runs while {service} is not active (profiles)"
        );
        // The external network is declared whether or not the app runs.
        copy_new_network(&mut expected, after);
        return expected;
    };
    let app_after = &after["services"][service];

    // The variables: each one obs-init writes is there, with its value unless the user had
    // set it already.
    let wanted = [
        (
            "OTEL_COLLECTOR_ENDPOINT",
            compose::COLLECTOR_ADDRESS.to_string(),
        ),
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            compose::COLLECTOR_URL.to_string(),
        ),
        ("OTEL_SERVICE_NAME", service.to_string()),
    ];
    for (k, v) in &wanted {
        match app_before["environment"].get(*k) {
            Some(_) => {}
            None => {
                assert_eq!(
                    app_after["environment"][*k],
                    Json::String(v.clone()),
                    "{service}: {k}"
                );
                expected["services"][service]["environment"][*k] = Json::String(v.clone());
            }
        }
    }

    // The namespace: after the project's own resource attributes (a namespace of its own
    // wins), as written, or as the real Compose resolves it: the project's name.
    let key = obs_init::contract::RESOURCE_ATTRIBUTES;
    let own = app_before["environment"].get(key);
    let got = &app_after["environment"][key];
    let own_namespace = own
        .and_then(Json::as_str)
        .is_some_and(obs_init::contract::names_namespace);
    if !own_namespace && !own.is_some_and(Json::is_null) {
        let written = obs_init::contract::compose_namespace(Some("shop"));
        let names = [Some(written.as_str()), after["name"].as_str()];
        let ok = got.as_str().is_some_and(|v| {
            let prefix = own.and_then(Json::as_str).map(|o| format!("{o},"));
            let rest = match &prefix {
                Some(p) if !p.trim_end_matches(',').is_empty() => v.strip_prefix(p.as_str()),
                _ => Some(v),
            };
            rest.and_then(|r| r.strip_prefix("service.namespace="))
                .is_some_and(|ns| names.contains(&Some(ns)))
        });
        assert!(ok, "{service}: {key} is {got}, the project's was {own:?}");
        expected["services"][service]["environment"][key] = got.clone();
    }

    // The network, under the key the file declares it with.
    let net_key = after["networks"]
        .as_object()
        .and_then(|nets| {
            nets.iter()
                .find(|(_, n)| n["name"] == "observability-net" && n["external"] == true)
                .map(|(k, _)| k.clone())
        })
        .expect("observability-net declared external");
    copy_new_network(&mut expected, after);
    let joined = &app_after["networks"][&net_key];
    assert!(
        app_after["networks"].get(&net_key).is_some()
            && (joined.is_null() || joined == &serde_json::json!({})),
        "{service}: not on {net_key}: {}",
        app_after["networks"]
    );
    if app_before["networks"].get(&net_key).is_none() {
        expected["services"][service]["networks"][&net_key] = joined.clone();
    }

    // The metrics label, unless obs-init said why it could not add it; on a sidecar that runs
    // in a container of its own, the label is the sidecar's (checked with it).
    let label = compose::METRICS_LABEL;
    let own = own_sidecar(before, service);
    let separate = own
        .as_ref()
        .is_some_and(|o| before["services"][o].get("network_mode").is_none());
    if app_before["labels"].get(label).is_none() && !label_skipped && !separate {
        assert_eq!(
            app_after["labels"][label],
            compose::METRICS_PORT,
            "{service}: label"
        );
        expected["services"][service]["labels"][label] = app_after["labels"][label].clone();
    }

    // The project's own sidecar: only `--config` and the mount added, everything else kept.
    if let Some(own) = own {
        let sidecar = &after["services"][&own];
        check_adopted(&before["services"][&own], sidecar, &own);
        expected["services"][&own] = sidecar.clone();
        return expected;
    }
    // The sidecar, as Dapr needs it and as Compose requires of a `service:` namespace.
    let sidecar_name = compose::sidecar_name(service);
    if before["services"].get(&sidecar_name).is_none() {
        let sidecar = after["services"]
            .get(&sidecar_name)
            .unwrap_or_else(|| panic!("no sidecar {sidecar_name}"));
        check_sidecar(sidecar, service, app_before);
        expected["services"][&sidecar_name] = sidecar.clone();
    }
    expected
}

/// The daprd service a project already runs for `service`: in its network namespace, or
/// calling it with `--app-channel-address`.
fn own_sidecar(model: &Json, service: &str) -> Option<String> {
    let services = model["services"].as_object()?;
    services
        .iter()
        .find(|(name, s)| {
            let daprd = s["image"]
                .as_str()
                .is_some_and(|i| i.contains("daprio/daprd"));
            let words: Vec<&str> = s["command"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Json::as_str)
                .collect();
            let calls = words.windows(2).any(|w| {
                matches!(w[0], "-app-channel-address" | "--app-channel-address") && w[1] == service
            }) || words.iter().any(|w| {
                *w == format!("--app-channel-address={service}")
                    || *w == format!("-app-channel-address={service}")
            });
            *name != service
                && daprd
                && (s["network_mode"] == format!("service:{service}")
                    || (s.get("network_mode").is_none() && calls))
        })
        .map(|(n, _)| n.clone())
}

/// An adopted sidecar differs from the project's by `--config` (in one of the forms daprd
/// reads, at the end of its command) and the read-only mount, and nothing else.
fn check_adopted(before: &Json, after: &Json, name: &str) {
    let words = |s: &Json| -> Vec<String> {
        s["command"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|w| w.as_str().map(String::from))
            .collect()
    };
    let (old, new) = (words(before), words(after));
    let had_config = old
        .iter()
        .any(|w| w.trim_start_matches('-').split('=').next() == Some("config"));
    if !had_config {
        let added = new.get(old.len()..).unwrap_or_default();
        let m = compose::CONFIG_MOUNT;
        let forms: [Vec<String>; 4] = [
            vec!["--config".into(), m.into()],
            vec!["-config".into(), m.into()],
            vec![format!("--config={m}")],
            vec![format!("-config={m}")],
        ];
        assert!(
            new.starts_with(&old) && forms.iter().any(|f| f.as_slice() == added),
            "{name}: the command gained more than --config: {added:?}"
        );
    } else {
        assert_eq!(old, new, "{name}: a command with its own --config changed");
    }
    let vols = |s: &Json| s["volumes"].as_array().cloned().unwrap_or_default();
    let (old_v, new_v) = (vols(before), vols(after));
    let mounted = old_v.iter().any(|v| v["target"] == compose::CONFIG_MOUNT);
    if had_config || mounted {
        assert_eq!(old_v, new_v, "{name}: volumes changed");
    } else {
        assert!(
            new_v.starts_with(&old_v) && new_v.len() == old_v.len() + 1,
            "{name}: volumes"
        );
        let mount = &new_v[old_v.len()];
        assert_eq!(
            mount["source"],
            format!("{}/dapr-config.yml", super::oracle::PROJECT),
            "{name}: the config mount's source is not the written file"
        );
        assert_eq!(mount["target"], compose::CONFIG_MOUNT);
        assert_eq!(mount["read_only"], true);
    }
    // On a network of its own (not the app's namespace), it joins the platform network too.
    let own_network = after.get("network_mode").is_none();
    let rest = |s: &Json| {
        let mut s = s.clone();
        if let Some(m) = s.as_object_mut() {
            m.remove("command");
            m.remove("volumes");
            if own_network && let Some(nets) = m.get_mut("networks").and_then(Json::as_object_mut) {
                nets.remove("observability-net");
            }
            if own_network && let Some(labels) = m.get_mut("labels").and_then(Json::as_object_mut) {
                labels.remove(compose::METRICS_LABEL);
            }
            if m.get("labels")
                .is_some_and(|l| l.as_object().is_some_and(|o| o.is_empty()))
            {
                m.remove("labels");
            }
        }
        s
    };
    assert_eq!(
        rest(before),
        rest(after),
        "{name}: keys beyond command and volumes changed"
    );
}

/// Copies the external network declaration from `after` into `expected` when it is new.
fn copy_new_network(expected: &mut Json, after: &Json) {
    let Some(nets) = after["networks"].as_object() else {
        return;
    };
    for (k, n) in nets {
        if expected["networks"].get(k).is_none() {
            assert!(
                n["name"] == "observability-net" && n["external"] == true,
                "an unexpected network {k} was declared: {n}"
            );
            expected["networks"][k] = n.clone();
        }
    }
}

fn check_sidecar(sidecar: &Json, service: &str, app: &Json) {
    let s = |k: &str| &sidecar[k];
    assert_eq!(
        s("image"),
        &format!("daprio/daprd:{DAPR_VERSION}"),
        "sidecar image"
    );
    assert_eq!(
        s("network_mode"),
        &format!("service:{service}"),
        "sidecar network"
    );
    let command: Vec<&str> = s("command")
        .as_array()
        .expect("sidecar command is a list")
        .iter()
        .filter_map(Json::as_str)
        .collect();
    assert_eq!(command.first(), Some(&"./daprd"), "sidecar command");
    let app_id = command
        .iter()
        .position(|w| *w == "--app-id")
        .and_then(|i| command.get(i + 1))
        .expect("--app-id");
    assert!(
        !app_id.is_empty() && !app_id.contains('.'),
        "daprd rejects the app id {app_id:?}"
    );
    let mount = &s("volumes")[0];
    assert_eq!(
        mount["source"],
        format!("{}/dapr-config.yml", super::oracle::PROJECT),
        "the config mount's source is not the written file"
    );
    assert_eq!(mount["target"], compose::CONFIG_MOUNT);
    assert_eq!(mount["read_only"], true);
    // Profiles are a set: a name written twice enables nothing more.
    let set = |v: &Json| -> std::collections::BTreeSet<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p.as_str().map(String::from))
            .collect()
    };
    assert_eq!(
        set(s("profiles")),
        set(&app["profiles"]),
        "sidecar profiles follow the app's"
    );
    assert_eq!(
        s("restart"),
        &app["restart"],
        "sidecar restart follows the app's"
    );
    for key in [
        "networks",
        "ports",
        "expose",
        "hostname",
        "dns",
        "extra_hosts",
        "links",
    ] {
        assert!(sidecar.get(key).is_none(), "sidecar has {key}");
    }
}
