//! The environment of a local workload process: exactly what the operator puts in the pod
//! (built by the same [`crate::resources::env::env`]), with what only a cluster can provide —
//! Secret references and mounted files — replaced by their local counterparts.

use std::{collections::BTreeMap, path::PathBuf};

use eventflow_contract::{self as contract, secret::ConnectionString};
use k8s_openapi::api::core::v1::EnvVar;

use crate::{
    Error, Result,
    resources::env::{
        AUTH_DIR, AUTH_TOKENS_KEY, JWT_DIR, JWT_KEY, KAFKA_PROPERTIES_DIR, SCHEMA_DIR, SCHEMA_KEY,
    },
};

/// Local stand-ins for what the cluster would mount or reference.
#[derive(Debug, Clone, Default)]
pub struct LocalResources {
    /// Kafka bootstrap servers (instead of `spec.kafka.bootstrapServers`).
    pub kafka_bootstrap: String,
    /// MongoDB URI (instead of the `uriSecretRef` Secret).
    pub mongodb_uri: ConnectionString,
    /// File of librdkafka properties (instead of the mounted `kafka.secretRef`).
    pub kafka_properties_file: Option<PathBuf>,
    /// The schema file written for this run (instead of the mounted `ConfigMap`).
    pub schema_file: Option<PathBuf>,
    /// File of bearer tokens (instead of the mounted auth Secret).
    pub auth_tokens_file: Option<PathBuf>,
    /// The JWT verification key (instead of the mounted `jwt.keySecretRef`).
    pub jwt_key_file: Option<PathBuf>,
}

/// Per-process settings: its ports and bind address.
#[derive(Debug, Clone, Copy)]
pub struct Ports {
    /// Port of the producer API (ignored by consumers).
    pub http: u16,
    /// Port of the admin server.
    pub admin: u16,
}

/// Translates the pod environment into the local one.
pub fn local_env(
    pod_env: &[EnvVar],
    local: &LocalResources,
    ports: Ports,
) -> Result<Vec<(String, String)>> {
    let mut env = BTreeMap::new();
    for var in pod_env {
        let value = match var.name.as_str() {
            contract::KAFKA_BOOTSTRAP => local.kafka_bootstrap.clone(),
            contract::MONGODB_URI => local.mongodb_uri.expose().to_owned(),
            contract::KAFKA_PROPERTIES_FILE => local_file(
                local.kafka_properties_file.as_ref(),
                KAFKA_PROPERTIES_DIR,
                "--kafka-properties-file",
            )?,
            contract::SCHEMA_FILE => local_file(
                local.schema_file.as_ref(),
                &format!("{SCHEMA_DIR}/{SCHEMA_KEY}"),
                "a schema file",
            )?,
            contract::AUTH_TOKENS_FILE => local_file(
                local.auth_tokens_file.as_ref(),
                &format!("{AUTH_DIR}/{AUTH_TOKENS_KEY}"),
                "--auth-tokens-file",
            )?,
            contract::JWT_KEY_FILE => local_file(
                local.jwt_key_file.as_ref(),
                &format!("{JWT_DIR}/{JWT_KEY}"),
                "--jwt-key-file",
            )?,
            contract::HTTP_PORT => ports.http.to_string(),
            contract::ADMIN_PORT => ports.admin.to_string(),
            name => var.value.clone().ok_or_else(|| {
                Error::Local(format!("the pod env var {name} has no local value"))
            })?,
        };
        env.insert(var.name.clone(), value);
    }
    env.insert(contract::ADMIN_PORT.to_owned(), ports.admin.to_string());
    env.insert(contract::BIND_ADDRESS.to_owned(), "127.0.0.1".to_owned());
    Ok(env.into_iter().collect())
}

fn local_file(file: Option<&PathBuf>, cluster_path: &str, flag: &str) -> Result<String> {
    file.map(|path| path.display().to_string()).ok_or_else(|| {
        Error::Local(format!(
            "the pipeline needs {cluster_path}, mounted from a Secret in a cluster; locally, pass {flag}"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn literal(name: &str, value: &str) -> EnvVar {
        EnvVar {
            name: name.to_owned(),
            value: Some(value.to_owned()),
            value_from: None,
        }
    }

    fn from_secret(name: &str) -> EnvVar {
        EnvVar {
            name: name.to_owned(),
            value: None,
            value_from: Some(k8s_openapi::api::core::v1::EnvVarSource::default()),
        }
    }

    #[test]
    fn cluster_only_values_are_replaced_and_the_rest_kept() {
        let pod = vec![
            literal(contract::TOPIC, "orders"),
            literal(contract::KAFKA_BOOTSTRAP, "kafka.kafka.svc:9092"),
            from_secret(contract::MONGODB_URI),
            literal(contract::SCHEMA_FILE, "/etc/eventflow/schema/schema.json"),
            literal(contract::HTTP_PORT, "8080"),
            literal(contract::RATE_LIMIT_EVENTS_PER_SECOND, "500"),
        ];
        let local = LocalResources {
            kafka_bootstrap: "127.0.0.1:9092".into(),
            mongodb_uri: "mongodb://127.0.0.1:27017".into(),
            schema_file: Some("/tmp/run/schema.json".into()),
            ..LocalResources::default()
        };
        let env: BTreeMap<_, _> = local_env(
            &pod,
            &local,
            Ports {
                http: 18080,
                admin: 19090,
            },
        )
        .unwrap()
        .into_iter()
        .collect();
        assert_eq!(env[contract::TOPIC], "orders");
        assert_eq!(env[contract::KAFKA_BOOTSTRAP], "127.0.0.1:9092");
        assert_eq!(env[contract::MONGODB_URI], "mongodb://127.0.0.1:27017");
        assert_eq!(env[contract::SCHEMA_FILE], "/tmp/run/schema.json");
        assert_eq!(env[contract::HTTP_PORT], "18080");
        assert_eq!(env[contract::RATE_LIMIT_EVENTS_PER_SECOND], "500");
        assert_eq!(env[contract::ADMIN_PORT], "19090");
        assert_eq!(env[contract::BIND_ADDRESS], "127.0.0.1");
    }

    #[test]
    fn a_secret_mount_without_a_local_file_says_which_flag_to_pass() {
        let pod = vec![literal(
            contract::AUTH_TOKENS_FILE,
            "/etc/eventflow/auth/tokens",
        )];
        let error = local_env(
            &pod,
            &LocalResources::default(),
            Ports { http: 1, admin: 2 },
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("--auth-tokens-file"), "{error}");
    }

    #[test]
    fn the_jwt_key_is_the_local_file_or_says_which_flag_to_pass() {
        let pod = vec![literal(contract::JWT_KEY_FILE, "/etc/eventflow/jwt/key")];
        let ports = Ports { http: 1, admin: 2 };
        let error = local_env(&pod, &LocalResources::default(), ports)
            .unwrap_err()
            .to_string();
        assert!(error.contains("--jwt-key-file"), "{error}");
        let local = LocalResources {
            jwt_key_file: Some("/tmp/run/jwks.json".into()),
            ..LocalResources::default()
        };
        let env: BTreeMap<_, _> = local_env(&pod, &local, ports)
            .unwrap()
            .into_iter()
            .collect();
        assert_eq!(env[contract::JWT_KEY_FILE], "/tmp/run/jwks.json");
    }
}
