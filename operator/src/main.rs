use clap::Parser;
use eventflow_operator::{
    cli::{Cli, Command},
    controller, crd,
};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Run(args) => controller::run::run(args).await?,
        Command::Crdgen => print!("{}", crd::crd_yaml()?),
        Command::Local(args) => eventflow_operator::local::run(args).await?,
    }
    Ok(())
}
