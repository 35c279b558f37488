//! Reads the pipeline YAML a user would `kubectl apply`, with the same types, defaults and
//! checks the operator uses.

use std::path::Path;

use serde::Deserialize;

use crate::{
    Error, Result,
    crd::EventPipeline,
    resources::{BuildContext, validate::validate},
};

/// The pipeline named `name` (or the only one) in `path`, checked like the operator checks it.
pub fn load(path: &Path, name: Option<&str>, ctx: &BuildContext) -> Result<EventPipeline> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Local(format!("cannot read {}: {e}", path.display())))?;
    let pipelines = parse(&text).map_err(|e| Error::Local(format!("{}: {e}", path.display())))?;
    let mut pipeline =
        pick(pipelines, name).map_err(|e| Error::Local(format!("{}: {e}", path.display())))?;
    if pipeline.metadata.namespace.is_none() {
        pipeline.metadata.namespace = Some("default".to_owned());
    }
    validate(&pipeline, ctx).map_err(|e| {
        Error::InvalidSpec(format!(
            "EventPipeline {} is invalid: {e}",
            name_of(&pipeline)
        ))
    })?;
    Ok(pipeline)
}

/// Every `EventPipeline` document of a (multi-document) YAML text; other kinds are skipped.
fn parse(text: &str) -> Result<Vec<EventPipeline>, String> {
    let mut pipelines = Vec::new();
    for document in serde_yaml::Deserializer::from_str(text) {
        let value = serde_yaml::Value::deserialize(document).map_err(|e| e.to_string())?;
        if value.is_null()
            || value.get("kind").and_then(serde_yaml::Value::as_str) != Some("EventPipeline")
        {
            continue;
        }
        let pipeline: EventPipeline =
            serde_yaml::from_value(value).map_err(|e| format!("not a valid EventPipeline: {e}"))?;
        pipelines.push(pipeline);
    }
    Ok(pipelines)
}

fn pick(pipelines: Vec<EventPipeline>, name: Option<&str>) -> Result<EventPipeline, String> {
    let names: Vec<String> = pipelines.iter().map(name_of).collect();
    match name {
        Some(wanted) => pipelines
            .into_iter()
            .find(|p| name_of(p) == wanted)
            .ok_or_else(|| {
                format!(
                    "no EventPipeline named {wanted} (found: {})",
                    names.join(", ")
                )
            }),
        None if pipelines.len() == 1 => pipelines.into_iter().next().ok_or_else(String::new),
        None if pipelines.is_empty() => Err("no EventPipeline in the file".to_owned()),
        None => Err(format!(
            "{} pipelines in the file ({}); choose one with --name",
            names.len(),
            names.join(", ")
        )),
    }
}

fn name_of(pipeline: &EventPipeline) -> String {
    pipeline.metadata.name.clone().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO: &str = r"
apiVersion: v1
kind: Secret
metadata: {name: mongodb}
---
apiVersion: eventflow.dev/v1alpha1
kind: EventPipeline
metadata: {name: users}
spec:
  kafka: {bootstrapServers: kafka:9092}
  sink: {mongodb: {uriSecretRef: {name: mongodb, key: uri}}}
---
apiVersion: eventflow.dev/v1alpha1
kind: EventPipeline
metadata: {name: blog}
spec:
  kafka: {bootstrapServers: kafka:9092}
  topic: {partitions: 0}
  sink: {mongodb: {uriSecretRef: {name: mongodb, key: uri}}}
";

    fn ctx() -> BuildContext {
        BuildContext {
            workload_image: "local".into(),
            workload_log_format: "plain".into(),
        }
    }

    fn load_text(text: &str, name: Option<&str>) -> Result<EventPipeline> {
        let path = std::env::temp_dir().join(format!(
            "pipeline-{}-{}.yaml",
            std::process::id(),
            name.unwrap_or("none")
        ));
        std::fs::write(&path, text).unwrap();
        let loaded = load(&path, name, &ctx());
        std::fs::remove_file(&path).unwrap();
        loaded
    }

    #[test]
    fn a_pipeline_is_picked_by_name_with_schema_defaults() {
        let pipeline = load_text(TWO, Some("users")).unwrap();
        assert_eq!(pipeline.spec.consumer.batch_size, 100);
        assert_eq!(pipeline.metadata.namespace.as_deref(), Some("default"));
    }

    #[test]
    fn several_pipelines_need_a_name() {
        let error = load_text(TWO, None).unwrap_err().to_string();
        assert!(
            error.contains("--name") && error.contains("users, blog"),
            "{error}"
        );
    }

    #[test]
    fn an_invalid_pipeline_is_refused_with_the_operator_message() {
        let error = load_text(TWO, Some("blog")).unwrap_err().to_string();
        assert!(
            error.contains("topic.partitions must be at least 1"),
            "{error}"
        );
    }
}
