//! Python dependencies: adding the packages the generated module needs to `requirements.txt`
//! or `pyproject.toml` (PEP 621 `[project]` or Poetry), keeping everything else as it is.

use toml_edit::{Array, DocumentMut, Item, Value};

use crate::interpreter::Version;
use crate::yaml::text::Text;

/// A package the module needs, with its minimum version and, where a line must not let
/// pip take a newer release, the version it stays below.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Requirement {
    pub name: &'static str,
    pub min: &'static str,
    pub below: Option<&'static str>,
}

const fn req(name: &'static str, min: &'static str) -> Requirement {
    Requirement {
        name,
        min,
        below: None,
    }
}

/// The packages for one OpenTelemetry release line, and the oldest Python it installs on.
/// Only lower bounds are written: on a newer Python pip takes a newer line by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line {
    pub python: Version,
    /// The newest SDK release for that Python (pip's resolver, `--python-version`).
    pub newest_sdk: &'static str,
    pub sdk: Requirement,
    pub exporter: Requirement,
    /// The instrumentation-logging handler exists from 0.61b0 (SDK 1.40); below, the module
    /// uses the SDK's own handler.
    pub logging: Option<Requirement>,
    /// The contrib release the frameworks' instrumentations are asked for at (each
    /// framework's packages are in [`crate::frameworks::ROWS`]).
    pub contrib: &'static str,
    /// The contrib release the instrumentations stay below, where the SDK is capped too.
    pub contrib_below: Option<&'static str>,
}

/// Newest first. Python 3.7 and older have no SDK release the module works with.
pub const LINES: [Line; 3] = [
    Line {
        python: Version {
            major: 3,
            minor: 10,
        },
        newest_sdk: "1.45",
        sdk: req("opentelemetry-sdk", "1.45.0"),
        exporter: req("opentelemetry-exporter-otlp-proto-grpc", "1.45.0"),
        logging: Some(req("opentelemetry-instrumentation-logging", "0.66b0")),
        contrib: "0.66b0",
        contrib_below: None,
    },
    Line {
        python: Version { major: 3, minor: 9 },
        newest_sdk: "1.41",
        sdk: req("opentelemetry-sdk", "1.40.0"),
        exporter: req("opentelemetry-exporter-otlp-proto-grpc", "1.40.0"),
        logging: Some(req("opentelemetry-instrumentation-logging", "0.61b0")),
        contrib: "0.61b0",
        contrib_below: None,
    },
    Line {
        python: Version { major: 3, minor: 8 },
        newest_sdk: "1.33",
        sdk: req("opentelemetry-sdk", "1.33.0"),
        exporter: req("opentelemetry-exporter-otlp-proto-grpc", "1.33.0"),
        logging: None,
        contrib: "0.54b0",
        contrib_below: None,
    },
];

/// The line for a project that keeps protobuf below 5 (MLflow 2.14 and older require it):
/// opentelemetry-proto 1.27 is the last release on protobuf 4 (1.28 requires protobuf>=5),
/// and the exporter pins the SDK and the proto package to its own release. The exporter is
/// capped, or pip would take the newest and report the conflict instead of choosing 1.27.
pub const PROTOBUF_4: Line = Line {
    python: Version { major: 3, minor: 8 },
    newest_sdk: "1.27",
    sdk: req("opentelemetry-sdk", "1.27.0"),
    exporter: Requirement {
        name: "opentelemetry-exporter-otlp-proto-grpc",
        min: "1.27.0",
        below: Some("1.28"),
    },
    logging: None,
    contrib: "0.48b0",
    contrib_below: None,
};

/// The line for a project on MLflow 2.15 to 3.3: their span processors skip the SDK's
/// `__init__`, and SDK 1.45's `SimpleSpanProcessor.on_end` reads the `_shutdown` it sets,
/// so every MLflow span fails to end (`'MlflowV3SpanProcessor' object has no attribute
/// '_shutdown'`, seen with MLflow 3.3.2) and no trace reaches the MLflow server or the
/// collector. 1.44 is the last release without that read; MLflow 3.4 calls the `__init__`.
pub const SDK_BELOW_1_45: Line = Line {
    python: Version { major: 3, minor: 9 },
    newest_sdk: "1.44",
    sdk: Requirement {
        name: "opentelemetry-sdk",
        min: "1.40.0",
        below: Some("1.45"),
    },
    exporter: Requirement {
        name: "opentelemetry-exporter-otlp-proto-grpc",
        min: "1.40.0",
        below: Some("1.45"),
    },
    logging: Some(Requirement {
        name: "opentelemetry-instrumentation-logging",
        min: "0.61b0",
        below: Some("0.66b0"),
    }),
    contrib: "0.61b0",
    contrib_below: Some("0.66b0"),
};

