//! eventflow operator: turns an `EventPipeline` custom resource into a Kafka topic, a producer
//! Deployment and a lag-scaled consumer Deployment.

pub mod cli;
pub mod error;
pub mod kafka;
pub mod local;
pub mod scaling;

pub use error::{Error, Result};
