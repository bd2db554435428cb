//! The frameworks obs-init knows, as data: one row each. Detection, `--framework`'s help,
//! the dependency lines, where the module goes and the entry-point edits all read this
//! table, so that adding a framework is one row here, one function in the generated module
//! (the row's [`Hook::instrument`]) and its cases.

use std::fmt;
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Framework {
    FastApi,
    Flask,
    Django,
    Celery,
    Mlflow,
    Dagster,
    /// Plain Python: the module and its dependencies, nothing framework-specific.
    Python,
}

/// What in an image name or a command line says a framework runs there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Launcher {
    /// A whole word (`celery -A app worker`).
    Word(&'static str),
    /// Anywhere in the text (`dagster-webserver`, `uvicorn main:app`).
    Within(&'static str),
    /// A script of the project named anywhere in the text, when the script in the build
    /// context mentions `says` (Django's `manage.py`, not Flask-Script's of the same name);
    /// a script not found there counts.
    Script {
        file: &'static str,
        says: &'static str,
    },
}

/// Where the app a framework builds is instrumented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// In the entry point the module is put beside; `every`: in each of them (a Django
    /// project serves both wsgi.py and asgi.py).
    EntryPoint { every: bool },
    /// In the one module that builds the app (a Celery worker's), wherever it is: the
    /// module its launcher names with one of `flags` (`launcher` says how, in messages),
    /// as `a/b.py`, `a/b/__init__.py` or `a/b/<package_file>`; `why` is what the call does.
    AppModule {
        launcher: &'static str,
        flags: &'static [&'static str],
        package_file: &'static str,
        why: &'static str,
    },
}

/// How an app of the framework is built, and instrumented: the generated module's function
/// and where its call goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hook {
    /// What the app is built with: `app = FastAPI(...)`, `application =
    /// get_wsgi_application()`.
    pub constructors: &'static [&'static str],
    /// The module's function that instruments it (and flushes at shutdown).
    pub instrument: &'static str,
    /// Whether the call goes before the app is built, without arguments (Django's
    /// instrumentation patches the handler the application is made of), rather than after
    /// it, given the app.
    pub before: bool,
    pub place: Place,
}

/// A development server that serves from its reloader's child process: the container's
/// stop ends the parent, and the child serving the requests dies with the container,
/// unflushed (the last seconds of spans and logs are lost).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reloader {
    /// The words of a command line that runs it (`runserver`; `flask` and `run`).
    pub runs: &'static [&'static str],
    /// The flag that turns the reloader off.
    pub off: &'static str,
    /// Flags that turn it on where it is off by default (Flask's debug mode); empty: on
    /// unless [`Reloader::off`].
    pub on_flags: &'static [&'static str],
    /// Variables that turn it on, with the values that do (in the service's environment,
    /// its image's `ENV` or the command line).
    pub on_env: &'static [(&'static str, &'static [&'static str])],
    /// In the script the container runs with `python`: the call that serves (`.run(`),
    /// the arguments that turn the reloader on and the one that turns it off.
    pub call: Option<(&'static str, &'static [&'static str], &'static str)>,
    /// What the reloader does, for the note.
    pub note: &'static str,
}

/// One framework, and everything obs-init does differently for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Row {
    pub framework: Framework,
    /// Its name on the command line and in `.obs-init.toml`.
    pub name: &'static str,
    /// `--framework`'s help for it.
    pub help: &'static str,
    /// Distribution and import names that mean the project uses it.
    pub packages: &'static [&'static str],
    /// What in an image name or a command says it runs there.
    pub launchers: &'static [Launcher],
    /// Where among the rows its launchers are tried (lower first): a command that names
    /// two (`dagster ... mlflow`) is the lower's.
    pub launcher_rank: u8,
    /// Variables its own launcher reads (`FLASK_APP`), which say it runs there.
    pub env: &'static [&'static str],
    /// The instrumentation packages its apps get besides the base, at the line's contrib
    /// release.
    pub instrumentation: &'static [&'static str],
    pub hook: Option<Hook>,
    /// The files its code starts from, the module going beside the first found; `None`:
    /// the web names ([`crate::contract::WEB_ENTRY_POINTS`]).
    pub entry_points: Option<&'static [&'static str]>,
    /// Its code is loaded from a code location that the command or a workspace file names,
    /// and its records leave through a handler in its instance file (Dagster).
    pub code_location: bool,
    /// A development server whose reloader serves from a child process (`manage.py
    /// runserver`), and the note for a command that runs it with the reloader on.
    pub reloader: Option<Reloader>,
    /// It exports its own traces over OTLP when told where (MLflow): it gets the exporter
    /// package even where no module is written.
    pub exports_itself: bool,
    /// Programs of the framework that run none of the app's code (a monitoring UI), each
    /// with what it is: a service running one gets no module, and `--yes` leaves it out.
    /// Words in a row (`mlflow server`) name a command of the program.
    pub tools: &'static [(&'static str, &'static str)],
}

