//! Every workload of every real manifest in `tests/data/k8s/corpus` (sources and licences in
//! its INDEX.tsv), onboarded one at a time: the output is the input with text inserted only,
//! a second run changes nothing, taking the record's insertions back gives the original bytes,
//! the annotations sit on the pod template and the variables on the app container, and PyPI's
//! `kubernetes-validate` (offline Kubernetes schemas, strict) accepts the result whenever it
//! accepted the input. Templated files are refused, never edited.

// The corpus report on stderr is part of the point of this test.
#![allow(clippy::print_stderr)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use obs_init::kubernetes::kustomize::Project;
use obs_init::kubernetes::onboard::onboard;
use obs_init::kubernetes::{self, CLUSTER_COLLECTOR_ADDRESS as COLLECTOR_ADDRESS};
use serde_json::Value as Json;

/// The kinds whose pods complete when every container has exited, which a Dapr sidecar
/// (running until told to stop) would keep from completing: Dapr's docs, "Running Dapr with
/// a Kubernetes Job". Spelled out here, not taken from obs-init.
fn runs_to_completion(kind: &str) -> bool {
    kind == "Job" || kind == "CronJob"
}

fn corpus() -> PathBuf {
    common::data().join("k8s/corpus")
}

/// Every `.yaml`/`.yml` file below `dir`, sorted.
fn manifests(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The real validator's verdict on `files`, in one run (it loads its schemas once):
/// whether each passes, with the lines that say why not.
fn validate(files: &[PathBuf]) -> Vec<(bool, String)> {
    let python = common::venv_python("kubernetes-validate.lock");
    let exe = python.with_file_name("kubernetes-validate");
    let (_, out) = common::outcome(Command::new(&exe).arg("--strict").args(files));
    files
        .iter()
        .map(|f| {
            let name = f.to_string_lossy();
            let problems: Vec<&str> = out
                .lines()
                .filter(|l| l.starts_with("ERROR") && l.contains(&*name))
                .collect();
            let passed = out
                .lines()
                .any(|l| l.starts_with("INFO") && l.contains(&*name));
            (passed && problems.is_empty(), problems.join("\n"))
        })
        .collect()
}

/// The document's value at `path` (mapping keys; numbers index sequences).
fn at<'a>(v: &'a Json, path: &[&str]) -> &'a Json {
    path.iter().fold(v, |v, k| match k.parse::<usize>() {
        Ok(i) => &v[i],
        Err(_) => &v[*k],
    })
}

