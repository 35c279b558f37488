//! The pure builders, from YAML fixtures: every spec field lands where it should.
#![expect(
    clippy::unwrap_used,
    reason = "test helpers fail the test on any error"
)]

use std::collections::BTreeMap;

use eventflow_contract as contract;
use eventflow_operator::{
    crd::{DeletionPolicy, EventPipeline},
    kafka::topic::DesiredTopic,
    resources::{self, BuildContext, Desired, validate::validate},
};
use k8s_openapi::{
    api::{
        apps::v1::Deployment,
        core::v1::{Container, EnvVar, PodSpec, Probe},
    },
    apimachinery::pkg::{api::resource::Quantity, util::intstr::IntOrString},
};

fn load(fixture: &str) -> EventPipeline {
    let text = match fixture {
        "full" => include_str!("fixtures/full.yaml"),
        "minimal" => include_str!("fixtures/minimal.yaml"),
        "autoscaled" => include_str!("fixtures/autoscaled.yaml"),
        other => unreachable!("no fixture {other}"),
    };
    serde_yaml::from_str(text).unwrap()
}

fn ctx() -> BuildContext {
    BuildContext {
        workload_image: "ghcr.io/eventflow/eventflow:test".to_owned(),
        workload_log_format: eventflow_contract::logs::LogFormat::Json,
        image_pull_secrets: Vec::new(),
    }
}

fn build(fixture: &str) -> (EventPipeline, Desired) {
    let pipeline = load(fixture);
    let desired = resources::desired(&pipeline, &ctx(), resources::consumer::replicas(&pipeline));
    (pipeline, desired)
}

fn pod(deployment: &Deployment) -> &PodSpec {
    deployment
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap()
}

fn container(deployment: &Deployment) -> &Container {
    &pod(deployment).containers[0]
}

fn env(deployment: &Deployment) -> BTreeMap<String, EnvVar> {
    let vars = container(deployment).env.clone().unwrap();
    vars.into_iter()
        .map(|var| (var.name.clone(), var))
        .collect()
}

fn literal(deployment: &Deployment, name: &str) -> Option<String> {
    env(deployment).get(name).and_then(|var| var.value.clone())
}

fn template_annotations(deployment: &Deployment) -> BTreeMap<String, String> {
    let spec = deployment.spec.as_ref().unwrap();
    spec.template.metadata.clone().unwrap().annotations.unwrap()
}

/// The Deployment's container sets `name` to exactly `expected`.
#[track_caller]
fn assert_env(deployment: &Deployment, name: &str, expected: &str) {
    assert_eq!(
        literal(deployment, name).as_deref(),
        Some(expected),
        "env {name}"
    );
}

fn replicas(deployment: &Deployment) -> i32 {
    deployment.spec.as_ref().unwrap().replicas.unwrap()
}

fn mounts(deployment: &Deployment) -> BTreeMap<String, String> {
    let mounts = container(deployment).volume_mounts.clone().unwrap();
    mounts.into_iter().map(|m| (m.mount_path, m.name)).collect()
}

#[test]
fn kafka_settings_reach_both_workloads() {
    let (_, desired) = build("full");
    for deployment in [&desired.producer, &desired.consumer] {
        assert_env(
            deployment,
            contract::KAFKA_BOOTSTRAP,
            "kafka-0.kafka:9092,kafka-1.kafka:9092",
        );
        assert_env(deployment, contract::TOPIC, "user-activity-events");
        assert_env(
            deployment,
            contract::KAFKA_PROPERTIES_FILE,
            "/etc/eventflow/kafka",
        );
        let volumes = pod(deployment).volumes.clone().unwrap();
        let kafka = volumes
            .iter()
            .find(|v| v.name == "kafka-properties")
            .unwrap();
        assert_eq!(
            kafka.secret.as_ref().unwrap().secret_name.as_deref(),
            Some("kafka-client")
        );
        assert_eq!(
            mounts(deployment)
                .get("/etc/eventflow/kafka")
                .map(String::as_str),
            Some("kafka-properties")
        );
    }
}

