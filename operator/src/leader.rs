//! Leader election with a `coordination.k8s.io/v1` Lease, so two replicas never act at once.
//!
//! kube 4 has no elector built in; this is the client-go scheme in small: the holder renews
//! `renewTime` every third of the lease duration; another replica takes the Lease over only once
//! it expired. Every write is a replace carrying the `resourceVersion` read, so of two racing
//! replicas exactly one wins (the other gets a conflict and stays standby).

use std::time::Duration;

use k8s_openapi::{
    api::coordination::v1::{Lease, LeaseSpec},
    apimachinery::pkg::apis::meta::v1::MicroTime,
    jiff::{SignedDuration, Timestamp},
};
use kube::{
    Api, Client,
    api::{ObjectMeta, PostParams},
};
use tokio_util::sync::CancellationToken;

use crate::{Error, Result};

/// One replica's side of the election.
#[derive(Clone)]
pub struct LeaderElector {
    api: Api<Lease>,
    name: String,
    identity: String,
    lease_duration: Duration,
}

impl std::fmt::Debug for LeaderElector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeaderElector")
            .field("name", &self.name)
            .field("identity", &self.identity)
            .field("lease_duration", &self.lease_duration)
            .finish_non_exhaustive()
    }
}

impl LeaderElector {
    /// An elector for the Lease `namespace/name`, competing as `identity`.
    pub fn new(
        client: Client,
        namespace: &str,
        name: &str,
        identity: &str,
        lease_duration: Duration,
    ) -> Self {
        Self {
            api: Api::namespaced(client, namespace),
            name: name.to_owned(),
            identity: identity.to_owned(),
            lease_duration,
        }
    }

    /// One round: acquire a free or expired Lease, or renew ours; `true` when we hold it now.
    pub async fn try_acquire_or_renew(&self) -> Result<bool> {
        let now = Timestamp::now();
        let Some(lease) = self.api.get_opt(&self.name).await? else {
            return self.create(now).await;
        };
        let spec = lease.spec.clone().unwrap_or_default();
        let ours = spec.holder_identity.as_deref() == Some(self.identity.as_str());
        if !ours && !expired(&spec, now) {
            return Ok(false);
        }
        let mut next = lease;
        next.spec = Some(if ours {
            self.renewed(spec, now)
        } else {
            self.taken_over(spec, now)
        });
        self.replace(&next).await
    }

    /// Gives the Lease up (on shutdown), so a standby takes over without waiting for expiry.
    pub async fn release(&self) -> Result<()> {
        let Some(mut lease) = self.api.get_opt(&self.name).await? else {
            return Ok(());
        };
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        if spec.holder_identity.as_deref() != Some(self.identity.as_str()) {
            return Ok(());
        }
        spec.holder_identity = None;
        spec.renew_time = None;
        self.replace(&lease).await.map(drop)
    }

    /// Waits until this replica holds the Lease; `false` when `shutdown` came first.
    pub async fn acquire(&self, shutdown: &CancellationToken) -> bool {
        loop {
            match self.try_acquire_or_renew().await {
                Ok(true) => return true,
                Ok(false) => tracing::debug!(lease = %self.name, "standing by"),
                Err(error) => tracing::warn!(%error, "leader election round failed"),
            }
            tokio::select! {
                () = shutdown.cancelled() => return false,
                () = tokio::time::sleep(self.retry_period()) => {}
            }
        }
    }

    /// Renews the Lease until `stop` is cancelled; cancels `lost` (and returns) when it cannot
    /// be renewed within the lease duration.
    pub async fn keep(&self, stop: CancellationToken, lost: CancellationToken) {
        let mut last_renewed = tokio::time::Instant::now();
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(self.retry_period()) => {}
            }
            match self.try_acquire_or_renew().await {
                Ok(true) => last_renewed = tokio::time::Instant::now(),
                Ok(false) => break,
                Err(error) => tracing::warn!(%error, "could not renew the lease"),
            }
            if last_renewed.elapsed() > self.lease_duration {
                break;
            }
        }
        tracing::error!(lease = %self.name, "lost the leader lease");
        lost.cancel();
    }

    fn retry_period(&self) -> Duration {
        self.lease_duration / 3
    }

    fn duration_seconds(&self) -> i32 {
        i32::try_from(self.lease_duration.as_secs())
            .unwrap_or(i32::MAX)
            .max(1)
    }

    fn renewed(&self, mut spec: LeaseSpec, now: Timestamp) -> LeaseSpec {
        spec.renew_time = Some(MicroTime(now));
        spec.lease_duration_seconds = Some(self.duration_seconds());
        spec
    }

    fn taken_over(&self, spec: LeaseSpec, now: Timestamp) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(self.identity.clone()),
            acquire_time: Some(MicroTime(now)),
            renew_time: Some(MicroTime(now)),
            lease_duration_seconds: Some(self.duration_seconds()),
            lease_transitions: Some(spec.lease_transitions.unwrap_or(0) + 1),
            ..spec
        }
    }

    async fn create(&self, now: Timestamp) -> Result<bool> {
        let lease = Lease {
            metadata: ObjectMeta {
                name: Some(self.name.clone()),
                ..ObjectMeta::default()
            },
            // The first holder: no transition yet (the API server refuses a negative count).
            spec: Some(LeaseSpec {
                lease_transitions: Some(0),
                ..self.taken_over(LeaseSpec::default(), now)
            }),
        };
        won(self.api.create(&PostParams::default(), &lease).await)
    }

    async fn replace(&self, lease: &Lease) -> Result<bool> {
        won(self
            .api
            .replace(&self.name, &PostParams::default(), lease)
            .await)
    }
}

/// Whether a create or replace of the Lease won: a conflict (409) means another replica wrote
/// it first.
fn won(outcome: kube::Result<Lease>) -> Result<bool> {
    match outcome {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
        Err(error) => Err(Error::Kube(error)),
    }
}

/// Whether the holder stopped renewing (or there is no holder).
fn expired(spec: &LeaseSpec, now: Timestamp) -> bool {
    let (Some(renewed), Some(_)) = (&spec.renew_time, &spec.holder_identity) else {
        return true;
    };
    let duration = SignedDuration::from_secs(i64::from(spec.lease_duration_seconds.unwrap_or(15)));
    renewed
        .0
        .checked_add(duration)
        .is_ok_and(|deadline| deadline < now)
}
