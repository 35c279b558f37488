//! What the scale benchmark reads: the operator process (`/proc`: RSS, CPU, threads, sockets),
//! its `/metrics`, and the API server's audit log.

use std::{
    collections::{BTreeMap, BTreeSet, HashSet},
    io::{BufRead, BufReader, Seek, SeekFrom},
    path::PathBuf,
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result, bail};
use eventflow_operator::local::scrape::{Scrape, quantile};

/// Kernel clock ticks per second of `/proc/PID/stat` CPU times (`getconf CLK_TCK`, 100 on Linux).
const CLOCK_TICKS: f64 = 100.0;

/// One reading of the operator process, plus the peak RSS seen so far.
#[derive(Debug, Clone, Copy)]
pub struct Snapshot {
    at: Instant,
    cpu_ticks: u64,
    pub rss_kib: u64,
    pub peak_rss_kib: u64,
    pub threads: u64,
}

impl Snapshot {
    /// CPU used between `earlier` and this reading, in percent of one core.
    #[expect(clippy::cast_precision_loss, reason = "tick counts are small")]
    pub fn cpu_percent_since(&self, earlier: &Self) -> f64 {
        let seconds = self.at.duration_since(earlier.at).as_secs_f64();
        let ticks = self.cpu_ticks.saturating_sub(earlier.cpu_ticks) as f64;
        if seconds <= 0.0 {
            return 0.0;
        }
        100.0 * ticks / CLOCK_TICKS / seconds
    }
}

/// Reads the operator's RSS and CPU every 250 ms in a thread, keeping the peak.
pub struct Sampler {
    latest: Arc<Mutex<Snapshot>>,
}

impl Sampler {
    /// Starts sampling `pid` (the sampling thread ends with the process).
    pub fn start(pid: u32) -> Self {
        let none = Snapshot {
            at: Instant::now(),
            cpu_ticks: 0,
            rss_kib: 0,
            peak_rss_kib: 0,
            threads: 0,
        };
        let first = read(pid, none).unwrap_or(none);
        let latest = Arc::new(Mutex::new(first));
        let shared = Arc::clone(&latest);
        std::thread::spawn(move || {
            loop {
                let previous = *shared.lock().unwrap_or_else(PoisonError::into_inner);
                let Some(next) = read(pid, previous) else {
                    break;
                };
                *shared.lock().unwrap_or_else(PoisonError::into_inner) = next;
                std::thread::sleep(Duration::from_millis(250));
            }
        });
        Self { latest }
    }

    /// The latest reading (with the peak RSS so far).
    pub fn snapshot(&self) -> Snapshot {
        let mut snapshot = *self.latest.lock().unwrap_or_else(PoisonError::into_inner);
        snapshot.at = Instant::now();
        snapshot
    }
}

fn read(pid: u32, previous: Snapshot) -> Option<Snapshot> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<u64> {
        let line = status.lines().find_map(|l| l.strip_prefix(name))?;
        line.trim().trim_end_matches("kB").trim().parse().ok()
    };
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces): utime and stime are 14th and 15th.
    let rest: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = |i: usize| rest.get(i).and_then(|v| v.parse::<u64>().ok());
    let rss = field("VmRSS:")?;
    Some(Snapshot {
        at: Instant::now(),
        cpu_ticks: ticks(11)? + ticks(12)?,
        rss_kib: rss,
        peak_rss_kib: previous
            .peak_rss_kib
            .max(rss)
            .max(field("VmHWM:").unwrap_or(0)),
        threads: field("Threads:").unwrap_or(0),
    })
}

/// KiB as MiB.
#[expect(clippy::cast_precision_loss, reason = "memory sizes are small")]
pub fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Established TCP connections of `pid` to the broker at `bootstrap` (`host:port`).
pub fn kafka_connections(pid: u32, bootstrap: &str) -> Result<usize> {
    let port: u16 = bootstrap
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .with_context(|| format!("no port in {bootstrap}"))?;
    let mut sockets = HashSet::new();
    for entry in std::fs::read_dir(format!("/proc/{pid}/fd"))? {
        let target = std::fs::read_link(entry?.path()).unwrap_or_default();
        let target = target.to_string_lossy();
        if let Some(inode) = target
            .strip_prefix("socket:[")
            .and_then(|t| t.strip_suffix(']'))
        {
            sockets.insert(inode.to_owned());
        }
    }
    let mut count = 0;
    for table in ["tcp", "tcp6"] {
        let text = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")).unwrap_or_default();
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (Some(remote), Some(state), Some(inode)) =
                (fields.get(2), fields.get(3), fields.get(9))
            else {
                continue;
            };
            let remote_port = remote
                .rsplit_once(':')
                .and_then(|(_, p)| u16::from_str_radix(p, 16).ok());
            if remote_port == Some(port) && *state == "01" && sockets.contains(*inode) {
                count += 1;
            }
        }
    }
    Ok(count)
}

