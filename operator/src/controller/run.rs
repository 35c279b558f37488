//! `eventflow-operator run`: the admin server, leader election and the controller loop.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use eventflow_contract::admin::{self, Readiness};
use futures::StreamExt;
use kube::{
    Api, Client, Resource, ResourceExt,
    runtime::{
        Controller, WatchStreamExt,
        controller::Config,
        reflector::{self, store::Writer},
        utils::ResetTimerBackoff,
        watcher,
        watcher::ExponentialBackoff,
    },
};
use tokio_util::sync::CancellationToken;

use super::{
    Context, Settings, apply::Children, cached::Cached, error_policy, reconcile,
    watch_sync::WatchSync,
};
use crate::{
    Error, Result,
    cli::RunArgs,
    crd::EventPipeline,
    kafka::KafkaAdmins,
    leader::{self, LeaderElector, Leadership, Timings},
    metrics::Metrics,
    resources::{BuildContext, meta::FIELD_MANAGER},
};

/// The controller's watches, each listed once before the leader is ready.
const WATCHES: [&str; 4] = ["eventpipelines", "deployments", "services", "configmaps"];
/// How long one Kafka admin call may take.
const KAFKA_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs the operator until SIGTERM/SIGINT (or until it loses the leader Lease).
pub async fn run(args: RunArgs) -> Result<()> {
    eventflow_contract::logs::init(args.log_format);
    let shutdown = admin::shutdown_on_signal();
    let metrics = Arc::new(Metrics::new()?);
    let readiness = Readiness::new("waiting for the first watch sync");
    let address = SocketAddr::from(([0, 0, 0, 0], args.metrics_port));
    let server = admin::serve(
        address,
        metrics.registry().clone(),
        readiness.clone(),
        shutdown.clone(),
    )
    .await?;
    install_crypto_provider();
    let config = kube::Config::infer()
        .await
        .map_err(|e| Error::Leader(format!("no Kubernetes configuration: {e}")))?;
    let elector = elector(&args, &Client::try_from(config.clone())?);
    let leadership = elector.as_ref().map(|e| e.leadership().clone());
    // The controller's client: while leader election is on, its writes need the Lease.
    let client = match &leadership {
        Some(leadership) => leader::fenced_client(config, leadership)?,
        None => Client::try_from(config)?,
    };
    if let Some(elector) = &elector {
        readiness.set_ready(); // a standby is ready: it is doing its job
        if !elector.acquire(&shutdown).await {
            return finish(server, None).await;
        }
        tracing::info!("became the leader");
        let (elector, stop) = (elector.clone(), shutdown.clone());
        tokio::spawn(async move { elector.keep_renewing(stop).await });
    }
    let lost = leadership
        .as_ref()
        .map_or_else(CancellationToken::new, |l| l.lost().clone());
    let stop = stop_on(&shutdown, &lost);
    run_controller(&args, client, metrics, readiness, stop, leadership).await;
    let outcome = if lost.is_cancelled() {
        Err(Error::Leader("lost the leader lease".to_owned()))
    } else {
        Ok(())
    };
    shutdown.cancel();
    finish(server, elector.as_ref()).await?;
    outcome
}

/// Selects ring as rustls' process-wide crypto provider. Two providers are compiled in (kube's
/// ring and jsonschema's aws-lc-rs), and with two rustls refuses to choose: without this the
/// first TLS connection to the API server panics.
fn install_crypto_provider() {
    // An error only means a provider is installed already, which is as good.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn elector(args: &RunArgs, client: &Client) -> Option<LeaderElector> {
    if !args.leader_election {
        return None;
    }
    let identity = args
        .identity
        .clone()
        .unwrap_or_else(|| format!("{FIELD_MANAGER}-{}", std::process::id()));
    Some(LeaderElector::new(
        client.clone(),
        &args.lease_namespace,
        &args.lease_name,
        &identity,
        Timings::CLIENT_GO,
    ))
}

fn context(args: &RunArgs, client: Client, metrics: Arc<Metrics>) -> Context {
    let build = BuildContext {
        workload_image: args.workload_image.clone(),
        workload_log_format: args.workload_log_format(),
        image_pull_secrets: args.workload_image_pull_secrets(),
    };
    let kafka = KafkaAdmins::new(KAFKA_TIMEOUT);
    let settings = Settings {
        cleanup_attempts: args.cleanup_attempts,
        backoff_base: args.backoff_base,
        topic_policy: args.topic_policy,
        claims_namespace: args.lease_namespace.clone(),
        ..Settings::default()
    };
    Context::new(client, build, kafka, metrics, settings)
}

