//! The local run: topic, producer, consumers and the scaling loop, until SIGTERM/SIGINT.

use std::{
    net::{Ipv4Addr, SocketAddr},
    path::Path,
    sync::Arc,
    time::Duration,
};

use chrono::Utc;
use eventflow_contract::{self as contract, admin};
use prometheus::Registry;
use tokio_util::sync::CancellationToken;

use super::{
    args::LocalArgs,
    assignment::{self, Assignment},
    consumers::ConsumerPool,
    figures::WorkloadFigures,
    scrape::Scrape,
    setup::{self, Endpoints},
    status::LocalStatus,
    supervisor::{ChildSpec, Supervised},
    workload_env::{LocalResources, Ports, local_env},
};
use crate::{
    Error, Result,
    crd::EventPipeline,
    kafka::{
        KafkaAdmin,
        lag::{LagReader, LagTarget},
    },
    resources::{env::env, meta::Component},
    scaling::{self, Decision, History, Input, LagSample, Policy, ScalingMetrics},
};

/// How long the producer may take to drain in-flight requests and flush.
const PRODUCER_GRACE: Duration = Duration::from_secs(15);
/// Longest wait for the producer's readiness answer.
const READY_PROBE_TIMEOUT: Duration = Duration::from_secs(1);
/// Status refresh when autoscaling is off (no poll interval to follow).
const STATUS_INTERVAL: Duration = Duration::from_secs(2);

/// Describes consumer `i`.
type SpecFn = Box<dyn Fn(usize) -> ChildSpec + Send>;

/// A running local pipeline.
struct Runtime {
    pipeline: EventPipeline,
    label: String,
    partitions: u32,
    producer: Supervised,
    /// The producer's admin port: `/readyz` probed and `/metrics` scraped on every status tick.
    producer_admin: u16,
    /// The previous scrape of the workloads' `/metrics`, for rates.
    last_scrape: Option<(std::time::Instant, Scrape)>,
    /// Who held the partitions at the last scrape.
    assignment: Assignment,
    /// The latest decision's cap and rule.
    last_decision: Option<(Option<u32>, &'static str)>,
    http: reqwest::Client,
    producer_url: String,
    consumers: ConsumerPool<SpecFn>,
    reader: LagReader,
    /// The connection's one client, for the lag measurements.
    kafka: Arc<KafkaAdmin>,
    target: LagTarget,
    policy: Option<Policy>,
    history: History,
    desired: Option<u32>,
    metrics: ScalingMetrics,
    json: bool,
}

/// Starts the pipeline and runs it until `shutdown`; children are stopped before it returns.
pub async fn run(
    args: &LocalArgs,
    pipeline: EventPipeline,
    endpoints: &Endpoints,
    run_dir: &Path,
    shutdown: CancellationToken,
) -> Result<()> {
    let connection = setup::connection(args, endpoints)?;
    // The run's one Kafka client: topic set-up, then every lag measurement.
    let kafka = Arc::new(KafkaAdmin::connect(&connection, setup::ADMIN_TIMEOUT)?);
    let partitions = setup::ensure_topics(&kafka, &pipeline, &shutdown).await?;
    let registry = Registry::new();
    let metrics = ScalingMetrics::register(&registry)?;
    let readiness = admin::Readiness::new("starting");
    let metrics_addr = SocketAddr::from((Ipv4Addr::LOCALHOST, args.metrics_port));
    let server = admin::serve(metrics_addr, registry, readiness.clone(), shutdown.clone()).await?;
    let local = setup::local_resources(args, &pipeline, endpoints, run_dir)?;
    let mut runtime = Runtime::start(args, pipeline, kafka, &local, run_dir, partitions, metrics)?;
    readiness.set_ready();
    runtime.print_banner(args, run_dir);
    runtime.run(shutdown).await;
    runtime.stop().await;
    let _ = server.await;
    Ok(())
}

impl Runtime {
    fn start(
        args: &LocalArgs,
        pipeline: EventPipeline,
        kafka: Arc<KafkaAdmin>,
        local: &LocalResources,
        run_dir: &Path,
        partitions: u32,
        metrics: ScalingMetrics,
    ) -> Result<Self> {
        let ctx = setup::build_context();
        let factory = Arc::new(setup::ChildFactory {
            program: setup::workload_bin(args)?,
            run_dir: run_dir.to_owned(),
        });
        let producer_admin = setup::free_port()?;
        let producer_env = local_env(
            &env(&pipeline, Component::Producer, &ctx),
            local,
            Ports {
                http: args.http_port,
                admin: producer_admin,
            },
        )?;
        let producer = Supervised::start(
            factory.spec("producer".into(), Component::Producer, producer_env),
            PRODUCER_GRACE,
        );
        // Checked once here (a missing local file is an error now, not a crash loop later);
        // each consumer then only gets its own admin port.
        let consumer_env = local_env(
            &env(&pipeline, Component::Consumer, &ctx),
            local,
            Ports { http: 0, admin: 0 },
        )?;
        let spec_for: SpecFn = Box::new(move |index| {
            let admin_port = setup::free_port().unwrap_or(0).to_string();
            let env = consumer_env
                .iter()
                .map(|(name, value)| match name.as_str() {
                    contract::ADMIN_PORT => (name.clone(), admin_port.clone()),
                    _ => (name.clone(), value.clone()),
                })
                .collect();
            factory.spec(format!("consumer-{index}"), Component::Consumer, env)
        });
        let policy = if pipeline.spec.autoscaling.enabled {
            Some(Policy::from_spec(&pipeline.spec.autoscaling))
        } else {
            None
        };
        let target = LagTarget::of(&pipeline);
        Ok(Self {
            label: pipeline.object_key(),
            producer_url: format!("http://127.0.0.1:{}", args.http_port),
            pipeline,
            partitions,
            producer,
            producer_admin,
            last_scrape: None,
            assignment: Assignment::default(),
            last_decision: None,
            http: reqwest::Client::builder()
                .timeout(READY_PROBE_TIMEOUT)
                .build()
                .map_err(|error| Error::Local(format!("HTTP client: {error}")))?,
            consumers: ConsumerPool::new(spec_for),
            reader: LagReader::default(),
            kafka,
            target,
            policy,
            history: History::default(),
            desired: None,
            metrics,
            json: args.json,
        })
    }

