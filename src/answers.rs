//! `.obs-init.toml`: the choices of a run (services, ports, frameworks, daprd version),
//! recorded so that a later run, or `--check` in CI, reproduces them without flags.

use toml_edit::{Array, DocumentMut, InlineTable, Item, Table, value};

use crate::frameworks::Framework;
use crate::lock_record::{Hunk, LockRecord};
use crate::record::{FileRecord, Insertion};

pub const FILE: &str = ".obs-init.toml";

/// The answers that are paths, by their key (the flag's name with `_`).
pub const PATH_FLAGS: [&str; 3] = ["module_path", "dagster_home", "dapr_config"];

const HEADER: &str = "# obs-init's answers: a later `obs-init` or `obs-init --check` reuses them.\n\
                      # Edit freely; flags given on the command line win.\n";

/// The recorded choices.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Answers {
    pub dapr_version: Option<String>,
    /// The folders and files the command line named (`--module-path`, `--dagster-home`,
    /// `--dapr-config`), relative to the project directory: a later run, `--check` and
    /// `doctor` plan as they did.
    pub paths: Vec<(String, String)>,
    /// `--no-env`: the overlay is loaded with `-f` flags, `.env` left alone.
    pub no_env: bool,
    /// `--mlflow-otlp`: MLflow before 3.4 exports to the collector instead of its server.
    pub mlflow_otlp: bool,
    pub services: Vec<String>,
    /// Per service: its app port and frameworks, when recorded.
    pub per_service: Vec<ServiceAnswers>,
    /// What onboarding did to each compose file, so that `obs-init remove` takes back
    /// exactly that. Answers files from before per-file records hold one record with an
    /// empty path: the compose file in use.
    pub composes: Vec<ComposeRecord>,
    /// What onboarding did to every other file ([`crate::record`]), with the services that
    /// need it ([`needer`]): `remove` takes it back once none of them is onboarded.
    pub files: Vec<(FileRecord, Vec<String>)>,
    /// The answers file as it was before obs-init first wrote it (a user's own answers),
    /// for `remove` to give back.
    pub original: Option<String>,
    /// Kubernetes workloads' build contexts named with `--context` (`[kubernetes.context]`):
    /// a later run, `--check` among them, finds their code without the flag.
    pub contexts: Vec<(String, String)>,
    /// The locks pinning manifests obs-init edited ([`crate::lock_record`]): `remove` gives
    /// them back with the manifest.
    pub locks: Vec<LockRecord>,
}

/// What onboarding did to one compose file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ComposeRecord {
    /// Relative to the project directory, with `/`.
    pub path: String,
    /// The services onboarded in it.
    pub services: Vec<String>,
    /// What it added ([`crate::compose::added_paths`]).
    pub added: Vec<String>,
    /// Keys that were empty before onboarding gave them a value.
    pub kept_empty: Vec<String>,
    /// The file's text as obs-init left it, and what it inserted ([`crate::record`]).
    pub text: Option<FileRecord>,
    /// The overlay (relative to the project directory, with `/`) when the services are
    /// onboarded in one rather than in the compose file.
    pub overlay: Option<String>,
    /// For an override file Compose reads with a compose file: that compose file (relative
    /// to the project directory, with `/`). Its record goes with that file's.
    pub override_of: Option<String>,
}

/// How a service of a compose file is named among the services that need a file:
/// `compose.yaml:api` (Compose's service names hold no `:`).
pub fn needer(compose: &str, service: &str) -> String {
    format!("{compose}:{service}")
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

    /// The record of the compose file at `path` (relative to the project), or the one an
    /// older answers file kept without a path.
    pub fn compose(&self, path: &str) -> Option<&ComposeRecord> {
        self.composes
            .iter()
            .find(|c| c.path == path)
            .or_else(|| self.composes.iter().find(|c| c.path.is_empty()))
    }

    /// Whether a record of changes is kept (answers files of obs-init before 0.2 have only
    /// the compose additions).
    pub fn has_file_records(&self) -> bool {
        !self.files.is_empty() || self.composes.iter().any(|c| c.text.is_some())
    }
}