/// Every line obs-init may write, to recognise its own lines whichever was chosen.
pub fn known_lines() -> impl Iterator<Item = &'static Line> {
    LINES.iter().chain([&PROTOBUF_4, &SDK_BELOW_1_45])
}

/// Where a manifest keeps protobuf below 5, directly or through an MLflow release that
/// requires it (2.14 and older): the specifier as written and its 1-based line.
pub fn protobuf_below_5(path: &std::path::Path, content: &str) -> Option<(String, usize)> {
    let limits = [
        ("protobuf", [5, 0, 0]),
        ("mlflow", [2, 15, 0]),
        ("mlflow-skinny", [2, 15, 0]),
    ];
    limits.iter().find_map(|(name, limit)| {
        let (spec, line) = spec_of(path, content, name)?;
        caps_below(&spec, *limit).then_some((spec, line))
    })
}

/// The MLflow distributions whose release decides what MLflow does with the OTLP variables.
const MLFLOW_PACKAGES: [&str; 3] = ["mlflow", "mlflow-skinny", "mlflow-tracing"];

/// What the MLflow release an image installs does with `OTEL_EXPORTER_OTLP_ENDPOINT` or
/// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` set (read in MLflow's wheels,
/// `mlflow/tracing/utils/otlp.py` and `provider.py`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MlflowOtlp {
    /// Before 2.16.1 MLflow has no OTLP exporter: the variables change nothing.
    Ignores,
    /// From 2.16.1 to 3.3: either variable sends its traces over OTLP *instead of* to the
    /// MLflow server; there is no dual export.
    Replaces,
    /// 3.4 and later: `MLFLOW_TRACE_ENABLE_OTLP_DUAL_EXPORT=true` sends them to both.
    Dual,
}

/// The first MLflow release with an OTLP exporter, and the first with dual export.
pub const MLFLOW_FIRST_OTLP: [u32; 3] = [2, 16, 1];
pub const MLFLOW_FIRST_DUAL: [u32; 3] = [3, 4, 0];

/// Whether a specifier keeps MLflow below 3.6: 3.4 and 3.5 give their tracer provider an
/// empty resource (`Resource.get_empty()` in `mlflow/tracing/provider.py`), so the spans
/// they export carry no `service.name`; 3.6 builds it from `OTEL_SERVICE_NAME`.
pub fn mlflow_exports_unnamed(spec: &str) -> bool {
    caps_below(spec, [3, 6, 0])
}

/// What the MLflow a manifest asks for does with the OTLP variables, decided by the newest
/// release its specifier allows (the one pip installs), with the specifier as written and
/// its 1-based line, and whether the release is known (`false`: nothing caps it and no
/// lower bound reaches dual export, so the newest release is assumed). `None`: the manifest
/// does not list MLflow.
pub fn mlflow_otlp(
    path: &std::path::Path,
    content: &str,
) -> Option<(MlflowOtlp, String, usize, bool)> {
    MLFLOW_PACKAGES.iter().find_map(|name| {
        let (spec, line) = spec_of(path, content, name)?;
        let found = if caps_below(&spec, MLFLOW_FIRST_OTLP) {
            (MlflowOtlp::Ignores, true)
        } else if caps_below(&spec, MLFLOW_FIRST_DUAL) {
            (MlflowOtlp::Replaces, true)
        } else {
            let dual = Version {
                major: MLFLOW_FIRST_DUAL[0],
                minor: MLFLOW_FIRST_DUAL[1],
            };
            (
                MlflowOtlp::Dual,
                lower_bound(&spec).is_some_and(|v| v >= dual),
            )
        };
        Some((found.0, spec, line, found.1))
    })
}

