//! Names derived from a pipeline's names, defined once for the operator and the workloads.

/// The dead-letter topic of `topic`: `<topic>.dlq`.
pub fn dead_letter_topic(topic: &str) -> String {
    format!("{topic}.dlq")
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_dead_letter_topic_is_the_topic_with_a_dlq_suffix() {
        assert_eq!(super::dead_letter_topic("orders"), "orders.dlq");
    }
}
