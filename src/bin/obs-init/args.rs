//! The command line, as the user types it.

use std::path::PathBuf;

use clap::builder::TypedValueParser;
use clap::{Parser, Subcommand, ValueEnum};
use obs_init::frameworks::{Framework, ROWS};

const AFTER_HELP: &str = "\
What it does, for each service named with --service:
  - adds a Dapr sidecar `<service>-dapr` (daprd sharing the service's network namespace,
    started with the tracing configuration),
  - joins the service to the external network `observability-net` (keeping `default`),
  - sets OTEL_COLLECTOR_ENDPOINT, OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_SERVICE_NAME and
    service.namespace (the compose project) in OTEL_RESOURCE_ATTRIBUTES,
  - declares `observability-net` as external, and writes dapr-config.yml,
  - writes setup_observability.py beside the code the container runs (the file its server
    imports the app from, read through the Dockerfile's stages, WORKDIR, COPY and
    PYTHONPATH) and adds the OpenTelemetry packages to the requirements file or
    pyproject.toml its image installs (and runs poetry, uv, pdm or pip-compile to refresh
    the lock beside it); a module you edited is never overwritten,
  - per framework: FastAPI, Flask and Django server spans, Celery task traces, MLflow's OTLP
    trace export variables, Dagster's logging handler in dagster.yaml.
--check and doctor exit 3 until telemetry can arrive: while the code the service runs does
not import the module yet, or an `action:` printed here is still to do.
Every byte of the compose file it does not need to change stays as it was, comments included.
The edited file is parsed again and checked before anything is written.
Without a compose file, in a repository of Kubernetes manifests, it onboards them as
`obs-init kubernetes` does.

Examples:
  obs-init --service api --dry-run      show the diff, write nothing
  obs-init --service api --app-port 8000
  obs-init --dir examples/fastapi-app --yes
  obs-init --framework dagster --dagster-home dagster_home --yes
  obs-init platform --dir observability  write the shared platform the projects send to

Run in a terminal without --service, it asks which services to onboard, their ports and
frameworks, shows what it will do and asks once before writing. Without a terminal it never
asks: it takes --yes defaults, or fails naming the flags to pass. The answers are recorded
in .obs-init.toml, so a later run (or --check in CI) reproduces them without flags.

Exit codes:
  0   done, nothing to do, or (--check) up to date
  1   the project could not be onboarded as asked: the message says why and how to fix it
  2   the command line is wrong
  3   --check: onboarding is missing or has drifted from what obs-init would write
  70  internal error: an edit failed obs-init's own verification; nothing was written";

/// Onboard a Docker Compose project onto the observability platform.
#[derive(Debug, Parser)]
#[command(
    name = "obs-init",
    version,
    about,
    after_help = AFTER_HELP
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub args: Args,
}

