//! Every real compose file in ../shared/corpus is either onboarded correctly or refused
//! with a clear message: never corrupted.

// The corpus report on stderr is part of the point of this test.
#![allow(clippy::print_stderr)]

mod common;

use obs_init::compose::{self, ComposeOptions};
use obs_init::error::ComposeError;
use obs_init::remove;

/// The first service in file order that has `image` or `build` and is neither a Dapr sidecar
/// nor on another container's network.
fn first_app(text: &str) -> Option<(String, bool)> {
    let (_, doc) = compose::parse(text).ok()?;
    let services = compose::services(&doc).ok()?;
    for (k, v) in services.entries()? {
        let v = doc.resolve(v);
        let image = v.get("image").and_then(|i| i.as_str()).unwrap_or("");
        let has = v.get("image").is_some() || v.get("build").is_some();
        if has && v.get("network_mode").is_none() && !image.contains("daprd") {
            return Some((k.as_str()?.to_string(), v.get("networks").is_some()));
        }
    }
    // No app-like service: try the first one, which must then be refused cleanly.
    let (k, v) = services.entries()?.first()?;
    Some((k.as_str()?.to_string(), v.get("networks").is_some()))
}

fn options(service: &str) -> ComposeOptions {
    ComposeOptions {
        services: vec![service.to_string()],
        app_ports: Vec::new(),
        dapr_version: "1.18.3".into(),
        config_source: "./dapr-config.yml".into(),
        extra_env: Vec::new(),
        overwrite: false,
    }
}

#[test]
fn every_corpus_file_is_onboarded_or_cleanly_refused() {
    let dir = common::shared().join("corpus/compose");
    let validator = common::schema_validator();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("corpus")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    assert!(files.len() >= 50, "corpus is incomplete: {}", files.len());

    let (mut onboarded, mut refused, mut failed) = (Vec::new(), Vec::new(), Vec::new());
    for path in &files {
        let name = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .to_string();
        let text = std::fs::read_to_string(path).expect("corpus files are UTF-8");
        let target = first_app(&text);
        let service = target
            .as_ref()
            .map_or("app".to_string(), |(s, _)| s.clone());
        let result = std::panic::catch_unwind(|| compose::onboard(&text, &options(&service)));
        match result {
            Err(_) => failed.push(format!("{name}: panicked")),
            Ok(Err(ComposeError::Internal(m))) => failed.push(format!("{name}: {m}")),
            Ok(Err(e)) => refused.push(format!("{name}: {e}")),
            Ok(Ok(out)) => {
                let checks = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    let before_errors = common::schema_errors(&validator, &text);
                    let after_errors = common::schema_errors(&validator, &out.after);
                    // Files that break the schema before onboarding may keep those errors;
                    // onboarding must not add any.
                    let added: Vec<_> = after_errors
                        .iter()
                        .filter(|e| !before_errors.contains(e))
                        .collect();
                    assert!(added.is_empty(), "new schema errors: {added:?}");
                    common::assert_only_insertions(&text, &out.after);
                    let had_networks = target.as_ref().is_some_and(|(_, n)| *n);
                    let had_sidecar = text.contains(&format!("{service}-dapr:"));
                    common::assert_onboarded(&out.after, &service, had_networks, !had_sidecar);
                    let again = compose::onboard(&out.after, &options(&service)).expect("rerun");
                    assert_eq!(again.after, out.after, "second run changed the file");
                    assert!(again.changes.is_empty(), "second run planned changes");
                    let undo = remove::remove(
                        &out.after,
                        &remove::RemoveOptions {
                            services: vec![service.clone()],
                            keep_empty: compose::filled_empty_keys(&out.changes),
                            added: Some(compose::added_paths(&out.changes)),
                        },
                    )
                    .expect("remove");
                    assert_eq!(undo.after, text, "onboard then remove is not the original");
                }));
                match checks {
                    Ok(()) => onboarded.push(name),
                    Err(e) => {
                        let msg = e
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                            .unwrap_or_default();
                        failed.push(format!("{name}: {msg}"));
                    }
                }
            }
        }
    }
    eprintln!(
        "corpus: {} onboarded, {} refused, {} failed",
        onboarded.len(),
        refused.len(),
        failed.len()
    );
    for r in &refused {
        eprintln!("  refused  {r}");
    }
    for f in &failed {
        eprintln!("  FAILED   {f}");
    }
    assert!(failed.is_empty(), "{} corpus files failed", failed.len());
    // A regression that refuses everything would pass the check above; it must not.
    assert!(onboarded.len() >= 40, "only {} onboarded", onboarded.len());
}
