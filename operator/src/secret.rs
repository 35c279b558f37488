//! Reading a Secret's values: the Kafka connection's properties, the sink's MongoDB URI.

use std::collections::BTreeMap;

use eventflow_contract::properties;
use k8s_openapi::api::core::v1::Secret;
use kube::{Api, Client};

use crate::{Error, Result};

/// Every key of a Secret as a UTF-8 string, trimmed as the workloads trim the mounted files
/// ([`eventflow_contract::properties::value`]).
pub async fn read(
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
    for value in values.values_mut() {
        *value = properties::value(value).to_owned();
    }
    Ok(values)
}
