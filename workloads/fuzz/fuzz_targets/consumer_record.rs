//! Fuzz target: see `eventflow_workloads::fuzzing::consumer_record`.
#![no_main]

libfuzzer_sys::fuzz_target!(|input: &[u8]| eventflow_workloads::fuzzing::consumer_record(input));
