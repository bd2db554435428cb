//! What onboarding added to a compose file, as the dotted paths its answers-file record keeps
//! and `remove` takes back.

use crate::yaml::emit::NewNode;
use crate::yaml::splice::Change;

/// The keys onboarding found empty (`key:` with no value) and gave a value: removal must
/// leave them empty rather than take them away. Dotted paths, e.g. `services.app.networks`.
pub fn filled_empty_keys(changes: &[Change]) -> Vec<String> {
    changes
        .iter()
        .filter_map(|c| match c {
            Change::Set { path, key, .. } => {
                Some([path.clone(), vec![key.clone()]].concat().join("."))
            }
            _ => None,
        })
        .collect()
}

/// Everything onboarding added, as dotted paths: a key it inserted (`services.app-dapr`),
/// an item it appended to a list (`services.app.environment.OTEL_SERVICE_NAME`,
/// `services.app.networks.observability-net`). What is not listed was the user's, even when
/// it reads the same; removal takes back only these.
pub fn added_paths(changes: &[Change]) -> Vec<String> {
    let mut out = Vec::new();
    for c in changes {
        match c {
            Change::Insert { path, key, .. } => {
                out.push([path.clone(), vec![key.clone()]].concat().join("."))
            }
            Change::Push { path, item } => {
                out.push(format!("{}.{}", path.join("."), item_key(item)))
            }
            // A flag appended to a command string: named by the flag, as a list item would be;
            // an attribute appended to a variable's `k=v,k=v` value, by its key.
            Change::Append {
                path, key, text, ..
            } => {
                let flag = text.trim_start_matches(',');
                let flag = flag.split_whitespace().next().unwrap_or_default();
                let flag = flag.split_once('=').map_or(flag, |(k, _)| k);
                out.push(format!("{}.{key}.{flag}", path.join(".")));
            }
            Change::Set {
                path, key, value, ..
            } => {
                let base = [path.clone(), vec![key.clone()]].concat().join(".");
                match value {
                    NewNode::Seq(items) => {
                        out.extend(items.iter().map(|i| format!("{base}.{}", item_key(i))))
                    }
                    NewNode::Map(entries) => {
                        out.extend(entries.iter().map(|(k, _)| format!("{base}.{k}")))
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    out
}

/// How a list item is named in [`added_paths`]: `K` for `K=V`, else the item itself.
fn item_key(item: &NewNode) -> String {
    let text = match item {
        NewNode::Str(s)
        | NewNode::DoubleQuoted(s)
        | NewNode::SingleQuoted(s)
        | NewNode::Plain(s) => s.as_str(),
        _ => "",
    };
    text.split_once('=').map_or(text, |(k, _)| k).to_string()
}
