//! Edits as pure insertions into the original text, recorded twice: as text splices, and as
//! logical changes that verification replays on the document model.
//!
//! Only ever inserting is what makes "every byte outside the edited regions stays identical"
//! true by construction; verification then proves the insertions mean what was intended.

use crate::yaml::doc::{Kind, Node};
use crate::yaml::emit::{self, Layout, NewNode};
use crate::yaml::model::{Data, Value};
use crate::yaml::text::Text;

/// Text inserted at byte `at` of the original, into a collection `depth` keys deep, after
/// removing `remove` bytes there (only [`Editor::remove_entry`] removes anything).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Splice {
    pub at: usize,
    pub text: String,
    pub depth: usize,
    pub remove: usize,
}

/// A logical change, addressed by the mapping keys leading to the collection it changes.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Add `key: value` to the mapping at `path`.
    Insert {
        path: Vec<String>,
        key: String,
        value: NewNode,
    },
    /// Append `item` to the sequence at `path`.
    Push { path: Vec<String>, item: NewNode },
    /// Give the empty (null) value under `key` of the mapping at `path` a value.
    Set {
        path: Vec<String>,
        key: String,
        value: NewNode,
    },
    /// Remove `key` from the mapping at `path` (only ever with the user's consent).
    Remove { path: Vec<String>, key: String },
    /// Remove the entries (or items) at `indices`, ascending, from the collection at `path`.
    /// A block collection left with nothing reads back as null (`key:` alone): `to_null`.
    RemoveItems {
        path: Vec<String>,
        indices: Vec<usize>,
        to_null: bool,
    },
    /// Append `text` to the string in `slot` of the collection at `path` (a flag added to
    /// a command written as one string, an attribute to a variable's value); `key` names
    /// it (a list item `K=V` by its `K`).
    Append {
        path: Vec<String>,
        slot: Slot,
        key: String,
        text: String,
    },
    /// Replace the scalar in `slot` of the collection at `path` (only with the user's
    /// consent: `--on-conflict overwrite`, or to take back an [`Change::Append`]).
    Replace {
        path: Vec<String>,
        slot: Slot,
        value: NewNode,
    },
}

/// A place in a collection: a mapping key or a sequence index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slot {
    Key(String),
    Index(usize),
}

impl Change {
    /// Replays the change on a document model; `Err` names the path that did not fit.
    pub fn apply_to(&self, root: &mut Value) -> Result<(), String> {
        let (path, missing) = match self {
            Change::Insert { path, .. }
            | Change::Push { path, .. }
            | Change::Set { path, .. }
            | Change::Remove { path, .. }
            | Change::RemoveItems { path, .. }
            | Change::Append { path, .. }
            | Change::Replace { path, .. } => {
                (path, || format!("no collection at {}", path.join(".")))
            }
        };
        let target = root.at_mut(path).ok_or_else(missing)?;
        match (self, &mut target.data) {
            (Change::Insert { key, value, .. }, Data::Map(entries)) => {
                entries.push((Value::str(key), value.to_value()));
                Ok(())
            }
            (Change::Push { item, .. }, Data::Seq(items)) => {
                items.push(item.to_value());
                Ok(())
            }
            (
                Change::Replace {
                    slot: Slot::Index(i),
                    value,
                    ..
                },
                Data::Seq(items),
            ) => {
                let item = items
                    .get_mut(*i)
                    .ok_or_else(|| format!("no item {i} at {}", path.join(".")))?;
                *item = value.to_value();
                Ok(())
            }
            (
                Change::Replace {
                    slot: Slot::Key(key),
                    value,
                    ..
                },
                Data::Map(_),
            ) => {
                let slot = target
                    .get_mut(key)
                    .ok_or_else(|| format!("no key {key} at {}", path.join(".")))?;
                *slot = value.to_value();
                Ok(())
            }
            (Change::RemoveItems { to_null: true, .. }, Data::Map(_) | Data::Seq(_)) => {
                *target = Value::plain(Data::Null);
                Ok(())
            }
            (Change::RemoveItems { indices, .. }, Data::Map(entries)) => {
                for &i in indices.iter().rev() {
                    entries.remove(i);
                }
                Ok(())
            }
            (Change::RemoveItems { indices, .. }, Data::Seq(items)) => {
                for &i in indices.iter().rev() {
                    items.remove(i);
                }
                Ok(())
            }
            (Change::Remove { key, .. }, Data::Map(entries)) => {
                let before = entries.len();
                entries.retain(|(k, _)| k.as_str() != Some(key));
                if entries.len() == before {
                    return Err(format!("no key {key} at {}", path.join(".")));
                }
                Ok(())
            }
            (
                Change::Append {
                    slot: Slot::Index(i),
                    text,
                    ..
                },
                Data::Seq(items),
            ) => match items.get_mut(*i).map(|v| &mut v.data) {
                Some(Data::Str(s)) => {
                    s.push_str(text);
                    Ok(())
                }
                _ => Err(format!("no string item {i} at {}", path.join("."))),
            },
            (
                Change::Append {
                    slot: Slot::Key(key),
                    text,
                    ..
                },
                Data::Map(_),
            ) => match target.get_mut(key).map(|v| &mut v.data) {
                Some(Data::Str(s)) => {
                    s.push_str(text);
                    Ok(())
                }
                _ => Err(format!("no string {key} at {}", path.join("."))),
            },
            (Change::Set { key, value, .. }, Data::Map(_)) => {
                let slot = target
                    .get_mut(key)
                    .ok_or_else(|| format!("no key {key} at {}", path.join(".")))?;
                *slot = value.to_value();
                Ok(())
            }
            _ => Err(format!("{} is not the collection expected", path.join("."))),
        }
    }
}

