//! What an image's final stage holds, as far as its Dockerfile says: where the build
//! context's folders land, the working directory, and the variables it sets. Read to know
//! where the generated module is inside the container, so the import that names it resolves
//! there.

use std::path::{Component, Path};

/// The final stage (with the stages it is built on, in order), reduced to what matters here.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Stage {
    /// `COPY`/`ADD` from the build context: the sources as written and the absolute
    /// destination.
    pub copies: Vec<(Vec<String>, String)>,
    /// `ENV` settings, in order.
    pub env: Vec<(String, String)>,
    /// The last `ENTRYPOINT` and `CMD`, each on one line: what the container runs when
    /// compose does not say.
    pub commands: Vec<String>,
    /// The final `WORKDIR` (absolute; `/` when none), where relative paths in the commands
    /// start.
    pub workdir: String,
    /// The image the chain of stages starts from (`python:3.12-slim`, `node:20`), with the
    /// global `ARG` defaults put in.
    pub base: String,
    /// The `RUN` lines of the chain, in order, each on one line: what the image installs.
    pub runs: Vec<String>,
    /// The `WORKDIR` each of [`Stage::runs`] ran in.
    pub run_dirs: Vec<String>,
}

/// Packages that install others, which a `pip install` line may upgrade first.
const INSTALLERS: [&str; 9] = [
    "pip",
    "setuptools",
    "wheel",
    "poetry",
    "uv",
    "pdm",
    "pipenv",
    "pip-tools",
    "virtualenv",
];

/// What a `RUN` line installs with pip (or `uv pip`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Installs {
    /// The requirements files it installs (`-r F`, `--requirement F`), as absolute container
    /// paths, in order.
    pub requirements: Vec<String>,
    /// The packages it names itself (`pip install fastapi uvicorn[standard]`).
    pub packages: Vec<String>,
    /// Whether it installs a project folder (`pip install .`, `-e /app`): its own
    /// pyproject.toml or setup.py says what.
    pub project: bool,
}

