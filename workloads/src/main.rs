use std::time::Duration;

use clap::Parser;
use eventflow_workloads::cli::{Cli, Command};

/// mimalloc: every event allocates its envelope, JSON and Kafka record, and glibc's malloc and
/// free are a large share of the producer's CPU under batched ingest; mimalloc's thread-local
/// free lists cost a fraction of that (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// How long the runtime waits at exit for blocking work (a consumer thread stuck in librdkafka
/// after its own shutdown deadline must not keep the process alive).
const EXIT_GRACE: Duration = Duration::from_secs(1);

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Runtime::new()?;
    let result = runtime.block_on(async {
        match cli.command {
            Command::Producer(args) => eventflow_workloads::producer::run(args).await,
            Command::Consumer(args) => eventflow_workloads::consumer::run(args).await,
            Command::Loadgen(args) => eventflow_workloads::loadgen::run(args).await,
            Command::OpenApi(args) => eventflow_workloads::producer::openapi::print(&args),
        }
    });
    runtime.shutdown_timeout(EXIT_GRACE);
    Ok(result?)
}
