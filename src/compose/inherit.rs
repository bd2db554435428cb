//! What a service inherits, resolved the way Compose resolves it: YAML merge keys first
//! (`<<: *a` and `<<: [*a, *b]`, nested to any depth, with anchors and aliases inside the
//! merged mappings), then `extends` between services of the same file.
//!
//! Merge keys are shallow: a key of the service's own replaces the merged one whole.
//! `extends` is deep: mappings (environment, labels, networks) merge by key and profiles
//! add up, so a key the service writes itself adds to what its base gives it.

use crate::error::Refusal;
use crate::yaml::doc::{Document, Kind, Node};

/// The mappings merged into `node` with `<<`, in precedence order: the first that has a key
/// gives its value. A merged mapping's own merges come right after it.
pub fn merged<'d>(doc: &'d Document, node: &'d Node) -> Vec<&'d Node> {
    let mut out = Vec::new();
    collect_merged(doc, node, &mut out, 0);
    out
}

/// How deep merge keys are followed: far beyond real files, short of a cycle's recursion.
const MAX_MERGE_DEPTH: usize = 64;

fn collect_merged<'d>(doc: &'d Document, node: &'d Node, out: &mut Vec<&'d Node>, depth: usize) {
    if depth > MAX_MERGE_DEPTH {
        return;
    }
    let sources: Vec<&Node> = match node.get("<<").map(|m| doc.resolve(m)) {
        Some(
            m @ Node {
                kind: Kind::Map { .. },
                ..
            },
        ) => vec![m],
        Some(Node {
            kind: Kind::Seq { items, .. },
            ..
        }) => items.iter().map(|i| doc.resolve(i)).collect(),
        _ => Vec::new(),
    };
    for source in sources.into_iter().filter(|s| s.entries().is_some()) {
        out.push(source);
        collect_merged(doc, source, out, depth + 1);
    }
}

/// A key of a mapping, looked up locally and then through its merge keys, aliases followed.
pub fn lookup<'d>(doc: &'d Document, node: &'d Node, key: &str) -> Option<&'d Node> {
    node.get(key)
        .or_else(|| merged(doc, node).into_iter().find_map(|m| m.get(key)))
        .map(|v| doc.resolve(v))
}

/// Whether `node` has no `key` of its own but gets one through a merge key: writing its own
/// would then replace the merged one, and everything in it.
pub fn only_merged(doc: &Document, node: &Node, key: &str) -> bool {
    node.get(key).is_none() && lookup(doc, node, key).is_some()
}

/// The services of this file that `name` extends, nearest first, each with the resolved
/// node. A base in another file (`extends: {file: ...}`) is refused: its keys cannot be seen
/// here, and the edit could change what the service inherits.
pub fn bases<'d>(
    doc: &'d Document,
    services: &'d Node,
    name: &str,
) -> Result<Vec<(String, &'d Node)>, Refusal> {
    let mut chain: Vec<(String, &'d Node)> = Vec::new();
    let mut current = name.to_string();
    while let Some((key, node)) = services.get_entry(&current) {
        let node = doc.resolve(node);
        let Some(ext) = lookup(doc, node, "extends") else {
            break;
        };
        let line = ext.start.line + 1;
        let base = match &ext.kind {
            Kind::Scalar { value, .. } => value.clone(),
            Kind::Map { .. } => {
                if let Some(file) = lookup(doc, ext, "file") {
                    return Err(Refusal::ExtendsFile {
                        service: name.to_string(),
                        file: file.as_str().unwrap_or("?").to_string(),
                        line,
                    });
                }
                match lookup(doc, ext, "service").and_then(Node::as_str) {
                    Some(s) => s.to_string(),
                    None => {
                        return Err(unsupported(name, "`extends` names no service", line));
                    }
                }
            }
            _ => {
                return Err(unsupported(
                    name,
                    "`extends` is not a name or a mapping",
                    line,
                ));
            }
        };
        if base == name || chain.iter().any(|(n, _)| *n == base) {
            return Err(unsupported(
                name,
                &format!("`extends` goes round in a circle through `{base}`"),
                key.start.line + 1,
            ));
        }
        let Some(base_node) = services.get(&base).map(|n| doc.resolve(n)) else {
            return Err(unsupported(
                name,
                &format!("it extends `{base}`, which this file does not define"),
                line,
            ));
        };
        chain.push((base.clone(), base_node));
        current = base;
    }
    Ok(chain)
}

/// The services of this file that extend `name`, directly or through another: an edit to
/// `name` reaches each of them.
pub fn extended_by(doc: &Document, services: &Node, name: &str) -> Vec<String> {
    services
        .entries()
        .unwrap_or_default()
        .iter()
        .filter_map(|(k, _)| k.as_str())
        .filter(|other| *other != name)
        .filter(|other| {
            bases(doc, services, other)
                .map(|chain| chain.iter().any(|(b, _)| b == name))
                .unwrap_or(false)
        })
        .map(str::to_string)
        .collect()
}

/// A key as the service ends up with it when a local value replaces an inherited one
/// (`image`, `restart`, `network_mode`): its own (through merge keys), else the nearest
/// base's.
pub fn effective<'d>(
    doc: &'d Document,
    node: &'d Node,
    bases: &[(String, &'d Node)],
    key: &str,
) -> Option<&'d Node> {
    lookup(doc, node, key).or_else(|| bases.iter().find_map(|(_, b)| lookup(doc, b, key)))
}

/// The nodes that each give a part of a key that adds up along `extends` (`profiles`,
/// `ports`, `environment`, ...): the service's own first, then each base's.
pub fn layers<'d>(
    doc: &'d Document,
    node: &'d Node,
    bases: &[(String, &'d Node)],
    key: &str,
) -> Vec<&'d Node> {
    std::iter::once(node)
        .chain(bases.iter().map(|(_, b)| *b))
        .filter_map(|n| lookup(doc, n, key))
        .collect()
}

fn unsupported(service: &str, what: &str, line: usize) -> Refusal {
    Refusal::Unsupported {
        service: Some(service.to_string()),
        what: what.to_string(),
        line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::text::Text;

    fn doc(s: &str) -> Document {
        Document::parse(&Text::new(s)).expect("parses")
    }

    #[test]
    fn nested_merge_keys_are_followed_in_precedence_order() {
        let d = doc("x-a: &a {environment: {A: '1'}}\n\
                     x-b: &b {<<: *a, restart: always}\n\
                     svc: {<<: [*b], image: x}\n");
        let svc = d.root.as_ref().and_then(|r| r.get("svc")).expect("svc");
        assert!(only_merged(&d, svc, "environment"));
        assert_eq!(
            lookup(&d, svc, "restart").and_then(Node::as_str),
            Some("always")
        );
        assert!(!only_merged(&d, svc, "image"));
    }

    #[test]
    fn extends_chains_are_followed_and_circles_refused() {
        let d = doc(
            "services:\n  a: {image: x}\n  b: {extends: a}\n  c: {extends: {service: b}}\n  d: {extends: d}\n",
        );
        let services = d
            .root
            .as_ref()
            .and_then(|r| r.get("services"))
            .expect("services");
        let chain: Vec<String> = bases(&d, services, "c")
            .expect("chain")
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(chain, ["b", "a"]);
        assert_eq!(extended_by(&d, services, "a"), ["b", "c"]);
        assert!(bases(&d, services, "d").is_err());
    }
}
