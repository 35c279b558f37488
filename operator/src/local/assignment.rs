//! Who holds the topic's partitions, from each running consumer's `/metrics`
//! ([`crate::scaling::assignment`] says what it is for).

use super::{
    figures::{count, names},
    scrape::Scrape,
};
pub use crate::scaling::assignment::Assignment;

/// Partitions a consumer holds now (gauge).
pub const ASSIGNED: &str = "eventflow_consumer_assigned_partitions";

/// From the `/metrics` text of each running consumer (empty for one that did not answer, which
/// counts as holding none).
pub fn of<'a>(consumer_metrics: impl IntoIterator<Item = &'a str>, partitions: u32) -> Assignment {
    let mut assignment = Assignment::default();
    let mut held_in_all = 0;
    for text in consumer_metrics {
        let scrape = Scrape::of([text]);
        let held = count(scrape.sum(ASSIGNED, &[]));
        held_in_all += held;
        if held == 0 {
            assignment.consumers_holding_none += 1;
        } else if count(scrape.sum(names::CONSUMER_READY, &[])) > 0 {
            assignment.working_consumers += 1;
        }
    }
    assignment.assigned_partitions = held_in_all.min(partitions);
    assignment
}
#[cfg(test)]
mod tests {
    use super::*;

    fn consumer(assigned: u32, ready: u32) -> String {
        format!(
            "{ASSIGNED}{{pipeline=\"default/q\"}} {assigned}\n{}{{pipeline=\"default/q\"}} {ready}\n",
            names::CONSUMER_READY
        )
    }

    #[test]
    fn a_consumer_holding_nothing_is_reported_and_not_capacity() {
        // (per consumer (assigned, ready), partitions) -> (assigned, holding none, working)
        let table = [
            (vec![(2, 1), (2, 1)], 4, (4, 0, 2)),
            (vec![(1, 1), (0, 1)], 4, (1, 1, 1)),
            (vec![(0, 1), (0, 1)], 4, (0, 2, 0)),
            (vec![(3, 0), (1, 1)], 4, (4, 0, 1)),
            (vec![(4, 1), (9, 1)], 4, (4, 0, 2)),
        ];
        for (consumers, partitions, expected) in table {
            let texts: Vec<String> = consumers.iter().map(|(a, r)| consumer(*a, *r)).collect();
            let mut all: Vec<&str> = texts.iter().map(String::as_str).collect();
            let answered = all.len();
            all.push("");
            let assignment = of(all, partitions);
            let (assigned, none, working) = expected;
            assert_eq!(
                (
                    assignment.assigned_partitions,
                    assignment.consumers_holding_none,
                    assignment.working_consumers
                ),
                (assigned, none + 1, working),
                "{consumers:?} and one consumer not answering, {partitions} partitions ({answered} answered)"
            );
        }
    }
}
