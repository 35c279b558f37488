//! The spec checks the operator and the local runtime make before they touch anything (pure).
//!
//! The cross-field rules are the CRD's own CEL rules (`x-kubernetes-validations`), evaluated here
//! with kube's `cel` support: a pipeline stored under an older schema or applied with validation
//! off, and every pipeline file of the local runtime, is refused with the message `kubectl apply`
//! would print. Durations are checked when the spec is deserialized (their type parses them).
//! The checks written here are only what the CRD cannot express.

use super::BuildContext;
use crate::crd::EventPipeline;

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

/// The producer compiles `producer.schema` when it starts: one it cannot compile is refused here
/// (the same `jsonschema` crate and call as the producer's).
fn producer_schema(pipeline: &EventPipeline) -> Option<String> {
    let schema = pipeline
        .spec
        .producer
        .schema
        .as_ref()
        .filter(|s| s.is_object())?;
    jsonschema::validator_for(schema)
        .err()
        .map(|error| format!("producer.schema does not compile: {error}"))
}

/// What the CRD cannot say: the image depends on the operator's flags, and `producer.schema` is
/// free-form in the CRD (`x-kubernetes-preserve-unknown-fields`), where CEL cannot see its type.
fn beyond_the_crd(pipeline: &EventPipeline, ctx: &BuildContext) -> Option<String> {
    let schema_is_object = pipeline
        .spec
        .producer
        .schema
        .as_ref()
        .is_none_or(serde_json::Value::is_object);
    if ctx.image(pipeline).is_empty() {
        Some("no workload image: set spec.image or the operator's --workload-image".to_owned())
    } else if !schema_is_object {
        Some("producer.schema must be a JSON Schema object".to_owned())
    } else {
        None
    }
}
