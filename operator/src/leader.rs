//! Leader election with a `coordination.k8s.io/v1` Lease, so two replicas never act at once.
//!
//! client-go's scheme, with its timings ([`Timings::CLIENT_GO`]): the holder renews every
//! retry period; each renewal must succeed within the renew deadline of the previous one, or the
//! holder steps down ([`Leadership`] stops holding, which fences its writes and cancels its
//! reconciles); a standby takes the Lease over only after it has seen the Lease's record
//! unchanged for the lease duration, timed on its own monotonic clock (never by comparing the
//! holder's `renewTime` with its wall clock). Since the renew deadline is shorter than the lease
//! duration, a holder that cannot renew stops acting before anyone else may start. Every API
//! call of the election is bounded by [`Timings::call_timeout`], shorter than the renew
//! deadline. Every write is a replace carrying the `resourceVersion` read, so of two racing
//! replicas exactly one wins (the other gets a conflict and stays standby).

mod fence;

use std::{
    future::Future,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use k8s_openapi::{
    api::coordination::v1::{Lease, LeaseSpec},
    apimachinery::pkg::apis::meta::v1::MicroTime,
    jiff::Timestamp,
};
use kube::{
    Api, Client,
    api::{ObjectMeta, PostParams},
};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

pub use fence::fenced_client;

use crate::{Error, Result};

/// The election's durations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timings {
    /// How long a standby waits, after it last saw the Lease change, before taking it over.
    pub lease_duration: Duration,
    /// How long the holder keeps acting after its last successful renewal.
    pub renew_deadline: Duration,
    /// The pause between two renewals, and between two attempts of a standby.
    pub retry_period: Duration,
}

impl Timings {
    /// client-go's defaults (as kube-controller-manager runs them): 15 s, 10 s, 2 s.
    pub const CLIENT_GO: Self = Self {
        lease_duration: Duration::from_secs(15),
        renew_deadline: Duration::from_secs(10),
        retry_period: Duration::from_secs(2),
    };

    /// The bound of one API call of the election: half the renew deadline, so a hung call
    /// leaves time for another try before the deadline.
    pub fn call_timeout(self) -> Duration {
        self.renew_deadline / 2
    }
}

/// Whether this replica may act now, shared by the elector, the API client's write fence and
/// the reconciles.
#[derive(Debug, Clone)]
pub struct Leadership {
    until: Arc<Mutex<Option<Instant>>>,
    lost: CancellationToken,
}

impl Leadership {
    /// Not holding the Lease (yet).
    pub fn new() -> Self {
        Self {
            until: Arc::new(Mutex::new(None)),
            lost: CancellationToken::new(),
        }
    }

    /// Whether this replica leads now: the Lease was renewed within the renew deadline and not
    /// lost since.
    pub fn is_leader(&self) -> bool {
        !self.lost.is_cancelled() && self.until().is_some_and(|until| Instant::now() < until)
    }

    /// Cancelled once this replica stops leading.
    pub fn lost(&self) -> &CancellationToken {
        &self.lost
    }

    fn until(&self) -> Option<Instant> {
        *self.until.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A renewal sent at `sent` succeeded: acting is allowed until `sent + renew_deadline`.
    fn renewed(&self, sent: Instant, timings: Timings) {
        *self.until.lock().unwrap_or_else(PoisonError::into_inner) =
            Some(sent + timings.renew_deadline);
    }
}

impl Default for Leadership {
    fn default() -> Self {
        Self::new()
    }
}

/// The Lease record as a standby last saw it, and when (on its monotonic clock).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Observed {
    record: (Option<String>, Option<MicroTime>, Option<i32>),
    at: Instant,
}

/// One replica's side of the election.
#[derive(Clone)]
pub struct LeaderElector {
    api: Api<Lease>,
    name: String,
    identity: String,
    timings: Timings,
    leadership: Leadership,
    observed: Arc<Mutex<Option<Observed>>>,
}

