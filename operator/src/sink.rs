//! The pipeline's sink as the operator checks it: a `ping` to the MongoDB its consumers write to
//! (the URI in `sink.mongodb.uriSecretRef`). An unreachable or refusing MongoDB is then the
//! `SinkReady` condition's reason (`MongoDBUnavailable`, a Warning Event), not only consumer
//! pods that stop being ready without saying why.
//!
//! One client per URI, shared by the pipelines that write to the same MongoDB (a client keeps a
//! connection pool and monitors its servers); a URI no pipeline uses any more is dropped with
//! its last pipeline. A ping's outcome is reused under [`crate::resync_cache`]'s rule, bounded
//! by [`CHECK_EVERY`]: a lag poll of an unchanged pipeline neither reads its Secret nor pings.
//!
//! The condition's message says what kind of failure it is, in words that stay the same while
//! the failure lasts (a message that changed with every ping would write the status, and so
//! reconcile, again and again); the driver's own error goes to the log, through one outage log
//! per URI (`eventflow_contract::outage`: a line when it starts failing, a summary at most
//! every 2 minutes, a line when it answers again).

use std::{
    collections::{HashMap, hash_map::DefaultHasher},
    hash::{Hash, Hasher},
    sync::{Mutex, MutexGuard, PoisonError},
    time::Duration,
};

use std::sync::Arc;

use eventflow_contract::outage::Outage;
use kube::{Client, ResourceExt};
use mongodb::{
    bson::doc,
    error::{Error as MongoError, ErrorKind},
    options::ClientOptions,
};

use crate::{crd::EventPipeline, resync_cache::ResyncCache};

/// The longest a successful ping is reused.
pub const CHECK_EVERY: Duration = Duration::from_secs(30);
/// Bound of one ping, server selection and connection included.
const PING_TIMEOUT: Duration = Duration::from_secs(5);

/// Why the sink cannot be reached: the message of the `SinkReady` condition (never the URI,
/// which may hold a password).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SinkUnavailable(pub String);

/// The clients by URI and the last outcome per pipeline.
#[derive(Debug)]
pub struct SinkChecks {
    clients: Mutex<Clients>,
    outcomes: ResyncCache<Result<(), SinkUnavailable>>,
}

/// One MongoDB: its client, its servers (for messages: never the credentials) and its outage log.
#[derive(Debug, Clone)]
struct Sink {
    client: mongodb::Client,
    hosts: String,
    outage: Arc<Outage>,
}

#[derive(Debug, Default)]
struct Clients {
    /// By the digest of the URI (the URI itself, a secret, is not kept as a key).
    by_uri: HashMap<u64, Sink>,
    /// The URI digest each pipeline uses.
    used_by: HashMap<String, u64>,
}

impl Default for SinkChecks {
    fn default() -> Self {
        Self {
            clients: Mutex::default(),
            outcomes: ResyncCache::new(CHECK_EVERY),
        }
    }
}

impl SinkChecks {
    /// Pings the pipeline's MongoDB, unless this pipeline object was checked recently.
    pub async fn check(
        &self,
        client: &Client,
        pipeline: &EventPipeline,
    ) -> Result<(), SinkUnavailable> {
        if let Some(outcome) = self.outcomes.find(pipeline, |kept| Some(kept.clone())) {
            return outcome;
        }
        let outcome = self.ping(client, pipeline).await;
        self.outcomes.keep(pipeline, outcome.clone());
        outcome
    }

    async fn ping(&self, client: &Client, pipeline: &EventPipeline) -> Result<(), SinkUnavailable> {
        let selector = &pipeline.spec.sink.mongodb.uri_secret_ref;
        let namespace = pipeline.namespace().unwrap_or_default();
        let where_ = format!("secret {namespace}/{} key {}", selector.name, selector.key);
        let values = crate::secret::read(client, &namespace, &selector.name)
            .await
            .map_err(|error| SinkUnavailable(format!("cannot read the MongoDB URI: {error}")))?;
        let uri = values
            .get(&selector.key)
            .ok_or_else(|| SinkUnavailable(format!("{where_} not found")))?;
        let sink = self.client(pipeline, uri, &where_).await?;
        let admin = sink.client.database("admin");
        let ping = admin.run_command(doc! { "ping": 1 });
        let failure = match tokio::time::timeout(PING_TIMEOUT, ping).await {
            Ok(Ok(_)) => {
                sink.outage.recovered();
                return Ok(());
            }
            Ok(Err(error)) => {
                sink.outage.failed(&error.to_string());
                kind_of(&error)
            }
            Err(_) => {
                sink.outage.failed("no answer to ping");
                Failure::NoAnswer
            }
        };
        Err(failure.message(&sink.hosts))
    }

    /// Forgets `pipeline` (deleted), dropping its client when no other pipeline uses it.
    pub fn forget(&self, pipeline: &EventPipeline) {
        self.outcomes.forget(pipeline);
        let mut clients = self.lock();
        if let Some(digest) = clients.used_by.remove(&pipeline.object_key()) {
            clients.release(digest);
        }
    }

