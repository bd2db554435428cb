//! Taking one recorded edit back, for every target's `remove`: the record says what obs-init
//! did to a file; the undo gives back the bytes it found, as far as later changes allow.

use std::path::Path;

use crate::compose::{Note, NoteKind};
use crate::error::Error;
use crate::plan::{FileChange, Plan, Status};

/// Plans taking one recorded file edit back: a created file deleted, an updated one given
/// back its original bytes, as far as the user's later changes allow (and saying where not).
pub fn undo_file(
    dir: &Path,
    plan: &mut Plan,
    file: &crate::record::FileRecord,
) -> Result<(), Error> {
    let path = dir.join(&file.path);
    let Some(text) = crate::files::read_optional(&path)? else {
        return Ok(());
    };
    let display = crate::paths::display(dir, &path);
    let note = |message: String| Note {
        service: None,
        message,
        kind: NoteKind::Info,
    };
    if file.created {
        if file.untouched(&text) {
            plan.push(FileChange {
                display,
                path,
                before: Some(text),
                after: String::new(),
                status: Status::Delete,
            });
        } else {
            plan.notes.push(note(format!(
                "{display} was changed by hand; left in place"
            )));
        }
        return Ok(());
    }
    let undone = crate::record::undo(&text, file);
    let rewritten = file.original.is_some() && !undone.left.is_empty();
    if rewritten {
        plan.notes.push(note(format!(
            "{display} was changed by hand since obs-init rewrote it; left as it is"
        )));
    }
    give_back(plan, display, path, text, undone, !rewritten);
    Ok(())
}

/// Plans taking out of a file still needed the pieces that only services no longer
/// onboarded needed (`still`: the needers that stay); returns the record of what stays.
pub fn undo_pieces(
    dir: &Path,
    plan: &mut Plan,
    file: &crate::record::FileRecord,
    still: &[String],
) -> Result<crate::record::FileRecord, Error> {
    let goes = |i: &crate::record::Insertion| {
        !i.services.is_empty() && !i.services.iter().any(|s| still.contains(s))
    };
    if !file.inserted.iter().any(goes) {
        return Ok(keep_needed(file, still));
    }
    let path = dir.join(&file.path);
    let Some(text) = crate::files::read_optional(&path)? else {
        return Ok(keep_needed(file, still));
    };
    let (undone, rest) = crate::record::take_out(&text, file, goes);
    let display = crate::paths::display(dir, &path);
    give_back(plan, display, path, text, undone, true);
    Ok(keep_needed(&rest, still))
}

/// The file with what was taken out of it, when anything was; with a note for each piece
/// the user changed or moved since (`note_pieces`), which stays.
fn give_back(
    plan: &mut Plan,
    display: String,
    path: std::path::PathBuf,
    text: String,
    undone: crate::record::Undone,
    note_pieces: bool,
) {
    if note_pieces {
        for piece in &undone.left {
            plan.notes.push(Note {
                service: None,
                message: format!(
                    "{display}: {:?} was changed or moved by hand, so it stays; take it out \
                     yourself if it is obs-init's",
                    piece.trim_end()
                ),
                kind: NoteKind::Info,
            });
        }
    }
    if undone.text != text {
        plan.push(FileChange {
            display,
            path,
            before: Some(text),
            after: undone.text,
            status: Status::Update,
        });
    }
}

/// The record with each piece's needers cut to those that stay.
fn keep_needed(file: &crate::record::FileRecord, still: &[String]) -> crate::record::FileRecord {
    let mut kept = file.clone();
    for piece in &mut kept.inserted {
        piece.services.retain(|s| still.contains(s));
    }
    kept
}
