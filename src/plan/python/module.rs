//! The module itself, and how the app is to use it: edited into its entry point, or told.

use std::path::{Path, PathBuf};

use super::target::{PythonOptions, Target};
use crate::compose::{Note, NoteKind};
use crate::conflict::{Conflict, FileConflict};
use crate::contract;
use crate::error::Error;
use crate::files::{read_optional, read_text};
use crate::frameworks::{self, Hook, Place};
use crate::paths::display;
use crate::plan::{FileChange, Plan, Status, Waiting};
use crate::python::{self, Ownership};

/// The module itself, and how the app is to use it (edited in, or told as a next step).
pub(super) fn plan_module(
    opts: &PythonOptions,
    target: &Target,
    module_path: &Path,
    plan: &mut Plan,
) -> Result<(), Error> {
    let service = &target.service;
    let module = module_change(opts, module_path)?;
    let module_dir = module_path.parent().unwrap_or(Path::new("."));
    if module.status == Status::Kept {
        plan.conflicts.push(FileConflict {
            file: module.display.clone(),
            conflict: Conflict {
                service: Some(service.clone()),
                what: "it was changed by hand (--dry-run shows how it differs)".into(),
                line: None,
            },
            kept_either_way: false,
        });
    }
    plan.push(module);
    plan.claim(module_path, service, None);
    // An image that copies the app's files one by one would not have the module: a setup
    // line importing it would stop the app, so none is inserted or asked for.
    if let Some(copy) = target.module_copy_missing(module_path) {
        plan.notes.push(Note {
            service: Some(service.clone()),
            message: format!(
                "{} copies files from {} one by one, so the image would not have {}: the \
                 setup lines are not added (the app would fail at import); add `{copy}` to it, \
                 then run obs-init again",
                target.dockerfile.as_deref().unwrap_or("Dockerfile"),
                display(&opts.dir, module_dir),
                display(&opts.dir, module_path)
            ),
            kind: NoteKind::Action,
        });
        return Ok(());
    }

    let web = frameworks::web_app(&target.frameworks);
    let import = python::import_line(
        module_dir,
        web.map_or("setup_observability", |w| w.instrument),
    );
    // The entry point the module was put beside; a Django project serves both of its
    // application modules (wsgi.py and asgi.py), so both are edited.
    let (names, every) = frameworks::hook_files(&target.frameworks, contract::WEB_ENTRY_POINTS);
    let mut entries = names
        .iter()
        .map(|n| module_dir.join(n))
        .filter(|p| p.is_file());
    // The file the container's server imports the app from, when it is beside the module,
    // is the entry point whatever its name (`shop/api.py`).
    let served = target
        .context
        .as_deref()
        .and_then(|ctx| super::locate::served_file(target, ctx))
        .map(|(file, _)| file)
        .filter(|f| f.parent() == Some(module_dir));
    // Else the one file beside the module that builds the app (`create_app()` in a
    // package's __init__.py).
    let builder = || match web.map(|w| python::find_app_module_any(module_dir, w)) {
        Some(Some(found)) => vec![found],
        _ => Vec::new(),
    };
    let entries: Vec<PathBuf> = if every {
        entries.collect()
    } else if let Some(served) = served {
        vec![served]
    } else {
        match entries.next() {
            Some(first) => vec![first],
            None => builder(),
        }
    };
    // The service needs the setup lines there, whoever inserted them.
    for entry in entries.iter().filter(|_| web.is_some()) {
        plan.claim(entry, service, None);
    }
    let entry = entries
        .first()
        .cloned()
        .unwrap_or_else(|| module_dir.join("main.py"));
    if let Some(web) = web.filter(|_| opts.edit_entrypoint && !entries.is_empty()) {
        for entry in &entries {
            plan_entry_edit(opts, service, entry, &import, web, plan)?;
        }
    } else if let Some(web) = web {
        // With one entry point found, the terminal flow offers to make the edit itself.
        if !entries.is_empty() {
            plan.entry_points
                .extend(entries.iter().map(|e| display(&opts.dir, e)));
        }
        let default_name = if web.before { "application" } else { "app" };
        let (name, constructor) = python::app_variable(&entry, web)
            .unwrap_or_else(|| (default_name.to_string(), web.constructors[0]));
        let (place, call) = if web.before {
            ("before", format!("{}()", web.instrument))
        } else {
            ("after", format!("{}({name})", web.instrument))
        };
        let step = format!(
            "add to {}, {place} `{name} = {constructor}(...)`:\n       {import}\n       \
             {call}\n     (or run again with --edit-entrypoint; it also flushes at shutdown)",
            display(&opts.dir, &entry),
        );
        push_step_once(plan, service, step);
        // Every entry point the server may load must call it (Django's wsgi.py and asgi.py).
        let missing: Vec<&PathBuf> = entries.iter().filter(|e| !imports_module(e)).collect();
        if let Some(file) = missing.first() {
            wait_for_import(
                opts,
                plan,
                service,
                file,
                format!("`{import}` and `{call}`"),
            );
        } else if entries.is_empty() {
            // No file beside the module builds the app: nothing imports it yet.
            let shown = display(&opts.dir, module_path);
            plan.waiting.push(Waiting::in_file(
                service,
                shown.clone(),
                format!(
                    "no file beside {shown} builds the {constructor} app, so nothing the \
                     service runs imports the module: none of its spans or logs arrive"
                ),
                format!("add `{import}` and `{call}` where the app is built"),
            ));
        }
    }
    let app_hook = frameworks::app_module_hook(&target.frameworks);
    // The module that builds the app at top level, else the one the launcher names (`celery
    // -A hello.app`), whose factory may build it (`celery = Celery(...)` in make_celery()),
    // else the one file beside the module that builds it in a factory: a service that only
    // sends tasks (the web app) names no launcher, and imports the same module.
    let app_module = app_hook.and_then(|h| {
        python::find_app_module(module_dir, h)
            .or_else(|| {
                let Place::AppModule {
                    flags,
                    package_file,
                    ..
                } = h.place
                else {
                    return None;
                };
                let ctx = target.context.as_deref()?;
                python::app_file(ctx, &target.run_commands(), flags, package_file)
                    .filter(|f| f.parent() == Some(module_dir))
            })
            .or_else(|| python::find_app_module_any(module_dir, h))
    });
    if let Some(found) = &app_module {
        plan.claim(found, service, None);
    }
    if let (Some(hook), Some(found), true) = (app_hook, app_module.clone(), opts.edit_entrypoint) {
        let import = python::import_line(module_dir, hook.instrument);
        plan_entry_edit(opts, service, &found, &import, hook, plan)?;
    } else if let Some(hook) = app_hook {
        let Place::AppModule { launcher, why, .. } = hook.place else {
            unreachable!("an app-module hook")
        };
        let import = python::import_line(module_dir, hook.instrument);
        let (name, constructor) = app_module
            .as_deref()
            .and_then(|m| python::app_variable(m, hook))
            .unwrap_or_else(|| ("app".to_string(), hook.constructors[0]));
        let (module, again) = match &app_module {
            Some(found) => (
                display(&opts.dir, found),
                "; or run again with --edit-entrypoint",
            ),
            None => (
                format!(
                    "the module that builds the {constructor} app (the one `{launcher}` names)"
                ),
                "",
            ),
        };
        let step = format!(
            "add to {module}, after `{name} = {constructor}(...)`:\n       {import}\n       \
             {}({name})\n     ({why}{again})",
            hook.instrument
        );
        push_step_once(plan, service, step);
        if !app_module.as_deref().is_some_and(imports_module) {
            let file = app_module
                .clone()
                .unwrap_or_else(|| module_dir.to_path_buf());
            let call = format!("`{import}` and `{}({name})`", hook.instrument);
            wait_for_import(opts, plan, service, &file, call);
        }
    } else if web.is_none() && !frameworks::any(&target.frameworks, |r| r.code_location) {
        // The script the container runs, else any file beside the module, may call it.
        let script = target
            .context
            .as_deref()
            .and_then(|ctx| super::locate::script_run(target, ctx))
            .map(|(file, _)| file)
            .filter(|f| f.parent() == Some(module_dir));
        let code = match &script {
            Some(script) => display(&opts.dir, script),
            None => format!(
                "the code that starts the service, beside {}",
                display(&opts.dir, &module_dir.join(python::MODULE_FILE))
            ),
        };
        plan.next_steps.push(format!(
            "{service}: add to {code}, at start-up:\n       {import}\n       \
             setup_observability()"
        ));
        let calls = match &script {
            Some(script) => imports_module(script),
            None => std::fs::read_dir(module_dir)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "py"))
                .any(|p| imports_module(&p)),
        };
        if !calls {
            let file = script.unwrap_or_else(|| module_dir.to_path_buf());
            let shown = display(&opts.dir, &file);
            plan.waiting.push(Waiting::in_file(
                service,
                shown.clone(),
                format!(
                    "{shown} does not import setup_observability: the records the service \
                     logs, and any span it starts, do not arrive"
                ),
                format!("add `{import}` and call `setup_observability()` at start-up"),
            ));
        }
    }
    Ok(())
}

