//! Fuzz target: see `../pipeline_yaml.rs`.
#![no_main]

#[path = "../pipeline_yaml.rs"]
mod fuzzing;

libfuzzer_sys::fuzz_target!(|input: &[u8]| fuzzing::pipeline_yaml(input));
