//! What an operator of eventflow watches: every metric name and label that the chart's Grafana
//! dashboard and alerting rules use is exported by the running processes. The test runs the
//! operator against the dev cluster (one pipeline on the dev Kafka, one whose Kafka does not
//! answer, so reconcile errors and a false `TopicReady` exist) and the local runtime with its real
//! producer and consumer (valid and refused events, a poison message for the dead-letter topic),
//! scrapes every `/metrics`, and fails listing whatever is missing. The local runtime's `--json`
//! status must carry the same figures.

#[path = "../packaging/promql.rs"]
mod promql;

#[path = "../support/local_run.rs"]
mod local_run;

use std::{
    collections::{BTreeMap, BTreeSet},
    time::{Duration, Instant},
};

use eventflow_contract::exposition;
use eventflow_workloads::testkit::DevServices;
use local_run::{LocalRun, Options};

use crate::{
    kafka,
    support::{CONVERGE, REPO, Watched, apply, example, wait_pipeline},
};

/// The runtime's own `/metrics` and the producer's and consumers' it reports.
fn metrics_urls(local: &LocalRun) -> Vec<String> {
    let mut urls = vec![format!("http://127.0.0.1:{}/metrics", local.metrics_port)];
    if let Some(workloads) = local.latest()["workloadMetrics"].as_array() {
        urls.extend(
            workloads
                .iter()
                .filter_map(|u| u.as_str().map(str::to_owned)),
        );
    }
    urls
}

fn pipeline_yaml(name: &str) -> String {
    format!(
        r"
apiVersion: eventflow.dev/v1alpha1
kind: EventPipeline
metadata: {{name: {name}}}
spec:
  kafka: {{bootstrapServers: unused-locally:9092}}
  topic: {{partitions: 2, replicationFactor: 1}}
  producer: {{partitionKey: subject}}
  consumer: {{replicas: 1, batchSize: 10, batchTimeout: 200ms}}
  sink: {{mongodb: {{uriSecretRef: {{name: mongodb, key: uri}}, database: eventflow_observe, collection: {name}}}}}
  autoscaling: {{enabled: true, minReplicas: 1, maxReplicas: 2, lagThreshold: 100, pollInterval: 1s}}
"
    )
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn get_text(url: &str) -> Option<String> {
    runtime().block_on(async {
        let response = reqwest::get(url).await.ok()?;
        response.text().await.ok()
    })
}

fn post_events(url: &str, body: &str) -> u16 {
    runtime().block_on(async {
        reqwest::Client::new()
            .post(url)
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .map_or(0, |response| response.status().as_u16())
    })
}

/// Metric name -> labels, over every scrape.
fn exported(urls: &[String]) -> BTreeMap<String, BTreeSet<String>> {
    let mut exported: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for url in urls {
        for sample in exposition::parse(&get_text(url).unwrap_or_default()) {
            exported
                .entry(sample.name)
                .or_default()
                .extend(sample.labels.into_keys());
        }
    }
    exported
}

/// `name{label}` for each name or label used but not exported.
fn missing(used: &promql::Used, exported: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let mut missing = Vec::new();
    for (name, labels) in used {
        match exported.get(name) {
            None => missing.push(name.clone()),
            Some(have) => missing.extend(
                labels
                    .iter()
                    .filter(|label| !have.contains(*label))
                    .map(|label| format!("{name}{{{label}}}")),
            ),
        }
    }
    missing
}

/// The operator with a working and a broken pipeline, both reconciled.
fn operator_with_pipelines() -> Watched {
    let watched = Watched::new("observe");
    let ns = &watched.ns.0;
    let working = example("quickstart.yaml", ns).remove(0);
    let mut broken = working.clone();
    broken["metadata"]["name"] = "unreachable".into();
    broken["spec"]["kafka"]["bootstrapServers"] = "127.0.0.1:1".into();
    broken["spec"]["topic"]["name"] = format!("{ns}.unreachable").into();
    apply(&[working, broken]);
    wait_pipeline(
        ns,
        "quickstart",
        "Ready",
        CONVERGE,
        crate::support::is_ready,
    );
    wait_pipeline(ns, "unreachable", "TopicReady=False", CONVERGE, |p| {
        crate::support::condition(p, "TopicReady").is_some_and(|(status, ..)| status == "False")
    });
    watched
}

/// Valid events (202), a refused one (4xx), and a poison message written straight to the topic
/// (the consumer sends it to the dead-letter topic).
fn traffic(local: &LocalRun) {
    let url = format!("http://127.0.0.1:{}/v1/events", local.http_port);
    let valid = r#"[{"type":"demo","subject":"a","data":{"n":1}},{"type":"demo","subject":"b","data":{"n":2}}]"#;
    assert_eq!(post_events(&url, valid), 202);
    let refused = post_events(&url, r#"{"type": 7}"#);
    assert!(
        (400..500).contains(&refused),
        "a malformed event got {refused}"
    );
    kafka::produce_raw(&local.name, b"not an event");
}

#[test]
fn every_metric_and_label_of_the_dashboard_and_the_alerts_is_exported_by_the_processes() {
    let _cluster = crate::support::shared();
    let read = |path: &str| std::fs::read_to_string(format!("{REPO}/{path}")).unwrap();
    let used = promql::used_by_dashboard_and_rules(&read(promql::DASHBOARD), &read(promql::RULES));
    assert!(
        used.len() >= 15,
        "the PromQL scan found too little: {used:?}"
    );

    let services = DevServices::from_env().expect("dev services");
    let watched = operator_with_pipelines();
    let local = LocalRun::start(&services, "observe", pipeline_yaml, &Options::default());
    let started = Instant::now();
    while local.latest()["producerReady"] != true || local.latest()["consumersReady"] != 1 {
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "the local runtime's producer and consumer never became ready; last status: {}",
            local.latest()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    traffic(&local);

    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut urls = metrics_urls(&local);
        urls.push(watched.metrics_url());
        let missing = missing(&used, &exported(&urls));
        if missing.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the dashboard or the alerts use what no process exports: {missing:?} (scraped {urls:?})"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    the_status_carries_the_dashboard_figures(&local);
}

/// Some status since the traffic showed each of the dashboard's workload figures.
fn the_status_carries_the_dashboard_figures(local: &LocalRun) {
    let positive = |field: &str| {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if local
                .statuses()
                .iter()
                .any(|s| s[field].as_f64().is_some_and(|v| v > 0.0))
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no status showed {field} > 0; last: {}",
                local.latest()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    for field in [
        "ingestPerSecond",
        "ingestP99Seconds",
        "http4xxPerSecond",
        "writtenPerSecond",
        "batchP99Seconds",
        "deadLettersPerSecond",
        "maxConsumers",
        "desiredConsumers",
        "consumers",
        "producersReady",
        "consumersReady",
    ] {
        positive(field);
    }
    let latest = local.latest();
    for field in [
        "lag",
        "lagTrendPerSecond",
        "scalingRule",
        "http5xxPerSecond",
    ] {
        assert!(
            latest.get(field).is_some_and(|v| !v.is_null()),
            "{field} missing in {latest}"
        );
    }
}