#[test]
fn every_corpus_workload_is_onboarded_by_insertion_and_validates_or_is_refused() {
    let work = tempfile::tempdir().expect("tempdir");
    let mut onboarded = 0;
    let mut refused = Vec::new();
    let mut failed = Vec::new();
    let mut outputs: Vec<(PathBuf, PathBuf, String)> = Vec::new();
    for path in manifests(&corpus()) {
        let text = std::fs::read_to_string(&path).expect("UTF-8");
        let shown = path
            .strip_prefix(corpus())
            .expect("below")
            .display()
            .to_string();
        let found = match kubernetes::workloads(&text) {
            Ok(found) => found,
            Err(e) => {
                refused.push(format!("{shown}: {e}"));
                continue;
            }
        };
        for w in found {
            let id = w.id();
            let out = match onboard(&text, std::slice::from_ref(&id), COLLECTOR_ADDRESS) {
                Ok(out) => out,
                Err(obs_init::error::Refusal::Internal(m)) => {
                    failed.push(format!("{shown} {id}: {m}"));
                    continue;
                }
                Err(e) => {
                    refused.push(format!("{shown} {id}: {e}"));
                    continue;
                }
            };
            let checked = std::panic::catch_unwind(|| {
                common::assert_only_insertions(&text, &out.after);
                let again = onboard(&out.after, std::slice::from_ref(&id), COLLECTOR_ADDRESS)
                    .expect("a second run");
                assert_eq!(again.after, out.after, "a second run changed the file");
                let record = obs_init::record::record("m.yaml", Some(&text), &out.after);
                let undone = obs_init::record::undo(&out.after, &record);
                assert_eq!(undone.text, text, "taking the insertions back");
                // What the injector and the app see, read back.
                let piece = &kubernetes::documents(&out.after)[w.doc];
                let (_, doc) = common::parse(piece.text);
                let json = common::to_json(&doc);
                let template = kubernetes::template_path(&w.kind).expect("a workload");
                let mut ann = template.to_vec();
                ann.extend(["metadata", "annotations"]);
                let annotations = at(&json, &ann);
                if runs_to_completion(&w.kind) {
                    // A sidecar that never exits would keep the Job from completing.
                    let before = kubernetes::documents(&text)[w.doc].text;
                    let had = common::to_json(&common::parse(before).1);
                    assert_eq!(
                        annotations["dapr.io/enabled"],
                        at(&had, &ann)["dapr.io/enabled"],
                        "a Job's pod got the sidecar"
                    );
                } else {
                    // A project's own dapr.io values are kept (and reported as conflicts).
                    let enabled = &annotations["dapr.io/enabled"];
                    assert!(
                        enabled.is_string(),
                        "no dapr.io/enabled on the pod template"
                    );
                    assert!(annotations["dapr.io/config"].is_string());
                }
                let mut containers = template.to_vec();
                containers.extend(["spec", "containers"]);
                let envs: Vec<String> = at(&json, &containers)
                    .as_array()
                    .expect("containers")
                    .iter()
                    .flat_map(|c| c["env"].as_array().cloned().unwrap_or_default())
                    .filter_map(|e| e["name"].as_str().map(String::from))
                    .collect();
                assert!(
                    envs.iter().any(|e| e == "OTEL_EXPORTER_OTLP_ENDPOINT"),
                    "{envs:?}"
                );
                for c in at(&json, &containers).as_array().expect("containers") {
                    namespace_comes_first(c["env"].as_array().map_or(&[][..], Vec::as_slice));
                }
            });
            match checked {
                Ok(()) => {
                    onboarded += 1;
                    // The workload's document, before and after: the others are unchanged
                    // (insertions only, and only there), so they validate as they did.
                    let n = outputs.len();
                    let before = work.path().join(format!("{n}-before.yaml"));
                    let after = work.path().join(format!("{n}-after.yaml"));
                    let doc = |t: &str| kubernetes::documents(t)[w.doc].text.to_string();
                    std::fs::write(&before, doc(&text)).expect("write");
                    std::fs::write(&after, doc(&out.after)).expect("write");
                    outputs.push((before, after, format!("{shown} {id}")));
                }
                Err(e) => failed.push(format!(
                    "{shown} {id}: {}",
                    e.downcast_ref::<String>().cloned().unwrap_or_default()
                )),
            }
        }
    }
    // The real validator, on every input and output.
    let files: Vec<PathBuf> = outputs
        .iter()
        .flat_map(|(b, a, _)| [b.clone(), a.clone()])
        .collect();
    let verdicts = validate(&files);
    let mut validated = 0;
    for (i, (_, _, what)) in outputs.iter().enumerate() {
        let (before_ok, _) = &verdicts[2 * i];
        let (after_ok, why) = &verdicts[2 * i + 1];
        if *before_ok && !after_ok {
            failed.push(format!(
                "{what}: kubernetes-validate rejects the output:\n{why}"
            ));
        } else if *before_ok {
            validated += 1;
        }
    }
    eprintln!(
        "kubernetes corpus: {onboarded} workloads onboarded ({validated} validated by \
         kubernetes-validate, the rest failing it as given), {} refused, {} failed",
        refused.len(),
        failed.len()
    );
    for r in &refused {
        eprintln!("  refused {r}");
    }
    for f in &failed {
        eprintln!("FAILED {f}");
    }
    assert!(
        failed.is_empty(),
        "{} corpus workloads failed",
        failed.len()
    );
    assert!(onboarded >= 40, "only {onboarded} onboarded");
}

