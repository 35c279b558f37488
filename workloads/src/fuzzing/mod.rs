//! The whole paths the fuzz targets in `workloads/fuzz` drive, one function per target; the
//! regression tests (`tests/fuzz_regressions.rs`) run the committed inputs through the same
//! functions without cargo-fuzz. Hidden from the docs: a test surface, not an API.
//!
//! Each function takes arbitrary bytes, runs them through the product code as a request, a
//! Kafka message or a file would, and asserts what must hold for any input (a clear error or
//! a usable result, never a panic, and what one side accepts the other accepts too). The first
//! byte of an input selects options (schema on or off, key present, ...); the rest is the data.

mod consumer;
mod envelope;
mod properties;
mod query;

use std::{path::Path, sync::OnceLock};

use mongodb::bson::Document;
use serde_json::json;

pub use self::{
    consumer::consumer_record, envelope::envelope, properties::kafka_properties, query::query,
};
use crate::{
    event::{EventRules, PartitionKey},
    producer::write_path::Validation,
};

/// The option byte and the rest of an input.
fn options(input: &[u8]) -> (u8, &[u8]) {
    input
        .split_first()
        .map_or((0, &[][..]), |(first, rest)| (*first, rest))
}

/// The producer's validation of a pipeline: with bit 0 of `options`, allowed types and the
/// JSON Schema of `examples/posts.yaml` plus more keywords; with bit 2, keyed by `data.userId`.
fn validation(options: u8) -> &'static Validation {
    static VALIDATIONS: OnceLock<Vec<Validation>> = OnceLock::new();
    let all = VALIDATIONS.get_or_init(|| {
        (0..4)
            .map(|i| Validation {
                rules: rules(i & 1 != 0),
                partition_key: if i & 2 == 0 {
                    PartitionKey::Attribute("subject".into())
                } else {
                    PartitionKey::Data(vec!["userId".into()])
                },
                default_source: "/eventflow/fuzz".into(),
                max_events: 100,
            })
            .collect()
    });
    &all[usize::from((options & 1) | ((options >> 1) & 2))]
}

fn rules(with_schema: bool) -> EventRules {
    if !with_schema {
        return EventRules::default();
    }
    let schema = json!({
        "type": "object",
        "required": ["title", "content"],
        "properties": {
            "title": {"type": "string", "minLength": 2, "maxLength": 100},
            "content": {"type": "string", "minLength": 10, "maxLength": 1000, "pattern": "^[^<>]*$"},
            "authorId": {"type": "string"},
            "score": {"type": "number", "minimum": 0, "maximum": 10, "multipleOf": 0.5},
            "tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": true, "maxItems": 5},
            "meta": {"type": "object", "additionalProperties": {"type": ["string", "integer"]}}
        }
    });
    let types = vec!["post.created".to_owned(), "post.updated".to_owned()];
    EventRules::new(types, Some(&schema)).unwrap_or_default()
}

/// Asserts that MongoDB's driver can encode `document` (what `insert_many` does first): a
/// document it cannot encode would fail the whole batch on every retry.
fn assert_storable(document: &Document) {
    let mut bytes = Vec::new();
    let encoded = document.to_writer(&mut bytes);
    assert!(
        encoded.is_ok(),
        "the driver cannot encode {document:?}: {encoded:?}"
    );
}

/// Runs every committed input of `target` through `run`: the files of
/// `<crate_dir>/fuzz/seeds/<target>` and `<crate_dir>/fuzz/regressions/<target>` (the inputs
/// that once failed), in name order, each named on stderr before it runs so a failure says
/// which. Returns how many ran. Used by the crates' `tests/fuzz_regressions.rs`.
pub fn replay(crate_dir: &Path, target: &str, run: fn(&[u8])) -> std::io::Result<usize> {
    let mut count = 0;
    for kind in ["seeds", "regressions"] {
        let dir = crate_dir.join("fuzz").join(kind).join(target);
        if !dir.exists() {
            continue;
        }
        let mut paths = std::fs::read_dir(&dir)?
            .map(|entry| entry.map(|e| e.path()))
            .collect::<std::io::Result<Vec<_>>>()?;
        paths.sort();
        for path in paths {
            let input = std::fs::read(&path)?;
            eprintln!("{target}: {}", path.display());
            run(&input);
            count += 1;
        }
    }
    Ok(count)
}

/// The target directories under `<crate_dir>/fuzz/seeds` and `<crate_dir>/fuzz/regressions`,
/// so a test can check each belongs to a known target (a misnamed one would never be replayed).
pub fn input_dirs(crate_dir: &Path) -> std::io::Result<Vec<String>> {
    let mut names = Vec::new();
    for kind in ["seeds", "regressions"] {
        let dir = crate_dir.join("fuzz").join(kind);
        if !dir.exists() {
            continue;
        }
        for entry in std::fs::read_dir(dir)? {
            names.push(entry?.file_name().to_string_lossy().into_owned());
        }
    }
    Ok(names)
}
