//! Consumer group recovery on the real broker (`make bench`, `--bench recovery`).
//!
//! Per group configuration (protocol, assignment, session timeout, static membership): two
//! consumers of a 4-partition topic under a steady raw ingest; a consumer is killed (SIGKILL) and
//! restarted with the same name after a delay (as a pod's container is), then the group is
//! rolled like a Deployment (a new member started, then the old one stopped with SIGTERM, one at a time).
//! Printed per kill: the longest stretch during which some partition had no live owner (an
//! upper bound of any one partition's), how long a live consumer held nothing, when the lag
//! falls again and when it is back, and the events/s lost meanwhile; per roll: the longest
//! stretch with a partition unowned (goal: at most 2 s; per kill at most 10 s).
//!
//! `EVENTFLOW_RECOVERY_CONFIGS` (comma separated names, default all),
//! `EVENTFLOW_RECOVERY_KILLS` (default 2) and `EVENTFLOW_RECOVERY_INGEST` (events/s, default
//! 500) select what runs.

mod members;
mod report;
mod watch;

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Result, bail};
use eventflow_workloads::testkit::{DevServices, create_topic, unique_name};
use rdkafka::{
    ClientConfig,
    producer::{FutureProducer, FutureRecord},
};
use tokio_util::sync::CancellationToken;

use self::{
    members::{BATCH, Config, Group, Member},
    report::Window,
    watch::{Sample, Watch},
};

const PARTITIONS: i32 = 4;
const CONSUMERS: usize = 2;
/// Ingested events per second unless `EVENTFLOW_RECOVERY_INGEST` says otherwise: well under
/// what two consumers write, so the lag before a disturbance is small.
const DEFAULT_INGEST_PER_SECOND: u64 = 500;
/// How long a killed consumer stays down before it is started again (a container restart).
const RESTART_DELAY: Duration = Duration::from_secs(1);
/// Longest wait for a group to settle after a disturbance.
const SETTLE_LIMIT: Duration = Duration::from_secs(120);
/// How long a settled group must stay settled.
const SETTLED_FOR: Duration = Duration::from_secs(3);

const CONFIGS: [Config; 6] = [
    Config {
        name: "classic-eager-45s",
        protocol: "classic",
        session: "45s",
        static_members: false,
        properties: "partition.assignment.strategy=range,roundrobin\nheartbeat.interval.ms=3000\n",
    },
    Config {
        name: "classic-cooperative-6s",
        protocol: "classic",
        session: "6s",
        static_members: false,
        properties: "",
    },
    Config {
        name: "classic-cooperative-6s-heartbeat-2s",
        protocol: "classic",
        session: "6s",
        static_members: false,
        properties: "heartbeat.interval.ms=2000\n",
    },
    Config {
        name: "classic-cooperative-6s-static",
        protocol: "classic",
        session: "6s",
        static_members: true,
        properties: "",
    },
    Config {
        name: "consumer",
        protocol: "consumer",
        session: "6s",
        static_members: false,
        properties: "",
    },
    Config {
        name: "consumer-static",
        protocol: "consumer",
        session: "6s",
        static_members: true,
        properties: "",
    },
];

/// The ingest rate of this run.
fn ingest_per_second() -> u64 {
    static RATE: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *RATE.get_or_init(|| {
        std::env::var("EVENTFLOW_RECOVERY_INGEST")
            .ok()
            .and_then(|rate| rate.parse().ok())
            .unwrap_or(DEFAULT_INGEST_PER_SECOND)
    })
}

