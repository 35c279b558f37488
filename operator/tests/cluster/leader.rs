//! Leader election on a real API server: of two operator processes only the Lease holder
//! reconciles; SIGKILL it and the standby takes over once the Lease expired.

use std::time::{Duration, Instant};

use eventflow_operator::leader::Timings;
use serde_json::json;

use crate::support::{
    CONVERGE, Namespace, apply, example, get, installed, is_ready, kubectl, patch, start_operator,
    wait_for, wait_pipeline,
};

/// The Lease's duration and the standby's retry period.
const LEASE: Duration = Timings::CLIENT_GO.lease_duration;
const RETRY: Duration = Timings::CLIENT_GO.retry_period;

/// The status and body of an operator's `/readyz`.
fn readyz(port: u16) -> Option<(u16, String)> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let response = reqwest::get(format!("http://127.0.0.1:{port}/readyz"))
            .await
            .ok()?;
        let status = response.status().as_u16();
        Some((status, response.text().await.ok()?))
    })
}

/// Waits until the operator on `port` answers ready (what the chart's readiness probe asks).
fn wait_ready(who: &str, port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let answer = readyz(port);
        if answer.as_ref().is_some_and(|(status, _)| *status == 200) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{who}'s /readyz after 30 s: {answer:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn holder(lease: &str) -> Option<String> {
    let output = kubectl(&[
        "-n",
        &installed().namespace,
        "get",
        "lease",
        lease,
        "-o",
        "jsonpath={.spec.holderIdentity}",
    ]);
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

#[test]
fn only_the_leader_reconciles_and_the_standby_takes_over_after_sigkill() {
    let _cluster = crate::support::shared();
    let ns = Namespace::new("leader");
    let lease = format!("lease-{}", ns.0);
    let (a, b) = (format!("{}-a", ns.0), format!("{}-b", ns.0));
    let mut leader = start_operator(&ns.0, &a, &[]);
    wait_for("a holds the Lease", CONVERGE, || {
        (holder(&lease).as_deref() == Some(a.as_str())).then_some(())
    });
    let standby = start_operator(&ns.0, &b, &[]);
    wait_for("b standing by", CONVERGE, || {
        standby
            .log_text()
            .contains("admin server listening")
            .then_some(())
    });

    apply(&example("posts.yaml", &ns.0));
    wait_pipeline(&ns.0, "posts", "Ready", CONVERGE, is_ready);
    assert!(
        leader.log_text().contains("reconciled"),
        "the leader did not reconcile"
    );
    let quiet = standby.log_text();
    assert!(
        !quiet.contains("became the leader") && !quiet.contains("reconciled"),
        "the standby acted:\n{quiet}"
    );
    assert_eq!(holder(&lease).as_deref(), Some(a.as_str()));
    // Both are ready: the leader has synced its watches, the standby is ready to take over.
    wait_ready("the leader", leader.metrics_port);
    wait_ready("the standby", standby.metrics_port);

    leader.kill();
    let killed = Instant::now();
    wait_for(
        "b holds the Lease",
        LEASE + RETRY + Duration::from_secs(5),
        || (holder(&lease).as_deref() == Some(b.as_str())).then_some(()),
    );
    let took = killed.elapsed();
    // The standby saw the last renewal within RETRY of it, waits LEASE from then, and looks
    // every RETRY.
    assert!(took <= LEASE + 2 * RETRY, "took over after {took:?}");

    // The new leader reconciles a change made after the takeover.
    let patched = patch(
        &ns.0,
        "posts",
        &json!({"spec": {"consumer": {"batchSize": 77}}}),
    );
    assert!(patched.status.success());
    wait_pipeline(
        &ns.0,
        "posts",
        "Ready at the new generation",
        CONVERGE,
        |p| is_ready(p) && p["metadata"]["generation"] == 2,
    );
    let log = standby.log_text();
    assert!(
        log.contains("became the leader") && log.contains("reconciled"),
        "{log}"
    );
    wait_ready("the new leader", standby.metrics_port);
    eprintln!("standby took over {took:?} after the leader's SIGKILL");
}

/// Sends `signal` (`STOP`, `CONT`) to `pid`.
fn signal(pid: u32, signal: &str) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{signal} {pid}");
}

/// Resumes a stopped process when dropped, also when the test fails.
struct Stopped(u32);

impl Stopped {
    fn stop(pid: u32) -> Self {
        signal(pid, "STOP");
        Self(pid)
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        signal(self.0, "CONT");
    }
}

/// `resourceVersion` of an object.
/// What a write by the operator changes: a pipeline's `resourceVersion` (its status), a
/// Deployment's `generation` (its spec; the Deployment controller's status updates, which go on
/// while the rollout finishes, leave it).
fn version(kind: &str, namespace: &str, name: &str) -> String {
    let object = get(kind, namespace, name).unwrap();
    let field = if kind == "deployment" {
        "generation"
    } else {
        "resourceVersion"
    };
    object["metadata"][field].to_string()
}

