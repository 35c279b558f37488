//! Who holds the topic's partitions, from each running consumer's `/metrics`: the status says
//! when partitions have no live owner or a consumer holds none, and only consumers that hold
//! partitions count as capacity in the lag-based decision.

use serde::Serialize;

use super::{
    figures::{count, names},
    scrape::Scrape,
};

/// Partitions a consumer holds now (gauge).
pub const ASSIGNED: &str = "eventflow_consumer_assigned_partitions";

/// The partitions' owners among the running consumers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Assignment {
    /// Partitions held by a running consumer.
    pub assigned_partitions: u32,
    /// Running consumers that hold no partition (one not answering yet included).
    pub consumers_holding_none: u32,
    /// Ready consumers that hold partitions: the capacity the lag-based decision counts.
    pub working_consumers: u32,
}

impl Assignment {
    /// From the `/metrics` text of each running consumer (empty for one that did not answer).
    pub fn of<'a>(consumer_metrics: impl IntoIterator<Item = &'a str>, partitions: u32) -> Self {
        let mut assignment = Self::default();
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

    /// `assigned 1/4`, and how many consumers hold none when some do.
    pub fn describe(&self, partitions: i32) -> String {
        let assigned = format!("assigned {}/{partitions}", self.assigned_partitions);
        match self.consumers_holding_none {
            0 => assigned,
            none => format!("{assigned} ({none} holding none)"),
        }
    }
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
            let assignment = Assignment::of(all, partitions);
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

    #[test]
    fn the_description_says_who_holds_nothing() {
        let assignment = Assignment {
            assigned_partitions: 1,
            consumers_holding_none: 1,
            working_consumers: 1,
        };
        assert_eq!(assignment.describe(4), "assigned 1/4 (1 holding none)");
        assert_eq!(
            Assignment {
                consumers_holding_none: 0,
                ..assignment
            }
            .describe(4),
            "assigned 1/4"
        );
    }
}
