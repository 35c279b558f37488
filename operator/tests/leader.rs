//! Lease-based leader election against an in-memory API (kube-fake-client).
#![expect(
    clippy::unwrap_used,
    reason = "test helpers fail the test on any error"
)]

use std::time::Duration;

use eventflow_operator::leader::{LeaderElector, Timings};
use k8s_openapi::{
    api::coordination::v1::{Lease, LeaseSpec},
    apimachinery::pkg::apis::meta::v1::MicroTime,
    jiff::{SignedDuration, Timestamp},
};
use kube::{Api, Client, api::ObjectMeta};
use kube_fake_client::ClientBuilder;

const NAMESPACE: &str = "eventflow-system";
const LEASE: &str = "eventflow-operator";

async fn fake(existing: Option<Lease>) -> Client {
    let builder = ClientBuilder::new();
    let builder = match existing {
        Some(lease) => builder.with_object(lease),
        None => builder,
    };
    builder.build().await.unwrap()
}

fn elector(client: &Client, identity: &str) -> LeaderElector {
    LeaderElector::new(
        client.clone(),
        NAMESPACE,
        LEASE,
        identity,
        Timings::CLIENT_GO,
    )
}

async fn holder(client: &Client) -> Option<String> {
    let lease = Api::<Lease>::namespaced(client.clone(), NAMESPACE)
        .get(LEASE)
        .await
        .unwrap();
    lease.spec.unwrap().holder_identity
}

fn lease_held_by(identity: &str, renewed_ago: SignedDuration) -> Lease {
    Lease {
        metadata: ObjectMeta {
            name: Some(LEASE.to_owned()),
            namespace: Some(NAMESPACE.to_owned()),
            ..ObjectMeta::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some(identity.to_owned()),
            lease_duration_seconds: Some(15),
            renew_time: Some(MicroTime(
                Timestamp::now().checked_sub(renewed_ago).unwrap(),
            )),
            lease_transitions: Some(0),
            ..LeaseSpec::default()
        }),
    }
}

#[tokio::test]
async fn first_replica_leads_and_the_second_stands_by() {
    let client = fake(None).await;
    let (a, b) = (elector(&client, "a"), elector(&client, "b"));
    assert!(a.try_acquire_or_renew().await.unwrap());
    assert!(!b.try_acquire_or_renew().await.unwrap());
    assert!(a.try_acquire_or_renew().await.unwrap(), "the holder renews");
    assert_eq!(holder(&client).await.as_deref(), Some("a"));
}

#[tokio::test(start_paused = true)]
async fn a_holder_expires_after_the_lease_duration_unchanged_as_the_standby_saw_it() {
    // renewTime an hour old by the wall clock: the standby does not compare clocks, it waits
    // until it has seen the record unchanged for the lease duration.
    let client = fake(Some(lease_held_by("old", SignedDuration::from_secs(3600)))).await;
    let new = elector(&client, "new");
    assert!(!new.try_acquire_or_renew().await.unwrap(), "first sight");
    tokio::time::advance(Duration::from_secs(10)).await;
    // The holder renews: the standby's wait starts again.
    let api = Api::<Lease>::namespaced(client.clone(), NAMESPACE);
    let mut lease = api.get(LEASE).await.unwrap();
    lease.spec.as_mut().unwrap().renew_time = Some(MicroTime(Timestamp::now()));
    api.replace(LEASE, &kube::api::PostParams::default(), &lease)
        .await
        .unwrap();
    assert!(!new.try_acquire_or_renew().await.unwrap(), "renewed");
    tokio::time::advance(Duration::from_secs(14)).await;
    assert!(!new.try_acquire_or_renew().await.unwrap(), "14 s unchanged");
    tokio::time::advance(Duration::from_secs(1)).await;
    assert!(new.try_acquire_or_renew().await.unwrap(), "15 s unchanged");
    let spec = api.get(LEASE).await.unwrap().spec.unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some("new"));
    assert_eq!(spec.lease_transitions, Some(1));
}

#[tokio::test(start_paused = true)]
async fn the_holder_acts_only_until_the_renew_deadline_after_its_last_renewal() {
    let client = fake(None).await;
    let a = elector(&client, "a");
    assert!(!a.leadership().is_leader(), "before the first renewal");
    assert!(a.try_acquire_or_renew().await.unwrap());
    let deadline = Timings::CLIENT_GO.renew_deadline;
    tokio::time::advance(deadline.checked_sub(Duration::from_millis(1)).unwrap()).await;
    assert!(a.leadership().is_leader());
    tokio::time::advance(Duration::from_millis(1)).await;
    assert!(!a.leadership().is_leader(), "past the renew deadline");
    assert!(deadline < Timings::CLIENT_GO.lease_duration);
    assert!(Timings::CLIENT_GO.call_timeout() < deadline);
}

#[tokio::test]
async fn released_lease_goes_to_the_standby_at_once() {
    let client = fake(None).await;
    let (a, b) = (elector(&client, "a"), elector(&client, "b"));
    assert!(a.try_acquire_or_renew().await.unwrap());
    a.release().await.unwrap();
    assert!(b.try_acquire_or_renew().await.unwrap());
    assert_eq!(holder(&client).await.as_deref(), Some("b"));
}
