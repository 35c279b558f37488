//! Helpers for tests that run against the dev services (`scripts/dev-services.sh`).
//!
//! The test command exports the services' addresses;
//! tests take them from here and fail, never skip, when they are missing.

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::{SystemTime, UNIX_EPOCH},
};

mod secured;

pub use secured::{CaForm, SecuredKafka};

/// Why a test's set-up (dev services, a topic) failed.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// An address the test command exports is missing.
    #[error(
        "{0} is not set: integration tests need the dev services; \
         run them through `make test` (or `eval \"$(scripts/dev-services.sh start)\"`)"
    )]
    MissingEnv(&'static str),
    /// Kafka refused an admin request.
    #[error("{what}: {source}")]
    Kafka {
        /// What was asked.
        what: String,
        /// Kafka's error.
        source: rdkafka::error::KafkaError,
    },
    /// Kafka refused to create the topic.
    #[error("create topic {topic}: {code}")]
    TopicRefused {
        /// The topic.
        topic: String,
        /// Kafka's error code.
        code: rdkafka::types::RDKafkaErrorCode,
    },
    /// A file or process of the dev services could not be read or run.
    #[error("{what}: {source}")]
    Io {
        /// The file or command.
        what: String,
        /// The error.
        source: std::io::Error,
    },
    /// `dev-services.sh` failed or printed something unexpected.
    #[error("dev-services.sh {0}")]
    Script(String),
    /// A killed service still accepts connections.
    #[error("{service} still accepts connections on {address} after SIGKILL")]
    StillListening {
        /// The service.
        service: &'static str,
        /// Its address.
        address: String,
    },
}

fn io(what: impl std::fmt::Display) -> impl FnOnce(std::io::Error) -> SetupError {
    move |source| SetupError::Io {
        what: what.to_string(),
        source,
    }
}

/// Addresses of the running dev services.
#[derive(Debug, Clone)]
pub struct DevServices {
    /// Kafka bootstrap servers.
    pub kafka_bootstrap: String,
    /// MongoDB connection string.
    pub mongodb_uri: String,
}

impl DevServices {
    /// The addresses from the environment, or an error that says how to get them.
    pub fn from_env() -> Result<Self, SetupError> {
        let read =
            |name: &'static str| std::env::var(name).map_err(|_| SetupError::MissingEnv(name));
        Ok(Self {
            kafka_bootstrap: read(eventflow_contract::KAFKA_BOOTSTRAP)?,
            mongodb_uri: read(eventflow_contract::MONGODB_URI)?,
        })
    }
}

/// A name unique to this process and call, for topics, groups and collections of one test.
pub fn unique_name(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{}-{nanos:x}-{n}", std::process::id())
}

/// Creates `topic` with `partitions` and replication 1 (the dev broker does not auto-create).
pub async fn create_topic(bootstrap: &str, topic: &str, partitions: i32) -> Result<(), SetupError> {
    use rdkafka::{
        ClientConfig,
        admin::{AdminClient, AdminOptions, NewTopic, TopicReplication},
        client::DefaultClientContext,
    };
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .map_err(|source| SetupError::Kafka {
            what: "admin client".to_owned(),
            source,
        })?;
    let options = AdminOptions::new().operation_timeout(Some(std::time::Duration::from_secs(10)));
    let results = admin
        .create_topics(
            &[NewTopic::new(topic, partitions, TopicReplication::Fixed(1))],
            &options,
        )
        .await
        .map_err(|source| SetupError::Kafka {
            what: format!("create topic {topic}"),
            source,
        })?;
    for result in results {
        result.map_err(|(topic, code)| SetupError::TopicRefused { topic, code })?;
    }
    Ok(())
}

/// Sum of the samples of metric `name` (exactly that name) in a Prometheus text exposition
/// whose labels, written `a="x",b="y"` in name order, contain `labels` (`""`: all of them).
pub fn metric_sum(text: &str, name: &str, labels: &str) -> f64 {
    eventflow_contract::exposition::parse(text)
        .into_iter()
        .filter(|sample| sample.name == name)
        .filter(|sample| {
            let written: Vec<String> = sample
                .labels
                .iter()
                .map(|(label, value)| format!("{label}=\"{value}\""))
                .collect();
            written.join(",").contains(labels)
        })
        .map(|sample| sample.value)
        .sum()
}

/// The median of `values` (the upper one of an even count; NaN when empty), for benchmarks that
/// repeat a noisy measurement.
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

/// A loopback port free at the time of the call, for a server a test or benchmark starts.
pub fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Peak resident memory (`VmHWM`, KiB) of a process: a PID, or `self`.
pub fn peak_rss_kib(pid: &str) -> Option<u64> {
    status_kib(pid, "VmHWM:")
}

/// Resident memory now (`VmRSS`, KiB) of a process: a PID, or `self`.
pub fn rss_kib(pid: &str) -> Option<u64> {
    status_kib(pid, "VmRSS:")
}

fn status_kib(pid: &str, field: &str) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|line| line.strip_prefix(field))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// The run directory `scripts/dev-services.sh env` names (PID and port files of each service).
pub const DEV_SERVICES_DIR: &str = "EVENTFLOW_DEV_SERVICES_DIR";

/// User + system CPU seconds of a process (clock ticks of 1/100 s).
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let user: u64 = fields.get(11)?.parse().ok()?;
    let system: u64 = fields.get(12)?.parse().ok()?;
    Some((user + system) as f64 / 100.0)
}