/// The Events of `namespace` reported by the operator replica `identity`.
fn events_reported_by(namespace: &str, identity: &str) -> usize {
    let events: serde_json::Value = serde_json::from_str(&crate::support::kubectl_ok(&[
        "-n",
        namespace,
        "get",
        "events.events.k8s.io",
        "-o",
        "json",
    ]))
    .unwrap();
    events["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["reportingInstance"] == identity)
        .count()
}

#[test]
fn a_stopped_leader_is_replaced_and_writes_nothing_once_it_resumes() {
    let _cluster = crate::support::shared();
    let ns = Namespace::new("stopped");
    let lease = format!("lease-{}", ns.0);
    let (a, b) = (format!("{}-a", ns.0), format!("{}-b", ns.0));
    let leader = start_operator(&ns.0, &a, &[]);
    wait_for("a holds the Lease", CONVERGE, || {
        (holder(&lease).as_deref() == Some(a.as_str())).then_some(())
    });
    let standby = start_operator(&ns.0, &b, &[]);
    // Kafka unreachable: each reconcile waits out the operator's Kafka timeout (10 s) before it
    // applies the Deployments, so a reconcile is in flight when the leader is stopped.
    let mut pipeline = example("posts.yaml", &ns.0).remove(0);
    pipeline["spec"]["kafka"]["bootstrapServers"] = "127.0.0.1:1".into();
    apply(&[pipeline]);
    wait_for("the consumer Deployment", CONVERGE, || {
        get("deployment", &ns.0, "posts-consumer").map(drop)
    });
    let batch = |size: u32| json!({"spec": {"consumer": {"batchSize": size}}});
    assert!(patch(&ns.0, "posts", &batch(77)).status.success());
    std::thread::sleep(Duration::from_secs(2));
    let stopped = Stopped::stop(leader.pid);
    assert!(patch(&ns.0, "posts", &batch(78)).status.success());
    wait_for("b holds the Lease", LEASE + RETRY + CONVERGE, || {
        (holder(&lease).as_deref() == Some(b.as_str())).then_some(())
    });
    wait_for("b applied generation 3", CONVERGE, || {
        let consumer = get("deployment", &ns.0, "posts-consumer")?;
        consumer
            .to_string()
            .contains(r#""value":"78""#)
            .then_some(())
    });
    let objects = [
        ("eventpipeline", "posts"),
        ("deployment", "posts-consumer"),
        ("deployment", "posts-producer"),
    ];
    let versions: Vec<String> = objects.iter().map(|(k, n)| version(k, &ns.0, n)).collect();
    let reported = events_reported_by(&ns.0, &a);
    let log_before = leader.log_text().len();
    drop(stopped);

    wait_for("a steps down", CONVERGE, || {
        leader.log_text()[log_before..]
            .contains("lost the leader lease")
            .then_some(())
    });
    // a's in-flight reconcile would reach its writes once its Kafka wait ends.
    std::thread::sleep(Duration::from_secs(5));
    let after: Vec<String> = objects.iter().map(|(k, n)| version(k, &ns.0, n)).collect();
    assert_eq!(
        after, versions,
        "written after a resumed (pipeline, consumer, producer)"
    );
    assert_eq!(
        events_reported_by(&ns.0, &a),
        reported,
        "a published Events after it resumed"
    );
    assert!(standby.log_text().contains("became the leader"));
}

#[test]
fn a_leader_that_cannot_renew_within_the_renew_deadline_steps_down() {
    let _cluster = crate::support::exclusive();
    let ns = Namespace::new("stall");
    let lease = format!("lease-{}", ns.0);
    let identity = format!("{}-a", ns.0);
    let leader = start_operator(&ns.0, &identity, &[]);
    wait_for("it holds the Lease", CONVERGE, || {
        (holder(&lease).as_deref() == Some(identity.as_str())).then_some(())
    });
    let dir = std::env::var("EVENTFLOW_CLUSTER_DIR").expect("EVENTFLOW_CLUSTER_DIR");
    let pid_file = std::path::Path::new(&dir).join("kube-apiserver.pid");
    let api_server: u32 = std::fs::read_to_string(pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let log_before = leader.log_text().len();

    let stalled = Stopped::stop(api_server);
    let started = Instant::now();
    // Within the renew deadline and one retry period, before the lease could expire.
    let step_down = wait_for("the leader steps down", LEASE, || {
        leader.log_text()[log_before..]
            .contains("lost the leader lease")
            .then(|| started.elapsed())
    });
    drop(stalled);
    let deadline = Timings::CLIENT_GO.renew_deadline + RETRY;
    assert!(step_down <= deadline, "stepped down after {step_down:?}");
    eprintln!("the leader stepped down {step_down:?} into the API server's stall");
}