/// A container's `$(OBS_INIT_NAMESPACE)` is expanded by Kubernetes only from a variable
/// listed before it: the variable, read from the pod's namespace by the downward API,
/// comes first.
fn namespace_comes_first(env: &[Json]) {
    let var = obs_init::contract::K8S_NAMESPACE_VAR;
    let reference = format!("$({var})");
    for (i, item) in env.iter().enumerate() {
        if !item["value"]
            .as_str()
            .is_some_and(|v| v.contains(&reference))
        {
            continue;
        }
        let defined = env[..i].iter().any(|e| {
            e["name"] == var && e["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"
        });
        assert!(
            defined,
            "{} names {reference} before it is defined: {env:?}",
            item["name"]
        );
    }
}

/// The `openAPIV3Schema` of Dapr's Configuration CRD (v1.18.3), as a JSON schema.
fn configuration_schema() -> Json {
    let (_, doc) = common::parse(
        &std::fs::read_to_string(common::data().join("k8s/dapr-configuration-crd-v1.18.3.yaml"))
            .expect("the CRD"),
    );
    let crd = common::to_json(&doc);
    crd["spec"]["versions"]
        .as_array()
        .expect("versions")
        .iter()
        .find(|v| v["name"] == "v1alpha1")
        .expect("v1alpha1")["schema"]["openAPIV3Schema"]
        .clone()
}

/// A project's own Configuration that an adopted Compose sidecar loads, or that a pod's
/// `dapr.io/config` names, gets obs-init's tracing block: every one the cases edit must still
/// fit Dapr's CRD.
#[test]
fn every_own_configuration_the_cases_edit_fits_the_crd() {
    let schema = jsonschema::validator_for(&configuration_schema()).expect("schema compiles");
    let cases = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut checked = 0;
    for case in std::fs::read_dir(&cases).expect("cases") {
        let case = case.expect("entry").path();
        if !case.join("out").is_dir() {
            continue;
        }
        let before = common::read_tree(&case.join("in"));
        for (rel, bytes) in common::read_tree(&case.join("out")) {
            let text = String::from_utf8_lossy(&bytes).to_string();
            // Onboarding only adds; `remove` cases give the original back.
            let edited = before.get(&rel).is_some_and(|b| bytes.len() > b.len());
            if !edited || !text.contains("kind: Configuration") || !rel.ends_with(".yaml") {
                continue;
            }
            for piece in kubernetes::documents(&text) {
                let (_, doc) = common::parse(piece.text);
                let json = common::to_json(&doc);
                if json["kind"] != "Configuration" {
                    continue;
                }
                let errors: Vec<String> =
                    schema.iter_errors(&json).map(|e| e.to_string()).collect();
                assert!(errors.is_empty(), "{}/{rel}: {errors:?}", case.display());
                assert_eq!(json["spec"]["tracing"]["otel"]["protocol"], "grpc", "{rel}");
                checked += 1;
            }
        }
    }
    assert!(checked >= 2, "{checked} edited Configurations checked");
}

#[test]
fn every_manifest_the_cases_onboard_validates_and_the_configuration_fits_the_crd() {
    let schema = jsonschema::validator_for(&configuration_schema()).expect("schema compiles");
    let cases = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut written = Vec::new();
    let mut configurations = 0;
    for case in std::fs::read_dir(&cases).expect("cases") {
        let case = case.expect("entry").path();
        let name = case
            .file_name()
            .expect("name")
            .to_string_lossy()
            .to_string();
        if !name.starts_with("kubernetes_") || !case.join("out").is_dir() {
            continue;
        }
        // Patches and transformer configurations are not manifests; the test below judges
        // them through what kustomize builds with them.
        let project = Project::scan(&case.join("out")).expect("kustomizations");
        for file in manifests(&case.join("out")) {
            if project.is_not_resource(&file) {
                continue;
            }
            let text = std::fs::read_to_string(&file).expect("read");
            if file
                .file_name()
                .is_some_and(|n| n == kubernetes::CONFIG_FILE)
            {
                for piece in kubernetes::documents(&text) {
                    let (_, doc) = common::parse(piece.text);
                    let json = common::to_json(&doc);
                    assert_eq!(json["kind"], "Configuration");
                    let errors: Vec<String> =
                        schema.iter_errors(&json).map(|e| e.to_string()).collect();
                    assert!(errors.is_empty(), "{name}: {errors:?}");
                    configurations += 1;
                }
                // The check can fail: a field the CRD does not have.
                let (_, doc) = common::parse(kubernetes::documents(&text)[0].text);
                let mut bad = common::to_json(&doc);
                bad["spec"]["tracing"]["samplingRate"] = serde_json::json!(1);
                assert!(
                    !schema.is_valid(&bad),
                    "the CRD took a number for samplingRate"
                );
            } else if kubernetes::workloads(&text).is_ok_and(|w| !w.is_empty()) {
                // The manifests; a kustomization or skaffold.yaml is not one.
                written.push(file);
            }
        }
    }
    assert!(
        configurations >= 4,
        "{configurations} Configurations checked"
    );
    for ((ok, why), file) in validate(&written).into_iter().zip(&written) {
        assert!(ok, "{}: {why}", file.display());
    }
    assert!(written.len() >= 4, "{written:?}");
}

/// kubectl with its built-in kustomize (v5 here: Google Cloud CLI's kubectl on the machine).
fn kubectl() -> PathBuf {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join("kubectl"))
        .find(|p| p.is_file());
    found.expect(
        "kubectl not found on PATH: the kustomize tests build the cases' overlays with \
         `kubectl kustomize` (kustomize v4 or newer, as kubectl 1.21+ has)",
    )
}

