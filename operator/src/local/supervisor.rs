//! Runs one workload as a child process the way a Deployment runs a pod: restart on exit with
//! a capped exponential backoff, graceful stop with SIGTERM and a grace period, then SIGKILL.

use std::{
    path::PathBuf,
    process::Stdio,
    sync::{
        Arc,
        atomic::{AtomicU32, Ordering},
    },
    time::Duration,
};

use eventflow_contract::backoff::Backoff;
use nix::{
    sys::signal::{Signal, kill},
    unistd::Pid,
};
use tokio::{process::Command, task::JoinHandle, time::Instant};
use tokio_util::sync::CancellationToken;

/// First restart delay; doubled per crash, capped at [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(500);
/// Longest restart delay.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A child that ran this long before exiting resets the backoff.
const HEALTHY_RUN: Duration = Duration::from_secs(30);

/// What to run: the program, its arguments, its environment and where its output goes.
/// `Debug` shows the environment's names only: its values hold credentials (the MongoDB URI).
#[derive(Clone)]
pub struct ChildSpec {
    /// A name for logs, e.g. `consumer-2`.
    pub name: String,
    /// The executable.
    pub program: PathBuf,
    /// Its arguments (the subcommand).
    pub args: Vec<String>,
    /// Its environment, on top of a cleared one but for `PATH`, `HOME` and `RUST_LOG`.
    pub env: Vec<(String, String)>,
    /// File that receives stdout and stderr.
    pub log_file: PathBuf,
}

impl std::fmt::Debug for ChildSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let env: Vec<&str> = self.env.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("ChildSpec")
            .field("name", &self.name)
            .field("program", &self.program)
            .field("args", &self.args)
            .field("env", &env)
            .field("log_file", &self.log_file)
            .finish()
    }
}

/// A supervised child process.
#[derive(Debug)]
pub struct Supervised {
    name: String,
    admin_port: Option<u16>,
    pid: Arc<AtomicU32>,
    restarts: Arc<AtomicU32>,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl Supervised {
    /// Starts the child and keeps it running until [`Supervised::stop`].
    pub fn start(spec: ChildSpec, grace: Duration) -> Self {
        let pid = Arc::new(AtomicU32::new(0));
        let restarts = Arc::new(AtomicU32::new(0));
        let stop = CancellationToken::new();
        let task = tokio::spawn(supervise(
            spec.clone(),
            grace,
            Arc::clone(&pid),
            Arc::clone(&restarts),
            stop.clone(),
        ));
        Self {
            admin_port: spec
                .env
                .iter()
                .find(|(name, _)| name == eventflow_contract::ADMIN_PORT)
                .and_then(|(_, port)| port.parse().ok()),
            name: spec.name,
            pid,
            restarts,
            stop,
            task,
        }
    }

    /// The PID of the running child, if one runs now.
    pub fn pid(&self) -> Option<u32> {
        Some(self.pid.load(Ordering::Relaxed)).filter(|pid| *pid != 0)
    }

    /// The port of the child's admin server (`/metrics`), from its environment.
    pub fn admin_port(&self) -> Option<u16> {
        self.admin_port
    }

    /// How often the child was restarted after it exited on its own.
    pub fn restarts(&self) -> u32 {
        self.restarts.load(Ordering::Relaxed)
    }

    /// Stops the child: SIGTERM, up to the grace period to exit (a consumer flushes and commits
    /// in that time), then SIGKILL. Returns when the child is gone.
    pub async fn stop(self) {
        self.stop.cancel();
        if let Err(error) = self.task.await {
            tracing::warn!(child = %self.name, %error, "supervisor task failed");
        }
    }
}

async fn supervise(
    spec: ChildSpec,
    grace: Duration,
    pid: Arc<AtomicU32>,
    restarts: Arc<AtomicU32>,
    stop: CancellationToken,
) {
    let mut backoff = Backoff::new(MIN_BACKOFF, MAX_BACKOFF);
    loop {
        let started = Instant::now();
        let mut child = match spawn(&spec) {
            Ok(child) => child,
            Err(error) => {
                tracing::error!(child = %spec.name, %error, "cannot start");
                if sleep_or_stop(&stop, backoff.next_delay()).await {
                    return;
                }
                continue;
            }
        };
        pid.store(child.id().unwrap_or(0), Ordering::Relaxed);
        tracing::info!(child = %spec.name, pid = child.id(), "started");
        tokio::select! {
            status = child.wait() => {
                pid.store(0, Ordering::Relaxed);
                if started.elapsed() >= HEALTHY_RUN {
                    backoff.reset();
                }
                let delay = backoff.next_delay();
                tracing::warn!(child = %spec.name, status = ?status.ok(), "exited; restarting after {delay:?}");
                restarts.fetch_add(1, Ordering::Relaxed);
                if sleep_or_stop(&stop, delay).await {
                    return;
                }
            }
            () = stop.cancelled() => {
                terminate(&spec.name, &mut child, grace).await;
                pid.store(0, Ordering::Relaxed);
                return;
            }
        }
    }
}

fn spawn(spec: &ChildSpec) -> std::io::Result<tokio::process::Child> {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&spec.log_file)?;
    let mut command = Command::new(&spec.program);
    command
        .args(&spec.args)
        .env_clear()
        .envs(["PATH", "HOME", "RUST_LOG"].iter().filter_map(|name| {
            std::env::var(name)
                .ok()
                .map(|value| ((*name).to_owned(), value))
        }))
        .envs(spec.env.iter().cloned())
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .kill_on_drop(true);
    command.spawn()
}

