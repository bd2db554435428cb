//! The Dapr Configuration that turns on tracing to the collector.

use crate::yaml::doc::{Document, Node};
use crate::yaml::model::{Data, Value};
use crate::yaml::text::Text;

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
