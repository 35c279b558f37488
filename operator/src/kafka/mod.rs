//! The operator's only Kafka I/O: admin clients, and through them the topic (and lag) calls.
//!
//! Connection properties come from `spec.kafka.secretRef` (each key a librdkafka property),
//! read through the Kubernetes API. Admin clients are cached per bootstrap servers and
//! properties, so reconciles of pipelines on the same cluster share one client.

pub mod lag;
pub mod topic;

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex},
    time::Duration,
};

use k8s_openapi::api::core::v1::Secret;
use kube::{Api, Client, ResourceExt};
use rdkafka::{
    ClientConfig,
    admin::{AdminClient, AdminOptions},
    client::DefaultClientContext,
};

use crate::{Error, Result, crd::EventPipeline, kafka::lag::LagTarget, scaling::OffsetReset};

/// Where a Kafka cluster is and how to talk to it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KafkaConnection {
    /// Bootstrap servers, comma separated.
    pub bootstrap: String,
    /// Extra librdkafka properties (security, SASL, TLS).
    pub properties: BTreeMap<String, String>,
}

impl KafkaConnection {
    /// A connection with no extra properties.
    pub fn plain(bootstrap: impl Into<String>) -> Self {
        Self {
            bootstrap: bootstrap.into(),
            properties: BTreeMap::new(),
        }
    }

    /// The pipeline's connection: its bootstrap servers and the properties of `kafka.secretRef`.
    pub async fn for_pipeline(client: &Client, pipeline: &EventPipeline) -> Result<Self> {
        let bootstrap = pipeline.spec.kafka.bootstrap_servers.clone();
        let Some(secret_ref) = &pipeline.spec.kafka.secret_ref else {
            return Ok(Self::plain(bootstrap));
        };
        let namespace = pipeline.namespace().unwrap_or_default();
        let properties = read_secret(client, &namespace, &secret_ref.name).await?;
        Ok(Self {
            bootstrap,
            properties,
        })
    }

    /// What the lag measurement reads for `pipeline` over this connection: its topic as read
    /// by its consumer group, which starts from the earliest offset.
    pub fn lag_target(self, pipeline: &EventPipeline) -> LagTarget {
        LagTarget {
            bootstrap_servers: self.bootstrap,
            properties: self.properties,
            group_id: pipeline.group_id(),
            topic: pipeline.topic_name(),
            offset_reset: OffsetReset::Earliest,
        }
    }

    /// A librdkafka configuration for this connection.
    pub fn client_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.bootstrap);
        for (key, value) in &self.properties {
            config.set(key, value);
        }
        config
    }
}

/// The broker's or librdkafka's error code of a failed call, admin operations included.
pub fn error_code(error: &rdkafka::error::KafkaError) -> Option<rdkafka::types::RDKafkaErrorCode> {
    match error {
        rdkafka::error::KafkaError::AdminOp(code) => Some(*code),
        other => other.rdkafka_error_code(),
    }
}

/// Every key of a Secret as a UTF-8 string.
pub async fn read_secret(
    client: &Client,
    namespace: &str,
    name: &str,
) -> Result<BTreeMap<String, String>> {
    let secret_error = |reason: String| Error::Secret {
        name: format!("{namespace}/{name}"),
        reason,
    };
    let secret = Api::<Secret>::namespaced(client.clone(), namespace)
        .get_opt(name)
        .await?
        .ok_or_else(|| secret_error("not found".to_owned()))?;
    let mut values: BTreeMap<String, String> = secret.string_data.unwrap_or_default();
    for (key, bytes) in secret.data.unwrap_or_default() {
        let value = String::from_utf8(bytes.0)
            .map_err(|_| secret_error(format!("key {key} is not UTF-8")))?;
        values.insert(key, value);
    }
    Ok(values)
}

/// An admin client and the time its calls may take.
pub struct KafkaAdmin {
    client: AdminClient<DefaultClientContext>,
    timeout: Duration,
}

impl std::fmt::Debug for KafkaAdmin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaAdmin")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl KafkaAdmin {
    /// Connects an admin client (librdkafka connects lazily, so this does not wait for Kafka).
    pub fn connect(connection: &KafkaConnection, timeout: Duration) -> Result<Self> {
        let timeout_ms = timeout.as_millis().to_string();
        let client = connection
            .client_config()
            .set("socket.timeout.ms", &timeout_ms)
            .set("socket.connection.setup.timeout.ms", &timeout_ms)
            .create()?;
        Ok(Self { client, timeout })
    }

    /// The rdkafka admin client.
    pub fn client(&self) -> &AdminClient<DefaultClientContext> {
        &self.client
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
}

/// Admin clients cached per connection.
#[derive(Debug)]
pub struct KafkaAdmins {
    timeout: Duration,
    cache: Mutex<HashMap<KafkaConnection, Arc<KafkaAdmin>>>,
}

impl KafkaAdmins {
    /// An empty cache whose clients bound each call by `timeout`.
    pub fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The cached admin client of a connection, created on first use.
    pub fn get(&self, connection: &KafkaConnection) -> Result<Arc<KafkaAdmin>> {
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(admin) = cache.get(connection) {
            return Ok(Arc::clone(admin));
        }
        let admin = Arc::new(KafkaAdmin::connect(connection, self.timeout)?);
        cache.insert(connection.clone(), Arc::clone(&admin));
        Ok(admin)
    }

    /// How many admin clients are cached (one per distinct connection).
    pub fn cached(&self) -> usize {
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }

    /// The admin client of a pipeline (reads `kafka.secretRef` through the API).
    pub async fn for_pipeline(
        &self,
        client: &Client,
        pipeline: &EventPipeline,
    ) -> Result<Arc<KafkaAdmin>> {
        self.get(&KafkaConnection::for_pipeline(client, pipeline).await?)
    }
}
