//! Everything the binary shows: diffs, status lines, notes and errors.

use std::io::{self, Write};

use anstyle::{AnsiColor, Style};
use obs_init::Error;
use obs_init::apply::LockOutcome;
use obs_init::error::Location;
use obs_init::lock::Relock;
use obs_init::paths::shown;
use obs_init::plan::{FileChange, FileConflict, Plan, Status};
use serde_json::{Value, json};
use similar::{ChangeTag, TextDiff};

const BOLD: Style = Style::new().bold();
const RED: Style = AnsiColor::Red.on_default();
const GREEN: Style = AnsiColor::Green.on_default();
const CYAN: Style = AnsiColor::Cyan.on_default();
const YELLOW: Style = AnsiColor::Yellow.on_default().bold();
const ERROR: Style = AnsiColor::Red.on_default().bold();
const STATUS: Style = AnsiColor::Green.on_default().bold();

/// The unified diff of every file the plan changes.
pub fn diff(out: &mut dyn Write, plan: &Plan) -> io::Result<()> {
    for file in plan.files.iter().filter(|f| f.status != Status::Unchanged) {
        let before = file.before.as_deref().unwrap_or("");
        let old_name = match file.status {
            Status::Create => "/dev/null".to_string(),
            _ => format!("a/{}", file.display),
        };
        let new_name = match file.status {
            Status::Delete => "/dev/null".to_string(),
            _ => format!("b/{}", file.display),
        };
        if file.status == Status::Kept {
            writeln!(
                out,
                "{YELLOW}# {} was changed by hand and is left alone; obs-init would write:{YELLOW:#}",
                file.display
            )?;
        }
        writeln!(out, "{BOLD}--- {old_name}{BOLD:#}")?;
        writeln!(out, "{BOLD}+++ {new_name}{BOLD:#}")?;
        let diff = TextDiff::from_lines(before, &file.after);
        for hunk in diff.unified_diff().context_radius(3).iter_hunks() {
            writeln!(out, "{CYAN}{}{CYAN:#}", hunk.header())?;
            for change in hunk.iter_changes() {
                let (sign, style) = match change.tag() {
                    ChangeTag::Delete => ('-', RED),
                    ChangeTag::Insert => ('+', GREEN),
                    ChangeTag::Equal => (' ', Style::new()),
                };
                let line = change.value();
                let line = line.strip_suffix('\n').unwrap_or(line);
                let line = line.strip_suffix('\r').unwrap_or(line);
                writeln!(out, "{style}{sign}{line}{style:#}")?;
                if change.missing_newline() {
                    writeln!(out, "\\ No newline at end of file")?;
                }
            }
        }
    }
    Ok(())
}

/// One line per file: what happened (or would happen) to it.
pub fn statuses(err: &mut dyn Write, plan: &Plan, dry_run: bool) -> io::Result<()> {
    for file in &plan.files {
        let verb = match (file.status, dry_run) {
            (Status::Create, false) => "Created",
            (Status::Create, true) => "Would create",
            (Status::Update, false) => "Updated",
            (Status::Update, true) => "Would update",
            (Status::Unchanged, _) => "Unchanged",
            (Status::Kept, _) => "Kept",
            (Status::Delete, false) => "Deleted",
            (Status::Delete, true) => "Would delete",
        };
        writeln!(err, "{STATUS}{verb:>12}{STATUS:#} {}", file.display)?;
    }
    Ok(())
}

pub fn conflict(err: &mut dyn Write, c: &FileConflict) -> io::Result<()> {
    let at = match c.conflict.line {
        Some(line) => format!("{}:{line}", c.file),
        None => c.file.clone(),
    };
    let who = c
        .conflict
        .service
        .as_ref()
        .map(|s| format!("{s}: "))
        .unwrap_or_default();
    writeln!(
        err,
        "{YELLOW}conflict{YELLOW:#}: {who}{} ({at}; kept)",
        c.conflict.what
    )
}

