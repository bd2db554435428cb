//! The Dapr Configuration that turns on tracing to the collector.

use crate::contract::COLLECTOR_ADDRESS;
use crate::yaml::doc::{Document, Node};
use crate::yaml::emit::{self, NewNode};
use crate::yaml::model::{Data, Value};
use crate::yaml::splice::Editor;
use crate::yaml::text::Text;
use crate::yaml::verify;

/// The file obs-init writes, embedded at build time.
pub const CONFIG_TEMPLATE: &str = include_str!("../templates/dapr-config.yml");

/// Whether an existing Dapr configuration exports traces to an OTLP collector over plaintext
/// gRPC; `Err` says what is missing, in the terms of the file.
pub fn check_config(content: &str) -> Result<(), String> {
    let text = Text::new(content);
    let doc = Document::parse(&text).map_err(|_| "it is not valid YAML".to_string())?;
    let root = doc.root.as_ref().ok_or("it is empty")?;
    let value = |node: Option<&Node>| node.map(|n| Value::from_node(doc.resolve(n)).data);
    let otel = root
        .get("spec")
        .and_then(|s| s.get("tracing"))
        .and_then(|t| t.get("otel"))
        .ok_or("it has no spec.tracing.otel section")?;
    if value(otel.get("endpointAddress")).is_none() {
        return Err("spec.tracing.otel.endpointAddress is missing".into());
    }
    match value(otel.get("protocol")) {
        Some(Data::Str(p)) if p == "grpc" || p == "http" => {}
        _ => {
            return Err("spec.tracing.otel.protocol is missing: Dapr then exports nothing".into());
        }
    }
    if value(otel.get("isSecure")) != Some(Data::Bool(false)) {
        return Err(
            "spec.tracing.otel.isSecure is not false: Dapr would use TLS, the collector speaks \
             plaintext"
                .into(),
        );
    }
    Ok(())
}

/// The `spec.tracing` obs-init's Configuration sets, to add to a project's own.
fn tracing_block(endpoint: &str) -> NewNode {
    NewNode::Map(vec![
        ("samplingRate".into(), NewNode::DoubleQuoted("1".into())),
        (
            "otel".into(),
            NewNode::Map(vec![
                (
                    "endpointAddress".into(),
                    NewNode::DoubleQuoted(endpoint.into()),
                ),
                ("isSecure".into(), NewNode::Plain("false".into())),
                ("protocol".into(), NewNode::Plain("grpc".into())),
            ]),
        ),
    ])
}

/// What a project's own Configuration needs for its sidecar to trace to the collector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tracing {
    /// `spec.tracing` added: the new text.
    Added(String),
    /// It exports to the collector already.
    Present,
    /// It traces elsewhere (`what` says where): the conflict policy decides.
    Elsewhere(String),
}

/// Adds obs-init's `spec.tracing` to the Dapr Configuration `content`, in the file's own
/// layout, by insertion only; `Err` says why the file is not one obs-init can edit.
pub fn add_tracing(content: &str) -> Result<Tracing, String> {
    add_tracing_to(content, COLLECTOR_ADDRESS)
}

/// [`add_tracing`] for the collector at `endpoint` (`host:port`): in a cluster, its service.
pub fn add_tracing_to(content: &str, endpoint: &str) -> Result<Tracing, String> {
    let (text, doc) = crate::yaml::parse_file(content).map_err(|e| e.to_string())?;
    let root = doc.root.as_ref().ok_or("it is empty")?;
    if root.get("kind").and_then(Node::as_str) != Some("Configuration") {
        return Err("it is not a Dapr Configuration (`kind: Configuration`)".into());
    }
    let lay = emit::layout_of(&text, root);
    let mut editor = Editor::new(&text);
    match root.get_entry("spec") {
        None => editor.insert_entry(
            root,
            &[],
            "spec",
            NewNode::Map(vec![("tracing".into(), tracing_block(endpoint))]),
            &lay,
        ),
        Some((key, spec)) if spec.is_empty_null() => editor.set_empty(
            key,
            &[],
            "spec",
            NewNode::Map(vec![("tracing".into(), tracing_block(endpoint))]),
            &lay,
        ),
        Some((_, spec)) if spec.entries().is_none() || spec.anchor != 0 => {
            return Err("its `spec` is not a plain mapping".into());
        }
        Some((_, spec)) => match spec.get("tracing") {
            None => {
                let block = tracing_block(endpoint);
                editor.insert_entry(spec, &["spec".into()], "tracing", block, &lay)
            }
            Some(_) => return Ok(traces_to(content, endpoint)),
        },
    }
    let (body, changes) = editor.finish();
    verify::compose(&doc, &changes, &body)?;
    Ok(Tracing::Added(text.with_bom(&body)))
}

