//! Leader election on a real API server: of two operator processes only the Lease holder
//! reconciles; SIGKILL it and the standby takes over once the Lease expired.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::{
    CONVERGE, Namespace, apply, example, installed, is_ready, kubectl, patch, start_operator,
    wait_for, wait_pipeline,
};

/// The Lease's duration and the standby's retry period (`controller::run`, `leader`).
const LEASE: Duration = Duration::from_secs(15);
const RETRY: Duration = Duration::from_secs(5);

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
    // Expiry is at most LEASE after the last renewal (renewals every LEASE / 3 before the kill);
    // the standby looks every RETRY.
    assert!(took <= LEASE + RETRY, "took over after {took:?}");

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
