//! uWSGI as the container runs it: its options from the command line and the ini file
//! `--ini` (or a bare `FILE.ini`) names, each with where it was read.

use std::path::{Path, PathBuf};

use super::target::Target;

/// One option uWSGI is given: `module = app:app` in an ini file, `--enable-threads` on the
/// command line (a flag's value is empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opt {
    pub key: String,
    pub value: String,
    /// The ini file and its 1-based line, when the option comes from one.
    pub at: Option<(PathBuf, usize)>,
}

/// What the container's uWSGI is told: the command that runs it and its options, the
/// command line's first, then its ini file's.
#[derive(Debug, Clone)]
pub struct Uwsgi {
    pub command: String,
    pub options: Vec<Opt>,
    /// The ini file read, on the host, when one is named and found.
    pub ini: Option<PathBuf>,
}

impl Uwsgi {
    /// The value of the first option named one of `keys`.
    pub fn get(&self, keys: &[&str]) -> Option<&Opt> {
        self.options.iter().find(|o| keys.contains(&o.key.as_str()))
    }

    /// The files (relative to an import root) the app may be in: `module`/`wsgi`/`-w`
    /// `a.b[:callable]`, else `wsgi-file`/`file`; with the folders `chdir` adds.
    pub fn app_paths(&self) -> Option<(Vec<String>, Vec<String>)> {
        let roots: Vec<String> = self
            .get(&["chdir"])
            .map(|o| vec![o.value.clone()])
            .unwrap_or_default();
        if let Some(o) = self.get(&["module", "wsgi", "w"]) {
            let module = o.value.split(':').next().unwrap_or(&o.value);
            let path = module.replace('.', "/");
            return Some((
                vec![format!("{path}.py"), format!("{path}/__init__.py")],
                roots,
            ));
        }
        let file = self.get(&["wsgi-file", "file"])?;
        Some((vec![file.value.trim_start_matches("./").to_string()], roots))
    }
}

/// The uWSGI the target runs, if one of its commands (compose's, the image's, a start
/// script's line) runs `uwsgi`: its options, with the ini file's read through the image's
/// WORKDIR and COPY lines (or found in the build context).
pub fn read(target: &Target, ctx: &Path) -> Option<Uwsgi> {
    let workdir = target
        .image_stage()
        .map_or("/".to_string(), |(_, s)| s.workdir.clone());
    target.run_commands().into_iter().find_map(|command| {
        let words: Vec<&str> = command
            .split_whitespace()
            .map(|w| w.trim_matches(|c| matches!(c, '"' | '\'' | ';' | '&' | '|')))
            .filter(|w| !w.is_empty())
            .collect();
        let at = words
            .iter()
            .position(|w| w.rsplit('/').next() == Some("uwsgi"))?;
        let mut options = command_options(&words[at + 1..]);
        let ini_name = options
            .iter()
            .find(|o| o.key == "ini")
            .map(|o| o.value.clone());
        let ini = ini_name.and_then(|name| {
            let inside = crate::dockerfile::join(&workdir, &name);
            let from_image = target.image_stage().and_then(|(context, stage)| {
                stage
                    .host_file(&inside, |p| context.join(p).is_dir())
                    .map(|rel| ctx.join(rel))
            });
            from_image
                .into_iter()
                .chain(std::iter::once(ctx.join(name.trim_start_matches("./"))))
                .find(|p| p.is_file())
        });
        if let Some(file) = &ini
            && let Ok(text) = std::fs::read_to_string(file)
        {
            options.extend(ini_options(file, &text));
        }
        Some(Uwsgi {
            command: command.clone(),
            options,
            ini,
        })
    })
}

/// The first uWSGI release whose Python plugin runs the threads an app starts without being
/// told to (its `enable-threads` became a stub, true by default).
const THREADS_BY_DEFAULT: [u32; 3] = [2, 0, 27];

