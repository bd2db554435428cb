//! The Dapr sidecar a project already runs for an app, whatever its name: daprd sharing the
//! app's network namespace (`network_mode: service:APP`), or on a network of its own calling
//! the app by name (`--app-channel-address APP`). Onboarding adopts it (adds `--config` in the
//! command's own style and the mount, keeps everything else), `remove` takes that back.

use super::inherit;
use crate::contract::{self, CONFIG_MOUNT};
use crate::daprd;
use crate::error::Refusal;
use crate::yaml::doc::{Document, Kind, Node, Style};

/// An existing daprd service serving an app.
pub(crate) struct Existing<'d> {
    pub name: String,
    /// The service's mapping.
    pub node: &'d Node,
    pub line: usize,
    /// Its command as words, its own or inherited.
    pub words: Vec<String>,
    /// It shares the app's network namespace (else it calls the app over a network).
    pub shares: bool,
    pub bases: Vec<(String, &'d Node)>,
}

/// The daprd service serving `app`; `Err` when there are
/// several (which one to give the configuration is then the project's call).
pub(crate) fn existing<'d>(
    doc: &'d Document,
    services: &'d Node,
    app: &str,
) -> Result<Option<Existing<'d>>, Refusal> {
    let mut found: Vec<Existing<'d>> = Vec::new();
    for (k, v) in services.entries().unwrap_or_default() {
        let Some(name) = k.as_str().filter(|n| *n != app) else {
            continue;
        };
        let v = doc.resolve(v);
        let bases = inherit::bases(doc, services, name).unwrap_or_default();
        let get = |key| inherit::effective(doc, v, &bases, key);
        if !get("image")
            .and_then(Node::as_str)
            .is_some_and(contract::is_daprd_image)
        {
            continue;
        }
        let words = get("command").map_or_else(Vec::new, super::words);
        let mode = get("network_mode").and_then(Node::as_str);
        let shares = mode.and_then(contract::shared_namespace) == Some(app);
        let calls =
            mode.is_none() && daprd::value(&words, "app-channel-address").as_deref() == Some(app);
        if shares || calls {
            found.push(Existing {
                name: name.to_string(),
                node: v,
                line: k.start.line + 1,
                words,
                shares,
                bases,
            });
        }
    }
    if found.len() > 1 {
        let names: Vec<String> = found.iter().map(|s| format!("`{}`", s.name)).collect();
        return Err(Refusal::SidecarConflict {
            service: app.into(),
            sidecar: found[1].name.clone(),
            line: found[1].line,
            reason: format!("it already has several Dapr sidecars: {}", names.join(", ")),
        });
    }
    Ok(found.pop())
}

/// Whether the `<app>-dapr` sidecar found is the one obs-init wrote (not adopted).
pub(crate) fn is_ours(doc: &Document, app: &str, existing: &Existing) -> bool {
    let words: Vec<&str> = existing.words.iter().map(String::as_str).collect();
    let get = |key| inherit::effective(doc, existing.node, &existing.bases, key);
    existing.name == contract::sidecar_name(app)
        && contract::is_our_sidecar(
            app,
            get("image").and_then(Node::as_str),
            get("network_mode").and_then(Node::as_str),
            &words,
        )
}

/// The name of the project's own Dapr sidecar of `app` (not one obs-init added), if any.
pub fn own_sidecar(doc: &Document, services: &Node, app: &str) -> Option<String> {
    existing(doc, services, app)
        .ok()
        .flatten()
        .filter(|e| !is_ours(doc, app, e))
        .map(|e| e.name)
}

/// What adopting a sidecar adds to it.
pub(crate) enum Adoption<'d> {
    /// It loads obs-init's configuration already, mounted: nothing to add.
    Done,
    /// `flag`: the words that pass `--config` (in the command's style), appended to the
    /// command list, or to the command string when `string`; `mount`: the volume to add,
    /// to its `volumes` when it has a list of its own (`None`: a new `volumes` key).
    Add {
        command: &'d Node,
        flag: Option<(Vec<String>, bool)>,
        mount: Option<Option<&'d Node>>,
    },
    /// It loads the project's own Configuration from `path` (in the container), which its
    /// bind mount `source` (as written) provides when known: the tracing goes into that file.
    OwnConfig {
        path: String,
        source: Option<String>,
    },
}

