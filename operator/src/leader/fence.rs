//! The write fence: an API client whose writes fail at once while this replica does not hold
//! the Lease, so a leader that stalled (stopped, starved, cut off) and resumed after its renew
//! deadline writes nothing, whatever task was about to write. Reads (watches, gets, lists) pass.

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

use kube::{Client, Config, client::ClientBuilder};
use tower::{BoxError, Service, layer::layer_fn};

use super::Leadership;
use crate::Result;

/// A client over `config` whose writes need `leadership` to hold.
pub fn fenced_client(config: Config, leadership: &Leadership) -> Result<Client> {
    let leadership = leadership.clone();
    let layer = layer_fn(move |inner| Fenced {
        inner,
        leadership: leadership.clone(),
    });
    Ok(ClientBuilder::try_from(config)?.with_layer(&layer).build())
}

#[derive(Clone)]
struct Fenced<S> {
    inner: S,
    leadership: Leadership,
}

type Answer<R> = Pin<Box<dyn Future<Output = Result<R, BoxError>> + Send>>;

impl<S, B> Service<http::Request<B>> for Fenced<S>
where
    S: Service<http::Request<B>>,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
    S::Response: Send + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = Answer<S::Response>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        if request.method() != http::Method::GET && !self.leadership.is_leader() {
            let refused = format!(
                "{} {} refused: this replica does not hold the leader lease",
                request.method(),
                request.uri().path()
            );
            return Box::pin(std::future::ready(Err(refused.into())));
        }
        let answer = self.inner.call(request);
        Box::pin(async move { answer.await.map_err(Into::into) })
    }
}
