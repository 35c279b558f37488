//! The operator's readiness as the leader: ready once each of the controller's watches listed
//! its objects (the first `InitDone` of each), so the caches the reconciles read are filled.
//!
//! Not `Store::wait_until_ready` from a task of our own: a store's readiness is a one-shot
//! channel that keeps only the waker of the task that polled it last, and the controller's
//! runner polls it too (it holds the reconciles until the pipelines are listed), so a task waiting
//! beside the runner is not woken. The watch streams themselves say when each list is done.

use std::{
    collections::BTreeSet,
    sync::{Arc, Mutex, PoisonError},
};

use eventflow_contract::admin::Readiness;
use futures::{Stream, StreamExt};
use kube::runtime::watcher;

/// The watches still to list; marks the readiness ready when none is left.
#[derive(Debug, Clone)]
pub struct WatchSync {
    readiness: Readiness,
    pending: Arc<Mutex<BTreeSet<&'static str>>>,
}

impl WatchSync {
    /// Not ready until each of `watches` (names for the reason) listed once.
    pub fn new(readiness: Readiness, watches: &[&'static str]) -> Self {
        let sync = Self {
            readiness,
            pending: Arc::new(Mutex::new(watches.iter().copied().collect())),
        };
        sync.update(&sync.lock());
        sync
    }

    /// Marks `watch` listed (again after a re-list: no change).
    pub fn listed(&self, watch: &str) {
        let mut pending = self.lock();
        if pending.remove(watch) {
            self.update(&pending);
            if pending.is_empty() {
                tracing::info!("first watch sync done");
            }
        }
    }

    /// `events` of the watch named `watch`, reporting its first complete list here.
    pub fn observe<K, S>(
        &self,
        watch: &'static str,
        events: S,
    ) -> impl Stream<Item = S::Item> + use<K, S>
    where
        S: Stream<Item = Result<watcher::Event<K>, watcher::Error>>,
    {
        let sync = self.clone();
        events.inspect(move |event| {
            if matches!(event, Ok(watcher::Event::InitDone)) {
                sync.listed(watch);
            }
        })
    }

    fn update(&self, pending: &BTreeSet<&'static str>) {
        if pending.is_empty() {
            self.readiness.set_ready();
        } else {
            let names: Vec<&str> = pending.iter().copied().collect();
            self.readiness.set_not_ready(format!(
                "waiting for the first watch sync of {}",
                names.join(", ")
            ));
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeSet<&'static str>> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use futures::stream;
    use k8s_openapi::api::apps::v1::Deployment;

    use super::*;

    #[test]
    fn ready_once_every_watch_listed_and_the_reason_names_the_rest() {
        let readiness = Readiness::new("starting");
        let sync = WatchSync::new(readiness.clone(), &["pipelines", "deployments"]);
        assert_eq!(
            readiness.reason().as_deref(),
            Some("waiting for the first watch sync of deployments, pipelines")
        );
        sync.listed("pipelines");
        assert_eq!(
            readiness.reason().as_deref(),
            Some("waiting for the first watch sync of deployments")
        );
        sync.listed("deployments");
        assert!(readiness.is_ready());
        sync.listed("deployments");
        assert!(readiness.is_ready(), "a re-list changes nothing");
    }

    /// The controller polls its store's readiness as well; the watch events reach us anyway.
    #[tokio::test]
    async fn the_init_done_of_a_watch_stream_makes_it_listed() {
        let readiness = Readiness::new("starting");
        let sync = WatchSync::new(readiness.clone(), &["deployments"]);
        let events = stream::iter([
            Ok(watcher::Event::<Deployment>::Init),
            Ok(watcher::Event::InitApply(Deployment::default())),
        ]);
        let _ = sync.observe("deployments", events).count().await;
        assert!(!readiness.is_ready(), "the list is not done yet");
        let done = stream::iter([Ok(watcher::Event::<Deployment>::InitDone)]);
        let _ = sync.observe("deployments", done).count().await;
        assert!(readiness.is_ready());
    }
}
