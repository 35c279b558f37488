//! Lease-based leader election against an in-memory API (kube-fake-client).
#![expect(
    clippy::unwrap_used,
    reason = "test helpers fail the test on any error"
)]

use std::time::Duration;

use eventflow_operator::leader::LeaderElector;
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
        Duration::from_secs(15),
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

#[tokio::test]
async fn a_live_holder_keeps_the_lease_and_an_expired_one_loses_it() {
    let live = fake(Some(lease_held_by("old", SignedDuration::from_secs(2)))).await;
    assert!(!elector(&live, "new").try_acquire_or_renew().await.unwrap());
    let expired = fake(Some(lease_held_by("old", SignedDuration::from_secs(60)))).await;
    assert!(
        elector(&expired, "new")
            .try_acquire_or_renew()
            .await
            .unwrap()
    );
    let lease = Api::<Lease>::namespaced(expired.clone(), NAMESPACE)
        .get(LEASE)
        .await
        .unwrap();
    let spec = lease.spec.unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some("new"));
    assert_eq!(spec.lease_transitions, Some(1));
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
