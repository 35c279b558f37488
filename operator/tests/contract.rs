//! The operator-built env of both Deployments, fed to the workloads' own CLI parser.
//!
//! Every env var is mapped to its clap flag through `Cli::command()` introspection (the arg
//! whose `env` is that name), so no process env is touched; an env var that the workload does
//! not read fails the test, and so does a required flag the operator forgot.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers fail the test on any error"
)]

use clap::CommandFactory;
use eventflow_operator::{
    crd::EventPipeline,
    resources::{self, BuildContext},
};
use eventflow_workloads::cli::{Cli, Command};
use k8s_openapi::api::{apps::v1::Deployment, core::v1::EnvVar};

const RESOLVED_URI: &str = "mongodb://resolved-from-secret:27017";

fn desired(fixture: &str) -> resources::Desired {
    let pipeline: EventPipeline = serde_yaml::from_str(fixture).unwrap();
    let ctx = BuildContext {
        workload_image: "img".to_owned(),
        workload_log_format: eventflow_contract::logs::LogFormat::Json,
        image_pull_secrets: Vec::new(),
    };
    resources::desired(&pipeline, &ctx, resources::consumer::replicas(&pipeline))
}

/// The value the kubelet would give: literals as they are, Secret references resolved.
fn resolve(var: &EnvVar) -> String {
    match (&var.value, &var.value_from) {
        (Some(value), _) => value.clone(),
        (None, Some(from)) if from.secret_key_ref.is_some() => RESOLVED_URI.to_owned(),
        _ => panic!(
            "env var {} has neither a value nor a secret reference",
            var.name
        ),
    }
}

/// `eventflow <subcommand> --flag value ...` from a Deployment's env.
fn argv(deployment: &Deployment) -> Vec<String> {
    let container = &deployment
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap()
        .containers[0];
    let subcommand = container.args.clone().unwrap()[0].clone();
    let cli = Cli::command();
    let workload = cli
        .find_subcommand(&subcommand)
        .expect("the operator runs a known subcommand");
    let mut argv = vec!["eventflow".to_owned(), subcommand.clone()];
    for var in container.env.clone().unwrap() {
        let arg = workload
            .get_arguments()
            .find(|arg| arg.get_env().is_some_and(|env| env == var.name.as_str()))
            .unwrap_or_else(|| panic!("`eventflow {subcommand}` reads no env var {}", var.name));
        argv.push(format!("--{}", arg.get_long().unwrap()));
        argv.push(resolve(&var));
    }
    argv
}

#[test]
fn producer_env_parses_as_the_producer_cli_with_every_value() {
    let desired = desired(include_str!("fixtures/full.yaml"));
    let parsed = Cli::try_parse_from_argv(argv(&desired.producer));
    let Command::Producer(args) = parsed.command else {
        panic!("not the producer")
    };
    let rate = args.rate_limit().unwrap();
    assert_eq!(
        (rate.events_per_second.get(), rate.burst.get()),
        (500, 1000)
    );
    assert_eq!(args.topic, "user-activity-events");
    assert_eq!(
        args.kafka.bootstrap,
        "kafka-0.kafka:9092,kafka-1.kafka:9092"
    );
    assert_eq!(
        args.kafka.properties_file.unwrap().to_str(),
        Some("/etc/eventflow/kafka")
    );
    assert_eq!(args.mongo.uri.expose(), RESOLVED_URI);
    assert_eq!(
        (args.mongo.database.as_str(), args.mongo.collection.as_str()),
        ("analytics", "user_activity")
    );
    assert_eq!(
        args.partition_key,
        "data.userId"
            .parse::<eventflow_workloads::event::PartitionKey>()
            .unwrap()
    );
    assert_eq!(args.allowed_types, vec!["LOGIN", "LOGOUT", "PRODUCT_VIEW"]);
    assert_eq!(
        args.schema_file.unwrap().to_str(),
        Some("/etc/eventflow/schema/schema.json")
    );
    assert_eq!(
        args.auth_tokens_file.unwrap().to_str(),
        Some("/etc/eventflow/auth/tokens")
    );
    let jwt = &args.jwt;
    assert_eq!(
        jwt.jwt_key_file.as_deref().and_then(|p| p.to_str()),
        Some("/etc/eventflow/jwt/key")
    );
    assert_eq!(
        jwt.jwt_algorithm,
        Some(eventflow_workloads::producer::auth::jwt::JwtAlgorithm::Rs256)
    );
    assert_eq!(
        (jwt.jwt_issuer.as_deref(), jwt.jwt_audience.as_deref()),
        (Some("https://users.shop.example"), Some("user-activity"))
    );
    assert_eq!(jwt.jwt_leeway, std::time::Duration::from_secs(30));
    assert_eq!((args.http_port, args.telemetry.admin_port), (8080, 9090));
    assert_eq!(args.telemetry.pipeline, "user-activity");
}

#[test]
fn consumer_env_parses_as_the_consumer_cli_with_every_value() {
    let desired = desired(include_str!("fixtures/full.yaml"));
    let parsed = Cli::try_parse_from_argv(argv(&desired.consumer));
    let Command::Consumer(args) = parsed.command else {
        panic!("not the consumer")
    };
    assert_eq!(args.topic, "user-activity-events");
    assert_eq!(args.group_id, "eventflow-shop-user-activity");
    assert_eq!(
        (args.mongodb_write_concern, args.mongodb_journal),
        (
            eventflow_contract::write_concern::Acknowledgment::Members(1),
            false
        )
    );
    assert_eq!(args.batch_size, 250);
    assert_eq!(args.batch_timeout, std::time::Duration::from_millis(750));
    assert_eq!(
        args.mongodb_ttl,
        Some(std::time::Duration::from_secs(7 * 24 * 3600))
    );
    assert_eq!(args.mongo.uri.expose(), RESOLVED_URI);
    assert_eq!(
        args.schema_file.unwrap().to_str(),
        Some("/etc/eventflow/schema/schema.json")
    );
    assert_eq!(args.telemetry.admin_port, 9090);
}

#[test]
fn minimal_pipeline_env_parses_for_both_workloads() {
    let desired = desired(include_str!("fixtures/minimal.yaml"));
    for deployment in [&desired.producer, &desired.consumer] {
        Cli::try_parse_from_argv(argv(deployment));
    }
}

trait ParseArgv {
    fn try_parse_from_argv(argv: Vec<String>) -> Cli;
}

impl ParseArgv for Cli {
    fn try_parse_from_argv(argv: Vec<String>) -> Cli {
        use clap::Parser;
        Cli::try_parse_from(&argv).unwrap_or_else(|e| panic!("{argv:?} does not parse: {e}"))
    }
}
