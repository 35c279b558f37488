//! Fuzz target: see `eventflow_operator::fuzzing::pipeline_yaml`.
#![no_main]

libfuzzer_sys::fuzz_target!(|input: &[u8]| eventflow_operator::fuzzing::pipeline_yaml(input));
