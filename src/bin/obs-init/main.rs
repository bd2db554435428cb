//! The `obs-init` binary: parses the command line, runs the library's pipeline, renders.

mod args;
mod report;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use obs_init::plan::{Options, plan};
use obs_init::{Error, apply};

use args::{Args, ColorChoice};

/// The project could not be onboarded as asked (bad input, a refusal, an I/O failure).
const EXIT_FAILURE: u8 = 1;
/// An edit failed obs-init's own verification: a bug, reported apart from user errors so
/// that scripts and bug reports can tell them apart (sysexits' EX_SOFTWARE).
const EXIT_INTERNAL: u8 = 70;

fn main() -> ExitCode {
    let args = Args::parse();
    match args.color {
        ColorChoice::Always => anstream::ColorChoice::Always.write_global(),
        ColorChoice::Never => anstream::ColorChoice::Never.write_global(),
        ColorChoice::Auto => {}
    }
    let mut err = anstream::stderr();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = report::error(&mut err, &e);
            ExitCode::from(if e.is_internal() {
                EXIT_INTERNAL
            } else {
                EXIT_FAILURE
            })
        }
    }
}

fn run(args: &Args) -> Result<(), Error> {
    let opts = Options {
        dir: args.dir.clone(),
        file: args.file.clone(),
        services: args.services.clone(),
        yes: args.yes,
        app_port: args.app_port,
        dapr_version: args.dapr_version.clone(),
        dapr_config: args.dapr_config.clone(),
        module_path: args.module_path.clone(),
        frameworks: args.frameworks.iter().map(|&f| f.into()).collect(),
        dagster_home: args.dagster_home.clone(),
        fix_invalid: args.fix_invalid,
        edit_entrypoint: args.edit_entrypoint,
    };
    let plan = plan(&opts, None)?;
    let mut out = anstream::stdout();
    let mut err = anstream::stderr();
    // Terminal output is best-effort: a closed pipe must not turn a good run into a failure.
    if plan.is_empty() {
        let _ = report::notes(&mut err, &plan.notes);
        let _ = writeln!(
            err,
            "Nothing to do: {} already onboarded in {}",
            plan.services.join(", "),
            plan.files[0].display
        );
        return Ok(());
    }
    if args.dry_run {
        let _ = report::diff(&mut out, &plan);
        let _ = report::statuses(&mut err, &plan, true);
        let _ = report::notes(&mut err, &plan.notes);
        let _ = writeln!(err, "dry run: nothing written");
        return Ok(());
    }
    apply::apply(&plan)?;
    let _ = report::statuses(&mut err, &plan, false);
    let _ = report::notes(&mut err, &plan.notes);
    let _ = report::next_steps(&mut err, &plan);
    Ok(())
}
