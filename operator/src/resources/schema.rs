//! The `ConfigMap` holding `spec.producer.schema`, mounted into both workloads.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;

use super::{env::SCHEMA_KEY, meta};
use crate::crd::EventPipeline;

/// The schema `ConfigMap`, or `None` when the pipeline has no schema.
pub fn config_map(pipeline: &EventPipeline) -> Option<ConfigMap> {
    let schema = pipeline.spec.producer.schema.as_ref()?;
    Some(ConfigMap {
        metadata: meta::child_meta(pipeline, meta::schema_config_map_name(pipeline), None),
        data: Some(BTreeMap::from([(
            SCHEMA_KEY.to_owned(),
            schema.to_string(),
        )])),
        ..ConfigMap::default()
    })
}