/// Whether every version a specifier allows is below `limit` (`major.minor.patch`): `<5`,
/// `<=4.25`, `==4.25.3`, `~=4.25`, Poetry's `^4.25`.
fn caps_below(spec: &str, limit: [u32; 3]) -> bool {
    let next_major = |v: [u32; 3]| [v[0] + 1, 0, 0];
    spec.split(',').any(|clause| {
        let clause = clause.trim();
        let clause =
            clause.trim_start_matches(|c: char| c.is_ascii_alphanumeric() || "-_.[]".contains(c));
        let clause = clause.trim();
        let bound = |op: &str| clause.strip_prefix(op).and_then(release);
        if let Some((v, _)) = bound("<=") {
            v < limit
        } else if let Some((v, _)) = bound("<") {
            v <= limit
        } else if let Some((v, _)) = bound("==") {
            v < limit
        } else if let Some((v, parts)) = bound("~=") {
            let top = if parts > 2 {
                [v[0], v[1] + 1, 0]
            } else {
                next_major(v)
            };
            top <= limit
        } else if let Some((v, _)) = bound("^") {
            v[0] > 0 && next_major(v) <= limit
        } else {
            false
        }
    })
}

/// The line for a service's Python: the newest when it is not known, `None` when no line
/// installs there.
pub fn line_for(python: Option<Version>) -> Option<&'static Line> {
    match python {
        None => Some(&LINES[0]),
        Some(v) => LINES.iter().find(|l| v >= l.python),
    }
}

/// The OpenTelemetry release a manifest pins with `==` (`opentelemetry-sdk==1.39.1`, or an
/// instrumentation's `0.60b1`, which ships with SDK 1.39): the package as written and the
/// SDK `major.minor` it means. The oldest such pin, since every package must resolve.
pub fn pinned_release(text: &str) -> Option<(String, Version)> {
    let mut found: Option<(String, Version)> = None;
    let lower = text.to_ascii_lowercase();
    let mut rest = lower.as_str();
    while let Some(at) = rest.find("opentelemetry") {
        let tail = &rest[at..];
        let name_len = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || "-_.".contains(c)))
            .unwrap_or(tail.len());
        let (name, after) = tail.split_at(name_len);
        rest = after;
        let Some(version) = after.trim_start().strip_prefix("==") else {
            continue;
        };
        let version: String = version
            .trim_start()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '.')
            .collect();
        let mut parts = version.split('.');
        let (Some(major), Some(minor)) = (parts.next(), parts.next()) else {
            continue;
        };
        let minor: String = minor.chars().take_while(char::is_ascii_digit).collect();
        let (Ok(major), Ok(minor)) = (major.parse::<u32>(), minor.parse::<u32>()) else {
            continue;
        };
        // Contrib releases 0.Nb ship with SDK 1.(N-21): 0.54b0 with 1.33, 0.66b0 with 1.45.
        let sdk = match major {
            1 => Version { major: 1, minor },
            0 if minor >= 21 => Version {
                major: 1,
                minor: minor - 21,
            },
            _ => continue,
        };
        if found.as_ref().is_none_or(|(_, v)| sdk < *v) {
            found = Some((format!("{name}=={version}"), sdk));
        }
    }
    found
}

/// The newest line whose packages resolve beside a pin of SDK `pinned`: its lower bounds at
/// or below the pin.
pub fn line_for_pin(pinned: Version) -> Option<&'static Line> {
    LINES.iter().find(|l| l.sdk_version() <= pinned)
}

impl Line {
    /// The SDK's lower bound as a comparable `major.minor`.
    pub fn sdk_version(&self) -> Version {
        let mut parts = self.sdk.min.split('.');
        Version {
            major: parts.next().and_then(|p| p.parse().ok()).unwrap_or(0),
            minor: parts.next().and_then(|p| p.parse().ok()).unwrap_or(0),
        }
    }

    /// This line's requirement for the package `name`, if it has one.
    pub fn same_package(&self, name: &str) -> Option<Requirement> {
        self.all().into_iter().find(|r| r.name == name)
    }

    /// A framework's instrumentation package `name` at this line's contrib release.
    pub fn instrumentation(&self, name: &'static str) -> Requirement {
        Requirement {
            below: self.contrib_below,
            ..req(name, self.contrib)
        }
    }

    /// Every package this line may add: the base and every framework's instrumentation.
    pub fn all(&self) -> Vec<Requirement> {
        let mut all = self.base();
        for row in &crate::frameworks::ROWS {
            all.extend(row.instrumentation.iter().map(|p| self.instrumentation(p)));
        }
        all
    }

    /// [`Line::newest_sdk`] as a comparable `major.minor`.
    pub fn newest(&self) -> Version {
        let (major, minor) = self
            .newest_sdk
            .split_once('.')
            .unwrap_or((self.newest_sdk, "0"));
        Version {
            major: major.parse().unwrap_or(0),
            minor: minor.parse().unwrap_or(0),
        }
    }

