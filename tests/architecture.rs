//! The library's modules form no import circle: read from the code's own `use` lines and
//! `crate::`/`super::`/`self::` paths, one node per source file, an edge from a file to each
//! module file it names. A parent's `pub use` of its own descendant is its public face, not a
//! dependency, and is left out; test modules are left out too. Lower layers never import the
//! planning layer above them.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Every library source file, with its module path (`crate::plan::python`).
fn modules(src: &Path) -> BTreeMap<String, PathBuf> {
    let mut out = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).expect("read src") {
            let path = entry.expect("entry").path();
            let rel = path.strip_prefix(src).expect("inside src");
            if rel.starts_with("bin") {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let mut parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            let last = parts.pop().expect("a file name");
            match last.as_str() {
                "lib.rs" | "mod.rs" => {}
                name => parts.push(name.trim_end_matches(".rs").to_string()),
            }
            let module = std::iter::once("crate".to_string())
                .chain(parts)
                .collect::<Vec<_>>()
                .join("::");
            out.insert(module, path);
        }
    }
    out
}

/// The code of a file without its comments and its `#[cfg(test)]` module.
fn code(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(at) => &text[..at],
        None => text,
    };
    text.lines()
        .map(|l| match l.find("//") {
            // A `//` inside a string ("http://") is rare in paths' lines; cut only where
            // it starts the comment of a code line or the line itself.
            Some(at) if !l[..at].contains('"') => &l[..at],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The paths a `use` tree names: `a::{b, c::{d, e}}` gives `a::b`, `a::c::d`, `a::c::e`.
fn expand(tree: &str) -> Vec<String> {
    // `x as y` names x; then white space means nothing.
    let words: Vec<&str> = tree.split_whitespace().collect();
    let mut kept = Vec::new();
    let mut i = 0;
    while i < words.len() {
        if words[i] == "as" {
            // The new name goes; what follows it (`},`) stays.
            let next = words.get(i + 1).copied().unwrap_or("");
            kept.push(next.trim_start_matches(|c: char| c.is_alphanumeric() || c == '_'));
            i += 2;
            continue;
        }
        kept.push(words[i]);
        i += 1;
    }
    let tree: String = kept.concat();
    fn go(prefix: &str, tree: &str, out: &mut Vec<String>) {
        let Some(open) = tree.find('{') else {
            out.push(format!("{prefix}{tree}"));
            return;
        };
        let head = &tree[..open];
        let inner = &tree[open + 1..tree.rfind('}').expect("balanced use tree")];
        let mut depth = 0;
        let mut start = 0;
        let mut parts = Vec::new();
        for (i, c) in inner.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    parts.push(&inner[start..i]);
                    start = i + 1;
                }
                _ => {}
            }
        }
        parts.push(&inner[start..]);
        for part in parts.into_iter().filter(|p| !p.is_empty()) {
            go(&format!("{prefix}{head}"), part, out);
        }
    }
    let mut out = Vec::new();
    go("", &tree, &mut out);
    out
}

/// Each path `code` names, and whether through a `pub use`; `children` are the module's
/// own submodules, which its code names without a `use`.
fn named_paths(code: &str, children: &[&str]) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let mut rest = code;
    // The code with its use statements blanked, for the paths written out in it.
    let mut body = String::with_capacity(code.len());
    while let Some(at) = rest.find("use ") {
        let before = &rest[..at];
        let starts_statement = before
            .chars()
            .last()
            .is_none_or(|c| c.is_whitespace() || c == ';' || c == '{' || c == '}');
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let prefix = before[line_start..].trim();
        let public = prefix.starts_with("pub");
        let tail = &rest[at + 4..];
        let Some(end) = tail.find(';') else { break };
        if starts_statement && (prefix.is_empty() || public) {
            out.extend(expand(&tail[..end]).into_iter().map(|p| (p, public)));
            body.push_str(before);
        } else {
            body.push_str(&rest[..at + 4 + end]);
        }
        rest = &tail[end..];
    }
    body.push_str(rest);
    let code = body.as_str();
    // Paths written out in the code (`crate::paths::display(...)`).
    let bytes = code.as_bytes();
    let roots: Vec<String> = ["crate", "super", "self"]
        .iter()
        .copied()
        .chain(children.iter().copied())
        .map(|r| format!("{r}::"))
        .collect();
    for root in &roots {
        let root = root.as_str();
        let mut from = 0;
        while let Some(i) = code[from..].find(root) {
            let at = from + i;
            from = at + root.len();
            if at > 0 && (bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_') {
                continue;
            }
            let len = code[at..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(code.len() - at);
            out.push((code[at..at + len].trim_end_matches(':').to_string(), false));
        }
    }
    out
}