    /// The client for `uri`, created on first use.
    async fn client(
        &self,
        pipeline: &EventPipeline,
        uri: &str,
        where_: &str,
    ) -> Result<Sink, SinkUnavailable> {
        let digest = digest(uri);
        let key = pipeline.object_key();
        {
            let mut clients = self.lock();
            if let Some(sink) = clients.by_uri.get(&digest).cloned() {
                clients.uses(key, digest);
                return Ok(sink);
            }
        }
        // The parser's message may quote the URI: only where it is is said.
        let mut options = ClientOptions::parse(uri)
            .await
            .map_err(|_| SinkUnavailable(format!("{where_} is not a MongoDB connection string")))?;
        options.server_selection_timeout = Some(PING_TIMEOUT);
        options.connect_timeout = Some(PING_TIMEOUT);
        options.app_name = Some("eventflow-operator".to_owned());
        let hosts = (options.hosts.iter().map(ToString::to_string))
            .collect::<Vec<_>>()
            .join(",");
        let client = mongodb::Client::with_options(options)
            .map_err(|error| SinkUnavailable(format!("MongoDB client for {hosts}: {error}")))?;
        let sink = Sink {
            client,
            outage: Arc::new(Outage::new(format!("MongoDB at {hosts}"))),
            hosts,
        };
        let mut clients = self.lock();
        let sink = clients.by_uri.entry(digest).or_insert(sink).clone();
        clients.uses(key, digest);
        Ok(sink)
    }

    fn lock(&self) -> MutexGuard<'_, Clients> {
        // Single inserts and removes: a poisoned map is still consistent.
        self.clients.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Clients {
    /// Records that pipeline `key` uses the client of `digest`, releasing the one it used before.
    fn uses(&mut self, key: String, digest: u64) {
        if let Some(before) = self.used_by.insert(key, digest)
            && before != digest
        {
            self.release(before);
        }
    }

    /// Drops the client of `digest` when no pipeline uses it.
    fn release(&mut self, digest: u64) {
        if !self.used_by.values().any(|used| *used == digest) {
            self.by_uri.remove(&digest);
        }
    }
}

/// What kind of failure a ping had, in words that stay the same while it lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    /// No server answered in time (unreachable, unresolvable, timed out).
    NoAnswer,
    /// The login was refused.
    Login,
    /// The server answered the ping with an error.
    Refused,
    /// Anything else the driver reports.
    Other,
}

impl Failure {
    fn message(self, hosts: &str) -> SinkUnavailable {
        let what = match self {
            Self::NoAnswer => format!("no answer from MongoDB at {hosts} within {PING_TIMEOUT:?}"),
            Self::Login => format!("MongoDB at {hosts} refused the login"),
            Self::Refused => format!("MongoDB at {hosts} refused the ping"),
            Self::Other => format!("the ping of MongoDB at {hosts} failed"),
        };
        SinkUnavailable(format!(
            "{what} (the operator's log has the driver's error)"
        ))
    }
}

fn kind_of(error: &MongoError) -> Failure {
    match error.kind.as_ref() {
        ErrorKind::ServerSelection { .. } | ErrorKind::DnsResolve { .. } | ErrorKind::Io(_) => {
            Failure::NoAnswer
        }
        ErrorKind::Authentication { .. } => Failure::Login,
        ErrorKind::Command(_) => Failure::Refused,
        _ => Failure::Other,
    }
}

fn digest(uri: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    uri.hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pipeline(name: &str) -> EventPipeline {
        let mut pipeline = EventPipeline::new(name, crate::crd::EventPipelineSpec::default());
        pipeline.metadata.namespace = Some("ns".to_owned());
        pipeline
    }

    #[test]
    fn pipelines_share_a_client_per_uri_and_the_last_one_drops_it() {
        // On a thread of its own: a lock held twice would hang, and fails the test instead.
        let (done, finished) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Runtime::new().unwrap();
            runtime.block_on(async {
                let checks = SinkChecks::default();
                let (first, second) = ("mongodb://127.0.0.1:1", "mongodb://127.0.0.1:2");
                for (name, uri) in [("p", first), ("p", first), ("q", first), ("q", second)] {
                    checks
                        .client(&pipeline(name), uri, "a secret")
                        .await
                        .unwrap();
                }
                let uris = |checks: &SinkChecks| {
                    let mut uris: Vec<u64> = checks.lock().by_uri.keys().copied().collect();
                    uris.sort_unstable();
                    uris
                };
                let mut both = vec![digest(first), digest(second)];
                both.sort_unstable();
                assert_eq!(uris(&checks), both, "p still uses the first");
                checks.forget(&pipeline("p"));
                assert_eq!(uris(&checks), [digest(second)]);
                checks.forget(&pipeline("q"));
                assert!(uris(&checks).is_empty());
            });
            done.send(()).unwrap();
        });
        finished
            .recv_timeout(Duration::from_secs(30))
            .expect("the clients were handed out within 30 s");
    }

    #[tokio::test]
    async fn a_uri_that_does_not_parse_is_named_by_where_it_is_never_quoted() {
        let pipeline = EventPipeline::new("p", crate::crd::EventPipelineSpec::default());
        let refused = SinkChecks::default()
            .client(
                &pipeline,
                "mongodb://u:hunter2@host:notaport",
                "secret ns/m key uri",
            )
            .await
            .unwrap_err();
        assert_eq!(
            refused.to_string(),
            "secret ns/m key uri is not a MongoDB connection string"
        );
    }
}
