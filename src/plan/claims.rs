//! Which onboarded services need each edit obs-init recorded: every service's plan claims the
//! files its Python side edits (or would edit, were the edit not there already), and, in a
//! dependency manifest, the packages it asks for. The record then names, per file and per
//! inserted piece, every compose file's service that needs it, so that `remove` takes an edit
//! back with the last of them: removing the dev onboarding leaves the entry edit production
//! serves, and `remove --service vote` takes out vote's Flask line but not the lines the
//! service sharing its folder asks for too.

use std::collections::BTreeSet;
use std::path::PathBuf;

use crate::answers::Answers;
use crate::record::{FileRecord, Insertion};

/// A service's need of a file its plan edits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub path: PathBuf,
    pub service: String,
    /// In a dependency manifest, the packages the service asks for (normalised names): it
    /// needs the lines naming them. `None`: every piece obs-init inserted in the file.
    pub packages: Option<Vec<String>>,
}

/// What a piece is attributed by: its lines, and within a line the items of an inline list
/// (`"a>=1", "b>=2"`), each with the separator before it, so that one taken out leaves the
/// list as it would have been written without it.
fn units(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for line in text.split_inclusive('\n') {
        let mut cuts: Vec<usize> = line
            .match_indices(", \"")
            .chain(line.match_indices(", '"))
            .map(|(at, _)| at)
            .filter(|at| *at > 0)
            .collect();
        cuts.sort_unstable();
        let mut start = 0;
        for at in cuts {
            out.push(&line[start..at]);
            start = at;
        }
        out.push(&line[start..]);
    }
    out
}

/// The package a manifest line names (`opentelemetry-sdk>=1.45`, `"opentelemetry-sdk>=1.45",`,
/// `opentelemetry-sdk = ">=1.45"`), normalised; `None` for a comment or a blank line.
fn package_of(line: &str) -> Option<String> {
    let t = line.trim().trim_start_matches([',', ' ', '"', '\'']);
    let name: String = t
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
        .collect();
    (!name.is_empty()).then(|| crate::deps::normalize(&name))
}

