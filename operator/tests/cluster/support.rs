//! What the cluster tests share: the control plane's kubectl and helm, one helm release of the
//! chart, and operators running as local processes with that release's service account token,
//! one per test namespace (so a test sees only its own operator's writes, and may kill it).
//!
//! `scripts/test.sh` starts the dev cluster and the dev services and exports `KUBECONFIG` (the
//! admin kubeconfig), `PATH` (kubectl, helm) and `EVENTFLOW_KAFKA_BOOTSTRAP`; without them every
//! test fails with a message that says so, never skips.

use std::{
    io::Write,
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    sync::{OnceLock, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard},
    time::{Duration, Instant},
};

use eventflow_workloads::testkit::{free_port, unique_name};
use serde_json::Value;

/// The chart in the checkout.
pub const CHART: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../charts/eventflow");
/// The repository root.
pub const REPO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
/// The operator binary cargo built for these tests.
pub const OPERATOR_BIN: &str = env!("CARGO_BIN_EXE_eventflow-operator");

/// The environment the test command provides.
#[derive(Debug)]
pub struct Env {
    /// The admin kubeconfig of the dev cluster.
    pub admin_kubeconfig: PathBuf,
    /// The dev Kafka's bootstrap servers.
    pub kafka: String,
    /// The dev MongoDB's URI (the operator pings it as the pipelines' sink).
    pub mongodb: String,
    /// Scratch directory of this test process (kubeconfigs, operator logs).
    pub scratch: PathBuf,
}

/// The environment, or a failure naming what is missing.
pub fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        let hint = "the cluster tests need the dev cluster and the dev services: run them through \
                    `make test` (or `eval \"$(scripts/dev-cluster.sh start)\"` and \
                    `eval \"$(scripts/dev-services.sh start)\"`)";
        let kubeconfig =
            std::env::var("KUBECONFIG").unwrap_or_else(|_| panic!("KUBECONFIG is not set; {hint}"));
        let kafka = std::env::var("EVENTFLOW_KAFKA_BOOTSTRAP")
            .unwrap_or_else(|_| panic!("EVENTFLOW_KAFKA_BOOTSTRAP is not set; {hint}"));
        let mongodb = std::env::var("EVENTFLOW_MONGODB_URI")
            .unwrap_or_else(|_| panic!("EVENTFLOW_MONGODB_URI is not set; {hint}"));
        for tool in ["kubectl", "helm"] {
            let found = Command::new(tool).arg("version").output();
            assert!(
                found.is_ok_and(|o| o.status.success()),
                "`{tool} version` failed (not on PATH?); {hint}"
            );
        }
        let scratch = std::env::temp_dir().join(unique_name("eventflow-cluster-tests"));
        std::fs::create_dir_all(&scratch).unwrap();
        Env {
            admin_kubeconfig: PathBuf::from(kubeconfig),
            kafka,
            mongodb,
            scratch,
        }
    })
}