/// `--check`'s report: what is missing or differs, or that all is up to date; `command` is
/// what fixes it (`obs-init`, `obs-init kubernetes`).
pub fn check(
    err: &mut dyn Write,
    plan: &Plan,
    drifted: bool,
    not_arriving: &[obs_init::plan::Waiting],
    command: &str,
) -> io::Result<()> {
    if !drifted && not_arriving.is_empty() {
        return writeln!(
            err,
            "Up to date: {} onboarded as obs-init would do it",
            plan.services.join(", ")
        );
    }
    if !drifted {
        for w in not_arriving {
            let who = w
                .service
                .as_deref()
                .map(|s| format!("{s}: "))
                .unwrap_or_default();
            writeln!(
                err,
                "{ERROR}not arriving{ERROR:#}{BOLD}: {who}{}{BOLD:#}",
                w.what
            )?;
            let at = match w.line {
                Some(line) => format!("{}:{line}", w.file),
                None => w.file.clone(),
            };
            if !w.file.is_empty() {
                writeln!(err, "  {CYAN}-->{CYAN:#} {at}")?;
            }
            writeln!(err, "{BOLD}help{BOLD:#}: {}", w.fix)?;
        }
        return writeln!(
            err,
            "{} onboarded as obs-init would do it, but telemetry cannot arrive until the above \
             is done",
            plan.services.join(", ")
        );
    }
    for file in &plan.files {
        let verb = match file.status {
            Status::Create => "Missing",
            Status::Update => "Outdated",
            Status::Unchanged | Status::Kept | Status::Delete => continue,
        };
        writeln!(err, "{STATUS}{verb:>12}{STATUS:#} {}", file.display)?;
    }
    for r in &plan.relocks {
        writeln!(
            err,
            "{STATUS}{:>12}{STATUS:#} {} ({}; `{}` in {} brings it up to date)",
            "Stale",
            shown(&r.lock),
            lacking(r),
            r.command_line(),
            shown(&r.dir)
        )?;
    }
    for c in &plan.conflicts {
        conflict(err, c)?;
    }
    writeln!(
        err,
        "onboarding is missing or has drifted: run {command} (--dry-run shows what it would do)"
    )
}

/// The plan as tools read it (`--format json`): serialised from the plan's own types, so
/// that it says what the text says.
#[derive(serde::Serialize)]
struct PlanJson<'a> {
    ok: bool,
    mode: &'a str,
    services: &'a [String],
    files: Vec<FileJson<'a>>,
    notes: &'a [obs_init::compose::Note],
    conflicts: &'a [obs_init::conflict::FileConflict],
    next_steps: &'a [String],
    locks: &'a [Relock],
    #[serde(skip_serializing_if = "Option::is_none")]
    up_to_date: Option<bool>,
    /// `--check`: what keeps telemetry from arriving although the files are up to date.
    #[serde(skip_serializing_if = "Option::is_none")]
    not_arriving: Option<&'a [obs_init::plan::Waiting]>,
}

#[derive(serde::Serialize)]
struct FileJson<'a> {
    path: &'a str,
    status: Status,
    diff: String,
}

pub fn json_plan(plan: &Plan, mode: &str, up_to_date: Option<bool>) -> Value {
    json_plan_waiting(plan, mode, up_to_date, None)
}

/// [`json_plan`] with what `--check` found keeping telemetry from arriving.
pub fn json_plan_waiting(
    plan: &Plan,
    mode: &str,
    up_to_date: Option<bool>,
    not_arriving: Option<&[obs_init::plan::Waiting]>,
) -> Value {
    let doc = PlanJson {
        ok: true,
        mode,
        services: &plan.services,
        files: plan
            .files
            .iter()
            .map(|f| FileJson {
                path: &f.display,
                status: f.status,
                diff: unified(f),
            })
            .collect(),
        notes: &plan.notes,
        conflicts: &plan.conflicts,
        next_steps: &plan.next_steps,
        locks: &plan.relocks,
        up_to_date,
        not_arriving,
    };
    serde_json::to_value(doc).unwrap_or(Value::Null)
}

/// An error as tools read it: what the text shows, field by field.
#[derive(serde::Serialize)]
struct ErrorJson {
    message: String,
    file: Option<String>,
    line: Option<usize>,
    column: Option<usize>,
    help: Option<String>,
    internal: bool,
}

pub fn json_error(e: &Error) -> Value {
    let location = e.location();
    let pos = location.as_ref().and_then(|(_, pos)| *pos);
    let error = ErrorJson {
        message: e.to_string(),
        file: location
            .as_ref()
            .map(|(path, _)| obs_init::paths::shown(path)),
        line: pos.map(|p| p.line),
        column: pos.and_then(|p| p.col),
        help: e.help(),
        internal: e.is_internal(),
    };
    json!({ "ok": false, "error": error })
}

