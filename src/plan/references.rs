//! `remove` leaves no reference to what it deletes: before the module goes, the project is
//! searched for lines that import or name it. The next step's lines a person pasted (the
//! import and the instrument call) are taken back with the module; any other reference (a
//! Dagster handler class in a template, a use inside an expression) keeps the module, and
//! the dependency lines it imports, with the reason said: the app would otherwise fail at
//! import, or every Dagster run at start.

use std::path::{Path, PathBuf};

use crate::answers::Answers;
use crate::compose::{Note, NoteKind};
use crate::error::Error;
use crate::paths::absolute;
use crate::plan::{FileChange, Plan, Status};
use crate::references::{self, Reference};

/// Takes back the pasted references to each module `plan` deletes, or keeps the module
/// (and the manifests it needs) where another reference stays; kept files go back into
/// `left`, the record, with `needed_by`, so that a later `remove` finishes the job.
pub(super) fn take_back(
    dir: &Path,
    plan: &mut Plan,
    left: &mut Answers,
    record: &Answers,
) -> Result<(), Error> {
    let modules: Vec<PathBuf> = plan
        .files
        .iter()
        .filter(|f| f.status == Status::Delete && is_module(&f.path))
        .map(|f| f.path.clone())
        .collect();
    if modules.is_empty() {
        return Ok(());
    }
    // The modules that stay: a reference one of them answers is not the deleted one's.
    let staying: Vec<PathBuf> = crate::detect::find_files(dir, crate::python::MODULE_FILE)
        .into_iter()
        .map(|m| absolute(&m))
        .filter(|m| !modules.iter().any(|d| absolute(d) == *m))
        .collect();
    let deleted: Vec<PathBuf> = modules.iter().map(|m| absolute(m)).collect();
    let mut edits: Vec<(PathBuf, String, Vec<Reference>)> = Vec::new();
    let mut blockers: Vec<(PathBuf, Reference)> = Vec::new();
    for path in references::candidates(dir) {
        let planned = plan
            .files
            .iter()
            .find(|f| absolute(&f.path) == absolute(&path));
        let text = match planned {
            Some(f) if f.status == Status::Delete => continue,
            Some(f) => f.after.clone(),
            None => match crate::files::read_optional(&path)? {
                Some(t) => t,
                None => continue,
            },
        };
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        let python = name.as_deref().is_some_and(|n| n.ends_with(".py"));
        let refs = references::find(name.as_deref().unwrap_or(""), &text);
        // Only a file whose imports the deleted module answers, and no staying one, loses it.
        let loses = refs.iter().any(|r| {
            let abs = absolute(&path);
            references::resolves(&abs, &r.text, &deleted, python)
                && !references::resolves(&abs, &r.text, &staying, python)
        });
        if refs.is_empty() || !loses {
            continue;
        }
        match references::without_pasted(&text, &refs) {
            Some(after) => edits.push((path, after, refs)),
            None => blockers.extend(
                refs.into_iter()
                    .filter(|r| !r.pasted)
                    .map(|r| (path.clone(), r)),
            ),
        }
    }
    let shown = |p: &Path| crate::paths::display(dir, p);
    if let Some((file, first)) = blockers.first() {
        // The module stays, and so do the lines that install what it imports.
        let mut kept: Vec<String> = Vec::new();
        plan.files.retain(|f| {
            let keep = (f.status == Status::Delete && is_module(&f.path))
                || (f.status == Status::Update && is_manifest(&f.path));
            if keep {
                kept.push(shown(&f.path));
            }
            !keep
        });
        // Their records as they were: the files are.
        for (file_record, needed_by) in &record.files {
            if kept.contains(&file_record.path) {
                left.files.retain(|(f, _)| f.path != file_record.path);
                left.files.push((file_record.clone(), needed_by.clone()));
            }
        }
        let others = blockers.len() - 1;
        plan.notes.push(Note {
            service: None,
            message: format!(
                "kept {}: {}:{} still refers to the module (`{}`){}; take {} out, then run \
                 `obs-init remove` again",
                kept.join(", "),
                shown(file),
                first.line,
                first.text,
                if others > 0 {
                    format!(", and {others} more line(s)")
                } else {
                    String::new()
                },
                if others > 0 { "them" } else { "it" }
            ),
            kind: NoteKind::Action,
        });
        return Ok(());
    }
    for (path, after, refs) in edits {
        let lines: Vec<String> = refs.iter().map(|r| format!("`{}`", r.text)).collect();
        plan.notes.push(Note {
            service: None,
            message: format!(
                "{}: took out {} (the next step's lines), since the module goes",
                shown(&path),
                lines.join(", ")
            ),
            kind: NoteKind::Info,
        });
        match plan
            .files
            .iter_mut()
            .find(|f| absolute(&f.path) == absolute(&path))
        {
            Some(f) => {
                f.after = after;
                if f.before.as_deref() != Some(f.after.as_str()) {
                    f.status = Status::Update;
                }
            }
            None => {
                let before = crate::files::read_text(&path)?;
                plan.push(FileChange {
                    display: shown(&path),
                    path,
                    before: Some(before),
                    after,
                    status: Status::Update,
                });
            }
        }
    }
    Ok(())
}

fn is_module(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|n| n == crate::python::MODULE_FILE)
}

/// A dependency manifest obs-init adds lines to.
fn is_manifest(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    name == "pyproject.toml"
        || (name.starts_with("requirements") && (name.ends_with(".txt") || name.ends_with(".in")))
        || path.parent().and_then(|p| p.file_name()).is_some_and(|p| {
            p == "requirements" && (name.ends_with(".txt") || name.ends_with(".in"))
        })
}
