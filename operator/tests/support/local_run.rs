//! One launcher for `eventflow-operator local --json`, shared by every test binary that runs the
//! local runtime as a user would (the end-to-end, secrets and observability tests): it writes the
//! pipeline file into a fresh directory, picks free ports, starts the runtime against the dev
//! services, records every stdout line, and stops it with SIGTERM so it stops its children.
//!
//! Included by `#[path]`; it uses only std, nix, `serde_json` and the testkit, so both the tokio
//! tests and the synchronous cluster tests can use it.
#![allow(
    dead_code,
    reason = "each test binary includes this module and uses a different part of it"
)]

use std::{
    ffi::OsString,
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use eventflow_workloads::testkit::{DevServices, free_port, unique_name};
use nix::{
    sys::signal::{Signal, kill},
    unistd::Pid,
};
use serde_json::Value;

/// How long a stopped runtime may take to stop its children and exit.
const STOP_LIMIT: Duration = Duration::from_secs(60);
/// How often a wait looks at the recorded status lines again.
const POLL: Duration = Duration::from_millis(50);

/// A binary the workspace builds, next to the operator's.
pub fn binary(name: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_BIN_EXE_eventflow-operator")).with_file_name(name);
    assert!(
        path.is_file(),
        "{} is missing: build the workspace binaries (cargo test --workspace builds them)",
        path.display()
    );
    path
}

/// What a test changes in the launch; the rest is the dev services' defaults.
#[derive(Default)]
pub struct Options {
    /// Runtime environment additions, e.g. `RUST_LOG`.
    pub env: Vec<(&'static str, String)>,
    /// Flags whose value is a path under the run's directory, e.g. a file from `files`.
    pub path_args: Vec<(&'static str, &'static str)>,
    /// Kafka bootstrap servers other than the dev services' (e.g. the secured listener).
    pub kafka_bootstrap: Option<String>,
    /// A MongoDB URI other than the dev services'.
    pub mongodb_uri: Option<String>,
    /// Files the pipeline refers to (path under the run's directory, content).
    pub files: Vec<(String, String)>,
    /// Whether stderr goes to `stderr.log` in the run's directory instead of the test's stderr.
    pub stderr_to_file: bool,
}

/// A running `eventflow-operator local --json`.
pub struct LocalRun {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    /// The thread that records stdout; it ends at the runtime's exit.
    reader: Option<std::thread::JoinHandle<()>>,
    /// Index of the first status line `wait_for` has not looked at yet.
    seen: usize,
    pub dir: PathBuf,
    pub name: String,
    pub http_port: u16,
    pub metrics_port: u16,
}

impl LocalRun {
    /// Starts the runtime on the pipeline `yaml(name)` gives, `name` unique per run (it is also
    /// the collection and topic the tests use).
    pub fn start(
        services: &DevServices,
        prefix: &str,
        yaml: impl Fn(&str) -> String,
        options: &Options,
    ) -> Self {
        let name = unique_name(prefix);
        let dir = std::env::temp_dir().join(&name);
        std::fs::create_dir_all(&dir).expect("a run directory");
        let file = dir.join("pipeline.yaml");
        std::fs::write(&file, yaml(&name)).expect("the pipeline file");
        for (path, content) in &options.files {
            let path = dir.join(path);
            std::fs::create_dir_all(path.parent().expect("a file under the run directory"))
                .expect("the file's directory");
            std::fs::write(path, content).expect("a file the pipeline refers to");
        }
        let (http_port, metrics_port) =
            (free_port().expect("a port"), free_port().expect("a port"));
        let stderr = if options.stderr_to_file {
            Stdio::from(std::fs::File::create(dir.join("stderr.log")).expect("stderr.log"))
        } else {
            Stdio::inherit()
        };
        let kafka_bootstrap =
            (options.kafka_bootstrap.as_deref()).unwrap_or(&services.kafka_bootstrap);
        let mongodb_uri = (options.mongodb_uri.as_deref()).unwrap_or(&services.mongodb_uri);
        let path_args = options
            .path_args
            .iter()
            .flat_map(|(flag, path)| [OsString::from(flag), dir.join(path).into_os_string()]);
        let mut child = Command::new(binary("eventflow-operator"))
            .envs(options.env.iter().map(|(key, value)| (key, value)))
            .args(["local", "--json", "-f"])
            .arg(&file)
            .args(["--kafka-bootstrap", kafka_bootstrap])
            .args(["--mongodb-uri", mongodb_uri])
            .args(["--http-port", &http_port.to_string()])
            .args(["--metrics-port", &metrics_port.to_string()])
            .arg("--workload-bin")
            .arg(binary("eventflow"))
            .arg("--run-dir")
            .arg(dir.join("run"))
            .args(path_args)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("eventflow-operator local starts");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        let stdout = child.stdout.take().expect("piped stdout");
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                sink.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(line);
            }
        });
        Self {
            child,
            lines,
            reader: Some(reader),
            seen: 0,
            dir,
            name,
            http_port,
            metrics_port,
        }
    }

    /// The producer's base URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    /// Every stdout line so far, status or not.
    pub fn stdout(&self) -> Vec<String> {
        self.lines
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Every status printed so far.
    pub fn statuses(&self) -> Vec<Value> {
        self.stdout()
            .iter()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect()
    }

    /// The latest status, or null before the first.
    pub fn latest(&self) -> Value {
        self.statuses().pop().unwrap_or_default()
    }

    /// The first status after the last one this returned that satisfies `condition`, within
    /// `limit`; fails naming `what` and the last status, or the runtime's exit.
    pub async fn wait_for(
        &mut self,
        what: &str,
        limit: Duration,
        condition: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + limit;
        loop {
            let lines = self.stdout();
            for (index, line) in lines.iter().enumerate().skip(self.seen) {
                self.seen = index + 1;
                if let Ok(status) = serde_json::from_str::<Value>(line)
                    && condition(&status)
                {
                    return status;
                }
            }
            if let Some(exit) = self.child.try_wait().expect("the runtime's state") {
                panic!(
                    "{what} not seen: the local runtime exited with {exit}{}",
                    self.stderr_tail()
                );
            }
            assert!(
                Instant::now() < deadline,
                "{what} not seen within {limit:?}; last status: {}{}",
                self.latest(),
                self.stderr_tail()
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// The end of `stderr.log`, when stderr goes there (else the test's stderr shows it).
    fn stderr_tail(&self) -> String {
        let Ok(text) = std::fs::read_to_string(self.dir.join("stderr.log")) else {
            return String::new();
        };
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(20)..].join("\n");
        format!("\nthe runtime's stderr ends:\n{tail}")
    }

    /// SIGTERM; the runtime must exit 0 having stopped every child, within `STOP_LIMIT`. Returns
    /// every output it left, as (name, text): its stdout lines as "status lines", then each
    /// process's log under `run/` and `stderr.log`.
    pub async fn stop(mut self) -> Vec<(String, String)> {
        let pid = Pid::from_raw(i32::try_from(self.child.id()).expect("a pid"));
        kill(pid, Signal::SIGTERM).expect("SIGTERM reaches the runtime");
        let deadline = Instant::now() + STOP_LIMIT;
        let exit = loop {
            if let Some(exit) = self.child.try_wait().expect("the runtime's state") {
                break exit;
            }
            assert!(
                Instant::now() < deadline,
                "the local runtime did not exit within {STOP_LIMIT:?} of SIGTERM"
            );
            tokio::time::sleep(POLL).await;
        };
        assert!(exit.success(), "the local runtime exited with {exit}");
        if let Some(reader) = self.reader.take() {
            reader.join().expect("the stdout reader ends");
        }
        let mut outputs = vec![("status lines".to_owned(), self.stdout().join("\n"))];
        for path in self.output_files() {
            let bytes = std::fs::read(&path).expect("an output file");
            outputs.push((
                path.display().to_string(),
                String::from_utf8_lossy(&bytes).into_owned(),
            ));
        }
        outputs
    }

    /// Every file the run wrote under `run/` (the processes' logs), and `stderr.log`.
    fn output_files(&self) -> Vec<PathBuf> {
        let mut found = files(&self.dir.join("run"));
        let stderr = self.dir.join("stderr.log");
        if stderr.is_file() {
            found.push(stderr);
        }
        found
    }
}

impl Drop for LocalRun {
    /// A failing test still leaves no process behind: SIGTERM lets the runtime stop its children
    /// (a SIGKILL would orphan them). A failing test's files stay, for its logs.
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = kill(
                Pid::from_raw(i32::try_from(self.child.id()).unwrap_or(0)),
                Signal::SIGTERM,
            );
            let _ = self.child.wait();
        }
        if std::thread::panicking() {
            eprintln!("the local run's files are kept in {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Every file under `dir`, recursively.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files(&path));
        } else {
            found.push(path);
        }
    }
    found
}
