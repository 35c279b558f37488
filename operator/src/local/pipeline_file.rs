//! Reads the pipeline YAML a user would `kubectl apply`, with the same types, defaults and
//! checks the operator uses.

use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use crate::{
    Error, Result,
    crd::EventPipeline,
    resources::{
        BuildContext,
        validate::{schema_evolution, validate},
    },
    schema_check,
};

/// Why a pipeline file gives no pipeline (before any spec check).
#[derive(Debug, thiserror::Error)]
pub enum FileProblem {
    /// The file could not be read.
    #[error("cannot read the file: {0}")]
    Read(#[from] std::io::Error),
    /// A document is not YAML.
    #[error("not YAML: {0}")]
    Yaml(#[from] serde_yaml::Error),
    /// `--name` names no pipeline of the file.
    #[error("no EventPipeline named {wanted} (found: {})", found.join(", "))]
    NoSuchName {
        /// The name asked for.
        wanted: String,
        /// The pipelines of the file.
        found: Vec<String>,
    },
    /// The file has no `EventPipeline`.
    #[error("no EventPipeline in the file")]
    Empty,
    /// The file has several pipelines and no `--name` chose one.
    #[error("{} pipelines in the file ({}); choose one with --name", found.len(), found.join(", "))]
    Ambiguous {
        /// The pipelines of the file.
        found: Vec<String>,
    },
}

/// The pipeline named `name` (or the only one) in `path`, checked like the API server and the
/// operator check it: the CRD schema (unknown fields refused), then the operator's spec checks.
pub fn load(path: &Path, name: Option<&str>, ctx: &BuildContext) -> Result<EventPipeline> {
    let file_error = |problem: FileProblem| Error::PipelineFile {
        path: path.to_owned(),
        problem,
    };
    let text = std::fs::read_to_string(path).map_err(|e| file_error(e.into()))?;
    let document = pick(documents(&text), name).map_err(file_error)?;
    checked_pipeline(document, ctx)
}

/// [`load`] on the text of a pipeline file (the whole path after reading it).
pub fn parse(text: &str, name: Option<&str>, ctx: &BuildContext) -> Result<EventPipeline> {
    let document = pick(documents(text), name).map_err(|problem| Error::PipelineFile {
        path: "<text>".into(),
        problem,
    })?;
    checked_pipeline(document, ctx)
}

fn checked_pipeline(document: Value, ctx: &BuildContext) -> Result<EventPipeline> {
    let mut pipeline = checked(document)?;
    if pipeline.metadata.namespace.is_none() {
        pipeline.metadata.namespace = Some("default".to_owned());
    }
    // Nothing was served before a start: the versions are checked against each other.
    validate(&pipeline, ctx)
        .and_then(|()| schema_evolution(&pipeline, &[]))
        .map_err(|e| invalid(&kube::ResourceExt::name_any(&pipeline), &e))?;
    Ok(pipeline)
}

/// Every `EventPipeline` document of a (multi-document) YAML text; other kinds are skipped.
fn documents(text: &str) -> Result<Vec<Value>, FileProblem> {
    let mut pipelines = Vec::new();
    for document in serde_yaml::Deserializer::from_str(text) {
        let value = Value::deserialize(document)?;
        if value.get("kind").and_then(Value::as_str) == Some("EventPipeline") {
            pipelines.push(value);
        }
    }
    Ok(pipelines)
}

/// The document checked against the CRD schema, as a typed pipeline.
fn checked(document: Value) -> Result<EventPipeline> {
    let name = name_of(&document);
    let errors = schema_check::errors(&schema_check::validator()?, &document);
    if !errors.is_empty() {
        return Err(invalid(&name, &errors.join("; ")));
    }
    serde_json::from_value(document).map_err(|e| invalid(&name, &e.to_string()))
}

fn invalid(name: &str, problems: &str) -> Error {
    Error::InvalidSpec(format!("EventPipeline {name} is invalid: {problems}"))
}

fn pick(
    documents: Result<Vec<Value>, FileProblem>,
    name: Option<&str>,
) -> Result<Value, FileProblem> {
    let mut documents = documents?;
    let found = || documents.iter().map(name_of).collect::<Vec<_>>();
    match name {
        Some(wanted) => match documents.iter().position(|d| name_of(d) == wanted) {
            Some(index) => Ok(documents.swap_remove(index)),
            None => Err(FileProblem::NoSuchName {
                wanted: wanted.to_owned(),
                found: found(),
            }),
        },
        None if documents.len() > 1 => Err(FileProblem::Ambiguous { found: found() }),
        None => documents.pop().ok_or(FileProblem::Empty),
    }
}

fn name_of(document: &Value) -> String {
    document["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
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
  consumer: {batchTimeout: 5ms}
  sink: {mongodb: {uriSecretRef: {name: mongodb, key: uri}}}
";

    fn ctx() -> BuildContext {
        BuildContext {
            workload_image: "local".into(),
            workload_log_format: eventflow_contract::logs::LogFormat::Plain,
            image_pull_secrets: Vec::new(),
        }
    }

    fn load_text(text: &str, name: Option<&str>) -> Result<EventPipeline> {
        let path = std::env::temp_dir()
            .join(eventflow_workloads::testkit::unique_name("pipeline") + ".yaml");
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
        let error = load_text(TWO, None).unwrap_err();
        assert!(
            matches!(
                &error,
                Error::PipelineFile { problem: FileProblem::Ambiguous { found }, .. }
                    if found == &["users", "blog"]
            ),
            "{error}"
        );
        assert!(
            error
                .to_string()
                .ends_with(": 2 pipelines in the file (users, blog); choose one with --name"),
            "{error}"
        );
    }

    #[test]
    fn a_misspelt_field_is_refused_like_kubectl_apply_would() {
        let typo = TWO.replace(
            "metadata: {name: users}\nspec:\n",
            "metadata: {name: users}\nspec:\n  consumer: {batchSise: 5}\n",
        );
        let error = load_text(&typo, Some("users")).unwrap_err().to_string();
        assert!(
            error.contains("/spec/consumer") && error.contains("batchSise"),
            "{error}"
        );
    }

    #[test]
    fn an_invalid_pipeline_is_refused_with_the_operator_message() {
        let error = load_text(TWO, Some("blog")).unwrap_err().to_string();
        // 5ms passes the CRD schema's pattern; only the operator's spec checks refuse it.
        assert!(
            error.contains("consumer.batchTimeout must be between 10ms and 5m"),
            "{error}"
        );
    }

    #[test]
    fn schema_versions_breaking_their_compatibility_are_refused() {
        let versions = r"
  producer:
    compatibility: FORWARD
    schemas:
    - version: 1
      schema: {type: object, properties: {n: {type: integer}}}
    - version: 2
      schema: {type: object, properties: {n: {type: number}}}
";
        let text = TWO.replace(
            "metadata: {name: users}\nspec:\n",
            &format!("metadata: {{name: users}}\nspec:\n{}", &versions[1..]),
        );
        let error = load_text(&text, Some("users")).unwrap_err().to_string();
        assert_eq!(
            error,
            "invalid spec: EventPipeline users is invalid: schema version 2 is not forward \
             compatible with version 1 (compatibility FORWARD: version 1 must accept the data of \
             version 2): #/properties/n/type TYPE_NARROWED"
        );
        let backward = text.replace("FORWARD", "BACKWARD");
        assert!(load_text(&backward, Some("users")).is_ok());
    }
}
