use clap::Parser;
use eventflow_operator::{
    cli::{Cli, Command},
    controller, crd,
};

/// The workloads' allocator, with transparent huge pages off (below); docs/benchmarks.md has
/// the operator's memory at scale.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Threads tokio's blocking pool may hold for librdkafka's synchronous admin calls (topic
/// round trips and lag measurements; each takes milliseconds on a reachable broker). tokio's
/// default is 512: the pool grows with the pipelines, each thread with its stack and allocator
/// state, and a broker that stops answering holds every thread for a call's whole timeout. Calls
/// beyond the bound wait in tokio's queue; each is still bounded by its timeout.
const MAX_BLOCKING_THREADS: usize = 32;

fn main() -> anyhow::Result<()> {
    // mimalloc asks for transparent huge pages on its arenas; then every 2 MiB region the heap
    // touches is resident whole, which inflates the RSS well past the heap (docs/benchmarks.md).
    // The operator is not allocation-bound; its footprint is what a cluster pays for it.
    nix::sys::prctl::set_thp_disable(true)?;
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(MAX_BLOCKING_THREADS)
        .build()?;
    runtime.block_on(async {
        match cli.command {
            Command::Run(args) => controller::run::run(args).await?,
            Command::Crdgen => print!("{}", crd::crd_yaml()?),
            Command::Local(args) => eventflow_operator::local::run(args).await?,
        }
        Ok(())
    })
}
