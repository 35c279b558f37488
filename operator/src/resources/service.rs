//! The producer's Service: the API port and the admin port, scraped by Prometheus.

use eventflow_contract as contract;
use k8s_openapi::{
    api::core::v1::{Service, ServicePort, ServiceSpec},
    apimachinery::pkg::util::intstr::IntOrString,
};

use super::{
    meta::{self, Component},
    pod::{ADMIN_PORT_NAME, HTTP_PORT_NAME},
};
use crate::crd::EventPipeline;

/// The producer Service, named like the producer Deployment.
pub fn producer_service(pipeline: &EventPipeline) -> Service {
    let mut metadata = meta::child_meta(
        pipeline,
        meta::component_name(pipeline, Component::Producer),
        Some(Component::Producer),
    );
    metadata.annotations = Some(meta::scrape_annotations(contract::DEFAULT_ADMIN_PORT));
    Service {
        metadata,
        spec: Some(ServiceSpec {
            selector: Some(meta::selector_labels(pipeline, Component::Producer)),
            ports: Some(vec![
                port(HTTP_PORT_NAME, contract::DEFAULT_HTTP_PORT),
                port(ADMIN_PORT_NAME, contract::DEFAULT_ADMIN_PORT),
            ]),
            ..ServiceSpec::default()
        }),
        status: None,
    }
}

/// The producer's in-cluster URL: its Service's DNS name and HTTP port, e.g.
/// `http://orders-producer.shop.svc:8080`.
pub fn producer_url(pipeline: &EventPipeline) -> String {
    format!(
        "http://{}.{}.svc:{}",
        meta::component_name(pipeline, Component::Producer),
        kube::ResourceExt::namespace(pipeline).unwrap_or_default(),
        contract::DEFAULT_HTTP_PORT
    )
}

fn port(name: &str, number: u16) -> ServicePort {
    ServicePort {
        name: Some(name.to_owned()),
        port: i32::from(number),
        target_port: Some(IntOrString::String(name.to_owned())),
        protocol: Some("TCP".to_owned()),
        ..ServicePort::default()
    }
}
