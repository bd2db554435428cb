//! Property test of plan -> verify on generated compose-like YAML (anchors nested in merged
//! mappings, merge keys, `extends`, profiles, every collection form), plus byte-level
//! mutations.
//!
//! The invariant: no panic; every result is a clean refusal, or a new text that keeps every
//! original byte (only insertions), is left alone by a second run, is restored byte for byte
//! by `remove`, and whose resolved model differs from the original's by exactly the
//! documented edits ([`common::edits`]). An internal error (the self-check catching a bad
//! edit) counts as a failure too: it is a bug.
//!
//! Every case is judged on obs-init's own reading of the YAML (merge keys and same-file
//! `extends` resolved); onboarded cases are also run, in order, through the real Docker
//! Compose until `OBS_INIT_FUZZ_COMPOSE` (default 2,000) of them had an original it accepts:
//! its model is the one that counts. It must accept the output whenever it accepted the
//! input, and resolve it to exactly the documented edits.
//!
//! Runs 5,000 cases by default; `OBS_INIT_FUZZ_CASES=1000000 cargo test --release --test fuzz
//! -- --nocapture` runs more, and `OBS_INIT_FUZZ_SEED` picks the seed. A failing case is
//! printed in full, ready to become a fixture under tests/cases/.

// The run's statistics on stderr are part of the point of this test.
#![allow(clippy::print_stderr)]

mod common;

use common::edits;
use common::oracle::{self, Profiles};
use obs_init::compose::remove;
use obs_init::compose::{self, ComposeOptions, ComposeOutcome};
use obs_init::error::Refusal;
use serde_json::Value as Json;
use std::path::Path;

/// xorshift64*: small, deterministic, good enough to pick shapes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const NAMES: [&str; 12] = [
    "api", "web", "worker", "db", "redis", "app_1", "my.svc", "yes", "123", "null", "a-b", "Über",
];

