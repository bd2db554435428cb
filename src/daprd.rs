//! daprd's command line as projects write it: Go's flag package accepts `-flag` and
//! `--flag`, with the value in the next word or after `=`. Onboarding, `remove` and
//! `doctor` read flags here, so that a sidecar started `-config x` is seen as one started
//! `--config=x`.

/// How a command writes its flags, so that an added flag reads like the project's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    /// `-` (Dapr's older samples) or `--` (the documentation).
    pub dash: &'static str,
    /// `--flag=value` rather than `--flag value`.
    pub equals: bool,
}

/// A flag found in a command: where its name is, and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Index of the word holding the flag's name.
    pub at: usize,
    pub value: Option<String>,
    /// The value is in the same word, after `=`.
    pub inline: bool,
}

/// The flag's name in `word` (`-config`, `--config=x`), without dashes or value.
fn name_of(word: &str) -> Option<&str> {
    let rest = word.strip_prefix("--").or_else(|| word.strip_prefix('-'))?;
    let name = rest.split_once('=').map_or(rest, |(n, _)| n);
    (!name.is_empty() && !name.starts_with('-')).then_some(name)
}

/// The flag `name` (without dashes) in `words`, in any of the forms daprd accepts.
pub fn flag(words: &[String], name: &str) -> Option<Found> {
    let at = words.iter().position(|w| name_of(w) == Some(name))?;
    let word = &words[at];
    Some(match word.split_once('=') {
        Some((_, value)) => Found {
            at,
            value: Some(value.to_string()),
            inline: true,
        },
        None => Found {
            at,
            value: words.get(at + 1).filter(|v| name_of(v).is_none()).cloned(),
            inline: false,
        },
    })
}

/// The value of the flag `name`, in any form.
pub fn value(words: &[String], name: &str) -> Option<String> {
    flag(words, name).and_then(|f| f.value)
}

/// The style most of the command's flags are written in: a double dash unless every flag
/// has a single one, `=` when more flags carry their value inline than in the next word.
pub fn style(words: &[String]) -> Style {
    let flags: Vec<(usize, &String)> = words
        .iter()
        .enumerate()
        .filter(|(_, w)| name_of(w).is_some())
        .collect();
    let single = !flags.is_empty() && flags.iter().all(|(_, w)| !w.starts_with("--"));
    let inline = flags.iter().filter(|(_, w)| w.contains('=')).count();
    let separate = flags
        .iter()
        .filter(|(i, w)| !w.contains('=') && words.get(i + 1).is_some_and(|v| name_of(v).is_none()))
        .count();
    Style {
        dash: if single { "-" } else { "--" },
        equals: inline > separate,
    }
}

/// The words that pass `value` to the flag `name` in `style`.
pub fn words_for(style: Style, name: &str, value: &str) -> Vec<String> {
    if style.equals {
        vec![format!("{}{name}={value}", style.dash)]
    } else {
        vec![format!("{}{name}", style.dash), value.to_string()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn a_flag_is_found_with_either_dash_and_either_value_form() {
        for cmd in [
            "./daprd -config /c.yml",
            "./daprd --config /c.yml",
            "./daprd --config=/c.yml",
            "./daprd -config=/c.yml",
        ] {
            assert_eq!(value(&w(cmd), "config").as_deref(), Some("/c.yml"), "{cmd}");
        }
        assert_eq!(value(&w("./daprd --config-x y"), "config"), None);
        assert_eq!(
            value(&w("./daprd --enable-metrics --x 1"), "enable-metrics"),
            None
        );
    }

    #[test]
    fn added_flags_follow_the_commands_own_style() {
        let single = style(&w("./daprd -app-id a -app-port 3000"));
        assert_eq!(words_for(single, "config", "/c"), w("-config /c"));
        let double = style(&w("./daprd --app-id a --enable-metrics"));
        assert_eq!(words_for(double, "config", "/c"), w("--config /c"));
        let equals = style(&w("./daprd --app-id=a --app-port=3000 --enable-metrics"));
        assert_eq!(words_for(equals, "config", "/c"), w("--config=/c"));
    }
}
