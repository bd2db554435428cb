//! The `obs-init` binary: parses the command line, runs the library's pipeline, renders.

mod args;
mod prompt;
mod report;

use std::io::{self, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches};
use obs_init::plan::{ConflictPolicy, Options, Plan, Prompter, Status, plan};
use obs_init::{Error, answers, apply, git};

use args::{
    Args, Cli, ColorChoice, Command, DoctorArgs, Format, KubernetesArgs, OnConflict, PlatformArgs,
    RemoveArgs, VerifyArgs, WriteArgs,
};
use prompt::TermPrompter;

/// The project could not be onboarded as asked (bad input, a refusal, an I/O failure).
const EXIT_FAILURE: u8 = 1;
/// `--check` found onboarding missing or drifted, or `doctor` found a problem: distinct from
/// failure so that CI can tell "needs fixing" from "obs-init broke".
const EXIT_CHECK_FAILED: u8 = 3;
/// An edit failed obs-init's own verification: a bug, reported apart from user errors so
/// that scripts and bug reports can tell them apart (sysexits' EX_SOFTWARE).
const EXIT_INTERNAL: u8 = 70;

fn main() -> ExitCode {
    let cli = parse();
    match cli.global.color {
        ColorChoice::Always => anstream::ColorChoice::Always.write_global(),
        ColorChoice::Never => anstream::ColorChoice::Never.write_global(),
        ColorChoice::Auto => {}
    }
    match cli.command {
        Some(Command::Completions { shell }) => {
            clap_complete::generate(shell, &mut Cli::command(), "obs-init", &mut io::stdout());
            return ExitCode::SUCCESS;
        }
        Some(Command::Remove(r)) => {
            return match run_remove(&r) {
                Ok(code) => code,
                Err(e) => fail(&e, r.write.format),
            };
        }
        Some(Command::Doctor(d)) => {
            return match run_doctor(&d) {
                Ok(code) => code,
                Err(e) => fail(&e, d.format),
            };
        }
        Some(Command::Kubernetes(k)) => {
            return match run_kubernetes(&k) {
                Ok(code) => code,
                Err(e) => fail(&e, k.write.format),
            };
        }
        Some(Command::Verify(v)) => {
            return match run_verify(&v) {
                Ok(code) => code,
                Err(e) => fail(&e, v.format),
            };
        }
        Some(Command::Platform(p)) => {
            return match run_platform(&p) {
                Ok(code) => code,
                Err(e) => fail(&e, p.write.format),
            };
        }
        Some(Command::Man(m)) => {
            return match man(&m) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    let _ = writeln!(anstream::stderr(), "error: {e}");
                    ExitCode::from(EXIT_FAILURE)
                }
            };
        }
        None => {}
    }
    let args = cli.args;
    match run(&args) {
        Ok(code) => code,
        Err(e) => fail(&e, args.write.format),
    }
}

/// The command line, with the global options given to whichever command runs. Onboarding's
/// own flags mean nothing to a subcommand: given with one, they are an error (as clap says
/// of any argument a command does not take), never silently ignored.
fn parse() -> Cli {
    let mut cmd = Cli::command();
    let matches = cmd.clone().get_matches();
    let mut cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    if let Some((name, _)) = matches.subcommand() {
        let onboarding_only = cmd.get_arguments().find(|a| {
            !a.is_global_set()
                && matches.value_source(a.get_id().as_str()) == Some(ValueSource::CommandLine)
        });
        if let Some(arg) = onboarding_only {
            let flag = arg.get_long().unwrap_or(arg.get_id().as_str());
            cmd.error(
                ErrorKind::ArgumentConflict,
                format!("the argument '--{flag}' cannot be used with subcommand '{name}'"),
            )
            .exit();
        }
    }
    let g = &cli.global;
    let one_file = |cmd: &mut clap::Command, name: &str| match g.files.as_slice() {
        [] => None,
        [one] => Some(one.clone()),
        [_, second, ..] => cmd
            .error(
                ErrorKind::ArgumentConflict,
                format!(
                    "the argument '--file' was given twice ({}); {name} takes one compose file",
                    second.display()
                ),
            )
            .exit(),
    };
    match &mut cli.command {
        Some(Command::Remove(r)) => {
            r.write.dir = g.dir.clone();
            r.write.format = g.format;
            r.file = one_file(&mut cmd, "remove");
        }
        Some(Command::Doctor(d)) => {
            d.dir = g.dir.clone();
            d.format = g.format;
            d.file = one_file(&mut cmd, "doctor");
        }
        Some(Command::Kubernetes(k)) => {
            k.write.dir = g.dir.clone();
            k.write.format = g.format;
            k.files = g.files.clone();
        }
        Some(Command::Verify(v)) => {
            v.dir = g.dir.clone();
            v.format = g.format;
            v.file = one_file(&mut cmd, "verify");
        }
        Some(Command::Platform(p)) => {
            p.write.dir = g.dir.clone();
            p.write.format = g.format;
            if !g.files.is_empty() {
                cmd.error(
                    ErrorKind::ArgumentConflict,
                    "the argument '--file' cannot be used with subcommand 'platform': it \
                     writes its own files into --dir",
                )
                .exit();
            }
        }
        Some(Command::Completions { .. } | Command::Man(_)) => {}
        None => {
            cli.args.write.dir = g.dir.clone();
            cli.args.write.format = g.format;
            cli.args.color = g.color;
            cli.args.file = one_file(&mut cmd, "onboarding");
        }
    }
    cli
}