/// The operator's `/metrics` text.
pub async fn scrape(url: &str) -> Result<String> {
    Ok(reqwest::get(url).await?.error_for_status()?.text().await?)
}

/// The sum of metric `name`'s samples whose labels contain `labels`.
pub fn metric(text: &str, name: &str, labels: &str) -> f64 {
    eventflow_workloads::testkit::metric_sum(text, name, labels)
}

/// The lag-poll delay histogram between two scrapes ("" for the process start): p50, p99 and
/// the largest bucket reached, as `histogram_quantile` interpolates them.
pub fn delay_quantiles(before: &str, after: &str) -> String {
    let buckets = |text: &str| Scrape::of([text]).buckets("eventflow_lag_poll_delay_seconds", &[]);
    let (start, end) = (buckets(before), buckets(after));
    let counts: Vec<(f64, f64)> = end
        .iter()
        .map(|&(le, n)| {
            let earlier = start
                .iter()
                .find(|(l, _)| l.to_bits() == le.to_bits())
                .map_or(0.0, |(_, n)| *n);
            (le, n - earlier)
        })
        .collect();
    let total = counts.last().map_or(0.0, |(_, n)| *n);
    if total <= 0.0 {
        return "no polls".to_owned();
    }
    let percentile = |q: f64| quantile(q, &start, &end).unwrap_or(f64::NAN);
    let max = counts
        .iter()
        .find(|(_, n)| *n >= total)
        .map_or(f64::INFINITY, |(le, _)| *le);
    format!(
        "{total:.0} polls, p50 {:.3} s, p99 {:.3} s, max <= {max} s (histogram bucket)",
        percentile(0.5),
        percentile(0.99)
    )
}

/// The API server's audit log (`EVENTFLOW_CLUSTER_DIR/audit.log`).
pub struct Audit {
    path: PathBuf,
}

/// Requests of one user in the audit log.
#[derive(Debug, Default)]
pub struct Requests {
    pub reads: u64,
    pub writes: u64,
    /// `verb resource[/subresource]` -> count.
    pub by_kind: BTreeMap<String, u64>,
    pub user_agents: BTreeSet<String>,
}

impl Audit {
    /// The dev cluster's audit log, or why there is none.
    pub fn from_env() -> Result<Self> {
        let dir = std::env::var("EVENTFLOW_CLUSTER_DIR")
            .context("EVENTFLOW_CLUSTER_DIR is not set (scripts/dev-cluster.sh env)")?;
        let path = PathBuf::from(dir).join("audit.log");
        if !path.exists() {
            bail!(
                "{} does not exist: start the dev cluster with EVENTFLOW_CLUSTER_AUDIT=1",
                path.display()
            );
        }
        Ok(Self { path })
    }

    /// The current end of the log.
    pub fn position(&self) -> Result<u64> {
        Ok(std::fs::metadata(&self.path)?.len())
    }

    /// The completed requests of `user` logged after `position`.
    pub fn count_since(&self, position: u64, user: &str) -> Result<Requests> {
        let mut file = std::fs::File::open(&self.path)?;
        file.seek(SeekFrom::Start(position))?;
        let mut requests = Requests::default();
        for line in BufReader::new(file).lines() {
            let Ok(event) = serde_json::from_str::<serde_json::Value>(&line?) else {
                continue; // a line still being written
            };
            if event["user"]["username"] != user || event["stage"] != "ResponseComplete" {
                continue;
            }
            let verb = event["verb"].as_str().unwrap_or_default();
            let object = &event["objectRef"];
            let mut resource = object["resource"].as_str().unwrap_or_default().to_owned();
            if let Some(sub) = object["subresource"].as_str() {
                resource = format!("{resource}/{sub}");
            }
            match verb {
                "get" | "list" | "watch" => requests.reads += 1,
                _ => requests.writes += 1,
            }
            *requests
                .by_kind
                .entry(format!("{verb} {resource}"))
                .or_default() += 1;
            if let Some(agent) = event["userAgent"].as_str() {
                requests.user_agents.insert(agent.to_owned());
            }
        }
        Ok(requests)
    }
}