#[test]
fn topic_spec_becomes_the_desired_topic() {
    let pipeline = load("full");
    let topic = DesiredTopic::of(&pipeline);
    assert_eq!(topic.name, "user-activity-events");
    assert_eq!(topic.partitions, 6);
    assert_eq!(topic.replication_factor, 3);
    assert_eq!(
        topic.config.get("retention.ms").map(String::as_str),
        Some("604800000")
    );
    assert_eq!(
        topic.config.get("cleanup.policy").map(String::as_str),
        Some("delete")
    );
    assert_eq!(pipeline.spec.topic.deletion_policy, DeletionPolicy::Delete);
}

#[test]
fn producer_spec_lands_in_the_producer_deployment() {
    let (_, desired) = build("full");
    let producer = &desired.producer;
    assert_eq!(replicas(producer), 2);
    assert_env(producer, contract::PARTITION_KEY, "data.userId");
    assert_env(
        producer,
        contract::ALLOWED_TYPES,
        "LOGIN,LOGOUT,PRODUCT_VIEW",
    );
    assert_env(
        producer,
        contract::AUTH_TOKENS_FILE,
        "/etc/eventflow/auth/tokens",
    );
    assert_env(producer, contract::HTTP_PORT, "8080");
    assert_env(producer, contract::RATE_LIMIT_EVENTS_PER_SECOND, "500");
    assert_env(producer, contract::RATE_LIMIT_BURST, "1000");
    let volumes = pod(producer).volumes.clone().unwrap();
    let mounted = |volume: &str| {
        let secret = volumes
            .iter()
            .find(|v| v.name == volume)
            .unwrap()
            .secret
            .clone()
            .unwrap();
        let item = secret.items.unwrap()[0].clone();
        (secret.secret_name.unwrap(), item.key, item.path)
    };
    assert_eq!(
        mounted("auth-tokens"),
        ("ingest-tokens".into(), "tokens.txt".into(), "tokens".into())
    );
    assert_env(producer, contract::JWT_KEY_FILE, "/etc/eventflow/jwt/key");
    assert_env(producer, contract::JWT_ALGORITHM, "RS256");
    assert_env(producer, contract::JWT_ISSUER, "https://users.shop.example");
    assert_env(producer, contract::JWT_AUDIENCE, "user-activity");
    assert_env(producer, contract::JWT_LEEWAY, "30s");
    assert_eq!(
        mounted("jwt-key"),
        ("user-service-jwks".into(), "jwks.json".into(), "key".into())
    );
    let mounts = container(producer).volume_mounts.clone().unwrap();
    assert!(
        mounts
            .iter()
            .any(|m| m.name == "jwt-key" && m.mount_path == "/etc/eventflow/jwt"),
        "{mounts:?}"
    );
    let resources = container(producer).resources.clone().unwrap();
    assert_eq!(
        resources.requests.unwrap().get("cpu"),
        Some(&Quantity("100m".to_owned()))
    );
    assert_eq!(
        resources.limits.unwrap().get("memory"),
        Some(&Quantity("128Mi".to_owned()))
    );
}

#[test]
fn schema_goes_to_a_config_map_mounted_in_both_workloads() {
    let (pipeline, desired) = build("full");
    let config_map = desired.schema.unwrap();
    assert_eq!(
        config_map.metadata.name.as_deref(),
        Some("user-activity-schema")
    );
    let stored: serde_json::Value =
        serde_json::from_str(&config_map.data.unwrap()["schema.json"]).unwrap();
    assert_eq!(Some(&stored), pipeline.spec.producer.schema.as_ref());
    for deployment in [&desired.producer, &desired.consumer] {
        assert_env(
            deployment,
            contract::SCHEMA_FILE,
            "/etc/eventflow/schema/schema.json",
        );
        assert_eq!(
            mounts(deployment)
                .get("/etc/eventflow/schema")
                .map(String::as_str),
            Some("schema")
        );
        let annotations = template_annotations(deployment);
        assert!(annotations.contains_key("eventflow.dev/schema-hash"));
    }
}

