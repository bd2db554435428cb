//! Where a project refers to obs-init's module `setup_observability`, whoever wrote the
//! reference: the lines a person pasted from the next steps (the import and the instrument
//! call), recognised so that `remove` can take them back with the module, and anything else
//! (a Dagster handler class in a template, a use inside an expression) that would break once
//! the module is gone. `doctor` asks here too, for references whose module is missing.

use std::path::{Path, PathBuf};

/// The module's name, as any reference spells it.
const MODULE: &str = "setup_observability";

/// The files whose text may refer to the module: Python, and the YAML (and its templates)
/// that names a handler class by its dotted path.
pub fn candidates(root: &Path) -> Vec<PathBuf> {
    crate::detect::find_files_where(root, |name| {
        name != "setup_observability.py"
            && [
                ".py",
                ".yaml",
                ".yml",
                ".yaml.jinja",
                ".yml.jinja",
                ".jinja",
                ".j2",
            ]
            .iter()
            .any(|ext| name.ends_with(ext))
    })
}

/// One line that refers to the module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// 1-based.
    pub line: usize,
    pub text: String,
    /// The import or the instrument call the next steps print, standing alone on its line:
    /// taking the line out takes the reference back.
    pub pasted: bool,
}

/// The lines of `source` (a file named `name`) that refer to the module.
pub fn find(name: &str, source: &str) -> Vec<Reference> {
    if !source.contains(MODULE) {
        return Vec::new();
    }
    let python = name.ends_with(".py");
    // The names a Python file imports from the module, and the module's own alias.
    let mut names: Vec<String> = Vec::new();
    if python {
        for line in source.lines() {
            if let Some(imported) = imported_names(line.trim()) {
                names.extend(imported);
            }
        }
    }
    let mut out = Vec::new();
    for (i, line) in source.lines().enumerate() {
        let t = line.trim();
        let is_import = python && imported_names(t).is_some();
        let is_call = python && !names.is_empty() && standalone_call(t, &names);
        let mentions = t.contains(MODULE)
            || (python && names.iter().any(|n| mentions_name(t, n)) && !t.starts_with('#'));
        if is_import || is_call || mentions {
            out.push(Reference {
                line: i + 1,
                text: t.to_string(),
                pasted: is_import || is_call,
            });
        }
    }
    out
}

/// Whether a module answers the reference on `line` of `file`: beside the file for a
/// relative import, in a folder above it (a `sys.path` root) for an absolute one, anywhere in
/// the project for a class named in YAML.
pub fn resolves(file: &Path, line: &str, modules: &[PathBuf], python: bool) -> bool {
    if !python {
        return !modules.is_empty();
    }
    let dir = file.parent().unwrap_or(Path::new("."));
    let rest = line
        .trim_start_matches("from ")
        .trim_start_matches("import ");
    let module = rest.split([' ', ',']).next().unwrap_or("");
    if module.starts_with('.') {
        let ups = module.len() - module.trim_start_matches('.').len();
        let base = dir.ancestors().nth(ups - 1).unwrap_or(dir);
        let rel = module.trim_start_matches('.').replace('.', "/");
        return modules.iter().any(|m| *m == base.join(format!("{rel}.py")));
    }
    let rel = format!("{}.py", module.replace('.', "/"));
    dir.ancestors()
        .any(|root| modules.iter().any(|m| *m == root.join(&rel)))
}

/// `source` without the lines `refs` recognises as pasted; `None` when another reference
/// stays (then the module must stay too).
pub fn without_pasted(source: &str, refs: &[Reference]) -> Option<String> {
    if refs.iter().any(|r| !r.pasted) {
        return None;
    }
    let lines: Vec<&str> = source.split_inclusive('\n').collect();
    Some(
        lines
            .iter()
            .enumerate()
            .filter(|(i, _)| !refs.iter().any(|r| r.line == i + 1))
            .map(|(_, l)| *l)
            .collect(),
    )
}

