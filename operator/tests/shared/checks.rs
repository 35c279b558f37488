//! What the Kubernetes test binaries (`cluster`, `real_node`) and the scale benchmark share: a
//! command that must succeed, and a condition to wait for.

use std::{
    process::Output,
    time::{Duration, Instant},
};

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

/// Polls `check` every 200 ms until it returns `Some`, failing after `timeout` with `what`.
/// It blocks its thread: async tests that run other tasks meanwhile use a multi-thread runtime.
pub fn wait_for<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
