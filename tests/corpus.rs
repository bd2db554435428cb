//! Every candidate service of every real compose file in `tests/data/compose` is either
//! onboarded so that the real Docker Compose sees exactly the documented edits and nothing
//! else, or refused with a clear message: never corrupted, never changed in meaning.
//!
//! For each file, Compose resolves the original (`config --format json`, with no profile
//! and with every profile). Then each candidate service (built or run from an image, on its
//! own network namespace, not a Dapr sidecar) is onboarded alone, and Compose resolves the
//! result: it must accept it whenever it accepted the original, and the two models must
//! differ by exactly the sidecar, the app's new networks, variables and label, and the
//! external network. Files Compose itself rejects are reported with its reason, and their
//! services still go through the text checks (insertions only, idempotent, remove restores).
//!
//! What an original needs around it to load (placeholder `.env` values, empty env files, the
//! files it includes) is in `tests/data/compose/load/<file>/`: copied in as the project's
//! parent folder, with the compose file in its `project/` folder.
//!
//! A project whose override file Compose reads with it (`docker-compose.override.yml`, from
//! the same commit) has it in `tests/data/compose/overrides/<file>/`: the original is the
//! pair (`-f file -f override`), onboarding reads both as one project and edits each, and
//! the pair's model is judged, each file's bytes given back by `remove`.
//! `OBS_INIT_CORPUS=WORDS` runs only the files whose name holds WORDS.

// The corpus report on stderr is part of the point of this test.
#![allow(clippy::print_stderr)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::edits;
use common::oracle::{self, Profiles};
use obs_init::compose::{self, ComposeOptions, ComposeOutcome};
use obs_init::compose::{overlay, remove};
use obs_init::error::Refusal;
use serde_json::Value as Json;

fn options(service: &str) -> ComposeOptions {
    ComposeOptions {
        services: vec![service.to_string()],
        app_ports: Vec::new(),
        dapr_version: edits::DAPR_VERSION.into(),
        config_source: "./dapr-config.yml".into(),
        extra_env: Vec::new(),
        withheld_env: Vec::new(),
        namespace: obs_init::contract::compose_namespace(Some("shop")),
    }
}

/// One corpus file laid out as a project: its load helpers, and the file itself.
struct Project {
    name: String,
    text: String,
    /// The override files Compose reads after it, by name, with their text.
    overrides: Vec<(String, String)>,
    load: PathBuf,
    /// What Compose resolves the original to, per profile setting, or why it rejects it.
    before: Vec<(Profiles, Result<Json, String>)>,
}

impl Project {
    /// Writes the project under `root` with `content` as its compose file, returning the
    /// project's folder and the file.
    fn lay_out(&self, root: &Path, content: &str) -> (PathBuf, PathBuf) {
        let overrides: Vec<&str> = self.overrides.iter().map(|(_, t)| t.as_str()).collect();
        let (dir, files) = self.lay_out_all(root, &[&[content], &overrides[..]].concat());
        (dir, files[0].clone())
    }

    /// Writes the project under `root` with `contents` as its compose file and overrides,
    /// returning the project's folder and the files, in Compose's order.
    fn lay_out_all(&self, root: &Path, contents: &[&str]) -> (PathBuf, Vec<PathBuf>) {
        if self.load.is_dir() {
            common::copy_dir(&self.load, root);
        }
        let dir = root.join("project");
        std::fs::create_dir_all(&dir).expect("mkdir");
        let names = std::iter::once(&self.name).chain(self.overrides.iter().map(|(n, _)| n));
        let files: Vec<PathBuf> = names
            .zip(contents)
            .map(|(name, content)| {
                let file = dir.join(name);
                std::fs::write(&file, content).expect("write compose file");
                file
            })
            .collect();
        (dir, files)
    }

    /// The compose file's text, then each override's.
    fn texts(&self) -> Vec<&str> {
        std::iter::once(self.text.as_str())
            .chain(self.overrides.iter().map(|(_, t)| t.as_str()))
            .collect()
    }

    fn accepted(&self) -> bool {
        self.before.iter().all(|(_, m)| m.is_ok())
    }
}

/// What happened to one service.
enum Outcome {
    Onboarded,
    Refused(String, String),
    Failed(String),
}

/// The refusal's kind, for grouping: the error variant's name.
fn kind(e: &Refusal) -> String {
    let debug = format!("{e:?}");
    debug
        .split(|c: char| !c.is_alphanumeric())
        .next()
        .unwrap_or("")
        .to_string()
}

