//! The Dapr sidecar a project already runs for an app, whatever its name: daprd sharing the
//! app's network namespace (`network_mode: service:APP`), or on a network of its own calling
//! the app by name (`--app-channel-address APP`). Onboarding adopts it (adds `--config` in the
//! command's own style and the mount, keeps everything else), `remove` takes that back.

use super::layers::Layers;
use crate::contract::{self, CONFIG_MOUNT};
use crate::daprd;
use crate::error::Refusal;
use crate::yaml::doc::{Document, Kind, Node, Style};

/// An existing daprd service serving an app.
pub(crate) struct Existing<'d> {
    pub name: String,
    /// The service's mapping in the first file that defines it.
    pub node: &'d Node,
    pub line: usize,
    /// Its command as words, its own or inherited, from the last file that gives one.
    pub words: Vec<String>,
    /// It shares the app's network namespace (else it calls the app over a network).
    pub shares: bool,
    /// Its image and network mode, as Compose ends up with them.
    pub image: Option<String>,
    pub mode: Option<String>,
    /// Its bind mounts (host path as written, container path) through every file: a later
    /// file's mount of a target replaces an earlier one's.
    pub binds: Vec<(String, String)>,
    /// The file its command is in (`None`: no file gives it one).
    pub command_in: Option<usize>,
}

/// The daprd service serving `app` in a one-file project; `Err` when there are several.
pub(crate) fn existing<'d>(
    doc: &'d Document,
    services: &'d Node,
    app: &str,
) -> Result<Option<Existing<'d>>, Refusal> {
    existing_in(&Layers::single(doc, services), app)
}

/// The daprd service serving `app`, read through every file of the project; `Err` when
/// there are several (which one to give the configuration is then the project's call).
pub(crate) fn existing_in<'d>(
    layers: &Layers<'d>,
    app: &str,
) -> Result<Option<Existing<'d>>, Refusal> {
    let mut found: Vec<Existing<'d>> = Vec::new();
    for name in layers.names() {
        if name == app {
            continue;
        }
        let get = |key| layers.effective(&name, key).map(|(_, _, n)| n);
        let image = get("image").and_then(Node::as_str);
        if !image.is_some_and(contract::is_daprd_image) {
            continue;
        }
        let (words, command_in) = match layers.effective(&name, "command") {
            Some((i, _, n)) => (super::words(n), Some(i)),
            None => (Vec::new(), None),
        };
        let mode = get("network_mode").and_then(Node::as_str);
        let shares = mode.and_then(contract::shared_namespace) == Some(app);
        let calls =
            mode.is_none() && daprd::value(&words, "app-channel-address").as_deref() == Some(app);
        if !(shares || calls) {
            continue;
        }
        let home = layers
            .home(&name)
            .expect("a name of the project has a file");
        let (doc, services) = layers.files[home];
        let (key, node) = services.get_entry(&name).expect("defined there");
        let mut binds: Vec<(String, String)> = Vec::new();
        for i in 0..layers.files.len() {
            for (source, target) in layers
                .effective_in(i, &name, "volumes")
                .map(super::binds)
                .unwrap_or_default()
            {
                binds.retain(|(_, t)| *t != target);
                binds.push((source, target));
            }
        }
        found.push(Existing {
            image: image.map(String::from),
            mode: mode.map(String::from),
            node: doc.resolve(node),
            line: key.start.line + 1,
            words,
            shares,
            binds,
            command_in,
            name,
        });
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
pub(crate) fn is_ours(app: &str, existing: &Existing) -> bool {
    let words: Vec<&str> = existing.words.iter().map(String::as_str).collect();
    existing.name == contract::sidecar_name(app)
        && contract::is_our_sidecar(
            app,
            existing.image.as_deref(),
            existing.mode.as_deref(),
            &words,
        )
}

/// The name of the project's own Dapr sidecar of `app` (not one obs-init added), if any.
pub fn own_sidecar(doc: &Document, services: &Node, app: &str) -> Option<String> {
    existing(doc, services, app)
        .ok()
        .flatten()
        .filter(|e| !is_ours(app, e))
        .map(|e| e.name)
}

/// What adopting a sidecar adds to it.
pub(crate) enum Adoption<'d> {
    /// It loads obs-init's configuration already, mounted: nothing to add.
    Done,
    /// `flag`: the words that pass `--config` (in the command's style), appended to the
    /// command list, or to the command string when `string`; `mount`: the volume to add,
    /// to its `volumes` when it has a list of its own (`None`: a new `volumes` key in
    /// `service`). Each in the file it is in: `command_in`, `mount_in`.
    Add {
        command: &'d Node,
        command_in: usize,
        flag: Option<(Vec<String>, bool)>,
        mount: Option<Option<&'d Node>>,
        mount_in: usize,
        service: &'d Node,
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

    /// What `--config` needs, refused where the command cannot be extended in place. The
    /// flag goes into the file that gives the command (Compose takes a command whole from
    /// the last file that sets one), the mount beside the last `volumes` (merged by target).
    pub fn adoption(&self, layers: &Layers<'d>, app: &str) -> Result<Adoption<'d>, Refusal> {
        let refuse = |reason: &'static str| Refusal::AdoptSidecar {
            service: app.into(),
            sidecar: self.name.clone(),
            line: self.line,
            reason,
            in_overlay: false,
        };
        let mounted = |target: &str| self.binds.iter().any(|(_, t)| t == target);
        match self.flag("config") {
            Some(path) if path != CONFIG_MOUNT => {
                let source = mount_source(&self.binds, &path);
                return Ok(Adoption::OwnConfig { path, source });
            }
            Some(_) if mounted(CONFIG_MOUNT) => return Ok(Adoption::Done),
            _ => {}
        }
        let Some(command_in) = self.command_in else {
            return Err(refuse(if layers.files.len() == 1 {
                "it has no command in this file: its flags come from another compose file (an \
                 override), where `--config` has to go"
            } else {
                "none of the project's compose files gives it a command, so daprd runs with its \
                 defaults: give it its flags (`--app-id`, `--config`) first"
            }));
        };
        let node = layers
            .service(command_in, &self.name)
            .expect("the command's file defines the service");
        let Some(command) = node.get("command") else {
            return Err(refuse(
                "its command comes from another service (a merge key or `extends`), which the \
                 edit would change too",
            ));
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
        // The mount joins the volumes of the last file that lists some, else the command's.
        let mount_in = layers
            .last_with(&self.name, "volumes")
            .unwrap_or(command_in);
        let service = layers
            .service(mount_in, &self.name)
            .expect("the volumes' file defines the service");
        let mount = match service.get("volumes") {
            None if layers
                .effective_in(mount_in, &self.name, "volumes")
                .is_some() =>
            {
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
        let mount = mount.filter(|_| !mounted(CONFIG_MOUNT));
        Ok(Adoption::Add {
            command,
            command_in,
            flag,
            mount,
            mount_in,
            service,
        })
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