/// A file's unified diff as plain text (empty when unchanged).
fn unified(f: &FileChange) -> String {
    if f.status == Status::Unchanged {
        return String::new();
    }
    let old = match f.status {
        Status::Create => "/dev/null".to_string(),
        _ => format!("a/{}", f.display),
    };
    let new = match f.status {
        Status::Delete => "/dev/null".to_string(),
        _ => format!("b/{}", f.display),
    };
    TextDiff::from_lines(f.before.as_deref().unwrap_or(""), &f.after)
        .unified_diff()
        .context_radius(3)
        .header(&old, &new)
        .to_string()
}

/// A choice obs-init made before any plan, as a plan's `decided:` note reads.
pub fn decided(err: &mut dyn Write, message: &str) -> io::Result<()> {
    writeln!(err, "{CYAN}decided{CYAN:#}: {message}")
}

/// The conflicts kept as they are, then the notes by what they ask of the reader: what
/// obs-init decided, what is worth knowing, and last what needs the user's action. One line
/// each.
pub fn notes(err: &mut dyn Write, plan: &Plan) -> io::Result<()> {
    use obs_init::compose::NoteKind;
    for c in &plan.conflicts {
        conflict(err, c)?;
    }
    for (kind, label, style) in [
        (NoteKind::Decided, "decided", CYAN),
        (NoteKind::Info, "note", YELLOW),
        (NoteKind::Action, "action", ERROR),
    ] {
        for note in plan.notes.iter().filter(|n| n.kind == kind) {
            let who = note
                .service
                .as_ref()
                .map(|s| format!("{s}: "))
                .unwrap_or_default();
            writeln!(err, "{style}{label}{style:#}: {who}{}", note.message)?;
        }
    }
    Ok(())
}

pub fn next_steps(err: &mut dyn Write, plan: &Plan) -> io::Result<()> {
    next_steps_with_locks(err, plan, &[])
}

/// The plan's next steps, then the lock refreshes left to the user.
pub fn next_steps_with_locks(
    err: &mut dyn Write,
    plan: &Plan,
    locks: &[(Relock, LockOutcome)],
) -> io::Result<()> {
    let lock_steps = locks.iter().filter_map(|(r, outcome)| {
        let why = match outcome {
            LockOutcome::Locked => return None,
            LockOutcome::NotInstalled => format!("{} is not installed here", r.command[0]),
            LockOutcome::Left => "--no-lock".to_string(),
        };
        let run = if shown(&r.dir) == "." {
            r.command_line()
        } else {
            format!("cd {} && {}", shown(&r.dir), r.command_line())
        };
        Some(format!(
            "bring {} up to date ({why}; {}): {run}",
            shown(&r.lock),
            r.tool.stale_effect()
        ))
    });
    let steps: Vec<String> = plan.next_steps.iter().cloned().chain(lock_steps).collect();
    if steps.is_empty() {
        return Ok(());
    }
    writeln!(err)?;
    writeln!(err, "{BOLD}Next steps{BOLD:#}")?;
    for (i, step) in steps.iter().enumerate() {
        writeln!(err, "  {}. {step}", i + 1)?;
    }
    Ok(())
}

/// A dry run's line per lock: what obs-init would run after writing.
pub fn relocks(err: &mut dyn Write, plan: &Plan, no_lock: bool) -> io::Result<()> {
    for r in &plan.relocks {
        let (verb, how) = if no_lock {
            ("Would leave", "--no-lock: the next steps say what to run")
        } else {
            ("Would lock", "after writing, when the tool is installed")
        };
        writeln!(
            err,
            "{STATUS}{verb:>12}{STATUS:#} {} (`{}` in {}, {how})",
            shown(&r.lock),
            r.command_line(),
            shown(&r.dir)
        )?;
    }
    Ok(())
}

/// One line per lock refreshed after writing.
pub fn locked(err: &mut dyn Write, locks: &[(Relock, LockOutcome)]) -> io::Result<()> {
    for (r, _) in locks.iter().filter(|(_, o)| *o == LockOutcome::Locked) {
        writeln!(
            err,
            "{STATUS}{:>12}{STATUS:#} {} ({})",
            "Locked",
            shown(&r.lock),
            r.command_line()
        )?;
    }
    Ok(())
}