fn run_service(project: &Project, service: &str, work: &Path) -> Outcome {
    if !project.overrides.is_empty() {
        return run_project(project, service, work);
    }
    let result = std::panic::catch_unwind(|| compose::onboard(&project.text, &options(service)));
    let out = match result {
        Err(_) => return Outcome::Failed("onboarding panicked".into()),
        Ok(Err(Refusal::Internal(m))) => return Outcome::Failed(m),
        Ok(Err(e)) => return Outcome::Refused(kind(&e), e.to_string()),
        Ok(Ok(out)) => out,
    };
    let checks = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        text_checks(project, service, &out);
        if project.accepted() {
            let (dir, file) = project.lay_out(work, &out.after);
            for (profiles, before) in &project.before {
                let before = before.as_ref().expect("accepted");
                let after = oracle::config(&dir, &[&file], *profiles).unwrap_or_else(|e| {
                    panic!("Compose rejects the output ({profiles:?} profiles): {e}")
                });
                let label_skipped = out
                    .notes
                    .iter()
                    .any(|n| n.message.contains(compose::METRICS_LABEL));
                let expected = edits::documented(before, &after, service, label_skipped);
                assert!(
                    expected == after,
                    "the model changed beyond the documented edits ({profiles:?} profiles):\n{}",
                    oracle::diff(&expected, &after)
                );
            }
        }
    }));
    match checks {
        Ok(()) => Outcome::Onboarded,
        Err(e) => Outcome::Failed(
            e.downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default(),
        ),
    }
}

/// One service of a project of several files, onboarded through all of them: each file
/// only gains text, a second run changes none, `remove` gives each file its bytes back, and
/// Compose, given the files in order, resolves exactly the documented edits.
fn run_project(project: &Project, service: &str, work: &Path) -> Outcome {
    let texts = project.texts();
    let result = std::panic::catch_unwind(|| compose::onboard_files(&texts, &options(service)));
    let outs = match result {
        Err(_) => return Outcome::Failed("onboarding panicked".into()),
        Ok(Err((_, Refusal::Internal(m)))) => return Outcome::Failed(m),
        Ok(Err((_, e))) => return Outcome::Refused(kind(&e), e.to_string()),
        Ok(Ok(outs)) => outs,
    };
    let checks = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let afters: Vec<&str> = outs.iter().map(|o| o.after.as_str()).collect();
        let again = compose::onboard_files(&afters, &options(service)).expect("rerun");
        for ((text, out), again) in texts.iter().zip(&outs).zip(&again) {
            common::assert_only_insertions(text, &out.after);
            assert_eq!(again.after, out.after, "second run changed a file");
            if out.changes.is_empty() {
                continue;
            }
            let undo = remove::remove(
                &out.after,
                &remove::RemoveOptions {
                    services: vec![service.to_string()],
                    keep_empty: compose::filled_empty_keys(&out.changes),
                    added: Some(compose::added_paths(&out.changes)),
                },
            )
            .expect("remove");
            assert_eq!(&undo.after, text, "onboard then remove is not the original");
        }
        if project.accepted() {
            let (dir, files) = project.lay_out_all(work, &afters);
            let files: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
            for (profiles, before) in &project.before {
                let before = before.as_ref().expect("accepted");
                let after = oracle::config(&dir, &files, *profiles).unwrap_or_else(|e| {
                    panic!("Compose rejects the output ({profiles:?} profiles): {e}")
                });
                let label_skipped = outs
                    .iter()
                    .flat_map(|o| &o.notes)
                    .any(|n| n.message.contains(compose::METRICS_LABEL));
                let expected = edits::documented(before, &after, service, label_skipped);
                assert!(
                    expected == after,
                    "the model changed beyond the documented edits ({profiles:?} profiles):\n{}",
                    oracle::diff(&expected, &after)
                );
            }
        }
    }));
    match checks {
        Ok(()) => Outcome::Onboarded,
        Err(e) => Outcome::Failed(
            e.downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default(),
        ),
    }
}

