//! The `eventflow-operator` command line.

use clap::{Args, Parser, Subcommand};
use eventflow_contract::logs::LogFormat;

use crate::controller::tenancy::TopicPolicy;

/// Default workload image: the release matching this operator.
pub const DEFAULT_WORKLOAD_IMAGE: &str =
    concat!("ghcr.io/eventflow/eventflow:", env!("CARGO_PKG_VERSION"));

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
    Run(RunArgs),
    /// Print the `EventPipeline` `CustomResourceDefinition` as YAML.
    Crdgen,
    /// Run a pipeline on this machine without Kubernetes (local processes, same scaling).
    Local(crate::local::LocalArgs),
}

/// Settings of `eventflow-operator run`.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Image of the producer and consumer when a pipeline does not set `spec.image`.
    #[arg(long, env = "EVENTFLOW_WORKLOAD_IMAGE", default_value = DEFAULT_WORKLOAD_IMAGE)]
    pub workload_image: String,
    /// Port of the admin server: `/metrics`, `/healthz`, `/readyz`.
    #[arg(long, env = "EVENTFLOW_METRICS_PORT", default_value_t = 8080)]
    pub metrics_port: u16,
    /// Log format of the operator; the level comes from `RUST_LOG`.
    #[arg(long, env = "EVENTFLOW_LOG_FORMAT", value_enum, default_value_t = LogFormat::Plain)]
    pub log_format: LogFormat,
    /// Log format of the workloads it deploys (default: `--log-format`); a change rolls every
    /// pipeline's pods.
    #[arg(long, env = "EVENTFLOW_WORKLOAD_LOG_FORMAT", value_enum)]
    pub workload_log_format: Option<LogFormat>,
    /// Image pull Secrets of every workload pod (comma-separated names; each must exist in the
    /// pipelines' namespaces), for workload images in a private registry.
    #[arg(
        long,
        env = "EVENTFLOW_WORKLOAD_IMAGE_PULL_SECRETS",
        value_delimiter = ','
    )]
    pub workload_image_pull_secrets: Vec<String>,
    /// Elect a leader through a Lease, so only one replica acts (`--leader-election=false` to skip).
    #[arg(long, env = "EVENTFLOW_LEADER_ELECTION", default_value_t = true, action = clap::ArgAction::Set)]
    pub leader_election: bool,
    /// Name of the leader-election Lease.
    #[arg(
        long,
        env = "EVENTFLOW_LEASE_NAME",
        default_value = "eventflow-operator"
    )]
    pub lease_name: String,
    /// Namespace of the leader-election Lease (in a pod: its own namespace).
    #[arg(long, env = "POD_NAMESPACE", default_value = "default")]
    pub lease_namespace: String,
    /// This replica's identity in the Lease (in a pod: its name).
    #[arg(long, env = "POD_NAME")]
    pub identity: Option<String>,
    /// Watch pipelines in this namespace only.
    #[arg(
        long,
        env = "EVENTFLOW_WATCH_NAMESPACE",
        conflicts_with = "all_namespaces"
    )]
    pub namespace: Option<String>,
    /// Watch pipelines in every namespace (the default when `--namespace` is not given).
    #[arg(long, short = 'A')]
    pub all_namespaces: bool,
    /// Failed cleanup attempts of a deleted pipeline (Kafka unreachable) before its finalizer is
    /// removed anyway, with a Warning Event naming what was left behind.
    #[arg(long, env = "EVENTFLOW_CLEANUP_ATTEMPTS", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    pub cleanup_attempts: u32,
    /// First retry delay after a failed reconcile (doubles per failure, up to 5m), e.g. `5s`.
    #[arg(long, env = "EVENTFLOW_BACKOFF_BASE", default_value = "5s", value_parser = eventflow_contract::duration::parse)]
    pub backoff_base: std::time::Duration,
    /// Reconciles run at once (others wait in the queue). Each holds its pipeline's desired
    /// objects and API answers while it runs, so the bound caps the memory of a large rollout.
    #[arg(long, env = "EVENTFLOW_MAX_CONCURRENT_RECONCILES", default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..))]
    pub max_concurrent_reconciles: u16,
    /// Which topics a pipeline may name: `namespace-prefix` (topics named `<namespace>.*`; the
    /// default topic is `<namespace>.<name>`) or `any` (any topic; the default is the name).
    #[arg(long, env = "EVENTFLOW_TOPIC_POLICY", value_enum, default_value_t = TopicPolicy::default())]
    pub topic_policy: TopicPolicy,
}

impl RunArgs {
    /// The namespace to watch, `None` for all.
    pub fn watched_namespace(&self) -> Option<&str> {
        if self.all_namespaces {
            None
        } else {
            self.namespace.as_deref()
        }
    }

    /// The workloads' log format: `--workload-log-format`, else the operator's.
    pub fn workload_log_format(&self) -> LogFormat {
        self.workload_log_format.unwrap_or(self.log_format)
    }

    /// The workloads' image pull Secrets, without empty names (an empty variable sets none).
    pub fn workload_image_pull_secrets(&self) -> Vec<String> {
        self.workload_image_pull_secrets
            .iter()
            .map(|name| name.trim().to_owned())
            .filter(|name| !name.is_empty())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn run_flags_parse_with_defaults_and_overrides() {
        let cli = Cli::try_parse_from([
            "eventflow-operator",
            "run",
            "--namespace",
            "team-a",
            "--leader-election=false",
            "--log-format",
            "json",
        ])
        .unwrap();
        let Command::Run(args) = cli.command else {
            panic!("expected run");
        };
        assert_eq!(args.watched_namespace(), Some("team-a"));
        assert!(!args.leader_election);
        assert_eq!(args.log_format, LogFormat::Json);
        assert_eq!(args.metrics_port, 8080);
        assert_eq!(args.workload_image, DEFAULT_WORKLOAD_IMAGE);
        assert_eq!(args.cleanup_attempts, 5);
        assert_eq!(args.backoff_base, std::time::Duration::from_secs(5));
        assert_eq!(
            args.workload_log_format(),
            LogFormat::Json,
            "follows --log-format"
        );
        assert!(args.workload_image_pull_secrets().is_empty());
    }

    #[test]
    fn workload_log_format_and_pull_secrets_are_the_workloads_own() {
        let cli = Cli::try_parse_from([
            "eventflow-operator",
            "run",
            "--log-format",
            "plain",
            "--workload-log-format",
            "json",
            "--workload-image-pull-secrets",
            "regcred,,mirror",
        ])
        .unwrap();
        let Command::Run(args) = cli.command else {
            panic!("expected run");
        };
        assert_eq!(args.log_format, LogFormat::Plain);
        assert_eq!(args.workload_log_format(), LogFormat::Json);
        assert_eq!(args.workload_image_pull_secrets(), ["regcred", "mirror"]);
    }

    #[test]
    fn namespace_and_all_namespaces_conflict() {
        let parsed = Cli::try_parse_from(["eventflow-operator", "run", "--namespace", "a", "-A"]);
        assert_eq!(
            parsed.err().map(|e| e.kind()),
            Some(clap::error::ErrorKind::ArgumentConflict)
        );
    }
}