    /// What every onboarded Python app needs.
    pub fn base(&self) -> Vec<Requirement> {
        [self.sdk, self.exporter]
            .into_iter()
            .chain(self.logging)
            .collect()
    }
}

/// What every onboarded Python app on the newest line needs.
pub const BASE: [Requirement; 3] = [
    LINES[0].sdk,
    LINES[0].exporter,
    match LINES[0].logging {
        Some(r) => r,
        None => panic!("the newest line has the logging handler"),
    },
];

impl Requirement {
    pub fn spec(&self) -> String {
        format!("{}{}", self.name, self.range())
    }

    /// The versions asked for: `>=1.45.0`, or `>=1.27.0,<1.28`.
    pub fn range(&self) -> String {
        match self.below {
            Some(below) => format!(">={},<{below}", self.min),
            None => format!(">={}", self.min),
        }
    }
}

/// PEP 503 normalisation: case-insensitive, runs of `-`, `_`, `.` are one `-`.
pub fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
        } else {
            if sep && !out.is_empty() {
                out.push('-');
            }
            sep = false;
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// The distribution name a requirement specifier starts with (`Foo[bar]>=1 ; marker`).
pub fn requirement_name(spec: &str) -> Option<String> {
    let spec = spec.trim();
    let end = spec
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(spec.len());
    (end > 0).then(|| normalize(&spec[..end]))
}

/// The package names a `requirements.txt` lists (options like `-r` and comments skipped).
pub fn requirements_names(content: &str) -> Vec<String> {
    content
        .lines()
        .map(|l| l.split(" #").next().unwrap_or(""))
        .filter(|l| !l.trim_start().starts_with(['#', '-']))
        .filter_map(requirement_name)
        .collect()
}

/// `content` with the missing `wanted` packages appended, or `None` when all are listed.
pub fn add_to_requirements(content: &str, wanted: &[Requirement]) -> Option<String> {
    let present = requirements_names(content);
    let missing: Vec<&Requirement> = wanted
        .iter()
        .filter(|r| !present.contains(&normalize(r.name)))
        .collect();
    if missing.is_empty() {
        return None;
    }
    let eol = Text::new(content).eol();
    let mut lines = vec!["# Observability (added by obs-init)".to_string()];
    lines.extend(missing.iter().map(|r| r.spec()));
    let block = lines.join(eol);
    // The file keeps its final-newline state: the break moves in front of the new lines.
    Some(if content.is_empty() {
        format!("{block}{eol}")
    } else if content.ends_with('\n') {
        format!("{content}{block}{eol}")
    } else {
        format!("{content}{eol}{block}")
    })
}

/// `content` without the block [`add_to_requirements`] appended: its comment line and the
/// specifiers after it that are obs-init's, exactly as written. Lines the user changed stay.
pub fn remove_from_requirements(content: &str) -> String {
    const HEADER: &str = "# Observability (added by obs-init)";
    let ours: Vec<String> = known_lines()
        .flat_map(Line::all)
        .map(|r| r.spec())
        .collect();
    let lines: Vec<&str> = content.split_inclusive('\n').collect();
    let Some(start) = lines.iter().position(|l| l.trim_end() == HEADER) else {
        return content.to_string();
    };
    let mut end = start + 1;
    while end < lines.len() && ours.iter().any(|o| o == lines[end].trim_end()) {
        end += 1;
    }
    let mut out: String = lines[..start].concat();
    out.push_str(&lines[end..].concat());
    // The block was appended after moving a missing final newline in front of it.
    if end == lines.len() && !content.ends_with('\n') {
        while out.ends_with('\n') || out.ends_with('\r') {
            out.pop();
        }
    }
    out
}

/// The dependency files obs-init edits, in the order it looks for them in a folder.
pub const MANIFESTS: [&str; 2] = ["requirements.txt", "pyproject.toml"];

/// The first dependency file in the first of `dirs` that has one. A pyproject.toml that
/// declares no dependencies (a uv workspace's root, a tool-settings file) gives way to a
/// later one that does (a workspace member's); alone, it is still the one found, for the
/// error that says what it lacks.
pub fn first_manifest<'a>(
    dirs: impl IntoIterator<Item = &'a std::path::Path>,
) -> Option<std::path::PathBuf> {
    let found: Vec<std::path::PathBuf> = dirs
        .into_iter()
        .flat_map(|d| MANIFESTS.map(|n| d.join(n)))
        .filter(|p| p.is_file())
        .collect();
    let declares = |p: &std::path::Path| {
        p.extension().is_none_or(|e| e != "toml")
            || std::fs::read_to_string(p)
                .is_ok_and(|t| t.contains("[project]") || t.contains("[tool.poetry"))
    };
    found
        .iter()
        .find(|p| declares(p))
        .or(found.first())
        .cloned()
}