/// The overlay for one service: Compose, given the untouched file and the overlay, must
/// resolve exactly the documented edits (as for the in-place edit), whatever anchors, merge
/// keys or `extends` the file uses.
fn run_overlay(project: &Project, service: &str, work: &Path) -> Outcome {
    let texts = project.texts();
    let result = std::panic::catch_unwind(|| overlay::overlay_files(&texts, &options(service)));
    let out = match result {
        Err(_) => return Outcome::Failed("the overlay panicked".into()),
        Ok(Err(Refusal::Internal(m))) => return Outcome::Failed(m),
        Ok(Err(e)) => return Outcome::Refused(kind(&e), e.to_string()),
        Ok(Ok(out)) => out,
    };
    let checks = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let again = overlay::overlay_files(&texts, &options(service)).expect("rerun");
        assert_eq!(again.text, out.text, "a second run wrote another overlay");
        if project.accepted() {
            let (dir, files) = project.lay_out_all(work, &project.texts());
            let file = files[0].clone();
            let overlay_file = dir.join("compose.observability.yaml");
            std::fs::write(&overlay_file, &out.text).expect("write overlay");
            let mut all: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
            all.push(&overlay_file);
            for (profiles, before) in &project.before {
                let before = before.as_ref().expect("accepted");
                let after = oracle::config(&dir, &all, *profiles).unwrap_or_else(|e| {
                    panic!("Compose rejects base plus overlay ({profiles:?} profiles): {e}")
                });
                let expected = edits::documented(before, &after, service, false);
                assert!(
                    expected == after,
                    "the model changed beyond the documented edits ({profiles:?} profiles):\n{}",
                    oracle::diff(&expected, &after)
                );
            }
            let base = std::fs::read_to_string(&file).expect("read");
            assert_eq!(base, project.text, "the compose file changed");
        }
    }));
    match checks {
        Ok(()) => Outcome::Onboarded,
        Err(e) => Outcome::Failed(
            e.downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default(),
        ),
    }
}

/// The checks that need no Compose: text only inserted, a second run byte-identical, and
/// `remove` restoring the original bytes.
fn text_checks(project: &Project, service: &str, out: &ComposeOutcome) {
    let text = &project.text;
    common::assert_only_insertions(text, &out.after);
    let again = compose::onboard(&out.after, &options(service)).expect("rerun");
    assert_eq!(again.after, out.after, "second run changed the file");
    assert!(again.changes.is_empty(), "second run planned changes");
    let undo = remove::remove(
        &out.after,
        &remove::RemoveOptions {
            services: vec![service.to_string()],
            keep_empty: compose::filled_empty_keys(&out.changes),
            added: Some(compose::added_paths(&out.changes)),
        },
    )
    .expect("remove");
    assert_eq!(&undo.after, text, "onboard then remove is not the original");
}

/// The services to onboard: those of the file that Compose runs (every profile on) and
/// obs-init may onboard (not those an `include` brings), or, for files Compose rejects,
/// obs-init's own candidates.
fn candidates(project: &Project) -> Vec<String> {
    if let Some((_, Ok(model))) = project.before.iter().find(|(p, _)| *p == Profiles::All) {
        let own = compose::parse(&project.text)
            .ok()
            .and_then(|(_, doc)| compose::services(&doc).ok().map(compose::service_names))
            .unwrap_or_default();
        return oracle::candidates(model)
            .into_iter()
            .filter(|s| own.contains(s))
            .collect();
    }
    let Ok((_, doc)) = compose::parse(&project.text) else {
        return vec!["app".into()];
    };
    let Ok(services) = compose::services(&doc) else {
        return vec!["app".into()];
    };
    let (built, imaged) = compose::app_candidates(&doc, services);
    let all: Vec<String> = built.into_iter().chain(imaged).collect();
    if all.is_empty() {
        // Nothing app-like: the first service must then be refused cleanly.
        return compose::service_names(services)
            .into_iter()
            .take(1)
            .collect();
    }
    all
}

#[test]
fn every_corpus_service_is_onboarded_exactly_as_documented_under_real_compose_or_refused() {
    run_corpus("in place", run_service, 250);
}

#[test]
fn every_corpus_service_is_onboarded_by_an_overlay_exactly_as_documented_or_refused() {
    run_corpus("overlay", run_overlay, 330);
}

