//! Helpers shared by the integration tests: the test data in `tests/data`, a YAML -> JSON
//! conversion (aliases and merge keys resolved as Compose does) for schema validation, and
//! checks that do not rely on obs-init's own verifier.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use obs_init::yaml::doc::{Document, Kind, Node};
use obs_init::yaml::model::{Data, resolve_scalar};
use obs_init::yaml::text::Text;
use serde_json::{Map, Value as Json};

pub mod edits;
pub mod oracle;

/// `tests/data`: the compose corpus (with its index of sources) and the Compose schema, kept
/// in the repo so that a fresh clone tests alone.
pub fn data() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

pub fn parse(text: &str) -> (Text, Document) {
    let t = Text::new(text);
    let doc = Document::parse(&t).unwrap_or_else(|e| panic!("does not parse: {e:?}"));
    (t, doc)
}

/// The document as JSON, the way Compose reads it: aliases expanded, `<<` merged (local keys
/// win), tags dropped.
pub fn to_json(doc: &Document) -> Json {
    doc.root.as_ref().map_or(Json::Null, |r| node_json(doc, r))
}

fn node_json(doc: &Document, node: &Node) -> Json {
    let node = doc.resolve(node);
    match &node.kind {
        Kind::Scalar { value, style } => {
            let plain = *style == obs_init::yaml::doc::Style::Plain;
            match resolve_scalar(value, plain, node.tag.as_deref()) {
                Data::Null => Json::Null,
                Data::Bool(b) => Json::Bool(b),
                Data::Int(i) => serde_json::json!(i as i64),
                Data::Float(f) => serde_json::json!(f.parse::<f64>().unwrap_or(0.0)),
                Data::Str(s) => Json::String(s),
                _ => unreachable!(),
            }
        }
        Kind::Seq { items, .. } => Json::Array(items.iter().map(|i| node_json(doc, i)).collect()),
        Kind::Map { entries, .. } => {
            let mut out = Map::new();
            let mut merged = Map::new();
            for (k, v) in entries {
                let key = match node_json(doc, k) {
                    Json::String(s) => s,
                    other => other.to_string(),
                };
                if key == "<<" {
                    let sources = match node_json(doc, v) {
                        Json::Array(a) => a,
                        one => vec![one],
                    };
                    for s in sources {
                        if let Json::Object(m) = s {
                            for (mk, mv) in m {
                                merged.entry(mk).or_insert(mv);
                            }
                        }
                    }
                } else {
                    out.insert(key, node_json(doc, v));
                }
            }
            for (k, v) in merged {
                out.entry(k).or_insert(v);
            }
            Json::Object(out)
        }
        Kind::Alias(_) => Json::Null,
    }
}

pub fn schema_validator() -> jsonschema::Validator {
    let schema: Json = serde_json::from_str(
        &std::fs::read_to_string(data().join("compose-spec.json")).expect("schema"),
    )
    .expect("schema is JSON");
    jsonschema::validator_for(&schema).expect("schema compiles")
}

