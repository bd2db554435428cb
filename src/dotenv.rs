//! `COMPOSE_FILE` in a project's `.env`: how plain `docker compose up` loads the overlay as
//! well as the files it loaded before. Only that value is touched; every other byte of the
//! file stays, so the edit is an insertion `remove` can take back exactly.

/// The files Compose loads when no `-f` and no `COMPOSE_FILE` say otherwise, beside the
/// compose file: the first override file found of these.
pub const OVERRIDE_NAMES: [&str; 4] = [
    "compose.override.yml",
    "compose.override.yaml",
    "docker-compose.override.yml",
    "docker-compose.override.yaml",
];

/// `.env` with `overlay` added to `COMPOSE_FILE`: appended to its value when it is set,
/// else a new `COMPOSE_FILE=` line listing `loaded` (what Compose loaded before) and the
/// overlay. `None` when `COMPOSE_FILE` names the overlay already. The separator is the
/// file's `COMPOSE_PATH_SEPARATOR`, else the platform's (`;` on Windows, `:` elsewhere).
pub fn add_compose_file(
    existing: Option<&str>,
    loaded: &[String],
    overlay: &str,
) -> Result<Option<String>, String> {
    let text = existing.unwrap_or("");
    let sep = separator(text);
    match find(text, "COMPOSE_FILE") {
        Some(value) => {
            let files = unquote(&text[value.start..value.end]);
            if files.split(sep.as_str()).any(|f| same_file(f, overlay)) {
                return Ok(None);
            }
            if files.contains('$') {
                return Err(format!(
                    "COMPOSE_FILE in .env is {files}, which Compose interpolates: add {sep}{overlay} to it by hand"
                ));
            }
            let at = value.end - value.quote.map_or(0, |_| 1);
            let mut out = text.to_string();
            out.insert_str(at, &format!("{sep}{overlay}"));
            Ok(Some(out))
        }
        None => {
            let eol = if text.contains("\r\n") { "\r\n" } else { "\n" };
            let mut out = text.to_string();
            if !out.is_empty() && !out.ends_with('\n') {
                out.push_str(eol);
            }
            let mut files: Vec<&str> = loaded.iter().map(String::as_str).collect();
            files.push(overlay);
            out.push_str(&format!("COMPOSE_FILE={}{eol}", files.join(&sep)));
            Ok(Some(out))
        }
    }
}

/// The files `COMPOSE_FILE` in `.env` lists, when it is set.
pub fn compose_files(text: &str) -> Option<Vec<String>> {
    let value = find(text, "COMPOSE_FILE")?;
    let sep = separator(text);
    Some(
        unquote(&text[value.start..value.end])
            .split(sep.as_str())
            .filter(|f| !f.is_empty())
            .map(String::from)
            .collect(),
    )
}

fn same_file(a: &str, b: &str) -> bool {
    a.trim_start_matches("./") == b.trim_start_matches("./")
}

fn separator(text: &str) -> String {
    find(text, "COMPOSE_PATH_SEPARATOR")
        .map(|v| unquote(&text[v.start..v.end]))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| if cfg!(windows) { ";" } else { ":" }.to_string())
}

/// Where a variable's value is in the file: the last line setting it wins, as in Compose.
struct Value {
    start: usize,
    end: usize,
    quote: Option<char>,
}

fn find(text: &str, name: &str) -> Option<Value> {
    let mut found = None;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        let body = line.trim_end_matches(['\n', '\r']);
        let trimmed = body.trim_start();
        let lead = body.len() - trimmed.len();
        let rest = trimmed.strip_prefix("export ").unwrap_or(trimmed);
        let Some(after) = rest.strip_prefix(name) else {
            continue;
        };
        let after_trim = after.trim_start();
        let Some(value) = after_trim.strip_prefix('=') else {
            continue;
        };
        let value_at = start
            + lead
            + (trimmed.len() - rest.len())
            + name.len()
            + (after.len() - after_trim.len())
            + 1;
        let spaces = value.len() - value.trim_start().len();
        let value_start = value_at + spaces;
        let value = value.trim_start();
        let (len, quote) = match value.chars().next() {
            Some(q @ ('"' | '\'')) => match value[1..].find(q) {
                Some(close) => (close + 2, Some(q)),
                None => (value.len(), None),
            },
            // An unquoted value ends at a ` #` comment, trailing spaces left out.
            _ => {
                let cut = value.find(" #").unwrap_or(value.len());
                (value[..cut].trim_end().len(), None)
            }
        };
        found = Some(Value {
            start: value_start,
            end: value_start + len,
            quote,
        });
    }
    found
}

fn unquote(value: &str) -> String {
    for q in ['"', '\''] {
        if let Some(inner) = value.strip_prefix(q).and_then(|v| v.strip_suffix(q)) {
            return inner.to_string();
        }
    }
    value.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEP: &str = if cfg!(windows) { ";" } else { ":" };

    fn loaded() -> Vec<String> {
        vec!["compose.yaml".into()]
    }

    #[test]
    fn a_new_env_file_lists_what_compose_loaded_and_the_overlay() {
        let out = add_compose_file(None, &loaded(), "compose.observability.yaml").expect("ok");
        assert_eq!(
            out.as_deref(),
            Some(format!("COMPOSE_FILE=compose.yaml{SEP}compose.observability.yaml\n").as_str())
        );
    }

    #[test]
    fn every_other_byte_stays_and_crlf_is_kept() {
        let env = "# secrets\r\nPOSTGRES_PASSWORD=x\r\nTAG=1";
        let out = add_compose_file(Some(env), &loaded(), "o.yaml")
            .expect("ok")
            .expect("changed");
        assert_eq!(
            out,
            format!("{env}\r\nCOMPOSE_FILE=compose.yaml{SEP}o.yaml\r\n")
        );
    }

    #[test]
    fn a_set_compose_file_is_extended_in_its_quotes_and_before_its_comment() {
        let env = "COMPOSE_PATH_SEPARATOR=,\nexport COMPOSE_FILE=\"a.yml,b.yml\"  # both\n";
        let out = add_compose_file(Some(env), &loaded(), "o.yaml").expect("ok");
        assert_eq!(
            out.as_deref(),
            Some("COMPOSE_PATH_SEPARATOR=,\nexport COMPOSE_FILE=\"a.yml,b.yml,o.yaml\"  # both\n")
        );
        let plain = "COMPOSE_FILE = a.yml:b.yml # both\n";
        let out = add_compose_file(Some(plain), &loaded(), "o.yaml").expect("ok");
        if !cfg!(windows) {
            assert_eq!(
                out.as_deref(),
                Some("COMPOSE_FILE = a.yml:b.yml:o.yaml # both\n")
            );
        }
        assert_eq!(
            compose_files(plain).map(|f| f.len()),
            Some(if cfg!(windows) { 1 } else { 2 })
        );
    }

    #[test]
    fn an_overlay_listed_already_is_no_change_and_interpolation_is_refused() {
        let env = format!("COMPOSE_FILE=compose.yaml{SEP}./o.yaml\n");
        assert_eq!(add_compose_file(Some(&env), &loaded(), "o.yaml"), Ok(None));
        assert!(add_compose_file(Some("COMPOSE_FILE=${BASE}\n"), &loaded(), "o.yaml").is_err());
    }
}
