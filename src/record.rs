//! What obs-init did to each file other than the compose file, kept as data in the answers
//! file so that `obs-init remove` is its exact inverse: a file it created (deleted again
//! while nobody changed it), or the text it inserted into a file (taken out again).
//!
//! Every edit obs-init makes to these files is an insertion (a dependency line, the entry
//! point's setup lines, dagster.yaml keys). So the record of an updated file is the list of
//! inserted pieces with their offsets in the text obs-init wrote, and the checksum of that
//! text: while the file still has it, taking the pieces out gives back the original bytes;
//! once the user changed the file, each piece that still stands exactly once is taken out
//! and the others are reported.

/// FNV-1a, 64 bits: enough to notice an edit, with no dependency. The one checksum rule of
/// obs-init (the generated module's header uses it too).
pub fn checksum(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A checksum as it is written down: 16 hex digits.
pub fn checksum_hex(text: &str) -> String {
    format!("{:016x}", checksum(text))
}

/// Text obs-init inserted at byte `at` of the text it wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Insertion {
    pub at: usize,
    pub text: String,
    /// The onboarded services that need this piece, when not every one that needs the file
    /// ([`crate::plan::claims`]).
    pub services: Vec<String>,
}

/// What obs-init did to one file, from `before` (the file before any obs-init run; `None`
/// for a file it created) to `after`.
pub fn record(path: &str, before: Option<&str>, after: &str) -> FileRecord {
    let mut r = FileRecord {
        path: path.to_string(),
        created: before.is_none(),
        checksum: checksum_hex(after),
        inserted: Vec::new(),
        original: None,
    };
    if let Some(before) = before {
        match insertions(before, after) {
            Some(pieces) => r.inserted = pieces,
            None => r.original = Some(before.to_string()),
        }
    }
    r
}

/// What obs-init did to one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRecord {
    /// The path relative to the project directory, with `/`.
    pub path: String,
    /// obs-init created the file.
    pub created: bool,
    /// [`checksum_hex`] of the content obs-init wrote.
    pub checksum: String,
    /// For a file it updated: what it inserted, in order.
    pub inserted: Vec<Insertion>,
    /// For a file it changed otherwise (a module it replaced, a block `--fix-invalid` took
    /// out): the file as it was, given back whole.
    pub original: Option<String>,
}

impl FileRecord {
    /// Whether `content` is still exactly what obs-init wrote.
    pub fn untouched(&self, content: &str) -> bool {
        checksum_hex(content) == self.checksum
    }
}

/// The pieces `after` has on top of `before`, when `before` is `after` with text only
/// inserted (a subsequence of it); `None` otherwise. Whole lines are preferred: a line diff
/// first, then characters within a changed stretch, so that a piece reads as what was added.
pub fn insertions(before: &str, after: &str) -> Option<Vec<Insertion>> {
    let mut out = Vec::new();
    pieces(
        &similar::TextDiff::from_lines(before, after),
        0,
        true,
        &mut out,
    )?;
    Some(out)
}

/// Adds the pieces `diff` inserts, at `base` plus their offset in the new text, to `out`.
/// A replaced stretch (a line that gained text, e.g. a final line without its line break)
/// is looked at character by character when `within` allows: the old text must survive
/// inside the new. `None` when anything was taken away.
fn pieces(
    diff: &similar::TextDiff<'_, '_, str>,
    base: usize,
    within: bool,
    out: &mut Vec<Insertion>,
) -> Option<()> {
    use similar::DiffOp;
    let old: Vec<&str> = diff.iter_old_slices().collect();
    let new: Vec<&str> = diff.iter_new_slices().collect();
    let offset = |index: usize| -> usize { new[..index].iter().map(|s| s.len()).sum() };
    for op in diff.ops() {
        match *op {
            DiffOp::Equal { .. } => {}
            DiffOp::Insert {
                new_index, new_len, ..
            } => push(
                out,
                base + offset(new_index),
                &new[new_index..new_index + new_len].concat(),
            ),
            DiffOp::Replace {
                old_index,
                old_len,
                new_index,
                new_len,
            } if within => {
                let was = old[old_index..old_index + old_len].concat();
                let now = new[new_index..new_index + new_len].concat();
                let chars = similar::TextDiff::from_chars(was.as_str(), now.as_str());
                pieces(&chars, base + offset(new_index), false, out)?;
            }
            DiffOp::Delete { .. } | DiffOp::Replace { .. } => return None,
        }
    }
    Some(())
}

fn push(out: &mut Vec<Insertion>, at: usize, text: &str) {
    match out.last_mut() {
        Some(last) if last.at + last.text.len() == at => last.text.push_str(text),
        _ => out.push(Insertion {
            at,
            text: text.to_string(),
            services: Vec::new(),
        }),
    }
}

/// What taking a record back out of a file's current content gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undone {
    pub text: String,
    /// Pieces that could not be found exactly once (the user changed or moved them): left in.
    pub left: Vec<String>,
}

