//! The producer's Deployment: HTTP ingest and query, `spec.producer.replicas` pods.

use k8s_openapi::api::apps::v1::Deployment;

use super::{BuildContext, meta::Component, pod};
use crate::crd::EventPipeline;

/// Producer pods: `spec.producer.replicas`, or zero while suspended.
pub fn replicas(pipeline: &EventPipeline) -> u32 {
    if pipeline.spec.suspend {
        0
    } else {
        pipeline.spec.producer.replicas
    }
}

/// The producer Deployment.
pub fn deployment(pipeline: &EventPipeline, ctx: &BuildContext) -> Deployment {
    pod::deployment(pipeline, Component::Producer, Some(replicas(pipeline)), ctx)
}