/// Whether `name` is one of the packages obs-init adds (on any line).
pub fn is_ours(name: &str) -> bool {
    let name = normalize(name);
    known_lines()
        .flat_map(Line::all)
        .any(|r| normalize(r.name) == name)
}

/// The package names a manifest asks for: a requirements file's lines, or a
/// `pyproject.toml`'s `[project].dependencies` and Poetry's dependency table.
pub fn manifest_names(path: &std::path::Path, content: &str) -> Vec<String> {
    if path.extension().is_none_or(|e| e != "toml") {
        return requirements_names(content);
    }
    let Ok(doc) = content.parse::<DocumentMut>() else {
        return Vec::new();
    };
    let pep621 = doc
        .get("project")
        .and_then(|p| p.get("dependencies"))
        .and_then(Item::as_array)
        .into_iter()
        .flat_map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().and_then(requirement_name))
        });
    let poetry = doc
        .get("tool")
        .and_then(|t| t.get("poetry"))
        .and_then(|p| p.get("dependencies"))
        .and_then(Item::as_table_like)
        .into_iter()
        .flat_map(|t| t.iter().map(|(k, _)| normalize(k)));
    pep621.chain(poetry).collect()
}

/// The lowest `major.minor` a manifest allows for package `name` (`>=1.45.0`, `==1.45.*`,
/// `~=1.45`, Poetry's `^1.45` or `>=1.45`), with the 1-based line it is on; `None` when it
/// does not list the package or sets no lower bound.
pub fn lowest_version(
    path: &std::path::Path,
    content: &str,
    name: &str,
) -> Option<(Version, usize)> {
    let (spec, line) = spec_of(path, content, name)?;
    lower_bound(&spec).map(|v| (v, line))
}

/// The specifier a manifest gives package `name` (a requirements line, a PEP 621 entry or a
/// Poetry key's value), with its 1-based line; the first that names it.
fn spec_of(path: &std::path::Path, content: &str, name: &str) -> Option<(String, usize)> {
    let wanted = normalize(name);
    let toml = path.extension().is_some_and(|e| e == "toml");
    content.lines().enumerate().find_map(|(i, line)| {
        let line = line.split('#').next().unwrap_or("").trim();
        let spec = if toml {
            // `"opentelemetry-sdk>=1.45.0",` in an array, or `opentelemetry-sdk = ">=1.45"`.
            let unquoted = line.trim_matches(|c| matches!(c, '"' | '\'' | ',' | ' '));
            match unquoted.split_once('=') {
                Some((key, value))
                    if normalize(key.trim().trim_matches('"')) == wanted
                        && !key.contains(['<', '>', '~', '!']) =>
                {
                    value
                        .trim()
                        .trim_matches(|c| matches!(c, '"' | '\'' | ' '))
                        .to_string()
                }
                _ if requirement_name(unquoted).is_some_and(|n| n == wanted) => {
                    unquoted.to_string()
                }
                _ => return None,
            }
        } else if requirement_name(line).is_some_and(|n| n == wanted) {
            line.to_string()
        } else {
            return None;
        };
        Some((spec, i + 1))
    })
}

/// The `major.minor` after the first `>=`, `==`, `~=` or `^` in a specifier.
fn lower_bound(spec: &str) -> Option<Version> {
    lowest(spec).map(|v| Version {
        major: v[0],
        minor: v[1],
    })
}

/// The release (`major.minor.patch`) after the first `>=`, `==`, `~=` or `^` in a specifier.
fn lowest(spec: &str) -> Option<[u32; 3]> {
    let at = ["~=", ">=", "==", "^"]
        .iter()
        .filter_map(|op| spec.find(op).map(|i| i + op.len()))
        .min()?;
    release(&spec[at..]).map(|(v, _)| v)
}

/// The release a version text starts with (`4.25.3`, `4.25`, `4.25.*`, `2.0.26,<3`), missing
/// parts 0, with how many parts were written.
fn release(text: &str) -> Option<([u32; 3], usize)> {
    let text = text.trim().trim_end_matches(".*");
    let parts: Vec<&str> = text.split('.').collect();
    let number = |i: usize| -> Option<u32> {
        let digits: String = parts
            .get(i)?
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().ok()
    };
    let major = number(0)?;
    Some((
        [major, number(1).unwrap_or(0), number(2).unwrap_or(0)],
        parts.len(),
    ))
}

