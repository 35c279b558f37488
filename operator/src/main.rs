use clap::Parser;
use eventflow_operator::{
    Error,
    cli::{Cli, Command},
};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Run => Err(Error::NotYet("the controller"))?,
        Command::Crdgen => Err(Error::NotYet("crdgen"))?,
        Command::Local => Err(Error::NotYet("the local runtime"))?,
    }
}
