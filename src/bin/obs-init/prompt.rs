//! The terminal prompter: every question a flag would answer, asked with dialoguer.

use std::io;

use dialoguer::theme::ColorfulTheme;
use dialoguer::{Confirm, Input, MultiSelect, Select};
use obs_init::frameworks::Framework;
use obs_init::plan::kubernetes::KustomizeMode;
use obs_init::plan::{FileConflict, Prompter};

pub struct TermPrompter {
    theme: ColorfulTheme,
}

impl TermPrompter {
    pub fn new() -> TermPrompter {
        TermPrompter {
            theme: ColorfulTheme::default(),
        }
    }

    /// Asks once, before writing: `true` to write.
    pub fn confirm_write(&self) -> io::Result<bool> {
        Confirm::with_theme(&self.theme)
            .with_prompt("Write these changes?")
            .default(true)
            .interact()
            .map_err(io::Error::other)
    }

    pub fn show_diff(&self) -> io::Result<bool> {
        Confirm::with_theme(&self.theme)
            .with_prompt("Show the diff first?")
            .default(false)
            .interact()
            .map_err(io::Error::other)
    }
}

/// Where the onboarding of a kustomize base goes: the base itself, or patches in overlays
/// (all of them, or one).
pub fn kustomize_mode(bases: &[String], overlays: &[String]) -> io::Result<KustomizeMode> {
    let mut items = vec![format!(
        "Edit the base ({}): every overlay gets it",
        bases.join(", ")
    )];
    let mut modes = vec![KustomizeMode::EditBase];
    if overlays.len() > 1 {
        items.push(format!("A patch in each overlay: {}", overlays.join(", ")));
        modes.push(KustomizeMode::PatchOverlays(
            overlays.iter().map(Into::into).collect(),
        ));
    }
    for o in overlays {
        items.push(format!("A patch in {o} only, the base untouched"));
        modes.push(KustomizeMode::PatchOverlays(vec![o.into()]));
    }
    let picked = Select::with_theme(&ColorfulTheme::default())
        .with_prompt("Kustomize overlays build on these manifests: where does the onboarding go?")
        .items(&items)
        .default(0)
        .interact()
        .map_err(io::Error::other)?;
    Ok(modes.swap_remove(picked))
}

impl Prompter for TermPrompter {
    fn choose_services(&mut self, all: &[String], suggested: &[String]) -> io::Result<Vec<String>> {
        let defaults: Vec<bool> = all.iter().map(|s| suggested.contains(s)).collect();
        let picked = MultiSelect::with_theme(&self.theme)
            .with_prompt("Services to onboard (space toggles, enter accepts)")
            .items(all)
            .defaults(&defaults)
            .interact()
            .map_err(io::Error::other)?;
        Ok(picked.into_iter().map(|i| all[i].clone()).collect())
    }

    fn app_port(&mut self, service: &str, suggested: Option<u16>) -> io::Result<Option<u16>> {
        let mut input = Input::<String>::with_theme(&self.theme)
            .with_prompt(format!("Port {service} listens on (empty: none)"))
            .allow_empty(true)
            .validate_with(|s: &String| -> Result<(), String> {
                if s.is_empty() || s.parse::<u16>().is_ok() {
                    Ok(())
                } else {
                    Err("a port number, or nothing".into())
                }
            });
        if let Some(p) = suggested {
            input = input.default(p.to_string());
        }
        let answer = input.interact_text().map_err(io::Error::other)?;
        Ok(answer.parse().ok())
    }

    fn frameworks(
        &mut self,
        service: &str,
        detected: &[(Framework, String)],
    ) -> io::Result<Vec<Framework>> {
        let labels: Vec<String> = Framework::ALL
            .iter()
            .map(|f| match detected.iter().find(|(d, _)| d == f) {
                Some((_, why)) => format!("{f}  (detected: {why})"),
                None => f.to_string(),
            })
            .collect();
        let defaults: Vec<bool> = Framework::ALL
            .iter()
            .map(|f| detected.iter().any(|(d, _)| d == f))
            .collect();
        let picked = MultiSelect::with_theme(&self.theme)
            .with_prompt(format!("What does {service} run?"))
            .items(&labels)
            .defaults(&defaults)
            .interact()
            .map_err(io::Error::other)?;
        Ok(picked.into_iter().map(|i| Framework::ALL[i]).collect())
    }

    fn edit_entrypoint(&mut self, entry_points: &[String]) -> io::Result<bool> {
        Confirm::with_theme(&self.theme)
            .with_prompt(format!(
                "Insert the instrumentation lines into {} (they flush at shutdown too)?",
                entry_points.join(", ")
            ))
            .default(true)
            .interact()
            .map_err(io::Error::other)
    }

    fn overwrite(&mut self, conflicts: &[FileConflict]) -> io::Result<bool> {
        let mut err = anstream::stderr();
        for c in conflicts {
            let _ = crate::report::conflict(&mut err, c);
        }
        // A Configuration's own tracing is kept whatever the answer: the question is about
        // the others.
        let prompt = if conflicts.iter().any(|c| c.kept_either_way) {
            "Overwrite the others with obs-init's values (the Configuration's tracing stays)?"
        } else {
            "Overwrite these with obs-init's values?"
        };
        Confirm::with_theme(&self.theme)
            .with_prompt(prompt)
            .default(false)
            .interact()
            .map_err(io::Error::other)
    }
}
