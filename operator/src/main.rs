use clap::Parser;
use eventflow_operator::{
    cli::{Cli, Command},
    controller, crd,
};

/// The operator holds a thousand pipelines' watch caches and polls their lag from tokio's
/// blocking pool: under glibc every thread that allocates may get an arena of its own, and freed
/// memory stays in them. mimalloc's per-thread heaps are given back when a thread goes.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Threads tokio's blocking pool may hold for librdkafka's synchronous admin calls (topic
/// round trips and lag measurements; each takes milliseconds on a reachable broker). tokio's
/// default is 512: a rollout of a thousand pipelines, or a broker that stops answering, grew the
/// pool to hundreds of threads, each with its stack and allocator state. Calls beyond the bound
/// wait in tokio's queue; each is still bounded by its own timeout.
const MAX_BLOCKING_THREADS: usize = 32;

fn main() -> anyhow::Result<()> {
    // mimalloc asks for transparent huge pages on its arenas; then every 2 MiB region the heap
    // touches is resident whole. At a thousand pipelines (about 65 MiB of heap) the operator's
    // RSS was 133-172 MiB with them and 110 MiB without. The operator is not allocation-bound;
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
