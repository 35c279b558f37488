//! The `eventflow` command line: one binary, a subcommand per workload.

use clap::{Parser, Subcommand};

use crate::{
    consumer::ConsumerArgs,
    loadgen::LoadgenArgs,
    producer::{ProducerArgs, openapi::OpenApiArgs},
};

/// eventflow workloads: the producer, the consumer and a load generator of an event pipeline.
///
/// Every flag can also be set through the environment variable shown with it; that is how the
/// eventflow operator (and its local runtime) configures these processes.
#[derive(Debug, Parser)]
#[command(name = "eventflow", version, about, long_about)]
pub struct Cli {
    /// The workload to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The workloads.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// HTTP ingest into Kafka (`POST /v1/events`) and a query API over MongoDB (`GET /v1/events`).
    Producer(ProducerArgs),
    /// Kafka into MongoDB in batches: offsets committed only after the write, poison to `<topic>.dlq`.
    Consumer(ConsumerArgs),
    /// Drives the ingest API with realistic events and prints throughput and latency.
    Loadgen(LoadgenArgs),
    /// Prints the producer's OpenAPI 3.1 document: what a producer with these flags serves at
    /// `/openapi.json` (with `--schema-file`, the event's `data` is typed for client generators).
    #[command(name = "openapi")]
    OpenApi(OpenApiArgs),
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
