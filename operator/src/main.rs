use clap::Parser;
use eventflow_operator::{
    cli::{Cli, Command},
    controller, crd,
};

/// The workloads' allocator, with transparent huge pages off (below): 80 MiB at a thousand
/// pipelines (the README's "The operator at scale" has the figures and their commands).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Threads tokio's blocking pool may hold for librdkafka's synchronous admin calls (topic
/// round trips and lag measurements; each takes milliseconds on a reachable broker). tokio's
/// default is 512: at 300 pipelines the pool had grown to 128 threads, each with its stack and
/// allocator state, and a broker that stops answering holds every thread for a call's whole
/// timeout. Calls beyond the bound wait in tokio's queue; each is still bounded by its timeout.
const MAX_BLOCKING_THREADS: usize = 32;

fn main() -> anyhow::Result<()> {
    // mimalloc asks for transparent huge pages on its arenas; then every 2 MiB region the heap
    // touches is resident whole. At a thousand pipelines (67 MiB of heap) the operator's RSS was
    // 133-172 MiB with them and 110 MiB without (README). The operator is not allocation-bound;
    // its footprint is what a cluster pays for it.
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
