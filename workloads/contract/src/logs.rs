//! Logging set-up: `RUST_LOG` filters (default `info`), plain or JSON lines on stdout.

use std::{ffi::OsString, io::IsTerminal};

use tracing_subscriber::{EnvFilter, fmt, prelude::*};

/// Installs the global tracing subscriber; a second call is a no-op.
///
/// Plain lines are coloured only when stdout is a terminal and `NO_COLOR` is unset or empty, so
/// pod logs and log files get no escape codes.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    let ansi = colours(
        std::io::stdout().is_terminal(),
        std::env::var_os("NO_COLOR"),
    );
    let installed = match format {
        LogFormat::Plain => registry
            .with(fmt::layer().with_target(false).with_ansi(ansi))
            .try_init(),
        LogFormat::Json => registry
            .with(fmt::layer().json().flatten_event(true))
            .try_init(),
    };
    // A subscriber that is already installed (tests, embedding) is fine.
    drop(installed);
}

/// Whether plain lines carry ANSI colours: on a terminal, unless `NO_COLOR` is set non-empty.
fn colours(terminal: bool, no_color: Option<OsString>) -> bool {
    terminal && no_color.is_none_or(|value| value.is_empty())
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

    use super::{LogFormat, colours};

    #[test]
    fn the_env_value_is_what_the_command_line_parses() {
        for format in LogFormat::value_variants() {
            assert_eq!(LogFormat::from_str(format.as_str(), false), Ok(*format));
        }
    }

    #[test]
    fn colours_only_on_a_terminal_without_no_color() {
        assert!(colours(true, None));
        assert!(colours(true, Some("".into())));
        assert!(!colours(true, Some("1".into())));
        assert!(
            !colours(false, None),
            "a pipe or a log file gets no escape codes"
        );
    }
}