/// The names `from [pkg.|.]setup_observability import a, b as c` or `import
/// [pkg.]setup_observability [as m]` binds; `None` for any other line.
fn imported_names(line: &str) -> Option<Vec<String>> {
    let line = line.split('#').next().unwrap_or("").trim();
    if let Some(rest) = line.strip_prefix("from ") {
        let (module, names) = rest.split_once(" import ")?;
        let module = module.trim().trim_start_matches('.');
        if module != MODULE && !module.ends_with(&format!(".{MODULE}")) {
            return None;
        }
        let names = names.trim().trim_start_matches('(').trim_end_matches(')');
        return Some(
            names
                .split(',')
                .map(|n| bound(n.trim()))
                .filter(|n| !n.is_empty())
                .collect(),
        );
    }
    let rest = line.strip_prefix("import ")?.trim();
    let module = rest.split(" as ").next().unwrap_or(rest).trim();
    if module != MODULE && !module.ends_with(&format!(".{MODULE}")) {
        return None;
    }
    Some(vec![bound(rest)])
}

/// The name an import binds: `b` of `a as b`, else `a`.
fn bound(item: &str) -> String {
    match item.split_once(" as ") {
        Some((_, alias)) => alias.trim().to_string(),
        None => item.to_string(),
    }
}

/// Whether `line` is one call statement of an imported name (`instrument_flask(server)`,
/// `setup_observability.setup_observability()`), nothing around it.
fn standalone_call(line: &str, names: &[String]) -> bool {
    let code = line.split('#').next().unwrap_or("").trim();
    names.iter().any(|n| {
        code.strip_prefix(n.as_str()).is_some_and(|rest| {
            let rest = rest
                .strip_prefix('.')
                .map(|r| r.trim_start_matches(|c: char| c.is_alphanumeric() || c == '_'))
                .unwrap_or(rest);
            rest.starts_with('(') && rest.ends_with(')') && balanced(rest)
        })
    })
}

fn balanced(text: &str) -> bool {
    let mut depth = 0i32;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ => {}
        }
        if depth == 0 && i + 1 < text.len() {
            return false;
        }
    }
    depth == 0
}

/// Whether `line` uses the identifier `name` (not as part of a longer one).
fn mentions_name(line: &str, name: &str) -> bool {
    line.match_indices(name).any(|(at, _)| {
        let before = line[..at].chars().next_back();
        let after = line[at + name.len()..].chars().next();
        let ident = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
        !ident(before) && !ident(after)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASTED: &str = "from flask import Flask\nfrom setup_observability import instrument_flask\n\nserver = Flask(__name__)\ninstrument_flask(server)\n";

    #[test]
    fn the_next_steps_lines_pasted_by_hand_are_recognised_and_taken_back() {
        let refs = find("app.py", PASTED);
        assert_eq!(refs.len(), 2, "{refs:?}");
        assert!(refs.iter().all(|r| r.pasted));
        assert_eq!(
            without_pasted(PASTED, &refs).as_deref(),
            Some("from flask import Flask\n\nserver = Flask(__name__)\n")
        );
    }

    #[test]
    fn any_other_use_keeps_the_module() {
        let used = format!("{PASTED}handler = instrument_flask\n");
        let refs = find("app.py", &used);
        assert!(refs.iter().any(|r| !r.pasted && r.line == 6), "{refs:?}");
        assert_eq!(without_pasted(&used, &refs), None);
        let yaml = "handlers:\n  otel:\n    class: setup_observability.OtelLogHandler\n";
        let refs = find("dagster.yaml.jinja", yaml);
        assert_eq!(refs.len(), 1);
        assert!(!refs[0].pasted);
    }

    #[test]
    fn a_relative_or_dotted_import_and_a_module_alias_are_references_too() {
        let src = "from .setup_observability import instrument_django\ninstrument_django()\n";
        assert!(find("wsgi.py", src).iter().all(|r| r.pasted));
        let src = "import app.setup_observability as obs\nobs.setup_observability()\n";
        assert!(find("main.py", src).iter().all(|r| r.pasted));
        assert!(find("main.py", "print('hi')\n").is_empty());
    }
}