/// The locks with what became of each, for `--format json`.
pub fn json_locks(locks: &[(Relock, LockOutcome)]) -> Value {
    Value::Array(
        locks
            .iter()
            .map(|(r, outcome)| {
                let mut v = serde_json::to_value(r).unwrap_or(Value::Null);
                v["outcome"] = serde_json::to_value(outcome).unwrap_or(Value::Null);
                v
            })
            .collect(),
    )
}

/// What a stale lock lacks, as `--check` says it.
fn lacking(r: &Relock) -> String {
    if r.missing.is_empty() {
        "its manifest changed since".into()
    } else {
        format!("it does not lock {}", r.missing.join(", "))
    }
}

pub fn error(err: &mut dyn Write, e: &Error) -> io::Result<()> {
    writeln!(err, "{ERROR}error{ERROR:#}{BOLD}: {e}{BOLD:#}")?;
    if let Some((path, pos)) = e.location() {
        let path = obs_init::paths::shown(&path);
        let at = match pos {
            Some(Location {
                line,
                col: Some(col),
            }) => format!("{path}:{line}:{col}"),
            Some(Location { line, col: None }) => format!("{path}:{line}"),
            None => path,
        };
        writeln!(err, "  {CYAN}-->{CYAN:#} {at}")?;
    }
    if let Some(help) = e.help() {
        writeln!(err, "{BOLD}help{BOLD:#}: {help}")?;
    }
    // A failed write may come after others succeeded; every other error stops before any.
    if !matches!(e, Error::Write { .. } | Error::PartialWrite { .. }) {
        writeln!(err, "nothing was written")?;
    }
    Ok(())
}

/// `doctor`'s findings, most severe first, and a closing count.
pub fn findings(err: &mut dyn Write, findings: &[obs_init::doctor::Finding]) -> io::Result<()> {
    use obs_init::doctor::Severity;
    let mut sorted: Vec<_> = findings.iter().collect();
    sorted.sort_by_key(|f| f.severity != Severity::Error);
    for f in &sorted {
        let (label, style) = match f.severity {
            Severity::Error => ("error", ERROR),
            Severity::Warning => ("warning", YELLOW),
        };
        writeln!(err, "{style}{label}{style:#}{BOLD}: {}{BOLD:#}", f.message)?;
        let at = match f.line {
            Some(line) => format!("{}:{line}", f.file),
            None => f.file.clone(),
        };
        // A finding whose message names its files has none of its own.
        if !f.file.is_empty() {
            writeln!(err, "  {CYAN}-->{CYAN:#} {at}")?;
        }
        writeln!(err, "{BOLD}help{BOLD:#}: {}", f.fix)?;
    }
    let errors = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    let warnings = findings.len() - errors;
    if findings.is_empty() {
        writeln!(err, "No problems found")
    } else {
        writeln!(err, "{errors} error(s), {warnings} warning(s)")
    }
}

/// `obs-init verify`'s hops, one line each, with the fix under a failed one.
pub fn verify(err: &mut dyn Write, report: &obs_init::verify::Report) -> io::Result<()> {
    use obs_init::verify::Outcome;
    writeln!(
        err,
        "{BOLD}Canary{BOLD:#} trace {} to {}",
        report.trace_id, report.collector
    )?;
    for hop in &report.hops {
        let (label, style) = match hop.outcome {
            Outcome::Ok => ("ok", GREEN),
            Outcome::Failed => ("FAILED", ERROR),
            Outcome::Skipped => ("skipped", YELLOW),
        };
        writeln!(
            err,
            "  {style}{label:<7}{style:#} {:<10} {}",
            hop.name, hop.detail
        )?;
        if let Some(fix) = &hop.fix {
            writeln!(err, "  {BOLD}help{BOLD:#}: {fix}")?;
        }
    }
    if let Some(link) = &report.grafana {
        writeln!(err, "Grafana: {link}")?;
    }
    if report.ok() {
        writeln!(err, "The platform received the canary")
    } else {
        writeln!(err, "The canary did not make it: see the failed hop")
    }
}

pub fn json_verify(report: &obs_init::verify::Report) -> Value {
    json!({ "ok": report.ok(), "verify": report })
}

pub fn json_findings(findings: &[obs_init::doctor::Finding]) -> Value {
    use obs_init::doctor::Severity;
    json!({
        "ok": !findings.iter().any(|f| f.severity == Severity::Error),
        "findings": findings,
    })
}
