//! A YAML document parsed into a tree that remembers where every node sits in the text.
//!
//! Editing works by splicing new text into the original (see [`crate::yaml::splice`]), so the
//! tree only needs exact *start* positions and the last line (or byte) each node occupies.
//! The parser is libyaml-safer, a safe Rust port of libyaml: it accepts what PyYAML and
//! Compose's go-yaml accept (flow sequences whose closing bracket sits at the key's indent,
//! common in real files, which strict YAML 1.2 parsers reject). A block scalar's reported end
//! runs over the blank lines after it, so scalar ends are recomputed from the text itself.

use std::collections::HashMap;

use libyaml_safer::{Event, EventData, MappingStyle, Mark, Parser, ScalarStyle, SequenceStyle};

use crate::yaml::text::Text;

/// A position in the text: 0-based line, 0-based column in characters, and byte offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
    pub byte: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    Literal,
    Folded,
}

#[derive(Debug, Clone)]
pub struct Node {
    pub kind: Kind,
    /// Where the node's own content starts (for an anchored or tagged node, its first
    /// property; for a block collection, its first entry).
    pub start: Pos,
    /// Byte just past the node's content: exact for scalars, aliases and flow collections; for
    /// a block collection, the end of its last child.
    pub end: usize,
    /// Last line holding the node's content.
    pub last_line: usize,
    /// Anchor id (numbered in definition order from 1), 0 when the node has no anchor.
    pub anchor: usize,
    pub tag: Option<String>,
}

#[derive(Debug, Clone)]
pub enum Kind {
    Scalar {
        value: String,
        style: Style,
    },
    Seq {
        items: Vec<Node>,
        /// Byte offset of the closing `]` for a flow sequence, `None` in block style.
        flow_close: Option<usize>,
    },
    Map {
        entries: Vec<(Node, Node)>,
        /// Byte offset of the closing `}` for a flow mapping, `None` in block style.
        flow_close: Option<usize>,
    },
    Alias(usize),
}

/// Why a text could not be read as a single YAML document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    Syntax {
        message: String,
        line: usize,
        col: usize,
    },
    DuplicateKey {
        key: String,
        line: usize,
        col: usize,
        first_line: usize,
    },
    MultipleDocuments {
        line: usize,
    },
}

/// A parsed document: the root node (absent for an empty or comment-only file) and the set of
/// anchors some alias refers to.
#[derive(Debug)]
pub struct Document {
    pub root: Option<Node>,
    /// Anchor id -> 1-based line of the first alias referring to it.
    pub aliased: HashMap<usize, usize>,
    /// Anchor id -> its name and the node that defines it.
    anchors: Vec<(usize, String, Node)>,
}

impl Document {
    pub fn parse(text: &Text) -> Result<Document, ParseError> {
        // YAML takes a lone CR as a line break; obs-init's line table does not, and no real
        // compose file uses classic-Mac line endings: refuse rather than misplace an edit.
        if let Some(at) = text
            .as_str()
            .match_indices('\r')
            .map(|(i, _)| i)
            .find(|&i| !text.as_str()[i + 1..].starts_with('\n'))
        {
            let line = text.line_of(at);
            return Err(ParseError::Syntax {
                message: "a carriage return without a line feed (convert the file to LF or \
                          CRLF line endings)"
                    .into(),
                line: line + 1,
                col: text.as_str()[text.line_start(line)..at].chars().count() + 1,
            });
        }
        let mut builder = Builder::new(text)?;
        let root = builder.stream()?;
        Ok(Document {
            root,
            aliased: builder.aliased,
            anchors: builder.anchors,
        })
    }

    /// The node that defines anchor `id`.
    pub fn anchor(&self, id: usize) -> Option<&Node> {
        self.anchors
            .iter()
            .find(|(a, _, _)| *a == id)
            .map(|(_, _, n)| n)
    }

    /// The name anchor `id` was defined with.
    pub fn anchor_name(&self, id: usize) -> Option<&str> {
        self.anchors
            .iter()
            .find(|(a, _, _)| *a == id)
            .map(|(_, name, _)| name.as_str())
    }

