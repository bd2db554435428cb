//! The locks `remove` gives back: a lock obs-init refreshed pins what the manifest asked for
//! with obs-init's packages. Once removal gives the manifest its bytes from before
//! onboarding, the lock as it was then pins it again: while nobody changed the lock since,
//! it is given back byte for byte (the tool would rewrite more than obs-init's packages:
//! descriptions, normalised names, resolution markers), and no refresh is asked for.
//! Otherwise the tool refreshes it, and a note says why it is not given back.

use std::path::Path;

use crate::compose::{Note, NoteKind};
use crate::error::Error;
use crate::lock_record::{LockRecord, go_back};
use crate::plan::{FileChange, Plan, Status};
use crate::record::checksum_hex;

/// Plans giving `lock` back where removal restores its manifest; returns its record while
/// it still stands (the manifest keeps obs-init's lines, or the tool refreshes it).
/// `shared`: the manifest keeps lines other onboarded services need, so the tool refreshes
/// the lock as a matter of course.
pub(super) fn give_back(
    dir: &Path,
    plan: &mut Plan,
    lock: &LockRecord,
    shared: bool,
) -> Result<Option<LockRecord>, Error> {
    let path = dir.join(&lock.path);
    let manifest = dir.join(&lock.manifest);
    let Some(text) = crate::files::read_optional(&path)? else {
        return Ok(None);
    };
    let Some(after) = plan
        .files
        .iter()
        .find(|f| f.path == manifest && f.status == Status::Update)
        .map(|f| f.after.clone())
    else {
        // Removal leaves the manifest as it is: so does it the lock.
        return Ok(Some(lock.clone()));
    };
    let shown = crate::paths::display(dir, &path);
    let restored = checksum_hex(&after) == lock.manifest_before;
    let untouched = lock.untouched(&text);
    let refresh = plan
        .relocks
        .iter()
        .find(|r| r.lock == path)
        .map(|r| format!("`{}`", r.command_line()))
        .unwrap_or_else(|| "its tool".into());
    let note = |message: String| Note {
        service: None,
        message,
        kind: NoteKind::Info,
    };
    match (restored, untouched) {
        (true, true) => {
            let Some(original) = go_back(&text, &lock.back) else {
                return Ok(Some(lock.clone()));
            };
            plan.relocks.retain(|r| r.lock != path);
            if original != text {
                plan.push(FileChange {
                    display: shown,
                    path,
                    before: Some(text),
                    after: original,
                    status: Status::Update,
                });
            }
            Ok(None)
        }
        (true, false) => {
            plan.notes.push(note(format!(
                "{shown} was changed since obs-init refreshed it, so it is not given back: \
                 {refresh} brings it in line with {}, and may move more than obs-init's \
                 packages (git diff {shown} shows what)",
                lock.manifest
            )));
            Ok(Some(lock.clone()))
        }
        (false, _) if shared => Ok(Some(lock.clone())),
        (false, _) => {
            plan.notes.push(note(format!(
                "{} does not come back to its bytes from before onboarding (it was changed \
                 since), so {shown} is refreshed by {refresh} rather than given back (git \
                 diff {shown} shows what moved)",
                lock.manifest
            )));
            Ok(Some(lock.clone()))
        }
    }
}