/// The options every command takes, before or after its name (`obs-init -C app doctor`,
/// `obs-init doctor --color never`).
#[derive(Debug, clap::Args)]
pub struct GlobalArgs {
    /// The project directory (for `platform`: where its files go)
    #[arg(
        short = 'C',
        long,
        value_name = "PATH",
        default_value = ".",
        global = true,
        help_heading = "Global options"
    )]
    pub dir: PathBuf,
    /// The compose file [default: compose.yaml, compose.yml, docker-compose.yml or
    /// docker-compose.yaml in --dir, the first found]; for `kubernetes`, a manifest or a
    /// folder of them (repeatable) [default: every manifest with workloads in --dir]
    #[arg(short, long = "file", value_name = "PATH", global = true, action = clap::ArgAction::Append, help_heading = "Global options")]
    pub files: Vec<PathBuf>,
    /// Output format: text for people, json for tools (the plan, the findings or the error)
    #[arg(long, value_enum, default_value_t = Format::Text, value_name = "FORMAT", global = true, help_heading = "Global options")]
    pub format: Format,
    /// When to use colour
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN", global = true, help_heading = "Global options")]
    pub color: ColorChoice,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print a shell completion script (e.g. `obs-init completions bash > /etc/bash_completion.d/obs-init`)
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print a man page (roff): `obs-init man > obs-init.1`, `obs-init man remove >
    /// obs-init-remove.1`, or every page at once with `obs-init man --out-dir DIR`
    Man(ManArgs),
    /// Take back what obs-init did, as its record in .obs-init.toml says: the compose edits,
    /// the entry point's lines, the dependency lines, dagster.yaml's keys and the files it
    /// generated, byte for byte while nobody changed them. Whatever you wrote or changed
    /// since stays, and is reported. Files another onboarded compose file needs stay too.
    Remove(RemoveArgs),
    /// Check the project as it is, whoever wrote it: compose rules (network_mode with
    /// networks, undefined networks and services, depends_on outside the project), the
    /// sidecars' configuration, dapr-config.yml, the Python module's imports, dagster.yaml.
    /// Exits 3 when something would stop telemetry.
    Doctor(DoctorArgs),
    /// See it work: send a canary span and a log record carrying its trace id to the
    /// collector, over OTLP/gRPC at the endpoint the project's services use, then confirm
    /// that Tempo stores the trace and OpenSearch the log with the same trace id, and print
    /// the Grafana link to the trace. Each hop that fails is named with its fix. Exits 0
    /// when every hop is confirmed, 3 when one failed
    Verify(VerifyArgs),
    /// Onboard Kubernetes manifests: for each workload (Deployment, StatefulSet, DaemonSet,
    /// Job, CronJob), the Dapr sidecar injector's annotations on its POD TEMPLATE and the
    /// collector's variables on its app container; a Dapr Configuration (tracing to the
    /// collector) beside the manifests, in the workloads' namespaces, added to the folder's
    /// kustomization. Where kustomize overlays build on the manifests, the onboarding goes
    /// into the base (--edit-base) or as a patch into chosen overlays (--patch-overlay DIR),
    /// never both; a terminal asks. Every byte outside the edits stays; --remove gives them
    /// all back
    Kubernetes(KubernetesArgs),
    /// Write the shared observability platform that onboarded projects connect to: a
    /// compose file with the OpenTelemetry Collector, Tempo, Prometheus, OpenSearch, Fluent
    /// Bit and Grafana on the `observability-net` network, their configurations, Grafana's
    /// data sources and a starter dashboard, and setup.sh to start it all.
    Platform(PlatformArgs),
}