impl Stage {
    /// The last value the stage gives `name`.
    pub fn env(&self, name: &str) -> Option<&str> {
        self.env
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether the image runs Python, as far as its Dockerfile says: `Some(true)` when its
    /// chain starts from a Python image or a `RUN` line brings Python or its installers in,
    /// `Some(false)` when it starts from another language's runtime or a server's image
    /// (`node`, `nginx`, `golang`, ...) and nothing brings Python in, `None` otherwise (a
    /// bare distribution, an image of the project's own).
    pub fn runs_python(&self) -> Option<bool> {
        const OTHERS: [&str; 17] = [
            "node",
            "nginx",
            "httpd",
            "caddy",
            "golang",
            "rust",
            "openjdk",
            "eclipse-temurin",
            "amazoncorretto",
            "maven",
            "gradle",
            "ruby",
            "php",
            "deno",
            "bun",
            "traefik",
            "haproxy",
        ];
        let base = self.base.to_ascii_lowercase();
        let name = base.split(['@']).next().unwrap_or(&base);
        let (repo, tag) = match name.rsplit_once(':') {
            Some((r, t)) if !t.contains('/') => (r, t),
            _ => (name, ""),
        };
        let last = repo.rsplit('/').next().unwrap_or(repo);
        if last.contains("python")
            || last.contains("pypy")
            || last.contains("conda")
            || tag.contains("python")
        {
            return Some(true);
        }
        let brings_python = self.runs.iter().any(|r| {
            let r = r.to_ascii_lowercase();
            r.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '.'))
                .any(|w| {
                    w.starts_with("python")
                        || ["pip", "pip3", "poetry", "uv", "pipenv", "pdm"].contains(&w)
                })
        });
        if brings_python {
            return Some(true);
        }
        OTHERS
            .iter()
            .any(|o| last == *o || last.starts_with(&format!("{o}-")))
            .then_some(false)
    }

    /// What the image's `RUN` lines install with pip: the requirements files, the packages
    /// they name, whether a project folder.
    pub fn installs(&self) -> Installs {
        let mut out = Installs::default();
        for (line, workdir) in self.runs.iter().zip(&self.run_dirs) {
            for command in line.split(['&', ';', '|']) {
                let words: Vec<&str> = command.split_whitespace().collect();
                // A project's own installer reads its pyproject.toml (or Pipfile).
                let project_tool = words.windows(2).any(|w| {
                    matches!(
                        (w[0], w[1]),
                        ("poetry", "install")
                            | ("uv", "sync")
                            | ("pdm", "install" | "sync")
                            | ("pipenv", "install" | "sync")
                    )
                });
                if project_tool {
                    out.project = true;
                }
                let Some(at) = words.windows(2).position(|w| {
                    (w[0] == "pip" || w[0] == "pip3" || w[0].ends_with("/pip")) && w[1] == "install"
                }) else {
                    continue;
                };
                let mut rest = words[at + 2..].iter();
                while let Some(w) = rest.next() {
                    let file = match *w {
                        "-r" | "--requirement" => rest.next().copied(),
                        w if w.starts_with("--requirement=") => w.strip_prefix("--requirement="),
                        w if w.starts_with("-r") && w.len() > 2 => Some(&w[2..]),
                        // Options that take a value: the value is not a package.
                        "-c" | "--constraint" | "-i" | "--index-url" | "--extra-index-url"
                        | "-f" | "--find-links" | "--target" | "-t" | "--prefix" | "--root"
                        | "--timeout" | "--retries" | "--cache-dir" | "--src" | "--platform"
                        | "--python-version" | "--only-binary" | "--no-binary"
                        | "--progress-bar" | "--trusted-host" | "--upgrade-strategy" => {
                            rest.next();
                            None
                        }
                        "-e" | "--editable" => {
                            rest.next();
                            out.project = true;
                            None
                        }
                        w if w.starts_with('-') => None,
                        w if w.starts_with('.') || w.starts_with('/') => {
                            out.project = true;
                            None
                        }
                        // The installers themselves are not what the app needs.
                        w if INSTALLERS.contains(&unquote(w).to_ascii_lowercase().as_str()) => None,
                        w => {
                            out.packages.push(unquote(w));
                            None
                        }
                    };
                    if let Some(file) = file {
                        out.requirements.push(join(workdir, &unquote(file)));
                    }
                }
            }
        }
        out
    }

    /// The container path of the context folder `rel` (relative to the build context),
    /// through the last `COPY` of it or of a folder holding it. `is_dir` says whether a
    /// source names a folder: `COPY file .` brings no folder.
    pub fn container_dir(&self, rel: &Path, is_dir: impl Fn(&Path) -> bool) -> Option<String> {
        let rel = normal(rel)?;
        for (sources, dest) in self.copies.iter().rev() {
            for source in sources {
                if source.contains(['*', '?', '[']) {
                    continue;
                }
                let Some(src) = normal(Path::new(source)) else {
                    continue;
                };
                let Some(rest) = below(&rel, &src) else {
                    continue;
                };
                if !is_dir(Path::new(&src)) {
                    continue;
                }
                // A folder's contents are copied into the destination, not the folder.
                let mut out = dest.trim_end_matches('/').to_string();
                for part in rest.split('/').filter(|p| !p.is_empty()) {
                    out.push('/');
                    out.push_str(part);
                }
                return Some(if out.is_empty() { "/".into() } else { out });
            }
        }
        None
    }

    /// The folder the last `COPY` of a single file from the context folder `rel` puts it
    /// in, with that file: where a file beside it would go too.
    pub fn file_copied_from(
        &self,
        rel: &Path,
        is_dir: impl Fn(&Path) -> bool,
    ) -> Option<(String, String)> {
        let rel = normal(rel)?;
        for (sources, dest) in self.copies.iter().rev() {
            for source in sources {
                let Some(src) = normal(Path::new(source)) else {
                    continue;
                };
                let (parent, name) = src.rsplit_once('/').unwrap_or(("", &src));
                if parent != rel || is_dir(Path::new(&src)) || source.contains(['*', '?', '[']) {
                    continue;
                }
                let dest = dest.trim_end_matches('/');
                let folder = match dest.rsplit_once('/') {
                    Some((folder, last)) if sources.len() == 1 && last == name => folder,
                    _ => dest,
                };
                return Some((
                    if folder.is_empty() { "/" } else { folder }.to_string(),
                    src,
                ));
            }
        }
        None
    }

    /// The context file the image has at the absolute `path`, through the last `COPY`
    /// that puts it there: a file copied to it or into its folder, or a folder copied to
    /// its folder.
    pub fn host_file(&self, path: &str, is_dir: impl Fn(&Path) -> bool) -> Option<String> {
        let (folder, name) = path.trim_end_matches('/').rsplit_once('/')?;
        let folder = if folder.is_empty() { "/" } else { folder };
        for (sources, dest) in self.copies.iter().rev() {
            let into_folder = dest.trim_end_matches('/') == folder.trim_end_matches('/');
            for source in sources.iter().rev() {
                let Some(src) = normal(Path::new(source)) else {
                    continue;
                };
                let src_name = src.rsplit('/').next().unwrap_or("");
                if is_dir(Path::new(&src)) {
                    if into_folder {
                        return Some(if src.is_empty() {
                            name.to_string()
                        } else {
                            format!("{src}/{name}")
                        });
                    }
                } else if (into_folder && src_name == name) || dest == path {
                    return Some(src);
                }
            }
        }
        None
    }
}