    /// Follows an alias to the node it names; any other node is returned as is.
    pub fn resolve<'a>(&'a self, node: &'a Node) -> &'a Node {
        match node.kind {
            Kind::Alias(id) => self.anchor(id).unwrap_or(node),
            _ => node,
        }
    }
}

impl Node {
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }

    pub fn entries(&self) -> Option<&[(Node, Node)]> {
        match &self.kind {
            Kind::Map { entries, .. } => Some(entries),
            _ => None,
        }
    }

    pub fn items(&self) -> Option<&[Node]> {
        match &self.kind {
            Kind::Seq { items, .. } => Some(items),
            _ => None,
        }
    }

    /// The value under `key` in a mapping node (merge keys are not followed).
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.get_entry(key).map(|(_, v)| v)
    }

    pub fn get_entry(&self, key: &str) -> Option<&(Node, Node)> {
        self.entries()?
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
    }

    /// A scalar written with nothing at all (`key:` followed by a line break): the one kind of
    /// null that can be given a value by pure insertion.
    pub fn is_empty_null(&self) -> bool {
        matches!(&self.kind, Kind::Scalar { value, style: Style::Plain } if value.is_empty())
            && self.tag.is_none()
            && self.anchor == 0
    }

    pub fn is_flow(&self) -> bool {
        matches!(
            self.kind,
            Kind::Seq {
                flow_close: Some(_),
                ..
            } | Kind::Map {
                flow_close: Some(_),
                ..
            }
        )
    }

    pub fn kind_name(&self) -> &'static str {
        match &self.kind {
            Kind::Scalar { value, style } if value.is_empty() && *style == Style::Plain => "null",
            Kind::Scalar { .. } => "scalar",
            Kind::Seq { .. } => "sequence",
            Kind::Map { .. } => "mapping",
            Kind::Alias(_) => "alias",
        }
    }
}

struct Builder<'t> {
    text: &'t Text,
    events: std::vec::IntoIter<Event>,
    peeked: Option<Event>,
    aliased: HashMap<usize, usize>,
    anchors: Vec<(usize, String, Node)>,
    /// Anchor name -> id of its latest definition (a name may be redefined).
    anchor_ids: HashMap<String, usize>,
    /// Anchors defined so far. Ids are given when a definition starts but a node is recorded
    /// when it ends, so an anchor nested inside an anchored collection must not take its id
    /// from the count of recorded ones.
    defined: usize,
    /// How many collections enclose the node being built.
    depth: usize,
}

/// Real compose files nest a handful of levels; the tree (and everything that walks it) is
/// recursive, so hostile nesting is refused before it can exhaust the stack.
const MAX_DEPTH: usize = 256;