#[test]
fn consumer_spec_lands_in_the_consumer_deployment() {
    let (pipeline, desired) = build("full");
    let consumer = &desired.consumer;
    assert_eq!(replicas(consumer), 3, "autoscaling off: consumer.replicas");
    assert_env(consumer, contract::BATCH_SIZE, "250");
    assert_env(consumer, contract::BATCH_TIMEOUT, "750ms");
    assert_env(consumer, contract::MONGODB_TTL, "10080m");
    assert!(!env(&desired.producer).contains_key(contract::MONGODB_TTL));
    assert_env(consumer, contract::GROUP_ID, &pipeline.group_id());
    assert_eq!(pipeline.group_id(), "eventflow-shop-user-activity");
    let requests = container(consumer)
        .resources
        .clone()
        .unwrap()
        .requests
        .unwrap();
    assert_eq!(requests.get("memory"), Some(&Quantity("96Mi".to_owned())));
    for producer_only in [
        contract::PARTITION_KEY,
        contract::ALLOWED_TYPES,
        contract::AUTH_TOKENS_FILE,
        contract::HTTP_PORT,
        contract::RATE_LIMIT_EVENTS_PER_SECOND,
        contract::RATE_LIMIT_BURST,
    ] {
        assert!(
            !env(consumer).contains_key(producer_only),
            "{producer_only} on the consumer"
        );
    }
}

#[test]
fn sink_reaches_both_workloads_with_the_uri_from_its_secret() {
    let (_, desired) = build("full");
    for deployment in [&desired.producer, &desired.consumer] {
        let uri = env(deployment)[contract::MONGODB_URI]
            .value_from
            .clone()
            .unwrap();
        let secret = uri.secret_key_ref.unwrap();
        assert_eq!(
            (secret.name.as_str(), secret.key.as_str()),
            ("mongodb", "uri")
        );
        assert_env(deployment, contract::MONGODB_DATABASE, "analytics");
        assert_env(deployment, contract::MONGODB_COLLECTION, "user_activity");
        assert_env(deployment, contract::PIPELINE, "user-activity");
        assert_env(deployment, contract::LOG_FORMAT, "json");
    }
}

#[test]
fn image_override_and_default_image() {
    let (_, full) = build("full");
    assert_eq!(
        container(&full.producer).image.as_deref(),
        Some("registry.example/eventflow:1.2.3")
    );
    let (_, minimal) = build("minimal");
    assert_eq!(
        container(&minimal.consumer).image.as_deref(),
        Some("ghcr.io/eventflow/eventflow:test")
    );
    assert_eq!(
        container(&minimal.consumer).args,
        Some(vec!["consumer".to_owned()])
    );
}

#[test]
fn image_pull_secrets_go_on_every_workload_pod() {
    let pipeline = load("full");
    let with_secrets = BuildContext {
        image_pull_secrets: vec!["regcred".to_owned(), "mirror".to_owned()],
        ..ctx()
    };
    let desired = resources::desired(&pipeline, &with_secrets, 1);
    for deployment in [&desired.producer, &desired.consumer] {
        let names: Vec<&str> = pod(deployment)
            .image_pull_secrets
            .iter()
            .flatten()
            .map(|secret| secret.name.as_str())
            .collect();
        assert_eq!(
            names,
            ["regcred", "mirror"],
            "{:?}",
            deployment.metadata.name
        );
    }
    let (_, without) = build("full");
    assert_eq!(pod(&without.consumer).image_pull_secrets, None);
}

#[test]
fn suspend_scales_both_workloads_to_zero() {
    let mut pipeline = load("full");
    pipeline.spec.suspend = true;
    let desired = resources::desired(&pipeline, &ctx(), resources::consumer::replicas(&pipeline));
    assert_eq!(
        (replicas(&desired.producer), replicas(&desired.consumer)),
        (0, 0)
    );
}

