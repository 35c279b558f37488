//! The local runtime: runs an `EventPipeline` as local processes, without Kubernetes.
//!
//! The same pipeline file, types, defaults and checks as the operator; the topic through the
//! operator's Kafka module; the producer and consumers as child processes of the `eventflow`
//! binary with the env the operator builds for their pods; the same lag measurement and scaling
//! decision starting and stopping consumer processes.

pub mod args;
pub mod assignment;
pub mod consumers;
pub mod dev_services;
pub mod figures;
pub mod pipeline_file;
pub mod runtime;
pub mod scrape;
mod setup;
pub mod status;
pub mod supervisor;
pub mod workload_env;

use eventflow_contract::{admin::shutdown_on_signal, logs::LogFormat};
use kube::ResourceExt;

pub use args::LocalArgs;
use dev_services::DevServices;
pub use setup::{Endpoints, build_context};

use crate::Result;

/// Runs the pipeline of `args.file` until SIGTERM/SIGINT; leaves no process behind.
pub async fn run(args: LocalArgs) -> Result<()> {
    eventflow_contract::logs::init(if args.json {
        LogFormat::Json
    } else {
        LogFormat::Plain
    });
    let pipeline = pipeline_file::load(&args.file, args.name.as_deref(), &build_context())?;
    let run_dir = match &args.run_dir {
        Some(dir) => dir.clone(),
        None => std::env::temp_dir().join(format!(
            "eventflow-local-{}-{}",
            pipeline.name_any(),
            std::process::id()
        )),
    };
    std::fs::create_dir_all(&run_dir)?;
    let shutdown = shutdown_on_signal();
    let (dev_services, endpoints) =
        if let (Some(kafka), Some(mongo)) = (&args.kafka_bootstrap, &args.mongodb_uri) {
            let endpoints = Endpoints {
                kafka_bootstrap: kafka.clone(),
                mongodb_uri: mongo.clone(),
            };
            (None, endpoints)
        } else {
            let services = DevServices::start(&run_dir.join("dev-services")).await?;
            let endpoints = Endpoints {
                kafka_bootstrap: services.kafka_bootstrap.clone(),
                mongodb_uri: services.mongodb_uri.clone(),
            };
            (Some(services), endpoints)
        };
    let result = runtime::run(&args, pipeline, &endpoints, &run_dir, shutdown).await;
    if let Some(services) = dev_services {
        services.stop().await;
    }
    result
}
