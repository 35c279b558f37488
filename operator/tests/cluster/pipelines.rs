//! Every example pipeline applied with kubectl reaches Ready with its topic on Kafka and its
//! children owned by it; then changes made through kubectl reach Kafka and the Deployments.

use serde_json::{Value, json};

use crate::{
    kafka,
    support::{
        CONVERGE, Watched, apply, condition, example, get, is_ready, kubectl_ok, patch, refused,
        topic_of, transactions_tokens, wait_event, wait_for, wait_pipeline,
    },
};

const EXAMPLES: [&str; 5] = [
    "posts.yaml",
    "quickstart.yaml",
    "transactions.yaml",
    "user-activity.yaml",
    "user-and-blog-events.yaml",
];

fn controller_owner(object: &Value) -> Value {
    let owners = object["metadata"]["ownerReferences"].as_array().unwrap();
    let owner = owners.iter().find(|o| o["controller"] == true).unwrap();
    json!({"kind": owner["kind"], "name": owner["name"], "uid": owner["uid"]})
}

/// The pipeline's topic, children and status, as the example asks.
fn assert_made_real(namespace: &str, spec: &Value, pipeline: &Value) {
    let name = pipeline["metadata"]["name"].as_str().unwrap();
    let topic = spec["spec"]["topic"]["name"].as_str().unwrap();
    let partitions = spec["spec"]["topic"]["partitions"].as_u64().unwrap();
    assert_eq!(
        kafka::partitions(topic),
        Some(usize::try_from(partitions).unwrap()),
        "{topic}"
    );
    assert_eq!(
        pipeline["status"]["topic"],
        json!({"name": topic, "partitions": partitions})
    );
    if let Some(config) = spec["spec"]["topic"]["config"].as_object() {
        let applied = kafka::topic_config(topic);
        for (key, value) in config {
            assert_eq!(
                applied.get(key).map(String::as_str),
                value.as_str(),
                "{topic}: {key}"
            );
        }
    }
    let owner = json!({"kind": "EventPipeline", "name": name, "uid": pipeline["metadata"]["uid"]});
    let mut children = vec![
        ("deployment", format!("{name}-producer")),
        ("deployment", format!("{name}-consumer")),
        ("service", format!("{name}-producer")),
    ];
    let schema = format!("{name}-schema");
    if spec["spec"]["producer"]["schema"].is_object() {
        children.push(("configmap", schema));
    } else {
        assert!(
            get("configmap", namespace, &schema).is_none(),
            "{schema} without a schema"
        );
    }
    for (kind, child) in children {
        let object =
            get(kind, namespace, &child).unwrap_or_else(|| panic!("{kind} {child} missing"));
        assert_eq!(controller_owner(&object), owner, "{kind} {child}");
    }
    let generation = pipeline["metadata"]["generation"].as_i64().unwrap();
    for type_ in [
        "Ready",
        "TopicReady",
        "SinkReady",
        "ProducerReady",
        "ConsumerReady",
    ] {
        let (status, _, message, observed) = condition(pipeline, type_).unwrap();
        assert_eq!(
            (status.as_str(), observed),
            ("True", generation),
            "{name} {type_}: {message}"
        );
    }
}

#[test]
fn every_example_reaches_ready_with_its_topic_and_owned_children() {
    let _cluster = crate::support::shared();
    let watched = Watched::new("examples");
    let ns = &watched.ns;
    transactions_tokens(&ns.0);
    let pipelines: Vec<Value> = EXAMPLES
        .iter()
        .flat_map(|file| example(file, &ns.0))
        .collect();
    assert_eq!(pipelines.len(), 6);
    apply(&pipelines);
    for spec in &pipelines {
        let name = spec["metadata"]["name"].as_str().unwrap();
        let pipeline = wait_pipeline(&ns.0, name, "Ready", CONVERGE, is_ready);
        assert_made_real(&ns.0, spec, &pipeline);
    }
    // The printer columns, through the fully qualified resource (`ep` alone is core Endpoints).
    let table = kubectl_ok(&["-n", &ns.0, "get", "evp", "quickstart"]);
    let lines: Vec<Vec<&str>> = table
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        lines[0],
        [
            "NAME",
            "READY",
            "REASON",
            "PARTITIONS",
            "CONSUMERS",
            "LAG",
            "AGE"
        ]
    );
    // REASON is empty while Ready; kwok's pods never join the group, so no partition is held.
    assert_eq!(
        lines[1][..7],
        ["quickstart", "True", "4", "1/1", "assigned", "0/4", "0"]
    );
}

fn consumer(namespace: &str, name: &str) -> Value {
    get("deployment", namespace, &format!("{name}-consumer")).unwrap()
}

fn env_value(deployment: &Value, variable: &str) -> Option<String> {
    let env = deployment["spec"]["template"]["spec"]["containers"][0]["env"].as_array()?;
    let found = env.iter().find(|e| e["name"] == variable)?;
    found["value"].as_str().map(str::to_owned)
}

