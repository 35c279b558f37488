//! Pure builders: an `EventPipeline` in, the desired Kubernetes objects out (no I/O).

pub mod consumer;
pub mod env;
pub mod meta;
pub mod pod;
pub mod producer;
pub mod schema;
pub mod service;
pub mod validate;

use k8s_openapi::api::{apps::v1::Deployment, core::v1::ConfigMap, core::v1::Service};

use eventflow_contract::logs::LogFormat;

use crate::crd::EventPipeline;

/// What the builders need besides the pipeline: operator-wide settings.
#[derive(Debug, Clone)]
pub struct BuildContext {
    /// Image of the workloads when `spec.image` is not set.
    pub workload_image: String,
    /// Log format of the workloads.
    pub workload_log_format: LogFormat,
    /// Image pull Secrets (names, in the pipeline's namespace) of every workload pod.
    pub image_pull_secrets: Vec<String>,
}

impl BuildContext {
    /// The image a pipeline's workloads run: `spec.image`, else the operator's default.
    pub fn image<'a>(&'a self, pipeline: &'a EventPipeline) -> &'a str {
        pipeline
            .spec
            .image
            .as_deref()
            .unwrap_or(&self.workload_image)
    }
}

/// Every object a pipeline owns, as it should be.
#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    /// The schema `ConfigMap`, when the pipeline has a schema.
    pub schema: Option<ConfigMap>,
    /// The producer Deployment.
    pub producer: Deployment,
    /// The producer Service.
    pub producer_service: Service,
    /// The consumer Deployment.
    pub consumer: Deployment,
}

/// Builds every desired object of a (validated) pipeline, with `consumer_replicas` consumers
/// (the scaler's decision, or [`consumer::replicas`]).
pub fn desired(pipeline: &EventPipeline, ctx: &BuildContext, consumer_replicas: u32) -> Desired {
    Desired {
        schema: schema::config_map(pipeline),
        producer: producer::deployment(pipeline, ctx),
        producer_service: service::producer_service(pipeline),
        consumer: consumer::deployment(pipeline, ctx, consumer_replicas),
    }
}
