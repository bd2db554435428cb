//! Kubernetes manifests: the workloads in them, and their onboarding as the Dapr sidecar
//! injector expects it: annotations on the POD TEMPLATE's metadata (on the workload's own
//! metadata the injector never sees them) and the collector's variables on the app
//! container. Like the compose edits, everything is inserted: comments, `---` documents,
//! indentation and line endings stay, and each document is parsed again and compared.

pub mod erasers;
pub mod images;
pub mod kustomize;
pub mod onboard;
pub mod patch;
pub mod render;
pub mod survives;

use crate::error::Refusal;
use crate::yaml::doc::{Document, Kind, Node, Style};

/// The kinds whose pods obs-init onboards, with where each keeps its pod template.
pub const WORKLOAD_KINDS: [(&str, &[&str]); 5] = [
    ("Deployment", &["spec", "template"]),
    ("StatefulSet", &["spec", "template"]),
    ("DaemonSet", &["spec", "template"]),
    ("Job", &["spec", "template"]),
    ("CronJob", &["spec", "jobTemplate", "spec", "template"]),
];

pub use crate::contract::{
    CLUSTER_COLLECTOR_ADDRESS, K8S_CONFIG_FILE as CONFIG_FILE, K8S_CONFIG_NAME as CONFIG_NAME,
};

/// One document of a manifest file: where it starts, and its text (without the `---` line
/// that opens it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece<'a> {
    pub start: usize,
    /// How many lines of the file come before it.
    pub lines_before: usize,
    pub text: &'a str,
}

/// The documents of a file, split at the `---` lines that separate them (a marker at
/// column 0 ends any block before it, so splitting there is what YAML does).
pub fn documents(content: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let (mut start, mut start_line) = (0, 0);
    let mut offset = 0;
    for (n, line) in content.split_inclusive('\n').enumerate() {
        let body = line.trim_end_matches(['\n', '\r']);
        let marker = body == "---"
            || body.starts_with("--- ")
            || body.starts_with("---\t")
            || body == "..."
            || body.starts_with("... ");
        if marker {
            out.push(Piece {
                start,
                lines_before: start_line,
                text: &content[start..offset],
            });
            start = offset + line.len();
            start_line = n + 1;
        }
        offset += line.len();
    }
    out.push(Piece {
        start,
        lines_before: start_line,
        text: &content[start..],
    });
    out
}

/// A workload of a manifest file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workload {
    /// Which document of the file (0-based).
    pub doc: usize,
    pub kind: String,
    pub name: String,
    pub namespace: Option<String>,
    /// 1-based line of its `kind:` in the file.
    pub line: usize,
}

impl Workload {
    /// How it is named on the command line and in messages: `Deployment/frontend`.
    pub fn id(&self) -> String {
        format!("{}/{}", self.kind, self.name)
    }
}

/// Where a workload kind keeps its pod template.
pub fn template_path(kind: &str) -> Option<&'static [&'static str]> {
    WORKLOAD_KINDS
        .iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, p)| *p)
}

/// A pod template's annotations with string values, as written.
pub fn template_annotations(template: Option<&Node>) -> Vec<(String, String)> {
    template
        .and_then(|t| t.get("metadata"))
        .and_then(|m| m.get("annotations"))
        .and_then(Node::entries)
        .unwrap_or_default()
        .iter()
        .filter_map(|(k, v)| Some((k.as_str()?.to_string(), v.as_str()?.to_string())))
        .collect()
}

/// Refuses a templated manifest (Helm, Jinja): it is not the YAML that is applied. Template
/// markers inside a block scalar (a ConfigMap holding a dashboard or a Jinja prompt) are
/// data, not templating: only those outside one count.
pub fn check_not_templated(piece: &str, doc: &Document, first_line: usize) -> Result<(), Refusal> {
    let mut blocks = Vec::new();
    if let Some(root) = doc.root.as_ref() {
        block_scalars(root, &mut blocks);
    }
    for (i, line) in piece.lines().enumerate() {
        if (line.contains("{{") || line.contains("{%"))
            && !blocks.iter().any(|(a, b)| (*a..=*b).contains(&i))
        {
            return Err(templated(first_line + i + 1));
        }
    }
    Ok(())
}

