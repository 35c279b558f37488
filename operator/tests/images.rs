//! The container images of `make images` under a real container runtime (podman with runc), run
//! as the chart and the operator's Deployments run them: read-only root file system, every
//! capability dropped, uid 65532. `scripts/test.sh` builds the images and exports
//! `EVENTFLOW_IMAGE_TAG` and the dev services' addresses; without them every test fails.
#![expect(
    clippy::expect_used,
    reason = "test helpers fail the test on any error"
)]

use std::{
    process::{Command, Output},
    time::{Duration, Instant},
};

use eventflow_workloads::testkit::{self, DevServices, unique_name};

const IMAGES_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/images.sh");
/// How the Deployments' security context runs a container.
const HARDENED: [&str; 7] = [
    "--read-only",
    "--cap-drop",
    "ALL",
    "--user",
    "65532",
    "--security-opt",
    "no-new-privileges",
];

fn image(name: &str) -> String {
    let tag = std::env::var("EVENTFLOW_IMAGE_TAG")
        .expect("EVENTFLOW_IMAGE_TAG is not set: run the image tests through `make test`, which builds the images");
    format!("{name}:{tag}")
}

/// `podman ARGS` with the project's container storage.
fn podman(args: &[&str]) -> Output {
    Command::new(IMAGES_SCRIPT)
        .arg("podman")
        .args(args)
        .output()
        .expect("run scripts/images.sh podman")
}

fn run_hardened(image: &str, args: &[&str]) -> Output {
    let mut all = vec!["run", "--rm"];
    all.extend(HARDENED);
    all.push(image);
    all.extend(args);
    podman(&all)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn each_image_answers_help_read_only_without_capabilities_as_uid_65532() {
    for (name, subcommands) in [
        ("eventflow-operator", &["run", "local", "crdgen"][..]),
        ("eventflow", &["producer", "consumer", "loadgen"][..]),
    ] {
        let image = image(name);
        let out = run_hardened(&image, &["--help"]);
        let stdout = text(&out.stdout);
        assert!(
            out.status.success(),
            "{image} --help failed: {}\n{stdout}{}",
            out.status,
            text(&out.stderr)
        );
        for subcommand in subcommands {
            assert!(
                stdout.contains(subcommand),
                "{image} --help does not list `{subcommand}`:\n{stdout}"
            );
        }
        let user = podman(&["image", "inspect", "--format", "{{.Config.User}}", &image]);
        assert_eq!(text(&user.stdout).trim(), "65532:65532", "{image}'s user");
    }
}

/// A detached container, removed when the test ends.
struct Container(String);

impl Drop for Container {
    fn drop(&mut self) {
        podman(&["rm", "--force", "--time", "2", &self.0]);
    }
}

#[tokio::test]
async fn a_producer_container_serves_readyz_against_the_dev_kafka() {
    let services = DevServices::from_env().expect("dev services");
    let topic = unique_name("image-producer");
    testkit::create_topic(&services.kafka_bootstrap, &topic, 1)
        .await
        .expect("create topic");
    let (http, admin) = (
        testkit::free_port().expect("port"),
        testkit::free_port().expect("port"),
    );
    let name = unique_name("eventflow-producer");
    let env = [
        format!(
            "{}={}",
            eventflow_contract::KAFKA_BOOTSTRAP,
            services.kafka_bootstrap
        ),
        format!(
            "{}={}",
            eventflow_contract::MONGODB_URI,
            services.mongodb_uri
        ),
        format!("{}={topic}", eventflow_contract::TOPIC),
        format!("{}={http}", eventflow_contract::HTTP_PORT),
        format!("{}={admin}", eventflow_contract::ADMIN_PORT),
        format!("{}=127.0.0.1", eventflow_contract::BIND_ADDRESS),
    ];
    let mut args = vec!["run", "--detach", "--name", &name, "--network", "host"];
    args.extend(HARDENED);
    for pair in &env {
        args.extend(["--env", pair.as_str()]);
    }
    let image = image("eventflow");
    args.extend([image.as_str(), "producer"]);
    let started = podman(&args);
    assert!(
        started.status.success(),
        "podman run {image} producer: {}",
        text(&started.stderr)
    );
    let container = Container(name);

    let url = format!("http://127.0.0.1:{admin}/readyz");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(answer) = reqwest::get(&url).await
            && answer.status() == 200
        {
            break;
        }
        if Instant::now() > deadline {
            let logs = podman(&["logs", &container.0]);
            panic!(
                "the producer container was not ready within 60 s; its log:\n{}{}",
                text(&logs.stdout),
                text(&logs.stderr)
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