/// Whether the file imports the module (an unreadable file does not).
fn imports_module(file: &Path) -> bool {
    std::fs::read_to_string(file).is_ok_and(|s| python::imports_module(&s).is_some())
}

/// Records that `file`, which the service runs, does not import the module yet: nothing of
/// the app's arrives until the lines of the next step are there.
fn wait_for_import(
    opts: &PythonOptions,
    plan: &mut Plan,
    service: &str,
    file: &Path,
    lines: String,
) {
    let shown = display(&opts.dir, file);
    if plan.waiting.iter().any(|w| w.file == shown) {
        return;
    }
    plan.waiting.push(Waiting::in_file(
        service,
        shown.clone(),
        format!(
            "{shown} does not import setup_observability: the service runs this code, so none \
             of its spans or logs arrive"
        ),
        format!("add {lines} (the next step), or run obs-init again with --edit-entrypoint"),
    ));
}

/// Plans inserting `import` and `web`'s instrument call into `entry`, or notes why not.
fn plan_entry_edit(
    opts: &PythonOptions,
    service: &str,
    entry: &Path,
    import: &str,
    web: Hook,
    plan: &mut Plan,
) -> Result<(), Error> {
    let dir = entry.parent().unwrap_or(Path::new("."));
    // isort's first party: modules beside the entry point.
    let local =
        |m: &str| !m.is_empty() && (dir.join(format!("{m}.py")).is_file() || dir.join(m).is_dir());
    let source = read_text(entry)?;
    match python::edit_entry(&source, import, web, &local) {
        Ok(None) => {}
        Ok(Some(after)) => plan.push(FileChange {
            path: entry.to_path_buf(),
            display: display(&opts.dir, entry),
            before: Some(source),
            after,
            status: Status::Update,
        }),
        Err(why) => plan.notes.push(Note {
            service: Some(service.to_string()),
            message: format!("{} was not edited: {why}", display(&opts.dir, entry)),
            kind: NoteKind::Action,
        }),
    }
    Ok(())
}

/// Adds `service: step` unless another service already has the same step: services built
/// from one folder (a web app and its worker) share the module and its edits.
fn push_step_once(plan: &mut Plan, service: &str, step: String) {
    if !plan.next_steps.iter().any(|s| s.ends_with(&step)) {
        plan.next_steps.push(format!("{service}: {step}"));
    }
}

fn module_change(opts: &PythonOptions, path: &Path) -> Result<FileChange, Error> {
    let wanted = python::render();
    let display = display(&opts.dir, path);
    let existing = read_optional(path)?;
    let (status, before) = match existing {
        None => (Status::Create, None),
        Some(old) if old == wanted => (Status::Unchanged, Some(old)),
        Some(old) if python::ownership(&old) == Ownership::Ours => (Status::Update, Some(old)),
        Some(old) => (Status::Kept, Some(old)),
    };
    Ok(FileChange {
        path: path.to_path_buf(),
        display,
        before,
        after: wanted,
        status,
    })
}
