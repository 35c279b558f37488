//! How the consumer takes part in its consumer group: the group protocol, the assignment
//! strategy, the session timeout and, optionally, a static member id (`group.instance.id`).
//! The choice and its trade-offs: docs/operations.md, "Consumer group membership".

use std::time::Duration;

use clap::{Args, ValueEnum};
use rdkafka::ClientConfig;

use crate::config::millis;

/// Environment variable of `--group-protocol`.
pub const GROUP_PROTOCOL_ENV: &str = "EVENTFLOW_GROUP_PROTOCOL";
/// Environment variable of `--group-instance-id`.
pub const GROUP_INSTANCE_ID_ENV: &str = "EVENTFLOW_GROUP_INSTANCE_ID";
/// Environment variable of `--session-timeout`.
pub const SESSION_TIMEOUT_ENV: &str = "EVENTFLOW_SESSION_TIMEOUT";

/// Classic protocol: how often a member heartbeats. Each rebalance round waits for every
/// member's next heartbeat, so this bounds how long a leaving member's partitions wait for a
/// new owner (docs/operations.md, "Consumer group membership").
const HEARTBEAT_INTERVAL: Duration = Duration::from_millis(500);

/// The consumer group protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GroupProtocol {
    /// The classic protocol with cooperative-sticky assignment: a rebalance moves only the
    /// partitions that change owner; the session timeout is the client's.
    Classic,
    /// KIP-848 (Kafka 4): the broker assigns; session timeout and heartbeat are broker settings.
    Consumer,
}

/// The consumer's membership settings.
#[derive(Debug, Clone, Args)]
pub struct Membership {
    /// Consumer group protocol: `classic` (cooperative-sticky assignment) or `consumer`
    /// (KIP-848, Kafka 4 brokers; session timeout set by the broker).
    #[arg(long, env = GROUP_PROTOCOL_ENV, value_enum, default_value = "classic")]
    pub group_protocol: GroupProtocol,
    /// Static member id (`group.instance.id`): a member restarted with the same id takes its
    /// partitions back without a rebalance, but a member that stops keeps its partitions
    /// unowned until its session times out. Unset: a dynamic member.
    #[arg(long, env = GROUP_INSTANCE_ID_ENV)]
    pub group_instance_id: Option<String>,
    /// Classic protocol: time without a heartbeat after which the group reassigns a member's
    /// partitions (at least the broker's `group.min.session.timeout.ms`, 6 s by default).
    #[arg(long, env = SESSION_TIMEOUT_ENV, default_value = "6s", value_parser = eventflow_contract::duration::parse)]
    pub session_timeout: Duration,
}

impl Membership {
    /// Sets the properties the properties file does not set itself.
    pub fn apply(&self, config: &mut ClientConfig) {
        let mut settings = vec![];
        match self.group_protocol {
            GroupProtocol::Classic => settings.extend([
                ("group.protocol", "classic".to_owned()),
                (
                    "partition.assignment.strategy",
                    "cooperative-sticky".to_owned(),
                ),
                ("session.timeout.ms", millis(self.session_timeout)),
                (
                    "heartbeat.interval.ms",
                    // At most a third of the session, Kafka's rule for the ratio.
                    millis(HEARTBEAT_INTERVAL.min(self.session_timeout / 3)),
                ),
            ]),
            GroupProtocol::Consumer => settings.push(("group.protocol", "consumer".to_owned())),
        }
        if let Some(id) = &self.group_instance_id {
            settings.push(("group.instance.id", id.clone()));
        }
        for (key, value) in settings {
            if config.get(key).is_none() {
                config.set(key, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn membership(protocol: GroupProtocol, id: Option<&str>) -> Membership {
        Membership {
            group_protocol: protocol,
            group_instance_id: id.map(str::to_owned),
            session_timeout: Duration::from_secs(6),
        }
    }

    #[test]
    fn the_classic_protocol_is_cooperative_with_frequent_heartbeats() {
        let mut config = ClientConfig::new();
        membership(GroupProtocol::Classic, None).apply(&mut config);
        assert_eq!(
            config.get("partition.assignment.strategy"),
            Some("cooperative-sticky")
        );
        assert_eq!(config.get("session.timeout.ms"), Some("6000"));
        assert_eq!(config.get("heartbeat.interval.ms"), Some("500"));
        assert_eq!(config.get("group.instance.id"), None);
    }

    #[test]
    fn the_consumer_protocol_sets_no_client_side_session_and_the_file_wins() {
        let mut config = ClientConfig::new();
        config.set("group.instance.id", "from-file");
        membership(GroupProtocol::Consumer, Some("pod-0")).apply(&mut config);
        assert_eq!(config.get("group.protocol"), Some("consumer"));
        assert_eq!(config.get("session.timeout.ms"), None);
        assert_eq!(config.get("partition.assignment.strategy"), None);
        assert_eq!(config.get("group.instance.id"), Some("from-file"));
    }
}