#[test]
fn autoscaling_uses_the_scalers_decision_else_the_start_within_bounds() {
    let (_, desired) = build("autoscaled");
    assert_eq!(
        replicas(&desired.consumer),
        5,
        "status.consumer.desiredReplicas"
    );
    let mut pipeline = load("autoscaled");
    pipeline.status = None;
    let desired = resources::desired(&pipeline, &ctx(), resources::consumer::replicas(&pipeline));
    assert_eq!(
        replicas(&desired.consumer),
        2,
        "consumer.replicas 1 raised to minReplicas 2"
    );
}

#[test]
fn defaults_fill_a_minimal_pipeline() {
    let (pipeline, desired) = build("minimal");
    assert_eq!(pipeline.topic_name(), "orders");
    assert_eq!(pipeline.spec.topic.partitions, 1);
    assert_eq!(pipeline.spec.topic.deletion_policy, DeletionPolicy::Retain);
    assert_env(&desired.consumer, contract::BATCH_SIZE, "100");
    assert_env(&desired.consumer, contract::BATCH_TIMEOUT, "5s");
    assert!(!env(&desired.consumer).contains_key(contract::MONGODB_TTL));
    assert_env(&desired.producer, contract::PARTITION_KEY, "subject");
    assert_env(&desired.producer, contract::MONGODB_COLLECTION, "orders");
    assert!(desired.schema.is_none());
    let mut dashed = pipeline.clone();
    dashed.metadata.name = Some("web-clicks.v2".to_owned());
    assert_eq!(
        dashed.collection(),
        "web_clicks_v2",
        "a collection name every server accepts"
    );
    assert!(!env(&desired.producer).contains_key(contract::KAFKA_PROPERTIES_FILE));
    assert!(!env(&desired.producer).contains_key(contract::AUTH_TOKENS_FILE));
    assert!(!env(&desired.producer).contains_key(contract::ALLOWED_TYPES));
    assert!(!env(&desired.producer).contains_key(contract::RATE_LIMIT_EVENTS_PER_SECOND));
}

#[test]
fn pods_are_hardened_probed_and_scraped() {
    let (_, desired) = build("full");
    for deployment in [&desired.producer, &desired.consumer] {
        let pod = pod(deployment);
        let pod_security = pod.security_context.clone().unwrap();
        assert_eq!(pod_security.run_as_non_root, Some(true));
        assert_eq!(
            pod_security.seccomp_profile.unwrap().type_,
            "RuntimeDefault"
        );
        let security = container(deployment).security_context.clone().unwrap();
        assert_eq!(security.read_only_root_filesystem, Some(true));
        assert_eq!(security.allow_privilege_escalation, Some(false));
        assert_eq!(
            security.capabilities.unwrap().drop,
            Some(vec!["ALL".to_owned()])
        );
        assert_eq!(security.seccomp_profile.unwrap().type_, "RuntimeDefault");
        let readiness = container(deployment)
            .readiness_probe
            .clone()
            .unwrap()
            .http_get
            .unwrap();
        assert_eq!(
            (readiness.path.as_deref(), readiness.port),
            (Some("/readyz"), IntOrString::String("admin".to_owned()))
        );
        let liveness = container(deployment)
            .liveness_probe
            .clone()
            .unwrap()
            .http_get
            .unwrap();
        assert_eq!(liveness.path.as_deref(), Some("/healthz"));
        let give_up = |probe: Option<&Probe>| {
            let probe = probe.unwrap();
            probe.period_seconds.unwrap() * probe.failure_threshold.unwrap()
        };
        let pod = container(deployment);
        assert!(
            give_up(pod.readiness_probe.as_ref()) < give_up(pod.liveness_probe.as_ref()),
            "a stopped process leaves the endpoints before it is restarted"
        );
        let annotations = template_annotations(deployment);
        assert_eq!(
            annotations.get("prometheus.io/scrape").map(String::as_str),
            Some("true")
        );
        assert_eq!(
            annotations.get("prometheus.io/port").map(String::as_str),
            Some("9090")
        );
        assert_eq!(
            mounts(deployment).get("/tmp").map(String::as_str),
            Some("tmp"),
            "writable /tmp"
        );
    }
}