/// `obs-init man`: one page to stdout, or every page into a folder.
fn man(args: &args::ManArgs) -> io::Result<()> {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    // A subcommand's page carries the program's version in its title, as the main one does.
    let version = env!("CARGO_PKG_VERSION");
    let pages: Vec<clap::Command> = std::iter::once(cmd.clone())
        .chain(cmd.get_subcommands().map(|c| c.clone().version(version)))
        .collect();
    if let Some(dir) = &args.out_dir {
        std::fs::create_dir_all(dir)?;
        for page in pages {
            let man = clap_mangen::Man::new(page);
            std::fs::write(dir.join(man.get_filename()), render_man(&man)?)?;
        }
        return Ok(());
    }
    let page = match &args.command {
        None => cmd,
        Some(name) => pages[1..]
            .iter()
            .find(|c| c.get_name() == name)
            .cloned()
            .ok_or_else(|| {
                let known: Vec<&str> = cmd.get_subcommands().map(|c| c.get_name()).collect();
                io::Error::other(format!(
                    "no subcommand `{name}`; pages: {}",
                    known.join(", ")
                ))
            })?,
    };
    io::stdout().write_all(&render_man(&clap_mangen::Man::new(page))?)
}

/// A man page, with the help's closing text under DETAILS (clap_mangen titles it EXTRA).
fn render_man(man: &clap_mangen::Man) -> io::Result<Vec<u8>> {
    let mut page = Vec::new();
    man.render(&mut page)?;
    let text = String::from_utf8_lossy(&page).replace(".SH EXTRA\n", ".SH DETAILS\n");
    Ok(text.into_bytes())
}

fn fail(e: &Error, format: Format) -> ExitCode {
    if format == Format::Json {
        let _ = writeln!(io::stdout(), "{}", report::json_error(e));
    } else {
        let _ = report::error(&mut anstream::stderr(), e);
    }
    ExitCode::from(if e.is_internal() {
        EXIT_INTERNAL
    } else {
        EXIT_FAILURE
    })
}

fn run_doctor(args: &DoctorArgs) -> Result<ExitCode, Error> {
    let findings = obs_init::doctor::diagnose(
        &args.dir,
        args.file.as_deref(),
        &obs_init::doctor::DoctorOptions {
            connect: args.connect,
            collector: args.collector.clone(),
            // The configuration onboarding was told to write, when it was told.
            dapr_config: args
                .dapr_config
                .as_ref()
                .map(|p| args.dir.join(p))
                .or_else(|| obs_init::answers::recorded_path(&args.dir, "dapr_config")),
        },
    )?;
    let errors = findings
        .iter()
        .filter(|f| f.severity == obs_init::doctor::Severity::Error)
        .count();
    if args.format == Format::Json {
        let _ = writeln!(anstream::stdout(), "{}", report::json_findings(&findings));
    } else {
        let _ = report::findings(&mut anstream::stderr(), &findings);
    }
    Ok(if errors > 0 {
        ExitCode::from(EXIT_CHECK_FAILED)
    } else {
        ExitCode::SUCCESS
    })
}

