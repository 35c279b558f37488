//! The `ConfigMap` holding the event schema (`spec.producer.schema`, or the versions of
//! `spec.producer.schemas`) as the workloads' schema file, mounted into both workloads; the
//! operator also reads it back as what it served ([`served_versions`]).

use std::collections::BTreeMap;

use eventflow_contract::schemas;
use k8s_openapi::api::core::v1::ConfigMap;

use super::{env::SCHEMA_KEY, meta};
use crate::crd::{EventPipeline, SchemaVersion};

/// The schema `ConfigMap`, or `None` when the pipeline has no schema.
pub fn config_map(pipeline: &EventPipeline) -> Option<ConfigMap> {
    let text = pipeline.spec.producer.schema_file_text()?;
    Some(ConfigMap {
        metadata: meta::child_meta(pipeline, meta::schema_config_map_name(pipeline), None),
        data: Some(BTreeMap::from([(SCHEMA_KEY.to_owned(), text)])),
        ..ConfigMap::default()
    })
}

/// The schema versions a stored schema `ConfigMap` serves (none when it holds no readable file).
pub fn served_versions(config_map: &ConfigMap) -> Vec<SchemaVersion> {
    config_map
        .data
        .as_ref()
        .and_then(|data| data.get(SCHEMA_KEY))
        .and_then(|text| schemas::parse_file(text).ok())
        .unwrap_or_default()
}
