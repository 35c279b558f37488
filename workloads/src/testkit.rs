//! Helpers for tests that run against the dev services (`scripts/dev-services.sh`).
//!
//! The test command exports the services' addresses;
//! tests take them from here and fail, never skip, when they are missing.

use std::time::{SystemTime, UNIX_EPOCH};

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
    pub fn from_env() -> Result<Self, String> {
        let read = |name: &str| {
            std::env::var(name).map_err(|_| {
                format!(
                    "{name} is not set: integration tests need the dev services; \
                     run them through `make test` (or `eval \"$(scripts/dev-services.sh start)\"`)"
                )
            })
        };
        Ok(Self {
            kafka_bootstrap: read(crate::contract::KAFKA_BOOTSTRAP)?,
            mongodb_uri: read(crate::contract::MONGODB_URI)?,
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
    // Underscores only: the MongoDB stand-in accepts collection names of `[A-Za-z0-9_]` only.
    format!("{prefix}_{}_{nanos:x}_{n}", std::process::id()).replace('-', "_")
}

/// Creates `topic` with `partitions` and replication 1 (the dev broker does not auto-create).
pub async fn create_topic(bootstrap: &str, topic: &str, partitions: i32) -> Result<(), String> {
    use rdkafka::{
        ClientConfig,
        admin::{AdminClient, AdminOptions, NewTopic, TopicReplication},
        client::DefaultClientContext,
    };
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .map_err(|e| format!("admin client: {e}"))?;
    let options = AdminOptions::new().operation_timeout(Some(std::time::Duration::from_secs(10)));
    let results = admin
        .create_topics(
            &[NewTopic::new(topic, partitions, TopicReplication::Fixed(1))],
            &options,
        )
        .await
        .map_err(|e| format!("create topic {topic}: {e}"))?;
    for result in results {
        result.map_err(|(name, code)| format!("create topic {name}: {code}"))?;
    }
    Ok(())
}

/// Sum of the samples of metric `name` (exactly that name) in a Prometheus text exposition
/// whose label set contains `labels` (`""`: all of them).
pub fn metric_sum(text: &str, name: &str, labels: &str) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter(|line| {
            let metric = line.split(['{', ' ']).next().unwrap_or_default();
            metric == name && line.contains(labels)
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
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
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}