/// A path inside the build context, without `.` parts, `/`-separated. BuildKit resolves a
/// source inside the context: `..` never climbs out of it (`COPY ../dir /app` copies the
/// context's `dir`, moby/buildkit#2131), and a leading `/` is the context's root.
fn normal(path: &Path) -> Option<String> {
    let mut parts: Vec<String> = Vec::new();
    for c in path.components() {
        match c {
            Component::CurDir | Component::RootDir => {}
            Component::ParentDir => {
                parts.pop();
            }
            Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
            Component::Prefix(_) => return None,
        }
    }
    Some(parts.join("/"))
}

/// What is left of the `/`-joined relative path `rel` below `prefix` (`""`: the context).
fn below<'a>(rel: &'a str, prefix: &str) -> Option<&'a str> {
    if prefix.is_empty() {
        return Some(rel);
    }
    match rel.strip_prefix(prefix)? {
        "" => Some(""),
        rest => rest.strip_prefix('/'),
    }
}

/// The Dockerfile's instructions, continuation lines joined and comments dropped.
fn instructions(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut current = String::new();
    for raw in text.lines() {
        let line = raw.trim_end_matches('\r');
        let trimmed = line.trim_start();
        if trimmed.starts_with('#') {
            continue;
        }
        if let Some(body) = line.trim_end().strip_suffix('\\') {
            current.push_str(body);
            current.push(' ');
            continue;
        }
        current.push_str(line);
        let whole = std::mem::take(&mut current);
        let whole = whole.trim();
        if let Some((keyword, rest)) = whole.split_once(char::is_whitespace) {
            out.push((keyword.to_ascii_uppercase(), rest.trim().to_string()));
        } else if !whole.is_empty() {
            out.push((whole.to_ascii_uppercase(), String::new()));
        }
    }
    out
}

/// An instruction's arguments: the JSON form's strings, else the words, without `--flags`.
fn arguments(rest: &str) -> (Vec<String>, Vec<String>) {
    let mut words: Vec<String> = rest.split_whitespace().map(String::from).collect();
    let flags: Vec<String> = words
        .iter()
        .take_while(|w| w.starts_with("--"))
        .cloned()
        .collect();
    words.drain(..flags.len());
    let joined = words.join(" ");
    if joined.starts_with('[')
        && let Ok(list) = serde_json::from_str::<Vec<String>>(&joined)
    {
        return (flags, list);
    }
    (flags, words)
}

fn unquote(value: &str) -> String {
    let v = value.trim();
    for q in ['"', '\''] {
        if let Some(inner) = v.strip_prefix(q).and_then(|s| s.strip_suffix(q)) {
            return inner.to_string();
        }
    }
    v.to_string()
}

