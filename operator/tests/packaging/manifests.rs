//! Every manifest parses, and the kind stack, the Dockerfile and the scripts agree with each other.

use serde_yaml::Value;

use crate::repo;

/// Every YAML file the packaging ships (the chart's templates are checked in `chart`).
fn shipped_yaml_files() -> Vec<String> {
    let mut files: Vec<_> = [
        repo::files_under("deploy", &[".yaml", ".yml"]),
        repo::files_under("examples", &[".yaml", ".yml"]),
        repo::files_under("charts/eventflow/crds", &[".yaml", ".yml"]),
    ]
    .concat()
    .iter()
    .map(|path| repo::display(path))
    .collect();
    files.extend(
        [
            "kind-config.yaml",
            "charts/eventflow/Chart.yaml",
            "charts/eventflow/values.yaml",
        ]
        .map(str::to_owned),
    );
    files
}

#[test]
fn every_shipped_yaml_file_parses() {
    let failures: Vec<String> = shipped_yaml_files()
        .iter()
        .filter_map(|file| match repo::documents::<Value>(&repo::read(file)) {
            Ok(documents) if documents.is_empty() => Some(format!("{file}: no document")),
            Ok(_) => None,
            Err(error) => Some(format!("{file}: {error}")),
        })
        .collect();
    assert!(
        failures.is_empty(),
        "unparsable YAML:\n{}",
        failures.join("\n")
    );
}

#[test]
fn every_kubernetes_manifest_has_api_version_kind_and_name() {
    let files = [
        repo::files_under("deploy/kind", &[".yaml"]),
        repo::files_under("examples", &[".yaml"]),
    ]
    .concat();
    assert!(
        files.len() >= 7,
        "expected the kind stack and the examples, found {files:?}"
    );
    // A kustomization is kustomize's own file, not an object of the cluster.
    let objects = files
        .into_iter()
        .filter(|path| !path.ends_with("kustomization.yaml"));
    for path in objects {
        for document in repo::yaml_file::<Value>(&repo::display(&path)) {
            for field in ["apiVersion", "kind"] {
                assert!(
                    document[field].is_string(),
                    "{}: no {field}",
                    repo::display(&path)
                );
            }
            assert!(
                document["metadata"]["name"].is_string(),
                "{}: a {:?} without metadata.name",
                repo::display(&path),
                document["kind"]
            );
        }
    }
}

fn kind_stack() -> Vec<Value> {
    [
        repo::yaml_file::<Value>("deploy/kind/kafka.yaml"),
        repo::yaml_file("deploy/kind/mongodb.yaml"),
    ]
    .concat()
}

fn find<'a>(objects: &'a [Value], kind: &str, namespace: &str, name: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| {
            o["kind"] == kind
                && o["metadata"]["name"] == name
                && o["metadata"]["namespace"] == namespace
        })
        .unwrap_or_else(|| panic!("deploy/kind has no {kind} {namespace}/{name}"))
}

#[test]
fn kind_kafka_advertises_the_address_the_examples_use() {
    let stack = kind_stack();
    let service = find(&stack, "Service", "kafka", "kafka");
    assert_eq!(service["spec"]["ports"][0]["port"], 9092);
    let broker = &find(&stack, "StatefulSet", "kafka", "kafka")["spec"]["template"]["spec"];
    assert_eq!(
        broker["enableServiceLinks"], false,
        "service links inject KAFKA_PORT"
    );
    let env = broker["containers"][0]["env"].as_sequence().unwrap();
    let advertised = env
        .iter()
        .find(|e| e["name"] == "KAFKA_ADVERTISED_LISTENERS")
        .unwrap()["value"]
        .as_str()
        .unwrap();
    for document in crate::examples::pipelines() {
        let bootstrap = document["spec"]["kafka"]["bootstrapServers"]
            .as_str()
            .unwrap();
        assert!(
            advertised
                .split(',')
                .any(|listener| listener == format!("PLAINTEXT://{bootstrap}")),
            "{bootstrap} is not the advertised PLAINTEXT listener in {advertised}"
        );
    }
}

#[test]
fn kind_mongodb_secret_is_the_one_the_examples_reference() {
    let stack = kind_stack();
    let secret = find(&stack, "Secret", "default", "mongodb");
    let uri = secret["stringData"]["uri"].as_str().unwrap();
    assert!(uri.starts_with("mongodb://mongodb.mongodb.svc"), "{uri}");
    find(&stack, "Service", "mongodb", "mongodb");
    for document in crate::examples::pipelines() {
        let reference = &document["spec"]["sink"]["mongodb"]["uriSecretRef"];
        assert_eq!(reference["name"], "mongodb");
        assert_eq!(reference["key"], "uri");
        assert_eq!(document["metadata"]["namespace"], "default");
    }
}

#[test]
fn kind_cluster_maps_the_node_port_kind_up_gives_the_producer() {
    let config: Value = repo::yaml_file::<Value>("kind-config.yaml").remove(0);
    let nodes = config["nodes"].as_sequence().unwrap();
    assert_eq!(nodes.len(), 1);
    assert_eq!(nodes[0]["role"], "control-plane");
    let port = nodes[0]["extraPortMappings"][0]["containerPort"]
        .as_u64()
        .unwrap();
    let script = repo::read("scripts/kind-up.sh");
    assert!(
        script.contains(&format!("\"nodePort\":{port}")),
        "kind-up.sh does not use NodePort {port}"
    );
    let cluster = config["name"].as_str().unwrap();
    assert!(
        script.contains(&format!("CLUSTER={cluster}")),
        "kind-up.sh uses another cluster"
    );
}

#[test]
fn dockerfile_builds_both_images_locked_and_as_non_root() {
    let dockerfile = repo::read("deploy/Dockerfile");
    assert!(dockerfile.contains("cargo build --release --locked"));
    let images = repo::read("scripts/images.sh");
    for (stage, binary) in [
        ("operator", "eventflow-operator"),
        ("eventflow", "eventflow"),
    ] {
        let from = format!(" AS {stage}\n");
        let stage_text = dockerfile
            .split("\nFROM ")
            .find(|part| part.contains(&from))
            .unwrap_or_else(|| panic!("deploy/Dockerfile has no stage {stage}"));
        assert!(
            stage_text.contains("\nUSER 65532:65532\n"),
            "stage {stage} runs as root"
        );
        assert!(stage_text.contains(&format!("ENTRYPOINT [\"/usr/local/bin/{binary}\"]")));
        assert!(
            images.contains(&format!("{stage}:{binary}")),
            "images.sh does not build {stage}"
        );
    }
}