/// The watch of the operator's children of one kind (by its `managed-by` label), filling the
/// cache behind `writer` (as [`Cached`] text, without managed fields, which the reconciler
/// never reads), reporting its first list to `sync` as `name`, and triggering the owner's
/// reconcile on every change.
fn owned<K>(
    client: &Client,
    namespace: Option<&str>,
    writer: Writer<Cached<K>>,
    (sync, name): (&WatchSync, &'static str),
) -> impl futures::Stream<Item = Result<Cached<K>, watcher::Error>> + Send + 'static
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()> + Send + 'static,
{
    let config =
        watcher::Config::default().labels(&format!("app.kubernetes.io/managed-by={FIELD_MANAGER}"));
    let events = watcher(namespaced::<Cached<K>>(client, namespace), config)
        .backoff(watch_backoff())
        .reflect(writer);
    sync.observe(name, events).touched_objects()
}

/// A token cancelled by the first of `shutdown` and `lost`.
fn stop_on(shutdown: &CancellationToken, lost: &CancellationToken) -> CancellationToken {
    let stop = CancellationToken::new();
    let (a, b, trigger) = (shutdown.clone(), lost.clone(), stop.clone());
    tokio::spawn(async move {
        tokio::select! {
            () = a.cancelled() => {},
            () = b.cancelled() => {},
        }
        trigger.cancel();
    });
    stop
}

async fn run_controller(
    args: &RunArgs,
    client: Client,
    metrics: Arc<Metrics>,
    readiness: Readiness,
    stop: CancellationToken,
    leadership: Option<Leadership>,
) {
    let namespace = args.watched_namespace();
    let sync = WatchSync::new(readiness, &WATCHES);
    let (pipelines, pipelines_writer) = reflector::store();
    let pipeline_events = watcher(
        namespaced::<EventPipeline>(&client, namespace),
        watcher::Config::default().any_semantic(),
    )
    .backoff(watch_backoff())
    .modify(|pipeline| pipeline.managed_fields_mut().clear())
    .reflect(pipelines_writer);
    let pipeline_watch = sync
        .observe("eventpipelines", pipeline_events)
        .applied_objects();
    let (deployments, deployments_writer) = reflector::store();
    let (services, services_writer) = reflector::store();
    let (config_maps, config_maps_writer) = reflector::store();
    let children = Children {
        deployments,
        services,
        config_maps,
    };
    let ctx = Arc::new(context(args, client.clone(), metrics).with_children(children));
    let controller = Controller::for_stream(pipeline_watch, pipelines)
        .with_config(Config::default().concurrency(args.max_concurrent_reconciles))
        .owns_stream(owned(
            &client,
            namespace,
            deployments_writer,
            (&sync, "deployments"),
        ))
        .owns_stream(owned(
            &client,
            namespace,
            services_writer,
            (&sync, "services"),
        ))
        .owns_stream(owned(
            &client,
            namespace,
            config_maps_writer,
            (&sync, "configmaps"),
        ))
        .trigger_backoff(watch_backoff())
        .graceful_shutdown_on(stop.cancelled_owned());
    tracing::info!(
        namespace = namespace.unwrap_or("<all>"),
        "controller starting"
    );
    controller
        .run(
            move |pipeline, ctx| while_leading(pipeline, ctx, leadership.clone()),
            error_policy,
            ctx,
        )
        .for_each(|outcome| async move {
            match outcome {
                Ok((object, _)) => tracing::debug!(pipeline = %object.name, "reconciled"),
                // Reconcile failures are logged by `error_policy`; a failing watch (e.g. the CRD
                // is not installed, or RBAC forbids the list) is only visible here.
                Err(kube::runtime::controller::Error::QueueError(error)) => {
                    tracing::warn!(%error, "watch failed; retrying");
                }
                Err(error) => tracing::debug!(%error, "reconcile did not complete"),
            }
        })
        .await;
    tracing::info!("controller stopped");
}

/// A reconcile that starts only while this replica holds the Lease and is cancelled (its
/// pending calls dropped) as soon as it stops holding it.
async fn while_leading(
    pipeline: Arc<EventPipeline>,
    ctx: Arc<Context>,
    leadership: Option<Leadership>,
) -> Result<kube::runtime::controller::Action> {
    let Some(leadership) = leadership else {
        return reconcile(pipeline, ctx).await;
    };
    let not_leading = || {
        Err(Error::Leader(
            "not the leader: reconcile cancelled".to_owned(),
        ))
    };
    if !leadership.is_leader() {
        return not_leading();
    }
    tokio::select! {
        outcome = reconcile(pipeline, ctx) => outcome,
        () = leadership.lost().cancelled() => not_leading(),
    }
}

/// The backoff of the controller's watches: 250 ms doubling to at most 4 s, reset after 10 s
/// without errors.
///
/// The watches share one backoff, and while it runs no watch event is handled. kube's default
/// (800 ms doubling to 30 s, reset only after 120 s without errors) makes an API server restart
/// cost minutes: the connection errors while it is away, then each watch's `410 Expired` on
/// resuming from the restarted server's fresh watch cache, each wait up to 30 s
/// (docs/benchmarks.md has the measurement).
fn watch_backoff() -> ResetTimerBackoff<ExponentialBackoff> {
    let delays = eventflow_contract::backoff::exponential(
        Duration::from_millis(250),
        Duration::from_secs(4),
    );
    ResetTimerBackoff::new(ExponentialBackoff::from(delays), Duration::from_secs(10))
}

fn namespaced<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
{
    namespace.map_or_else(
        || Api::all(client.clone()),
        |ns| Api::namespaced(client.clone(), ns),
    )
}

async fn finish(
    server: tokio::task::JoinHandle<()>,
    elector: Option<&LeaderElector>,
) -> Result<()> {
    if let Some(elector) = elector
        && let Err(error) = elector.release().await
    {
        tracing::warn!(%error, "could not release the leader lease");
    }
    server
        .await
        .map_err(|e| Error::Io(std::io::Error::other(e)))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use kube::runtime::utils::Backoff;

    use super::*;

    #[test]
    fn watch_backoff_doubles_to_four_seconds_and_resets() {
        let mut backoff = watch_backoff();
        let delays: Vec<u64> = (0..7)
            .map(|_| u64::try_from(backoff.next().unwrap().as_millis()).unwrap())
            .collect();
        assert_eq!(delays, [250, 500, 1000, 2000, 4000, 4000, 4000]);
        backoff.reset();
        assert_eq!(backoff.next(), Some(Duration::from_millis(250)));
    }
}
