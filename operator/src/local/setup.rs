//! What a local run sets up before its processes start: the build settings of its workloads,
//! the Kafka connection (with the `kafka.secretRef` stand-in), the topic and its dead-letter
//! topic (retried with backoff), the local stand-ins for what the cluster would mount, and the
//! child specs with the workload binary they run.

use std::{
    collections::BTreeMap,
    net::Ipv4Addr,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use eventflow_contract::{backoff::Backoff, logs::LogFormat, secret::ConnectionString};
use tokio_util::sync::CancellationToken;

use super::{args::LocalArgs, supervisor::ChildSpec, workload_env::LocalResources};
use crate::{
    Error, Result,
    crd::EventPipeline,
    kafka::{
        KafkaAdmin, KafkaConnection,
        topic::{self, DesiredTopic},
    },
    resources::{BuildContext, meta::Component},
};

/// Where the run's processes reach Kafka and MongoDB.
#[derive(Debug, Clone)]
pub struct Endpoints {
    /// Kafka bootstrap servers.
    pub kafka_bootstrap: String,
    /// MongoDB connection string.
    pub mongodb_uri: ConnectionString,
}

pub(super) fn connection(args: &LocalArgs, endpoints: &Endpoints) -> Result<KafkaConnection> {
    let properties = match &args.kafka_properties_file {
        Some(path) => eventflow_contract::properties::read(path)?
            .into_iter()
            .collect(),
        None => BTreeMap::new(),
    };
    Ok(KafkaConnection {
        bootstrap: endpoints.kafka_bootstrap.clone(),
        properties,
    })
}

/// Bound of each admin request of the run's Kafka client.
pub(super) const ADMIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Ensures the topic and its dead-letter topic with the operator's topic code; returns the
/// topic's partition count. Retries with backoff while Kafka does not answer.
pub(super) async fn ensure_topics(
    admin: &Arc<KafkaAdmin>,
    pipeline: &EventPipeline,
    shutdown: &CancellationToken,
) -> Result<u32> {
    let desired = DesiredTopic::with_dead_letter(pipeline);
    let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
    loop {
        let delay = match topic::ensure_with_dead_letter(admin, &desired).await {
            Ok(reports) => {
                if let Some(refusal) = &reports.topic.refusal {
                    eprintln!("warning: {}", refusal.message(&reports.topic.name));
                }
                return Ok(reports.topic.partitions);
            }
            Err(error) => {
                let delay = backoff.next_delay();
                eprintln!("topic {}: {error}; retrying in {delay:?}", desired[0].name);
                delay
            }
        };
        tokio::select! {
            () = tokio::time::sleep(delay) => {},
            () = shutdown.cancelled() => return Err(Error::Local("stopped before the topic was ready".into())),
        }
    }
}

pub(super) fn local_resources(
    args: &LocalArgs,
    pipeline: &EventPipeline,
    endpoints: &Endpoints,
    run_dir: &Path,
) -> Result<LocalResources> {
    let schema_file = match pipeline.spec.producer.schema_file_text() {
        Some(text) => {
            let path = run_dir.join("schema.json");
            std::fs::write(&path, text)?;
            Some(path)
        }
        None => None,
    };
    Ok(LocalResources {
        kafka_bootstrap: endpoints.kafka_bootstrap.clone(),
        mongodb_uri: endpoints.mongodb_uri.clone(),
        kafka_properties_file: args.kafka_properties_file.clone(),
        schema_file,
        auth_tokens_file: args.auth_tokens_file.clone(),
        jwt_key_file: args.jwt_key_file.clone(),
    })
}

/// A free loopback port for a workload's admin server.
pub(super) fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

/// Makes the child specs of a run: the workload binary, one log file per child in the run
/// directory.
pub(super) struct ChildFactory {
    pub(super) program: PathBuf,
    pub(super) run_dir: PathBuf,
}

impl ChildFactory {
    pub(super) fn spec(
        &self,
        name: String,
        component: Component,
        env: Vec<(String, String)>,
    ) -> ChildSpec {
        ChildSpec {
            log_file: self.run_dir.join(format!("{name}.log")),
            name,
            program: self.program.clone(),
            args: vec![component.as_str().to_owned()],
            env,
        }
    }
}

/// The build settings of local workloads (no image; plain logs into their log files).
pub fn build_context() -> BuildContext {
    BuildContext {
        workload_image: "local".to_owned(),
        workload_log_format: LogFormat::Plain,
        image_pull_secrets: Vec::new(),
    }
}

/// The `eventflow` binary: `--workload-bin`, else next to this executable, else on `PATH`.
pub(super) fn workload_bin(args: &LocalArgs) -> Result<PathBuf> {
    if let Some(path) = &args.workload_bin {
        return Ok(path.clone());
    }
    let sibling = std::env::current_exe()?.with_file_name("eventflow");
    if sibling.is_file() {
        return Ok(sibling);
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join("eventflow"))
        .find(|path| path.is_file())
        .ok_or_else(|| {
            Error::Local(
                "the eventflow workload binary was not found next to eventflow-operator nor on \
                 PATH; build it (cargo build --bins) or pass --workload-bin"
                    .to_owned(),
            )
        })
}