/// Runs a command, returning its output (stdout, stderr, status).
pub fn run(program: &str, args: &[&str], stdin: Option<&str>, kubeconfig: &Path) -> Output {
    let mut child = Command::new(program)
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    let mut input = child.stdin.take().unwrap();
    input
        .write_all(stdin.unwrap_or_default().as_bytes())
        .unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

/// kubectl as the cluster admin.
pub fn kubectl(args: &[&str]) -> Output {
    run("kubectl", args, None, &env().admin_kubeconfig)
}

/// kubectl as the admin with `input` on stdin.
pub fn kubectl_stdin(args: &[&str], input: &str) -> Output {
    run("kubectl", args, Some(input), &env().admin_kubeconfig)
}

pub use crate::checks::{ok, wait_for};

/// The stderr of a command that must fail.
pub fn refused(what: &str, output: &Output) -> String {
    assert!(
        !output.status.success(),
        "{what} was accepted: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// kubectl as the admin; fails the test unless it succeeds.
pub fn kubectl_ok(args: &[&str]) -> String {
    ok(&format!("kubectl {}", args.join(" ")), &kubectl(args))
}

/// helm as the admin; fails the test unless it succeeds.
pub fn helm_ok(args: &[&str]) -> String {
    let output = run("helm", args, None, &env().admin_kubeconfig);
    ok(&format!("helm {}", args.join(" ")), &output)
}

/// An object as JSON, `None` when it does not exist.
/// `kubectl patch eventpipeline NAME --type merge -p PATCH`.
pub fn patch(namespace: &str, name: &str, patch: &Value) -> Output {
    kubectl(&[
        "-n",
        namespace,
        "patch",
        "eventpipeline",
        name,
        "--type",
        "merge",
        "-p",
        &patch.to_string(),
    ])
}

/// The Kafka topic of a pipeline object (set by [`example`]).
pub fn topic_of(pipeline: &Value) -> String {
    pipeline["spec"]["topic"]["name"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The Secret of bearer tokens `examples/transactions.yaml` refers to.
pub fn transactions_tokens(namespace: &str) {
    kubectl_ok(&[
        "-n",
        namespace,
        "create",
        "secret",
        "generic",
        "transactions-ingest-tokens",
        "--from-literal=tokens=t0ken",
    ]);
}

/// (type, note) of the `events.k8s.io` Events of the namespace matching `field_selector`.
pub fn events(namespace: &str, field_selector: &str) -> Vec<(String, String)> {
    let text = |event: &Value, field: &str| event[field].as_str().unwrap_or_default().to_owned();
    event_objects(namespace, field_selector)
        .iter()
        .map(|event| (text(event, "type"), text(event, "note")))
        .collect()
}

/// The `events.k8s.io` Events in `namespace` matching `field_selector`, as JSON.
pub fn event_objects(namespace: &str, field_selector: &str) -> Vec<Value> {
    let events: Value = serde_json::from_str(&kubectl_ok(&[
        "-n",
        namespace,
        "get",
        "events.events.k8s.io",
        "--field-selector",
        field_selector,
        "-o",
        "json",
    ]))
    .unwrap();
    events["items"].as_array().unwrap().clone()
}

/// The notes of the `severity` (`Normal`, `Warning`) Events with `reason` on pipeline `name`.
pub fn pipeline_events(namespace: &str, name: &str, severity: &str, reason: &str) -> Vec<String> {
    let selector = format!("regarding.kind=EventPipeline,regarding.name={name},reason={reason}");
    events(namespace, &selector)
        .into_iter()
        .filter(|(type_, _)| type_ == severity)
        .map(|(_, note)| note)
        .collect()
}

/// Waits for a `severity` Event with `reason` on pipeline `name`; the notes of all of them.
pub fn wait_event(namespace: &str, name: &str, severity: &str, reason: &str) -> Vec<String> {
    let what = format!("a {severity} {reason} Event on {name}");
    wait_for(&what, CONVERGE, || {
        let notes = pipeline_events(namespace, name, severity, reason);
        (!notes.is_empty()).then_some(notes)
    })
}

pub fn get(kind: &str, namespace: &str, name: &str) -> Option<Value> {
    let output = kubectl(&["-n", namespace, "get", kind, name, "-o", "json"]);
    if output.status.success() {
        return Some(serde_json::from_slice(&output.stdout).unwrap());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("NotFound"),
        "kubectl get {kind} {name}: {stderr}"
    );
    None
}

/// Held by every test while it uses the cluster; the API server restart takes it exclusively.
static CLUSTER: RwLock<()> = RwLock::new(());

/// The cluster, shared with the other tests (held for the whole test).
pub fn shared() -> RwLockReadGuard<'static, ()> {
    CLUSTER.read().unwrap_or_else(PoisonError::into_inner)
}

/// The cluster for this test alone (no other test runs while it is held).
pub fn exclusive() -> RwLockWriteGuard<'static, ()> {
    CLUSTER.write().unwrap_or_else(PoisonError::into_inner)
}

/// Restarts the API server of the dev cluster (same port, same etcd), waiting until it answers.
pub fn restart_api_server() {
    let dir = std::env::var("EVENTFLOW_CLUSTER_DIR").unwrap_or_else(|_| {
        panic!("EVENTFLOW_CLUSTER_DIR is not set (scripts/dev-cluster.sh env)")
    });
    let output = Command::new(format!("{REPO}/scripts/dev-cluster.sh"))
        .args(["restart", "kube-apiserver"])
        .env("EVENTFLOW_CLUSTER_DIR", dir)
        .output()
        .unwrap();
    ok("dev-cluster.sh restart kube-apiserver", &output);
}

/// A condition of a pipeline: (status, reason, message, observedGeneration).
pub fn condition(pipeline: &Value, type_: &str) -> Option<(String, String, String, i64)> {
    let conditions = pipeline["status"]["conditions"].as_array()?;
    let found = conditions.iter().find(|c| c["type"] == type_)?;
    let text = |key: &str| found[key].as_str().unwrap_or_default().to_owned();
    Some((
        text("status"),
        text("reason"),
        text("message"),
        found["observedGeneration"].as_i64().unwrap_or(-1),
    ))
}

/// Waits until the pipeline's status reflects its current generation and `accept` holds.
pub fn wait_pipeline(
    namespace: &str,
    name: &str,
    what: &str,
    timeout: Duration,
    accept: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + timeout;
    loop {
        let pipeline = get("eventpipeline", namespace, name);
        if let Some(pipeline) = &pipeline {
            let current =
                pipeline["status"]["observedGeneration"] == pipeline["metadata"]["generation"];
            if current && accept(pipeline) {
                return pipeline.clone();
            }
        }
        if Instant::now() > deadline {
            let log = std::fs::read_to_string(operator_log(namespace)).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(20).collect();
            panic!(
                "timed out after {timeout:?} waiting for {namespace}/{name}: {what}; last seen: {:#}\n\
                 operator log (newest first):\n{}",
                pipeline.unwrap_or_default(),
                tail.join("\n")
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Whether the pipeline's `Ready` condition is `True` for its current generation.
pub fn is_ready(pipeline: &Value) -> bool {
    let generation = pipeline["metadata"]["generation"].as_i64().unwrap_or(0);
    condition(pipeline, "Ready").is_some_and(|(s, _, _, g)| s == "True" && g == generation)
}

/// A namespace of one test, deleted (without waiting) when the test ends.
#[derive(Debug)]
pub struct Namespace(pub String);

/// The log of the operator of a test namespace.
pub fn operator_log(namespace: &str) -> PathBuf {
    env().scratch.join(format!("operator-{namespace}.log"))
}

/// A namespace of one test with its own operator (the chart's service account token, watching
/// only this namespace, short retries); the operator is killed when the test ends.
#[derive(Debug)]
pub struct Watched {
    /// The namespace (field order: deleted before the operator goes).
    pub ns: Namespace,
    /// Its operator, alive as long as the test holds this.
    operator: OperatorProcess,
}

impl Watched {
    /// A fresh namespace and its operator.
    pub fn new(prefix: &str) -> Self {
        Self::with_args(prefix, &[])
    }

    /// A fresh namespace and its operator, run with `extra` arguments.
    pub fn with_args(prefix: &str, extra: &[&str]) -> Self {
        let ns = Namespace::new(prefix);
        let operator = start_operator(&ns.0, &ns.0, extra);
        Self { ns, operator }
    }

    /// The operator's `/metrics`.
    pub fn metrics_url(&self) -> String {
        format!("http://127.0.0.1:{}/metrics", self.operator.metrics_port)
    }
}

/// Starts an operator for `namespace` as the chart's service account, with leader election on a
/// Lease named after `identity` (so operators of different tests never compete).
pub fn start_operator(namespace: &str, identity: &str, extra: &[&str]) -> OperatorProcess {
    let installed = installed();
    let lease = format!("lease-{namespace}");
    // Short retries, so the unreachable-Kafka deletion gives up within the tests' bounds.
    let mut args = vec![
        "--namespace",
        namespace,
        "--lease-name",
        &lease,
        "--cleanup-attempts",
        "3",
        "--backoff-base",
        "1s",
    ];
    args.extend_from_slice(extra);
    OperatorProcess::start(
        &installed.kubeconfig,
        &installed.namespace,
        identity,
        &env().scratch.join(format!("operator-{identity}.log")),
        &args,
    )
}

impl Namespace {
    /// A fresh namespace with the `mongodb` Secret the examples refer to (the dev MongoDB).
    pub fn new(prefix: &str) -> Self {
        let name = unique_name(prefix).to_lowercase();
        kubectl_ok(&["create", "namespace", &name]);
        kubectl_ok(&[
            "-n",
            &name,
            "create",
            "secret",
            "generic",
            "mongodb",
            &format!("--from-literal=uri={}", env().mongodb),
        ]);
        Self(name)
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = kubectl(&["delete", "namespace", &self.0, "--wait=false"]);
    }
}

/// The pipelines of an example file, placed in `namespace`, on the dev Kafka, with topic names
/// unique to the namespace.
pub fn example(file: &str, namespace: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(format!("{REPO}/examples/{file}")).unwrap();
    serde_yaml::Deserializer::from_str(&text)
        .map(|doc| {
            let mut pipeline: Value = serde::Deserialize::deserialize(doc).unwrap();
            pipeline["metadata"]["namespace"] = namespace.into();
            pipeline["spec"]["kafka"]["bootstrapServers"] = env().kafka.clone().into();
            let topic = pipeline["spec"]["topic"]["name"]
                .as_str()
                .or(pipeline["metadata"]["name"].as_str())
                .unwrap()
                .to_owned();
            pipeline["spec"]["topic"]["name"] = format!("{namespace}.{topic}").into();
            pipeline
        })
        .collect()
}

/// `kubectl apply` of objects given as JSON (the chart and its CRD installed first).
pub fn apply(objects: &[Value]) -> String {
    installed(); // the CRD, before the first EventPipeline
    let input = objects
        .iter()
        .map(|o| serde_json::to_string(o).unwrap())
        .collect::<Vec<_>>()
        .join("\n---\n");
    let output = kubectl_stdin(&["apply", "-f", "-"], &input);
    ok("kubectl apply", &output)
}

/// The shared helm release whose service account the operators act as.
#[derive(Debug)]
pub struct Installed {
    /// Namespace of the release (and of the leader-election Lease).
    pub namespace: String,
    /// The release's service account.
    pub service_account: String,
    /// Kubeconfig with that service account's token.
    pub kubeconfig: PathBuf,
}

/// Installs the chart once per test process and writes its service account's kubeconfig.
pub fn installed() -> &'static Installed {
    static INSTALLED: OnceLock<Installed> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let env = env();
        let namespace = unique_name("eventflow-system").to_lowercase();
        let release = name("ef");
        kubectl_ok(&["apply", "--server-side", "-f", &format!("{REPO}/crds/")]);
        helm_install(&release, &namespace, &[]);
        let service_account = format!("{release}-eventflow");
        let kubeconfig = env.scratch.join("operator.kubeconfig");
        write_token_kubeconfig(&namespace, &service_account, &kubeconfig);
        Installed {
            namespace,
            service_account,
            kubeconfig,
        }
    })
}

/// `helm install` into a fresh namespace, waiting until the operator Deployment is Available.
pub fn helm_install(release: &str, namespace: &str, extra: &[&str]) -> String {
    let mut args = vec![
        "install",
        release,
        CHART,
        "--namespace",
        namespace,
        "--create-namespace",
        "--wait",
        "--timeout",
        "90s",
    ];
    args.extend_from_slice(extra);
    helm_ok(&args)
}

/// Writes a kubeconfig that authenticates as `namespace/service_account` with a `TokenRequest`
/// token (`kubectl create token`) and trusts the cluster CA.
pub fn write_token_kubeconfig(namespace: &str, service_account: &str, path: &Path) {
    let token = kubectl_ok(&[
        "-n",
        namespace,
        "create",
        "token",
        service_account,
        "--duration=2h",
    ]);
    let field = |path: &str| {
        kubectl_ok(&[
            "config",
            "view",
            "--raw",
            "--minify",
            "-o",
            &format!("jsonpath={path}"),
        ])
    };
    let server = field("{.clusters[0].cluster.server}");
    let ca = field("{.clusters[0].cluster.certificate-authority-data}");
    let config = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "dev", "cluster": {"server": server, "certificate-authority-data": ca}}],
        "users": [{"name": service_account, "user": {"token": token.trim()}}],
        "contexts": [{"name": "sa", "context": {"cluster": "dev", "user": service_account}}],
        "current-context": "sa",
    });
    std::fs::write(path, serde_json::to_string(&config).unwrap()).unwrap();
}