fn run_kubernetes(args: &KubernetesArgs) -> Result<ExitCode, Error> {
    use obs_init::plan::kubernetes::{
        KubernetesOptions, KustomizeMode, plan_kubernetes, plan_kubernetes_remove,
    };
    let w = &args.write;
    if args.remove {
        let plan = plan_kubernetes_remove(&w.dir)?;
        obs_init::plan::check_inside_dir(&w.dir, &plan)?;
        return finish(
            &plan,
            w,
            args.no_lock,
            None,
            "remove",
            "Nothing to remove: no onboarding of manifests by obs-init found".into(),
        );
    }
    let mut opts = KubernetesOptions {
        dir: w.dir.clone(),
        files: args.files.clone(),
        workloads: args.workloads.clone(),
        collector: args.collector.clone(),
        contexts: args.contexts.clone(),
        edit_entrypoint: args.edit_entrypoint,
        mlflow_otlp: args.mlflow_otlp,
        mode: if args.edit_base {
            KustomizeMode::EditBase
        } else if !args.patch_overlays.is_empty() {
            KustomizeMode::PatchOverlays(
                args.patch_overlays.iter().map(|d| w.dir.join(d)).collect(),
            )
        } else {
            KustomizeMode::Unset
        },
    };
    let interactive = w.format == Format::Text
        && !args.check
        && !w.yes
        && io::stdin().is_terminal()
        && io::stderr().is_terminal();
    let plan = match plan_kubernetes(&opts) {
        // Where the onboarding goes is asked where a person can answer.
        Err(Error::KustomizeChoice { bases, overlays }) if interactive => {
            opts.mode = prompt::kustomize_mode(&bases, &overlays)
                .map_err(|source| Error::Prompt { source })?;
            if let KustomizeMode::PatchOverlays(dirs) = &mut opts.mode {
                *dirs = dirs.iter().map(|d| w.dir.join(d)).collect();
            }
            plan_kubernetes(&opts)?
        }
        other => other?,
    };
    obs_init::plan::check_inside_dir(&w.dir, &plan)?;
    if args.check {
        return Ok(check(&plan, w.format, "obs-init kubernetes"));
    }
    let nothing = format!(
        "Nothing to do: {} already onboarded",
        plan.services.join(", ")
    );
    let prompter = interactive.then(TermPrompter::new);
    finish(&plan, w, args.no_lock, prompter.as_ref(), "apply", nothing)
}

fn run_verify(args: &VerifyArgs) -> Result<ExitCode, Error> {
    use obs_init::verify::{self, VerifyOptions};
    let mut reach = verify::START_PLATFORM.to_string();
    let (endpoint, source, tls) = match &args.collector {
        Some(c) => (
            c.clone(),
            "--collector".to_string(),
            c.starts_with("https://"),
        ),
        None => match obs_init::doctor::project_endpoint(&args.dir, args.file.as_deref()) {
            // Manifests alone: the cluster's collector, where a port-forward puts it.
            Err(Error::NoComposeFile { dir })
                if args.file.is_none()
                    && !obs_init::plan::kubernetes::manifest_files(&dir).is_empty() =>
            {
                let forward = format!(
                    "kubectl -n {} port-forward svc/{} 4317",
                    obs_init::platform::KUBERNETES_NAMESPACE,
                    obs_init::platform::COLLECTOR_SERVICE
                );
                reach = format!(
                    "forward the cluster's collector here first: {forward} (or pass --collector \
                     HOST:PORT where it is reachable)"
                );
                Ok(Some((
                    "127.0.0.1:4317".to_string(),
                    "the cluster's collector, port-forwarded (Kubernetes manifests, no compose \
                     file)"
                        .to_string(),
                    false,
                )))
            }
            other => other,
        }?
        .unwrap_or_else(|| {
            (
                obs_init::contract::COLLECTOR_ADDRESS.to_string(),
                "the platform's default".to_string(),
                false,
            )
        }),
    };
    let report = verify::verify(&VerifyOptions {
        endpoint,
        source,
        tls,
        query: !args.no_query,
        tempo: args.tempo.clone(),
        opensearch: args.opensearch.clone(),
        grafana: args.grafana.clone(),
        reach,
        timeout: std::time::Duration::from_secs(3),
        wait: std::time::Duration::from_secs(args.wait),
    });
    if args.format == Format::Json {
        let _ = writeln!(anstream::stdout(), "{}", report::json_verify(&report));
    } else {
        let _ = report::verify(&mut anstream::stderr(), &report);
    }
    Ok(if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_CHECK_FAILED)
    })
}