/// Writes a compose-like document with the file-level conventions picked at random.
fn generate(rng: &mut Rng) -> String {
    // Most files are kept to what Compose accepts (names it allows, no empty
    // collections, declared networks, no mutation), so that the real Compose can judge them.
    let strict = rng.chance(70);
    let step = *rng.pick(&[1usize, 2, 2, 2, 3, 4, 4]);
    let seq_indent = if rng.chance(30) { 0 } else { step };
    let ind = |n: usize| " ".repeat(n * step);
    let key = |name: &str| -> String {
        if name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            && !matches!(name, "yes" | "null" | "123")
        {
            name.to_string()
        } else {
            format!("\"{name}\"")
        }
    };
    let mut out = String::new();
    if rng.chance(10) {
        out.push_str("---\n");
    }
    if rng.chance(30) {
        out.push_str("# generated compose file\n");
    }
    if rng.chance(20) {
        out.push_str("version: \"3.8\"\n");
    }
    let anchor_env = rng.chance(25);
    if anchor_env {
        out.push_str("x-env: &common-env\n");
        out.push_str(&format!("{}TZ: UTC\n", ind(1)));
    }
    let anchor_svc = rng.chance(15);
    if anchor_svc {
        out.push_str(&format!("x-base: &base\n{}restart: always\n", ind(1)));
    }
    // Sentry's and Airflow's shape: the merged mapping defines anchors of its own.
    let anchor_defaults = rng.chance(20);
    if anchor_defaults {
        out.push_str("x-defaults: &defaults\n");
        out.push_str(&format!("{}restart: unless-stopped\n", ind(1)));
        out.push_str(&format!("{}environment: &defaults-env\n", ind(1)));
        out.push_str(&format!("{}CA: &ca \"/etc/ssl/ca.pem\"\n", ind(2)));
        out.push_str(&format!("{}REQUESTS_CA: *ca\n", ind(2)));
    }
    let flow_services = rng.chance(5);
    let count = 1 + rng.below(4);
    let mut names: Vec<&str> = Vec::new();
    while names.len() < count {
        let n = *rng.pick(&NAMES);
        if strict && n == "Über" {
            continue;
        }
        if !names.contains(&n) {
            names.push(n);
        }
    }
    if flow_services {
        let items: Vec<String> = names
            .iter()
            .map(|n| format!("{}: {{image: \"x/{}\"}}", key(n), n.len()))
            .collect();
        out.push_str(&format!("services: {{{}}}\n", items.join(", ")));
    } else {
        out.push_str("services:\n");
        for (index, name) in names.iter().enumerate() {
            if rng.chance(20) {
                out.push('\n');
            }
            if rng.chance(15) {
                out.push_str(&format!("{}# the {name} service\n", ind(1)));
            }
            out.push_str(&format!("{}{}:", ind(1), key(name)));
            if rng.chance(8) {
                out.push_str(" # trailing");
            }
            out.push('\n');
            let i2 = ind(2);
            let i3 = |n: usize| " ".repeat(2 * step + n);
            if anchor_svc && rng.chance(30) {
                out.push_str(&format!("{i2}<<: *base\n"));
            } else if anchor_defaults && rng.chance(40) {
                out.push_str(&format!("{i2}<<: *defaults\n"));
            }
            let extends = index > 0 && rng.chance(25);
            if extends {
                let base = key(names[rng.below(index)]);
                match rng.below(8) {
                    0..=3 => out.push_str(&format!("{i2}extends: {base}\n")),
                    4..=6 => out.push_str(&format!("{i2}extends:\n{}service: {base}\n", i3(step))),
                    _ if strict => out.push_str(&format!("{i2}extends: {base}\n")),
                    _ => out.push_str(&format!(
                        "{i2}extends: {{file: common.yml, service: {base}}}\n"
                    )),
                }
            }
            if extends && rng.chance(50) {
                // What it runs comes from its base.
            } else if rng.chance(60) {
                out.push_str(&format!("{i2}image: \"example/{}:1\"\n", name.len()));
            } else {
                out.push_str(&format!("{i2}build: .\n"));
            }
            match rng.below(10) {
                0 => out.push_str(&format!("{i2}profiles: [tools]\n")),
                1 => out.push_str(&format!(
                    "{i2}profiles:\n{}- debug\n{}- \"tools\"\n",
                    i3(seq_indent),
                    i3(seq_indent)
                )),
                _ => {}
            }
            match rng.below(10) {
                0 => out.push_str(&format!("{i2}restart: always\n")),
                1 => out.push_str(&format!("{i2}restart: \"no\"\n")),
                _ => {}
            }
            if !strict && rng.chance(10) {
                out.push_str(&format!("{i2}network_mode: host\n"));
            }
            match rng.below(7) {
                0 => {}
                1 => {
                    out.push_str(&format!("{i2}environment:\n"));
                    let dash = i3(seq_indent);
                    out.push_str(&format!("{dash}- A=1\n"));
                    if rng.chance(30) {
                        out.push_str(&format!("{dash}- \"B=two words\"\n"));
                    }
                    if rng.chance(20) {
                        out.push_str(&format!("{dash}- BARE\n"));
                    }
                    if rng.chance(15) {
                        out.push_str(&format!("{dash}- OTEL_SERVICE_NAME=other\n"));
                    }
                }
                2 => {
                    out.push_str(&format!("{i2}environment:\n"));
                    if anchor_env && rng.chance(50) {
                        out.push_str(&format!("{}<<: *common-env\n", i3(step)));
                    }
                    out.push_str(&format!("{}PORT: 8000\n", i3(step)));
                    if rng.chance(20) {
                        out.push_str(&format!("{}# feature flags\n", i3(step)));
                        out.push_str(&format!("{}FLAGS: \"a,b\"\n", i3(step)));
                    }
                }
                3 => out.push_str(&format!("{i2}environment: {{A: \"1\"}}\n")),
                4 => out.push_str(&format!("{i2}environment: [A=1]\n")),
                5 if !strict => out.push_str(&format!("{i2}environment:\n")),
                5 => {}
                _ if anchor_env => out.push_str(&format!("{i2}environment: *common-env\n")),
                _ => out.push_str(&format!("{i2}environment: []\n")),
            }
            match rng.below(6) {
                0 => {}
                1 => out.push_str(&format!("{i2}networks:\n{}- backend\n", i3(seq_indent))),
                2 => out.push_str(&format!("{i2}networks:\n{}backend: {{}}\n", i3(step))),
                3 => out.push_str(&format!("{i2}networks: [backend]\n")),
                4 if !strict => out.push_str(&format!("{i2}networks:\n")),
                4 => {}
                _ => out.push_str(&format!(
                    "{i2}networks:\n{}backend:\n{}aliases: [x]\n",
                    i3(step),
                    i3(2 * step)
                )),
            }
            if rng.chance(20) {
                let port = *rng.pick(&[
                    "8000:8000",
                    "3500",
                    "9090:9090",
                    "8080",
                    "127.0.0.1:80:80/tcp",
                ]);
                out.push_str(&format!("{i2}ports:\n{}- \"{port}\"\n", i3(seq_indent)));
            }
            match rng.below(20) {
                0..=2 => out.push_str(&format!(
                    "{i2}command: |\n{}echo start\n\n{}run\n",
                    i3(step),
                    i3(step)
                )),
                3 => out.push_str(&format!("{i2}command: uvicorn main:app --port 8000\n")),
                4 => out.push_str(&format!(
                    "{i2}command: [\"gunicorn\", \"-b\", \"0.0.0.0:3500\"]\n"
                )),
                _ => {}
            }
            if rng.chance(10) {
                out.push_str(&format!("{i2}labels: !reset []\n"));
            }
        }
    }
    let uses_backend = out.contains("backend");
    match rng.below(6) {
        0 | 1 if strict && uses_backend => out.push_str("networks:\n  backend: {}\n"),
        0 | 1 => {}
        2 => out.push_str("networks:\n  backend: {}\n"),
        3 => out.push_str("networks:\n  backend:\n  observability-net:\n    external: true\n"),
        4 => out.push_str("networks: {backend: {}}\n"),
        _ if strict => out.push_str("networks:\n  backend: {}\n"),
        _ => out.push_str("networks:\n"),
    }
    if rng.chance(20) {
        out.push_str("volumes:\n  data: {}\n");
    }
    if rng.chance(10) {
        out.push_str("# trailing comment\n");
    }
    if rng.chance(5) {
        out.push_str("...\n");
    }
    if rng.chance(15) {
        while out.ends_with('\n') {
            out.pop();
        }
    }
    if rng.chance(15) {
        out = out.replace('\n', "\r\n");
    }
    if rng.chance(5) {
        out.insert(0, '\u{feff}');
    }
    if !strict && rng.chance(15) {
        mutate(rng, &mut out);
    }
    out
}