/// `ENV K=V K2="V 2"` and the legacy `ENV K V`.
fn env_settings(rest: &str) -> Vec<(String, String)> {
    let Some(first) = rest.split_whitespace().next() else {
        return Vec::new();
    };
    if !first.contains('=') {
        let value = rest[first.len()..].trim();
        return vec![(first.to_string(), unquote(value))];
    }
    let mut out = Vec::new();
    let mut chars = rest.chars().peekable();
    while chars.peek().is_some() {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if key.is_empty() {
            break;
        }
        let mut value = String::new();
        let mut quote = None;
        while let Some(&c) = chars.peek() {
            match quote {
                Some(q) if c == q => quote = None,
                Some(_) => value.push(c),
                None if c == '"' || c == '\'' => quote = Some(c),
                None if c.is_whitespace() => break,
                None => value.push(c),
            }
            chars.next();
        }
        out.push((key, value));
    }
    out
}

/// The final stage of a Dockerfile, following `FROM <earlier stage>` back so that what the
/// earlier stage set is part of it.
pub fn final_stage(text: &str) -> Stage {
    stage(text, None)
}

/// The stage compose builds: `target` (`build.target`, a stage's name) when given and
/// found, else the last; followed back through `FROM <earlier stage>` as [`final_stage`].
pub fn stage(text: &str, target: Option<&str>) -> Stage {
    // Each stage: its alias, its base image, its instructions.
    type Parsed = (Option<String>, String, Vec<(String, String)>);
    let mut stages: Vec<Parsed> = Vec::new();
    // `ARG`s before the first `FROM` are what `FROM` lines may use.
    let mut global_args: Vec<(String, String)> = Vec::new();
    for (keyword, rest) in instructions(text) {
        if keyword == "ARG" && stages.is_empty() {
            for arg in rest.split_whitespace() {
                let (k, v) = arg.split_once('=').unwrap_or((arg, ""));
                global_args.push((k.to_string(), unquote(v)));
            }
        } else if keyword == "FROM" {
            let (_, words) = arguments(&rest);
            let image = expand(&words.first().cloned().unwrap_or_default(), &global_args);
            let alias = match words.as_slice() {
                [_, kw, name, ..] if kw.eq_ignore_ascii_case("AS") => Some(name.to_lowercase()),
                _ => None,
            };
            stages.push((alias, image.to_lowercase(), Vec::new()));
        } else if let Some(last) = stages.last_mut() {
            last.2.push((keyword, rest));
        }
    }
    let mut chain = Vec::new();
    let wanted = target.map(str::to_lowercase);
    let named = wanted.as_deref().and_then(|t| {
        stages
            .iter()
            .position(|(alias, _, _)| alias.as_deref() == Some(t))
    });
    let mut at = named.or(stages.len().checked_sub(1));
    while let Some(i) = at {
        chain.push(i);
        at = stages[..i]
            .iter()
            .rposition(|(alias, _, _)| alias.as_deref() == Some(stages[i].1.as_str()));
    }
    let mut stage = Stage {
        base: chain
            .last()
            .map(|&root| stages[root].1.clone())
            .unwrap_or_default(),
        ..Stage::default()
    };
    let mut workdir = String::from("/");
    let (mut entrypoint, mut cmd) = (None, None);
    for i in chain.into_iter().rev() {
        for (keyword, rest) in &stages[i].2 {
            match keyword.as_str() {
                "WORKDIR" => workdir = join(&workdir, &expand(&unquote(rest), &stage.env)),
                "ENV" => stage.env.extend(env_settings(rest)),
                "ENTRYPOINT" => entrypoint = Some(arguments(rest).1.join(" ")),
                "CMD" => cmd = Some(arguments(rest).1.join(" ")),
                "RUN" => {
                    stage.runs.push(expand(rest, &stage.env));
                    stage.run_dirs.push(workdir.clone());
                }
                "COPY" | "ADD" => {
                    let (flags, mut words) = arguments(rest);
                    if flags.iter().any(|f| f.starts_with("--from")) || words.len() < 2 {
                        continue;
                    }
                    let dest = expand(&words.pop().unwrap_or_default(), &stage.env);
                    stage.copies.push((words, join(&workdir, &dest)));
                }
                _ => {}
            }
        }
    }
    stage.commands = entrypoint.into_iter().chain(cmd).collect();
    stage.workdir = workdir;
    stage
}

/// `$NAME` and `${NAME}` replaced by the stage's `ENV` values, as Docker does in `COPY`
/// and `WORKDIR`.
fn expand(text: &str, env: &[(String, String)]) -> String {
    let mut out = text.to_string();
    for (name, value) in env.iter().rev() {
        out = out
            .replace(&format!("${{{name}}}"), value)
            .replace(&format!("${name}"), value);
    }
    out
}