impl<'d> Existing<'d> {
    /// The daprd flag's value, in any of the forms daprd reads.
    pub fn flag(&self, name: &str) -> Option<String> {
        daprd::value(&self.words, name)
    }

    /// What `--config` needs, refused where the command cannot be extended in place.
    pub fn adoption(&self, doc: &'d Document, app: &str) -> Result<Adoption<'d>, Refusal> {
        let refuse = |reason: &'static str| Refusal::AdoptSidecar {
            service: app.into(),
            sidecar: self.name.clone(),
            line: self.line,
            reason,
            in_overlay: false,
        };
        let binds = self.binds(doc);
        let mounted = |target: &str| binds.iter().find(|(_, t)| t == target).map(|(s, _)| s);
        match self.flag("config") {
            Some(path) if path != CONFIG_MOUNT => {
                let source = mount_source(&binds, &path);
                return Ok(Adoption::OwnConfig { path, source });
            }
            Some(_) if mounted(CONFIG_MOUNT).is_some() => return Ok(Adoption::Done),
            _ => {}
        }
        let Some(command) = self.node.get("command") else {
            let why = if inherit::effective(doc, self.node, &self.bases, "command").is_some() {
                "its command comes from another service (a merge key or `extends`), which the \
                 edit would change too"
            } else {
                "it has no command in this file: its flags come from another compose file (an \
                 override), where `--config` has to go"
            };
            return Err(refuse(why));
        };
        if command.anchor != 0 || command.tag.is_some() || matches!(command.kind, Kind::Alias(_)) {
            return Err(refuse("its command is anchored, aliased or tagged"));
        }
        let string = match &command.kind {
            Kind::Seq { .. } => false,
            Kind::Scalar { style, .. }
                if command.start.line == command.last_line
                    && matches!(
                        style,
                        Style::Plain | Style::DoubleQuoted | Style::SingleQuoted
                    ) =>
            {
                true
            }
            _ => {
                return Err(refuse("its command is a multi-line string"));
            }
        };
        let flag = self.flag("config").is_none().then(|| {
            let style = daprd::style(&self.words);
            (daprd::words_for(style, "config", CONFIG_MOUNT), string)
        });
        let mount = match self.node.get("volumes") {
            None if inherit::effective(doc, self.node, &self.bases, "volumes").is_some() => {
                return Err(refuse(
                    "its volumes come from another service, which the edit would change too",
                ));
            }
            None => Some(None),
            Some(v) if v.anchor == 0 && v.tag.is_none() && v.items().is_some() => Some(Some(v)),
            Some(_) => {
                return Err(refuse("its `volumes` is anchored, tagged or not a list"));
            }
        };
        let mount = mount.filter(|_| mounted(CONFIG_MOUNT).is_none());
        Ok(Adoption::Add {
            command,
            flag,
            mount,
        })
    }

    /// Its bind mounts (host path as written, container path), own and inherited.
    fn binds(&self, doc: &Document) -> Vec<(String, String)> {
        inherit::effective(doc, self.node, &self.bases, "volumes")
            .map(super::binds)
            .unwrap_or_default()
    }
}

/// The host path (as written) that provides the container path `path`, among `mounts`
/// (source, target): a mount of the file itself, or of a folder above it.
pub fn mount_source(mounts: &[(String, String)], path: &str) -> Option<String> {
    mounts
        .iter()
        .find(|(_, t)| t == path)
        .map(|(s, _)| s.clone())
        .or_else(|| {
            mounts.iter().find_map(|(s, t)| {
                let rest = path.strip_prefix(t.trim_end_matches('/'))?;
                let rest = rest.strip_prefix('/')?;
                Some(format!("{}/{rest}", s.trim_end_matches('/')))
            })
        })
}

/// The metrics port daprd serves on (`None`: metrics turned off).
pub(crate) fn metrics_port(words: &[String]) -> Option<String> {
    let on = daprd::flag(words, "enable-metrics").is_none_or(|f| {
        // `--enable-metrics` alone turns them on; a value only with `=`.
        !f.inline || f.value.as_deref() != Some("false")
    });
    on.then(|| daprd::value(words, "metrics-port").unwrap_or_else(|| "9090".into()))
}
