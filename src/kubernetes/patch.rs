//! The onboarding of a kustomize base's workloads as a strategic merge patch in an overlay,
//! so that the base stays as it is: one document per workload, holding what onboarding the
//! base in place would have added and nothing else.

use super::onboard::Added;
use crate::error::Refusal;
use crate::yaml::emit::{self, Layout, NewNode};

const LAYOUT: Layout = Layout {
    step: 2,
    seq_indent: 0,
    dash_gap: 1,
    eol: "\n",
};

/// The patch file for `added`. kustomize matches each document to its target by the kind,
/// name and namespace the manifest itself writes, and merges containers and env items by
/// their `name`; so a container without a name cannot be patched, and is refused.
pub fn patch(added: &[Added]) -> Result<String, Refusal> {
    with_header(
        "# Written by obs-init: the Dapr sidecar annotations and the collector's variables \
         for\n# the workloads this overlay builds, as a patch, so that the base stays as it \
         is.\n",
        added,
    )
}

/// The patch that puts back what the base's onboarding carries where this overlay's
/// components or patches erase it: listed last among the overlay's patches, it runs after
/// them.
pub fn reapply(added: &[Added]) -> Result<String, Refusal> {
    with_header(
        "# Written by obs-init: this overlay's components or patches replace what the base's\n\
         # onboarding adds (the Dapr annotations, the collector's variables); listed last among\n\
         # its patches, this puts it back.\n",
        added,
    )
}

fn with_header(header: &str, added: &[Added]) -> Result<String, Refusal> {
    let mut out = String::from(header);
    for (i, a) in added.iter().enumerate() {
        let Some(container) = &a.container else {
            return Err(Refusal::Unsupported {
                service: Some(a.workload.id()),
                what: "its app container has no name, which a strategic merge patch needs to \
                       reach it"
                    .into(),
                line: a.workload.line,
            });
        };
        if i > 0 {
            out.push_str("---\n");
        }
        let quoted = |pairs: &[(String, String)]| -> Vec<(String, NewNode)> {
            pairs
                .iter()
                .map(|(k, v)| (k.clone(), NewNode::DoubleQuoted(v.clone())))
                .collect()
        };
        let mut meta = vec![("name".to_string(), NewNode::str(&a.workload.name))];
        if let Some(ns) = &a.workload.namespace {
            meta.push(("namespace".into(), NewNode::str(ns)));
        }
        let mut pod = Vec::new();
        if !a.annotations.is_empty() {
            pod.push((
                "metadata".to_string(),
                NewNode::Map(vec![(
                    "annotations".into(),
                    NewNode::Map(quoted(&a.annotations)),
                )]),
            ));
        }
        let mut app = vec![("name".to_string(), NewNode::str(container))];
        if !a.env.is_empty() {
            let items = a
                .env
                .iter()
                .map(|(k, v)| super::onboard::env_item(k, v))
                .collect();
            app.push(("env".into(), NewNode::Seq(items)));
            pod.push((
                "spec".to_string(),
                NewNode::Map(vec![(
                    "containers".into(),
                    NewNode::Seq(vec![NewNode::Map(app)]),
                )]),
            ));
        }
        // The pod template, where the workload kind keeps it.
        let mut template = NewNode::Map(vec![("template".into(), NewNode::Map(pod))]);
        if a.workload.kind == "CronJob" {
            template = NewNode::Map(vec![(
                "jobTemplate".into(),
                NewNode::Map(vec![("spec".into(), template)]),
            )]);
        }
        for (key, value) in [
            ("apiVersion", NewNode::str(&a.api_version)),
            ("kind", NewNode::str(&a.workload.kind)),
            ("metadata", NewNode::Map(meta)),
            ("spec", template),
        ] {
            out.push_str(&emit::block_entry(key, &value, 0, &LAYOUT));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kubernetes::Workload;

    #[test]
    fn a_cronjob_is_patched_at_its_job_templates_pod_template() {
        let added = Added {
            workload: Workload {
                doc: 0,
                kind: "CronJob".into(),
                name: "nightly".into(),
                namespace: Some("jobs".into()),
                line: 2,
            },
            api_version: "batch/v1".into(),
            container: Some("main".into()),
            annotations: vec![("dapr.io/enabled".into(), "true".into())],
            env: vec![("OTEL_SERVICE_NAME".into(), "nightly".into())],
        };
        let text = patch(&[added]).expect("patch");
        let expected = r#"apiVersion: batch/v1
kind: CronJob
metadata:
  name: nightly
  namespace: jobs
spec:
  jobTemplate:
    spec:
      template:
        metadata:
          annotations:
            dapr.io/enabled: "true"
        spec:
          containers:
          - name: main
            env:
            - name: OTEL_SERVICE_NAME
              value: "nightly"
"#;
        assert!(text.ends_with(expected), "{text}");
    }
}