/// What kustomize builds from `folder`, as JSON documents.
fn kustomize_build(folder: &Path) -> Result<Vec<Json>, String> {
    let out = Command::new(kubectl())
        .arg("kustomize")
        .arg(folder)
        .output()
        .expect("kubectl runs");
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).to_string());
    }
    let text = String::from_utf8(out.stdout).expect("utf-8");
    Ok(kubernetes::documents(&text)
        .iter()
        .filter(|p| !p.text.trim().is_empty())
        .map(|p| common::to_json(&common::parse(p.text).1))
        .collect())
}

/// Checks what kustomize built: every workload has the sidecar and the collector's variable,
/// and names a Configuration the build has, in its namespace, under the name kustomize gave
/// it; each Configuration fits the CRD. Gives the number of workloads checked and the other
/// documents as a YAML stream for kubernetes-validate.
fn check_built(where_: &str, docs: &[Json], schema: &jsonschema::Validator) -> (usize, String) {
    check_built_but(where_, docs, schema, &[])
}

/// [`check_built`], where the workloads named in `left_out` (infrastructure a user would not
/// onboard: a `redis` Deployment) must have neither the sidecar nor the variables.
fn check_built_but(
    where_: &str,
    docs: &[Json],
    schema: &jsonschema::Validator,
    left_out: &[&str],
) -> (usize, String) {
    let configurations: Vec<(Json, Json)> = docs
        .iter()
        .filter(|d| d["kind"] == "Configuration")
        .map(|d| {
            (
                d["metadata"]["namespace"].clone(),
                d["metadata"]["name"].clone(),
            )
        })
        .collect();
    let mut others = String::new();
    let mut pods = 0;
    for doc in docs {
        if doc["kind"] == "Configuration" {
            let errors: Vec<String> = schema.iter_errors(doc).map(|e| e.to_string()).collect();
            assert!(errors.is_empty(), "{where_}: {errors:?}");
            continue;
        }
        others.push_str(&format!(
            "---\n{}\n",
            serde_json::to_string(doc).expect("json")
        ));
        let kind = doc["kind"].as_str().unwrap_or_default();
        let Some(path) = kubernetes::template_path(kind) else {
            continue;
        };
        let name = &doc["metadata"]["name"];
        let template = at(doc, path);
        let annotations = &template["metadata"]["annotations"];
        if left_out.iter().any(|n| name == n) {
            let env = at(template, &["spec", "containers", "0", "env"]).to_string();
            assert!(
                annotations["dapr.io/enabled"].is_null() && !env.contains("OTEL_"),
                "{where_}: {kind} {name} was to be left out: {annotations} {env}"
            );
            continue;
        }
        if runs_to_completion(kind) {
            // daprd never exits by itself: with it, the Job would never complete.
            assert!(
                annotations["dapr.io/enabled"].is_null(),
                "{where_}: {kind} {name} built with the sidecar"
            );
        } else {
            assert_eq!(
                annotations["dapr.io/enabled"], "true",
                "{where_}: {kind} {name} built without the sidecar"
            );
            let wanted = (
                doc["metadata"]["namespace"].clone(),
                annotations["dapr.io/config"].clone(),
            );
            assert!(
                configurations.contains(&wanted),
                "{where_}: {kind} {name} names Configuration {wanted:?}; built: \
                 {configurations:?}"
            );
        }
        let env = at(template, &["spec", "containers", "0", "env"]);
        assert!(
            env.as_array()
                .is_some_and(|e| e.iter().any(|v| v["name"] == "OTEL_EXPORTER_OTLP_ENDPOINT")),
            "{where_}: {kind} {name} has no collector variable: {env}"
        );
        // As kustomize built it (a patch's items merged into the base's list).
        namespace_comes_first(env.as_array().map_or(&[][..], Vec::as_slice));
        let attributes = env.as_array().and_then(|e| {
            e.iter()
                .find(|v| v["name"] == "OTEL_RESOURCE_ATTRIBUTES")
                .and_then(|v| v["value"].as_str())
        });
        assert!(
            attributes.is_some_and(|a| a.contains("service.namespace=")),
            "{where_}: {kind} {name} builds without service.namespace: {env}"
        );
        pods += 1;
    }
    (pods, others)
}

