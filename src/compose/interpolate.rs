//! Compose's variable interpolation, for judging names as Compose will see them:
//! `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?err}`, `${VAR?err}`,
//! `${VAR:+alt}`, `${VAR+alt}`, defaults that nest, and `$$` for a literal `$`. Values come from
//! the environment first, then the project's `.env` (Compose's precedence).

use std::collections::HashMap;
use std::path::Path;

/// The variables Compose interpolates with: the process environment over the project's `.env`.
#[derive(Debug, Clone, Default)]
pub struct Vars {
    dotenv: HashMap<String, String>,
    /// Read the process environment too (off in tests that want only the file).
    process: bool,
}

impl Vars {
    /// The variables for the project whose `.env` sits in `project_dir` (a missing file is
    /// no variables).
    pub fn for_project(project_dir: &Path) -> Vars {
        let dotenv = std::fs::read_to_string(project_dir.join(".env"))
            .map(|t| parse_dotenv(&t))
            .unwrap_or_default();
        Vars {
            dotenv,
            process: true,
        }
    }

    /// Only the given `.env` text, no process environment.
    pub fn from_dotenv(text: &str) -> Vars {
        Vars {
            dotenv: parse_dotenv(text),
            process: false,
        }
    }

    pub fn get(&self, name: &str) -> Option<String> {
        self.process
            .then(|| std::env::var(name).ok())
            .flatten()
            .or_else(|| self.dotenv.get(name).cloned())
    }
}

/// `KEY=VALUE` lines as Compose reads a `.env`: comments and blank lines skipped, an
/// `export ` prefix allowed, single quotes literal, double quotes with `\n` escapes, and an
/// unquoted value ending at ` #`.
pub fn parse_dotenv(text: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for line in text.lines() {
        let line = line.trim_start_matches('\u{feff}').trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value = value.trim();
        let value = if let Some(inner) = value.strip_prefix('\'').and_then(|v| v.strip_suffix('\''))
        {
            inner.to_string()
        } else if let Some(inner) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
            inner.replace("\\n", "\n").replace("\\\"", "\"")
        } else {
            value.split(" #").next().unwrap_or("").trim().to_string()
        };
        out.insert(key.trim().to_string(), value);
    }
    out
}

/// Why a value cannot be interpolated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InterpolateError {
    /// `${VAR:?message}` (or `?`) with VAR unset (or empty).
    Required { name: String, message: String },
    /// A `${` without its `}`, or a name Compose does not accept.
    Invalid(String),
}

/// `text` with every variable replaced as Compose replaces it. An unset variable without a
/// default is empty, as in Compose (which warns).
pub fn interpolate(text: &str, vars: &Vars) -> Result<String, InterpolateError> {
    let mut out = String::new();
    let mut rest = text;

    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body) = after.strip_prefix('{') {
            let end = closing_brace(body).ok_or_else(|| {
                InterpolateError::Invalid(format!("`${{` without `}}` in {text:?}"))
            })?;
            out.push_str(&substitute(&body[..end], vars)?);
            rest = &body[end + 1..];
        } else {
            let len = after
                .char_indices()
                .find(|(i, c)| {
                    !(c.is_ascii_alphanumeric() || *c == '_') || (*i == 0 && c.is_ascii_digit())
                })
                .map_or(after.len(), |(i, _)| i);
            if len == 0 {
                out.push('$');
            } else {
                out.push_str(&vars.get(&after[..len]).unwrap_or_default());
            }
            rest = &after[len..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// `text` as Compose will see it, when every variable in it is set or has a default: a
/// value known only as `${NAME}` is no evidence of what a service runs (the name is not
/// the value).
pub fn known(text: &str, vars: &Vars) -> Option<String> {
    if unset(text, vars).is_empty() {
        interpolate(text, vars).ok()
    } else {
        None
    }
}

/// The variables `text` takes as they are (no default applies) that neither the
/// environment nor `.env` sets, each once: Compose would read them as empty (or stop, for
/// `${VAR:?err}`), so what `text` means cannot be known from the project.
pub fn unset(text: &str, vars: &Vars) -> Vec<String> {
    let mut out = Vec::new();
    collect_unset(text, vars, &mut out);
    out
}

fn collect_unset(text: &str, vars: &Vars, out: &mut Vec<String>) {
    let push = |name: &str, out: &mut Vec<String>| {
        if vars.get(name).is_none() && !out.iter().any(|n| n == name) {
            out.push(name.to_string());
        }
    };
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            rest = tail;
        } else if let Some(body) = after.strip_prefix('{') {
            let Some(end) = closing_brace(body) else {
                return;
            };
            let inner = &body[..end];
            let name_len = inner
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(inner.len());
            let (name, op) = inner.split_at(name_len);
            let value = vars.get(name);
            let present = match op.strip_prefix(':') {
                Some(_) => value.as_deref().is_some_and(|v| !v.is_empty()),
                None => value.is_some(),
            };
            let op = op.trim_start_matches(':');
            match op.chars().next() {
                // Taken as it is, or required.
                None | Some('?') if !present => push(name, out),
                // The default stands in: what it uses counts.
                Some('-') if !present => collect_unset(&op[1..], vars, out),
                Some('+') if present => collect_unset(&op[1..], vars, out),
                _ => {}
            }
            rest = &body[end + 1..];
        } else {
            let len = after
                .char_indices()
                .find(|(i, c)| {
                    !(c.is_ascii_alphanumeric() || *c == '_') || (*i == 0 && c.is_ascii_digit())
                })
                .map_or(after.len(), |(i, _)| i);
            if len > 0 {
                push(&after[..len], out);
            }
            rest = &after[len..];
        }
    }
}

