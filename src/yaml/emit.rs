//! New YAML content, rendered to fit the file it goes into.

use crate::yaml::model::{Data, Value, resolve_scalar};

/// A piece of YAML obs-init adds.
#[derive(Debug, Clone, PartialEq)]
pub enum NewNode {
    /// A string; quoted only when plain style would change its meaning.
    Str(String),
    /// A string in double quotes whatever it holds (to match a file that quotes its entries).
    DoubleQuoted(String),
    /// A string in single quotes.
    SingleQuoted(String),
    /// A plain scalar written as is, e.g. `true`.
    Plain(String),
    Seq(Vec<NewNode>),
    Map(Vec<(String, NewNode)>),
    /// The inner collection in flow style (`[a, b]`) even in a block context.
    Flow(Box<NewNode>),
}

impl NewNode {
    pub fn str(s: impl Into<String>) -> NewNode {
        NewNode::Str(s.into())
    }

    /// What this node will mean once written.
    pub fn to_value(&self) -> Value {
        let data = match self {
            NewNode::Str(s) | NewNode::DoubleQuoted(s) | NewNode::SingleQuoted(s) => {
                Data::Str(s.clone())
            }
            NewNode::Plain(s) => resolve_scalar(s, true, None),
            NewNode::Seq(items) => Data::Seq(items.iter().map(NewNode::to_value).collect()),
            NewNode::Map(entries) => Data::Map(
                entries
                    .iter()
                    .map(|(k, v)| (Value::str(k), v.to_value()))
                    .collect(),
            ),
            NewNode::Flow(inner) => return inner.to_value(),
        };
        Value::plain(data)
    }

    fn scalar_text(&self) -> Option<String> {
        match self {
            NewNode::Str(s) => Some(scalar(s)),
            NewNode::DoubleQuoted(s) => Some(double_quoted(s)),
            NewNode::SingleQuoted(s) => Some(format!("'{}'", s.replace('\'', "''"))),
            NewNode::Plain(s) => Some(s.clone()),
            _ => None,
        }
    }
}

/// How the surrounding file lays out block collections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Spaces a nested mapping is indented by.
    pub step: usize,
    /// Spaces between a key and the `-` of its block sequence (0 = not indented).
    pub seq_indent: usize,
    /// Spaces between `-` and the item.
    pub dash_gap: usize,
    pub eol: &'static str,
}

/// A file's layout judged by its first nested block mapping (its step, sequences indented
/// by it), for files other than compose files, which have their own judge.
pub fn layout_of(text: &crate::yaml::text::Text, root: &crate::yaml::doc::Node) -> Layout {
    use crate::yaml::doc::Kind;
    let step = root
        .entries()
        .unwrap_or_default()
        .iter()
        .find_map(|(k, v)| match &v.kind {
            Kind::Map {
                entries,
                flow_close: None,
            } => entries
                .first()
                .map(|(ck, _)| ck.start.col.saturating_sub(k.start.col)),
            _ => None,
        })
        .filter(|&s| s > 0)
        .unwrap_or(2);
    Layout {
        step,
        seq_indent: step,
        dash_gap: 1,
        eol: text.eol(),
    }
}

/// Renders `key: value` as block lines at `indent`, each ended with the layout's line break.
pub fn block_entry(key: &str, value: &NewNode, indent: usize, lay: &Layout) -> String {
    let mut out = String::new();
    push_block_entry(&mut out, key, value, indent, lay);
    out
}

fn push_block_entry(out: &mut String, key: &str, value: &NewNode, indent: usize, lay: &Layout) {
    out.push_str(&" ".repeat(indent));
    out.push_str(&scalar(key));
    out.push(':');
    push_block_value(out, value, indent, lay);
}

/// Renders the value part of an entry whose key (at `indent`) has already been written.
pub fn push_block_value(out: &mut String, value: &NewNode, indent: usize, lay: &Layout) {
    match value {
        NewNode::Map(entries) if !entries.is_empty() => {
            out.push_str(lay.eol);
            for (k, v) in entries {
                push_block_entry(out, k, v, indent + lay.step, lay);
            }
        }
        NewNode::Seq(items) if !items.is_empty() => {
            out.push_str(lay.eol);
            for item in items {
                out.push_str(&seq_item(item, indent + lay.seq_indent, lay));
            }
        }
        other => {
            out.push(' ');
            out.push_str(&flow(other));
            out.push_str(lay.eol);
        }
    }
}