/// The path the answers file in `dir` records for `key` (one of [`PATH_FLAGS`]), joined to
/// `dir`; `None` when there is no answers file, it does not read, or it records none.
pub fn recorded_path(dir: &std::path::Path, key: &str) -> Option<std::path::PathBuf> {
    let text = std::fs::read_to_string(dir.join(FILE)).ok()?;
    let answers = read(&text).ok()?;
    answers
        .paths
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, p)| dir.join(p))
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
    answers.no_env = doc.get("no_env").and_then(Item::as_bool).unwrap_or(false);
    answers.mlflow_otlp = doc
        .get("mlflow_otlp")
        .and_then(Item::as_bool)
        .unwrap_or(false);
    for key in PATH_FLAGS {
        if let Some(item) = doc.get(key) {
            let path = item
                .as_str()
                .ok_or_else(|| format!("`{key}` must be a path (a string)"))?;
            answers.paths.push((key.to_string(), path.to_string()));
        }
    }
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
    if let Some(table) = doc
        .get("kubernetes")
        .and_then(|k| k.get("context"))
        .and_then(Item::as_table_like)
    {
        for (name, dir) in table.iter() {
            let dir = dir
                .as_str()
                .ok_or("`kubernetes.context` values must be folders (strings)")?;
            answers.contexts.push((name.to_string(), dir.to_string()));
        }
    }
    let onboarded = doc.get("onboarded");
    // The record of answers files that predate per-file records.
    let mut legacy = ComposeRecord {
        services: answers.services.clone(),
        ..ComposeRecord::default()
    };
    for (key, list) in [
        ("added", &mut legacy.added),
        ("kept_empty", &mut legacy.kept_empty),
    ] {
        list.extend(strings(
            onboarded.and_then(|o| o.get(key)),
            &format!("onboarded.{key}"),
        )?);
    }
    if !legacy.added.is_empty() {
        answers.composes.push(legacy);
    }
    if let Some(composes) = onboarded
        .and_then(|o| o.get("compose"))
        .and_then(Item::as_table_like)
    {
        for (path, item) in composes.iter() {
            let at = |k: &str| format!("onboarded.compose.\"{path}\".{k}");
            let text = match item.get("checksum") {
                Some(_) => Some(read_file_record(path, item)?.0),
                None => None,
            };
            answers.composes.push(ComposeRecord {
                path: path.to_string(),
                services: strings(item.get("services"), &at("services"))?,
                added: strings(item.get("added"), &at("added"))?,
                kept_empty: strings(item.get("kept_empty"), &at("kept_empty"))?,
                text,
                overlay: match item.get("overlay") {
                    Some(o) => Some(
                        o.as_str()
                            .ok_or_else(|| format!("{} must be a path", at("overlay")))?
                            .to_string(),
                    ),
                    None => None,
                },
                override_of: match item.get("override_of") {
                    Some(o) => Some(
                        o.as_str()
                            .ok_or_else(|| format!("{} must be a path", at("override_of")))?
                            .to_string(),
                    ),
                    None => None,
                },
            });
        }
    }
    answers.original = onboarded
        .and_then(|o| o.get("original"))
        .and_then(Item::as_str)
        .map(String::from);
    if let Some(files) = doc
        .get("onboarded")
        .and_then(|o| o.get("files"))
        .and_then(Item::as_table_like)
    {
        for (path, item) in files.iter() {
            answers.files.push(read_file_record(path, item)?);
        }
    }
    if let Some(locks) = onboarded
        .and_then(|o| o.get("locks"))
        .and_then(Item::as_table_like)
    {
        for (path, item) in locks.iter() {
            answers.locks.push(read_lock_record(path, item)?);
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

/// A list of strings, or the message for what is there instead.
fn strings(item: Option<&Item>, name: &str) -> Result<Vec<String>, String> {
    let Some(item) = item else {
        return Ok(Vec::new());
    };
    let list = item
        .as_array()
        .ok_or_else(|| format!("{name} must be a list"))?;
    list.iter()
        .map(|v| {
            v.as_str()
                .map(String::from)
                .ok_or_else(|| format!("{name} must hold strings"))
        })
        .collect()
}

fn read_file_record(path: &str, item: &Item) -> Result<(FileRecord, Vec<String>), String> {
    let at = |what: &str| format!("onboarded.files.\"{path}\".{what}");
    let checksum = item
        .get("checksum")
        .and_then(Item::as_str)
        .ok_or_else(|| format!("{} must be a checksum", at("checksum")))?
        .to_string();
    let created = item.get("created").and_then(Item::as_bool).unwrap_or(false);
    let original = item
        .get("original")
        .and_then(Item::as_str)
        .map(String::from);
    let mut inserted = Vec::new();
    if let Some(list) = item.get("inserted") {
        let list = list
            .as_array()
            .ok_or_else(|| format!("{} must be a list", at("inserted")))?;
        for piece in list {
            let table = piece
                .as_inline_table()
                .ok_or_else(|| format!("{} holds {{ at, text }} tables", at("inserted")))?;
            let offset = table
                .get("at")
                .and_then(|v| v.as_integer())
                .and_then(|v| usize::try_from(v).ok());
            let text = table.get("text").and_then(|v| v.as_str());
            let services = table
                .get("services")
                .and_then(|v| v.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            match (offset, text) {
                (Some(at), Some(text)) => inserted.push(Insertion {
                    at,
                    text: text.to_string(),
                    services,
                }),
                _ => return Err(format!("{} holds {{ at, text }} tables", at("inserted"))),
            }
        }
    }
    Ok((
        FileRecord {
            path: path.to_string(),
            created,
            checksum,
            inserted,
            original,
        },
        strings(item.get("services"), &at("services"))?,
    ))
}

fn read_lock_record(path: &str, item: &Item) -> Result<LockRecord, String> {
    let at = |what: &str| format!("onboarded.locks.\"{path}\".{what}");
    let text = |key: &str| {
        item.get(key)
            .and_then(Item::as_str)
            .map(String::from)
            .ok_or_else(|| format!("{} must be a string", at(key)))
    };
    let mut back = Vec::new();
    if let Some(list) = item.get("back") {
        let shape = || format!("{} holds {{ line, take, put }} tables", at("back"));
        for hunk in list.as_array().ok_or_else(shape)? {
            let table = hunk.as_inline_table().ok_or_else(shape)?;
            let number = |k: &str| {
                table
                    .get(k)
                    .and_then(|v| v.as_integer())
                    .and_then(|v| usize::try_from(v).ok())
            };
            match (number("line"), number("take"), table.get("put")) {
                (Some(line), Some(take), put) => back.push(Hunk {
                    line,
                    take,
                    put: put.and_then(|p| p.as_str()).unwrap_or("").to_string(),
                }),
                _ => return Err(shape()),
            }
        }
    }
    Ok(LockRecord {
        path: path.to_string(),
        manifest: text("manifest")?,
        checksum: text("checksum")?,
        manifest_before: text("manifest_before")?,
        back,
    })
}

fn parse_framework(name: &str) -> Option<Framework> {
    Framework::by_name(name)
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
    if answers.no_env && doc.get("no_env").and_then(Item::as_bool) != Some(true) {
        doc["no_env"] = value(true);
    }
    if answers.mlflow_otlp && doc.get("mlflow_otlp").and_then(Item::as_bool) != Some(true) {
        doc["mlflow_otlp"] = value(true);
    }
    for (key, path) in &answers.paths {
        if doc.get(key).and_then(Item::as_str) != Some(path) {
            doc[key.as_str()] = value(path.as_str());
        }
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
    for (name, dir) in &answers.contexts {
        if doc.get("kubernetes").is_none() {
            let mut t = Table::new();
            t.set_implicit(true);
            doc["kubernetes"] = Item::Table(t);
        }
        let kubernetes = &mut doc["kubernetes"];
        if kubernetes.get("context").is_none() {
            kubernetes["context"] = Item::Table(Table::new());
        }
        if kubernetes["context"].get(name).and_then(Item::as_str) != Some(dir) {
            kubernetes["context"][name.as_str()] = value(dir.as_str());
        }
    }
    // A service whose answers went (removed) goes from the file too.
    if let Some(table) = doc["service"].as_table_like_mut() {
        let gone: Vec<String> = table
            .iter()
            .map(|(k, _)| k.to_string())
            .filter(|k| !answers.per_service.iter().any(|s| s.name == *k))
            .collect();
        for name in gone {
            table.remove(&name);
        }
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
    write_records(&mut doc, answers);
    // A comment-only document would print its comment last: a new file gets it on top.
    if fresh {
        format!("{HEADER}{doc}")
    } else {
        doc.to_string()
    }
}

/// The record, replaced whole: it is obs-init's, not the user's, and describes the files
/// as obs-init left them. Records of older answers files are upgraded.
fn write_records(doc: &mut DocumentMut, answers: &Answers) {
    let unchanged = read(&doc.to_string()).is_ok_and(|old| {
        old.composes == answers.composes
            && old.files == answers.files
            && old.original == answers.original
            && old.locks == answers.locks
            && doc.get("onboarded").and_then(|o| o.get("added")).is_none()
    });
    if unchanged {
        return;
    }
    let list = |items: &[String]| {
        let mut array: Array = items.iter().map(String::as_str).collect();
        if items.len() > 2 {
            for v in array.iter_mut() {
                v.decor_mut().set_prefix("\n    ");
            }
            array.set_trailing("\n");
            array.set_trailing_comma(true);
        }
        value(array)
    };
    let mut onboarded = Table::new();
    onboarded.set_implicit(true);
    if let Some(original) = &answers.original {
        onboarded["original"] = value(original.as_str());
    }
    let mut composes = Table::new();
    composes.set_implicit(true);
    for c in answers.composes.iter().filter(|c| !c.path.is_empty()) {
        let mut t = Table::new();
        t["services"] = list(&c.services);
        if let Some(overlay) = &c.overlay {
            t["overlay"] = value(overlay.as_str());
        }
        if let Some(of) = &c.override_of {
            t["override_of"] = value(of.as_str());
        }
        if !c.added.is_empty() {
            t["added"] = list(&c.added);
        }
        if !c.kept_empty.is_empty() {
            t["kept_empty"] = list(&c.kept_empty);
        }
        if let Some(text) = &c.text {
            file_record(&mut t, text);
        }
        composes[c.path.as_str()] = Item::Table(t);
    }
    if !composes.is_empty() {
        onboarded["compose"] = Item::Table(composes);
    }
    let mut files = Table::new();
    files.set_implicit(true);
    for (record, services) in &answers.files {
        let mut t = Table::new();
        t["services"] = list(services);
        file_record(&mut t, record);
        files[record.path.as_str()] = Item::Table(t);
    }
    if !files.is_empty() {
        onboarded["files"] = Item::Table(files);
    }
    let mut locks = Table::new();
    locks.set_implicit(true);
    for lock in &answers.locks {
        let mut t = Table::new();
        t["manifest"] = value(lock.manifest.as_str());
        t["checksum"] = value(lock.checksum.as_str());
        t["manifest_before"] = value(lock.manifest_before.as_str());
        if !lock.back.is_empty() {
            let mut list = Array::new();
            for hunk in &lock.back {
                let mut it = InlineTable::new();
                it.insert("line", (hunk.line as i64).into());
                it.insert("take", (hunk.take as i64).into());
                if !hunk.put.is_empty() {
                    it.insert("put", hunk.put.as_str().into());
                }
                list.push(it);
            }
            for v in list.iter_mut() {
                v.decor_mut().set_prefix("\n    ");
            }
            list.set_trailing("\n");
            list.set_trailing_comma(true);
            t["back"] = value(list);
        }
        locks[lock.path.as_str()] = Item::Table(t);
    }
    if !locks.is_empty() {
        onboarded["locks"] = Item::Table(locks);
    }
    if onboarded.is_empty() {
        doc.remove("onboarded");
    } else {
        doc["onboarded"] = Item::Table(onboarded);
    }
}

fn file_record(t: &mut Table, record: &FileRecord) {
    if record.created {
        t["created"] = value(true);
    }
    t["checksum"] = value(record.checksum.as_str());
    if let Some(original) = &record.original {
        t["original"] = value(original.as_str());
    }
    if !record.inserted.is_empty() {
        let mut list = Array::new();
        for piece in &record.inserted {
            let mut it = InlineTable::new();
            it.insert("at", (piece.at as i64).into());
            it.insert("text", piece.text.as_str().into());
            if !piece.services.is_empty() {
                let services: Array = piece.services.iter().map(String::as_str).collect();
                it.insert("services", services.into());
            }
            list.push(it);
        }
        for v in list.iter_mut() {
            v.decor_mut().set_prefix("\n    ");
        }
        list.set_trailing("\n");
        list.set_trailing_comma(true);
        t["inserted"] = value(list);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Answers {
        Answers {
            dapr_version: Some("1.18.3".into()),
            paths: vec![("module_path".into(), "src/app".into())],
            no_env: true,
            mlflow_otlp: false,
            services: vec!["api".into()],
            per_service: vec![ServiceAnswers {
                name: "api".into(),
                app_port: Some(8000),
                frameworks: vec![Framework::FastApi],
            }],
            composes: vec![ComposeRecord {
                path: "compose.yaml".into(),
                services: vec!["api".into()],
                added: vec!["services.api-dapr".into()],
                kept_empty: Vec::new(),
                text: Some(FileRecord {
                    path: "compose.yaml".into(),
                    created: false,
                    checksum: "0000000000000001".into(),
                    inserted: Vec::new(),
                    original: None,
                }),
                overlay: Some("compose.observability.yaml".into()),
                override_of: None,
            }],
            original: Some("# mine\n".into()),
            contexts: vec![("worker".into(), "services/worker".into())],
            locks: vec![LockRecord {
                path: "app/poetry.lock".into(),
                manifest: "app/pyproject.toml".into(),
                checksum: "0000000000000002".into(),
                manifest_before: "0000000000000003".into(),
                back: vec![
                    Hunk {
                        line: 3,
                        take: 2,
                        put: "[metadata]\n".into(),
                    },
                    Hunk {
                        line: 9,
                        take: 4,
                        put: String::new(),
                    },
                ],
            }],
            files: vec![(
                FileRecord {
                    path: "app/requirements.txt".into(),
                    created: false,
                    checksum: "00000000000000ff".into(),
                    inserted: vec![Insertion {
                        at: 8,
                        text: "opentelemetry-sdk>=1.45 # \"quoted\"\n".into(),
                        services: vec![needer("compose.yaml", "api")],
                    }],
                    original: None,
                },
                vec![needer("compose.yaml", "api")],
            )],
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
        let err = read("[service.api]\nframeworks = [\"rails\"]\n").expect_err("invalid");
        assert!(
            err.contains("fastapi, flask, django, celery, mlflow, dagster, python"),
            "{err}"
        );
    }
}