/// `path` resolved against the absolute folder `base`, `/`-separated.
pub fn join(base: &str, path: &str) -> String {
    let mut parts: Vec<&str> = if path.starts_with('/') {
        Vec::new()
    } else {
        base.split('/').filter(|p| !p.is_empty()).collect()
    };
    for p in path.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dirs(names: &'static [&'static str]) -> impl Fn(&Path) -> bool {
        move |p: &Path| p.as_os_str().is_empty() || names.iter().any(|n| Path::new(n) == p)
    }

    #[test]
    fn a_copied_folder_lands_at_its_destination_under_the_workdir() {
        let stage = final_stage(
            "FROM python:3.12-slim\nWORKDIR /opt/dagster/app\nCOPY requirements.txt .\n\
             COPY pipelines ./pipelines\n",
        );
        let at = stage.container_dir(Path::new("pipelines"), dirs(&["pipelines"]));
        assert_eq!(at.as_deref(), Some("/opt/dagster/app/pipelines"));
        // The context itself was not copied: only a file and one folder were.
        assert_eq!(
            stage.container_dir(Path::new(""), dirs(&["pipelines"])),
            None
        );
    }

    #[test]
    fn copying_the_context_places_every_folder_below_the_workdir() {
        let stage = final_stage("FROM python:3.12\nWORKDIR /app\nWORKDIR src\nCOPY . .\n");
        let at = stage.container_dir(Path::new("pkg/sub"), dirs(&[]));
        assert_eq!(at.as_deref(), Some("/app/src/pkg/sub"));
        assert_eq!(
            stage.container_dir(Path::new("."), dirs(&[])).as_deref(),
            Some("/app/src")
        );
    }

    #[test]
    fn the_last_copy_wins_and_other_stages_copies_do_not_count() {
        let text = "FROM python:3.12 AS build\nCOPY . /build\n\
                    FROM python:3.12-slim\nCOPY --from=build /build /wheels\n\
                    COPY --chown=app:app [\"src/\", \"/srv/\"]\nCOPY src /code\n";
        let stage = final_stage(text);
        let at = stage.container_dir(Path::new("src"), dirs(&["src"]));
        assert_eq!(at.as_deref(), Some("/code"));
        assert_eq!(stage.container_dir(Path::new(""), dirs(&["src"])), None);
    }

    #[test]
    fn a_stage_built_on_another_keeps_its_workdir_env_and_copies() {
        let text = "FROM python:3.12 AS base\nWORKDIR /app\nENV PYTHONPATH=/app/lib \\\n    \
                    OTHER=\"a b\"\nCOPY . .\n\
                    FROM base\nENV LEGACY some value\n";
        let stage = final_stage(text);
        assert_eq!(stage.env("PYTHONPATH"), Some("/app/lib"));
        assert_eq!(stage.env("OTHER"), Some("a b"));
        assert_eq!(stage.env("LEGACY"), Some("some value"));
        assert!(stage.commands.is_empty());
        let run = final_stage("FROM x\nCMD [\"dagster\", \"code-server\", \"start\"]\n");
        assert_eq!(run.commands, ["dagster code-server start"]);
        assert_eq!(
            stage.container_dir(Path::new("x"), dirs(&[])).as_deref(),
            Some("/app/x")
        );
    }

    #[test]
    fn the_file_an_image_holds_is_traced_back_to_the_context() {
        let text = "FROM python:3.12\nENV DAGSTER_HOME=/opt/dagster/dagster_home/\n\
                    COPY dagster.yaml workspace.yaml $DAGSTER_HOME\n";
        let stage = final_stage(text);
        let home = "/opt/dagster/dagster_home/dagster.yaml";
        assert_eq!(
            stage.host_file(home, dirs(&[])).as_deref(),
            Some("dagster.yaml")
        );
        let text = "FROM python:3.12\nCOPY deploy/instance /opt/home\n";
        let stage = final_stage(text);
        let found = stage.host_file("/opt/home/dagster.yaml", dirs(&["deploy/instance"]));
        assert_eq!(found.as_deref(), Some("deploy/instance/dagster.yaml"));
        let text = "FROM python:3.12\nCOPY conf/prod.yaml /opt/home/dagster.yaml\n";
        let found = final_stage(text).host_file("/opt/home/dagster.yaml", dirs(&[]));
        assert_eq!(found.as_deref(), Some("conf/prod.yaml"));
        assert_eq!(stage.host_file("/elsewhere/dagster.yaml", dirs(&[])), None);
    }

    #[test]
    fn a_copied_file_is_no_folder_and_globs_are_not_followed() {
        let stage = final_stage("FROM python\nWORKDIR /app\nCOPY main.py .\nCOPY *.py /x/\n");
        assert_eq!(stage.container_dir(Path::new(""), dirs(&[])), None);
        let beside = stage.file_copied_from(Path::new(""), dirs(&[]));
        assert_eq!(beside, Some(("/app".into(), "main.py".into())));
        let stage = final_stage("FROM python\nCOPY definitions.py /opt/app/definitions.py\n");
        let beside = stage.file_copied_from(Path::new(""), dirs(&[]));
        assert_eq!(beside, Some(("/opt/app".into(), "definitions.py".into())));
    }

    #[test]
    fn the_stage_compose_builds_is_its_target_with_what_its_bases_set() {
        let text = "ARG PY=3.9\nFROM python:${PY} AS base\nENV HOME_DIR=/opt\nRUN pip install -r r.txt\n\
                    FROM base AS web\nWORKDIR $HOME_DIR\nCMD [\"gunicorn\", \"app:app\"]\n\
                    FROM node:20 AS assets\nRUN npm ci\n";
        let web = stage(text, Some("web"));
        assert_eq!(web.base, "python:3.9");
        assert_eq!(web.workdir, "/opt");
        assert_eq!(web.runs, vec!["pip install -r r.txt"]);
        assert_eq!(web.commands, vec!["gunicorn app:app"]);
        assert_eq!(web.runs_python(), Some(true));
        let last = stage(text, None);
        assert_eq!(last.base, "node:20");
        assert_eq!(last.runs_python(), Some(false));
        // A target no stage has: compose would fail; the last stage is the best guess.
        assert_eq!(stage(text, Some("nope")).base, "node:20");
    }

    #[test]
    fn an_image_runs_python_when_its_base_or_its_installs_say_so() {
        let of = |text: &str| final_stage(text).runs_python();
        assert_eq!(
            of("FROM ghcr.io/astral-sh/uv:python3.12-bookworm\n"),
            Some(true)
        );
        assert_eq!(
            of("FROM node:20-alpine\nRUN apk add python3 py3-pip\n"),
            Some(true)
        );
        assert_eq!(
            of("FROM nginx:1.27\nCOPY site /usr/share/nginx/html\n"),
            Some(false)
        );
        assert_eq!(of("FROM debian:12\nRUN apt-get install -y curl\n"), None);
    }

    #[test]
    fn a_copy_source_above_the_context_is_read_inside_it_as_buildkit_does() {
        let stage = final_stage("FROM python\nCOPY ../src /app/src\n");
        assert_eq!(
            stage.container_dir(Path::new("src/pkg"), dirs(&["src"])),
            Some("/app/src/pkg".into())
        );
    }

    #[test]
    fn pip_install_lines_say_which_requirements_files_and_packages_the_image_gets() {
        let text = "FROM python:3.12\nWORKDIR /srv\n\
                    RUN pip install --upgrade pip && pip install --no-cache-dir -r req/prod.txt \\\n\
                    \x20 --requirement=/tmp/extra.txt -c constraints.txt\n\
                    RUN python -m pip install gunicorn 'uvicorn[standard]' --timeout 60\n";
        let installs = final_stage(text).installs();
        assert_eq!(
            installs.requirements,
            vec!["/srv/req/prod.txt", "/tmp/extra.txt"]
        );
        assert_eq!(installs.packages, vec!["gunicorn", "uvicorn[standard]"]);
        assert!(!installs.project);
        let project = final_stage("FROM python\nWORKDIR /app\nRUN poetry install --no-root\n");
        assert!(project.installs().project);
        assert!(
            final_stage("FROM python\nRUN pip install -e .\n")
                .installs()
                .project
        );
    }
}
