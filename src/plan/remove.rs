//! The plan for `obs-init remove`: what onboarding added, taken back; files obs-init wrote
//! and nobody changed, deleted. Anything the user wrote or changed stays.

use crate::compose::NoteKind;
use std::path::{Path, PathBuf};

use crate::answers::{self, Answers};
use crate::compose::remove::{self, RemoveOptions};
use crate::compose::{self, Note};
use crate::contract;
use crate::dapr;
use crate::deps;
use crate::error::Error;
use crate::files::read_text;
use crate::plan::{FileChange, Plan, Status, find_compose};
use crate::python::{self, Entry, Ownership};

#[derive(Debug, Clone)]
pub struct RemoveRequest {
    pub dir: PathBuf,
    pub file: Option<PathBuf>,
    /// Services to take back; empty: every one onboarded.
    pub services: Vec<String>,
    pub dapr_config: Option<PathBuf>,
}

/// Takes back the onboarding of the compose file `req` names or discovers.
pub fn plan_compose_remove(req: &RemoveRequest) -> Result<Plan, Error> {
    let compose_path = find_compose(&req.dir, req.file.as_deref())?;
    let content = read_text(&compose_path)?;
    let answers_path = req.dir.join(answers::FILE);
    let saved = crate::plan::read_answers(&req.dir)?;
    if let Some((record, text)) = &saved
        && record.has_file_records()
    {
        return plan_recorded(req, &compose_path, content, &answers_path, record, text);
    }
    let compose_rel = crate::paths::display(&req.dir, &compose_path);
    let record = saved.as_ref().and_then(|(a, _)| a.compose(&compose_rel));
    let outcome = remove::remove(
        &content,
        &RemoveOptions {
            services: req.services.clone(),
            keep_empty: record.map(|c| c.kept_empty.clone()).unwrap_or_default(),
            added: record.map(|c| c.added.clone()).filter(|a| !a.is_empty()),
        },
    )
    .map_err(|source| Error::Refused {
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
        own: vec![answers_path.clone()],
        alternatives: Vec::new(),
        relocks: Vec::new(),
        overlay: None,
        entry_points: Vec::new(),
        waiting: Vec::new(),
        claims: Vec::new(),
    };
    plan.push(FileChange {
        display: crate::paths::display(&req.dir, &compose_path),
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
                        .is_some_and(contract::is_daprd_image)
            }))
        })
        .unwrap_or(true);
    // An answers file from before per-file records: removal goes by what reads as
    // obs-init's.
    if !still_onboarded {
        let config = req
            .dapr_config
            .clone()
            .unwrap_or_else(|| contract::default_dapr_config(&req.dir));
        delete_if(req, &mut plan, &config, |text| {
            text == dapr::CONFIG_TEMPLATE
        });
        if let Some((_, text)) = &saved {
            plan.push(FileChange {
                display: crate::paths::display(&req.dir, &answers_path),
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
            display: crate::paths::display(&req.dir, &answers_path),
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

    unrecorded_files(req, &mut plan, &compose_path, &outcome.services)?;
    plan.relock_changed();
    Ok(plan)
}

/// Takes the services `targets` back out of an override file read with the compose file
/// (`record`): its bytes back whole when no other service stays onboarded in it and nobody
/// changed it since, else entry by entry; its record goes or follows the file.
fn take_back_override(
    req: &RemoveRequest,
    plan: &mut Plan,
    left: &mut Answers,
    record: &answers::ComposeRecord,
    targets: &[String],
) -> Result<(), Error> {
    let path = req.dir.join(&record.path);
    let Some(content) = crate::files::read_optional(&path)? else {
        plan.notes.push(Note {
            service: None,
            message: format!("{} is gone: nothing to take back there", record.path),
            kind: NoteKind::Info,
        });
        left.composes.retain(|c| c.path != record.path);
        return Ok(());
    };
    let here: Vec<String> = record
        .services
        .iter()
        .filter(|s| targets.contains(s))
        .cloned()
        .collect();
    let staying: Vec<String> = record
        .services
        .iter()
        .filter(|s| !targets.contains(s))
        .cloned()
        .collect();
    let whole = record
        .text
        .as_ref()
        .filter(|t| staying.is_empty() && t.untouched(&content));
    let after = match whole {
        Some(text) => crate::record::undo(&content, text).text,
        None if here.is_empty() => content.clone(),
        None => {
            remove::remove(
                &content,
                &RemoveOptions {
                    services: here,
                    keep_empty: record.kept_empty.clone(),
                    added: Some(record.added.clone()).filter(|a| !a.is_empty()),
                },
            )
            .map_err(|source| Error::Refused {
                path: path.clone(),
                source,
            })?
            .after
        }
    };
    if staying.is_empty() {
        left.composes.retain(|c| c.path != record.path);
    } else if let Some(c) = left.composes.iter_mut().find(|c| c.path == record.path) {
        c.services = staying;
        c.text = c.text.as_ref().map(|t| {
            let original = crate::record::undo(&content, t).text;
            crate::record::record(&record.path, Some(&original), &after)
        });
    }
    plan.push(FileChange {
        display: crate::paths::display(&req.dir, &path),
        path,
        status: if after == content {
            Status::Unchanged
        } else {
            Status::Update
        },
        before: Some(content),
        after,
    });
    Ok(())
}

/// What an obs-init without file records did beyond the compose file, found by how it
/// reads: each removed service's module (while it carries obs-init's checksum) and
/// dependency lines, and dagster.yaml's handler.
fn unrecorded_files(
    req: &RemoveRequest,
    plan: &mut Plan,
    compose_path: &Path,
    removed: &[String],
) -> Result<(), Error> {
    let (_, doc) =
        compose::parse(&plan.files[0].before.clone().unwrap_or_default()).map_err(|source| {
            Error::Refused {
                path: compose_path.to_path_buf(),
                source,
            }
        })?;
    let services = compose::services(&doc).map_err(|source| Error::Refused {
        path: compose_path.to_path_buf(),
        source,
    })?;
    let compose_dir = crate::paths::compose_dir(compose_path);
    for name in removed {
        let info = compose::service_info(&doc, services, name);
        let Some(context) = info.build.map(|b| compose_dir.join(b)) else {
            continue;
        };
        // Either kind of entry point: what the service ran is not recorded.
        let dagster = crate::frameworks::Framework::Dagster.row().entry_points;
        let mut names: Vec<&str> = dagster.unwrap_or_default().to_vec();
        for n in contract::WEB_ENTRY_POINTS {
            if !names.contains(n) {
                names.push(n);
            }
        }
        if let Entry::Found(entry) = python::find_entry(&context, &names) {
            let module = entry.with_file_name(python::MODULE_FILE);
            let kept = delete_if(req, plan, &module, |t| {
                python::ownership(t) == Ownership::Ours
            });
            if kept {
                plan.notes.push(Note {
                    service: Some(name.clone()),
                    message: format!(
                        "{} was changed by hand; left in place",
                        crate::paths::display(&req.dir, &module)
                    ),
                    kind: NoteKind::Action,
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
                        display: crate::paths::display(&req.dir, &path),
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
        let after = crate::dagster::unconfigure(&text).map_err(|source| Error::Refused {
            path: path.clone(),
            source,
        })?;
        match after {
            // Nothing but obs-init's settings was in it: obs-init wrote the file.
            Some(after) if after.trim().is_empty() => plan.push(FileChange {
                display: crate::paths::display(&req.dir, &path),
                path,
                before: Some(text),
                after: String::new(),
                status: Status::Delete,
            }),
            Some(after) => plan.push(FileChange {
                display: crate::paths::display(&req.dir, &path),
                path,
                before: Some(text),
                after,
                status: Status::Update,
            }),
            None => {}
        }
    }
    Ok(())
}

/// Removal by the record: the compose file's onboarding taken back (whole, byte for byte,
/// while nobody changed the file since; otherwise entry by entry), then every recorded
/// file edit that no service still onboarded needs, then the record itself.
fn plan_recorded(
    req: &RemoveRequest,
    compose_path: &Path,
    content: String,
    answers_path: &Path,
    record: &Answers,
    answers_text: &str,
) -> Result<Plan, Error> {
    let rel = crate::paths::display(&req.dir, compose_path);
    let in_file = |source| Error::Refused {
        path: compose_path.to_path_buf(),
        source,
    };
    let mut left = record.clone();
    let here = left.composes.iter().position(|c| c.path == rel);
    let compose = here.map(|i| left.composes[i].clone()).unwrap_or_default();
    let targets: Vec<String> = if req.services.is_empty() {
        compose.services.clone()
    } else {
        let (_, doc) = compose::parse(&content).map_err(in_file)?;
        compose::check_names(compose::services(&doc).map_err(in_file)?, &req.services)
            .map_err(in_file)?;
        req.services.clone()
    };
    let staying: Vec<String> = compose
        .services
        .iter()
        .filter(|s| !targets.contains(s))
        .cloned()
        .collect();
    let whole = compose
        .text
        .as_ref()
        .filter(|t| staying.is_empty() && t.untouched(&content));
    let after = match whole {
        Some(text) => crate::record::undo(&content, text).text,
        None => {
            remove::remove(
                &content,
                &RemoveOptions {
                    services: targets.clone(),
                    keep_empty: compose.kept_empty.clone(),
                    added: Some(compose.added.clone()).filter(|a| !a.is_empty()),
                },
            )
            .map_err(in_file)?
            .after
        }
    };
    let mut plan = Plan {
        compose_file: compose_path.to_path_buf(),
        services: targets.clone(),
        files: Vec::new(),
        notes: Vec::new(),
        next_steps: Vec::new(),
        conflicts: Vec::new(),
        own: crate::plan::own_files(&req.dir, record),
        alternatives: Vec::new(),
        relocks: Vec::new(),
        overlay: None,
        entry_points: Vec::new(),
        waiting: Vec::new(),
        claims: Vec::new(),
    };
    plan.own.push(answers_path.to_path_buf());
    plan.push(FileChange {
        display: crate::paths::display(&req.dir, compose_path),
        path: compose_path.to_path_buf(),
        status: if after == content {
            Status::Unchanged
        } else {
            Status::Update
        },
        before: Some(content.clone()),
        after: after.clone(),
    });
    match here {
        Some(i) if staying.is_empty() => {
            left.composes.remove(i);
        }
        Some(i) => {
            let c = &mut left.composes[i];
            c.services = staying;
            // The record is now of the file as removal leaves it.
            c.text = c.text.as_ref().map(|t| {
                let original = crate::record::undo(&content, t).text;
                crate::record::record(&rel, Some(&original), &after)
            });
        }
        None => {}
    }

    // The override files read with the compose file: each gives back what it gained.
    let overrides: Vec<answers::ComposeRecord> = left
        .composes
        .iter()
        .filter(|c| c.override_of.as_deref() == Some(rel.as_str()))
        .cloned()
        .collect();
    for o in overrides {
        take_back_override(req, &mut plan, &mut left, &o, &targets)?;
    }

    // An answers file from before file records was upgraded: what that obs-init did to
    // other files is not in the record, and goes by how it reads.
    if compose.text.is_none() && !compose.added.is_empty() {
        unrecorded_files(req, &mut plan, compose_path, &targets)?;
    }

    // In an overlay, a service's part is its entry and its sidecar's: obs-init's, or the
    // project's own that the overlay gives `--config` (under its own name).
    let overlay_entries: Vec<String> = {
        let own: Vec<String> = compose::parse(&content)
            .ok()
            .and_then(|(_, doc)| {
                let services = compose::services(&doc).ok()?;
                Some(
                    targets
                        .iter()
                        .filter_map(|t| compose::sidecar::own_sidecar(&doc, services, t))
                        .collect(),
                )
            })
            .unwrap_or_default();
        targets.iter().cloned().chain(own).collect()
    };
    // Files: what no service still onboarded needs goes back.
    let still: Vec<String> = left
        .composes
        .iter()
        .flat_map(|c| c.services.iter().map(|s| answers::needer(&c.path, s)))
        .collect();
    left.files.clear();
    // Files another onboarded service still needs, by who needs them: said once each.
    let mut kept_for: Vec<(String, Vec<String>)> = Vec::new();
    for (file, needed_by) in &record.files {
        let needed: Vec<String> = needed_by
            .iter()
            .filter(|n| still.contains(n))
            .cloned()
            .collect();
        if needed.is_empty() {
            super::undo::undo_file(&req.dir, &mut plan, file)?;
        } else if compose.overlay.as_deref() == Some(file.path.as_str()) {
            // The overlay holds the staying services too: only the removed ones' parts go.
            let kept = take_out_of_overlay(req, &mut plan, file, &overlay_entries)?;
            left.files.push((kept, needed));
        } else {
            // The pieces only the removed services needed go; the rest stays, and is said.
            let kept = super::undo::undo_pieces(&req.dir, &mut plan, file, &still)?;
            let removed: Vec<&str> = needed_by
                .iter()
                .filter(|n| !still.contains(n))
                .map(String::as_str)
                .collect();
            if !removed.is_empty() {
                let staying = needed.join(", ");
                if kept.inserted.len() < file.inserted.len() {
                    let verb = if needed.len() == 1 { "needs" } else { "need" };
                    plan.notes.push(Note {
                        service: None,
                        message: format!(
                            "{}: only what {} alone needed is taken out; {staying} still \
                             {verb} the rest",
                            file.path,
                            removed.join(", ")
                        ),
                        kind: NoteKind::Info,
                    });
                } else {
                    match kept_for.iter_mut().find(|(who, _)| *who == staying) {
                        Some((_, files)) => files.push(file.path.clone()),
                        None => kept_for.push((staying, vec![file.path.clone()])),
                    }
                }
            }
            left.files.push((kept, needed));
        }
    }
    for (who, files) in kept_for {
        plan.notes.push(Note {
            service: None,
            message: format!(
                "kept for {who}, which still needs them: {}",
                files.join(", ")
            ),
            kind: NoteKind::Info,
        });
    }

    super::references::take_back(&req.dir, &mut plan, &mut left, record)?;
    plan.relock_changed();
    left.locks.clear();
    for lock in &record.locks {
        let shared = left.files.iter().any(|(f, _)| f.path == lock.manifest);
        if let Some(kept) = super::locks_back::give_back(&req.dir, &mut plan, lock, shared)? {
            left.locks.push(kept);
        }
    }

    // The record itself: gone with the last onboarded compose file (a user's own answers
    // file comes back as it was).
    // What stays for a later remove (a module something still imports) keeps the record.
    let answers_change = if left.composes.is_empty() && left.files.is_empty() {
        match &record.original {
            Some(original) => (original.clone(), Status::Update),
            None => (String::new(), Status::Delete),
        }
    } else {
        left.services.retain(|s| !targets.contains(s));
        // A removed service's answers go with it, unless another compose file onboards a
        // service of that name.
        left.per_service.retain(|s| {
            !targets.contains(&s.name) || left.composes.iter().any(|c| c.services.contains(&s.name))
        });
        (answers::write(Some(answers_text), &left), Status::Update)
    };
    plan.push(FileChange {
        display: crate::paths::display(&req.dir, answers_path),
        path: answers_path.to_path_buf(),
        status: if answers_change.0 == answers_text {
            Status::Unchanged
        } else {
            answers_change.1
        },
        before: Some(answers_text.to_string()),
        after: answers_change.0,
    });
    Ok(plan)
}

/// The overlay without the removed services' parts, when nobody changed it since obs-init
/// wrote it (else it stays, and a note says so); returns its record afterwards.
fn take_out_of_overlay(
    req: &RemoveRequest,
    plan: &mut Plan,
    file: &crate::record::FileRecord,
    targets: &[String],
) -> Result<crate::record::FileRecord, Error> {
    let path = req.dir.join(&file.path);
    let Some(text) = crate::files::read_optional(&path)? else {
        return Ok(file.clone());
    };
    let display = crate::paths::display(&req.dir, &path);
    if !file.untouched(&text) {
        plan.notes.push(Note {
            service: None,
            message: format!(
                "{display} was changed by hand; left in place: take {} out of it yourself",
                targets.join(", ")
            ),
            kind: NoteKind::Action,
        });
        return Ok(file.clone());
    }
    let after = compose::overlay::without(&text, targets);
    let record = crate::record::record(&file.path, None, &after);
    plan.push(FileChange {
        display,
        path,
        status: if after == text {
            Status::Unchanged
        } else {
            Status::Update
        },
        before: Some(text),
        after,
    });
    Ok(record)
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
        display: crate::paths::display(&req.dir, path),
        path: path.to_path_buf(),
        before: Some(text),
        after: String::new(),
        status: Status::Delete,
    });
    false
}
