//! The one value saying where a Kafka cluster is and how to talk to it.

use std::{collections::BTreeMap, fmt};

use kube::{Client, ResourceExt};
use rdkafka::ClientConfig;

use crate::{Result, crd::EventPipeline};

/// Where a Kafka cluster is and how to talk to it: the identity of a cached client
/// ([`super::KafkaAdmins`]), which serves the topic calls and the lag measurements of every
/// pipeline on the cluster.
///
/// Property values may be secrets (`sasl.password`, `ssl.key.password`, `ssl.key.pem`, OAuth
/// client secrets), so `Debug` and `Display` show the property names only.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct KafkaConnection {
    /// Bootstrap servers, comma separated.
    pub bootstrap: String,
    /// Extra librdkafka properties (security, SASL, TLS).
    pub properties: BTreeMap<String, String>,
}

impl fmt::Debug for KafkaConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KafkaConnection")
            .field("bootstrap", &self.bootstrap)
            .field("properties", &self.properties.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl fmt::Display for KafkaConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.bootstrap)?;
        if !self.properties.is_empty() {
            let names: Vec<&str> = self.properties.keys().map(String::as_str).collect();
            write!(f, " (properties {}; values hidden)", names.join(", "))?;
        }
        Ok(())
    }
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
        let properties = crate::secret::read(client, &namespace, &secret_ref.name).await?;
        Ok(Self {
            bootstrap,
            properties,
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_show_property_names_never_values() {
        let secrets = [
            ("sasl.password", "pw-0xCAFE"),
            ("ssl.key.password", "keypw-0xBEEF"),
            ("sasl.oauthbearer.client.secret", "oauth-0xF00D"),
        ];
        let mut connection = KafkaConnection::plain("kafka:9093");
        for (name, value) in secrets {
            connection.properties.insert(name.into(), value.into());
        }
        connection
            .properties
            .insert("security.protocol".into(), "SASL_SSL".into());
        for shown in [
            format!("{connection:?}"),
            format!("{connection}"),
            format!("{connection:#?}"),
        ] {
            for (name, value) in secrets {
                assert!(!shown.contains(value), "{value} shown in {shown}");
                assert!(shown.contains(name), "{name} missing from {shown}");
            }
        }
        assert_eq!(
            connection.to_string(),
            "kafka:9093 (properties sasl.oauthbearer.client.secret, sasl.password, \
             security.protocol, ssl.key.password; values hidden)"
        );
    }
}
