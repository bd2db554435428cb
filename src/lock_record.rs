//! What obs-init's lock refreshes did to each lock file, kept in the answers file so that
//! `remove` gives the lock back too: a lock is obs-init's edit like any other, but not an
//! insertion (the tool rewrites hashes, metadata and whole package tables), so its record is
//! the way back, the lines to take out and put in, from the lock as obs-init left it to the
//! lock before obs-init's first refresh. A lock obs-init pinned but did not refresh (no
//! tool, `--no-lock`) is recorded too, with no way back to keep: `remove` then knows that the
//! lock still pins the original manifest, and asks for no refresh.

use crate::record::checksum_hex;

/// One stretch of the way back: at line `line` of the lock as obs-init left it, `take` lines
/// go and `put` comes in their place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hunk {
    pub line: usize,
    pub take: usize,
    pub put: String,
}

/// A lock that pins a manifest obs-init edited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockRecord {
    /// The lock, relative to the project directory, with `/`.
    pub path: String,
    /// The manifest it pins, likewise.
    pub manifest: String,
    /// [`checksum_hex`] of the lock as obs-init left it.
    pub checksum: String,
    /// [`checksum_hex`] of the manifest before obs-init edited it: the lock pins that.
    pub manifest_before: String,
    /// From the lock as obs-init left it to the lock before its first refresh; empty when
    /// obs-init never changed it.
    pub back: Vec<Hunk>,
}

/// The way from `now` back to `was`, by whole lines.
pub fn way_back(now: &str, was: &str) -> Vec<Hunk> {
    use similar::DiffOp;
    let diff = similar::TextDiff::from_lines(now, was);
    let new: Vec<&str> = diff.iter_new_slices().collect();
    let mut out = Vec::new();
    for op in diff.ops() {
        match *op {
            DiffOp::Equal { .. } => {}
            DiffOp::Delete {
                old_index, old_len, ..
            } => out.push(Hunk {
                line: old_index,
                take: old_len,
                put: String::new(),
            }),
            DiffOp::Insert {
                old_index,
                new_index,
                new_len,
            } => out.push(Hunk {
                line: old_index,
                take: 0,
                put: new[new_index..new_index + new_len].concat(),
            }),
            DiffOp::Replace {
                old_index,
                old_len,
                new_index,
                new_len,
            } => out.push(Hunk {
                line: old_index,
                take: old_len,
                put: new[new_index..new_index + new_len].concat(),
            }),
        }
    }
    out
}

/// `now` taken back along `back`; `None` when the hunks do not fit it.
pub fn go_back(now: &str, back: &[Hunk]) -> Option<String> {
    let lines: Vec<&str> = now.split_inclusive('\n').collect();
    let mut out = String::with_capacity(now.len());
    let mut next = 0;
    for h in back {
        if h.line < next || h.line + h.take > lines.len() {
            return None;
        }
        out.push_str(&lines[next..h.line].concat());
        out.push_str(&h.put);
        next = h.line + h.take;
    }
    out.push_str(&lines[next..].concat());
    Some(out)
}

impl LockRecord {
    /// The record of a lock that went from `before` (its bytes before this run) to `after`,
    /// joined to `prior` (the record of earlier runs), pinning a manifest whose bytes before
    /// obs-init had `manifest_before` as checksum.
    pub fn joined(
        prior: Option<&LockRecord>,
        path: &str,
        manifest: &str,
        manifest_before: String,
        before: &str,
        after: &str,
    ) -> LockRecord {
        // The lock before obs-init's first refresh: what the prior record leads back to,
        // while the lock is still as obs-init left it.
        let original = prior
            .filter(|p| p.checksum == checksum_hex(before))
            .and_then(|p| go_back(before, &p.back))
            .unwrap_or_else(|| before.to_string());
        LockRecord {
            path: path.to_string(),
            manifest: manifest.to_string(),
            checksum: checksum_hex(after),
            manifest_before: prior
                .filter(|p| p.checksum == checksum_hex(before))
                .map_or(manifest_before, |p| p.manifest_before.clone()),
            back: way_back(after, &original),
        }
    }

    /// Whether `lock` is still as obs-init left it.
    pub fn untouched(&self, lock: &str) -> bool {
        checksum_hex(lock) == self.checksum
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_way_back_gives_the_original_lock_byte_for_byte() {
        let was = "# header 1\n[[package]]\nname = \"a\"\n\n[metadata]\nhash = \"1\"\n";
        let now = "# header 2\n[[package]]\nname = \"a\"\n\n[[package]]\nname = \"otel\"\n\n\
                   [metadata]\nhash = \"2\"\n";
        let back = way_back(now, was);
        assert_eq!(go_back(now, &back).as_deref(), Some(was));
        assert!(back.len() <= 3, "{back:?}");
    }

    #[test]
    fn a_second_refresh_still_leads_back_to_the_lock_before_the_first() {
        let l0 = "a\nb\n";
        let l1 = "a\nb\nc\n";
        let l2 = "a\nb\nc\nd\n";
        let first = LockRecord::joined(None, "l", "m", "x".into(), l0, l1);
        let second = LockRecord::joined(Some(&first), "l", "m", "y".into(), l1, l2);
        assert_eq!(go_back(l2, &second.back).as_deref(), Some(l0));
        assert_eq!(second.manifest_before, "x");
    }

    #[test]
    fn a_lock_without_a_final_line_break_comes_back_as_it_was() {
        let was = "a\nb";
        let now = "a\nc\nb\n";
        assert_eq!(go_back(now, &way_back(now, was)).as_deref(), Some(was));
    }
}
