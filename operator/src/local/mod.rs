//! The local runtime: runs an `EventPipeline` as local processes, without Kubernetes.

pub mod dev_services;
pub mod status;
pub mod supervisor;
pub mod workload_env;