#[test]
fn every_kustomization_the_cases_write_builds_and_each_pod_finds_its_configuration() {
    let schema = jsonschema::validator_for(&configuration_schema()).expect("schema compiles");
    let cases = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let built = tempfile::tempdir().expect("tempdir");
    let mut rendered = Vec::new();
    let mut pods = 0;
    for case in std::fs::read_dir(&cases).expect("cases") {
        let case = case.expect("entry").path();
        let name = case
            .file_name()
            .expect("name")
            .to_string_lossy()
            .to_string();
        let removes =
            std::fs::read_to_string(case.join("cmd")).is_ok_and(|c| c.contains("--remove"));
        if !name.starts_with("kubernetes_") || !case.join("out").is_dir() || removes {
            continue;
        }
        let project = Project::scan(&case.join("out")).expect("kustomizations");
        for top in project.all.iter().filter(|k| project.is_leaf(k)) {
            let where_ = format!("{name}: {}", top.folder().display());
            let docs = kustomize_build(top.folder()).unwrap_or_else(|e| panic!("{where_}: {e}"));
            let (checked, others) = check_built(&where_, &docs, &schema);
            pods += checked;
            let file = built.path().join(format!("{}.yaml", rendered.len()));
            std::fs::write(&file, others).expect("write");
            rendered.push(file);
        }
    }
    // Counted from the cases: an overlay pair and a base with its overlay, two workloads
    // each, and kustomizations that build themselves.
    assert!(pods >= 8, "{pods} pods checked");
    for ((ok, why), file) in validate(&rendered).into_iter().zip(&rendered) {
        assert!(ok, "{}: {why}", file.display());
    }
}