/// The lowest release (`major.minor.patch`) a manifest allows for package `name`, with the
/// specifier as written and its 1-based line; `None` when it does not list the package or
/// sets no lower bound.
pub fn lowest_release(
    path: &std::path::Path,
    content: &str,
    name: &str,
) -> Option<([u32; 3], String, usize)> {
    let (spec, line) = spec_of(path, content, name)?;
    lowest(&spec).map(|v| (v, spec, line))
}

/// Why a `pyproject.toml` could not be given the dependencies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PyprojectError {
    Invalid(String),
    /// Neither `[project]` nor `[tool.poetry.dependencies]`.
    NoDependencyTable,
}

/// `content` with the missing packages added to `[project].dependencies` (or Poetry's
/// table), or `Ok(None)` when all are there.
pub fn add_to_pyproject(
    content: &str,
    wanted: &[Requirement],
) -> Result<Option<String>, PyprojectError> {
    let mut doc: DocumentMut = content
        .parse()
        .map_err(|e: toml_edit::TomlError| PyprojectError::Invalid(e.to_string()))?;
    let changed = if let Some(project) = doc.get_mut("project").and_then(Item::as_table_like_mut) {
        if project.get("dependencies").is_none() {
            project.insert("dependencies", Item::Value(Value::Array(Array::new())));
        }
        let deps = project
            .get_mut("dependencies")
            .and_then(Item::as_array_mut)
            .ok_or_else(|| {
                PyprojectError::Invalid("[project].dependencies is not an array".into())
            })?;
        add_to_array(deps, wanted)
    } else if let Some(poetry) = doc
        .get_mut("tool")
        .and_then(|t| t.get_mut("poetry"))
        .and_then(|p| p.get_mut("dependencies"))
        .and_then(Item::as_table_like_mut)
    {
        let present: Vec<String> = poetry.iter().map(|(k, _)| normalize(k)).collect();
        let mut changed = false;
        for r in wanted {
            if !present.contains(&normalize(r.name)) {
                poetry.insert(r.name, toml_edit::value(r.range()));
                changed = true;
            }
        }
        changed
    } else {
        return Err(PyprojectError::NoDependencyTable);
    };
    if !changed {
        return Ok(None);
    }
    let out = doc.to_string();
    // toml_edit writes new lines with `\n`; a CRLF file stays CRLF.
    Ok(Some(if Text::new(content).eol() == "\r\n" {
        out.replace("\r\n", "\n").replace('\n', "\r\n")
    } else {
        out
    }))
}