const NONE: Row = Row {
    framework: Framework::Python,
    name: "",
    help: "",
    packages: &[],
    launchers: &[],
    launcher_rank: u8::MAX,
    env: &[],
    instrumentation: &[],
    hook: None,
    entry_points: None,
    code_location: false,
    reloader: None,
    exports_itself: false,
    tools: &[],
};

/// Every framework, in the order prompts, help and the answers file list them.
pub const ROWS: [Row; 7] = [
    Row {
        framework: Framework::FastApi,
        name: "fastapi",
        help: "FastAPI: instrument the app (server spans that continue Dapr's traces)",
        packages: &["fastapi"],
        launchers: &[Launcher::Within("uvicorn"), Launcher::Within("fastapi")],
        launcher_rank: 3,
        instrumentation: &["opentelemetry-instrumentation-fastapi"],
        hook: Some(Hook {
            constructors: &["FastAPI"],
            instrument: "instrument_fastapi",
            before: false,
            place: Place::EntryPoint { every: false },
        }),
        ..NONE
    },
    Row {
        framework: Framework::Flask,
        name: "flask",
        help: "Flask: instrument the app (server spans that continue Dapr's traces)",
        packages: &["flask"],
        launchers: &[Launcher::Word("flask")],
        launcher_rank: 4,
        env: &["FLASK_APP"],
        instrumentation: &["opentelemetry-instrumentation-flask"],
        // A Flask app is built by `Flask(...)`, or by the project's factory where the entry
        // point (a `wsgi.py` beside the package) calls it.
        hook: Some(Hook {
            constructors: &["Flask", "create_app", "make_app"],
            instrument: "instrument_flask",
            before: false,
            place: Place::EntryPoint { every: false },
        }),
        // Flask's debug mode reloads (Werkzeug's reloader): `flask run --debug`,
        // FLASK_DEBUG (FLASK_ENV=development before Flask 2.3), `app.run(debug=True)`.
        reloader: Some(Reloader {
            runs: &["flask", "run"],
            off: "--no-reload",
            on_flags: &["--debug", "--reload"],
            on_env: &[
                ("FLASK_DEBUG", &["1", "true", "True", "yes", "on"]),
                ("FLASK_ENV", &["development"]),
            ],
            call: Some((
                ".run(",
                &["debug=True", "use_reloader=True"],
                "use_reloader=False",
            )),
            note: "Flask's debug reloader serves from a child process, which is killed \
                   unflushed when the container stops: the last seconds of spans and logs \
                   are lost",
        }),
        ..NONE
    },
    Row {
        framework: Framework::Django,
        name: "django",
        help: "Django: instrument the project (server spans that continue Dapr's traces)",
        packages: &["django"],
        launchers: &[
            Launcher::Script {
                file: "manage.py",
                says: "django",
            },
            Launcher::Within("django"),
        ],
        launcher_rank: 5,
        env: &["DJANGO_SETTINGS_MODULE"],
        // Django's instrumentation traces ASGI requests only with the ASGI one installed
        // (it skips them silently otherwise).
        instrumentation: &[
            "opentelemetry-instrumentation-django",
            "opentelemetry-instrumentation-asgi",
        ],
        hook: Some(Hook {
            constructors: &["get_wsgi_application", "get_asgi_application"],
            instrument: "instrument_django",
            before: true,
            place: Place::EntryPoint { every: true },
        }),
        // A Django project's application modules, in its settings package.
        entry_points: Some(&["wsgi.py", "asgi.py"]),
        // The reloader's parent is the container's main process: `docker compose stop` ends
        // it, and the child serving the requests dies with the container, unflushed.
        reloader: Some(Reloader {
            runs: &["runserver"],
            off: "--noreload",
            on_flags: &[],
            on_env: &[],
            call: None,
            note: "manage.py runserver serves from its autoreloader's child process, which is \
                   killed unflushed when the container stops: the last seconds of spans and \
                   logs are lost",
        }),
        ..NONE
    },
    Row {
        framework: Framework::Celery,
        name: "celery",
        help: "Celery: trace tasks, continuing the trace of whoever started them",
        packages: &["celery"],
        launchers: &[Launcher::Word("celery")],
        launcher_rank: 2,
        // Tornado serving the broker's state: no task or app code of the project runs there.
        tools: &[(
            "flower",
            "Flower, Celery's monitoring UI, which runs none of the app's code",
        )],
        instrumentation: &["opentelemetry-instrumentation-celery"],
        hook: Some(Hook {
            constructors: &["Celery"],
            instrument: "instrument_celery",
            before: false,
            place: Place::AppModule {
                launcher: "celery -A",
                flags: &["-A", "--app"],
                // Where Celery looks for `-A a.b`'s app first.
                package_file: "celery.py",
                why: "each worker process sets up after the fork and flushes when it stops; \
                      tasks continue the trace of whoever started them",
            },
        }),
        ..NONE
    },
    Row {
        framework: Framework::Mlflow,
        name: "mlflow",
        help: "MLflow: export MLflow traces to the collector as well as to MLflow",
        packages: &["mlflow", "mlflow-skinny"],
        launchers: &[Launcher::Within("mlflow")],
        launcher_rank: 1,
        exports_itself: true,
        // The tracking server stores what the apps send it: it traces nothing itself, and
        // neither the OTLP variables nor the exporter package do anything there.
        tools: &[
            (
                "mlflow server",
                "MLflow's tracking server, which runs none of the app's code",
            ),
            (
                "mlflow ui",
                "MLflow's tracking UI, which runs none of the app's code",
            ),
        ],
        ..NONE
    },
    Row {
        framework: Framework::Dagster,
        name: "dagster",
        help: "Dagster: send context.log records to the collector (dagster.yaml)",
        packages: &[
            "dagster",
            "dagster-webserver",
            "dagster-postgres",
            "dagster-docker",
        ],
        launchers: &[Launcher::Within("dagster")],
        launcher_rank: 0,
        // Code locations name their definitions module, else the web names apply.
        entry_points: Some(&[
            "definitions.py",
            "repository.py",
            "repo.py",
            "main.py",
            "app.py",
        ]),
        code_location: true,
        ..NONE
    },
    Row {
        framework: Framework::Python,
        name: "python",
        help: "Any other Python app: the module and its dependencies",
        ..NONE
    },
];

