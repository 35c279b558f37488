//! Logging set-up: `RUST_LOG` filters (default `info`), plain or JSON lines.

use tracing_subscriber::{EnvFilter, fmt, prelude::*};

/// Installs the global tracing subscriber; a second call is a no-op.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    let installed = match format {
        LogFormat::Plain => registry.with(fmt::layer().with_target(false)).try_init(),
        LogFormat::Json => registry
            .with(fmt::layer().json().flatten_event(true))
            .try_init(),
    };
    // A subscriber that is already installed (tests, embedding) is fine.
    drop(installed);
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Plain,
    /// One JSON object per line.
    Json,
}

impl LogFormat {
    /// The value of `--log-format` (and of the workloads' env var) that selects this format.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Plain => "plain",
            Self::Json => "json",
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::ValueEnum;

    use super::LogFormat;

    #[test]
    fn the_env_value_is_what_the_command_line_parses() {
        for format in LogFormat::value_variants() {
            assert_eq!(LogFormat::from_str(format.as_str(), false), Ok(*format));
        }
    }
}
