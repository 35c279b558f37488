//! `eventflow loadgen`: drives the ingest API and reports throughput and latency.
//!
//! Progress goes to stderr (a live line on a terminal, a line every 10 s otherwise); the
//! summary (text, or JSON with `--json`) to stdout.

pub mod events;
pub mod runner;
pub mod summary;

use std::{io::Write, num::NonZeroUsize, path::PathBuf, time::Duration};

use clap::Args;

pub use self::{events::Workload, runner::Plan, summary::Summary};
use eventflow_contract::{duration::parse as parse_duration, secret::Secret};

use crate::{Error, Result};

/// Configuration of the load generator.
#[derive(Debug, Clone, Args)]
pub struct LoadgenArgs {
    /// Base URL of the producer API.
    #[arg(
        long,
        env = "EVENTFLOW_LOADGEN_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub url: String,
    /// Requests in flight at once.
    #[arg(long, short = 'c', default_value_t = 10)]
    pub concurrency: usize,
    /// Target requests per second (default: as fast as the concurrency allows).
    #[arg(long)]
    pub rate: Option<f64>,
    /// How long to run (default 10s unless --count is given).
    #[arg(long, short = 'd', value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// How many events to send.
    #[arg(long, short = 'n')]
    pub count: Option<u64>,
    /// Events per request; above 1 every request carries an array.
    #[arg(long, short = 'b', default_value_t = 1)]
    pub batch: usize,
    /// Which events to send.
    #[arg(long, value_enum, default_value_t = Workload::UserActivity)]
    pub workload: Workload,
    /// Bearer token for an API with auth on.
    #[arg(long, env = "EVENTFLOW_LOADGEN_TOKEN", hide_env_values = true)]
    pub token: Option<Secret>,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
    /// Write the ids of accepted events to this file, one per line.
    #[arg(long, value_name = "PATH")]
    pub ids_file: Option<PathBuf>,
    /// No progress line.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Generate this many request bodies up front and send them in turn, instead of new events
    /// for every request: a load generator that spends far less CPU than the producer it
    /// measures when both share a machine. The events carry no id, so every send is new events.
    #[arg(long, value_name = "BODIES")]
    pub prepared: Option<NonZeroUsize>,
}

impl LoadgenArgs {
    /// The run these arguments describe.
    pub fn plan(&self) -> Result<Plan> {
        if self.batch == 0 || self.concurrency == 0 || self.rate.is_some_and(|r| r <= 0.0) {
            return Err(Error::Config(
                "--batch, --concurrency and --rate must be positive".into(),
            ));
        }
        let duration = match (self.duration, self.count) {
            (None, None) => Some(Duration::from_secs(10)),
            (duration, _) => duration,
        };
        let mut plan = Plan {
            endpoint: format!("{}/v1/events", self.url.trim_end_matches('/')),
            concurrency: self.concurrency,
            rate: self.rate,
            duration,
            count: self.count,
            batch: self.batch,
            workload: self.workload,
            token: self.token.clone(),
            keep_ids: self.ids_file.is_some(),
            progress: !self.quiet,
            prepared: None,
        };
        plan.prepared = self
            .prepared
            .map(|bodies| runner::prepare(&plan, bodies.get()));
        Ok(plan)
    }
}

/// Runs the load generator and prints its summary.
pub async fn run(args: LoadgenArgs) -> Result<()> {
    let (summary, ids) = runner::drive(args.plan()?).await?;
    if let Some(path) = &args.ids_file {
        let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
        for id in &ids {
            writeln!(file, "{id}")?;
        }
        file.flush()?;
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        let json = serde_json::to_string_pretty(&summary)
            .map_err(|e| Error::Config(format!("summary: {e}")))?;
        writeln!(out, "{json}")?;
    } else {
        writeln!(out, "{summary}")?;
    }
    Ok(())
}