impl Framework {
    pub const ALL: [Framework; 7] = {
        let mut all = [Framework::Python; 7];
        let mut i = 0;
        while i < ROWS.len() {
            all[i] = ROWS[i].framework;
            i += 1;
        }
        all
    };

    /// Its row of the table (which lists the frameworks in the enum's order).
    pub const fn row(self) -> &'static Row {
        &ROWS[self as usize]
    }

    pub fn name(self) -> &'static str {
        self.row().name
    }

    /// The framework named `name` on the command line or in the answers file.
    pub fn by_name(name: &str) -> Option<Framework> {
        ROWS.iter().find(|r| r.name == name).map(|r| r.framework)
    }

    /// The framework a distribution or import name belongs to.
    pub fn of_package(name: &str) -> Option<Framework> {
        ROWS.iter()
            .find(|r| r.packages.contains(&name))
            .map(|r| r.framework)
    }
}

impl fmt::Display for Framework {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The rows of `frameworks`, in table order.
pub fn rows(frameworks: &[Framework]) -> impl Iterator<Item = &'static Row> + '_ {
    ROWS.iter().filter(|r| frameworks.contains(&r.framework))
}

/// Whether any of `frameworks` has what `has` asks for.
pub fn any(frameworks: &[Framework], has: impl Fn(&Row) -> bool) -> bool {
    rows(frameworks).any(has)
}

/// The web app among `frameworks` that the entry point instruments, if any: the first
/// whose hook goes in the entry point, in the order the frameworks are given.
pub fn web_app(frameworks: &[Framework]) -> Option<Hook> {
    frameworks.iter().find_map(|f| {
        f.row()
            .hook
            .filter(|h| matches!(h.place, Place::EntryPoint { .. }))
    })
}

/// The hook that goes into the module building the app, among `frameworks` (Celery's).
pub fn app_module_hook(frameworks: &[Framework]) -> Option<Hook> {
    rows(frameworks).find_map(|r| {
        r.hook
            .filter(|h| matches!(h.place, Place::AppModule { .. }))
    })
}

/// The entry points to look for: a code location's names when one of `frameworks` loads
/// one, else those of the first that has its own, else the web names.
pub fn entry_points(
    frameworks: &[Framework],
    web: &'static [&'static str],
) -> &'static [&'static str] {
    rows(frameworks)
        .filter(|r| r.entry_points.is_some())
        .min_by_key(|r| !r.code_location)
        .and_then(|r| r.entry_points)
        .unwrap_or(web)
}