/// Gives the record of `rel` in `answers` the needers of each inserted piece: a line goes
/// with the services whose claims match it, and those the prior record (`prior`, the record
/// before this run, with its needers) gave it; a line no claim names (a blank line, the
/// comment heading obs-init's lines) goes with the rest of its piece. Pieces whose lines
/// differ in needers are split, and a piece needed by every needer of the file keeps no list.
pub(crate) fn attribute(
    answers: &mut Answers,
    rel: &str,
    prior: Option<&(FileRecord, Vec<String>)>,
    claims: &[(String, Option<Vec<String>>)],
) {
    let Some((record, needers)) = answers.files.iter_mut().find(|(f, _)| f.path == rel) else {
        return;
    };
    // What the prior record said of each line.
    let mut before: Vec<(String, BTreeSet<String>)> = Vec::new();
    if let Some((p, prior_needers)) = prior {
        for piece in &p.inserted {
            let who: BTreeSet<String> = if piece.services.is_empty() {
                prior_needers.iter().cloned().collect()
            } else {
                piece.services.iter().cloned().collect()
            };
            for line in units(&piece.text) {
                if !line.trim().is_empty() {
                    before.push((line.to_string(), who.clone()));
                }
            }
        }
    }
    let all: BTreeSet<String> = needers.iter().cloned().collect();
    let mut pieces = Vec::new();
    for piece in &record.inserted {
        let mut lines: Vec<(usize, &str, BTreeSet<String>)> = Vec::new();
        let mut at = piece.at;
        for line in units(&piece.text) {
            let mut who = BTreeSet::new();
            let named = package_of(line);
            // A comment or blank line is nobody's in particular.
            if named.is_some() {
                for (text, w) in &before {
                    if text == line {
                        who.extend(w.iter().cloned());
                    }
                }
            }
            if !line.trim().is_empty() {
                for (needer, packages) in claims {
                    let matches = match packages {
                        None => true,
                        Some(p) => named.as_ref().is_some_and(|n| p.contains(n)),
                    };
                    if matches {
                        who.insert(needer.clone());
                    }
                }
            }
            lines.push((at, line, who));
            at += line.len();
        }
        // Lines nobody names go with the rest of their piece, else with the whole file.
        let rest: BTreeSet<String> = lines.iter().flat_map(|(_, _, w)| w.clone()).collect();
        let rest = if rest.is_empty() { all.clone() } else { rest };
        let mut grouped: Vec<(usize, String, BTreeSet<String>)> = Vec::new();
        for (at, line, who) in lines {
            let who = if who.is_empty() { rest.clone() } else { who };
            match grouped.last_mut() {
                Some((_, text, w)) if *w == who => text.push_str(line),
                _ => grouped.push((at, line.to_string(), who)),
            }
        }
        for (at, text, who) in grouped {
            let services = if who == all {
                Vec::new()
            } else {
                needers
                    .iter()
                    .filter(|n| who.contains(*n))
                    .cloned()
                    .collect()
            };
            pieces.push(Insertion { at, text, services });
        }
    }
    record.inserted = pieces;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::record;

    #[test]
    fn a_package_line_is_named_in_every_manifest_form() {
        assert_eq!(
            package_of("opentelemetry-sdk>=1.45.0\n").as_deref(),
            Some("opentelemetry-sdk")
        );
        assert_eq!(
            package_of("    \"OpenTelemetry_SDK>=1.45.0\",\n").as_deref(),
            Some("opentelemetry-sdk")
        );
        assert_eq!(package_of("# Observability\n"), None);
    }

    #[test]
    fn an_inline_list_item_only_one_service_asks_for_is_its_own_piece() {
        let before = "dependencies = []\n";
        let after = "dependencies = [\"opentelemetry-sdk>=1\", \"opentelemetry-instrumentation-flask>=0\"]\n";
        let mut answers = Answers::default();
        answers.files.push((
            record("pyproject.toml", Some(before), after),
            vec!["c:web".into(), "c:worker".into()],
        ));
        let claims = vec![
            (
                "c:web".to_string(),
                Some(vec![
                    "opentelemetry-sdk".into(),
                    "opentelemetry-instrumentation-flask".into(),
                ]),
            ),
            (
                "c:worker".to_string(),
                Some(vec!["opentelemetry-sdk".into()]),
            ),
        ];
        attribute(&mut answers, "pyproject.toml", None, &claims);
        let pieces = &answers.files[0].0.inserted;
        assert_eq!(pieces.len(), 2, "{pieces:?}");
        assert_eq!(
            pieces[1].text,
            ", \"opentelemetry-instrumentation-flask>=0\""
        );
        assert_eq!(pieces[1].services, ["c:web"]);
    }

    #[test]
    fn a_line_only_one_service_asks_for_is_its_own_piece() {
        let before = "flask\n";
        let after = "flask\n# Observability\nopentelemetry-sdk>=1\nopentelemetry-instrumentation-flask>=0\n";
        let mut answers = Answers::default();
        answers.files.push((
            record("req.txt", Some(before), after),
            vec!["c:vote".into(), "c:seed".into()],
        ));
        let claims = vec![
            (
                "c:vote".to_string(),
                Some(vec![
                    "opentelemetry-sdk".into(),
                    "opentelemetry-instrumentation-flask".into(),
                ]),
            ),
            ("c:seed".to_string(), Some(vec!["opentelemetry-sdk".into()])),
        ];
        attribute(&mut answers, "req.txt", None, &claims);
        let pieces = &answers.files[0].0.inserted;
        assert_eq!(pieces.len(), 2, "{pieces:?}");
        assert_eq!(pieces[0].text, "# Observability\nopentelemetry-sdk>=1\n");
        assert!(pieces[0].services.is_empty());
        assert_eq!(pieces[1].text, "opentelemetry-instrumentation-flask>=0\n");
        assert_eq!(pieces[1].services, ["c:vote"]);
        assert_eq!(&after[pieces[1].at..], pieces[1].text);
    }
}
