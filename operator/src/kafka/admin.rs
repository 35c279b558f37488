//! Kafka clients: one per connection, shared by the topic calls and the lag measurements of
//! every pipeline on that cluster, and dropped when the last pipeline using it goes.

use std::{
    collections::HashMap,
    fmt,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::{Duration, Instant},
};

use eventflow_contract::outage::Outage;
use kube::Client;
use rdkafka::{
    admin::{AdminClient, AdminOptions},
    client::{self, DefaultClientContext},
    error::KafkaError,
    types::{RDKafkaErrorCode, RDKafkaType},
};

use super::{KafkaConnection, Refusals, ffi};
use crate::{Result, crd::EventPipeline};

/// A client of one connection and the time its calls may take.
pub struct KafkaAdmin {
    client: AdminClient<DefaultClientContext>,
    /// A consumer-type client of the same connection for the groups' committed offsets:
    /// librdkafka answers a `NOT_COORDINATOR` to `ListConsumerGroupOffsets` by sending the
    /// client's own consumer group to look up its coordinator again, and crashes when the
    /// client has none, as an admin client (librdkafka issue 5040). Its group
    /// ([`GROUP_QUERIES_GROUP`]) never joins.
    group_queries: client::Client<DefaultClientContext>,
    refusals: Refusals,
    outage: Outage,
    timeout: Duration,
    cluster_id: std::sync::OnceLock<String>,
}

impl fmt::Debug for KafkaAdmin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KafkaAdmin")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// The group of the client that asks for committed offsets; it never joins.
pub const GROUP_QUERIES_GROUP: &str = "eventflow-operator-offset-queries";

impl KafkaAdmin {
    /// Connects a client (librdkafka connects lazily, so this does not wait for Kafka).
    pub fn connect(connection: &KafkaConnection, timeout: Duration) -> Result<Self> {
        // librdkafka refuses socket timeouts under 10 ms and connection set-up timeouts under 1 s.
        let millis = |floor: u128| timeout.as_millis().max(floor).to_string();
        let mut config = connection.client_config();
        config
            .set("client.id", "eventflow-operator")
            .set("socket.timeout.ms", millis(10))
            .set("socket.connection.setup.timeout.ms", millis(1000));
        let client = config.create()?;
        config
            .set("group.id", GROUP_QUERIES_GROUP)
            .set("enable.auto.commit", "false");
        let group_queries = client::Client::new(
            &config,
            config.create_native_config()?,
            RDKafkaType::RD_KAFKA_CONSUMER,
            DefaultClientContext,
        )?;
        Ok(Self {
            client,
            group_queries,
            refusals: Refusals::default(),
            outage: Outage::new(format!("Kafka at {}", connection.bootstrap)),
            timeout,
            cluster_id: std::sync::OnceLock::new(),
        })
    }

    /// The rdkafka admin client.
    pub fn client(&self) -> &AdminClient<DefaultClientContext> {
        &self.client
    }

    /// The client for `ListConsumerGroupOffsets` ([`ffi::committed_offsets`]).
    pub fn group_queries(&self) -> &client::Client<DefaultClientContext> {
        &self.group_queries
    }

    /// The outcome of a call that started at `started`: reads (and logs) what librdkafka put
    /// on the client's main queue meanwhile, which nothing else reads, and turns a failure into
    /// [`crate::Error::KafkaRefused`] if the broker refused the login or TLS handshake
    /// ([`Refusals::explain`]). A success ends the connection's outage in the log.
    pub fn checked<T>(&self, outcome: Result<T>, started: Instant) -> Result<T> {
        self.drain();
        match outcome {
            Ok(value) => {
                self.outage.recovered();
                Ok(value)
            }
            Err(error) => {
                let error = self.refusals.explain(error, started, self.timeout);
                self.outage.failed(&error.to_string());
                Err(error)
            }
        }
    }

    /// Reads what librdkafka put on the client's main queue into the connection's outage log
    /// ([`Outage`]), keeping note of a refused login or TLS handshake; every user of the client
    /// calls it after its calls, so the queue never grows.
    pub fn drain(&self) {
        let errors = ffi::drain_errors(self.client.inner(), &self.outage)
            .into_iter()
            .chain(ffi::drain_errors(&self.group_queries, &self.outage));
        for (code, reason) in errors {
            self.refusals.record(code, &reason);
            self.outage.failed(&format!("{code}: {reason}"));
        }
    }

    /// The Kafka cluster's id (asked once per client): what names the cluster in the topic
    /// owner records, whatever bootstrap address a pipeline gives.
    pub async fn cluster_id(self: &Arc<Self>) -> Result<String> {
        if let Some(id) = self.cluster_id.get() {
            return Ok(id.clone());
        }
        let admin = Arc::clone(self);
        let started = Instant::now();
        let id = tokio::task::spawn_blocking(move || {
            admin.client.inner().fetch_cluster_id(admin.timeout)
        })
        .await
        .map_err(|e| crate::Error::Io(std::io::Error::other(e)))?;
        // No id: no broker answered the metadata request within the timeout.
        let timed_out = KafkaError::MetadataFetch(RDKafkaErrorCode::OperationTimedOut);
        let id = id.ok_or(crate::Error::Kafka(timed_out));
        let id = self.checked(id, started)?;
        Ok(self.cluster_id.get_or_init(|| id).clone())
    }

    /// Options bounding an admin call by the timeout.
    pub fn options(&self) -> AdminOptions {
        AdminOptions::new()
            .request_timeout(Some(self.timeout))
            .operation_timeout(Some(self.timeout))
    }