/// The action for a uWSGI that may not run the SDK's export threads: before 2.0.27, unless
/// `enable-threads` (or `threads` above 1) is given, the Python plugin runs no thread the app
/// starts while a worker waits for requests, so spans and logs leave only when it stops
/// (tried for real: 2.0.26 exported nothing in 8 s idle after 4 requests, all 4 at SIGINT;
/// 2.0.31 exported them within the 5 s batch delay). `None` when threads run: told so, or
/// the requirements ask for 2.0.27 or later.
pub fn threads_action(target: &Target, uwsgi: &Uwsgi, ctx: &Path, dir: &Path) -> Option<String> {
    let on = |o: &Opt| !matches!(o.value.as_str(), "false" | "0" | "no" | "off");
    if uwsgi
        .options
        .iter()
        .any(|o| o.key == "enable-threads" && on(o))
        || uwsgi
            .get(&["threads"])
            .and_then(|o| o.value.parse::<u32>().ok())
            .is_some_and(|n| n > 1)
    {
        return None;
    }
    let pin = required_version(ctx);
    if pin.as_ref().is_some_and(|(_, v)| *v >= THREADS_BY_DEFAULT) {
        return None;
    }
    let release = match &pin {
        Some((text, _)) => format!("the requirements ask for `{text}`"),
        None => "no requirement pins its release, and the image may bring an older one".into(),
    };
    let fix = match (
        &uwsgi.ini,
        uwsgi.options.iter().rev().find_map(|o| o.at.clone()),
    ) {
        (Some(ini), Some((_, line))) => format!(
            "add `enable-threads = true` to the [uwsgi] section of {}:{line} (after that line)",
            crate::paths::display(dir, ini)
        ),
        _ => format!(
            "add --enable-threads to {}",
            command_place(target, uwsgi, ctx, dir)
        ),
    };
    Some(format!(
        "the container runs `{}`: uWSGI before 2.0.27 runs no thread the app starts unless \
         told to, so the SDK's batch export waits until the worker stops and no span or log \
         arrives while it serves ({release}); {fix}, or require uwsgi>=2.0.27",
        uwsgi.command
    ))
}

/// Where the command running uWSGI is written: the service's compose command, the
/// Dockerfile's `CMD`/`ENTRYPOINT` line (`Dockerfile:5`), else the start script's line.
fn command_place(target: &Target, uwsgi: &Uwsgi, ctx: &Path, dir: &Path) -> String {
    if target.commands.contains(&uwsgi.command) {
        return "the service's command".into();
    }
    let image = target
        .image_stage()
        .is_some_and(|(_, s)| s.commands.contains(&uwsgi.command));
    let dockerfile = ctx.join(target.dockerfile.as_deref().unwrap_or("Dockerfile"));
    if image && let Ok(text) = std::fs::read_to_string(&dockerfile) {
        let line = text.lines().position(|l| {
            let l = l.trim_start().to_ascii_uppercase();
            (l.starts_with("CMD") || l.starts_with("ENTRYPOINT")) && l.contains("UWSGI")
        });
        if let Some(n) = line {
            return format!(
                "the image's command ({}:{})",
                crate::paths::display(dir, &dockerfile),
                n + 1
            );
        }
    }
    "the start script's uwsgi line".into()
}

/// The uWSGI release the build context's requirements ask for at least (`uwsgi==2.0.26`,
/// `uWSGI>=2.0.28`, `~=`), with the requirement's text.
fn required_version(ctx: &Path) -> Option<(String, [u32; 3])> {
    let files = std::fs::read_dir(ctx).ok()?.filter_map(|e| {
        let path = e.ok()?.path();
        let name = path.file_name()?.to_str()?.to_string();
        ((name.starts_with("requirements") && name.ends_with(".txt")) || name == "pyproject.toml")
            .then_some(path)
    });
    files.into_iter().find_map(|file| {
        let text = std::fs::read_to_string(&file).ok()?;
        crate::deps::lowest_release(&file, &text, "uwsgi").map(|(v, spec, _)| (spec, v))
    })
}