/// An operator process (`eventflow-operator run`) outside the cluster, killed when dropped.
///
/// It runs under a small shell watchdog that kills it once this test process is gone, so a
/// detached operator never outlives the tests.
#[derive(Debug)]
pub struct OperatorProcess {
    watchdog: Child,
    /// PID of the operator itself.
    pub pid: u32,
    /// Port of its `/metrics`, `/healthz` and `/readyz`.
    pub metrics_port: u16,
    /// Its log.
    pub log: PathBuf,
}

impl OperatorProcess {
    /// Starts `eventflow-operator run` with leader election in `lease_namespace` as `identity`.
    pub fn start(
        kubeconfig: &Path,
        lease_namespace: &str,
        identity: &str,
        log: &Path,
        extra: &[&str],
    ) -> Self {
        let port = free_port().unwrap();
        let pid_file = log.with_extension("pid");
        let _ = std::fs::remove_file(&pid_file);
        let script = r#"log=$1 pidfile=$2 parent=$3; shift 3
"$@" >>"$log" 2>&1 &
child=$!
echo "$child" >"$pidfile"
trap 'kill -9 $child 2>/dev/null; exit 0' TERM
while kill -0 "$parent" 2>/dev/null && kill -0 "$child" 2>/dev/null; do sleep 0.5; done
kill -9 "$child" 2>/dev/null
wait"#;
        let port_text = port.to_string();
        let mut args = vec![
            "-c",
            script,
            "watchdog",
            log.to_str().unwrap(),
            pid_file.to_str().unwrap(),
        ];
        let parent = std::process::id().to_string();
        args.push(&parent);
        args.extend_from_slice(&[
            OPERATOR_BIN,
            "run",
            "--metrics-port",
            &port_text,
            "--lease-namespace",
            lease_namespace,
            "--identity",
            identity,
            "--log-format",
            "plain",
        ]);
        args.extend_from_slice(extra);
        let watchdog = Command::new("sh")
            .args(&args)
            .env("KUBECONFIG", kubeconfig)
            // The scale benchmark asks for less (`EVENTFLOW_OPERATOR_RUST_LOG=info`): logging
            // every reconcile of a thousand pipelines would be part of what it measures.
            .env(
                "RUST_LOG",
                std::env::var("EVENTFLOW_OPERATOR_RUST_LOG")
                    .unwrap_or_else(|_| "info,eventflow_operator=debug".to_owned()),
            )
            // The Events' reportingInstance.
            .env("POD_NAME", identity)
            .env_remove("POD_NAMESPACE")
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        let pid = wait_for("the operator's pid file", Duration::from_secs(10), || {
            std::fs::read_to_string(&pid_file).ok()?.trim().parse().ok()
        });
        Self {
            watchdog,
            pid,
            metrics_port: port,
            log: log.to_owned(),
        }
    }

    /// Its log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILLs the operator (the watchdog then exits).
    pub fn kill(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", &self.pid.to_string()])
            .stderr(Stdio::null())
            .status();
        let _ = self.watchdog.wait();
    }
}

impl Drop for OperatorProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A name for a throwaway object.
pub fn name(prefix: &str) -> String {
    unique_name(prefix).to_lowercase()
}

/// Generous bound for the operator to converge after a change (reconcile + kwok pods).
pub const CONVERGE: Duration = Duration::from_secs(60);