#[tokio::main]
async fn main() -> Result<()> {
    let services = DevServices::from_env()?;
    let kills: usize = std::env::var("EVENTFLOW_RECOVERY_KILLS").map_or(Ok(2), |k| k.parse())?;
    let chosen = std::env::var("EVENTFLOW_RECOVERY_CONFIGS").unwrap_or_default();
    println!(
        "recovery: {PARTITIONS} partitions, {CONSUMERS} consumers, ingest {} events/s \
         (raw produce), batch {BATCH} / 1 s, a killed consumer restarted after {RESTART_DELAY:?}, \
         ownership sampled every {:?} from each consumer's /metrics; {}",
        ingest_per_second(),
        watch::SAMPLE_EVERY,
        report::machine()
    );
    for config in CONFIGS {
        if chosen.is_empty() || chosen.split(',').any(|c| c == config.name) {
            run(&services, config, kills).await?;
        }
    }
    Ok(())
}

/// One configuration: warm-up, `kills` kills and restarts, one rolling restart.
async fn run(services: &DevServices, config: Config, kills: usize) -> Result<()> {
    println!(
        "recovery/{}: group.protocol={}, session {}{}{}",
        config.name,
        config.protocol,
        if config.protocol == "consumer" {
            "45 s (the broker's default)"
        } else {
            config.session
        },
        if config.static_members {
            ", static members (group.instance.id = the member's name)"
        } else {
            ""
        },
        if config.properties.is_empty() {
            String::new()
        } else {
            format!(", properties {:?}", config.properties)
        },
    );
    let topic = unique_name("bench_recovery");
    create_topic(&services.kafka_bootstrap, &topic, PARTITIONS)
        .await
        .map_err(anyhow::Error::msg)?;
    let dir = std::env::temp_dir().join(&topic);
    std::fs::create_dir_all(&dir)?;
    let group = Group {
        services: services.clone(),
        topic: topic.clone(),
        config,
        dir,
    };
    let produced = Arc::new(AtomicU64::new(0));
    let stop = CancellationToken::new();
    tokio::spawn(ingest(
        services.kafka_bootstrap.clone(),
        topic.clone(),
        Arc::clone(&produced),
        stop.clone(),
    ));
    let watch = Watch::start(&services.kafka_bootstrap, &topic, PARTITIONS, produced)?;
    let mut members: Vec<Member> = (0..CONSUMERS)
        .map(|i| group.start(&format!("{topic}-a{i}")))
        .collect::<Result<_>>()?;
    watch.set_live(&members.iter().collect::<Vec<_>>());
    let outcome = async {
        settle(&watch, Instant::now(), i64::MAX).await?;
        for kill in 0..kills {
            members = kill_and_restart(&group, &watch, members, kill).await?;
        }
        roll(&group, &watch, members).await
    }
    .await;
    stop.cancel();
    watch.stop();
    if outcome.is_err() {
        println!(
            "recovery/{}: consumer logs in {}",
            config.name,
            group.logs().display()
        );
    }
    outcome
}

async fn kill_and_restart(
    group: &Group,
    watch: &Watch,
    mut members: Vec<Member>,
    kill: usize,
) -> Result<Vec<Member>> {
    let victim = members.remove(kill % members.len());
    let name = victim.name.clone();
    let start = Instant::now();
    watch.set_live(&members.iter().collect::<Vec<_>>());
    victim.kill()?;
    tokio::time::sleep(RESTART_DELAY).await;
    members.push(group.start(&name)?);
    watch.set_live(&members.iter().collect::<Vec<_>>());
    let before = last_lag(watch, start);
    let end = settle(watch, start, before + lag_slack()).await?;
    let window = Window::of(&watch.since(start), start, end, before);
    println!(
        "recovery/{}/kill {}: {}",
        group.config.name,
        kill + 1,
        window.describe(ingest_per_second())
    );
    Ok(members)
}

