//! `.obs-init.toml`: the choices of a run (services, ports, frameworks, daprd version),
//! recorded so that a later run, or `--check` in CI, reproduces them without flags.

use toml_edit::{Array, DocumentMut, Item, Table, value};

use crate::detect::Framework;

pub const FILE: &str = ".obs-init.toml";

const HEADER: &str = "# obs-init's answers: a later `obs-init` or `obs-init --check` reuses them.\n\
                      # Edit freely; flags given on the command line win.\n";

/// The recorded choices.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Answers {
    pub dapr_version: Option<String>,
    pub services: Vec<String>,
    /// Per service: its app port and frameworks, when recorded.
    pub per_service: Vec<ServiceAnswers>,
    /// What onboarding added to the compose file ([`crate::compose::added_paths`]), so that
    /// `obs-init remove` takes back exactly that.
    pub added: Vec<String>,
    /// Keys that were empty before onboarding gave them a value.
    pub kept_empty: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceAnswers {
    pub name: String,
    pub app_port: Option<u16>,
    pub frameworks: Vec<Framework>,
}

impl Answers {
    pub fn service(&self, name: &str) -> Option<&ServiceAnswers> {
        self.per_service.iter().find(|s| s.name == name)
    }
}

/// Reads an answers file; `Err` says what is wrong, in the file's terms.
pub fn read(content: &str) -> Result<Answers, String> {
    let doc: DocumentMut = content.parse().map_err(|e| format!("{e}"))?;
    let mut answers = Answers {
        dapr_version: doc
            .get("dapr_version")
            .and_then(Item::as_str)
            .map(String::from),
        ..Answers::default()
    };
    if let Some(services) = doc.get("services") {
        let list = services
            .as_array()
            .ok_or("`services` must be a list of names")?;
        for s in list {
            answers.services.push(
                s.as_str()
                    .ok_or("`services` must hold strings")?
                    .to_string(),
            );
        }
    }
    for (key, list) in [
        ("added", &mut answers.added),
        ("kept_empty", &mut answers.kept_empty),
    ] {
        if let Some(items) = doc.get("onboarded").and_then(|o| o.get(key)) {
            let items = items
                .as_array()
                .ok_or_else(|| format!("onboarded.{key} must be a list"))?;
            list.extend(items.iter().filter_map(|v| v.as_str().map(String::from)));
        }
    }
    if let Some(table) = doc.get("service").and_then(Item::as_table_like) {
        for (name, item) in table.iter() {
            let mut svc = ServiceAnswers {
                name: name.to_string(),
                ..ServiceAnswers::default()
            };
            if let Some(port) = item.get("app_port") {
                let port = port
                    .as_integer()
                    .and_then(|p| u16::try_from(p).ok())
                    .ok_or_else(|| format!("service.{name}.app_port must be a port number"))?;
                svc.app_port = Some(port);
            }
            if let Some(list) = item.get("frameworks") {
                let list = list
                    .as_array()
                    .ok_or_else(|| format!("service.{name}.frameworks must be a list"))?;
                for f in list {
                    let f = f.as_str().and_then(parse_framework).ok_or_else(|| {
                        format!(
                            "service.{name}.frameworks: expected one of {}",
                            Framework::ALL.map(Framework::name).join(", ")
                        )
                    })?;
                    svc.frameworks.push(f);
                }
            }
            answers.per_service.push(svc);
        }
    }
    Ok(answers)
}

fn parse_framework(name: &str) -> Option<Framework> {
    Framework::ALL.into_iter().find(|f| f.name() == name)
}

