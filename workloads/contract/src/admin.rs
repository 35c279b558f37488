//! The admin server every process runs: `/healthz`, `/readyz` and `/metrics`.

use std::{
    net::SocketAddr,
    sync::{Arc, OnceLock, RwLock},
};

use axum::{
    Router,
    extract::State,
    http::{StatusCode, header},
    response::IntoResponse,
    routing::get,
};
use prometheus::{Encoder, IntGauge, Registry, TextEncoder};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::Result;

/// Whether the process can do its job, and if not, why.
///
/// Cloning shares the state: the worker marks it, the admin server reports it on `/readyz`
/// and, once [registered](Self::register), as the gauge `ready` (1 ready, 0 not).
#[derive(Debug, Clone)]
pub struct Readiness {
    not_ready: Arc<RwLock<Option<String>>>,
    gauge: Arc<OnceLock<IntGauge>>,
}

/// Name of the readiness gauge (the registry's prefix and labels are added to it).
pub const READY_METRIC: &str = "ready";

impl Readiness {
    /// A process starts not ready, with the reason given.
    pub fn new(initial_reason: impl Into<String>) -> Self {
        Self {
            not_ready: Arc::new(RwLock::new(Some(initial_reason.into()))),
            gauge: Arc::default(),
        }
    }

    /// Exposes the readiness in `registry` as the gauge [`READY_METRIC`] (once per readiness).
    pub fn register(&self, registry: &Registry) -> Result<()> {
        let gauge = IntGauge::new(READY_METRIC, "1 while /readyz answers ready, else 0")?;
        registry.register(Box::new(gauge.clone()))?;
        // A second registration of the same readiness keeps the first gauge moving.
        let _ = self.gauge.set(gauge);
        if let Some(gauge) = self.gauge.get() {
            gauge.set(i64::from(self.is_ready()));
        }
        Ok(())
    }

    /// Marks the process ready.
    pub fn set_ready(&self) {
        self.set(None);
    }

    /// Marks the process not ready, with the reason `/readyz` reports.
    pub fn set_not_ready(&self, reason: impl Into<String>) {
        self.set(Some(reason.into()));
    }

    /// `None` when ready, else the reason it is not.
    pub fn reason(&self) -> Option<String> {
        self.not_ready.read().map_or_else(
            |poisoned| poisoned.into_inner().clone(),
            |guard| guard.clone(),
        )
    }

    /// Whether the process is ready.
    pub fn is_ready(&self) -> bool {
        self.reason().is_none()
    }

    fn set(&self, value: Option<String>) {
        if let Some(gauge) = self.gauge.get() {
            gauge.set(i64::from(value.is_none()));
        }
        match self.not_ready.write() {
            Ok(mut guard) => *guard = value,
            Err(poisoned) => *poisoned.into_inner() = value,
        }
    }
}

#[derive(Clone)]
struct AdminState {
    registry: Registry,
    readiness: Readiness,
}

/// The admin routes over a metrics registry and a readiness handle.
pub fn router(registry: Registry, readiness: Readiness) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(AdminState {
            registry,
            readiness,
        })
}

async fn readyz(State(state): State<AdminState>) -> impl IntoResponse {
    match state.readiness.reason() {
        None => (StatusCode::OK, "ready".to_owned()),
        Some(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {reason}"),
        ),
    }
}

async fn metrics(State(state): State<AdminState>) -> impl IntoResponse {
    let encoder = TextEncoder::new();
    let mut body = Vec::new();
    match encoder.encode(&state.registry.gather(), &mut body) {
        Ok(()) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, encoder.format_type().to_owned())],
            body,
        ),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "text/plain".to_owned())],
            e.to_string().into_bytes(),
        ),
    }
}

/// Binds the admin server and serves it until `shutdown` is cancelled.
pub async fn serve(
    addr: SocketAddr,
    registry: Registry,
    readiness: Readiness,
    shutdown: CancellationToken,
) -> Result<tokio::task::JoinHandle<()>> {
    let listener = TcpListener::bind(addr).await?;
    tracing::info!(address = %listener.local_addr()?, "admin server listening");
    let app = router(registry, readiness);
    Ok(tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await;
        if let Err(error) = served {
            tracing::error!(%error, "admin server stopped");
        }
    }))
}

/// A token cancelled on SIGTERM or SIGINT.
pub fn shutdown_on_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutdown signal received");
        cancel.cancel();
    });
    token
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut signal) => {
                    signal.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = ctrl_c => {},
            () = term => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::*;

    async fn get(app: Router, path: &str) -> (StatusCode, String) {
        let request = axum::http::Request::get(path).body(Body::empty()).unwrap();
        let response = app.oneshot(request).await.unwrap();
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn readyz_reports_the_reason_until_ready() {
        let readiness = Readiness::new("waiting for kafka");
        let app = router(Registry::new(), readiness.clone());
        let (status, body) = get(app.clone(), "/readyz").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(body.contains("waiting for kafka"));
        readiness.set_ready();
        assert_eq!(get(app, "/readyz").await.0, StatusCode::OK);
    }

    #[tokio::test]
    async fn metrics_expose_registered_collectors() {
        let registry = Registry::new();
        let counter = prometheus::IntCounter::new("demo_total", "a demo counter").unwrap();
        registry.register(Box::new(counter.clone())).unwrap();
        counter.inc_by(3);
        let (status, body) = get(router(registry, Readiness::new("x")), "/metrics").await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains("demo_total 3"), "{body}");
    }

    #[tokio::test]
    async fn the_ready_gauge_follows_readiness_with_the_registry_prefix() {
        let registry = Registry::new_custom(Some("eventflow_test".into()), None).unwrap();
        let readiness = Readiness::new("starting");
        readiness.register(&registry).unwrap();
        let app = || router(registry.clone(), readiness.clone());
        assert!(
            get(app(), "/metrics")
                .await
                .1
                .contains("eventflow_test_ready 0")
        );
        readiness.set_ready();
        assert!(
            get(app(), "/metrics")
                .await
                .1
                .contains("eventflow_test_ready 1")
        );
        readiness.set_not_ready("MongoDB down");
        assert!(
            get(app(), "/metrics")
                .await
                .1
                .contains("eventflow_test_ready 0")
        );
    }
}
