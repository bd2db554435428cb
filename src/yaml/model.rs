//! What a YAML document *means*, without its layout: the yardstick for verification.
//!
//! After every edit the new text is parsed again and its [`Value`] compared with the original's
//! plus the intended changes applied here, in the model. Plain scalars are resolved with the
//! YAML 1.2 core schema, so writing `"8000"` where `8000` was meant counts as a difference.

use crate::yaml::doc::{Kind, Node, Style};

#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    /// Anchor id (0 = none); ids are numbered in definition order, so inserting
    /// anchor-free text keeps every existing id.
    pub anchor: usize,
    pub tag: Option<String>,
    pub data: Data,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Data {
    Null,
    Bool(bool),
    Int(i128),
    Float(String),
    Str(String),
    Seq(Vec<Value>),
    Map(Vec<(Value, Value)>),
    Alias(usize),
}

impl Value {
    pub fn from_node(node: &Node) -> Value {
        let data = match &node.kind {
            Kind::Scalar { value, style } => {
                resolve_scalar(value, *style == Style::Plain, node.tag.as_deref())
            }
            Kind::Seq { items, .. } => Data::Seq(items.iter().map(Value::from_node).collect()),
            Kind::Map { entries, .. } => Data::Map(
                entries
                    .iter()
                    .map(|(k, v)| (Value::from_node(k), Value::from_node(v)))
                    .collect(),
            ),
            Kind::Alias(id) => Data::Alias(*id),
        };
        Value {
            anchor: node.anchor,
            tag: node.tag.clone(),
            data,
        }
    }

    pub fn plain(data: Data) -> Value {
        Value {
            anchor: 0,
            tag: None,
            data,
        }
    }

    pub fn str(s: &str) -> Value {
        Value::plain(Data::Str(s.to_string()))
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.data {
            Data::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The value under the string key `key` of a mapping.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        match &mut self.data {
            Data::Map(entries) => entries
                .iter_mut()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v),
            // A path through a sequence names the item by its index (a Kubernetes
            // container: `spec.template.spec.containers.0`).
            Data::Seq(items) => key.parse::<usize>().ok().and_then(|i| items.get_mut(i)),
            _ => None,
        }
    }

    /// Follows a path of mapping keys.
    pub fn at_mut(&mut self, path: &[String]) -> Option<&mut Value> {
        path.iter().try_fold(self, |v, key| v.get_mut(key))
    }
}

/// Resolves a scalar the way the YAML 1.2 core schema does. Quoted and block scalars are
/// always strings; so is anything tagged `!!str`.
pub fn resolve_scalar(text: &str, plain: bool, tag: Option<&str>) -> Data {
    let tag = tag.unwrap_or("");
    if !plain || tag == "!!str" || tag == "tag:yaml.org,2002:str" {
        return Data::Str(text.to_string());
    }
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Data::Null,
        "true" | "True" | "TRUE" => return Data::Bool(true),
        "false" | "False" | "FALSE" => return Data::Bool(false),
        _ => {}
    }
    if let Some(i) = parse_int(text) {
        return Data::Int(i);
    }
    if is_float(text) {
        return Data::Float(text.to_string());
    }
    Data::Str(text.to_string())
}

fn parse_int(text: &str) -> Option<i128> {
    if let Some(hex) = text.strip_prefix("0x") {
        return i128::from_str_radix(hex, 16).ok();
    }
    if let Some(oct) = text.strip_prefix("0o") {
        return i128::from_str_radix(oct, 8).ok();
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().ok();
    }
    None
}

fn is_float(text: &str) -> bool {
    let t = text.strip_prefix(['-', '+']).unwrap_or(text);
    if matches!(t, ".inf" | ".Inf" | ".INF") || matches!(text, ".nan" | ".NaN" | ".NAN") {
        return true;
    }
    // [0-9]* ( \. [0-9]* )? ( [eE] [-+]? [0-9]+ )?  with at least one digit before the exponent
    let (mantissa, exponent) = match t.find(['e', 'E']) {
        Some(i) => (&t[..i], Some(&t[i + 1..])),
        None => (t, None),
    };
    let (int, frac) = match mantissa.split_once('.') {
        Some((a, b)) => (a, Some(b)),
        None => (mantissa, None),
    };
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = digits(int)
        && frac.is_none_or(digits)
        && (int.len() + frac.map_or(0, str::len)) > 0
        && (frac.is_some() || exponent.is_some());
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && digits(e)
    });
    mantissa_ok && exponent_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_scalars_resolve_with_the_core_schema() {
        assert_eq!(resolve_scalar("8000", true, None), Data::Int(8000));
        assert_eq!(resolve_scalar("true", true, None), Data::Bool(true));
        assert_eq!(resolve_scalar("", true, None), Data::Null);
        assert_eq!(resolve_scalar("1.5", true, None), Data::Float("1.5".into()));
        assert_eq!(resolve_scalar("1e3", true, None), Data::Float("1e3".into()));
        assert_eq!(resolve_scalar("yes", true, None), Data::Str("yes".into()));
        assert_eq!(
            resolve_scalar("1.2.3", true, None),
            Data::Str("1.2.3".into())
        );
        assert_eq!(resolve_scalar(".", true, None), Data::Str(".".into()));
    }

    #[test]
    fn quoted_scalars_stay_strings() {
        assert_eq!(
            resolve_scalar("8000", false, None),
            Data::Str("8000".into())
        );
        assert_eq!(
            resolve_scalar("8000", true, Some("!!str")),
            Data::Str("8000".into())
        );
    }
}
