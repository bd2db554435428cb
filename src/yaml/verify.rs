//! The self-check every edit passes before anything is shown or written: the new text must
//! parse strictly and mean exactly the original document plus the intended changes.

use crate::yaml::doc::Document;
use crate::yaml::model::{Data, Value};
use crate::yaml::splice::Change;
use crate::yaml::text::Text;

/// Checks `new_body` (without BOM) against `original` with `changes` applied.
pub fn compose(original: &Document, changes: &[Change], new_body: &str) -> Result<(), String> {
    let text = Text::new(new_body);
    let doc =
        Document::parse(&text).map_err(|e| format!("the edited text does not parse: {e:?}"))?;
    let mut expected = original
        .root
        .as_ref()
        .map(Value::from_node)
        .ok_or("the original has no root")?;
    for change in changes {
        change.apply_to(&mut expected)?;
    }
    // A document whose every entry was removed reads back as nothing: null.
    let actual = doc
        .root
        .as_ref()
        .map_or_else(|| Value::plain(Data::Null), Value::from_node);
    match first_difference(&expected, &actual, &mut Vec::new()) {
        None => Ok(()),
        Some(at) => Err(format!("it differs from the intended result at `{at}`")),
    }
}

/// The path of the first place where `a` and `b` differ.
fn first_difference(a: &Value, b: &Value, path: &mut Vec<String>) -> Option<String> {
    let here = |path: &Vec<String>| {
        if path.is_empty() {
            "(root)".to_string()
        } else {
            path.join(".")
        }
    };
    if a.anchor != b.anchor || a.tag != b.tag {
        return Some(here(path));
    }
    match (&a.data, &b.data) {
        (Data::Map(x), Data::Map(y)) => {
            if x.len() != y.len() {
                return Some(format!(
                    "{} ({} vs {} entries)",
                    here(path),
                    x.len(),
                    y.len()
                ));
            }
            for ((ka, va), (kb, vb)) in x.iter().zip(y) {
                let name = match &ka.data {
                    Data::Str(s) => s.clone(),
                    other => format!("{other:?}"),
                };
                path.push(name);
                let diff =
                    first_difference(ka, kb, path).or_else(|| first_difference(va, vb, path));
                path.pop();
                if diff.is_some() {
                    return diff;
                }
            }
            None
        }
        (Data::Seq(x), Data::Seq(y)) => {
            if x.len() != y.len() {
                return Some(format!("{} ({} vs {} items)", here(path), x.len(), y.len()));
            }
            for (i, (va, vb)) in x.iter().zip(y).enumerate() {
                path.push(i.to_string());
                let diff = first_difference(va, vb, path);
                path.pop();
                if diff.is_some() {
                    return diff;
                }
            }
            None
        }
        (x, y) if x == y => None,
        _ => Some(here(path)),
    }
}