/// SIGTERM, wait up to `grace`, then SIGKILL.
async fn terminate(name: &str, child: &mut tokio::process::Child, grace: Duration) {
    if let Some(id) = child.id().and_then(|id| i32::try_from(id).ok())
        && let Err(error) = kill(Pid::from_raw(id), Signal::SIGTERM)
    {
        tracing::warn!(child = name, %error, "SIGTERM failed");
    }
    if let Ok(status) = tokio::time::timeout(grace, child.wait()).await {
        tracing::info!(child = name, status = ?status.ok(), "stopped");
        return;
    }
    tracing::warn!(child = name, "did not stop within {grace:?}; killing it");
    if let Err(error) = child.kill().await {
        tracing::warn!(child = name, %error, "SIGKILL failed");
    }
}

/// Sleeps for `delay`; `true` when a stop was requested meanwhile.
async fn sleep_or_stop(stop: &CancellationToken, delay: Duration) -> bool {
    tokio::select! {
        () = tokio::time::sleep(delay) => false,
        () = stop.cancelled() => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shell(name: &str, script: &str) -> ChildSpec {
        ChildSpec {
            name: name.to_owned(),
            program: "/bin/sh".into(),
            args: vec!["-c".to_owned(), script.to_owned()],
            env: vec![("GREETING".to_owned(), "hello".to_owned())],
            log_file: std::env::temp_dir().join(format!("{name}-{}.log", std::process::id())),
        }
    }

    /// Waits until the child printed `line` (its trap is installed), for at most 20 s.
    async fn wait_for_line(log: &std::path::Path, line: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !std::fs::read_to_string(log).is_ok_and(|text| text.lines().any(|l| l == line)) {
            assert!(Instant::now() < deadline, "{line} not printed");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[tokio::test]
    async fn a_crashing_child_is_restarted_with_the_same_identity() {
        let spec = shell("crasher", "echo \"identity $GREETING\"; exit 3");
        let log = spec.log_file.clone();
        let child = Supervised::start(spec, Duration::from_secs(1));
        let deadline = Instant::now() + Duration::from_secs(20);
        while child.restarts() < 2 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(child.restarts() >= 2, "restarts: {}", child.restarts());
        child.stop().await;
        let output = std::fs::read_to_string(&log).unwrap();
        std::fs::remove_file(&log).unwrap();
        let runs: Vec<&str> = output
            .lines()
            .filter(|l| l.starts_with("identity"))
            .collect();
        assert!(
            runs.len() >= 2 && runs.iter().all(|l| *l == "identity hello"),
            "{output}"
        );
    }

    #[tokio::test]
    async fn stop_sends_sigterm_and_lets_the_child_finish() {
        let spec = shell(
            "graceful",
            "trap 'echo \"$GREETING, flushed\"; exit 0' TERM; echo trapped; while true; do sleep 0.05; done",
        );
        let log = spec.log_file.clone();
        let child = Supervised::start(spec, Duration::from_secs(5));
        wait_for_line(&log, "trapped").await;
        child.stop().await;
        let output = std::fs::read_to_string(&log).unwrap();
        std::fs::remove_file(&log).unwrap();
        assert!(output.contains("hello, flushed"), "{output}");
    }

    #[tokio::test]
    async fn a_child_ignoring_sigterm_is_killed_after_the_grace_period() {
        let spec = shell(
            "stubborn",
            "trap '' TERM; echo trapped; while true; do sleep 0.05; done",
        );
        let log = spec.log_file.clone();
        let child = Supervised::start(spec, Duration::from_millis(300));
        wait_for_line(&log, "trapped").await;
        let pid = child.pid().unwrap();
        child.stop().await;
        std::fs::remove_file(&log).unwrap();
        let alive = kill(Pid::from_raw(i32::try_from(pid).unwrap()), None).is_ok();
        assert!(!alive, "pid {pid} still alive");
    }
}