/// uWSGI options that take no value, as WSGI apps' commands give them: the word after one is
/// not its value (`--enable-threads uwsgi.ini`).
const FLAGS: [&str; 14] = [
    "master",
    "enable-threads",
    "lazy-apps",
    "lazy",
    "die-on-term",
    "vacuum",
    "single-interpreter",
    "need-app",
    "strict",
    "thunder-lock",
    "no-orphans",
    "disable-logging",
    "py-call-osafterfork",
    "py-call-uwsgi-fork-hooks",
];

/// `--key value`, `--key=value`, `-w value`, a flag (`--master`: no value follows), and a
/// bare `FILE.ini` (uWSGI loads a lone config file as `--ini`).
fn command_options(words: &[&str]) -> Vec<Opt> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let w = words[i];
        let opt = |key: &str, value: &str| Opt {
            key: key.to_string(),
            value: value.to_string(),
            at: None,
        };
        if let Some(long) = w.strip_prefix("--") {
            if let Some((key, value)) = long.split_once('=') {
                out.push(opt(key, value));
            } else if let Some(next) = words
                .get(i + 1)
                .filter(|n| !n.starts_with('-') && !FLAGS.contains(&long))
            {
                out.push(opt(long, next));
                i += 1;
            } else {
                out.push(opt(long, ""));
            }
        } else if let Some(short) = w.strip_prefix('-') {
            // The short options a WSGI app's command uses: -w module, -p processes, ...
            let key = match short {
                "w" => "module",
                "p" => "processes",
                "T" => "enable-threads",
                "M" => "master",
                _ => short,
            };
            if key == "enable-threads" || key == "master" {
                out.push(opt(key, ""));
            } else if let Some(next) = words.get(i + 1) {
                out.push(opt(key, next));
                i += 1;
            }
        } else if w.ends_with(".ini") {
            out.push(opt("ini", w));
        }
        i += 1;
    }
    out
}

/// The `[uwsgi]` section's `key = value` lines of an ini file, with their line numbers.
fn ini_options(file: &Path, text: &str) -> Vec<Opt> {
    let mut out = Vec::new();
    let mut in_section = false;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.starts_with('[') {
            in_section = line == "[uwsgi]";
            continue;
        }
        if !in_section || line.is_empty() || line.starts_with(['#', ';']) {
            continue;
        }
        let (key, value) = line.split_once('=').unwrap_or((line, ""));
        out.push(Opt {
            key: key.trim().to_string(),
            value: value.trim().to_string(),
            at: Some((file.to_path_buf(), n + 1)),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_lines_flags_values_and_ini_file_are_read_as_uwsgi_reads_them() {
        let o = command_options(&[
            "--http",
            ":8000",
            "--master",
            "--processes=2",
            "-w",
            "mysite.wsgi:application",
            "--enable-threads",
            "uwsgi.ini",
        ]);
        let pairs: Vec<(&str, &str)> = o
            .iter()
            .map(|o| (o.key.as_str(), o.value.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("http", ":8000"),
                ("master", ""),
                ("processes", "2"),
                ("module", "mysite.wsgi:application"),
                ("enable-threads", ""),
                ("ini", "uwsgi.ini"),
            ]
        );
    }

    #[test]
    fn an_ini_files_uwsgi_section_is_read_with_its_lines() {
        let o = ini_options(
            Path::new("uwsgi.ini"),
            "[other]\nmodule = no\n\n[uwsgi]\n# comment\nmodule = app:app\nmaster = true\n",
        );
        assert_eq!(o.len(), 2);
        assert_eq!(
            (o[0].key.as_str(), o[0].value.as_str(), o[0].at.clone()),
            ("module", "app:app", Some((PathBuf::from("uwsgi.ini"), 6)))
        );
        assert_eq!(o[1].key, "master");
    }
}
