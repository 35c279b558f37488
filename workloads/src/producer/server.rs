//! The API's HTTP/1 server: hyper with a header read timeout, so a client that trickles its
//! request line and headers, or holds a connection open idle between requests, is cut off
//! (the connection is closed) and cannot pin a connection forever. The body read timeout is
//! the router's ([`super::body`]); the number of requests served at once is bounded by
//! [`super::in_flight`]. On shutdown it stops accepting and drains the open connections.

use std::{io, time::Duration};

use axum::{Router, body::Body, extract::Request};
use hyper::{body::Incoming, server::conn::http1};
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    server::graceful::GracefulShutdown,
    service::TowerToHyperService,
};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use super::metrics::Metrics;

/// Pause after a failed `accept` (e.g. out of file descriptors) before the next one.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Serves `app` on `listener` until `shutdown`, then waits for the open connections to finish.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    header_read_timeout: Duration,
    metrics: Metrics,
    shutdown: CancellationToken,
) -> io::Result<()> {
    let graceful = GracefulShutdown::new();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout);
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(error) => {
                tracing::warn!(%error, "accepting a connection failed");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "TCP_NODELAY not set");
        }
        let service = app
            .clone()
            .map_request(|request: Request<Incoming>| request.map(Body::new));
        let connection =
            builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let connection = graceful.watch(connection);
        let metrics = metrics.clone();
        tokio::spawn(async move {
            match connection.await {
                Err(error) if error.is_timeout() => {
                    metrics
                        .client_timeouts
                        .with_label_values(&["headers"])
                        .inc();
                    tracing::debug!(%error, "closed a connection whose headers did not arrive");
                }
                Err(error) => tracing::debug!(%error, "connection ended with an error"),
                Ok(()) => {}
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}