    fn print_banner(&self, args: &LocalArgs, run_dir: &Path) {
        if self.json {
            return;
        }
        println!(
            "eventflow local: pipeline {} (topic {}, {} partitions)",
            self.label, self.target.topic, self.partitions
        );
        println!(
            "  send events:  curl -H 'content-type: application/json' -d '{{\"type\":\"demo\",\"data\":{{}}}}' {}/v1/events",
            self.producer_url
        );
        println!(
            "  query them:   curl {}/v1/events?limit=10",
            self.producer_url
        );
        println!(
            "  metrics:      http://127.0.0.1:{}/metrics   logs: {}",
            args.metrics_port,
            run_dir.display()
        );
    }

    fn initial_replicas(&self) -> u32 {
        let requested = self.pipeline.spec.consumer.replicas;
        self.policy.as_ref().map_or(requested, |policy| {
            policy.initial_replicas(requested, self.partitions)
        })
    }

    /// The operator's lag poll interval (at least a second), or the status interval when
    /// nothing scales.
    fn poll_interval(&self) -> Duration {
        if self.policy.is_none() {
            return STATUS_INTERVAL;
        }
        scaling::poll_interval(&self.pipeline.spec.autoscaling)
    }

    async fn run(&mut self, shutdown: CancellationToken) {
        let initial = self.initial_replicas();
        self.scale(initial).await;
        let mut ticker = tokio::time::interval(self.poll_interval());
        let mut previous: Option<(LocalStatus, LagSample)> = None;
        let mut last_reason = format!("started with {initial} consumer(s)");
        loop {
            tokio::select! {
                _ = ticker.tick() => {},
                () = shutdown.cancelled() => return,
            }
            let measured = self.reader.measure(&self.kafka, &self.target).await;
            let decision = self.decide(&measured);
            self.desired = decision.as_ref().map(|d| d.desired);
            if let Some(decision) = &decision {
                self.last_decision = Some((decision.cap, decision.rule.as_str()));
            }
            if let Some(decision) = &decision
                && decision.desired as usize != self.consumers.len()
            {
                self.scale(decision.desired).await;
                last_reason.clone_from(&decision.reason);
            }
            let (figures, urls) = self.workload_figures().await;
            let mut status = self
                .status(&measured, previous.as_ref().map(|(_, s)| s), &last_reason)
                .await;
            status.workloads = figures;
            status.workload_metrics = urls;
            self.print(&status, previous.as_ref().map(|(s, _)| s));
            if let Ok(sample) = measured {
                previous = Some((status, sample));
            }
        }
    }