/// `existing` (or a new file) updated to record `answers`; comments and unrelated keys stay.
pub fn write(existing: Option<&str>, answers: &Answers) -> String {
    let fresh = existing
        .and_then(|e| e.parse::<DocumentMut>().ok())
        .is_none();
    let mut doc: DocumentMut = existing.and_then(|e| e.parse().ok()).unwrap_or_default();
    if let Some(v) = &answers.dapr_version
        && doc.get("dapr_version").and_then(Item::as_str) != Some(v)
    {
        doc["dapr_version"] = value(v.as_str());
    }
    let services: Vec<&str> = answers.services.iter().map(String::as_str).collect();
    let recorded: Option<Vec<&str>> = doc
        .get("services")
        .and_then(Item::as_array)
        .map(|a| a.iter().filter_map(|v| v.as_str()).collect());
    if recorded.as_deref() != Some(&services[..]) {
        doc["services"] = value(services.iter().copied().collect::<Array>());
    }
    if doc.get("service").is_none() {
        let mut t = Table::new();
        t.set_implicit(true);
        doc["service"] = Item::Table(t);
    }
    for svc in &answers.per_service {
        let table = &mut doc["service"][&svc.name];
        if table.is_none() {
            *table = Item::Table(Table::new());
        }
        if let Some(port) = svc.app_port
            && table.get("app_port").and_then(Item::as_integer) != Some(i64::from(port))
        {
            table["app_port"] = value(i64::from(port));
        }
        let names: Vec<&str> = svc.frameworks.iter().map(|f| f.name()).collect();
        let recorded: Option<Vec<&str>> = table
            .get("frameworks")
            .and_then(Item::as_array)
            .map(|a| a.iter().filter_map(|v| v.as_str()).collect());
        if !names.is_empty() && recorded.as_deref() != Some(&names[..]) {
            table["frameworks"] = value(names.iter().copied().collect::<Array>());
        }
    }
    for (key, list) in [
        ("added", &answers.added),
        ("kept_empty", &answers.kept_empty),
    ] {
        let recorded: Vec<&str> = doc
            .get("onboarded")
            .and_then(|o| o.get(key))
            .and_then(Item::as_array)
            .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
            .unwrap_or_default();
        if list.is_empty() || recorded == list.iter().map(String::as_str).collect::<Vec<_>>() {
            continue;
        }
        if doc.get("onboarded").is_none() {
            doc["onboarded"] = Item::Table(Table::new());
        }
        let mut array: Array = list.iter().map(String::as_str).collect();
        if list.len() > 2 {
            for v in array.iter_mut() {
                v.decor_mut().set_prefix("\n    ");
            }
            array.set_trailing("\n");
            array.set_trailing_comma(true);
        }
        doc["onboarded"][key] = value(array);
    }
    // A comment-only document would print its comment last: a new file gets it on top.
    if fresh {
        format!("{HEADER}{doc}")
    } else {
        doc.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Answers {
        Answers {
            dapr_version: Some("1.18.3".into()),
            services: vec!["api".into()],
            per_service: vec![ServiceAnswers {
                name: "api".into(),
                app_port: Some(8000),
                frameworks: vec![Framework::FastApi],
            }],
            added: vec!["services.api-dapr".into()],
            kept_empty: Vec::new(),
        }
    }

    #[test]
    fn answers_round_trip() {
        let text = write(None, &sample());
        assert!(text.starts_with("# obs-init's answers"));
        assert_eq!(read(&text), Ok(sample()));
        assert_eq!(
            write(Some(&text), &sample()),
            text,
            "rewriting changed the file"
        );
    }

    #[test]
    fn comments_and_other_keys_survive_an_update() {
        let before = "# team note\nservices = [\"api\"]  # the app\nowner = \"data\"\n";
        let after = write(Some(before), &sample());
        assert!(
            after.contains("# team note\nservices = [\"api\"]  # the app\nowner = \"data\"\n"),
            "{after}"
        );
        assert!(
            after.contains("[service.api]\napp_port = 8000\nframeworks = [\"fastapi\"]"),
            "{after}"
        );
    }

    #[test]
    fn a_bad_framework_is_reported_with_the_valid_ones() {
        let err = read("[service.api]\nframeworks = [\"flask\"]\n").expect_err("invalid");
        assert!(err.contains("fastapi, mlflow, dagster, python"), "{err}");
    }
}