    /// The timeout of each call.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Drops this reference; when it is the last one, the client is closed on tokio's blocking
    /// pool if there is a runtime (closing a librdkafka handle blocks until its threads end).
    pub fn close(self: Arc<Self>) {
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn_blocking(move || drop(self))),
            Err(_) => drop(self),
        }
    }
}

/// The clients of the operator, one per connection, with the pipelines using each: a client is
/// dropped when no pipeline uses its connection any more (the pipeline is deleted, see
/// [`Self::release`], or moved to other Kafka settings).
pub struct KafkaAdmins {
    timeout: Duration,
    cache: Mutex<Cache>,
}

#[derive(Default)]
struct Cache {
    clients: HashMap<KafkaConnection, Arc<KafkaAdmin>>,
    /// Each pipeline (`namespace/name`) and the connection it uses.
    users: HashMap<String, KafkaConnection>,
}

impl Cache {
    /// Drops the client of `connection` when no pipeline uses it.
    fn evict_unused(&mut self, connection: &KafkaConnection) {
        if self.users.values().any(|used| used == connection) {
            return;
        }
        if let Some(client) = self.clients.remove(connection) {
            client.close();
        }
    }
}

impl fmt::Debug for KafkaAdmins {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cache = self.lock();
        f.debug_struct("KafkaAdmins")
            .field("timeout", &self.timeout)
            .field("connections", &cache.clients.keys().collect::<Vec<_>>())
            .field("pipelines", &cache.users.len())
            .finish_non_exhaustive()
    }
}

impl KafkaAdmins {
    /// An empty cache whose clients bound each call by `timeout`.
    pub fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            cache: Mutex::new(Cache::default()),
        }
    }

    /// The client of `connection`, created on first use, recorded as used by `pipeline` (whose
    /// previous connection's client goes if no other pipeline uses it).
    pub fn get(
        &self,
        pipeline: &EventPipeline,
        connection: &KafkaConnection,
    ) -> Result<Arc<KafkaAdmin>> {
        let mut cache = self.lock();
        let user = pipeline.object_key();
        if cache.users.get(&user) != Some(connection)
            && let Some(previous) = cache.users.insert(user, connection.clone())
        {
            cache.evict_unused(&previous);
        }
        if let Some(admin) = cache.clients.get(connection) {
            return Ok(Arc::clone(admin));
        }
        let admin = Arc::new(KafkaAdmin::connect(connection, self.timeout)?);
        cache.clients.insert(connection.clone(), Arc::clone(&admin));
        Ok(admin)
    }

    /// Forgets `pipeline` (deleted): its connection's client goes if no other pipeline uses it.
    pub fn release(&self, pipeline: &EventPipeline) {
        let mut cache = self.lock();
        if let Some(connection) = cache.users.remove(&pipeline.object_key()) {
            cache.evict_unused(&connection);
        }
    }

    /// How many clients are cached (one per distinct connection in use).
    pub fn cached(&self) -> usize {
        self.lock().clients.len()
    }

    /// The client of a pipeline (reads `kafka.secretRef` through the API).
    pub async fn for_pipeline(
        &self,
        client: &Client,
        pipeline: &EventPipeline,
    ) -> Result<Arc<KafkaAdmin>> {
        self.get(
            pipeline,
            &KafkaConnection::for_pipeline(client, pipeline).await?,
        )
    }

    fn lock(&self) -> MutexGuard<'_, Cache> {
        // Single inserts and removes cannot leave the maps inconsistent, so a poisoned lock is
        // still usable.
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pipeline(name: &str) -> EventPipeline {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "eventflow.dev/v1alpha1",
            "kind": "EventPipeline",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {
                "kafka": {"bootstrapServers": "127.0.0.1:9"},
                "topic": {"name": name},
                "sink": {"mongodb": {"uriSecretRef": {"name": "m", "key": "uri"}}},
            },
        }))
        .expect("a valid EventPipeline")
    }

    #[test]
    fn one_client_per_connection_dropped_with_its_last_pipeline() -> Result<()> {
        let admins = KafkaAdmins::new(Duration::from_secs(1));
        let (a, b, c) = (pipeline("a"), pipeline("b"), pipeline("c"));
        let first = KafkaConnection::plain("127.0.0.1:9");
        let second = KafkaConnection::plain("127.0.0.1:10");
        let shared = admins.get(&a, &first)?;
        assert!(Arc::ptr_eq(&shared, &admins.get(&b, &first)?));
        admins.get(&c, &second)?;
        assert_eq!(admins.cached(), 2);
        // `a` moves to the second cluster: the first client stays for `b`.
        admins.get(&a, &second)?;
        assert_eq!(admins.cached(), 2);
        admins.release(&b);
        assert_eq!(admins.cached(), 1, "no pipeline uses the first connection");
        admins.release(&a);
        assert_eq!(admins.cached(), 1, "`c` still uses the second");
        admins.release(&c);
        assert_eq!(admins.cached(), 0);
        admins.release(&c); // releasing twice is harmless
        Ok(())
    }

    #[test]
    fn debug_hides_property_values() -> Result<()> {
        let admins = KafkaAdmins::new(Duration::from_secs(1));
        let mut connection = KafkaConnection::plain("127.0.0.1:9");
        connection
            .properties
            .insert("sasl.password".into(), "pw-0xCAFE".into());
        let admin = admins.get(&pipeline("a"), &connection)?;
        for shown in [format!("{admins:?}"), format!("{admin:?}")] {
            assert!(!shown.contains("pw-0xCAFE"), "{shown}");
        }
        assert!(format!("{admins:?}").contains("sasl.password"));
        Ok(())
    }
}
