//! The plan for `obs-init remove`: what onboarding added, taken back; files obs-init wrote
//! and nobody changed, deleted. Anything the user wrote or changed stays.

use std::path::{Path, PathBuf};

use crate::answers::{self, Answers};
use crate::compose::{self, Note};
use crate::dapr;
use crate::deps;
use crate::error::Error;
use crate::plan::{FileChange, Plan, Status, find_compose, read_text};
use crate::python::{self, Entry, Ownership};
use crate::remove::{self, RemoveOptions};

#[derive(Debug, Clone)]
pub struct RemoveRequest {
    pub dir: PathBuf,
    pub file: Option<PathBuf>,
    /// Services to take back; empty: every one onboarded.
    pub services: Vec<String>,
    pub dapr_config: Option<PathBuf>,
}

pub fn plan_remove(req: &RemoveRequest) -> Result<Plan, Error> {
    let compose_path = find_compose(&req.dir, req.file.as_deref())?;
    let content = read_text(&compose_path)?;
    let answers_path = req.dir.join(answers::FILE);
    let saved = match crate::plan::read_optional(&answers_path)? {
        Some(text) => Some((
            answers::read(&text).map_err(|reason| Error::Conflict {
                path: answers_path.clone(),
                reason: format!("it is not a valid answers file: {reason}"),
                help: "fix it, or delete it (removal then goes by what reads as obs-init's)".into(),
            })?,
            text,
        )),
        None => None,
    };
    let record = saved.as_ref().map(|(a, _)| a);
    let outcome = remove::remove(
        &content,
        &RemoveOptions {
            services: req.services.clone(),
            keep_empty: record.map(|a| a.kept_empty.clone()).unwrap_or_default(),
            added: record.map(|a| a.added.clone()).filter(|a| !a.is_empty()),
        },
    )
    .map_err(|source| Error::Compose {
        path: compose_path.clone(),
        source,
    })?;
    let mut plan = Plan {
        compose_file: compose_path.clone(),
        services: outcome.services.clone(),
        files: Vec::new(),
        notes: Vec::new(),
        next_steps: Vec::new(),
        conflicts: Vec::new(),
    };
    plan.push(FileChange {
        display: crate::plan::display(&req.dir, &compose_path),
        path: compose_path.clone(),
        status: if outcome.after == content {
            Status::Unchanged
        } else {
            Status::Update
        },
        before: Some(content),
        after: outcome.after.clone(),
    });

    // Whoever is still onboarded keeps the shared files.
    let still_onboarded = compose::parse(&outcome.after)
        .ok()
        .and_then(|(_, doc)| {
            let services = compose::services(&doc).ok()?;
            Some(services.entries()?.iter().any(|(_, v)| {
                v.get("network_mode").is_some()
                    && v.get("image")
                        .and_then(|i| i.as_str())
                        .is_some_and(|i| i.starts_with("daprio/daprd:"))
            }))
        })
        .unwrap_or(true);
    if !still_onboarded {
        let config = req
            .dapr_config
            .clone()
            .unwrap_or_else(|| req.dir.join("dapr-config.yml"));
        delete_if(req, &mut plan, &config, |text| {
            text == dapr::CONFIG_TEMPLATE
        });
        if let Some((_, text)) = &saved {
            plan.push(FileChange {
                display: crate::plan::display(&req.dir, &answers_path),
                path: answers_path.clone(),
                before: Some(text.clone()),
                after: String::new(),
                status: Status::Delete,
            });
        }
    } else if let Some((answers, text)) = &saved {
        let left = Answers {
            services: answers
                .services
                .iter()
                .filter(|s| !outcome.services.contains(s))
                .cloned()
                .collect(),
            ..answers.clone()
        };
        let after = answers::write(Some(text), &left);
        plan.push(FileChange {
            display: crate::plan::display(&req.dir, &answers_path),
            path: answers_path.clone(),
            status: if after == *text {
                Status::Unchanged
            } else {
                Status::Update
            },
            before: Some(text.clone()),
            after,
        });
    }

    // Each service's module and dependencies, where onboarding put them.
    let (_, doc) =
        compose::parse(&plan.files[0].before.clone().unwrap_or_default()).map_err(|source| {
            Error::Compose {
                path: compose_path.clone(),
                source,
            }
        })?;
    let services = compose::services(&doc).map_err(|source| Error::Compose {
        path: compose_path.clone(),
        source,
    })?;
    let compose_dir = crate::plan::compose_dir(&compose_path);
    for name in &outcome.services {
        let info = compose::service_info(&doc, services, name);
        let Some(context) = info.build.map(|b| compose_dir.join(b)) else {
            continue;
        };
        let names = [
            "definitions.py",
            "repository.py",
            "repo.py",
            "main.py",
            "app.py",
            "__main__.py",
        ];
        if let Entry::Found(entry) = python::find_entry(&context, &names) {
            let module = entry.with_file_name(python::MODULE_FILE);
            let kept = delete_if(req, &mut plan, &module, |t| {
                python::ownership(t) == Ownership::Ours
            });
            if kept {
                plan.notes.push(Note {
                    service: Some(name.clone()),
                    message: format!(
                        "{} was changed by hand; left in place",
                        crate::plan::display(&req.dir, &module)
                    ),
                });
            }
        }
        for dir in [context.clone(), req.dir.clone()] {
            let path = dir.join("requirements.txt");
            if path.is_file() {
                let text = read_text(&path)?;
                let after = deps::remove_from_requirements(&text);
                if after != text {
                    plan.push(FileChange {
                        display: crate::plan::display(&req.dir, &path),
                        path,
                        before: Some(text),
                        after,
                        status: Status::Update,
                    });
                }
                break;
            }
        }
    }
    for path in crate::detect::find_files(&req.dir, "dagster.yaml") {
        let text = read_text(&path)?;
        let after = crate::dagster::unconfigure(&text).map_err(|source| Error::Compose {
            path: path.clone(),
            source,
        })?;
        match after {
            // Nothing but obs-init's settings was in it: obs-init wrote the file.
            Some(after) if after.trim().is_empty() => plan.push(FileChange {
                display: crate::plan::display(&req.dir, &path),
                path,
                before: Some(text),
                after: String::new(),
                status: Status::Delete,
            }),
            Some(after) => plan.push(FileChange {
                display: crate::plan::display(&req.dir, &path),
                path,
                before: Some(text),
                after,
                status: Status::Update,
            }),
            None => {}
        }
    }
    Ok(plan)
}

/// Plans deleting `path` when it exists and `ours` says obs-init wrote it unchanged; returns
/// whether it exists and was kept.
fn delete_if(
    req: &RemoveRequest,
    plan: &mut Plan,
    path: &Path,
    ours: impl Fn(&str) -> bool,
) -> bool {
    let Ok(text) = std::fs::read_to_string(path) else {
        return false;
    };
    if !ours(&text) {
        return true;
    }
    plan.push(FileChange {
        display: crate::plan::display(&req.dir, path),
        path: path.to_path_buf(),
        before: Some(text),
        after: String::new(),
        status: Status::Delete,
    });
    false
}
