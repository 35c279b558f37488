//! The `eventflow-operator` command line.

use clap::{Parser, Subcommand};

/// eventflow operator: one `EventPipeline` custom resource becomes a Kafka topic, an HTTP ingest
/// and query service, and Kafka→MongoDB consumers scaled on consumer-group lag.
#[derive(Debug, Parser)]
#[command(name = "eventflow-operator", version, about, long_about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The operator's modes.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the controller against the current Kubernetes cluster.
    Run,
    /// Print the `EventPipeline` `CustomResourceDefinition` as YAML.
    Crdgen,
    /// Run a pipeline on this machine without Kubernetes (local processes, same scaling).
    Local,
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