#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// The subcommand whose page to print [default: obs-init's own]
    #[arg(value_name = "COMMAND")]
    pub command: Option<String>,
    /// Write every page (obs-init.1, obs-init-remove.1, ...) into this folder instead
    #[arg(long, value_name = "DIR", conflicts_with = "command")]
    pub out_dir: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct PlatformArgs {
    #[command(flatten)]
    pub write: WriteArgs,
    /// What to do with a file that exists with other content [default: prompt on a
    /// terminal, abort otherwise]
    #[arg(long, value_enum, value_name = "POLICY")]
    pub on_conflict: Option<OnConflict>,
    /// Where the platform runs: one Docker host (a compose file and setup.sh), or a
    /// Kubernetes cluster (values files for the official Helm charts, pinned, and the
    /// helmfile.yaml and install.sh that install them into the `observability` namespace)
    #[arg(long, value_enum, default_value_t = PlatformTarget::Compose, value_name = "WHERE")]
    pub target: PlatformTarget,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PlatformTarget {
    /// Docker Compose on one host
    Compose,
    /// Kubernetes, with Helm
    Kubernetes,
}

/// The flags every writing command (onboarding, `remove`, `platform`) takes alike.
#[derive(Debug, clap::Args)]
pub struct WriteArgs {
    /// Set from the global option of the same name.
    #[arg(skip)]
    pub dir: PathBuf,
    /// Show the diff of every change, write nothing
    #[arg(short = 'n', long)]
    pub dry_run: bool,
    /// Write even when files obs-init would change have uncommitted changes in git (its own
    /// edits, unchanged since, never count)
    #[arg(long)]
    pub allow_dirty: bool,
    /// Set from the global option of the same name.
    #[arg(skip)]
    pub format: Format,
    /// Accept the defaults instead of asking
    #[arg(short, long)]
    pub yes: bool,
}

#[derive(Debug, clap::Args)]
pub struct DoctorArgs {
    /// Set from the global option of the same name.
    #[arg(skip)]
    pub dir: PathBuf,
    /// Set from the global option of the same name.
    #[arg(skip)]
    pub file: Option<PathBuf>,
    /// Also try a TCP connection to the collector (two seconds at most)
    #[arg(long)]
    pub connect: bool,
    /// The collector to try with --connect [default: the project's OTEL_COLLECTOR_ENDPOINT,
    /// else otel-collector:4317]
    #[arg(long, value_name = "HOST:PORT", requires = "connect")]
    pub collector: Option<String>,
    /// Where the Dapr configuration is [default: <dir>/dapr-config.yml]
    #[arg(long, value_name = "PATH")]
    pub dapr_config: Option<PathBuf>,
    /// Set from the global option of the same name.
    #[arg(skip)]
    pub format: Format,
}

#[derive(Debug, clap::Args)]
pub struct KubernetesArgs {
    #[command(flatten)]
    pub write: WriteArgs,
    /// Set from the global option of the same name.
    #[arg(skip)]
    pub files: Vec<PathBuf>,
    /// A workload to onboard, as Kind/name or name (repeatable) [default: every workload]
    #[arg(short, long = "workload", value_name = "NAME")]
    pub workloads: Vec<String>,
    /// The collector's address inside the cluster [default: the Kubernetes platform's]
    #[arg(long, value_name = "HOST:PORT", default_value = obs_init::kubernetes::CLUSTER_COLLECTOR_ADDRESS)]
    pub collector: String,
    /// In a kustomize base that overlays build on: edit the base's manifests, so that every
    /// overlay gets the onboarding
    #[arg(long, conflicts_with = "patch_overlays")]
    pub edit_base: bool,
    /// In a kustomize base that overlays build on: leave the base alone and add the
    /// onboarding to this overlay as a patch, with the Configuration (repeatable)
    #[arg(long = "patch-overlay", value_name = "DIR")]
    pub patch_overlays: Vec<PathBuf>,
    /// The build context of a workload's image, as NAME=DIR (Kind/name or name; repeatable),
    /// where neither skaffold.yaml nor a compose build says: its Python code gets the
    /// module and the dependencies, as a compose service's does
    #[arg(long = "context", value_name = "NAME=DIR", value_parser = parse_context)]
    pub contexts: Vec<(String, PathBuf)>,
    /// Insert the instrumentation lines into the entry point the module's next step names
    /// (FastAPI, Flask, Celery; they also flush at shutdown)
    #[arg(long)]
    pub edit_entrypoint: bool,
    /// Leave lock files (poetry.lock, uv.lock, pdm.lock, a compiled requirements.txt) as
    /// they are, and print the command that brings each up to date. Without it, obs-init
    /// runs that command when the tool is installed (keeping every other pin), and puts
    /// every file back if it fails
    #[arg(long)]
    pub no_lock: bool,
    /// Where the image installs MLflow before 3.4 (no dual export): set the OTLP trace
    /// variables anyway, so that its traces go to the collector instead of the MLflow server.
    /// Remembered in .obs-init.toml
    #[arg(long)]
    pub mlflow_otlp: bool,
    /// Exit with code 3 if onboarding is missing or has drifted; write nothing
    #[arg(long, conflicts_with = "dry_run")]
    pub check: bool,
    /// Take back what onboarding the manifests did, as .obs-init.toml records it
    #[arg(long, conflicts_with = "check")]
    pub remove: bool,
}

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// Set from the global option of the same name.
    #[arg(skip)]
    pub dir: PathBuf,
    /// Set from the global option of the same name.
    #[arg(skip)]
    pub file: Option<PathBuf>,
    /// Send to this collector instead (plaintext OTLP/gRPC) [default: the project's
    /// OTEL_COLLECTOR_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT; otel-collector, the platform's
    /// name inside Docker, is reached on 127.0.0.1 where the platform publishes it]
    #[arg(long, value_name = "HOST:PORT")]
    pub collector: Option<String>,
    /// Tempo's HTTP API
    #[arg(long, value_name = "URL", default_value = obs_init::verify::DEFAULT_TEMPO)]
    pub tempo: String,
    /// OpenSearch's REST API (the platform's logs index, otel-logs)
    #[arg(long, value_name = "URL", default_value = obs_init::verify::DEFAULT_OPENSEARCH)]
    pub opensearch: String,
    /// Grafana, for the link to the trace
    #[arg(long, value_name = "URL", default_value = obs_init::verify::DEFAULT_GRAFANA)]
    pub grafana: String,
    /// Check the collector only: do not query Tempo and OpenSearch
    #[arg(long)]
    pub no_query: bool,
    /// Seconds to wait for Tempo and OpenSearch to store the canary
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    pub wait: u64,
    /// Set from the global option of the same name.
    #[arg(skip)]
    pub format: Format,
}

