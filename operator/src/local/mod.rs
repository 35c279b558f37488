//! The local runtime: runs an `EventPipeline` as local processes, without Kubernetes.

pub mod status;
pub mod supervisor;