/// `content` with the recorded insertions taken out: exactly the original when `content`
/// is what obs-init wrote; otherwise piece by piece, where each still stands exactly once.
/// A file recorded whole comes back whole while untouched, and stays as it is otherwise.
pub fn undo(content: &str, record: &FileRecord) -> Undone {
    if let Some(original) = &record.original {
        return if record.untouched(content) {
            Undone {
                text: original.clone(),
                left: Vec::new(),
            }
        } else {
            Undone {
                text: content.to_string(),
                left: vec![content.to_string()],
            }
        };
    }
    // Every piece goes: the same as taking out some of them.
    take_out(content, record, |_| true).0
}

/// `content` with the pieces `goes` picks taken out, and the record of what stays: by the
/// recorded offsets while the file is what obs-init wrote, else each where it stands exactly
/// once (the others are reported in `left`).
pub fn take_out(
    content: &str,
    record: &FileRecord,
    goes: impl Fn(&Insertion) -> bool,
) -> (Undone, FileRecord) {
    let fits = record
        .inserted
        .iter()
        .all(|i| content.get(i.at..i.at + i.text.len()) == Some(i.text.as_str()));
    let mut text = content.to_string();
    let mut left = Vec::new();
    let mut staying = Vec::new();
    if record.untouched(content) && fits {
        let mut shift = 0;
        for i in &record.inserted {
            if goes(i) {
                shift += i.text.len();
            } else {
                staying.push(Insertion {
                    at: i.at - shift,
                    ..i.clone()
                });
            }
        }
        for i in record.inserted.iter().rev().filter(|i| goes(i)) {
            text.replace_range(i.at..i.at + i.text.len(), "");
        }
    } else {
        for i in record.inserted.iter().filter(|i| goes(i)) {
            let found: Vec<usize> = text
                .match_indices(i.text.as_str())
                .map(|(at, _)| at)
                .collect();
            match found.as_slice() {
                [at] => text.replace_range(*at..*at + i.text.len(), ""),
                _ => left.push(i.text.clone()),
            }
        }
        let mut from = 0;
        for i in record.inserted.iter().filter(|i| !goes(i)) {
            if let Some(at) = text[from.min(text.len())..].find(i.text.as_str()) {
                staying.push(Insertion {
                    at: from + at,
                    ..i.clone()
                });
                from += at + i.text.len();
            }
        }
    }
    let rest = FileRecord {
        checksum: checksum_hex(&text),
        inserted: staying,
        ..record.clone()
    };
    (Undone { text, left }, rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(before: &str, after: &str) -> FileRecord {
        FileRecord {
            path: "f".into(),
            created: false,
            checksum: checksum_hex(after),
            inserted: insertions(before, after).expect("insertions only"),
            original: None,
        }
    }

    #[test]
    fn inserted_lines_are_recorded_as_whole_lines_and_taken_back_exactly() {
        let before = "fastapi\nuvicorn\n";
        let after = "fastapi\nopentelemetry-sdk>=1.45\nuvicorn\nopentelemetry-api>=1.45\n";
        let r = record(before, after);
        assert_eq!(
            r.inserted,
            [
                Insertion {
                    at: 8,
                    text: "opentelemetry-sdk>=1.45\n".into(),
                    services: vec![],
                },
                Insertion {
                    at: 40,
                    text: "opentelemetry-api>=1.45\n".into(),
                    services: vec![],
                },
            ]
        );
        assert_eq!(
            undo(after, &r),
            Undone {
                text: before.into(),
                left: vec![]
            }
        );
    }

    #[test]
    fn a_last_line_without_its_break_is_restored_byte_for_byte() {
        let before = "flask\r\ngunicorn";
        let after = "flask\r\ngunicorn\r\nopentelemetry-sdk>=1.45\r\n";
        let r = record(before, after);
        assert_eq!(undo(after, &r).text, before);
    }

    #[test]
    fn anything_but_insertions_has_no_record() {
        assert_eq!(insertions("a\nb\n", "a\n"), None);
        assert_eq!(insertions("a\nb\n", "a\nc\n"), None);
    }

    #[test]
    fn after_the_users_edits_each_piece_found_once_goes_and_the_rest_is_reported() {
        let before = "import os\napp = make()\n";
        let after = "import os\nfrom .setup_observability import setup\napp = make()\nsetup(app)\n";
        let r = record(before, after);
        let edited =
            "import os\nimport sys\nfrom .setup_observability import setup\napp = make()\n";
        let undone = undo(edited, &r);
        assert_eq!(undone.text, "import os\nimport sys\napp = make()\n");
        assert_eq!(undone.left, ["setup(app)\n"]);
    }

    #[test]
    fn taking_out_some_pieces_leaves_a_record_that_still_gives_the_original_back() {
        let before = "flask\n";
        let now = "flask\nopentelemetry-sdk\nopentelemetry-instrumentation-flask\n";
        let mut r = record(before, now);
        r.inserted = vec![
            Insertion {
                at: 6,
                text: "opentelemetry-sdk\n".into(),
                services: vec![],
            },
            Insertion {
                at: 24,
                text: "opentelemetry-instrumentation-flask\n".into(),
                services: vec!["c:vote".into()],
            },
        ];
        let (undone, rest) = take_out(now, &r, |i| !i.services.is_empty());
        assert_eq!(undone.text, "flask\nopentelemetry-sdk\n");
        assert!(rest.untouched(&undone.text));
        assert_eq!(undo(&undone.text, &rest).text, before);
    }
}
