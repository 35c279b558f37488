//! The event envelope (CloudEvents 1.0 where it fits), its validation and JSON Schema checks.
