//! eventflow operator: turns an `EventPipeline` custom resource into a Kafka topic, a producer
//! Deployment and a lag-scaled consumer Deployment.

pub mod cli;
pub mod controller;
pub mod crd;
pub mod error;
pub mod kafka;
pub mod leader;
pub mod local;
pub mod metrics;
pub mod resources;
pub mod resync_cache;
pub mod scaling;
pub mod schema_check;
pub mod schema_evolution;
pub mod secret;
pub mod sink;

pub use error::{Error, Result};
