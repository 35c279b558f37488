//! The spec checks the operator and the local runtime make before they touch anything (pure).
//!
//! The cross-field rules are the CRD's own CEL rules (`x-kubernetes-validations`), evaluated here
//! with kube's `cel` support: a pipeline stored under an older schema or applied with validation
//! off, and every pipeline file of the local runtime, is refused with the message `kubectl apply`
//! would print. Durations are checked when the spec is deserialized (their type parses them).
//! The checks written here are only what the CRD cannot express.

use std::{
    collections::HashMap,
    sync::{Mutex, PoisonError},
};

use kube::Resource;

use super::BuildContext;
use crate::crd::{EventPipeline, SchemaVersion};

/// The result of [`validate`] per pipeline (uid) and generation, so that a reconcile of an
/// unchanged spec (a resync, a child's or the status's change) does not compile the CRD's CEL
/// rules and the producer's JSON Schema again. Only the spec and the operator's [`BuildContext`]
/// decide a result: the spec is fixed by the generation, and one cache serves one context.
#[derive(Debug, Default)]
pub struct SpecChecks {
    cache: Mutex<HashMap<String, Kept>>,
}

/// A kept result: the generation it was computed for, and the result.
type Kept = (i64, Result<(), String>);

impl SpecChecks {
    /// [`validate`]'s result, computed once per uid and generation (every time for a pipeline
    /// without both, as the local runtime's file).
    pub fn validate(&self, pipeline: &EventPipeline, ctx: &BuildContext) -> Result<(), String> {
        let meta = pipeline.meta();
        let (Some(uid), Some(generation)) = (&meta.uid, meta.generation) else {
            return validate(pipeline, ctx);
        };
        if let Some((seen, result)) = self.lock().get(uid)
            && *seen == generation
        {
            return result.clone();
        }
        let result = validate(pipeline, ctx);
        self.lock()
            .insert(uid.clone(), (generation, result.clone()));
        result
    }

    /// Forgets a deleted pipeline's result.
    pub fn forget(&self, pipeline: &EventPipeline) {
        if let Some(uid) = &pipeline.meta().uid {
            self.lock().remove(uid);
        }
    }

    /// How many checks are kept (one per pipeline seen).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no result is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Kept>> {
        // Single inserts and removes: a poisoned map is still consistent.
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Every problem of the spec, joined; `Ok` when the pipeline can be built.
pub fn validate(pipeline: &EventPipeline, ctx: &BuildContext) -> Result<(), String> {
    let mut problems: Vec<String> = match kube::core::cel::validate_cel(pipeline) {
        Ok(()) => Vec::new(),
        Err(broken) => broken.into_vec().into_iter().map(|e| e.message).collect(),
    };
    problems.extend(beyond_the_crd(pipeline, ctx));
    problems.extend(producer_schema(pipeline));
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

/// The producer compiles every schema version when it starts: one it cannot compile is refused
/// here (the same `jsonschema` crate and call as the producer's).
fn producer_schema(pipeline: &EventPipeline) -> Vec<String> {
    pipeline
        .spec
        .producer
        .schema_versions()
        .iter()
        .filter(|v| v.schema.is_object())
        .filter_map(|v| {
            jsonschema::validator_for(&v.schema)
                .err()
                .map(|error| format!("{} does not compile: {error}", field(pipeline, v.version)))
        })
        .collect()
}

/// The spec field holding schema `version`, as a message names it.
fn field(pipeline: &EventPipeline, version: u32) -> String {
    if pipeline.spec.producer.schemas.is_empty() {
        "producer.schema".to_owned()
    } else {
        format!("producer.schemas version {version}")
    }
}

/// The schema versions checked against each other by `producer.compatibility` and against the
/// versions the pipeline already `served` ([`crate::schema_evolution::check`]); run after
/// [`validate`] passed.
pub fn schema_evolution(pipeline: &EventPipeline, served: &[SchemaVersion]) -> Result<(), String> {
    let producer = &pipeline.spec.producer;
    crate::schema_evolution::check(&producer.schema_versions(), producer.compatibility, served)
}

/// What the CRD cannot say: the image depends on the operator's flags, and the schemas are
/// free-form in the CRD (`x-kubernetes-preserve-unknown-fields`), where CEL cannot see their type.
fn beyond_the_crd(pipeline: &EventPipeline, ctx: &BuildContext) -> Vec<String> {
    let mut problems = Vec::new();
    if ctx.image(pipeline).is_empty() {
        problems.push(
            "no workload image: set spec.image or the operator's --workload-image".to_owned(),
        );
    }
    for version in pipeline.spec.producer.schema_versions() {
        if !version.schema.is_object() {
            let field = field(pipeline, version.version);
            problems.push(format!("{field} must be a JSON Schema object"));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pipeline(uid: &str, generation: i64, min: u32, max: u32) -> EventPipeline {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "eventflow.dev/v1alpha1",
            "kind": "EventPipeline",
            "metadata": {"name": "p", "namespace": "ns", "uid": uid, "generation": generation},
            "spec": {
                "kafka": {"bootstrapServers": "kafka:9092"},
                "topic": {"name": "t"},
                "sink": {"mongodb": {"uriSecretRef": {"name": "m", "key": "uri"}}},
                "autoscaling": {"enabled": true, "minReplicas": min, "maxReplicas": max},
            },
        }))
        .expect("a pipeline the schema accepts")
    }

    fn ctx() -> BuildContext {
        BuildContext {
            workload_image: "eventflow:test".to_owned(),
            workload_log_format: eventflow_contract::logs::LogFormat::Json,
            image_pull_secrets: Vec::new(),
        }
    }

    #[test]
    fn the_result_is_kept_per_uid_and_generation() {
        let checks = SpecChecks::default();
        let valid = pipeline("u1", 1, 1, 3);
        assert_eq!(checks.validate(&valid, &ctx()), Ok(()));
        // The same uid and generation with a spec that would fail: the kept result answers,
        // which shows it was not computed again.
        let same_generation = pipeline("u1", 1, 5, 2);
        assert_eq!(checks.validate(&same_generation, &ctx()), Ok(()));
        // A new generation is checked again.
        let next = pipeline("u1", 2, 5, 2);
        let refused = checks.validate(&next, &ctx());
        assert_eq!(refused, validate(&next, &ctx()));
        assert!(refused.is_err(), "min > max must be refused");
        assert_eq!(checks.len(), 1);
        checks.forget(&next);
        assert!(checks.is_empty());
    }

    #[test]
    fn a_pipeline_without_uid_is_checked_every_time() {
        let checks = SpecChecks::default();
        let mut broken = pipeline("u", 1, 5, 2);
        broken.metadata.uid = None;
        assert_eq!(checks.validate(&broken, &ctx()), validate(&broken, &ctx()));
        assert!(checks.is_empty());
    }
}
