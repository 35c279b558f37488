//! What the Kubernetes test binaries (`cluster`, `real_node`) share about running commands.

use std::process::Output;

/// The stdout of a command that must succeed.
pub fn ok(what: &str, output: &Output) -> String {
    assert!(
        output.status.success(),
        "{what} failed: {}\n{}",
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}