#[test]
fn service_exposes_http_and_admin_ports_of_the_producer_pods() {
    let (pipeline, desired) = build("full");
    let service = desired.producer_service;
    let spec = service.spec.unwrap();
    let ports: Vec<(String, i32)> = spec
        .ports
        .unwrap()
        .into_iter()
        .map(|p| (p.name.unwrap(), p.port))
        .collect();
    assert_eq!(
        ports,
        vec![("http".to_owned(), 8080), ("admin".to_owned(), 9090)]
    );
    let producer_labels = desired
        .producer
        .spec
        .unwrap()
        .template
        .metadata
        .unwrap()
        .labels
        .unwrap();
    let selector = spec.selector.unwrap();
    assert!(!selector.is_empty(), "the Service selects pods");
    for (key, value) in selector {
        assert_eq!(
            producer_labels.get(&key),
            Some(&value),
            "selector {key} matches the producer pods"
        );
    }
    assert_eq!(
        service
            .metadata
            .annotations
            .unwrap()
            .get("prometheus.io/scrape")
            .map(String::as_str),
        Some("true")
    );
    let owner = &service.metadata.owner_references.unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str(), owner.controller),
        ("EventPipeline", "user-activity", Some(true))
    );
    assert_eq!(owner.uid, pipeline.metadata.uid.unwrap());
}

#[test]
fn every_child_is_owned_by_the_pipeline_and_labelled() {
    let (_, desired) = build("full");
    let metas = [
        desired.producer.metadata.clone(),
        desired.consumer.metadata.clone(),
        desired.producer_service.metadata.clone(),
        desired.schema.clone().unwrap().metadata,
    ];
    for meta in metas {
        assert_eq!(meta.namespace.as_deref(), Some("shop"));
        assert_eq!(meta.owner_references.unwrap().len(), 1);
        let labels = meta.labels.unwrap();
        assert_eq!(
            labels.get("eventflow.dev/pipeline").map(String::as_str),
            Some("user-activity")
        );
        assert_eq!(
            labels
                .get("app.kubernetes.io/managed-by")
                .map(String::as_str),
            Some("eventflow-operator")
        );
    }
}

#[test]
fn validation_reports_every_broken_cel_rule_of_the_crd_and_what_the_crd_cannot_say() {
    let mut pipeline = load("full");
    assert_eq!(validate(&pipeline, &ctx()), Ok(()));
    pipeline.spec.autoscaling.min_replicas = 7;
    pipeline.spec.consumer.batch_timeout = "10m".parse().unwrap();
    pipeline.spec.producer.schema = Some(serde_json::json!("not a schema"));
    assert_eq!(
        validate(&pipeline, &ctx()),
        Err(
            "autoscaling.minReplicas must not exceed autoscaling.maxReplicas; \
             consumer.batchTimeout must be between 10ms and 5m; \
             producer.schema must be a JSON Schema object"
                .to_owned()
        )
    );
}

/// Found by the `pipeline_yaml` fuzz target: these passed every check, then the producer
/// refused to start (partition key, schema) or read other types than the spec lists (a comma).
/// The CRD now refuses the key and the comma (patterns); the schema, free-form in the CRD, is
/// compiled by the spec checks as the producer compiles it.
#[test]
fn what_the_producer_cannot_start_with_is_refused() {
    let mut pipeline = load("full");
    pipeline.spec.producer.schema = Some(serde_json::json!({"type": 5}));
    let problems = validate(&pipeline, &ctx()).unwrap_err();
    assert!(
        problems.starts_with("producer.schema does not compile: "),
        "{problems}"
    );
    let mut refused = load("full");
    refused.spec.producer.partition_key = "userId".to_owned();
    refused.spec.producer.allowed_types = vec!["a,b".to_owned()];
    let errors = eventflow_operator::schema_check::errors(
        &eventflow_operator::schema_check::validator().unwrap(),
        &serde_json::to_value(&refused).unwrap(),
    );
    let paths: Vec<&str> = errors
        .iter()
        .map(|e| e.split(": ").next().unwrap_or_default())
        .collect();
    assert_eq!(
        paths,
        [
            "/spec/producer/partitionKey",
            "/spec/producer/allowedTypes/0"
        ],
        "{errors:?}"
    );
}
