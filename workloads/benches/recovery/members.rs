//! The consumer processes of one run: started, killed, stopped and restarted like pods,
//! each with the group settings of the configuration under test.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use anyhow::Result;
use eventflow_workloads::{
    consumer::membership::{GROUP_INSTANCE_ID_ENV, GROUP_PROTOCOL_ENV, SESSION_TIMEOUT_ENV},
    testkit::{DevServices, free_port, metric_sum},
};

pub const BATCH: usize = 100;
pub const DATABASE: &str = "eventflow_bench";

/// One configuration of group membership under test.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    pub name: &'static str,
    /// `--group-protocol`.
    pub protocol: &'static str,
    /// `--session-timeout` (classic protocol only).
    pub session: &'static str,
    /// Static members: `group.instance.id` from the member's name.
    pub static_members: bool,
    /// librdkafka properties that override the consumer's own (the file of `kafka.secretRef`).
    pub properties: &'static str,
}

/// What one run shares: the services, the topic and group, a directory for logs.
pub struct Group {
    pub services: DevServices,
    pub topic: String,
    pub config: Config,
    pub dir: PathBuf,
}

/// One consumer process, named like a pod.
pub struct Member {
    pub name: String,
    pub port: u16,
    child: Child,
}

impl Group {
    /// Starts a consumer named `name` (its identity when members are static).
    pub fn start(&self, name: &str) -> Result<Member> {
        let port = free_port()?;
        let log = std::fs::File::create(self.dir.join(format!("{name}.log")))?;
        let mut command = Command::new(env!("CARGO_BIN_EXE_eventflow"));
        command
            .arg("consumer")
            .args(["--kafka-bootstrap", &self.services.kafka_bootstrap])
            .args(["--mongodb-uri", &self.services.mongodb_uri])
            .args([
                "--mongodb-database",
                DATABASE,
                "--mongodb-collection",
                &self.topic,
            ])
            .args(["--topic", &self.topic, "--group-id", &self.topic])
            .args(["--batch-size", &BATCH.to_string(), "--batch-timeout", "1s"])
            .args([
                "--admin-port",
                &port.to_string(),
                "--bind-address",
                "127.0.0.1",
            ])
            .env(GROUP_PROTOCOL_ENV, self.config.protocol)
            .env(SESSION_TIMEOUT_ENV, self.config.session)
            .env("RUST_LOG", "info")
            .stdout(log.try_clone()?)
            .stderr(log)
            .stdin(Stdio::null());
        if self.config.static_members {
            command.env(GROUP_INSTANCE_ID_ENV, name);
        }
        if !self.config.properties.is_empty() {
            command
                .arg("--kafka-properties-file")
                .arg(self.properties_file()?);
        }
        Ok(Member {
            name: name.to_owned(),
            port,
            child: command.spawn()?,
        })
    }

    fn properties_file(&self) -> Result<PathBuf> {
        let path = self.dir.join("kafka.properties");
        std::fs::write(&path, self.config.properties)?;
        Ok(path)
    }

    pub fn logs(&self) -> &Path {
        &self.dir
    }
}

impl Member {
    /// SIGKILL, as a crash or an OOM kill.
    pub fn kill(mut self) -> Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }

    /// SIGTERM, as a rolling restart or a scale-down; waits for the exit.
    pub fn terminate(mut self) -> Result<()> {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()?;
        self.child.wait()?;
        Ok(())
    }

    /// Partitions the member holds, from its `/metrics` (`None` while it does not answer).
    pub async fn assigned(client: &reqwest::Client, port: u16) -> Option<i64> {
        let response = client
            .get(format!("http://127.0.0.1:{port}/metrics"))
            .timeout(Duration::from_millis(500))
            .send()
            .await
            .ok()?;
        let text = response.text().await.ok()?;
        let value = metric_sum(&text, "eventflow_consumer_assigned_partitions", "");
        #[expect(clippy::cast_possible_truncation, reason = "a partition count")]
        Some(value as i64)
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        drop(self.child.kill());
        drop(self.child.wait());
    }
}
