//! Who holds a pipeline's partitions: status says when partitions have no owner or a consumer
//! holds none, and only consumers that hold partitions count as capacity in the lag-based
//! decision. The local runtime reads it from its consumers' `/metrics`
//! ([`crate::local::assignment`]); the operator from the group coordinator
//! ([`crate::kafka::lag`]).

use serde::Serialize;

/// The partitions' owners among the consumers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Assignment {
    /// Partitions held by a consumer.
    pub assigned_partitions: u32,
    /// Consumers that hold no partition.
    pub consumers_holding_none: u32,
    /// Consumers that hold partitions (and, where readiness is known, are ready): the capacity
    /// the lag-based decision counts.
    pub working_consumers: u32,
}

impl Assignment {
    /// `assigned 1/4`, and how many consumers hold none when some do.
    pub fn describe(&self, partitions: impl std::fmt::Display) -> String {
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