fn run_remove(args: &RemoveArgs) -> Result<ExitCode, Error> {
    let plan = obs_init::plan::deployment::plan_remove(&obs_init::plan::remove::RemoveRequest {
        dir: args.write.dir.clone(),
        file: args.file.clone(),
        services: args.services.clone(),
        dapr_config: args.dapr_config.clone(),
    })?;
    obs_init::plan::check_inside_dir(&args.write.dir, &plan)?;
    finish(
        &plan,
        &args.write,
        args.no_lock,
        None,
        "remove",
        "Nothing to remove: no onboarding by obs-init found".into(),
    )
}

fn run_platform(args: &PlatformArgs) -> Result<ExitCode, Error> {
    let w = &args.write;
    let interactive = w.format == Format::Text
        && !w.yes
        && io::stdin().is_terminal()
        && io::stderr().is_terminal();
    let on_conflict = conflict_policy(args.on_conflict, interactive);
    let mut prompter = interactive.then(TermPrompter::new);
    let plan = obs_init::platform::plan_platform(
        &obs_init::platform::PlatformOptions {
            dir: w.dir.clone(),
            on_conflict,
            target: match args.target {
                args::PlatformTarget::Compose => obs_init::platform::Target::Compose,
                args::PlatformTarget::Kubernetes => obs_init::platform::Target::Kubernetes,
            },
        },
        prompter.as_mut().map(|p| p as &mut dyn Prompter),
    )?;
    finish(
        &plan,
        w,
        false,
        None,
        "platform",
        format!(
            "Nothing to do: the platform's files in {} are up to date",
            w.dir.display()
        ),
    )
}

/// How every writing command ends once its plan is made: shows it (`--dry-run`), or refuses
/// over uncommitted changes, asks once where a person can answer (`prompter`), writes it
/// and reports. `mode` is the JSON `mode` when writing; `nothing` what to say when the plan
/// changes nothing.
fn finish(
    plan: &Plan,
    w: &args::WriteArgs,
    no_lock: bool,
    prompter: Option<&TermPrompter>,
    mode: &'static str,
    nothing: String,
) -> Result<ExitCode, Error> {
    let json = w.format == Format::Json;
    let mode = if w.dry_run { "dry-run" } else { mode };
    let mut out = anstream::stdout();
    let mut err = anstream::stderr();
    // Terminal output is best-effort: a closed pipe must not turn a good run into a failure.
    if plan.is_empty() || w.dry_run {
        if json {
            let _ = writeln!(out, "{}", report::json_plan(plan, mode, None));
        } else if plan.is_empty() {
            let _ = report::notes(&mut err, plan);
            let _ = writeln!(err, "{nothing}");
        } else {
            let _ = report::diff(&mut out, plan);
            let _ = report::statuses(&mut err, plan, true);
            let _ = report::relocks(&mut err, plan, no_lock);
            let _ = report::notes(&mut err, plan);
            // What would follow, so that a dry run shows the whole job.
            let _ = report::next_steps(&mut err, plan);
            let _ = writeln!(err, "dry run: nothing written");
        }
        return Ok(ExitCode::SUCCESS);
    }
    if !w.allow_dirty {
        refuse_dirty(plan, &w.dir)?;
    }
    if let Some(p) = prompter {
        let _ = report::statuses(&mut err, plan, true);
        let ask = |r: io::Result<bool>| r.map_err(|source| Error::Prompt { source });
        if ask(p.show_diff())? {
            let _ = report::diff(&mut err, plan);
        }
        if !ask(p.confirm_write())? {
            let _ = writeln!(err, "Cancelled: nothing written");
            return Ok(ExitCode::SUCCESS);
        }
    }
    apply::apply(plan)?;
    let locks = apply::refresh_locks(plan, !no_lock)?;
    if json {
        let mut doc = report::json_plan(plan, mode, None);
        doc["locks"] = report::json_locks(&locks);
        let _ = writeln!(out, "{doc}");
    } else {
        let _ = report::statuses(&mut err, plan, false);
        let _ = report::locked(&mut err, &locks);
        let _ = report::notes(&mut err, plan);
        let _ = report::next_steps_with_locks(&mut err, plan, &locks);
    }
    Ok(ExitCode::SUCCESS)
}