/// Busy CPU seconds of the whole machine so far, summed over its cores, and how many cores it
/// has (`/proc/stat`, clock ticks of 1/100 s). Busy is user, nice, system, irq, softirq and steal
/// (time the hypervisor gave to others: not ours to use either); guest time is inside user.
pub fn machine_cpu() -> Option<(f64, usize)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let mut lines = stat.lines();
    let ticks: Vec<u64> = lines
        .next()?
        .strip_prefix("cpu ")?
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    let [user, nice, system, _idle, _iowait, irq, softirq, steal, ..] = ticks[..] else {
        return None;
    };
    let busy = user + nice + system + irq + softirq + steal;
    let cores = lines
        .filter(|line| {
            line.starts_with("cpu") && line.as_bytes().get(3).is_some_and(u8::is_ascii_digit)
        })
        .count();
    Some((busy as f64 / 100.0, cores))
}

/// CPU seconds so far of a dev service of `make bench` / `make test`, from its run directory.
pub fn service_cpu(service: Service) -> Option<f64> {
    let dir = std::env::var(DEV_SERVICES_DIR).ok()?;
    let pid = std::fs::read_to_string(format!("{dir}/{}.pid", service.name())).ok()?;
    cpu_seconds(pid.trim().parse().ok()?)
}

/// A dev service of `scripts/dev-services.sh`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// The Kafka broker.
    Kafka,
    /// The MongoDB-wire server.
    MongoDb,
}

impl Service {
    /// The script's name of the service.
    pub fn name(self) -> &'static str {
        match self {
            Self::Kafka => "kafka",
            Self::MongoDb => "mongodb",
        }
    }
}

/// A private set of dev services in a run directory of its own, for fault tests that kill,
/// pause and restart a server under running clients without disturbing other tests. Stopped
/// (processes and data) when dropped.
#[derive(Debug)]
pub struct PrivateServices {
    /// Their addresses.
    pub addresses: DevServices,
    run_dir: PathBuf,
}

impl PrivateServices {
    /// Starts Kafka and MongoDB on free ports (installed already by the test command).
    pub fn start() -> Result<Self, SetupError> {
        let run_dir = std::env::temp_dir().join(unique_name("eventflow-services"));
        let output = script(&run_dir, &["start"])?;
        let value = |name: &str| {
            output
                .lines()
                .find_map(|line| line.strip_prefix(&format!("export {name}=")))
                .map(str::to_owned)
                .ok_or_else(|| SetupError::Script(format!("start printed no {name}: {output}")))
        };
        let addresses = DevServices {
            kafka_bootstrap: value(eventflow_contract::KAFKA_BOOTSTRAP)?,
            mongodb_uri: value(eventflow_contract::MONGODB_URI)?,
        };
        Ok(Self { addresses, run_dir })
    }

    /// The PID of the service's process.
    pub fn pid(&self, service: Service) -> Result<u32, SetupError> {
        let file = self.run_dir.join(format!("{}.pid", service.name()));
        let text = std::fs::read_to_string(&file).map_err(io(file.display()))?;
        text.trim().parse().map_err(|e| SetupError::Io {
            what: file.display().to_string(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
        })
    }

    /// Sends `signal` (`KILL`, `STOP`, `CONT`, `TERM`) to the service's process.
    pub fn signal(&self, service: Service, signal: &str) -> Result<(), SetupError> {
        let pid = self.pid(service)?.to_string();
        let command = format!("kill -{signal} {pid} ({})", service.name());
        let status = Command::new("kill")
            .args([format!("-{signal}"), pid])
            .status()
            .map_err(io(&command))?;
        status
            .success()
            .then_some(())
            .ok_or_else(|| SetupError::Io {
                what: command,
                source: std::io::Error::other(status.to_string()),
            })
    }

    /// SIGKILLs the service and waits until its port refuses connections, so a fault test
    /// knows the outage is real.
    pub fn kill(&self, service: Service) -> Result<(), SetupError> {
        self.signal(service, "KILL")?;
        let file = self.run_dir.join(format!("{}.port", service.name()));
        let port = std::fs::read_to_string(&file).map_err(io(file.display()))?;
        let address = format!("127.0.0.1:{}", port.trim());
        for _ in 0..100 {
            if std::net::TcpStream::connect(&address).is_err() {
                return Ok(());
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Err(SetupError::StillListening {
            service: service.name(),
            address,
        })
    }

    /// Starts a service that was killed again, on its port with its data, and waits until it
    /// answers (`dev-services.sh start`).
    pub fn revive(&self) -> Result<(), SetupError> {
        script(&self.run_dir, &["start"]).map(drop)
    }
}

impl Drop for PrivateServices {
    fn drop(&mut self) {
        drop(script(&self.run_dir, &["stop"]));
        drop(std::fs::remove_dir_all(&self.run_dir));
    }
}

/// Runs `scripts/dev-services.sh` on a run directory; its standard output, or its whole output
/// as the error.
fn script(run_dir: &Path, args: &[&str]) -> Result<String, SetupError> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/dev-services.sh");
    let output = Command::new(&path)
        .args(args)
        .env("EVENTFLOW_RUN_DIR", run_dir)
        .output()
        .map_err(io(path.display()))?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if output.status.success() {
        Ok(stdout)
    } else {
        let stderr = String::from_utf8_lossy(&output.stderr);
        Err(SetupError::Script(format!(
            "{args:?} failed: {stdout}{stderr}"
        )))
    }
}