/// The module file a path names, from the file of `module`.
fn resolve(path: &str, module: &str, known: &BTreeMap<String, PathBuf>) -> Option<String> {
    let mut segments: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
    let mut base: Vec<&str> = module.split("::").collect();
    match segments.first().copied() {
        Some("crate") => {
            base = vec!["crate"];
            segments.remove(0);
        }
        Some("super") => {
            while segments.first() == Some(&"super") {
                base.pop();
                segments.remove(0);
            }
        }
        Some("self") => {
            segments.remove(0);
        }
        Some(first) => {
            // A bare first segment: a child module of this one, else an outside crate.
            let child = format!("{module}::{first}");
            if !known.contains_key(&child) {
                return None;
            }
        }
        None => return None,
    }
    let mut best = None;
    let mut current = base.join("::");
    if known.contains_key(&current) {
        best = Some(current.clone());
    }
    for s in segments {
        current = format!("{current}::{s}");
        if known.contains_key(&current) {
            best = Some(current.clone());
        } else {
            break;
        }
    }
    best
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let known = modules(&src);
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, path) in &known {
        let text = fs::read_to_string(path).expect("read source");
        let children: Vec<&str> = known
            .keys()
            .filter_map(|k| k.strip_prefix(&format!("{module}::")))
            .filter(|k| !k.contains("::"))
            .collect();
        let entry = edges.entry(module.clone()).or_default();
        for (named, public) in named_paths(&code(&text), &children) {
            let Some(to) = resolve(&named, module, &known) else {
                continue;
            };
            let descendant = to.starts_with(&format!("{module}::"));
            if to == *module || (public && descendant) {
                continue;
            }
            entry.insert(to);
        }
    }
    edges
}

/// A circle through the graph, if any, as the modules along it.
fn find_circle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        marks: &mut BTreeMap<String, Mark>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        marks.insert(node.to_string(), Mark::Open);
        path.push(node.to_string());
        for next in edges.get(node).into_iter().flatten() {
            match marks.get(next).copied().unwrap_or(Mark::New) {
                Mark::Open => {
                    let start = path.iter().position(|p| p == next).expect("open on path");
                    let mut circle = path[start..].to_vec();
                    circle.push(next.clone());
                    return Some(circle);
                }
                Mark::New => {
                    if let Some(c) = visit(next, edges, marks, path) {
                        return Some(c);
                    }
                }
                Mark::Done => {}
            }
        }
        path.pop();
        marks.insert(node.to_string(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for node in edges.keys() {
        if marks.get(node).copied().unwrap_or(Mark::New) == Mark::New
            && let Some(c) = visit(node, edges, &mut marks, &mut Vec::new())
        {
            return Some(c);
        }
    }
    None
}

#[test]
fn the_library_has_no_import_circle() {
    let edges = graph();
    assert!(
        edges.len() > 30,
        "the source files were not found: {edges:?}"
    );
    if let Some(circle) = find_circle(&edges) {
        panic!("an import circle: {}", circle.join(" -> "));
    }
}

#[test]
fn the_layers_below_planning_never_import_it() {
    let edges = graph();
    // What plans is above what it plans with: documents, targets' edits, the Python model.
    let lower = [
        "crate::yaml",
        "crate::compose",
        "crate::kubernetes",
        "crate::paths",
    ];
    for (from, tos) in &edges {
        if !lower
            .iter()
            .any(|l| from == l || from.starts_with(&format!("{l}::")))
        {
            continue;
        }
        for to in tos {
            assert!(
                !(to == "crate::plan" || to.starts_with("crate::plan::")),
                "{from} imports {to}, from the planning layer above it"
            );
        }
    }
}

#[test]
fn the_check_sees_a_circle_it_is_shown() {
    // The checker itself: a made-up graph with a circle is caught, one without is not.
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    edges.entry("a".into()).or_default().insert("b".into());
    edges.entry("b".into()).or_default().insert("c".into());
    assert_eq!(find_circle(&edges), None);
    edges.entry("c".into()).or_default().insert("a".into());
    assert_eq!(
        find_circle(&edges),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
    assert_eq!(
        expand("crate::{a::{b, c as d}, e}"),
        vec!["crate::a::b", "crate::a::c", "crate::e"]
    );
}

#[test]
fn the_web_and_worker_frameworks_are_named_only_in_their_rows() {
    // Their behaviour is all in the table: nothing else in the library branches on them, so
    // adding one like them is a row, a template function and cases. (Dagster's instance
    // file and plain Python's fallback are code of their own.)
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut named = Vec::new();
    for (module, path) in modules(&src) {
        if module == "crate::frameworks" {
            continue;
        }
        let text = code(&fs::read_to_string(&path).expect("read source"));
        for variant in ["FastApi", "Flask", "Django", "Celery", "Mlflow"] {
            if text.contains(&format!("Framework::{variant}")) {
                named.push(format!("{module} names Framework::{variant}"));
            }
        }
    }
    assert!(named.is_empty(), "{named:#?}");
}