/// A byte-level change of the kind hand-edited files have: a stray character, a lost or
/// doubled line, a tab.
fn mutate(rng: &mut Rng, text: &mut String) {
    let mut lines: Vec<String> = text.split('\n').map(String::from).collect();
    let i = rng.below(lines.len());
    match rng.below(5) {
        0 => {
            lines.remove(i);
        }
        1 => {
            let l = lines[i].clone();
            lines.insert(i, l);
        }
        2 => lines[i].insert(0, '\t'),
        3 => {
            const JUNK: [&str; 8] = [":", " #x", "[", "}", "'", "\"", " &a", " *a"];
            let junk: &&str = rng.pick(&JUNK);
            lines[i].push_str(junk);
        }
        _ => lines[i] = format!(" {}", lines[i]),
    }
    *text = lines.join("\n");
}

/// One of the file's services, picked by `pick` (a random number).
fn some_service(text: &str, pick: usize) -> Option<String> {
    let (_, doc) = compose::parse(text).ok()?;
    let services = compose::services(&doc).ok()?;
    let entries = services.entries()?;
    entries
        .get(pick % entries.len().max(1))?
        .0
        .as_str()
        .map(String::from)
}

fn options(service: &str) -> ComposeOptions {
    ComposeOptions {
        services: vec![service.to_string()],
        app_ports: Vec::new(),
        dapr_version: "1.18.3".into(),
        config_source: "./dapr-config.yml".into(),
        extra_env: Vec::new(),
        withheld_env: Vec::new(),
        namespace: obs_init::contract::compose_namespace(Some("shop")),
    }
}