fn templated(line: usize) -> Refusal {
    Refusal::Syntax {
        message: "template markers (`{{`, `{%`): this is a chart or template, not a manifest"
            .into(),
        line,
        col: 1,
        template: true,
    }
}

/// The line ranges (0-based) of the block scalars below `node`.
fn block_scalars(node: &Node, out: &mut Vec<(usize, usize)>) {
    match &node.kind {
        Kind::Scalar {
            style: Style::Literal | Style::Folded,
            ..
        } => out.push((node.start.line, node.last_line)),
        Kind::Seq { items, .. } => items.iter().for_each(|i| block_scalars(i, out)),
        Kind::Map { entries, .. } => entries.iter().for_each(|(_, v)| block_scalars(v, out)),
        _ => {}
    }
}

/// Parses one document, its lines numbered as in the whole file.
pub fn parse_piece(piece: &Piece<'_>) -> Result<(crate::yaml::text::Text, Document), Refusal> {
    let before = piece.lines_before;
    let (text, doc) = crate::yaml::parse_file(piece.text).map_err(|e| shift(e, before))?;
    check_not_templated(piece.text, &doc, before)?;
    Ok((text, doc))
}

fn shift(e: Refusal, lines: usize) -> Refusal {
    match e {
        Refusal::Syntax {
            message,
            line,
            col,
            template,
        } => Refusal::Syntax {
            message,
            line: line + lines,
            col,
            template,
        },
        Refusal::DuplicateKey {
            key,
            line,
            col,
            first_line,
        } => Refusal::DuplicateKey {
            key,
            line: line + lines,
            col,
            first_line: first_line + lines,
        },
        other => other,
    }
}

/// The workloads of a manifest file, in order.
pub fn workloads(content: &str) -> Result<Vec<Workload>, Refusal> {
    let mut out = Vec::new();
    for (i, piece) in documents(content).iter().enumerate() {
        if piece.text.trim().is_empty() {
            continue;
        }
        let (_, doc) = parse_piece(piece)?;
        let Some(root) = doc.root.as_ref() else {
            continue;
        };
        let Some((kind_key, kind)) = root.get_entry("kind") else {
            continue;
        };
        let Some(kind) = kind.as_str().filter(|k| template_path(k).is_some()) else {
            continue;
        };
        let meta = root.get("metadata");
        let text_of = |n: Option<&Node>, k: &str| {
            n.and_then(|m| m.get(k))
                .and_then(Node::as_str)
                .map(String::from)
        };
        let before = piece.lines_before;
        out.push(Workload {
            doc: i,
            kind: kind.to_string(),
            name: text_of(meta, "name").unwrap_or_default(),
            namespace: text_of(meta, "namespace"),
            line: before + kind_key.start.line + 1,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_split_at_markers_and_keep_every_byte() {
        let text = "# head\napiVersion: v1\n---\nkind: A\n--- # c\r\nkind: B\n...\n";
        let docs = documents(text);
        assert_eq!(docs.len(), 4);
        assert_eq!(docs[1].text, "kind: A\n");
        assert_eq!(docs[2].text, "kind: B\n");
        assert_eq!(&text[docs[2].start..docs[2].start + 8], "kind: B\n");
        assert_eq!(docs[3].text, "");
    }

    #[test]
    fn workloads_are_found_with_their_lines_and_templates_refused() {
        let text = "apiVersion: v1\nkind: Service\nmetadata: {name: web}\n---\n\
                    apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\n";
        let found = workloads(text).expect("parses");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].id(), "Deployment/web");
        assert_eq!(found[0].namespace.as_deref(), Some("shop"));
        assert_eq!(found[0].line, 6);
        let helm = "kind: Deployment\nmetadata:\n  name: \"{{ .Release.Name }}\"\n";
        assert!(matches!(
            workloads(helm),
            Err(Refusal::Syntax {
                template: true,
                line: 3,
                ..
            })
        ));
        // In a block scalar, a template is the ConfigMap's data.
        let data = "kind: ConfigMap\ndata:\n  prompt: |\n    Hello {{ name }}\n";
        assert!(workloads(data).is_ok());
    }
}