/// Renders one block sequence item with its dash at `dash_col`. A mapping item is written
/// in block style, its first entry on the dash's line (`- name: X` then `  value: Y`), as
/// hand-written manifests have it; other items in flow style.
pub fn seq_item(item: &NewNode, dash_col: usize, lay: &Layout) -> String {
    let gap = lay.dash_gap.max(1);
    let mut out = format!("{}-{}", " ".repeat(dash_col), " ".repeat(gap));
    match item {
        NewNode::Map(entries) if !entries.is_empty() => {
            let col = dash_col + 1 + gap;
            for (i, (k, v)) in entries.iter().enumerate() {
                if i == 0 {
                    out.push_str(&scalar(k));
                    out.push(':');
                    push_block_value(&mut out, v, col, lay);
                } else {
                    push_block_entry(&mut out, k, v, col, lay);
                }
            }
        }
        other => {
            out.push_str(&flow(other));
            out.push_str(lay.eol);
        }
    }
    out
}

/// Renders a node in flow style: scalars as such, collections in brackets.
pub fn flow(node: &NewNode) -> String {
    if let Some(s) = node.scalar_text() {
        return s;
    }
    match node {
        NewNode::Seq(items) => {
            let inner: Vec<String> = items.iter().map(flow).collect();
            format!("[{}]", inner.join(", "))
        }
        NewNode::Map(entries) => {
            let inner: Vec<String> = entries
                .iter()
                .map(|(k, v)| format!("{}: {}", scalar(k), flow(v)))
                .collect();
            format!("{{{}}}", inner.join(", "))
        }
        NewNode::Flow(inner) => flow(inner),
        _ => unreachable!("scalars are rendered above"),
    }
}

/// A string as a YAML scalar: plain when that reads back as the same string in any context
/// (block or flow), double-quoted otherwise.
pub fn scalar(s: &str) -> String {
    if is_safe_plain(s) {
        s.to_string()
    } else {
        double_quoted(s)
    }
}

fn is_safe_plain(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    let first_ok = first.is_ascii_alphanumeric() || matches!(first, '.' | '/' | '_' | '$');
    // YAML 1.1 readers (PyYAML, older tools) take these as booleans; quoting costs nothing.
    let yaml11_bool = matches!(
        s.to_ascii_lowercase().as_str(),
        "y" | "n" | "yes" | "no" | "on" | "off"
    );
    first_ok
        && !yaml11_bool
        && !s.ends_with([' ', ':'])
        && !s.contains(": ")
        && !s.contains(" #")
        && !s.contains(['\n', '\r', '\t', ',', '[', ']', '{', '}', '"', '\'', '\\'])
        && s.chars().all(|c| !c.is_control())
        && matches!(resolve_scalar(s, true, None), Data::Str(_))
}

fn double_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const LAY: Layout = Layout {
        step: 2,
        seq_indent: 2,
        dash_gap: 1,
        eol: "\n",
    };

    #[test]
    fn strings_that_would_change_meaning_are_quoted() {
        assert_eq!(scalar("app"), "app");
        assert_eq!(scalar("otel-collector:4317"), "otel-collector:4317");
        assert_eq!(
            scalar("http://otel-collector:4317"),
            "http://otel-collector:4317"
        );
        assert_eq!(scalar("8000"), "\"8000\"");
        assert_eq!(scalar("true"), "\"true\"");
        assert_eq!(scalar("no"), "\"no\"");
        assert_eq!(scalar("service:app"), "service:app");
        assert_eq!(scalar("a: b"), "\"a: b\"");
        assert_eq!(scalar("-x"), "\"-x\"");
        assert_eq!(scalar(""), "\"\"");
    }

    #[test]
    fn nested_block_entries_follow_the_layout() {
        let node = NewNode::Map(vec![(
            "observability-net".into(),
            NewNode::Map(vec![("external".into(), NewNode::Plain("true".into()))]),
        )]);
        assert_eq!(
            block_entry("networks", &node, 0, &LAY),
            "networks:\n  observability-net:\n    external: true\n"
        );
        let four = Layout {
            step: 4,
            seq_indent: 0,
            ..LAY
        };
        let seq = NewNode::Seq(vec![NewNode::str("default"), NewNode::str("x")]);
        assert_eq!(
            block_entry("networks", &seq, 4, &four),
            "    networks:\n    - default\n    - x\n"
        );
    }

    #[test]
    fn flow_collections_render_inline() {
        let node = NewNode::Flow(Box::new(NewNode::Seq(vec![
            NewNode::DoubleQuoted("./daprd".into()),
            NewNode::DoubleQuoted("--app-id".into()),
        ])));
        assert_eq!(flow(&node), "[\"./daprd\", \"--app-id\"]");
    }
}
