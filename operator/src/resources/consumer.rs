//! The consumer's Deployment: Kafka into MongoDB, replicas chosen by the scaler when autoscaling.
//!
//! The seam with the scaler: the reconcile hands the scaler's decision to this builder as a value,
//! and this builder is the only writer of the Deployment's `replicas`, so the two never fight
//! over it. Before the scaler's first decision, [`replicas`] says where the count starts.

use k8s_openapi::api::apps::v1::Deployment;

use super::{BuildContext, meta::Component, pod};
use crate::{crd::EventPipeline, scaling::Policy};

/// Consumer pods before (or without) a decision of this process's scaler: zero while suspended;
/// when autoscaling, the last decision stored in `status` (an operator restart), else
/// `spec.consumer.replicas` within the bounds a decision lands in
/// ([`Policy::initial_replicas`]); else `spec.consumer.replicas`.
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
        let partitions = pipeline
            .status
            .as_ref()
            .and_then(|status| status.topic.as_ref())
            .map_or(spec.topic.partitions, |topic| topic.partitions);
        Policy::from_spec(&spec.autoscaling).initial_replicas(spec.consumer.replicas, partitions)
    })
}

/// The consumer Deployment with `replicas` consumers.
pub fn deployment(pipeline: &EventPipeline, ctx: &BuildContext, replicas: u32) -> Deployment {
    pod::deployment(pipeline, Component::Consumer, Some(replicas), ctx)
}
