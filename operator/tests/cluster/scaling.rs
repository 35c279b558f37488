//! Lag scaling through the real API: lag made on Kafka scales the consumer Deployment up within
//! `pollInterval` + 1 s, and back down once the lag is gone and the stabilization window passed;
//! each change is a `Scaled` Event.

use std::time::{Duration, Instant};

use crate::{
    kafka,
    support::{
        CONVERGE, Watched, apply, events, example, get, is_ready, topic_of, wait_for, wait_pipeline,
    },
};

fn consumer_replicas(namespace: &str) -> Option<i64> {
    get("deployment", namespace, "quickstart-consumer")?["spec"]["replicas"].as_i64()
}

/// The notes of the `Scaled` Events on the pipeline.
fn scaled_events(namespace: &str) -> Vec<String> {
    let selector = "regarding.kind=EventPipeline,regarding.name=quickstart,reason=Scaled";
    events(namespace, selector)
        .into_iter()
        .map(|(_, note)| note)
        .collect()
}

#[test]
fn lag_scales_the_consumers_up_within_a_poll_and_down_after_the_window() {
    let _cluster = crate::support::shared();
    let watched = Watched::new("scaling");
    let ns = &watched.ns;
    let mut spec = example("quickstart.yaml", &ns.0).remove(0);
    let window = Duration::from_secs(6);
    spec["spec"]["autoscaling"]["scaleDownStabilization"] = "6s".into();
    assert_eq!(spec["spec"]["autoscaling"]["pollInterval"], "2s");
    assert_eq!(spec["spec"]["autoscaling"]["lagThreshold"], 200);
    let poll = Duration::from_secs(2);
    let topic = topic_of(&spec);
    apply(&[spec]);
    wait_pipeline(&ns.0, "quickstart", "Ready", CONVERGE, is_ready);
    assert_eq!(consumer_replicas(&ns.0), Some(1));

    // 700 events of lag, threshold 200: ceil(700 / 200) = 4 = maxReplicas = partitions.
    kafka::produce(&topic, 700);
    let produced = Instant::now();
    wait_for("4 consumers", poll + Duration::from_secs(1), || {
        (consumer_replicas(&ns.0) == Some(4)).then_some(())
    });
    let up = produced.elapsed();
    let pipeline = wait_pipeline(&ns.0, "quickstart", "lag 700 in status", CONVERGE, |p| {
        p["status"]["lag"]["total"] == 700
    });
    assert_eq!(pipeline["status"]["consumer"]["desiredReplicas"], 4);

    // The group catches up (offsets committed at the end): back to 1, not before the window.
    let group = format!("eventflow-{}-quickstart", ns.0);
    kafka::commit_to_end(&group, &topic);
    let committed = Instant::now();
    wait_for(
        "1 consumer again",
        window + poll + Duration::from_secs(10),
        || (consumer_replicas(&ns.0) == Some(1)).then_some(()),
    );
    let down = committed.elapsed();
    assert!(
        down >= window.saturating_sub(poll),
        "scaled down after {down:?}, before the {window:?} window"
    );
    wait_for("Scaled Events up to 4 and 4→1", CONVERGE, || {
        let notes = scaled_events(&ns.0);
        // Up may take two steps when a poll saw part of the burst; down is one step.
        let up = notes
            .iter()
            .any(|n| n.starts_with("scaled 1→") || n.contains("→4"));
        let down = notes.iter().filter(|n| n.starts_with("scaled 4→1")).count() == 1;
        (up && down).then_some(())
    });
    eprintln!("scaled up {up:?} after the lag was produced, down {down:?} after it was committed");
}