/// Errors of `text` against the Compose schema, one line each.
pub fn schema_errors(validator: &jsonschema::Validator, text: &str) -> Vec<String> {
    let (_, doc) = parse(text);
    let json = to_json(&doc);
    validator
        .iter_errors(&json)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

/// Asserts `after` is `before` with text only inserted: `before` is a subsequence of
/// `after` (the exact meaning of "nothing deleted or changed"; greedy matching decides it).
pub fn assert_only_insertions(before: &str, after: &str) {
    let mut rest = after.chars();
    for (i, c) in before.char_indices() {
        assert!(
            rest.any(|a| a == c),
            "original text was changed or lost from byte {i}: {:?}",
            &before[i..before.len().min(i + 40)]
        );
    }
}

/// Checks the onboarded meaning of `service` in `after`, independently of obs-init's model.
pub fn assert_onboarded(after: &str, service: &str, had_networks: bool, new_sidecar: bool) {
    let (_, doc) = parse(after);
    let json = to_json(&doc);
    let svc = &json["services"][service];
    let env = &svc["environment"];
    let has_env = |k: &str, v: &str| match env {
        Json::Array(items) => items.iter().any(|i| {
            i.as_str()
                .is_some_and(|s| s.split_once('=').is_some_and(|(a, _)| a == k) || s == k)
        }),
        Json::Object(m) => m.contains_key(k),
        _ => panic!("{service}: environment missing: {env}"),
    } || v.is_empty();
    assert!(
        has_env("OTEL_COLLECTOR_ENDPOINT", ""),
        "{service}: collector endpoint var"
    );
    assert!(
        has_env("OTEL_EXPORTER_OTLP_ENDPOINT", ""),
        "{service}: OTLP endpoint var"
    );
    assert!(
        has_env("OTEL_SERVICE_NAME", ""),
        "{service}: service name var"
    );
    let nets: Vec<String> = match &svc["networks"] {
        Json::Array(a) => a
            .iter()
            .filter_map(|x| x.as_str().map(String::from))
            .collect(),
        Json::Object(m) => m.keys().cloned().collect(),
        other => panic!("{service}: networks missing: {other}"),
    };
    let declared = json["networks"].as_object().expect("top-level networks");
    let ours = declared
        .iter()
        .find(|(k, v)| {
            v["name"].as_str().unwrap_or(k.as_str()) == "observability-net"
                && (v["external"] == Json::Bool(true) || v["external"].is_object())
        })
        .map(|(k, _)| k.clone())
        .expect("observability-net declared external");
    assert!(nets.contains(&ours), "{service}: not on {ours}: {nets:?}");
    if !had_networks {
        assert!(
            nets.contains(&"default".to_string()),
            "{service}: left default"
        );
    }
    let sidecar = &json["services"][format!("{service}-dapr")];
    assert!(!sidecar.is_null(), "{service}: no sidecar");
    if new_sidecar {
        assert_eq!(
            sidecar["network_mode"],
            Json::String(format!("service:{service}"))
        );
        assert!(
            sidecar["image"]
                .as_str()
                .is_some_and(|i| i.starts_with("daprio/daprd:"))
        );
        assert_eq!(sidecar["command"][0], "./daprd");
        assert!(sidecar.get("networks").is_none() && sidecar.get("ports").is_none());
        assert!(sidecar.get("depends_on").is_none());
    }
}

/// Runs one of the tests' install scripts (`tests/<rel>`, which installs what the tests need
/// once, cached outside the repo) and returns what it printed: the paths of what it installed.
pub fn install(rel: &str) -> String {
    install_with(rel, &[])
}

/// [`install`] with arguments to the script (`e2e/venv.sh LOCK`).
pub fn install_with(rel: &str, args: &[&Path]) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(rel);
    let out = Command::new("bash")
        .arg(&script)
        .args(args)
        .output()
        .expect("bash runs");
    assert!(
        out.status.success(),
        "{rel} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("paths are UTF-8")
}

/// The Python of the cached venv `tests/e2e/venv.sh` makes from `tests/e2e/<lock>`: a
/// framework with the OpenTelemetry lines obs-init writes for it (`flask.lock`,
/// `django.lock`, `celery.lock`), real Dagster with dagster-docker, the locking tools.
/// Installed once per test binary and lock.
pub fn venv_python(lock: &str) -> &'static Path {
    static PYTHONS: std::sync::Mutex<Vec<(String, &'static Path)>> =
        std::sync::Mutex::new(Vec::new());
    let mut known = PYTHONS.lock().expect("lock");
    if let Some((_, p)) = known.iter().find(|(l, _)| l == lock) {
        return p;
    }
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/e2e")
        .join(lock);
    let python = PathBuf::from(install_with("e2e/venv.sh", &[&file]).trim());
    let python: &'static Path = Box::leak(python.into_boxed_path());
    known.push((lock.to_string(), python));
    python
}

/// Every file below `root` (but git's and Python's caches), by its path with `/`, with its
/// bytes.
pub fn read_tree(root: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("readable dir") {
            let path = entry.expect("entry").path();
            if path
                .file_name()
                .is_some_and(|n| n == ".git" || n == "__pycache__")
            {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path
                    .strip_prefix(root)
                    .expect("inside root")
                    .to_string_lossy()
                    .replace('\\', "/");
                out.insert(rel, std::fs::read(&path).expect("readable file"));
            }
        }
    }
    out
}

/// Copies the tree at `from` to `to`, creating `to`.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("dir") {
        let path = entry.expect("entry").path();
        let dest = to.join(path.file_name().expect("name"));
        if path.is_dir() {
            copy_dir(&path, &dest);
        } else {
            std::fs::copy(&path, &dest).expect("copy");
        }
    }
}

/// `run` on each of `jobs` (with its index), on every core, while `more` says to go on:
/// the results, in no particular order. The real Compose takes tens of milliseconds a call,
/// so the oracle runs use both of CI's cores.
pub fn in_parallel<T: Sync, R: Send>(
    jobs: &[T],
    more: impl Fn() -> bool + Sync,
    run: impl Fn(usize, &T) -> R + Sync,
) -> Vec<R> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    while more() {
                        let j = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(job) = jobs.get(j) else { break };
                        done.push(run(j, job));
                    }
                    done
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("worker"))
            .collect()
    })
}

/// Runs `cmd`: whether it succeeded, and what it printed (stdout, then stderr) for messages.
pub fn outcome(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().expect("the command runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The real binary run in `dir` with `args`, colours off, as a user in CI would.
pub fn obs_init_in(dir: &Path, args: &[&str]) -> std::process::Output {
    assert_cmd::Command::cargo_bin("obs-init")
        .expect("binary")
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .args(args)
        .output()
        .expect("runs")
}

/// What a run printed, stdout then stderr.
pub fn printed(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