fn label_skipped(out: &ComposeOutcome) -> bool {
    out.notes
        .iter()
        .any(|n| n.message.contains(compose::METRICS_LABEL))
}

/// The documented edits, and nothing else, between two resolved models.
fn model_check(
    before: &Json,
    after: &Json,
    service: &str,
    out: &ComposeOutcome,
) -> Result<(), String> {
    let judged =
        std::panic::catch_unwind(|| edits::documented(before, after, service, label_skipped(out)));
    match judged {
        Ok(expected) if &expected == after => Ok(()),
        Ok(expected) => Err(format!(
            "the model changed beyond the documented edits:\n{}",
            oracle::diff(&expected, after)
        )),
        Err(e) => Err(e
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default()),
    }
}

/// The model obs-init's own parser reads, in Compose's forms.
fn local_model(text: &str) -> Json {
    let (_, doc) = common::parse(text);
    edits::normalize(&common::to_json(&doc))
}

/// How one input went, and what was onboarded (service and outcome) for the Compose run.
type Checked = (&'static str, Option<(String, ComposeOutcome)>);

/// Checks one input, onboarding the service `pick` selects; `Err` describes the
/// broken invariant. On success, also what was onboarded (for the Compose run).
fn check(text: &str, pick: usize) -> Result<Checked, String> {
    let Some(service) = some_service(text, pick) else {
        return match compose::onboard(text, &options("api")) {
            Err(Refusal::Internal(m)) => Err(format!("internal error: {m}")),
            _ => Ok(("unparsable or no services", None)),
        };
    };
    match compose::onboard(text, &options(&service)) {
        Err(Refusal::Internal(m)) => Err(format!("internal error: {m}")),
        Err(_) => Ok(("refused", None)),
        Ok(out) => {
            let only_inserted = std::panic::catch_unwind(|| {
                common::assert_only_insertions(text, &out.after);
            });
            if only_inserted.is_err() {
                return Err("original bytes were changed".into());
            }
            let again = compose::onboard(&out.after, &options(&service))
                .map_err(|e| format!("the output was refused on a second run: {e}"))?;
            if again.after != out.after {
                return Err("a second run changed the output".into());
            }
            let undo = remove::remove(
                &out.after,
                &remove::RemoveOptions {
                    services: vec![service.clone()],
                    keep_empty: compose::filled_empty_keys(&out.changes),
                    added: Some(compose::added_paths(&out.changes)),
                },
            )
            .map_err(|e| format!("remove failed: {e}"))?;
            if undo.after != text {
                return Err(format!(
                    "onboard then remove is not the original:\n--- after remove ---\n{}",
                    undo.after
                ));
            }
            model_check(&local_model(text), &local_model(&out.after), &service, &out)
                .map_err(|e| format!("{service}: {e}"))?;
            Ok(("onboarded", Some((service, out))))
        }
    }
}

/// What the real Compose made of one onboarded case.
enum Judged {
    /// Compose rejects the original (why): nothing to compare.
    Rejected(String),
    Agreed,
}

/// Runs the real Compose on one onboarded case in `dir`.
fn compose_check(
    dir: &Path,
    text: &str,
    service: &str,
    out: &ComposeOutcome,
) -> Result<Judged, String> {
    std::fs::create_dir_all(dir).expect("mkdir");
    let file = dir.join("compose.yaml");
    let settings: &[Profiles] = if text.contains("profiles") {
        &Profiles::BOTH
    } else {
        &[Profiles::None]
    };
    std::fs::write(&file, text).expect("write");
    let mut before = Vec::new();
    for p in settings {
        match oracle::config(dir, &[&file], *p) {
            Ok(m) => before.push((*p, m)),
            Err(why) => return Ok(Judged::Rejected(why)),
        }
    }
    std::fs::write(&file, &out.after).expect("write");
    for (p, model) in &before {
        let after = oracle::config(dir, &[&file], *p)
            .map_err(|e| format!("Compose rejects the output ({p:?} profiles): {e}"))?;
        model_check(model, &after, service, out).map_err(|e| format!("({p:?} profiles) {e}"))?;
    }
    Ok(Judged::Agreed)
}

#[test]
fn generated_compose_files_are_onboarded_or_refused_never_corrupted() {
    let var = |name: &str, default: u64| -> u64 {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let cases = var("OBS_INIT_FUZZ_CASES", 5_000);
    let seed = var("OBS_INIT_FUZZ_SEED", 0x0b5e_1417);
    let with_compose = var("OBS_INIT_FUZZ_COMPOSE", 2_000);
    let mut rng = Rng(seed | 1);
    let (mut onboarded, mut refused, mut other) = (0u64, 0u64, 0u64);
    let mut for_compose = Vec::new();
    // A failure is reported once, with its input, not by the panic hook as well.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let mut failure = None;
    for n in 0..cases {
        let text = generate(&mut rng);
        let pick = rng.below(8);
        let outcome = std::panic::catch_unwind(|| check(&text, pick));
        match outcome {
            Ok(Ok(("onboarded", done))) => {
                onboarded += 1;
                for_compose.extend(done.map(|d| (n, text, d)));
            }
            Ok(Ok(("refused", _))) => refused += 1,
            Ok(Ok(_)) => other += 1,
            Ok(Err(why)) => {
                failure = Some(format!(
                    "case {n} (seed {seed}): {why}\n--- input ---\n{text}\n---"
                ))
            }
            Err(_) => {
                failure = Some(format!(
                    "case {n} (seed {seed}) panicked\n--- input ---\n{text}\n---"
                ))
            }
        }
        if failure.is_some() {
            break;
        }
    }
    std::panic::set_hook(hook);
    if let Some(failure) = failure {
        panic!("{failure}");
    }
    eprintln!("fuzz: {cases} cases: {onboarded} onboarded, {refused} refused, {other} unparsable");

    // The differential run: onboarded cases in order, judged by the real Compose on every
    // core, until `with_compose` of them had an original Compose accepts.
    let work = tempfile::tempdir().expect("tempdir");
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
    let agreed_so_far = AtomicUsize::new(0);
    let judged: Vec<(u64, Result<Judged, String>)> = common::in_parallel(
        &for_compose,
        || agreed_so_far.load(Relaxed) < with_compose as usize,
        |_, (n, text, (service, out))| {
            let dir = work.path().join(format!("case-{n}"));
            let result = compose_check(&dir, text, service, out);
            if matches!(result, Ok(Judged::Agreed)) {
                agreed_so_far.fetch_add(1, Relaxed);
            }
            let _ = std::fs::remove_dir_all(&dir);
            (*n, result)
        },
    );
    let agreed = judged
        .iter()
        .filter(|(_, r)| matches!(r, Ok(Judged::Agreed)))
        .count();
    let rejected = judged
        .iter()
        .filter(|(_, r)| matches!(r, Ok(Judged::Rejected(_))))
        .count();
    eprintln!(
        "fuzz: real Compose: {} onboarded cases run, {agreed} resolved to exactly the documented edits, {rejected} originals it rejects",
        judged.len()
    );
    if std::env::var_os("OBS_INIT_FUZZ_REJECTIONS").is_some() {
        for (n, r) in &judged {
            if let Ok(Judged::Rejected(why)) = r {
                eprintln!("  case {n}: Compose rejects the original: {why}");
            }
        }
    }
    if let Some((n, Err(why))) = judged.iter().find(|(_, r)| r.is_err()) {
        let text = &for_compose.iter().find(|(m, _, _)| m == n).expect("case").1;
        panic!("case {n} (seed {seed}), real Compose: {why}\n--- input ---\n{text}\n---");
    }
    // A generator that only produced refusals would test nothing.
    assert!(
        onboarded * 4 > cases,
        "only {onboarded} of {cases} onboarded"
    );
    assert!(
        agreed as u64 >= with_compose.min(onboarded / 2),
        "Compose judged only {agreed} files (wanted {with_compose})"
    );
}