/// Where the `}` closing a `${` is, counting nested `${...}` in defaults.
fn closing_brace(body: &str) -> Option<usize> {
    let mut depth = 0usize;
    let bytes = body.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'$' if bytes.get(i + 1) == Some(&b'{') => {
                depth += 1;
                i += 1;
            }
            b'}' if depth == 0 => return Some(i),
            b'}' => depth -= 1,
            _ => {}
        }
        i += 1;
    }
    None
}

fn substitute(body: &str, vars: &Vars) -> Result<String, InterpolateError> {
    let name_len = body
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(body.len());
    let (name, op) = body.split_at(name_len);
    if name.is_empty() {
        return Err(InterpolateError::Invalid(format!(
            "`${{{body}}}` names no variable"
        )));
    }
    let value = vars.get(name);
    let set = value.is_some();
    let non_empty = value.as_deref().is_some_and(|v| !v.is_empty());
    let (colon, op) = match op.strip_prefix(':') {
        Some(o) => (true, o),
        None => (false, op),
    };
    let present = if colon { non_empty } else { set };
    let Some(kind) = op.chars().next() else {
        return if colon {
            Err(InterpolateError::Invalid(format!("`${{{body}}}`")))
        } else {
            Ok(value.unwrap_or_default())
        };
    };
    let arg = &op[kind.len_utf8()..];
    match kind {
        '-' if present => Ok(value.unwrap_or_default()),
        '-' => interpolate(arg, vars),
        '+' if present => interpolate(arg, vars),
        '+' => Ok(String::new()),
        '?' if present => Ok(value.unwrap_or_default()),
        '?' => Err(InterpolateError::Required {
            name: name.to_string(),
            message: interpolate(arg, vars)?,
        }),
        _ => Err(InterpolateError::Invalid(format!("`${{{body}}}`"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vars {
        Vars::from_dotenv(
            "# comment\nNET=backend\nEMPTY=\nexport QUOTED='a b'\nTAG=1.2 # trailing\n",
        )
    }

    #[test]
    fn variables_resolve_as_compose_resolves_them() {
        let v = vars();
        let i = |s: &str| interpolate(s, &v).expect("interpolates");
        assert_eq!(i("${NET}"), "backend");
        assert_eq!(i("$NET-x"), "backend-x");
        assert_eq!(i("${MISSING:-fallback}"), "fallback");
        assert_eq!(i("${EMPTY:-fallback}"), "fallback");
        assert_eq!(i("${EMPTY-fallback}"), "");
        assert_eq!(i("${MISSING-${NET}}"), "backend");
        assert_eq!(i("${NET:+alt}|${MISSING:+alt}"), "alt|");
        assert_eq!(i("$$NET"), "$NET");
        assert_eq!(i("${QUOTED}"), "a b");
        assert_eq!(i("${TAG}"), "1.2");
        assert_eq!(i("${MISSING}"), "");
        assert_eq!(i("price: 5$"), "price: 5$");
    }

    #[test]
    fn a_value_is_known_only_when_every_variable_in_it_has_one() {
        let v = vars();
        let k = |s: &str| known(s, &v);
        assert_eq!(k("${NET}_image").as_deref(), Some("backend_image"));
        assert_eq!(k("${MISSING:-x}/$NET").as_deref(), Some("x/backend"));
        assert_eq!(k("${MISSING+alt}").as_deref(), Some(""));
        assert_eq!(k("${EMPTY}").as_deref(), Some(""));
        assert_eq!(k("${DAGSTER_IMAGE}_image"), None);
        assert_eq!(k("run $DAGSTER_HOME"), None);
        assert_eq!(k("${MISSING-${ALSO_MISSING}}"), None);
    }

    #[test]
    fn the_variables_no_default_covers_are_named_once() {
        let v = vars();
        assert_eq!(unset("/config/${ENV}.yaml", &v), ["ENV"]);
        assert_eq!(
            unset("${NET}/${MISSING:-x}/$$ENV", &v),
            Vec::<String>::new()
        );
        assert_eq!(unset("${A:-$B}/$B/${C:?why}", &v), ["B", "C"]);
        assert_eq!(unset("${EMPTY:-${D}}", &v), ["D"]);
    }

    #[test]
    fn required_variables_and_broken_syntax_are_errors() {
        let v = vars();
        assert_eq!(
            interpolate("${MISSING:?set it}", &v),
            Err(InterpolateError::Required {
                name: "MISSING".into(),
                message: "set it".into()
            })
        );
        assert!(matches!(
            interpolate("${NET", &v),
            Err(InterpolateError::Invalid(_))
        ));
    }
}