/// Refuses to change or delete files that have uncommitted changes in git, naming them, so
/// that obs-init's edits can be reviewed on their own.
fn refuse_dirty(plan: &Plan, dir: &Path) -> Result<(), Error> {
    // What obs-init itself wrote, unchanged since, is not the user's work to protect.
    let own: Vec<_> = plan
        .own
        .iter()
        .filter_map(|p| std::path::absolute(p).ok())
        .collect();
    let touched: Vec<_> = plan
        .files
        .iter()
        .filter(|f| matches!(f.status, Status::Update | Status::Delete))
        .map(|f| f.path.clone())
        .chain(plan.relocks.iter().map(|r| r.lock.clone()))
        .filter(|p| std::path::absolute(p).map_or(true, |p| !own.contains(&p)))
        .collect();
    let files = git::dirty(dir, &touched);
    if files.is_empty() {
        Ok(())
    } else {
        Err(Error::Dirty { files })
    }
}

/// The conflict policy: the flag's, else ask where a person can answer, else stop.
fn conflict_policy(flag: Option<OnConflict>, interactive: bool) -> ConflictPolicy {
    match flag {
        Some(OnConflict::Skip) => ConflictPolicy::Skip,
        Some(OnConflict::Overwrite) => ConflictPolicy::Overwrite,
        Some(OnConflict::Abort) => ConflictPolicy::Abort,
        Some(OnConflict::Prompt) | None if interactive => ConflictPolicy::Prompt,
        Some(OnConflict::Prompt) | None => ConflictPolicy::Abort,
    }
}

fn run(args: &Args) -> Result<ExitCode, Error> {
    let w = &args.write;
    // Prompts only where a person can answer them: never in CI, pipes or for tools.
    let interactive = w.format == Format::Text
        && !args.check
        && !w.yes
        && io::stdin().is_terminal()
        && io::stderr().is_terminal();
    let on_conflict = if args.check {
        ConflictPolicy::Skip
    } else {
        conflict_policy(args.on_conflict, interactive)
    };
    let opts = Options {
        dir: w.dir.clone(),
        file: args.file.clone(),
        services: args.services.clone(),
        yes: w.yes,
        app_port: args.app_port,
        dapr_version: args.dapr_version.clone(),
        dapr_config: args.dapr_config.clone(),
        module_path: args.module_path.clone(),
        frameworks: args.frameworks.clone(),
        dagster_home: args.dagster_home.clone(),
        fix_invalid: args.fix_invalid,
        edit_entrypoint: args.edit_entrypoint,
        on_conflict,
        overlay: args.overlay.clone(),
        no_env: args.no_env,
        mlflow_otlp: args.mlflow_otlp,
    };
    let mut prompter = interactive.then(TermPrompter::new);
    let plan = match plan(&opts, prompter.as_mut().map(|p| p as &mut dyn Prompter)) {
        // Never onboarded, and nothing says what to onboard: that is the answer to --check,
        // not a failure of it.
        Err(Error::NoServiceChosen {
            candidates,
            left_out,
        }) if args.check => {
            let named = if candidates.is_empty() {
                &left_out
            } else {
                &candidates
            };
            return Ok(check_never_onboarded(w.format, named, &w.dir));
        }
        // A repository of Kubernetes manifests alone is onboarded the Kubernetes way, unless
        // a flag only compose onboarding takes says the user meant a compose file.
        Err(Error::NoComposeFile { dir }) if args.file.is_none() => {
            let Some(example) = obs_init::plan::kubernetes::manifest_files(&dir)
                .first()
                .cloned()
            else {
                return Err(Error::NoComposeFile { dir });
            };
            if compose_only_flags(args) {
                return Err(Error::OnlyManifests {
                    example: example.strip_prefix(&dir).unwrap_or(&example).to_path_buf(),
                    dir,
                });
            }
            if w.format == Format::Text {
                let _ = report::decided(
                    &mut anstream::stderr(),
                    &format!(
                        "no compose file in {}: onboarding its Kubernetes manifests, as \
                         `obs-init kubernetes` does",
                        dir.display()
                    ),
                );
            }
            return run_kubernetes(&KubernetesArgs {
                write: WriteArgs {
                    dir: w.dir.clone(),
                    dry_run: w.dry_run,
                    allow_dirty: w.allow_dirty,
                    format: w.format,
                    yes: w.yes,
                },
                files: Vec::new(),
                workloads: args.services.clone(),
                collector: obs_init::kubernetes::CLUSTER_COLLECTOR_ADDRESS.to_string(),
                edit_base: false,
                patch_overlays: Vec::new(),
                contexts: Vec::new(),
                edit_entrypoint: args.edit_entrypoint,
                no_lock: args.no_lock,
                check: args.check,
                remove: false,
                mlflow_otlp: args.mlflow_otlp,
            });
        }
        other => other?,
    };

    // Terminal output is best-effort: a closed pipe must not turn a good run into a failure.
    if args.check {
        return Ok(check(&plan, w.format, "obs-init"));
    }
    let place = match plan
        .files
        .iter()
        .find(|f| Some(&f.path) == plan.overlay.as_ref())
    {
        Some(overlay) => format!(
            "the overlay {} over {}",
            overlay.display, plan.files[0].display
        ),
        None => plan.files[0].display.clone(),
    };
    let nothing = format!(
        "Nothing to do: {} already onboarded in {place}",
        plan.services.join(", ")
    );
    finish(&plan, w, args.no_lock, prompter.as_ref(), "apply", nothing)
}