/// The files the entry-point hook among `frameworks` goes in, and whether in each of them:
/// those of the first framework with an entry-point hook and files of its own (Django's
/// wsgi.py and asgi.py, both), else the first of `web`.
pub fn hook_files(
    frameworks: &[Framework],
    web: &'static [&'static str],
) -> (&'static [&'static str], bool) {
    rows(frameworks)
        .find_map(|r| match (r.hook.map(|h| h.place), r.entry_points) {
            (Some(Place::EntryPoint { every }), Some(names)) => Some((names, every)),
            _ => None,
        })
        .unwrap_or((web, false))
}

/// The framework a launcher in `text` (an image name, a command line) names, if any: the
/// lowest-ranked row any of whose launchers `text` holds. `context`: the build context the
/// scripts a command runs are looked for in.
pub fn launched_by(text: &str, context: Option<&Path>) -> Option<Framework> {
    let t = text.to_ascii_lowercase();
    let mut by_rank: Vec<&Row> = ROWS.iter().filter(|r| !r.launchers.is_empty()).collect();
    by_rank.sort_by_key(|r| r.launcher_rank);
    by_rank
        .into_iter()
        .find(|r| {
            r.launchers.iter().any(|l| match l {
                Launcher::Word(w) => t.split_whitespace().any(|x| x == *w),
                Launcher::Within(s) => t.contains(s),
                Launcher::Script { file, says } => {
                    t.contains(file) && context.is_none_or(|c| script_says(c, file, says))
                }
            })
        })
        .map(|r| r.framework)
}

/// Whether the script `file` of the build context (at its top or one folder down) mentions
/// `says`; a script not found there is taken at its word.
fn script_says(context: &Path, file: &str, says: &str) -> bool {
    let below = std::fs::read_dir(context)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join(file));
    let found: Vec<String> = std::iter::once(context.join(file))
        .chain(below)
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .collect();
    found.is_empty()
        || found
            .iter()
            .any(|text| text.to_ascii_lowercase().contains(says))
}

/// What the framework tool `text` (an image name, a command line) runs, if it runs one: a
/// word of the command (`celery -A app flower`), or the image's name (`mher/flower:2.0`).
pub fn tool_run(text: &str) -> Option<&'static str> {
    let t = text.to_ascii_lowercase();
    let names = t.split_whitespace().map(|w| {
        let last = w.rsplit('/').next().unwrap_or(w);
        last.split(':').next().unwrap_or(last).to_string()
    });
    let names: Vec<String> = names.collect();
    ROWS.iter()
        .flat_map(|r| r.tools.iter())
        .find(|(words, _)| {
            let words: Vec<&str> = words.split(' ').collect();
            names.windows(words.len()).any(|w| w == words.as_slice())
        })
        .map(|(_, what)| *what)
}

/// The framework whose launcher reads the variable `key`, if any.
pub fn by_env(key: &str) -> Option<Framework> {
    ROWS.iter()
        .find(|r| r.env.contains(&key))
        .map(|r| r.framework)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_framework_has_one_row_and_a_distinct_name() {
        for f in Framework::ALL {
            assert_eq!(ROWS.iter().filter(|r| r.framework == f).count(), 1, "{f:?}");
            assert_eq!(f.row().framework, f, "the table is in the enum's order");
            assert_eq!(Framework::by_name(f.name()), Some(f));
        }
    }

    #[test]
    fn a_command_naming_two_launchers_is_the_lower_ranked_ones() {
        assert_eq!(
            launched_by("dagster api grpc -m mlflow_jobs", None),
            Some(Framework::Dagster)
        );
        assert_eq!(
            launched_by("celery -A tasks worker", None),
            Some(Framework::Celery)
        );
        assert_eq!(launched_by("celeryd", None), None);
        assert_eq!(
            launched_by("uvicorn main:app", None),
            Some(Framework::FastApi)
        );
    }
}
