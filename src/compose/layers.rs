//! The compose files Compose reads as one project: `docker-compose.yml` then
//! `docker-compose.override.yml` when no file is named, or each `-f` in order. Compose
//! merges a service's definitions after each file's own anchors, merge keys and `extends`:
//! a later file's `command`, `image` or `network_mode` replaces an earlier one's,
//! `environment`, `labels` and `networks` add up by key, `volumes` by target.
//!
//! Onboarding reads a service through every file (an app's sidecar may be defined in one
//! file and given its command in the next), and edits each piece in the file where it
//! lives: the last file that sets the key, since that is the one Compose keeps, or the file
//! that first defines the service, for a key no file sets.

use super::inherit;
use crate::yaml::doc::{Document, Node};

/// The project's files, parsed, in Compose's order, and the one being edited.
pub(crate) struct Layers<'d> {
    /// Each file's document and its `services` mapping.
    pub files: Vec<(&'d Document, &'d Node)>,
    /// The file being edited.
    pub this: usize,
}

impl<'d> Layers<'d> {
    /// A project of one file.
    pub fn single(doc: &'d Document, services: &'d Node) -> Layers<'d> {
        Layers {
            files: vec![(doc, services)],
            this: 0,
        }
    }

    /// The service `name` as file `i` defines it (aliases followed).
    pub fn service(&self, i: usize, name: &str) -> Option<&'d Node> {
        let (doc, services) = self.files.get(i)?;
        services.get(name).map(|n| doc.resolve(n))
    }

    /// Every service name of the project, in the order the files first name them.
    pub fn names(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (_, services) in &self.files {
            for name in super::service_names(services) {
                if !out.contains(&name) {
                    out.push(name);
                }
            }
        }
        out
    }

    /// The first file defining `name`: where a key no file sets is added.
    pub fn home(&self, name: &str) -> Option<usize> {
        (0..self.files.len()).find(|&i| self.service(i, name).is_some())
    }

    /// Whether file `this` is the one that first defines `name`.
    pub fn is_home(&self, name: &str) -> bool {
        self.home(name) == Some(self.this)
    }

    /// `key` of `name` as file `i` gives it: its own, through merge keys, or from a service
    /// it extends in that file.
    pub fn effective_in(&self, i: usize, name: &str, key: &str) -> Option<&'d Node> {
        let (doc, services) = self.files.get(i)?;
        let node = self.service(i, name)?;
        let bases = inherit::bases(doc, services, name).unwrap_or_default();
        inherit::effective(doc, node, &bases, key)
    }

    /// The last file that gives `name` the key: the value Compose keeps for a key that
    /// replaces, and the file to edit for one that adds up.
    pub fn last_with(&self, name: &str, key: &str) -> Option<usize> {
        (0..self.files.len())
            .rev()
            .find(|&i| self.effective_in(i, name, key).is_some())
    }

    /// `key` of `name` as Compose ends up with it where a later file replaces it (`image`,
    /// `command`, `network_mode`), with the file it is in.
    pub fn effective(&self, name: &str, key: &str) -> Option<(usize, &'d Document, &'d Node)> {
        let i = self.last_with(name, key)?;
        let node = self.effective_in(i, name, key)?;
        Some((i, self.files[i].0, node))
    }

    /// Whether file `this` is where `key` of `name` is edited: the last file giving it, else
    /// the file that first defines the service.
    pub fn owns(&self, name: &str, key: &str) -> bool {
        self.last_with(name, key)
            .or_else(|| self.home(name))
            .is_none_or(|i| i == self.this)
    }

    /// `key` of `name` in every other file, in order, with each file's document: what adds
    /// up with this file's value.
    pub fn elsewhere(&self, name: &str, key: &str) -> Vec<(&'d Document, &'d Node)> {
        (0..self.files.len())
            .filter(|&i| i != self.this)
            .filter_map(|i| Some((self.files[i].0, self.effective_in(i, name, key)?)))
            .collect()
    }
}
