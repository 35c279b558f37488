//! The example pipelines: valid against the generated CRD, consistent with what CEL and the
//! runtime enforce, documented, and their event schemas say what the seed systems need.

use std::path::PathBuf;

use serde_json::{Value, json};

use crate::{repo, schema};

fn example_files() -> Vec<PathBuf> {
    repo::files_under("examples", &[".yaml"])
}

/// Every pipeline of every example, as JSON.
pub fn pipelines() -> Vec<Value> {
    example_files()
        .iter()
        .flat_map(|path| repo::yaml_file::<Value>(&repo::display(path)))
        .collect()
}

fn pipeline(name: &str) -> Value {
    pipelines()
        .into_iter()
        .find(|p| p["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no example pipeline named {name}"))
}

#[test]
fn the_seed_system_examples_exist() {
    let names: Vec<String> = example_files().iter().map(|p| repo::display(p)).collect();
    for expected in [
        "quickstart",
        "posts",
        "user-activity",
        "transactions",
        "user-and-blog-events",
    ] {
        assert!(
            names.contains(&format!("examples/{expected}.yaml")),
            "{names:?}"
        );
    }
    for name in ["user-events", "blog-events"] {
        pipeline(name);
    }
}

#[test]
fn every_example_validates_against_the_generated_crd_schema() {
    let crd = schema::crd();
    let (api_version, open_api) = schema::served_schema(&crd);
    let validator = schema::validator(open_api);
    for path in example_files() {
        let file = repo::display(&path);
        for document in repo::yaml_file::<Value>(&file) {
            assert_eq!(document["apiVersion"], api_version.as_str(), "{file}");
            assert_eq!(document["kind"], crd["spec"]["names"]["kind"], "{file}");
            let errors = schema::errors(&validator, &document);
            assert!(
                errors.is_empty(),
                "{file} does not match {}:\n{}",
                schema::CRD,
                errors.join("\n")
            );
        }
    }
}

#[test]
fn the_crd_schema_check_rejects_unknown_fields_and_out_of_range_values() {
    let crd = schema::crd();
    let validator = schema::validator(schema::served_schema(&crd).1);
    let valid = pipeline("quickstart");
    assert!(validator.is_valid(&valid));
    for (pointer, value) in [
        ("/spec/topic/partitionz", json!(4)),
        ("/spec/unknownSection", json!({})),
        ("/spec/topic/partitions", json!(0)),
        ("/spec/topic/deletionPolicy", json!("Purge")),
        ("/spec/consumer/batchSize", json!(10_001)),
        ("/spec/autoscaling/pollInterval", json!("10 seconds")),
    ] {
        let mut broken = valid.clone();
        let (parent, field) = pointer.rsplit_once('/').unwrap();
        broken.pointer_mut(parent).unwrap()[field] = value.clone();
        assert!(
            !validator.is_valid(&broken),
            "{pointer} = {value} was accepted"
        );
    }
}

/// What the CRD's CEL rules and the topic's partition cap enforce, which the JSON Schema cannot.
#[test]
fn autoscaling_bounds_fit_the_partitions() {
    for pipeline in pipelines() {
        let name = &pipeline["metadata"]["name"];
        let autoscaling = &pipeline["spec"]["autoscaling"];
        if autoscaling["enabled"] != true {
            continue;
        }
        let min = autoscaling["minReplicas"].as_u64().unwrap_or(1);
        let max = autoscaling["maxReplicas"].as_u64().unwrap();
        let partitions = pipeline["spec"]["topic"]["partitions"].as_u64().unwrap();
        assert!(min <= max, "{name}: minReplicas > maxReplicas");
        assert!(
            max <= partitions,
            "{name}: maxReplicas {max} > {partitions} partitions"
        );
    }
}

#[test]
fn every_secret_an_example_references_has_a_comment_saying_how_to_create_it() {
    for path in example_files() {
        let file = repo::display(&path);
        let text = repo::read(&file);
        for document in repo::yaml_file::<Value>(&file) {
            let spec = &document["spec"];
            let references = [
                &spec["sink"]["mongodb"]["uriSecretRef"],
                &spec["kafka"]["secretRef"],
                &spec["producer"]["auth"]["secretRef"],
            ];
            for secret in references.iter().filter_map(|r| r["name"].as_str()) {
                let how = format!("kubectl create secret generic {secret} ");
                assert!(text.contains(&how), "{file} does not say `{how}...`");
            }
        }
    }
}

fn data_validator(pipeline_name: &str) -> jsonschema::Validator {
    jsonschema::validator_for(&pipeline(pipeline_name)["spec"]["producer"]["schema"]).unwrap()
}

#[test]
fn posts_accept_titles_of_2_to_100_and_contents_of_10_to_1000_characters() {
    let posts = data_validator("posts");
    let post = |title: usize, content: usize| json!({"title": "t".repeat(title), "content": "c".repeat(content)});
    assert!(posts.is_valid(&post(2, 10)));
    assert!(posts.is_valid(&post(100, 1000)));
    for (title, content) in [(1, 10), (101, 10), (2, 9), (2, 1001)] {
        assert!(
            !posts.is_valid(&post(title, content)),
            "title {title}, content {content}"
        );
    }
    assert!(!posts.is_valid(&json!({"title": "Hello"})));
    let spec = &pipeline("posts")["spec"];
    assert_eq!(spec["consumer"]["batchSize"], 100);
    assert_eq!(spec["consumer"]["batchTimeout"], "5s");
}

#[test]
fn user_activity_is_keyed_by_user_and_limited_to_its_three_types() {
    let spec = &pipeline("user-activity")["spec"]["producer"];
    assert_eq!(spec["partitionKey"], "data.userId");
    assert_eq!(
        spec["allowedTypes"],
        json!(["LOGIN", "LOGOUT", "PRODUCT_VIEW"])
    );
    let activity = data_validator("user-activity");
    assert!(activity.is_valid(&json!({"userId": "u-1", "productId": "sku-1"})));
    assert!(!activity.is_valid(&json!({"productId": "sku-1"})));
}

#[test]
fn transactions_are_keyed_by_account_behind_tokens() {
    let spec = &pipeline("transactions")["spec"]["producer"];
    assert_eq!(spec["partitionKey"], "data.accountId");
    assert_eq!(
        spec["allowedTypes"],
        json!(["send", "receive", "balance_inquiry"])
    );
    assert!(spec["auth"]["secretRef"]["name"].is_string());
    let transactions = data_validator("transactions");
    assert!(
        transactions.is_valid(&json!({"accountId": "acct-1", "amount": 12.5, "currency": "EUR"}))
    );
    assert!(!transactions.is_valid(&json!({"accountId": "acct-1", "amount": -1})));
    assert!(!transactions.is_valid(&json!({"accountId": "acct-1", "currency": "euro"})));
}