/// Runs the obs-init binary in `dir`: its exit code and output.
fn run_obs_init(dir: &Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_obs-init"))
        .args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("obs-init runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

/// Runs the obs-init binary in `dir`; panics with its output unless it exits 0.
fn obs_init(dir: &Path, args: &[&str]) -> String {
    let (code, text) = run_obs_init(dir, args);
    assert_eq!(code, 0, "obs-init {args:?} in {}: {text}", dir.display());
    text
}

#[test]
fn the_corpus_kustomize_projects_onboard_either_way_and_build() {
    let schema = jsonschema::validator_for(&configuration_schema()).expect("schema compiles");
    let mut rendered = Vec::new();
    let built = tempfile::tempdir().expect("tempdir");
    let mut pods = 0;
    let projects: Vec<PathBuf> = std::fs::read_dir(corpus())
        .expect("corpus")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.join("kustomization.yaml").is_file())
        .collect();
    assert_eq!(projects.len(), 2, "{projects:?}");
    for project in &projects {
        let with_overlays = project.join("base/kustomization.yaml").is_file();
        let modes: &[&[&str]] = if with_overlays {
            &[&["--edit-base"], &["--patch-overlay", "."]]
        } else {
            &[&[]]
        };
        for mode in modes {
            let dir = tempfile::tempdir().expect("tempdir");
            common::copy_dir(project, dir.path());
            let before = common::read_tree(dir.path());
            let args = [&["kubernetes", "--yes"], *mode].concat();
            obs_init(dir.path(), &args);
            let where_ = format!("{} {mode:?}", project.display());
            let docs = kustomize_build(dir.path()).unwrap_or_else(|e| panic!("{where_}: {e}"));
            // Its redis-cart runs redis:alpine: infrastructure, left out by default.
            let (checked, others) = check_built_but(&where_, &docs, &schema, &["redis-cart"]);
            pods += checked;
            let file = built.path().join(format!("{}.yaml", rendered.len()));
            std::fs::write(&file, others).expect("write");
            rendered.push(file);
            // Without the flag, a second run finds the way the record says, and does nothing.
            let again = obs_init(dir.path(), &["kubernetes", "--check"]);
            assert!(again.contains("Up to date"), "{where_}: {again}");
            if with_overlays {
                // The Component the root leaves out, switched on: still one Configuration.
                let root = dir.path().join("kustomization.yaml");
                let text = std::fs::read_to_string(&root).expect("read");
                let on = text.replacen(
                    "\ncomponents:",
                    "\ncomponents:\n- components/google-cloud-operations",
                    1,
                );
                assert_ne!(on, text);
                std::fs::write(&root, &on).expect("write");
                let docs = kustomize_build(dir.path())
                    .unwrap_or_else(|e| panic!("{where_} with the component: {e}"));
                if mode[0] == "--edit-base" {
                    let built = check_built_but(&where_, &docs, &schema, &["redis-cart"]);
                    assert_eq!(built.0, 12);
                } else {
                    // The patch covers what the overlay built when it was written: the
                    // Component's workload is drift, which --check names.
                    let (code, out) = run_obs_init(dir.path(), &["kubernetes", "--check"]);
                    assert_eq!(code, 3, "{where_}: {out}");
                }
                std::fs::write(&root, &text).expect("write");
            }
            obs_init(dir.path(), &["kubernetes", "--remove"]);
            assert!(
                common::read_tree(dir.path()) == before,
                "{where_}: --remove left the project changed"
            );
        }
    }
    // microservices-demo: 11 Deployments (redis-cart left out), both ways; the JAX Job (its
    // variables, no sidecar).
    assert_eq!(pods, 11 * 2 + 1);
    for ((ok, why), file) in validate(&rendered).into_iter().zip(&rendered) {
        assert!(ok, "{}: {why}", file.display());
    }
}

/// Runs the obs-init binary in `dir` with nothing on PATH: no kustomize, no kubectl.
fn run_obs_init_without_kustomize(dir: &Path, args: &[&str]) -> (i32, String) {
    let nothing = tempfile::tempdir().expect("tempdir");
    let out = Command::new(env!("CARGO_BIN_EXE_obs-init"))
        .args(args)
        .current_dir(dir)
        .env("PATH", nothing.path())
        .stdin(std::process::Stdio::null())
        .output()
        .expect("obs-init runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn without_kustomize_the_modelled_patches_put_the_onboarding_where_it_survives_and_kustomize_agrees()
 {
    let schema = jsonschema::validator_for(&configuration_schema()).expect("schema compiles");
    let cases = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut pods = 0;
    for case in [
        "kubernetes_an_istio_component_that_replaces_the_annotations_gets_them_back_in_each_overlay",
        "kubernetes_a_strategic_merge_replace_in_an_overlay_gets_the_onboarding_put_back",
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        common::copy_dir(&cases.join(case).join("in"), dir.path());
        let (code, out) =
            run_obs_init_without_kustomize(dir.path(), &["kubernetes", "--edit-base"]);
        assert_eq!(code, 0, "{case}: {out}");
        assert!(out.contains("overlays not built"), "{case}: {out}");
        assert!(out.contains("obs-init-reapply-patch.yaml"), "{case}: {out}");
        // The real kustomize judges what the model decided.
        let project = Project::scan(dir.path()).expect("kustomizations");
        for top in project.all.iter().filter(|k| project.is_leaf(k)) {
            let where_ = format!("{case}: {}", top.folder().display());
            let docs = kustomize_build(top.folder()).unwrap_or_else(|e| panic!("{where_}: {e}"));
            pods += check_built(&where_, &docs, &schema).0;
        }
        // With kustomize, obs-init finds nothing more to do.
        let again = obs_init(dir.path(), &["kubernetes", "--check"]);
        assert!(again.contains("Up to date"), "{case}: {again}");
    }
    // The Istio project's Deployment in three overlays; the other's Deployment and CronJob in two.
    assert_eq!(pods, 3 + 2 * 2);
    // Patching the overlay that includes the component: its patch comes after the component,
    // which the model knows, so nothing more is written, and kustomize agrees.
    let dir = tempfile::tempdir().expect("tempdir");
    let istio = "kubernetes_an_istio_component_that_replaces_the_annotations_gets_them_back_in_each_overlay";
    common::copy_dir(&cases.join(istio).join("in"), dir.path());
    let overlay = dir.path().join("k8s/overlays/development");
    let (code, out) = run_obs_init_without_kustomize(
        dir.path(),
        &["kubernetes", "--patch-overlay", "k8s/overlays/development"],
    );
    assert_eq!(code, 0, "{out}");
    assert!(
        !overlay.join("obs-init-reapply-patch.yaml").exists(),
        "{out}"
    );
    let docs = kustomize_build(&overlay).expect("builds");
    assert_eq!(check_built("patched development", &docs, &schema).0, 1);
    // A transformer runs after every patch: the model refuses it as kustomize's build does.
    let refused =
        "kubernetes_a_transformer_that_erases_the_annotations_after_every_patch_is_refused_by_name";
    let dir = tempfile::tempdir().expect("tempdir");
    common::copy_dir(&cases.join(refused).join("in"), dir.path());
    let (code, out) = run_obs_init_without_kustomize(dir.path(), &["kubernetes", "--edit-base"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("--> k8s/overlays/prod/mesh-annotations.yaml:6"),
        "{out}"
    );
}
