//! The deployment files in `deploy/`, checked as far as can be done without a container engine:
//! they parse; every service, port and environment variable they name exists in the code; the
//! collector's pipelines reference only components it defines.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_yaml_ng::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn yaml(path: &str) -> Value {
    serde_yaml_ng::from_str(&read(path)).unwrap_or_else(|e| panic!("{path} does not parse: {e}"))
}

fn yaml_documents(path: &str) -> Vec<Value> {
    let text = read(path);
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|doc| {
            serde::Deserialize::deserialize(doc)
                .unwrap_or_else(|e| panic!("{path} does not parse: {e}"))
        })
        .collect()
}

fn keys(value: &Value) -> BTreeSet<String> {
    value
        .as_mapping()
        .map(|m| {
            m.keys()
                .filter_map(|k| k.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_sequence()
        .map(|s| {
            s.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// All Rust source under `dir`, concatenated: where variable names and ports must appear.
fn source_text(dir: &str) -> String {
    fn walk(dir: &Path, out: &mut String) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push_str(&std::fs::read_to_string(&path).unwrap_or_default());
            }
        }
    }
    let mut out = String::new();
    walk(&root().join(dir), &mut out);
    out
}

/// The services' own binaries, from `src/bin`.
fn binaries() -> BTreeSet<String> {
    std::fs::read_dir(root().join("examples/code-judge/src/bin"))
        .expect("src/bin")
        .flatten()
        .filter_map(|e| {
            e.path()
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
        })
        .collect()
}

/// Every environment variable the services are given must be read by them (the code-judge
/// services' config, or otel-init for OTEL_*).
fn assert_variables_are_read(names: &BTreeSet<String>, context: &str) {
    let code = source_text("examples/code-judge/src") + &source_text("otel-init/src");
    for name in names {
        assert!(
            code.contains(&format!("\"{name}\"")),
            "{context}: nothing in the code reads {name}"
        );
    }
}

/// A collector configuration: every pipeline names only defined components, and carries what the
/// platform's collectors run.
fn check_collector(config: &Value, context: &str) {
    let receivers = keys(&config["receivers"]);
    let processors = keys(&config["processors"]);
    let exporters = keys(&config["exporters"]);
    let pipelines = config["service"]["pipelines"]
        .as_mapping()
        .unwrap_or_else(|| panic!("{context}: no pipelines"));
    assert!(pipelines.contains_key("traces") && pipelines.contains_key("metrics"));
    for (name, pipeline) in pipelines {
        let name = name.as_str().unwrap_or_default();
        for (section, defined) in [
            ("receivers", &receivers),
            ("processors", &processors),
            ("exporters", &exporters),
        ] {
            for component in strings(&pipeline[section]) {
                assert!(
                    defined.contains(&component),
                    "{context}: pipeline {name} uses undefined {section} {component}"
                );
            }
        }
        assert_eq!(
            strings(&pipeline["processors"]).first().map(String::as_str),
            Some("memory_limiter"),
            "{context}: memory_limiter must come first in {name}"
        );
    }
    let traces = &config["service"]["pipelines"]["traces"];
    for processor in [
        "memory_limiter",
        "batch",
        "resource",
        "probabilistic_sampler",
    ] {
        assert!(
            strings(&traces["processors"]).contains(&processor.to_owned()),
            "{context}: traces pipeline lacks {processor}"
        );
    }
    assert_eq!(
        config["processors"]["probabilistic_sampler"]["sampling_percentage"].as_u64(),
        Some(25)
    );
    assert_eq!(
        config["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"].as_str(),
        Some("0.0.0.0:4317")
    );
    assert_eq!(
        config["receivers"]["otlp"]["protocols"]["http"]["endpoint"].as_str(),
        Some("0.0.0.0:4318")
    );
    assert_eq!(
        config["exporters"]["prometheus"]["endpoint"].as_str(),
        Some("0.0.0.0:9464")
    );
    assert!(exporters.contains("debug") && exporters.iter().any(|e| e.starts_with("otlp")));
}

#[test]
fn the_collector_pipelines_reference_only_defined_components() {
    check_collector(
        &yaml("deploy/otel-collector.yaml"),
        "deploy/otel-collector.yaml",
    );
    check_collector(
        &yaml("deploy/helm/otel-collector-values.yaml")["config"],
        "deploy/helm/otel-collector-values.yaml",
    );
    let compose_exporters = keys(&yaml("deploy/otel-collector.yaml")["exporters"]);
    assert!(compose_exporters.contains("otlp/tempo") && compose_exporters.contains("otlp/jaeger"));
}

#[test]
fn compose_names_existing_services_ports_and_variables() {
    let compose = yaml("deploy/docker-compose.yaml");
    let services = keys(&compose["services"]);
    for needed in [
        "gateway",
        "code-manage",
        "code-execution",
        "kafka",
        "redis",
        "otel-collector",
        "jaeger",
        "tempo",
        "prometheus",
        "grafana",
    ] {
        assert!(services.contains(needed), "compose lacks {needed}");
    }
    let binaries = binaries();
    let mut variables = BTreeSet::new();
    for service in ["gateway", "code-manage", "code-execution"] {
        let spec = &compose["services"][service];
        let command = strings(&spec["command"]);
        assert_eq!(command, [service], "{service} runs its own binary");
        assert!(binaries.contains(service), "no binary {service}");
        let env = &spec["environment"];
        variables.extend(keys(env));
        assert_eq!(env["OTEL_SERVICE_NAME"].as_str(), Some(service));
    }
    // Merge keys (`<<: *otel-env`) are YAML, not variables.
    variables.remove("<<");
    let anchors = keys(&compose["x-otel-env"]);
    variables.extend(anchors);
    assert_variables_are_read(&variables, "docker-compose.yaml");

    for (name, spec) in compose["services"].as_mapping().expect("services") {
        for dependency in strings(&spec["depends_on"]) {
            assert!(
                services.contains(&dependency),
                "{name:?} depends on undefined {dependency}"
            );
        }
    }
    // Addresses the services are given point at services that listen there.
    let config = read("examples/code-judge/src/config.rs");
    assert!(config.contains("\"0.0.0.0:8080\"") && config.contains("\"0.0.0.0:50051\""));
    let env = |service: &str, name: &str| {
        compose["services"][service]["environment"][name]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(
        env("gateway", "CODE_MANAGE_URL"),
        "http://code-manage:50051"
    );
    assert_eq!(env("code-manage", "CODE_MANAGE_LISTEN"), "0.0.0.0:50051");
    assert_eq!(env("gateway", "GATEWAY_LISTEN"), "0.0.0.0:8080");
    assert!(env("gateway", "REDIS_URL").starts_with("redis://redis:6379"));
    assert_eq!(env("code-manage", "KAFKA_BOOTSTRAP_SERVERS"), "kafka:9092");
    assert_eq!(
        compose["x-otel-env"]["OTEL_EXPORTER_OTLP_ENDPOINT"].as_str(),
        Some("http://otel-collector:4317")
    );
    assert!(
        strings(&compose["services"]["otel-collector"]["ports"]).contains(&"4317:4317".to_owned())
    );
}

#[test]
fn kubernetes_deployments_name_existing_binaries_and_variables() {
    let documents = yaml_documents("deploy/k8s/code-judge.yaml");
    let binaries = binaries();
    let mut variables = BTreeSet::new();
    let mut deployments = BTreeSet::new();
    for document in &documents {
        if document["kind"].as_str() != Some("Deployment") {
            continue;
        }
        let container = &document["spec"]["template"]["spec"]["containers"][0];
        let name = container["name"]
            .as_str()
            .expect("container name")
            .to_owned();
        assert_eq!(strings(&container["command"]), std::slice::from_ref(&name));
        assert!(binaries.contains(&name), "no binary {name}");
        let env = container["env"].as_sequence().expect("env");
        let names: BTreeSet<String> = env
            .iter()
            .filter_map(|e| e["name"].as_str().map(str::to_owned))
            .collect();
        // A variable only used to build another (`$(K8S_POD_NAME)`) is Kubernetes', not ours.
        let substituted: BTreeSet<String> = env
            .iter()
            .filter_map(|e| e["value"].as_str())
            .flat_map(|v| v.split("$(").skip(1).filter_map(|s| s.split(')').next()))
            .map(str::to_owned)
            .collect();
        variables.extend(names.difference(&substituted).cloned());
        deployments.insert(name);
    }
    assert_eq!(
        deployments,
        BTreeSet::from([
            "gateway".into(),
            "code-manage".into(),
            "code-execution".into()
        ])
    );
    assert_variables_are_read(&variables, "k8s/code-judge.yaml");
    yaml("deploy/helm/tempo-values.yaml");
}

#[test]
fn prometheus_and_grafana_point_at_what_compose_runs() {
    let compose = yaml("deploy/docker-compose.yaml");
    let services = keys(&compose["services"]);
    let prometheus = yaml("deploy/prometheus.yaml");
    let target = prometheus["scrape_configs"][0]["static_configs"][0]["targets"][0]
        .as_str()
        .expect("a scrape target");
    assert_eq!(target, "otel-collector:9464");

    let datasources = yaml("deploy/grafana/provisioning/datasources/datasources.yaml");
    let list = datasources["datasources"]
        .as_sequence()
        .expect("datasources");
    let uids: BTreeSet<&str> = list.iter().filter_map(|d| d["uid"].as_str()).collect();
    for source in list {
        let url = source["url"].as_str().expect("url");
        let host = url
            .trim_start_matches("http://")
            .split(':')
            .next()
            .unwrap_or_default();
        assert!(services.contains(host), "{url}: no such service");
    }
    let tempo = list
        .iter()
        .find(|d| d["type"].as_str() == Some("tempo"))
        .expect("a Tempo datasource");
    for link in ["tracesToLogsV2", "tracesToMetrics", "serviceMap"] {
        let uid = tempo["jsonData"][link]["datasourceUid"]
            .as_str()
            .unwrap_or_else(|| panic!("Tempo lacks {link}"));
        assert!(
            uids.contains(uid),
            "{link} points at undefined datasource {uid}"
        );
    }
    yaml("deploy/tempo.yaml");
}

#[test]
fn the_dockerfile_builds_the_binaries_compose_runs() {
    let dockerfile = read("deploy/Dockerfile");
    for binary in ["gateway", "code-manage", "code-execution"] {
        assert!(
            dockerfile.contains(&format!("/src/target/release/{binary}")),
            "the image lacks {binary}"
        );
    }
    assert!(dockerfile.contains("cargo build --release -p code-judge --bins"));
}