/// Runs `run` over every candidate service of every corpus file, prints the report and
/// fails on any failure, or when fewer than `at_least` are onboarded.
fn run_corpus(mode: &str, run: fn(&Project, &str, &Path) -> Outcome, at_least: usize) {
    let dir = common::data().join("compose");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("corpus")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "yml" || e == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 50, "corpus is incomplete: {}", files.len());
    // `OBS_INIT_CORPUS=WORDS` runs only the files whose name holds WORDS (no count checked).
    let only = std::env::var("OBS_INIT_CORPUS").ok();
    if let Some(words) = &only {
        files.retain(|f| f.to_string_lossy().contains(words.as_str()));
    }
    let work = tempfile::tempdir().expect("tempdir");

    // Resolve every original once.
    let projects: Vec<Project> = files
        .iter()
        .enumerate()
        .map(|(i, path)| {
            let name = path
                .file_name()
                .expect("name")
                .to_string_lossy()
                .to_string();
            let overrides_dir = dir.join("overrides").join(&name);
            let mut overrides: Vec<(String, String)> = std::fs::read_dir(&overrides_dir)
                .map(|d| {
                    d.map(|e| e.expect("entry").path())
                        .map(|p| {
                            let text = std::fs::read_to_string(&p).expect("UTF-8");
                            (p.file_name().expect("name").to_string_lossy().into(), text)
                        })
                        .collect()
                })
                .unwrap_or_default();
            overrides.sort();
            let mut project = Project {
                text: std::fs::read_to_string(path).expect("corpus files are UTF-8"),
                overrides,
                load: dir.join("load").join(&name),
                name,
                before: Vec::new(),
            };
            let (pdir, files) =
                project.lay_out_all(&work.path().join(format!("{i}")), &project.texts());
            let files: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
            project.before = Profiles::BOTH
                .iter()
                .map(|p| (*p, oracle::config(&pdir, &files, *p)))
                .collect();
            project
        })
        .collect();

    let jobs: Vec<(usize, String)> = projects
        .iter()
        .enumerate()
        .flat_map(|(i, p)| candidates(p).into_iter().map(move |s| (i, s)))
        .collect();
    // Each failure is reported once, in the summary below, not by the panic hook as well.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let results: Vec<(usize, String, Outcome)> = common::in_parallel(
        &jobs,
        || true,
        |j, (i, service)| {
            let job_dir = work.path().join(format!("job-{j}"));
            let outcome = run(&projects[*i], service, &job_dir);
            let _ = std::fs::remove_dir_all(&job_dir);
            (*i, service.clone(), outcome)
        },
    );

    std::panic::set_hook(hook);

    let mut onboarded = 0;
    let mut refused: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut failed = Vec::new();
    for (i, service, outcome) in &results {
        let file = &projects[*i].name;
        match outcome {
            Outcome::Onboarded => onboarded += 1,
            Outcome::Refused(kind, why) => refused
                .entry(kind.clone())
                .or_default()
                .push(format!("{file} {service}: {why}")),
            Outcome::Failed(why) => failed.push(format!("{file} {service}: {why}")),
        }
    }
    let rejected: Vec<String> = projects
        .iter()
        .filter_map(|p| {
            let (profiles, why) = p
                .before
                .iter()
                .find_map(|(pr, m)| m.as_ref().err().map(|e| (pr, e)))?;
            Some(format!("{} ({profiles:?} profiles): {why}", p.name))
        })
        .collect();
    let refused_count: usize = refused.values().map(Vec::len).sum();
    eprintln!(
        "corpus ({mode}): {} files, {} candidate services: {onboarded} onboarded, {refused_count} refused, {} failed",
        projects.len(),
        results.len(),
        failed.len()
    );
    eprintln!(
        "originals Compose rejects ({}), text checks only:",
        rejected.len()
    );
    for r in &rejected {
        eprintln!("  {r}");
    }
    for (kind, list) in &refused {
        eprintln!("refused, {kind} ({}):", list.len());
        for r in list {
            eprintln!("  {r}");
        }
    }
    for f in &failed {
        eprintln!("FAILED {f}");
    }
    assert!(failed.is_empty(), "{} corpus services failed", failed.len());
    // A project read with its override file is onboarded whole in place: what a service
    // lacks in one file (its sidecar's command, its variables) the other gives.
    if mode == "in place" {
        for p in projects.iter().filter(|p| !p.overrides.is_empty()) {
            let prefix = format!("{} ", p.name);
            let left: Vec<&String> = refused
                .values()
                .flatten()
                .filter(|r| r.starts_with(&prefix))
                .collect();
            assert!(left.is_empty(), "refused with its override: {left:?}");
        }
    }
    // A regression that refuses everything would pass the check above; it must not.
    assert!(
        only.is_some() || onboarded >= at_least,
        "only {onboarded} onboarded"
    );
}
