//! Every committed fuzz input of this crate (`fuzz/seeds/<target>`, and `fuzz/regressions/<target>`
//! for those that once found a bug) through the very function its cargo-fuzz target calls, so
//! `make test` replays them without cargo-fuzz. `make fuzz` searches for new ones.
#![expect(clippy::expect_used, reason = "an unreadable input fails the test")]

use std::path::Path;

use eventflow_workloads::fuzzing::{self, input_dirs, replay};

const TARGETS: [&str; 4] = ["envelope", "consumer_record", "query", "kafka_properties"];

fn replayed(target: &str, run: fn(&[u8])) -> usize {
    replay(Path::new(env!("CARGO_MANIFEST_DIR")), target, run).expect("the inputs are readable")
}

#[test]
fn envelope_inputs_are_answered_and_agree_with_the_consumer() {
    assert!(replayed("envelope", fuzzing::envelope) > 0);
}

#[test]
fn consumer_records_end_as_a_document_or_in_the_dead_letter_topic() {
    assert!(replayed("consumer_record", fuzzing::consumer_record) > 0);
}

#[test]
fn query_strings_give_a_filter_or_a_400() {
    assert!(replayed("query", fuzzing::query) > 0);
}

#[test]
fn kafka_properties_lose_nothing_or_fail() {
    assert!(replayed("kafka_properties", fuzzing::kafka_properties) > 0);
}

#[test]
fn every_input_directory_belongs_to_a_target() {
    let dirs = input_dirs(Path::new(env!("CARGO_MANIFEST_DIR"))).expect("fuzz/ is readable");
    for dir in dirs {
        assert!(
            TARGETS.contains(&dir.as_str()),
            "fuzz/*/{dir} is no target of this crate"
        );
    }
}