/// Where a Configuration with `spec.tracing` sends its traces, judged against the collector.
fn traces_to(content: &str, endpoint: &str) -> Tracing {
    let text = Text::new(content);
    let Ok(doc) = Document::parse(&text) else {
        return Tracing::Elsewhere("it is not valid YAML".into());
    };
    let tracing = doc
        .root
        .as_ref()
        .and_then(|r| r.get("spec"))
        .and_then(|s| s.get("tracing"));
    let at = |path: &[&str]| {
        let mut node = tracing?;
        for key in path {
            node = doc.resolve(node.get(key)?);
        }
        node.as_str().map(String::from)
    };
    if let Some(zipkin) = at(&["zipkin", "endpointAddress"]) {
        return Tracing::Elsewhere(format!("it traces to Zipkin at {zipkin}"));
    }
    match (at(&["otel", "endpointAddress"]), check_config(content)) {
        (Some(e), Ok(())) if e == endpoint => Tracing::Present,
        (Some(e), Ok(())) => Tracing::Elsewhere(format!("it traces to {e}")),
        (Some(e), Err(why)) => Tracing::Elsewhere(format!("it traces to {e}, and {why}")),
        (None, _) => Tracing::Elsewhere(
            "it has `spec.tracing` without an OTLP exporter (no spec.tracing.otel)".into(),
        ),
    }
}

/// `spec.tracing.samplingRate` as a number; `None` when it is not set.
pub fn sampling_rate(content: &str) -> Option<f64> {
    let text = Text::new(content);
    let doc = Document::parse(&text).ok()?;
    let rate = doc
        .root
        .as_ref()?
        .get("spec")?
        .get("tracing")?
        .get("samplingRate")?;
    Some(rate.as_str()?.trim().parse().unwrap_or(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_passes_its_own_check() {
        assert_eq!(check_config(CONFIG_TEMPLATE), Ok(()));
    }

    #[test]
    fn tracing_added_to_a_projects_configuration_is_the_templates() {
        let own = "apiVersion: dapr.io/v1alpha1\nkind: Configuration\nmetadata:\n    name: app\nspec:\n    features:\n        - name: Resiliency\n          enabled: true\n";
        let Ok(Tracing::Added(after)) = add_tracing(own) else {
            panic!("not added")
        };
        assert!(after.starts_with(own), "only appended: {after}");
        assert_eq!(check_config(&after), Ok(()));
        let tracing = |c: &str| {
            let text = Text::new(c);
            let doc = Document::parse(&text).expect("parses");
            let t = doc
                .root
                .as_ref()
                .and_then(|r| r.get("spec")?.get("tracing"))
                .map(Value::from_node);
            t.map(|v| format!("{:?}", v.data))
        };
        assert_eq!(tracing(&after), tracing(CONFIG_TEMPLATE));
        assert_eq!(add_tracing(&after), Ok(Tracing::Present));
        // Four spaces, as the file indents.
        assert!(
            after.contains("\n    tracing:\n        samplingRate: \"1\"\n"),
            "{after}"
        );
    }

    #[test]
    fn a_configuration_tracing_elsewhere_is_reported_not_edited() {
        let zipkin = "kind: Configuration\nspec:\n  tracing:\n    samplingRate: \"1\"\n    zipkin:\n      endpointAddress: http://zipkin:9411/api/v2/spans\n";
        assert!(matches!(add_tracing(zipkin), Ok(Tracing::Elsewhere(w)) if w.contains("Zipkin")));
        assert!(add_tracing("kind: Component\n").is_err());
    }

    #[test]
    fn a_config_without_protocol_is_rejected() {
        let broken = CONFIG_TEMPLATE.replace("protocol: grpc", "");
        assert!(
            check_config(&broken)
                .expect_err("must be rejected")
                .contains("protocol")
        );
    }

    #[test]
    fn a_config_defaulting_to_tls_is_rejected() {
        let broken = CONFIG_TEMPLATE.replace("isSecure: false", "");
        assert!(
            check_config(&broken)
                .expect_err("must be rejected")
                .contains("isSecure")
        );
    }
}
