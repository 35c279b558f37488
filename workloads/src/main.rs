use clap::Parser;
use eventflow_workloads::cli::{Cli, Command};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Producer(args) => eventflow_workloads::producer::run(args).await?,
        Command::Consumer(args) => eventflow_workloads::consumer::run(args).await?,
        Command::Loadgen(args) => eventflow_workloads::loadgen::run(args).await?,
    }
    Ok(())
}
