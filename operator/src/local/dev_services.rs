//! Starts and stops the project's dev services (`scripts/dev-services.sh`) for a local run
//! that was given no Kafka or MongoDB address.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
};

use eventflow_contract::secret::ConnectionString;
use tokio::process::Command;

use crate::{Error, Result};

/// Name of the environment variable that points at the dev-services script.
pub const SCRIPT_ENV: &str = "EVENTFLOW_DEV_SERVICES_SCRIPT";

/// Dev services this run started; [`DevServices::stop`] stops exactly those.
#[derive(Debug)]
pub struct DevServices {
    script: PathBuf,
    run_dir: PathBuf,
    /// Kafka bootstrap servers.
    pub kafka_bootstrap: String,
    /// MongoDB connection string.
    pub mongodb_uri: ConnectionString,
}

impl DevServices {
    /// Installs (first run: visible progress on stderr) and starts the services in `run_dir`.
    pub async fn start(run_dir: &Path) -> Result<Self> {
        let script = find_script()?;
        eprintln!(
            "starting the dev services with {} (the first run installs them)",
            script.display()
        );
        let output = Command::new(&script)
            .arg("start")
            .env("EVENTFLOW_RUN_DIR", run_dir)
            .stdin(Stdio::null())
            .stderr(Stdio::inherit())
            .output()
            .await
            .map_err(|e| Error::Local(format!("cannot run {}: {e}", script.display())))?;
        if !output.status.success() {
            return Err(Error::Local(format!(
                "{} start failed ({})",
                script.display(),
                output.status
            )));
        }
        let exports = String::from_utf8_lossy(&output.stdout);
        let read = |name: &str| {
            exported(&exports, name)
                .ok_or_else(|| Error::Local(format!("{} printed no {name}", script.display())))
        };
        Ok(Self {
            kafka_bootstrap: read(eventflow_contract::KAFKA_BOOTSTRAP)?,
            mongodb_uri: read(eventflow_contract::MONGODB_URI)?.into(),
            run_dir: run_dir.to_owned(),
            script,
        })
    }

    /// Stops the services this run started.
    pub async fn stop(self) {
        let stopped = Command::new(&self.script)
            .arg("stop")
            .env("EVENTFLOW_RUN_DIR", &self.run_dir)
            .stdin(Stdio::null())
            .status()
            .await;
        if let Err(error) = stopped {
            tracing::warn!(%error, "could not stop the dev services");
        }
    }
}

/// The value of `export NAME=value` in the script's output.
fn exported(exports: &str, name: &str) -> Option<String> {
    exports
        .lines()
        .filter_map(|line| line.strip_prefix("export "))
        .filter_map(|line| line.split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

/// `$EVENTFLOW_DEV_SERVICES_SCRIPT`, else `scripts/dev-services.sh` in the current directory or
/// next to an ancestor of this executable (a checkout's target directory).
fn find_script() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os(SCRIPT_ENV) {
        return Ok(PathBuf::from(path));
    }
    let relative = Path::new("scripts/dev-services.sh");
    let mut candidates = vec![std::env::current_dir()?.join(relative)];
    if let Ok(exe) = std::env::current_exe() {
        candidates.extend(exe.ancestors().skip(1).map(|dir| dir.join(relative)));
    }
    candidates
        .into_iter()
        .find(|path| path.is_file())
        .ok_or_else(|| {
            Error::Local(format!(
                "no Kafka/MongoDB address given and no scripts/dev-services.sh found: run from the \
             eventflow checkout, set {SCRIPT_ENV}, or pass --kafka-bootstrap and --mongodb-uri"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exports_are_read_by_name() {
        let out = "export EVENTFLOW_KAFKA_BOOTSTRAP=127.0.0.1:1\nexport EVENTFLOW_MONGODB_URI=mongodb://h:2/?directConnection=true\n";
        assert_eq!(
            exported(out, "EVENTFLOW_MONGODB_URI").as_deref(),
            Some("mongodb://h:2/?directConnection=true")
        );
        assert_eq!(exported(out, "MISSING"), None);
    }
}
