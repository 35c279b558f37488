//! Who holds the topic's partitions, as the group coordinator describes the group (librdkafka's
//! group listing: a `ListGroups` to every broker, then a `DescribeGroups` of the group).
//!
//! Only a group in a settled state answers: `Stable` (each member's assignment, in the consumer
//! protocol's encoding) or `Empty`/`Dead` (no member, so no partition held). During a rebalance
//! the coordinator reports no assignments although cooperative members keep theirs, and a group
//! of the KIP-848 protocol is not described through this API: both give no answer, and the
//! operator falls back to the consumer pods' readiness. A member that died holds its partitions
//! in this view until its session times out.

use std::time::Duration;

use rdkafka::{ClientContext, client::Client, groups::GroupInfo};

use crate::scaling::assignment::Assignment;

/// The coordinator's view of `group`'s hold on `topic` (of `partitions` partitions), or `None`
/// when it has none to give now (a rebalance, another protocol, an error: logged at debug).
pub fn read<C: ClientContext>(
    client: &Client<C>,
    group: &str,
    topic: &str,
    partitions: usize,
    timeout: Duration,
) -> Option<Assignment> {
    let list = client
        .fetch_group_list(Some(group), timeout)
        .inspect_err(|error| tracing::debug!(group, %error, "describing the group failed"))
        .ok()?;
    let Some(described) = list.groups().iter().find(|g| g.name() == group) else {
        return Some(Assignment::default());
    };
    of(described, topic, partitions)
}

/// The assignment a described group shows for `topic`; `None` unless the group is settled.
fn of(group: &GroupInfo, topic: &str, partitions: usize) -> Option<Assignment> {
    let assignments = group.members().iter().map(|member| member.assignment());
    settled(
        group.state(),
        group.protocol_type(),
        assignments,
        topic,
        partitions,
    )
}

fn settled<'a>(
    state: &str,
    protocol_type: &str,
    assignments: impl Iterator<Item = Option<&'a [u8]>>,
    topic: &str,
    partitions: usize,
) -> Option<Assignment> {
    match state {
        "Empty" | "Dead" => return Some(Assignment::default()),
        "Stable" if protocol_type == "consumer" => {}
        _ => return None,
    }
    let mut held = vec![false; partitions];
    let mut assignment = Assignment::default();
    for bytes in assignments {
        let mine = partitions_of(bytes.unwrap_or_default(), topic)?;
        if mine.is_empty() {
            assignment.consumers_holding_none += 1;
        } else {
            assignment.working_consumers += 1;
        }
        for partition in mine {
            if let Some(slot) = usize::try_from(partition)
                .ok()
                .and_then(|p| held.get_mut(p))
            {
                *slot = true;
            }
        }
    }
    assignment.assigned_partitions = u32::try_from(held.iter().filter(|h| **h).count()).ok()?;
    Some(assignment)
}

/// The partitions of `topic` in a member's assignment (the consumer protocol's
/// `ConsumerProtocolAssignment`: version, then [topic, [partition]], then user data); `None`
/// when it does not parse. An empty assignment holds nothing.
fn partitions_of(bytes: &[u8], topic: &str) -> Option<Vec<i32>> {
    if bytes.is_empty() {
        return Some(vec![]);
    }
    let mut reader = Reader(bytes);
    reader.take::<2>()?; // version: the fields read here are the same in every version
    let mut mine = vec![];
    for _ in 0..reader.length()? {
        let name_length = usize::try_from(i16::from_be_bytes(reader.take()?)).ok()?;
        let name = reader.bytes(name_length)?;
        for _ in 0..reader.length()? {
            let partition = i32::from_be_bytes(reader.take()?);
            if name == topic.as_bytes() {
                mine.push(partition);
            }
        }
    }
    Some(mine)
}

/// Big-endian reads off the front of a byte slice.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let bytes = self.bytes(N)?;
        bytes.try_into().ok()
    }

    fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = (self.0.get(..n)?, self.0.get(n..)?);
        self.0 = rest;
        Some(head)
    }

    /// An array's length (`i32`; a null array, -1, is empty).
    fn length(&mut self) -> Option<usize> {
        Some(usize::try_from(i32::from_be_bytes(self.take()?)).unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `ConsumerProtocolAssignment` (version 3) with user data after the partitions.
    fn encoded(topics: &[(&str, &[i32])]) -> Vec<u8> {
        let mut bytes = 3i16.to_be_bytes().to_vec();
        bytes.extend(i32::try_from(topics.len()).unwrap().to_be_bytes());
        for (name, partitions) in topics {
            bytes.extend(i16::try_from(name.len()).unwrap().to_be_bytes());
            bytes.extend(name.as_bytes());
            bytes.extend(i32::try_from(partitions.len()).unwrap().to_be_bytes());
            for partition in *partitions {
                bytes.extend(partition.to_be_bytes());
            }
        }
        bytes.extend(2i32.to_be_bytes());
        bytes.extend([7, 7]);
        bytes
    }

    #[test]
    fn a_stable_group_shows_partitions_held_and_members_holding_none() {
        let members = [
            encoded(&[("orders", &[0, 2]), ("other", &[1])]),
            encoded(&[("other", &[0])]),
            vec![],
            encoded(&[("orders", &[2])]),
        ];
        let assignment = settled(
            "Stable",
            "consumer",
            members.iter().map(|m| Some(m.as_slice())),
            "orders",
            4,
        );
        assert_eq!(
            assignment,
            Some(Assignment {
                assigned_partitions: 2,
                consumers_holding_none: 2,
                working_consumers: 2,
            })
        );
    }

    #[test]
    fn only_a_settled_consumer_group_answers() {
        let member = encoded(&[("orders", &[0])]);
        let answer = |state: &str, protocol_type: &str| {
            settled(
                state,
                protocol_type,
                [Some(member.as_slice())].into_iter(),
                "orders",
                1,
            )
        };
        assert_eq!(
            answer("Stable", "consumer").map(|a| a.assigned_partitions),
            Some(1)
        );
        assert_eq!(answer("Empty", "consumer"), Some(Assignment::default()));
        assert_eq!(answer("Dead", ""), Some(Assignment::default()));
        for (state, protocol_type) in [
            ("PreparingRebalance", "consumer"),
            ("CompletingRebalance", "consumer"),
            ("Stable", "connect"),
        ] {
            assert_eq!(
                answer(state, protocol_type),
                None,
                "{state} {protocol_type}"
            );
        }
    }

    #[test]
    fn a_truncated_assignment_gives_no_answer() {
        let member = encoded(&[("orders", &[0, 1])]);
        for cut in [1, 5, 9, 14] {
            let truncated = &member[..cut];
            assert_eq!(
                settled(
                    "Stable",
                    "consumer",
                    [Some(truncated)].into_iter(),
                    "orders",
                    2
                ),
                None,
                "cut at {cut}"
            );
        }
    }
}
