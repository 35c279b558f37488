//! The one rule by which a reconcile reuses what an earlier reconcile of the same pipeline found
//! (the topic report, the Secrets check): a finding is kept for one pipeline object (its
//! `resourceVersion`) and reused while the object is unchanged and the finding is younger than
//! the freshness (the controller's resync). A lag poll or a child's status change reconciles an
//! unchanged object, so it asks nobody again; any change to the pipeline (spec, annotation,
//! status write) asks again at once; a change made elsewhere (a topic altered on the broker, a
//! Secret deleted) is seen within the freshness.

use std::{
    collections::HashMap,
    sync::{Mutex, MutexGuard, PoisonError},
    time::{Duration, Instant},
};

use kube::{Resource, ResourceExt};

use crate::crd::EventPipeline;

/// One finding of type `T` per pipeline object, reused until the resync.
#[derive(Debug)]
pub struct ResyncCache<T> {
    fresh_for: Duration,
    kept: Mutex<HashMap<String, Kept<T>>>,
}

#[derive(Debug)]
struct Kept<T> {
    version: Option<String>,
    at: Instant,
    finding: T,
}

impl<T> ResyncCache<T> {
    /// Findings are reused for `fresh_for`.
    pub fn new(fresh_for: Duration) -> Self {
        Self {
            fresh_for,
            kept: Mutex::new(HashMap::new()),
        }
    }

    /// What `reuse` makes of the finding kept for this very `pipeline` object, if it is still
    /// fresh (never for an object without a `resourceVersion`, as the local runtime's file).
    pub fn find<R>(
        &self,
        pipeline: &EventPipeline,
        reuse: impl FnOnce(&T) -> Option<R>,
    ) -> Option<R> {
        let kept = self.lock();
        let kept = kept.get(&pipeline.object_key())?;
        let same_object =
            kept.version.is_some() && kept.version == pipeline.meta().resource_version;
        if !same_object || kept.at.elapsed() >= self.fresh_for {
            return None;
        }
        reuse(&kept.finding)
    }

    /// Whether a finding is kept for this very `pipeline` object and still fresh.
    pub fn has(&self, pipeline: &EventPipeline) -> bool {
        self.find(pipeline, |_| Some(())).is_some()
    }

    /// Keeps what was just found for `pipeline`.
    pub fn keep(&self, pipeline: &EventPipeline, finding: T) {
        let kept = Kept {
            version: pipeline.resource_version(),
            at: Instant::now(),
            finding,
        };
        self.lock().insert(pipeline.object_key(), kept);
    }

    /// Forgets `pipeline` (deleted, or its finding no longer holds).
    pub fn forget(&self, pipeline: &EventPipeline) {
        self.lock().remove(&pipeline.object_key());
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Kept<T>>> {
        // Single inserts and removes: a poisoned map is still consistent.
        self.kept.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pipeline(name: &str, version: Option<&str>) -> EventPipeline {
        let mut pipeline = EventPipeline::new(name, crate::crd::EventPipelineSpec::default());
        pipeline.metadata.namespace = Some("ns".to_owned());
        pipeline.metadata.resource_version = version.map(str::to_owned);
        pipeline
    }

    #[test]
    fn a_finding_is_reused_for_the_same_object_only_while_fresh() {
        let cache = ResyncCache::new(Duration::from_secs(60));
        let p = pipeline("p", Some("7"));
        assert_eq!(cache.find(&p, |n: &u32| Some(*n)), None);
        cache.keep(&p, 3);
        assert_eq!(cache.find(&p, |n| Some(*n)), Some(3));
        assert!(cache.has(&p));
        assert_eq!(
            cache.find(&p, |_| None::<u32>),
            None,
            "refused by the caller"
        );
        assert_eq!(
            cache.find(&pipeline("other", Some("7")), |n| Some(*n)),
            None
        );
        assert_eq!(
            cache.find(&pipeline("p", Some("8")), |n| Some(*n)),
            None,
            "any change"
        );
        cache.forget(&p);
        assert_eq!(cache.find(&p, |n| Some(*n)), None);
        assert!(!cache.has(&p));

        let stale = ResyncCache::new(Duration::ZERO);
        stale.keep(&p, 3);
        assert_eq!(stale.find(&p, |n| Some(*n)), None);
    }

    #[test]
    fn an_object_without_a_resource_version_is_never_reused() {
        let cache = ResyncCache::new(Duration::from_secs(60));
        let file = pipeline("p", None);
        cache.keep(&file, 3);
        assert_eq!(cache.find(&file, |n: &u32| Some(*n)), None);
    }
}
