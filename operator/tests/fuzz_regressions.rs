//! Every committed fuzz input of this crate (`fuzz/seeds/pipeline_yaml`, and
//! `fuzz/regressions/pipeline_yaml` for those that once found a bug) through the very function
//! its cargo-fuzz target calls, so `make test` replays them without cargo-fuzz.

use std::path::Path;

use eventflow_workloads::fuzzing::{input_dirs, replay};

#[path = "../fuzz/pipeline_yaml.rs"]
mod fuzzing;

#[test]
fn pipeline_files_are_refused_or_start_their_workloads() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let count = replay(crate_dir, "pipeline_yaml", fuzzing::pipeline_yaml)
        .expect("the inputs are readable");
    assert!(count > 0);
    let dirs = input_dirs(crate_dir).expect("fuzz/ is readable");
    assert!(
        dirs.iter().all(|d| d == "pipeline_yaml"),
        "unknown target directories: {dirs:?}"
    );
}
