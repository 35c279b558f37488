//! eventflow operator: turns an `EventPipeline` custom resource into a Kafka topic, a producer
//! Deployment and a lag-scaled consumer Deployment.

pub mod cli;
pub mod controller;
pub mod crd;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod kafka;
pub mod leader;
pub mod local;
pub mod metrics;
pub mod resources;
pub mod scaling;
pub mod schema_check;

pub use error::{Error, Result};
