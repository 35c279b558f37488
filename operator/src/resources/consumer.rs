//! The consumer's Deployment: Kafka into MongoDB, replicas chosen by the scaler when autoscaling.
//!
//! The seam with the scaler: when `spec.autoscaling.enabled`, the scaler (`crate::scaling` and
//! `crate::kafka::lag`) records its decision in `status.consumer.desiredReplicas`, and this
//! builder is the only writer of the Deployment's `replicas`, so the two never fight over it.
//! Before the scaler's first decision the count starts at `spec.consumer.replicas`, clamped to
//! the autoscaling bounds.

use k8s_openapi::api::apps::v1::Deployment;

use super::{BuildContext, meta::Component, pod};
use crate::crd::EventPipeline;

/// Consumer pods: zero while suspended; else the scaler's decision when autoscaling (starting
/// from `spec.consumer.replicas` within the bounds); else `spec.consumer.replicas`.
pub fn replicas(pipeline: &EventPipeline) -> u32 {
    let spec = &pipeline.spec;
    if spec.suspend {
        return 0;
    }
    if !spec.autoscaling.enabled {
        return spec.consumer.replicas;
    }
    let decided = pipeline
        .status
        .as_ref()
        .and_then(|status| status.consumer.as_ref())
        .and_then(|consumer| consumer.desired_replicas);
    decided.unwrap_or_else(|| {
        let bounds = &spec.autoscaling;
        spec.consumer.replicas.clamp(
            bounds.min_replicas,
            bounds.max_replicas.max(bounds.min_replicas),
        )
    })
}

/// The consumer Deployment.
pub fn deployment(pipeline: &EventPipeline, ctx: &BuildContext) -> Deployment {
    pod::deployment(pipeline, Component::Consumer, Some(replicas(pipeline)), ctx)
}