fn add_to_array(deps: &mut Array, wanted: &[Requirement]) -> bool {
    let present: Vec<String> = deps
        .iter()
        .filter_map(|v| v.as_str().and_then(requirement_name))
        .collect();
    let missing: Vec<&Requirement> = wanted
        .iter()
        .filter(|r| !present.contains(&normalize(r.name)))
        .collect();
    if missing.is_empty() {
        return false;
    }
    // A multi-line array gets one entry per line, indented like its last entry. What trails
    // the last entry up to its line break (a comment, say) stays on that entry's line.
    let last_prefix = deps
        .iter()
        .last()
        .and_then(|v| v.decor().prefix())
        .and_then(|p| p.as_str())
        .filter(|p| p.contains('\n'))
        .map(str::to_string);
    let Some(last_prefix) = last_prefix else {
        for r in missing {
            deps.push(r.spec());
        }
        return true;
    };
    let indent = last_prefix.rsplit('\n').next().unwrap_or("").to_string();
    let trailing = deps.trailing().as_str().unwrap_or("").to_string();
    let (head, tail) = match trailing.rsplit_once('\n') {
        Some((head, tail)) => (head.to_string(), tail.to_string()),
        None => (String::new(), trailing.clone()),
    };
    for (i, r) in missing.iter().enumerate() {
        let prefix = if i == 0 {
            format!("{head}\n{indent}")
        } else {
            format!("\n{indent}")
        };
        deps.push_formatted(Value::from(r.spec()).decorated(prefix, ""));
    }
    deps.set_trailing(format!("\n{tail}"));
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pinned_opentelemetry_release_is_read_from_sdk_and_contrib_pins() {
        let text = "requests==2.32.5\nopentelemetry-distro==0.60b1\n\
                    opentelemetry-exporter-otlp-proto-grpc==1.39.1\nopentelemetry-api>=1.20\n";
        let (pin, sdk) = pinned_release(text).expect("a pin");
        assert_eq!(pin, "opentelemetry-distro==0.60b1");
        assert_eq!(
            sdk,
            Version {
                major: 1,
                minor: 39
            }
        );
        assert_eq!(line_for_pin(sdk).expect("a line").sdk.min, "1.33.0");
        assert_eq!(
            line_for_pin(Version {
                major: 1,
                minor: 45
            })
            .expect("a line")
            .sdk
            .min,
            "1.45.0"
        );
        assert!(
            line_for_pin(Version {
                major: 1,
                minor: 20
            })
            .is_none()
        );
        assert!(pinned_release("opentelemetry-sdk>=1.30\n").is_none());
    }

    #[test]
    fn what_mlflow_does_with_the_otlp_variables_follows_the_newest_release_a_spec_allows() {
        let req = std::path::Path::new("requirements.txt");
        let otlp = |text: &str| mlflow_otlp(req, text).map(|(o, _, _, known)| (o, known));
        use MlflowOtlp::*;
        // Before 2.16.1 no OTLP exporter (read in the wheels: 2.16.0 has none, 2.16.1 has).
        assert_eq!(otlp("mlflow==2.16.0\n"), Some((Ignores, true)));
        assert_eq!(otlp("mlflow~=2.9.0\n"), Some((Ignores, true)));
        assert_eq!(otlp("mlflow==2.16.1\n"), Some((Replaces, true)));
        assert_eq!(otlp("mlflow~=2.16.0\n"), Some((Replaces, true)));
        assert_eq!(otlp("mlflow-skinny<3.4\n"), Some((Replaces, true)));
        assert_eq!(otlp("mlflow-tracing==3.3.2\n"), Some((Replaces, true)));
        assert_eq!(otlp("mlflow[extras]==3.4.0\n"), Some((Dual, true)));
        // Nothing caps it: pip takes the newest, which has dual export, assumed.
        assert_eq!(otlp("mlflow-skinny>=3.0\n"), Some((Dual, false)));
        assert_eq!(otlp("mlflow\n"), Some((Dual, false)));
        assert_eq!(otlp("flask\n"), None);
    }

    #[test]
    fn the_lowest_sdk_version_is_read_from_every_manifest_form() {
        let v = |major, minor| Some(Version { major, minor });
        let req = std::path::Path::new("requirements.txt");
        let text = "fastapi\nopentelemetry-sdk>=1.45.0  # pinned\n";
        assert_eq!(
            lowest_version(req, text, "opentelemetry-sdk"),
            v(1, 45).map(|x| (x, 2))
        );
        assert_eq!(
            lowest_version(req, "opentelemetry-sdk\n", "opentelemetry-sdk"),
            None
        );
        let toml = std::path::Path::new("pyproject.toml");
        let pep621 = "[project]\ndependencies = [\n  \"OpenTelemetry_SDK~=1.41\",\n]\n";
        assert_eq!(
            lowest_version(toml, pep621, "opentelemetry-sdk").map(|(v, _)| v),
            v(1, 41)
        );
        let poetry = "[tool.poetry.dependencies]\nopentelemetry-sdk = \"^1.33\"\n";
        assert_eq!(
            lowest_version(toml, poetry, "opentelemetry-sdk").map(|(v, _)| v),
            v(1, 33)
        );
    }

    #[test]
    fn protobuf_kept_below_5_is_read_from_its_own_pin_and_from_old_mlflow() {
        let req = std::path::Path::new("requirements.txt");
        let found = |text: &str| protobuf_below_5(req, text).map(|(spec, _)| spec);
        for capped in [
            "protobuf<5",
            "protobuf<5.0",
            "protobuf <=4.25.3",
            "protobuf==4.25.3",
            "protobuf==3.*",
            "protobuf~=4.21",
            "protobuf>=3.20,<5",
            "mlflow==2.14.3",
            "mlflow-skinny<2.15",
            "MLflow~=2.9.0",
            "protobuf~=4.21.0,!=4.21.3",
        ] {
            assert_eq!(
                found(&format!("flask\n{capped}\n")),
                Some(capped.to_string())
            );
        }
        for open in [
            "protobuf",
            "protobuf>=4",
            "protobuf<6",
            "protobuf!=4.21.3",
            "mlflow==2.15.0",
            "mlflow~=2.9",
            "mlflow>=2.0",
        ] {
            assert_eq!(found(&format!("{open}\n")), None, "{open}");
        }
        let poetry = "[tool.poetry.dependencies]\nprotobuf = \"^4.25\"\n";
        assert_eq!(
            protobuf_below_5(std::path::Path::new("pyproject.toml"), poetry),
            Some(("^4.25".to_string(), 2))
        );
        assert_eq!(
            PROTOBUF_4.exporter.spec(),
            "opentelemetry-exporter-otlp-proto-grpc>=1.27.0,<1.28"
        );
    }

    #[test]
    fn names_are_compared_after_pep_503_normalisation() {
        assert_eq!(normalize("OpenTelemetry_SDK"), "opentelemetry-sdk");
        assert_eq!(normalize("a.-_b"), "a-b");
        assert_eq!(
            requirement_name("opentelemetry.sdk[extra] >= 1.0 ; python_version>'3'"),
            Some("opentelemetry-sdk".into())
        );
    }

    #[test]
    fn requirements_keep_comments_pins_and_order() {
        let before = "# web\nfastapi==0.115.0  # pinned\n-r base.txt\nOpenTelemetry_SDK==1.40.0\n";
        let after = add_to_requirements(before, &BASE).expect("changes");
        assert!(after.starts_with(before));
        assert!(
            !after.contains("opentelemetry-sdk>="),
            "duplicated a listed package"
        );
        assert!(after.contains("opentelemetry-exporter-otlp-proto-grpc>=1.45.0\n"));
        assert_eq!(add_to_requirements(&after, &BASE), None);
    }

    #[test]
    fn requirements_without_final_newline_or_with_crlf_keep_their_form() {
        let after = add_to_requirements("fastapi", &BASE).expect("changes");
        assert!(after.starts_with("fastapi\n# Observability"));
        assert!(!after.ends_with('\n'), "gained a final newline");
        let crlf = add_to_requirements("a\r\nb\r\n", &BASE).expect("changes");
        assert_eq!(crlf.matches('\n').count(), crlf.matches("\r\n").count());
    }

    #[test]
    fn removing_the_block_restores_the_requirements() {
        for before in ["fastapi\n", "fastapi", "a\r\nb\r\n", ""] {
            for line in known_lines() {
                let wanted = [
                    line.base().as_slice(),
                    &[line.instrumentation("opentelemetry-instrumentation-fastapi")],
                ]
                .concat();
                let after = add_to_requirements(before, &wanted).expect("changes");
                assert_eq!(remove_from_requirements(&after), before, "{before:?}");
            }
        }
    }

    #[test]
    fn each_python_gets_the_newest_line_that_installs_there() {
        let v = |minor| Some(Version { major: 3, minor });
        assert_eq!(line_for(None).map(|l| l.newest_sdk), Some("1.45"));
        assert_eq!(line_for(v(13)).map(|l| l.newest_sdk), Some("1.45"));
        assert_eq!(line_for(v(10)).map(|l| l.newest_sdk), Some("1.45"));
        assert_eq!(line_for(v(9)).map(|l| l.newest_sdk), Some("1.41"));
        assert_eq!(line_for(v(8)).map(|l| l.logging), Some(None));
        assert_eq!(line_for(v(7)), None);
    }

    #[test]
    fn multiline_project_dependencies_stay_one_per_line() {
        let before = "[project]\nname = \"x\"\ndependencies = [\n    \"fastapi>=0.1\",  # web\n]\n";
        let after = add_to_pyproject(before, &BASE)
            .expect("valid")
            .expect("changes");
        assert!(
            after.contains("    \"fastapi>=0.1\",  # web\n    \"opentelemetry-sdk>=1.45.0\","),
            "{after}"
        );
        assert_eq!(add_to_pyproject(&after, &BASE), Ok(None));
    }

    #[test]
    fn poetry_dependencies_get_keys() {
        let before = "[tool.poetry.dependencies]\npython = \"^3.11\"\n";
        let after = add_to_pyproject(before, &BASE)
            .expect("valid")
            .expect("changes");
        assert!(
            after.contains("opentelemetry-sdk = \">=1.45.0\""),
            "{after}"
        );
    }

    #[test]
    fn a_pyproject_without_dependency_table_is_reported() {
        assert_eq!(
            add_to_pyproject("[tool.ruff]\nline-length = 100\n", &BASE),
            Err(PyprojectError::NoDependencyTable)
        );
    }
}
