//! The real-node cluster the test command starts (`EVENTFLOW_CLUSTER_NODE=real`): kubectl, helm and
//! crictl against it, and what the tests read off its pods.

use std::{
    path::PathBuf,
    process::{Command, Output},
    sync::OnceLock,
};

use serde_json::{Value, json};

/// The repository root.
pub const REPO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// The running real-node cluster.
#[derive(Debug)]
pub struct Cluster {
    /// Its run directory (`scripts/dev-cluster.sh` state: kubeconfig, logs).
    pub dir: PathBuf,
    /// The tag of the eventflow images loaded into its containerd.
    pub tag: String,
}

/// The cluster from the environment, or a failure that says how to get one.
pub fn cluster() -> &'static Cluster {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        let hint = "the real-node tests need the real-node cluster with its stack: run them through \
                    `make test` (or EVENTFLOW_CLUSTER_NODE=real scripts/dev-cluster.sh start, then \
                    scripts/dev-cluster.sh stack, and export EVENTFLOW_REAL_NODE_DIR as that \
                    cluster's run directory)";
        let var = |name: &str| {
            std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set; {hint}"))
        };
        Cluster {
            dir: PathBuf::from(var("EVENTFLOW_REAL_NODE_DIR")),
            tag: var("EVENTFLOW_IMAGE_TAG"),
        }
    })
}

impl Cluster {
    fn run(&self, program: &str, args: &[&str]) -> Output {
        Command::new(program)
            .args(args)
            .env("KUBECONFIG", self.dir.join("admin.kubeconfig"))
            .env("EVENTFLOW_CLUSTER_DIR", &self.dir)
            .env("TAG", &self.tag)
            .output()
            .unwrap_or_else(|e| panic!("{program}: {e}"))
    }

    /// kubectl as the cluster admin.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        self.run("kubectl", args)
    }

    /// kubectl that must succeed; its stdout.
    pub fn kubectl_ok(&self, args: &[&str]) -> String {
        ok(&format!("kubectl {}", args.join(" ")), &self.kubectl(args))
    }

    /// `kubectl apply` of one object, which must succeed.
    pub fn apply(&self, object: &Value) {
        let name = object["metadata"]["name"].as_str().expect("metadata.name");
        let path = self.dir.join(format!("apply-{name}.json"));
        std::fs::write(&path, object.to_string()).expect("write the object");
        self.kubectl_ok(&["apply", "-f", path.to_str().expect("UTF-8 path")]);
    }

    /// `kubectl get ... -o json` that must succeed.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["get"];
        all.extend(args);
        all.extend(["-o", "json"]);
        serde_json::from_str(&self.kubectl_ok(&all)).unwrap_or_else(|e| panic!("{args:?}: {e}"))
    }

    /// helm that must succeed; its stdout.
    pub fn helm_ok(&self, args: &[&str]) -> String {
        ok(&format!("helm {}", args.join(" ")), &self.run("helm", args))
    }

    fn script_ok(&self, script: &str, args: &[&str]) -> String {
        let path = format!("{REPO}/scripts/{script}");
        ok(
            &format!("{script} {}", args.join(" ")),
            &self.run(&path, args),
        )
    }

    /// `helm install` of the chart with the node's eventflow images, waiting until the operator is
    /// Ready (`scripts/dev-cluster.sh chart`).
    pub fn install_chart(&self, release: &str, namespace: &str, helm_args: &[&str]) {
        self.script_ok(
            "dev-cluster.sh",
            &[&["chart", release, namespace], helm_args].concat(),
        );
    }

    /// crictl against the node's containerd (`scripts/dev-cluster.sh crictl`).
    pub fn crictl_ok(&self, args: &[&str]) -> String {
        self.script_ok("dev-cluster.sh", &[&["crictl"], args].concat())
    }

    /// podman with the project's image storage (`scripts/images.sh podman`).
    pub fn podman_ok(&self, args: &[&str]) -> String {
        self.script_ok("images.sh", &[&["podman"], args].concat())
    }

    /// Copies podman images into the node's containerd.
    pub fn load_images(&self, images: &[&str]) {
        self.script_ok("dev-cluster.sh", &[&["load-images"], images].concat());
    }

    /// The pods of a namespace matching a label selector.
    pub fn pods(&self, namespace: &str, selector: &str) -> Vec<Value> {
        let list = self.json(&["pods", "-n", namespace, "-l", selector]);
        list["items"].as_array().cloned().unwrap_or_default()
    }
}

/// Prints what a person would look at first when a real-node test fails: every pod, every
/// pipeline, the Warning Events and the operator's log.
#[derive(Debug)]
pub struct DiagnoseOnFailure;

impl Drop for DiagnoseOnFailure {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        let cluster = cluster();
        for args in [
            &["get", "pods", "-A", "-o", "wide"][..],
            &["get", "evp", "-A"],
            &["get", "events", "-A", "--field-selector", "type=Warning"],
            &[
                "-n",
                "eventflow-system",
                "logs",
                "deployment/eventflow",
                "--tail",
                "40",
            ],
        ] {
            let output = cluster.kubectl(args);
            eprintln!(
                "--- kubectl {}\n{}{}",
                args.join(" "),
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
}

pub use crate::checks::{ok, wait_for};

/// Whether a pod is Running with its Ready condition True (as its readiness probe decided).
pub fn pod_ready(pod: &Value) -> bool {
    pod["status"]["phase"] == "Running"
        && pod["status"]["conditions"].as_array().is_some_and(|c| {
            c.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
}

/// The label selector of a pipeline's `component` pods (`producer` or `consumer`).
pub fn selector(pipeline: &str, component: &str) -> String {
    format!("app.kubernetes.io/instance={pipeline},app.kubernetes.io/component={component}")
}

/// One event per id, keyed by its id, as a `POST /v1/events` body.
pub fn events(ids: &[String], source: &str) -> Vec<Value> {
    ids.iter()
        .map(|id| json!({"id": id, "type": "demo", "source": source, "subject": id, "data": {}}))
        .collect()
}

/// A pod's address on the node's bridge (the test process reaches it directly).
pub fn pod_ip(pod: &Value) -> String {
    pod["status"]["podIP"]
        .as_str()
        .unwrap_or_else(|| panic!("pod without an IP: {pod:#}"))
        .to_owned()
}

/// The sum of a metric's samples in a Prometheus text exposition (0 when absent).
pub async fn metric(url: &str, name: &str) -> f64 {
    let Ok(answer) = reqwest::get(url).await else {
        return 0.0;
    };
    let text = answer.text().await.unwrap_or_default();
    eventflow_workloads::testkit::metric_sum(&text, name, "")
}
