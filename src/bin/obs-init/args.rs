//! The command line, as the user types it.

use std::path::PathBuf;

use clap::{Parser, ValueEnum};

const AFTER_HELP: &str = "\
What it does, for each service named with --service:
  - adds a Dapr sidecar `<service>-dapr` (daprd sharing the service's network namespace,
    started with the tracing configuration),
  - joins the service to the external network `observability-net` (keeping `default`),
  - sets OTEL_COLLECTOR_ENDPOINT, OTEL_EXPORTER_OTLP_ENDPOINT and OTEL_SERVICE_NAME,
  - declares `observability-net` as external, and writes dapr-config.yml,
  - writes setup_observability.py next to the app's code (beside the main.py or app.py in
    its build context) and adds the OpenTelemetry packages to requirements.txt or
    pyproject.toml; a module you edited is never overwritten,
  - per framework: FastAPI instrumentation, MLflow's OTLP trace export variables, Dagster's
    logging handler in dagster.yaml.
Every byte of the compose file it does not need to change stays as it was, comments included.
The edited file is parsed again and checked before anything is written.

Examples:
  obs-init --service api --dry-run      show the diff, write nothing
  obs-init --service api --app-port 8000
  obs-init --dir examples/fastapi-app --yes
  obs-init --framework dagster --dagster-home dagster_home --yes

Exit codes:
  0   done (or nothing to do)
  1   the project could not be onboarded as asked: the message says why and how to fix it
  2   the command line is wrong
  70  internal error: an edit failed obs-init's own verification; nothing was written";

/// Onboard a Docker Compose project onto the observability platform.
#[derive(Debug, Parser)]
#[command(name = "obs-init", version, about, after_help = AFTER_HELP)]
pub struct Args {
    /// The project directory
    #[arg(short = 'C', long, value_name = "PATH", default_value = ".")]
    pub dir: PathBuf,

    /// The compose file [default: compose.yaml, compose.yml, docker-compose.yml or
    /// docker-compose.yaml in --dir, the first found]
    #[arg(short, long, value_name = "PATH")]
    pub file: Option<PathBuf>,

    /// A service to onboard (repeat for several) [default with --yes: services with `build:`]
    #[arg(short, long = "service", value_name = "NAME")]
    pub services: Vec<String>,

    /// The port the app listens on, passed to daprd as --app-port [default: the service's
    /// only container port, if it has exactly one]
    #[arg(long, value_name = "PORT")]
    pub app_port: Option<u16>,

    /// The daprd image version to pin
    #[arg(long, value_name = "X.Y.Z", default_value = obs_init::plan::DEFAULT_DAPR_VERSION, value_parser = parse_version)]
    pub dapr_version: String,

    /// Where to write the Dapr configuration [default: <dir>/dapr-config.yml]
    #[arg(long, value_name = "PATH")]
    pub dapr_config: Option<PathBuf>,

    /// Where to write setup_observability.py: a .py file, or a directory [default: beside
    /// the main.py or app.py found in the service's build context]
    #[arg(long, value_name = "PATH")]
    pub module_path: Option<PathBuf>,

    /// What the services run (repeatable) [default: detected per service from its code,
    /// dependencies and compose command]
    #[arg(long = "framework", value_enum, value_name = "NAME")]
    pub frameworks: Vec<FrameworkArg>,

    /// The folder holding the dagster.yaml to configure (DAGSTER_HOME) [default: the one
    /// dagster.yaml found in the project]
    #[arg(long, value_name = "PATH")]
    pub dagster_home: Option<PathBuf>,

    /// Remove settings that stop a program from starting, such as a `telemetry:
    /// opentelemetry:` block in dagster.yaml
    #[arg(long)]
    pub fix_invalid: bool,

    /// Add the FastAPI instrumentation lines to main.py instead of printing them
    #[arg(long)]
    pub edit_entrypoint: bool,

    /// Show the diff of every change, write nothing
    #[arg(short = 'n', long)]
    pub dry_run: bool,

    /// Accept the defaults instead of asking
    #[arg(short, long)]
    pub yes: bool,

    /// When to use colour
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FrameworkArg {
    /// FastAPI: instrument the app (server spans that continue Dapr's traces)
    Fastapi,
    /// MLflow: export MLflow traces to the collector as well as to MLflow
    Mlflow,
    /// Dagster: send context.log records to the collector (dagster.yaml)
    Dagster,
    /// Any other Python app: the module and its dependencies
    Python,
}

impl From<FrameworkArg> for obs_init::detect::Framework {
    fn from(f: FrameworkArg) -> Self {
        use obs_init::detect::Framework;
        match f {
            FrameworkArg::Fastapi => Framework::FastApi,
            FrameworkArg::Mlflow => Framework::Mlflow,
            FrameworkArg::Dagster => Framework::Dagster,
            FrameworkArg::Python => Framework::Python,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ColorChoice {
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