#[derive(Debug, clap::Args)]
pub struct RemoveArgs {
    #[command(flatten)]
    pub write: WriteArgs,
    /// Leave lock files (poetry.lock, uv.lock, pdm.lock, a compiled requirements.txt) as
    /// they are, and print the command that brings each up to date. Without it, obs-init
    /// runs that command when the tool is installed (keeping every other pin), and puts
    /// every file back if it fails
    #[arg(long)]
    pub no_lock: bool,
    /// Set from the global option of the same name.
    #[arg(skip)]
    pub file: Option<PathBuf>,
    /// A service to take back (repeatable) [default: every onboarded service]
    #[arg(short, long = "service", value_name = "NAME")]
    pub services: Vec<String>,
    /// Where the Dapr configuration is [default: <dir>/dapr-config.yml]
    #[arg(long, value_name = "PATH")]
    pub dapr_config: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub write: WriteArgs,
    /// Leave lock files (poetry.lock, uv.lock, pdm.lock, a compiled requirements.txt) as
    /// they are, and print the command that brings each up to date. Without it, obs-init
    /// runs that command when the tool is installed (keeping every other pin), and puts
    /// every file back if it fails
    #[arg(long)]
    pub no_lock: bool,

    /// Set from the global option of the same name.
    #[arg(skip)]
    pub file: Option<PathBuf>,

    /// A service to onboard (repeat for several) [default with --yes: the services with
    /// `build:` that run Python; name others to give them the sidecar and variables only]
    #[arg(short, long = "service", value_name = "NAME")]
    pub services: Vec<String>,

    /// The port the app listens on, passed to daprd as --app-port [default: the port its
    /// command names (--port, -p, --bind), else its only container port]
    #[arg(long, value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..))]
    pub app_port: Option<u16>,

    /// The daprd image version to pin [default: the answers file's, else 1.18.3]
    #[arg(long, value_name = "X.Y.Z", value_parser = parse_version)]
    pub dapr_version: Option<String>,

    /// Where to write the Dapr configuration [default: <dir>/dapr-config.yml]
    #[arg(long, value_name = "PATH")]
    pub dapr_config: Option<PathBuf>,

    /// Where to write setup_observability.py: a .py file, or a directory [default: beside
    /// the main.py or app.py found in the service's build context]
    #[arg(long, value_name = "PATH")]
    pub module_path: Option<PathBuf>,

