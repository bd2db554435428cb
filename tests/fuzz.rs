//! Property test of plan -> verify on generated compose-like YAML, plus byte-level mutations.
//!
//! The invariant: no panic; every result is a clean refusal, or a new text that keeps every
//! original byte (only insertions), parses, and is left alone by a second run. An internal
//! error (the self-check catching a bad edit) counts as a failure too: it is a bug.
//!
//! Runs 3,000 cases by default; `OBS_INIT_FUZZ_CASES=1000000 cargo test --release --test fuzz
//! -- --nocapture` runs more, and `OBS_INIT_FUZZ_SEED` picks the seed. A failing case is
//! printed in full, ready to become a fixture under tests/cases/.

// The run's statistics on stderr are part of the point of this test.
#![allow(clippy::print_stderr)]

mod common;

use obs_init::compose::{self, ComposeOptions};
use obs_init::error::ComposeError;
use obs_init::remove;

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
    let flow_services = rng.chance(5);
    let count = 1 + rng.below(4);
    let mut names: Vec<&str> = Vec::new();
    while names.len() < count {
        let n = *rng.pick(&NAMES);
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
        for name in &names {
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
            }
            if rng.chance(60) {
                out.push_str(&format!("{i2}image: \"example/{}:1\"\n", name.len()));
            } else {
                out.push_str(&format!("{i2}build: .\n"));
            }
            if rng.chance(10) {
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
                5 => out.push_str(&format!("{i2}environment:\n")),
                _ if anchor_env => out.push_str(&format!("{i2}environment: *common-env\n")),
                _ => out.push_str(&format!("{i2}environment: []\n")),
            }
            match rng.below(6) {
                0 => {}
                1 => out.push_str(&format!("{i2}networks:\n{}- backend\n", i3(seq_indent))),
                2 => out.push_str(&format!("{i2}networks:\n{}backend: {{}}\n", i3(step))),
                3 => out.push_str(&format!("{i2}networks: [backend]\n")),
                4 => out.push_str(&format!("{i2}networks:\n")),
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
            if rng.chance(15) {
                out.push_str(&format!(
                    "{i2}command: |\n{}echo start\n\n{}run\n",
                    i3(step),
                    i3(step)
                ));
            }
            if rng.chance(10) {
                out.push_str(&format!("{i2}labels: !reset []\n"));
            }
        }
    }
    match rng.below(6) {
        0 | 1 => {}
        2 => out.push_str("networks:\n  backend: {}\n"),
        3 => out.push_str("networks:\n  backend:\n  observability-net:\n    external: true\n"),
        4 => out.push_str("networks: {backend: {}}\n"),
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
    if rng.chance(15) {
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

fn first_service(text: &str) -> Option<String> {
    let (_, doc) = compose::parse(text).ok()?;
    let services = compose::services(&doc).ok()?;
    services.entries()?.first()?.0.as_str().map(String::from)
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

/// Checks one input; `Err` describes the broken invariant.
fn check(text: &str) -> Result<&'static str, String> {
    let Some(service) = first_service(text) else {
        return match compose::onboard(text, &options("api")) {
            Err(ComposeError::Internal(m)) => Err(format!("internal error: {m}")),
            _ => Ok("unparsable or no services"),
        };
    };
    match compose::onboard(text, &options(&service)) {
        Err(ComposeError::Internal(m)) => Err(format!("internal error: {m}")),
        Err(_) => Ok("refused"),
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
            Ok("onboarded")
        }
    }
}

#[test]
fn generated_compose_files_are_onboarded_or_refused_never_corrupted() {
    let cases: u64 = std::env::var("OBS_INIT_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3_000);
    let seed: u64 = std::env::var("OBS_INIT_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x0b5e_1417);
    let mut rng = Rng(seed | 1);
    let (mut onboarded, mut refused, mut other) = (0u64, 0u64, 0u64);
    for n in 0..cases {
        let text = generate(&mut rng);
        let outcome = std::panic::catch_unwind(|| check(&text));
        match outcome {
            Ok(Ok("onboarded")) => onboarded += 1,
            Ok(Ok("refused")) => refused += 1,
            Ok(Ok(_)) => other += 1,
            Ok(Err(why)) => panic!("case {n} (seed {seed}): {why}\n--- input ---\n{text}\n---"),
            Err(_) => panic!("case {n} (seed {seed}) panicked\n--- input ---\n{text}\n---"),
        }
    }
    eprintln!("fuzz: {cases} cases: {onboarded} onboarded, {refused} refused, {other} unparsable");
    // A generator that only produced refusals would test nothing.
    assert!(
        onboarded * 4 > cases,
        "only {onboarded} of {cases} onboarded"
    );
}