#[test]
fn kubectl_changes_reach_kafka_and_the_deployments() {
    let _cluster = crate::support::shared();
    let watched = Watched::new("changes");
    let ns = &watched.ns;
    let spec = example("posts.yaml", &ns.0).remove(0);
    assert_eq!(
        spec["spec"]["autoscaling"]["enabled"], false,
        "kubectl scale needs autoscaling off"
    );
    let topic = topic_of(&spec);
    apply(std::slice::from_ref(&spec));
    wait_pipeline(&ns.0, "posts", "Ready", CONVERGE, is_ready);

    // Grow partitions: applied on Kafka.
    assert!(
        patch(
            &ns.0,
            "posts",
            &json!({"spec": {"topic": {"partitions": 5}}})
        )
        .status
        .success()
    );
    wait_for("5 partitions on Kafka", CONVERGE, || {
        (kafka::partitions(&topic) == Some(5)).then_some(())
    });
    wait_pipeline(&ns.0, "posts", "status.topic.partitions 5", CONVERGE, |p| {
        p["status"]["topic"]["partitions"] == 5
    });

    // A topic config: applied (DescribeConfigs is eventually consistent, so poll).
    let retention = json!({"spec": {"topic": {"config": {"retention.ms": "7200000"}}}});
    assert!(patch(&ns.0, "posts", &retention).status.success());
    wait_for("retention.ms 7200000 on Kafka", CONVERGE, || {
        (kafka::topic_config(&topic)
            .get("retention.ms")
            .map(String::as_str)
            == Some("7200000"))
        .then_some(())
    });

    // Shrinking is refused by the API server (transition rule), nothing reaches Kafka.
    let shrink = patch(
        &ns.0,
        "posts",
        &json!({"spec": {"topic": {"partitions": 2}}}),
    );
    assert!(refused("shrinking partitions", &shrink).contains("topic.partitions cannot decrease"));
    assert_eq!(kafka::partitions(&topic), Some(5));

    // `kubectl scale` (scale subresource) with autoscaling off.
    kubectl_ok(&["-n", &ns.0, "scale", "eventpipeline/posts", "--replicas=3"]);
    wait_for("consumer Deployment at 3 replicas", CONVERGE, || {
        (consumer(&ns.0, "posts")["spec"]["replicas"] == 3).then_some(())
    });
    wait_pipeline(
        &ns.0,
        "posts",
        "status.consumer.replicas 3",
        CONVERGE,
        |p| p["status"]["consumer"]["replicas"] == 3,
    );
    let scale = kubectl_ok(&[
        "-n",
        &ns.0,
        "get",
        "eventpipeline",
        "posts",
        "--subresource=scale",
        "-o",
        "jsonpath={.spec.replicas}/{.status.replicas}",
    ]);
    assert_eq!(scale, "3/3");

    batch_size_change_rolls_the_consumer(&ns.0);

    // A topic grown behind the operator's back (7 > spec 5): the operator never shrinks it and
    // says so in TopicReady (any change to the pipeline triggers a reconcile).
    kafka::grow(&topic, 7);
    kubectl_ok(&["-n", &ns.0, "annotate", "eventpipeline", "posts", "poke=1"]);
    let refused = wait_pipeline(&ns.0, "posts", "TopicReady False", CONVERGE, |p| {
        condition(p, "TopicReady").is_some_and(|(status, ..)| status == "False")
    });
    let (_, reason, message, _) = condition(&refused, "TopicReady").unwrap();
    assert_eq!(reason, "PartitionDecreaseRefused");
    assert_eq!(
        message,
        format!("topic {topic} has 7 partitions; Kafka cannot shrink it to 5 (nothing changed)")
    );
    assert_eq!(kafka::partitions(&topic), Some(7));
    let warned = wait_event(&ns.0, "posts", "Warning", "PartitionDecreaseRefused");
    assert_eq!(warned, [message]);
}

/// Batch size: the pod template changes, so the Deployment rolls out a new `ReplicaSet`.
fn batch_size_change_rolls_the_consumer(namespace: &str) {
    // Batch size: the pod template changes, so the Deployment rolls out a new ReplicaSet.
    let before = consumer(namespace, "posts");
    assert_eq!(
        env_value(&before, "EVENTFLOW_BATCH_SIZE").as_deref(),
        Some("100")
    );
    assert!(
        patch(
            namespace,
            "posts",
            &json!({"spec": {"consumer": {"batchSize": 123}}})
        )
        .status
        .success()
    );
    let after = wait_for("EVENTFLOW_BATCH_SIZE 123", CONVERGE, || {
        let deployment = consumer(namespace, "posts");
        (env_value(&deployment, "EVENTFLOW_BATCH_SIZE").as_deref() == Some("123"))
            .then_some(deployment)
    });
    assert!(after["metadata"]["generation"].as_i64() > before["metadata"]["generation"].as_i64());
    let selector = "eventflow.dev/pipeline=posts";
    wait_for("two ReplicaSets of the consumer (rolled)", CONVERGE, || {
        let sets = kubectl_ok(&[
            "-n",
            namespace,
            "get",
            "replicasets",
            "-l",
            selector,
            "-o",
            "name",
        ]);
        (sets
            .lines()
            .filter(|l| l.contains("posts-consumer"))
            .count()
            == 2)
            .then_some(())
    });
}