    fn decide(
        &mut self,
        measured: &Result<LagSample, crate::kafka::lag::LagError>,
    ) -> Option<Decision> {
        let policy = self.policy.as_ref()?;
        let current = u32::try_from(self.consumers.len()).unwrap_or(u32::MAX);
        let measured = match measured {
            Ok(sample) => Ok(Input {
                sample,
                partitions: self.partitions,
                current_replicas: current,
                ready_replicas: self.assignment.working_consumers.min(current),
            }),
            Err(error) => Err((current, error)),
        };
        Some(scaling::poll(
            policy,
            &mut self.history,
            &self.metrics,
            &self.label,
            measured,
        ))
    }

    async fn scale(&mut self, replicas: u32) {
        self.consumers.scale_to(replicas as usize).await;
        self.metrics.set_replicas(&self.label, replicas);
    }

    async fn status(
        &self,
        measured: &Result<LagSample, crate::kafka::lag::LagError>,
        previous: Option<&LagSample>,
        last_reason: &str,
    ) -> LocalStatus {
        let (lag, error, produced, consumed) = match measured {
            Ok(sample) => {
                let (produced, consumed) =
                    previous.map_or((0.0, 0.0), |before| sample.rates_since(before));
                (i64::try_from(sample.total).ok(), None, produced, consumed)
            }
            Err(error) => (None, Some(error.to_string()), 0.0, 0.0),
        };
        let lag_trend = match (measured, previous) {
            (Ok(after), Some(before)) => Some(after.lag_trend_since(before)),
            _ => None,
        };
        let consumer_pids = self.consumers.pids();
        let consumers = u32::try_from(consumer_pids.len()).unwrap_or(u32::MAX);
        LocalStatus {
            pipeline: self.label.clone(),
            topic: self.target.topic.clone(),
            partitions: i32::try_from(self.partitions).unwrap_or(i32::MAX),
            producer_url: self.producer_url.clone(),
            producer_ready: self.producer_ready().await,
            consumers,
            consumer_pids,
            assignment: self.assignment,
            desired_consumers: self
                .desired
                .unwrap_or_else(|| u32::try_from(self.consumers.len()).unwrap_or(u32::MAX)),
            max_consumers: self.last_decision.and_then(|(cap, _)| cap),
            scaling_rule: self.last_decision.map(|(_, rule)| rule.to_owned()),
            lag,
            lag_trend_per_second: lag_trend,
            produced_per_second: produced,
            consumed_per_second: consumed,
            last_scale_reason: last_reason.to_owned(),
            measurement_error: error,
            workloads: WorkloadFigures::default(),
            workload_metrics: Vec::new(),
            at: Utc::now(),
        }
    }

    fn admin_url(port: u16, path: &str) -> String {
        format!("http://127.0.0.1:{port}{path}")
    }

    async fn producer_ready(&self) -> bool {
        self.http
            .get(Self::admin_url(self.producer_admin, "/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
    }

    /// Scrapes the producer's and the consumers' `/metrics` (a process that does not answer
    /// counts as not ready and adds nothing) and computes the dashboard's figures since the
    /// previous scrape; also the scraped URLs.
    async fn workload_figures(&mut self) -> (WorkloadFigures, Vec<String>) {
        let mut ports = vec![self.producer_admin];
        ports.extend(self.consumers.admin_ports());
        let urls: Vec<String> = ports
            .into_iter()
            .map(|port| Self::admin_url(port, "/metrics"))
            .collect();
        let http = &self.http;
        let scrapes = urls.iter().map(|url| async move {
            match http.get(url).send().await {
                Ok(response) => response.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            }
        });
        let texts = futures::future::join_all(scrapes).await;
        let now = std::time::Instant::now();
        let scrape = Scrape::of(texts.iter().map(String::as_str));
        let figures = match &self.last_scrape {
            Some((at, before)) => {
                WorkloadFigures::between(before, &scrape, now.duration_since(*at).as_secs_f64())
            }
            None => WorkloadFigures::between(&scrape, &scrape, 0.0),
        };
        self.last_scrape = Some((now, scrape));
        self.assignment = assignment::of(texts.iter().skip(1).map(String::as_str), self.partitions);
        (figures, urls)
    }

    fn print(&self, status: &LocalStatus, previous: Option<&LocalStatus>) {
        if self.json {
            println!("{}", status.json());
        } else if previous.is_none_or(|before| status.differs_from(before)) {
            println!("{}", status.line());
        }
    }

    async fn stop(self) {
        let mut consumers = self.consumers;
        consumers.scale_to(0).await;
        self.producer.stop().await;
        self.kafka.close();
    }
}