/// Whether a flag only compose onboarding takes was given (a port, Dapr's version or
/// config, a module path, frameworks, Dagster's home, an overlay, a conflict policy): the
/// user meant a compose file, so the Kubernetes path is not taken for them.
fn compose_only_flags(args: &Args) -> bool {
    args.app_port.is_some()
        || args.dapr_version.is_some()
        || args.dapr_config.is_some()
        || args.module_path.is_some()
        || !args.frameworks.is_empty()
        || args.dagster_home.is_some()
        || args.fix_invalid
        || args.overlay.is_some()
        || args.on_conflict.is_some()
}

/// `--check` on a project obs-init never onboarded, with no `--service`: exit 3, naming
/// the command that would onboard it.
fn check_never_onboarded(format: Format, candidates: &[String], dir: &Path) -> ExitCode {
    // The commands work pasted where --check was run: with its project directory.
    let obs_init = if dir == Path::new(".") {
        "obs-init".to_string()
    } else {
        format!(
            "obs-init -C {}",
            obs_init::paths::shell_word(&dir.to_string_lossy())
        )
    };
    let command = if candidates.is_empty() {
        format!("{obs_init} --service NAME")
    } else {
        let flags: Vec<String> = candidates
            .iter()
            .map(|c| format!("--service {c}"))
            .collect();
        format!("{obs_init} {}", flags.join(" "))
    };
    if format == Format::Json {
        let doc = serde_json::json!({
            "ok": true,
            "mode": "check",
            "up_to_date": false,
            "onboarded": false,
            "help": format!("onboard it with `{command}` (add --dry-run to see the changes first)"),
        });
        let _ = writeln!(anstream::stdout(), "{doc}");
    } else {
        let _ = writeln!(
            anstream::stderr(),
            "onboarding missing: this project has no {} and no --service was given\n\
             help: onboard it with `{command}` (add --dry-run to see the changes first), or \
             check a choice with `{obs_init} --check --service NAME`",
            answers::FILE
        );
    }
    ExitCode::from(EXIT_CHECK_FAILED)
}

/// `--check`'s report and exit code: 3 when onboarding is missing or has drifted.
fn check(plan: &Plan, format: Format, command: &str) -> ExitCode {
    let drifted = drifted(plan);
    // Files as obs-init would write them are not enough: what the plan itself says is still
    // to be done (an import, a COPY line) keeps telemetry from arriving.
    let not_arriving = if drifted {
        Vec::new()
    } else {
        plan.unfinished()
    };
    let ok = !drifted && not_arriving.is_empty();
    if format == Format::Json {
        let out = report::json_plan_waiting(plan, "check", Some(ok), Some(&not_arriving));
        let _ = writeln!(anstream::stdout(), "{out}");
    } else {
        let _ = report::check(
            &mut anstream::stderr(),
            plan,
            drifted,
            &not_arriving,
            command,
        );
    }
    ExitCode::from(if ok { 0 } else { EXIT_CHECK_FAILED })
}

/// Whether `--check` fails: a file obs-init would still change, a value that differs, or a
/// lock behind its manifest. The answers file is left out: it records choices, it is not
/// onboarding.
fn drifted(plan: &Plan) -> bool {
    let changes = plan.files.iter().any(|f| {
        matches!(f.status, Status::Create | Status::Update) && !f.display.ends_with(answers::FILE)
    });
    changes || !plan.conflicts.is_empty() || !plan.relocks.is_empty()
}