impl std::fmt::Debug for LeaderElector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeaderElector")
            .field("name", &self.name)
            .field("identity", &self.identity)
            .field("timings", &self.timings)
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
        timings: Timings,
    ) -> Self {
        Self {
            api: Api::namespaced(client, namespace),
            name: name.to_owned(),
            identity: identity.to_owned(),
            timings,
            leadership: Leadership::new(),
            observed: Arc::new(Mutex::new(None)),
        }
    }

    /// Whether this replica may act now.
    pub fn leadership(&self) -> &Leadership {
        &self.leadership
    }

    /// One round: acquire a free or expired Lease, or renew ours; `true` when we hold it now.
    /// On success, [`Leadership::is_leader`] is true until the renew deadline.
    pub async fn try_acquire_or_renew(&self) -> Result<bool> {
        let sent = Instant::now();
        let held = self.bounded(self.acquire_or_renew()).await?;
        if held {
            self.leadership.renewed(sent, self.timings);
        }
        Ok(held)
    }

    async fn acquire_or_renew(&self) -> Result<bool> {
        let now = Timestamp::now();
        let Some(lease) = self.api.get_opt(&self.name).await? else {
            return self.create(now).await;
        };
        let spec = lease.spec.clone().unwrap_or_default();
        let ours = spec.holder_identity.as_deref() == Some(self.identity.as_str());
        if !ours && !self.expired(&spec) {
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

    /// `call` bounded by [`Timings::call_timeout`].
    async fn bounded<T>(&self, call: impl Future<Output = Result<T>>) -> Result<T> {
        tokio::time::timeout(self.timings.call_timeout(), call)
            .await
            .map_err(|_| {
                let limit = self.timings.call_timeout();
                Error::Leader(format!("the API server did not answer within {limit:?}"))
            })?
    }

    /// Gives the Lease up (on shutdown), so a standby takes over without waiting for expiry.
    pub async fn release(&self) -> Result<()> {
        self.bounded(async {
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
        })
        .await
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
                () = tokio::time::sleep(self.timings.retry_period) => {}
            }
        }
    }

    /// Renews the Lease every retry period until `stop` is cancelled; steps down (cancels
    /// [`Leadership::lost`] and returns) when another replica holds it or no renewal succeeded
    /// within the renew deadline.
    pub async fn keep_renewing(&self, stop: CancellationToken) {
        while let Some(until) = self.leadership.until() {
            let next = (Instant::now() + self.timings.retry_period).min(until);
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep_until(next) => {}
            }
            if !self.leadership.is_leader() {
                break;
            }
            let renewal = tokio::time::timeout_at(until, self.try_acquire_or_renew()).await;
            match renewal {
                Ok(Ok(true)) => {}
                Ok(Ok(false)) | Err(_) => break,
                Ok(Err(error)) => tracing::warn!(%error, "could not renew the lease"),
            }
        }
        self.leadership.lost.cancel();
        tracing::error!(lease = %self.name, "lost the leader lease");
    }

    /// Whether the holder stopped renewing: no holder, or the record unchanged for the lease
    /// duration since this replica first saw it.
    fn expired(&self, spec: &LeaseSpec) -> bool {
        if spec.holder_identity.is_none() {
            return true;
        }
        let record = (
            spec.holder_identity.clone(),
            spec.renew_time.clone(),
            spec.lease_transitions,
        );
        let mut observed = self.observed.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        match observed.as_ref() {
            Some(seen) if seen.record == record => {
                let duration = spec
                    .lease_duration_seconds
                    .and_then(|seconds| u64::try_from(seconds).ok())
                    .map_or(self.timings.lease_duration, Duration::from_secs);
                now >= seen.at + duration
            }
            _ => {
                *observed = Some(Observed { record, at: now });
                false
            }
        }
    }

    fn duration_seconds(&self) -> i32 {
        i32::try_from(self.timings.lease_duration.as_secs())
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
