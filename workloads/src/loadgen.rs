//! `eventflow loadgen`: drives the ingest API and reports throughput and latency.

use clap::Args;

use crate::{Error, Result};

/// Configuration of the load generator.
#[derive(Debug, Clone, Args)]
pub struct LoadgenArgs {
    /// Base URL of the producer API.
    #[arg(
        long,
        env = "EVENTFLOW_LOADGEN_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub url: String,
}

/// Runs the load generator.
#[expect(clippy::unused_async, reason = "placeholder until the workload lands")]
pub async fn run(args: LoadgenArgs) -> Result<()> {
    Err(Error::Config(format!(
        "the load generator for {} is not built yet",
        args.url
    )))
}