    /// What the services run (repeatable) [default: detected per service from its code,
    /// dependencies and compose command]
    #[arg(long = "framework", value_name = "NAME", value_parser = framework_parser())]
    pub frameworks: Vec<Framework>,

    /// The folder holding the dagster.yaml to configure (DAGSTER_HOME) [default: the one
    /// dagster.yaml found in the project]
    #[arg(long, value_name = "PATH")]
    pub dagster_home: Option<PathBuf>,

    /// Remove settings that stop a program from starting, such as a `telemetry:
    /// opentelemetry:` block in dagster.yaml
    #[arg(long)]
    pub fix_invalid: bool,

    /// Insert the setup lines into the file that builds the served app (FastAPI, Flask,
    /// Django's wsgi.py and asgi.py, the Celery app) instead of printing them
    #[arg(long)]
    pub edit_entrypoint: bool,

    /// Leave the compose file as it is and write the onboarding to a Compose override file
    /// of its own, beside it: the sidecars, and for each app only what is added. Services
    /// that share anchors or merge keys, or are extended, can be onboarded this way. `.env`'s
    /// COMPOSE_FILE gets the overlay, so plain `docker compose up` loads it
    #[arg(
        long,
        value_name = "FILE",
        num_args = 0..=1,
        default_missing_value = "compose.observability.yaml"
    )]
    pub overlay: Option<PathBuf>,

    /// With --overlay, leave .env alone: the next steps give the `-f` flags to pass instead
    #[arg(long, requires = "overlay")]
    pub no_env: bool,

    /// Where the image installs MLflow before 3.4 (no dual export): set the OTLP trace
    /// variables anyway, so that its traces go to the collector instead of the MLflow server
    /// (they leave the MLflow UI). Remembered in .obs-init.toml
    #[arg(long)]
    pub mlflow_otlp: bool,

    /// What to do where the project already has other values than obs-init would write
    /// (a variable, the sidecar's image, a generated file); the tracing of a Dapr
    /// Configuration of the project's own is never written over, only reported [default:
    /// prompt on a terminal, abort otherwise]
    #[arg(long, value_enum, value_name = "POLICY")]
    pub on_conflict: Option<OnConflict>,

    /// Exit with code 3 if onboarding is missing or has drifted; write nothing (for CI)
    #[arg(long, conflicts_with = "dry_run")]
    pub check: bool,

    /// Set from the global option of the same name.
    #[arg(skip)]
    pub color: ColorChoice,
}

/// `--framework`'s values, with their help, from the framework table.
fn framework_parser() -> impl clap::builder::TypedValueParser<Value = Framework> {
    let values = ROWS
        .iter()
        .map(|r| clap::builder::PossibleValue::new(r.name).help(r.help));
    clap::builder::PossibleValuesParser::new(values)
        .map(|name| Framework::by_name(&name).expect("a possible value names a framework"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnConflict {
    /// Ask (only on a terminal; elsewhere this is `abort`)
    Prompt,
    /// Keep the project's values and report them
    Skip,
    /// Write obs-init's values
    Overwrite,
    /// Stop with an error, writing nothing
    Abort,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, Default, ValueEnum)]
pub enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}

fn parse_version(s: &str) -> Result<String, String> {
    let parts: Vec<&str> = s.split('.').collect();
    let numeric = parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    if numeric {
        Ok(s.to_string())
    } else if let Some(stripped) = s.strip_prefix('v') {
        Err(format!("daprd image tags have no `v`: use {stripped}"))
    } else {
        Err("expected a release like 1.18.3".into())
    }
}

/// `--context NAME=DIR`.
fn parse_context(s: &str) -> Result<(String, PathBuf), String> {
    match s.split_once('=') {
        Some((name, dir)) if !name.is_empty() && !dir.is_empty() => {
            Ok((name.to_string(), PathBuf::from(dir)))
        }
        _ => Err(format!(
            "`{s}` is not NAME=DIR (e.g. --context api=services/api)"
        )),
    }
}