/// Collects splices and changes against one text.
pub struct Editor<'t> {
    text: &'t Text,
    splices: Vec<Splice>,
    changes: Vec<Change>,
    /// Flow collections (by the offset of their closing bracket) that were empty and have
    /// received an entry: the next one needs a comma.
    filled: Vec<usize>,
}

impl<'t> Editor<'t> {
    pub fn new(text: &'t Text) -> Editor<'t> {
        Editor {
            text,
            splices: Vec::new(),
            changes: Vec::new(),
            filled: Vec::new(),
        }
    }

    pub fn changes(&self) -> &[Change] {
        &self.changes
    }

    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// Adds `key: value` to the mapping `map` (found at `path`).
    pub fn insert_entry(
        &mut self,
        map: &Node,
        path: &[String],
        key: &str,
        value: NewNode,
        lay: &Layout,
    ) {
        let Kind::Map {
            entries,
            flow_close,
        } = &map.kind
        else {
            panic!("insert_entry on a {}", map.kind_name());
        };
        let splice = match flow_close {
            Some(close) => {
                let rendered = format!("{}: {}", emit::scalar(key), emit::flow(&value));
                self.flow_splice(entries.last().map(|(_, v)| v.end), *close, rendered)
            }
            None => {
                let indent = entries.first().map_or(0, |(k, _)| k.start.col);
                let mut block = emit::block_entry(key, &value, indent, lay);
                if self.blank_line_before(entries.last()) {
                    block.insert_str(0, lay.eol);
                }
                self.after_line(map.last_line, block, lay)
            }
        };
        self.push(splice, path.len());
        self.changes.push(Change::Insert {
            path: path.to_vec(),
            key: key.to_string(),
            value,
        });
    }

    /// Appends `item` to the sequence `seq` (found at `path`).
    pub fn push_item(&mut self, seq: &Node, path: &[String], item: NewNode, lay: &Layout) {
        let Kind::Seq { items, flow_close } = &seq.kind else {
            panic!("push_item on a {}", seq.kind_name());
        };
        let splice = match flow_close {
            Some(close) => self.flow_splice(items.last().map(|n| n.end), *close, emit::flow(&item)),
            None => {
                let (dash_col, gap) = items
                    .first()
                    .and_then(|first| self.dash_of(first))
                    .unwrap_or((0, lay.dash_gap));
                let lay = Layout {
                    dash_gap: gap,
                    ..*lay
                };
                let line = emit::seq_item(&item, dash_col, &lay);
                self.after_line(seq.last_line, line, &lay)
            }
        };
        self.push(splice, path.len() + 1);
        self.changes.push(Change::Push {
            path: path.to_vec(),
            item,
        });
    }

    /// Gives the empty value of `key` (whose key node is `key_node`, in the mapping at
    /// `path`) a block value.
    pub fn set_empty(
        &mut self,
        key_node: &Node,
        path: &[String],
        key: &str,
        value: NewNode,
        lay: &Layout,
    ) {
        let mut rendered = String::new();
        emit::push_block_value(&mut rendered, &value, key_node.start.col, lay);
        // `push_block_value` starts with the line break that ends the key's line (or a space
        // and a scalar); the key's line already has its own break, so that one goes.
        let body = rendered
            .strip_prefix(lay.eol)
            .expect("collections render on their own lines")
            .to_string();
        let splice = self.after_line(key_node.last_line, body, lay);
        self.push(splice, path.len() + 1);
        self.changes.push(Change::Set {
            path: path.to_vec(),
            key: key.to_string(),
            value,
        });
    }

    /// Removes the block entry `key` (whose key node is `key_node` and value `value`) from
    /// the mapping at `path`: whole lines, from the key's line to the value's last. `Err`
    /// when the entry shares a line with anything else.
    pub fn remove_entry(
        &mut self,
        key_node: &Node,
        value: &Node,
        path: &[String],
        key: &str,
    ) -> Result<(), String> {
        let first = key_node.start.line;
        let line_start = self.text.line_start(first);
        let before_key = &self.text.as_str()[line_start..key_node.start.byte];
        if !before_key.trim().is_empty() {
            return Err(format!("`{key}` does not start its line"));
        }
        let end = self.text.after_line(value.last_line.max(first));
        self.splices.push(Splice {
            at: line_start,
            text: String::new(),
            depth: usize::MAX,
            remove: end - line_start,
        });
        self.changes.push(Change::Remove {
            path: path.to_vec(),
            key: key.to_string(),
        });
        Ok(())
    }

    /// Removes the entries (mapping) or items (sequence) at `indices` of `collection` (found
    /// at `path`), so that what obs-init inserted comes out byte for byte: whole lines in
    /// block style (with the blank line obs-init put before an entry it appended to a
    /// mapping whose entries are set apart), the entry and its comma in flow style.
    pub fn remove_items(
        &mut self,
        collection: &Node,
        path: &[String],
        indices: &[usize],
    ) -> Result<(), String> {
        if indices.is_empty() {
            return Ok(());
        }
        // (start, end) of each member: its first byte and its last.
        // Each member's first and last byte, its first and last line.
        type Extents = (Vec<(usize, usize)>, Vec<(usize, usize)>);
        let ((spans, lines), flow, is_map): (Extents, bool, bool) = match &collection.kind {
            Kind::Map {
                entries,
                flow_close,
            } => (
                (
                    entries.iter().map(|(k, v)| (k.start.byte, v.end)).collect(),
                    entries
                        .iter()
                        .map(|(k, v)| (k.start.line, v.last_line.max(k.start.line)))
                        .collect(),
                ),
                flow_close.is_some(),
                true,
            ),
            Kind::Seq { items, flow_close } => (
                (
                    items.iter().map(|i| (i.start.byte, i.end)).collect(),
                    items.iter().map(|i| (i.start.line, i.last_line)).collect(),
                ),
                flow_close.is_some(),
                false,
            ),
            _ => return Err(format!("{} is not a collection", path.join("."))),
        };
        let count = spans.len();
        if flow {
            // Runs of adjacent members go together, with the comma before (or after) them.
            let mut i = 0;
            while i < indices.len() {
                let a = indices[i];
                let mut b = a;
                while i + 1 < indices.len() && indices[i + 1] == b + 1 {
                    i += 1;
                    b += 1;
                }
                let (start, end) = if a > 0 {
                    (spans[a - 1].1, spans[b].1)
                } else if b + 1 < count {
                    (spans[0].0, spans[b + 1].0)
                } else {
                    (spans[0].0, spans[b].1)
                };
                self.remove_range(start, end);
                i += 1;
            }
        } else {
            let set_apart = is_map
                && indices[0] >= 1
                && indices.last() == Some(&(count - 1))
                && self.blank_above(lines[indices[0] - 1].0);
            for &i in indices {
                let (first, last) = lines[i];
                if !is_map {
                    // The item's line must hold only its dash and the item.
                    let before = self.text.line(first);
                    if !before.trim_start().starts_with('-') {
                        return Err(format!("item {i} of {} shares its line", path.join(".")));
                    }
                } else {
                    let start = self.text.line_start(first);
                    if !self.text.as_str()[start..spans[i].0].trim().is_empty() {
                        return Err(format!("entry {i} of {} shares its line", path.join(".")));
                    }
                }
                let first = if set_apart && self.blank_above(first) {
                    first - 1
                } else {
                    first
                };
                self.remove_lines(first, last);
            }
        }
        self.changes.push(Change::RemoveItems {
            path: path.to_vec(),
            indices: indices.to_vec(),
            to_null: !flow && indices.len() == count,
        });
        Ok(())
    }

    fn blank_above(&self, line: usize) -> bool {
        line > 0 && self.text.line(line - 1).trim().is_empty()
    }

    fn remove_range(&mut self, start: usize, end: usize) {
        self.splices.push(Splice {
            at: start,
            text: String::new(),
            depth: usize::MAX,
            remove: end - start,
        });
    }

    /// Removes whole lines `first..=last`. When they end a file that has no final newline,
    /// the line break before them goes instead, so the file still ends without one.
    fn remove_lines(&mut self, first: usize, last: usize) {
        let mut start = self.text.line_start(first);
        let end = self.text.after_line(last);
        if !self.text.has_terminator(last) && first > 0 {
            start = self.text.line_content_end(first - 1);
        }
        self.remove_range(start, end);
    }

    /// Replaces the plain or quoted scalar `node` (in `slot` of the collection at `path`).
    pub fn replace_scalar(
        &mut self,
        node: &Node,
        path: &[String],
        slot: Slot,
        value: NewNode,
    ) -> Result<(), String> {
        let quotable = matches!(
            &node.kind,
            Kind::Scalar { style, .. }
                if !matches!(style, crate::yaml::doc::Style::Literal | crate::yaml::doc::Style::Folded)
        );
        if !quotable || node.anchor != 0 || node.tag.is_some() {
            return Err("only a plain or quoted scalar without anchor or tag is replaced".into());
        }
        self.splices.push(Splice {
            at: node.start.byte,
            text: emit::flow(&value),
            depth: usize::MAX,
            remove: node.end - node.start.byte,
        });
        self.changes.push(Change::Replace {
            path: path.to_vec(),
            slot,
            value,
        });
        Ok(())
    }

    /// Appends `text` inside the one-line plain or quoted scalar `node` (in `slot` of the
    /// collection at `path`, named `key`): before its closing quote, so that it stays one
    /// string. `in_flow`: the collection is a flow one, where a plain scalar ends at a
    /// `,` or a bracket.
    pub fn append_to_scalar(
        &mut self,
        node: &Node,
        path: &[String],
        (slot, key): (Slot, &str),
        text: &str,
        in_flow: bool,
    ) -> Result<(), String> {
        let plain = matches!(
            &node.kind,
            Kind::Scalar {
                style: crate::yaml::doc::Style::Plain,
                ..
            }
        );
        if node.anchor != 0 {
            return Err("the value is anchored: another place uses it too".into());
        }
        if in_flow && plain && text.contains([',', '[', ']', '{', '}']) {
            return Err("a plain value in a flow collection cannot take a `,`".into());
        }
        let at = self.scalar_end(node, text)?;
        self.splices.push(Splice {
            at,
            text: text.to_string(),
            depth: usize::MAX,
            remove: 0,
        });
        self.changes.push(Change::Append {
            path: path.to_vec(),
            slot,
            key: key.to_string(),
            text: text.to_string(),
        });
        Ok(())
    }

    /// Takes back what [`Editor::append_to_scalar`] added: `text`, which the scalar `node`
    /// (in `slot` of the collection at `path`) must end with.
    pub fn cut_scalar_tail(
        &mut self,
        node: &Node,
        path: &[String],
        slot: Slot,
        text: &str,
    ) -> Result<(), String> {
        let end = self.scalar_end(node, text)?;
        let value = node.as_str().unwrap_or_default();
        let kept = value
            .strip_suffix(text)
            .filter(|_| self.text.as_str()[..end].ends_with(text))
            .ok_or_else(|| format!("{slot:?} does not end with {text:?}"))?;
        self.remove_range(end - text.len(), end);
        self.changes.push(Change::Replace {
            path: path.to_vec(),
            slot,
            value: NewNode::Str(kept.to_string()),
        });
        Ok(())
    }

    /// Where text goes at the end of a one-line scalar's content, when `text` can go there
    /// without escaping.
    fn scalar_end(&self, node: &Node, text: &str) -> Result<usize, String> {
        let Kind::Scalar { style, .. } = &node.kind else {
            return Err("not a scalar".into());
        };
        use crate::yaml::doc::Style;
        let one_line = node.start.line == node.last_line;
        let safe = !text.contains(['"', '\\', '\'', '#', '\n']);
        match style {
            Style::Plain if one_line && safe => Ok(node.end),
            Style::DoubleQuoted | Style::SingleQuoted if one_line && safe => Ok(node.end - 1),
            _ => Err("only a one-line plain or quoted scalar is extended".into()),
        }
    }

    fn push(&mut self, splice: Splice, depth: usize) {
        self.splices.push(Splice { depth, ..splice });
    }

    /// The new text: the original with every splice inserted. Where several land at one
    /// offset (the end of a nested block), the deeper goes first so that it stays inside its
    /// collection; equal depths keep the order they were made in.
    pub fn finish(mut self) -> (String, Vec<Change>) {
        self.splices
            .sort_by_key(|s| (s.at, std::cmp::Reverse(s.depth)));
        let src = self.text.as_str();
        let mut out = String::with_capacity(src.len() + 512);
        let mut pos = 0;
        for s in &self.splices {
            out.push_str(&src[pos..s.at.max(pos)]);
            out.push_str(&s.text);
            pos = pos.max(s.at + s.remove);
        }
        out.push_str(&src[pos..]);
        // A file without a final newline whose tail was removed must still end without one:
        // the break before the removed lines belonged to them.
        let tail_removed = self
            .splices
            .iter()
            .any(|s| s.remove > 0 && s.at + s.remove == src.len());
        if tail_removed && !src.is_empty() && !src.ends_with('\n') {
            while out.ends_with('\n') || out.ends_with('\r') {
                out.pop();
            }
        }
        (out, self.changes)
    }

    /// A splice putting whole `lines` (ended by line breaks) after line `line`. At the end of
    /// a file without a final newline the break moves in front, so the file still ends
    /// without one.
    fn after_line(&self, line: usize, lines: String, lay: &Layout) -> Splice {
        if self.text.has_terminator(line) {
            Splice {
                at: self.text.after_line(line),
                text: lines,
                depth: 0,
                remove: 0,
            }
        } else {
            let body = lines.strip_suffix(lay.eol).unwrap_or(&lines);
            Splice {
                at: self.text.after_line(line),
                text: format!("{}{}", lay.eol, body),
                depth: 0,
                remove: 0,
            }
        }
    }

    /// Inserts `rendered` as the last entry of a flow collection: after the last entry when
    /// there is one (a trailing comma then still follows it, which is valid), else before the
    /// bracket, with a comma from the second insertion on.
    fn flow_splice(&mut self, last_end: Option<usize>, close: usize, rendered: String) -> Splice {
        let (at, comma) = match last_end {
            Some(end) => (end, true),
            None if self.filled.contains(&close) => (close, true),
            None => {
                self.filled.push(close);
                (close, false)
            }
        };
        Splice {
            at,
            text: if comma {
                format!(", {rendered}")
            } else {
                rendered
            },
            depth: 0,
            remove: 0,
        }
    }

    /// Whether the file separates this mapping's entries with blank lines (judged by the one
    /// before the last entry), so a new entry should be set apart too.
    fn blank_line_before(&self, last: Option<&(Node, Node)>) -> bool {
        let Some((key, _)) = last else { return false };
        let line = key.start.line;
        line > 0 && self.text.line(line - 1).trim().is_empty()
    }

    /// Column of the `-` introducing block sequence item `item`, and the spaces after it.
    fn dash_of(&self, item: &Node) -> Option<(usize, usize)> {
        let line: Vec<char> = self.text.line(item.start.line).chars().collect();
        let mut col = item.start.col;
        while col > 0 && line.get(col - 1) == Some(&' ') {
            col -= 1;
        }
        (col > 0 && line.get(col - 1) == Some(&'-')).then(|| (col - 1, item.start.col - col))
    }
}