/// A rolling restart like a Deployment's (max surge 1, max unavailable 0).
async fn roll(group: &Group, watch: &Watch, members: Vec<Member>) -> Result<()> {
    let start = Instant::now();
    let before = last_lag(watch, start);
    let mut live: Vec<Member> = Vec::new();
    let mut old = members;
    let mut index = 0;
    while let Some(member) = old.pop() {
        let fresh = group.start(&format!("{}-b{index}", group.topic))?;
        index += 1;
        let mut all: Vec<&Member> = old.iter().chain(live.iter()).collect();
        all.extend([&member, &fresh]);
        watch.set_live(&all);
        wait_ready(&fresh).await?;
        let port = member.port;
        all.retain(|m| m.port != port);
        watch.set_live(&all);
        member.terminate()?;
        live.push(fresh);
    }
    let end = settle(watch, start, before + lag_slack()).await?;
    let window = Window::of(&watch.since(start), start, end, before);
    println!(
        "recovery/{}/rolling restart: {}",
        group.config.name,
        window.describe(ingest_per_second())
    );
    Ok(())
}

/// Waits until a new member answers `/readyz` (it holds partitions), as a Deployment does.
async fn wait_ready(member: &Member) -> Result<()> {
    let start = Instant::now();
    let client = reqwest::Client::new();
    loop {
        let ready = client
            .get(format!("http://127.0.0.1:{}/readyz", member.port))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if ready {
            return Ok(());
        }
        if start.elapsed() > SETTLE_LIMIT {
            bail!("{} not ready in {SETTLE_LIMIT:?}", member.name);
        }
        tokio::time::sleep(watch::SAMPLE_EVERY).await;
    }
}

/// Lag tolerated above the level before a disturbance: a second of ingest (offsets are
/// committed every second).
fn lag_slack() -> i64 {
    i64::try_from(ingest_per_second()).unwrap_or(i64::MAX)
}

fn last_lag(watch: &Watch, before: Instant) -> i64 {
    let samples = watch.samples.lock().map(|s| s.clone()).unwrap_or_default();
    samples
        .iter()
        .rev()
        .find(|s| s.at < before)
        .map_or(0, |s| s.lag)
}

/// Waits until every partition is owned, every consumer holds one and the lag is at most
/// `lag_limit`, for `SETTLED_FOR`; returns when that began (now, with a note, after
/// `SETTLE_LIMIT`).
async fn settle(watch: &Watch, from: Instant, lag_limit: i64) -> Result<Instant> {
    let settled = |s: &Sample| s.unowned == 0 && s.idle == 0 && s.lag <= lag_limit;
    loop {
        tokio::time::sleep(watch::SAMPLE_EVERY).await;
        let samples = watch.since(from);
        let since = samples
            .iter()
            .rposition(|s| !settled(s))
            .map_or(samples.first(), |i| samples.get(i + 1));
        if let Some(since) = since
            && since.at.elapsed() >= SETTLED_FOR
        {
            return Ok(since.at);
        }
        if from.elapsed() > SETTLE_LIMIT {
            println!(
                "recovery: not settled in {SETTLE_LIMIT:?}: last sample {:?}",
                samples.last()
            );
            return Ok(Instant::now());
        }
    }
}

/// Produces `ingest_per_second()` events per second in 100 ms ticks, counting acknowledgements.
async fn ingest(
    bootstrap: String,
    topic: String,
    acknowledged: Arc<AtomicU64>,
    stop: CancellationToken,
) {
    let Ok(producer) = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("linger.ms", "5")
        .create::<FutureProducer>()
    else {
        return;
    };
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let mut sequence: u64 = 0;
    while !stop.is_cancelled() {
        tick.tick().await;
        for _ in 0..ingest_per_second() / 10 {
            let (producer, counter, topic) =
                (producer.clone(), Arc::clone(&acknowledged), topic.clone());
            let value = report::event_json(sequence);
            sequence += 1;
            tokio::spawn(async move {
                let key = format!("user-{}", sequence % 97);
                let record = FutureRecord::to(&topic).key(&key).payload(&value);
                if producer.send(record, Duration::from_secs(30)).await.is_ok() {
                    counter.fetch_add(1, Ordering::SeqCst);
                }
            });
        }
    }
}