impl<'t> Builder<'t> {
    fn new(text: &'t Text) -> Result<Builder<'t>, ParseError> {
        // libyaml-safer 0.3 panics on a block scalar that ends the input without a line
        // break; one appended break changes no position obs-init uses.
        let owned;
        let source = if text.as_str().ends_with('\n') {
            text.as_str()
        } else {
            owned = format!("{}\n", text.as_str());
            &owned
        };
        // Any other parser panic on hostile input becomes a syntax error, not a crash.
        let parsed = std::panic::catch_unwind(|| parse_events(source)).unwrap_or_else(|_| {
            Err(ParseError::Syntax {
                message: "the YAML parser gave up on this input".into(),
                line: 0,
                col: 0,
            })
        });
        let events = parsed?;
        Ok(Builder {
            text,
            events: events.into_iter(),
            peeked: None,
            aliased: HashMap::new(),
            anchors: Vec::new(),
            anchor_ids: HashMap::new(),
            defined: 0,
            depth: 0,
        })
    }

    fn next(&mut self) -> Event {
        self.peeked
            .take()
            .or_else(|| self.events.next())
            .unwrap_or_else(Event::stream_end)
    }

    fn peek(&mut self) -> &EventData {
        if self.peeked.is_none() {
            self.peeked = Some(self.next());
        }
        &self.peeked.as_ref().expect("just filled").data
    }

    fn stream(&mut self) -> Result<Option<Node>, ParseError> {
        let mut root = None;
        let mut documents = 0;
        loop {
            let ev = self.next();
            match ev.data {
                EventData::StreamStart { .. } | EventData::DocumentEnd { .. } => {}
                EventData::StreamEnd => return Ok(root),
                EventData::DocumentStart { .. } => {
                    documents += 1;
                    if documents > 1 {
                        return Err(ParseError::MultipleDocuments {
                            line: ev.start_mark.line as usize + 1,
                        });
                    }
                    if !matches!(self.peek(), EventData::DocumentEnd { .. }) {
                        root = Some(self.node()?);
                    }
                }
                _ => return Err(unexpected(&ev)),
            }
        }
    }

    fn pos(&self, m: &Mark) -> Pos {
        let byte = (m.index as usize).min(self.text.as_str().len());
        Pos {
            line: m.line as usize,
            col: m.column as usize,
            byte,
        }
    }

    fn define(&mut self, anchor: Option<String>) -> (usize, Option<String>) {
        match anchor {
            Some(name) => {
                self.defined += 1;
                let id = self.defined;
                self.anchor_ids.insert(name.clone(), id);
                (id, Some(name))
            }
            None => (0, None),
        }
    }

    fn node(&mut self) -> Result<Node, ParseError> {
        let ev = self.next();
        let start = self.pos(&ev.start_mark);
        let opens = matches!(
            ev.data,
            EventData::SequenceStart { .. } | EventData::MappingStart { .. }
        );
        if opens {
            self.depth += 1;
            if self.depth > MAX_DEPTH {
                return Err(ParseError::Syntax {
                    message: format!("nesting deeper than {MAX_DEPTH} levels"),
                    line: start.line + 1,
                    col: start.col + 1,
                });
            }
        }
        let built = self.node_from(ev, start);
        if opens {
            self.depth -= 1;
        }
        built
    }

    fn node_from(&mut self, ev: Event, start: Pos) -> Result<Node, ParseError> {
        let (node, name) = match ev.data {
            EventData::Scalar {
                anchor,
                tag,
                value,
                style,
                ..
            } => {
                let style = match style {
                    ScalarStyle::SingleQuoted => Style::SingleQuoted,
                    ScalarStyle::DoubleQuoted => Style::DoubleQuoted,
                    ScalarStyle::Literal => Style::Literal,
                    ScalarStyle::Folded => Style::Folded,
                    _ => Style::Plain,
                };
                let (anchor, name) = self.define(anchor);
                // The event starts at the node's properties; the content follows them.
                let content = self.content_start(start);
                let raw_end = self.pos(&ev.end_mark);
                let end = self.scalar_end(style, content, raw_end);
                let node = Node {
                    last_line: self
                        .text
                        .line_of(end.max(start.byte + 1) - 1)
                        .max(start.line),
                    kind: Kind::Scalar { value, style },
                    start,
                    end,
                    anchor,
                    tag,
                };
                (node, name)
            }
            EventData::Alias { anchor } => {
                let id = self.anchor_ids.get(&anchor).copied().unwrap_or(0);
                self.aliased.entry(id).or_insert(start.line + 1);
                let end = self.pos(&ev.end_mark).byte;
                let node = Node {
                    kind: Kind::Alias(id),
                    start,
                    end,
                    last_line: start.line,
                    anchor: 0,
                    tag: None,
                };
                (node, None)
            }
            EventData::SequenceStart {
                anchor, tag, style, ..
            } => {
                let (anchor, name) = self.define(anchor);
                let mut items = Vec::new();
                let close = loop {
                    if matches!(self.peek(), EventData::SequenceEnd) {
                        let end = self.next();
                        break self.pos(&end.start_mark);
                    }
                    items.push(self.node()?);
                };
                let flow = style == SequenceStyle::Flow;
                let last = items.last().map(|n| (n.end, n.last_line));
                let node = self.collection(start, anchor, tag, flow, close, last, |flow_close| {
                    Kind::Seq { items, flow_close }
                });
                (node, name)
            }
            EventData::MappingStart {
                anchor, tag, style, ..
            } => {
                let (anchor, name) = self.define(anchor);
                let mut entries: Vec<(Node, Node)> = Vec::new();
                // Key text -> index of its entry: a linear search per key made large
                // mappings (thousands of services) quadratic.
                let mut seen: HashMap<String, usize> = HashMap::new();
                let close = loop {
                    if matches!(self.peek(), EventData::MappingEnd) {
                        let end = self.next();
                        break self.pos(&end.start_mark);
                    }
                    let key = self.node()?;
                    if let Some(k) = key.as_str() {
                        if let Some(&first) = seen.get(k) {
                            return Err(ParseError::DuplicateKey {
                                key: k.to_string(),
                                line: key.start.line + 1,
                                col: key.start.col + 1,
                                first_line: entries[first].0.start.line + 1,
                            });
                        }
                        seen.insert(k.to_string(), entries.len());
                    }
                    let value = self.node()?;
                    entries.push((key, value));
                };
                let flow = style == MappingStyle::Flow;
                let last = entries.last().map(|(_, v)| (v.end, v.last_line));
                let node = self.collection(start, anchor, tag, flow, close, last, |flow_close| {
                    Kind::Map {
                        entries,
                        flow_close,
                    }
                });
                (node, name)
            }
            _ => return Err(unexpected(&ev)),
        };
        if let Some(name) = name {
            self.anchors.push((node.anchor, name, node.clone()));
        }
        Ok(node)
    }

    #[allow(clippy::too_many_arguments)]
    fn collection(
        &self,
        start: Pos,
        anchor: usize,
        tag: Option<String>,
        flow: bool,
        close: Pos,
        last_child: Option<(usize, usize)>,
        kind: impl FnOnce(Option<usize>) -> Kind,
    ) -> Node {
        let (end, last_line, flow_close) = if flow {
            (close.byte + 1, close.line, Some(close.byte))
        } else {
            let (end, line) = last_child.unwrap_or((start.byte, start.line));
            (end, line, None)
        };
        Node {
            kind: kind(flow_close),
            start,
            end,
            last_line,
            anchor,
            tag,
        }
    }

    /// Where a node's content starts, past its `&anchor` and `!tag` properties.
    fn content_start(&self, start: Pos) -> Pos {
        let s = &self.text.as_str()[start.byte..];
        let mut rest = s;
        loop {
            let trimmed = rest.trim_start_matches([' ', '\t']);
            if trimmed.starts_with(['&', '!']) {
                let len = trimmed
                    .find(|c: char| c.is_whitespace())
                    .unwrap_or(trimmed.len());
                rest = &trimmed[len..];
            } else {
                rest = trimmed;
                break;
            }
        }
        let byte = start.byte + (s.len() - rest.len());
        let line = self.text.line_of(byte);
        let col = self.text.as_str()[self.text.line_start(line)..byte]
            .chars()
            .count();
        Pos { line, col, byte }
    }

    /// The byte just past a scalar's content.
    fn scalar_end(&self, style: Style, start: Pos, raw_end: Pos) -> usize {
        let s = self.text.as_str();
        match style {
            Style::Plain => {
                let seg = &s[start.byte..raw_end.byte.max(start.byte)];
                // A plain scalar can never contain " #": anything from there is a comment.
                let seg = match seg.find(" #").or_else(|| seg.find("\t#")) {
                    Some(i) => &seg[..i],
                    None => seg,
                };
                start.byte + seg.trim_end().len()
            }
            Style::SingleQuoted => {
                let mut it = s[start.byte..].char_indices().skip(1).peekable();
                while let Some((i, c)) = it.next() {
                    if c == '\'' {
                        if it.peek().map(|&(_, c)| c) == Some('\'') {
                            it.next();
                        } else {
                            return start.byte + i + 1;
                        }
                    }
                }
                raw_end.byte
            }
            Style::DoubleQuoted => {
                let mut it = s[start.byte..].char_indices().skip(1);
                while let Some((i, c)) = it.next() {
                    match c {
                        '\\' => {
                            it.next();
                        }
                        '"' => return start.byte + i + 1,
                        _ => {}
                    }
                }
                raw_end.byte
            }
            Style::Literal | Style::Folded => {
                // `start` is the `|`/`>` header. Content lines are indented at least as far as
                // the first non-blank one after it; the scalar ends at the last such line.
                let last_line = raw_end.line.min(self.text.line_count() - 1);
                let mut content_indent = None;
                let mut last = None;
                for line in start.line + 1..=last_line {
                    let content = self.text.line(line);
                    if content.trim().is_empty() {
                        continue;
                    }
                    let indent = self.text.indent(line);
                    let min = *content_indent.get_or_insert(indent);
                    if indent >= min {
                        last = Some(line);
                    } else {
                        break;
                    }
                }
                match last {
                    Some(line) => self.text.line_content_end(line),
                    None => self.text.line_content_end(start.line),
                }
            }
        }
    }
}

fn parse_events(source: &str) -> Result<Vec<Event>, ParseError> {
    let mut input = source.as_bytes();
    let mut parser = Parser::new();
    parser.set_input_string(&mut input);
    let mut events = Vec::new();
    let mut depth = 0usize;
    loop {
        let ev = parser.parse().map_err(|e| {
            let mark = e.problem_mark().or(e.context_mark());
            let mut message = e.problem().to_string();
            if let Some(context) = e.context() {
                message = format!("{message} ({context})");
            }
            ParseError::Syntax {
                message,
                line: mark.map_or(0, |m| m.line as usize + 1),
                col: mark.map_or(0, |m| m.column as usize + 1),
            }
        })?;
        match ev.data {
            EventData::SequenceStart { .. } | EventData::MappingStart { .. } => depth += 1,
            EventData::SequenceEnd | EventData::MappingEnd => depth = depth.saturating_sub(1),
            _ => {}
        }
        // Stop here rather than in the tree builder: the scanner's work per token grows
        // with the flow depth, so hostile nesting would otherwise take quadratic time.
        if depth > MAX_DEPTH {
            return Err(ParseError::Syntax {
                message: format!("nesting deeper than {MAX_DEPTH} levels"),
                line: ev.start_mark.line as usize + 1,
                col: ev.start_mark.column as usize + 1,
            });
        }
        let end = matches!(ev.data, EventData::StreamEnd);
        events.push(ev);
        if end {
            return Ok(events);
        }
    }
}

fn unexpected(ev: &Event) -> ParseError {
    ParseError::Syntax {
        message: "unexpected YAML event".into(),
        line: ev.start_mark.line as usize + 1,
        col: ev.start_mark.column as usize + 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_alias_of_a_mapping_that_holds_an_anchor_resolves_to_the_mapping() {
        // Sentry's and Airflow's shape: the merged mapping defines an anchor of its own.
        let text = Text::new(
            "x-defaults: &defaults\n  environment:\n    A: &a \"1\"\n    B: *a\n\
             services:\n  web:\n    <<: *defaults\n",
        );
        let doc = Document::parse(&text).expect("parses");
        let root = doc.root.as_ref().expect("root");
        let merge = root
            .get("services")
            .and_then(|s| s.get("web"))
            .and_then(|w| w.get("<<"))
            .expect("merge key");
        let target = doc.resolve(merge);
        assert!(
            target.get("environment").is_some(),
            "resolved to {target:?}"
        );
        let env = target.get("environment").expect("environment");
        let b = env.get("B").map(|b| doc.resolve(b)).and_then(Node::as_str);
        assert_eq!(b, Some("1"));
    }
}
