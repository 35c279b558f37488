//! Fuzz target: see `eventflow_workloads::fuzzing::query`.
#![no_main]

libfuzzer_sys::fuzz_target!(|input: &[u8]| eventflow_workloads::fuzzing::query(input));
