//! Topic owner records: one `ConfigMap` per claimed topic in the operator's namespace, named
//! after a digest of the Kafka cluster id and the topic. Creating it is the claim: the API
//! server lets exactly one create win, and the record outlives operator restarts and leader
//! changes. Kafka cannot hold the record itself (brokers refuse unknown topic configs). Only the
//! owner's deletion removes a record, so a claim confirmed once is remembered and not read again.

use std::{
    collections::{BTreeMap, HashSet},
    sync::{Arc, Mutex, PoisonError},
};

use k8s_openapi::api::core::v1::ConfigMap;
use kube::{
    Api, Client, ResourceExt,
    api::{DeleteParams, ListParams, ObjectMeta, PostParams},
};

use super::{events::Reason, tenancy::TopicRefusal};
use crate::{Error, Result, crd::EventPipeline};

/// The label holding the owner pipeline's uid.
pub const OWNER_UID_LABEL: &str = "eventflow.dev/topic-owner-uid";

/// The owner records in one namespace.
#[derive(Clone)]
pub struct Claims {
    api: Api<ConfigMap>,
    /// (owner uid, record name) of the claims confirmed so far.
    confirmed: Arc<Mutex<HashSet<(String, String)>>>,
}

impl std::fmt::Debug for Claims {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Claims").finish_non_exhaustive()
    }
}

/// Who owns a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// `<namespace>/<name>` of the owner pipeline.
    pub pipeline: String,
    /// Its uid.
    pub uid: String,
    /// The topic.
    pub topic: String,
}

impl Owner {
    fn of(record: &ConfigMap) -> Option<Self> {
        let data = record.data.as_ref()?;
        Some(Self {
            pipeline: data.get("owner")?.clone(),
            uid: data.get("ownerUid")?.clone(),
            topic: data.get("topic")?.clone(),
        })
    }

    /// Why `pipeline` may not use the topic; `None` when it is the owner.
    pub fn refusal_for(&self, pipeline: &EventPipeline, topic: &str) -> Option<TopicRefusal> {
        (pipeline.uid().as_deref() != Some(self.uid.as_str())).then(|| TopicRefusal {
            reason: Reason::TopicConflict,
            message: format!(
                "topic {topic} is owned by pipeline {}; nothing is applied for this pipeline \
                 while it names that topic",
                self.pipeline
            ),
        })
    }
}

impl Claims {
    /// The records in `namespace` (the operator's own).
    pub fn new(client: Client, namespace: &str) -> Self {
        Self {
            api: Api::namespaced(client, namespace),
            confirmed: Arc::default(),
        }
    }

    /// Whether `pipeline`'s claim of `topic` on `cluster` was confirmed before.
    pub fn confirmed(&self, cluster: &str, topic: &str, pipeline: &EventPipeline) -> bool {
        let key = (
            pipeline.uid().unwrap_or_default(),
            record_name(cluster, topic),
        );
        self.lock().contains(&key)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<(String, String)>> {
        self.confirmed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Forgets the claims of `pipeline` (deleted) confirmed so far; its owner records stay
    /// until [`Claims::release`] deletes them.
    pub fn forget(&self, pipeline: &EventPipeline) {
        let uid = pipeline.uid().unwrap_or_default();
        self.lock().retain(|(owner, _)| *owner != uid);
    }

    /// The owner of `topic` on the cluster `cluster`, if any.
    pub async fn owner(&self, cluster: &str, topic: &str) -> Result<Option<Owner>> {
        let name = record_name(cluster, topic);
        let owner = self.api.get_opt(&name).await?.as_ref().and_then(Owner::of);
        if let Some(owner) = &owner {
            self.lock().insert((owner.uid.clone(), name));
        }
        Ok(owner)
    }

    /// Records `pipeline` as the owner of `topic`; `false` when another record was first.
    pub async fn create(
        &self,
        cluster: &str,
        topic: &str,
        pipeline: &EventPipeline,
    ) -> Result<bool> {
        let uid = pipeline.uid().unwrap_or_default();
        let data = [
            ("cluster", cluster.to_owned()),
            ("topic", topic.to_owned()),
            ("owner", pipeline.object_key()),
            ("ownerUid", uid.clone()),
        ];
        let record = ConfigMap {
            metadata: ObjectMeta {
                name: Some(record_name(cluster, topic)),
                labels: Some(BTreeMap::from([
                    (
                        "app.kubernetes.io/part-of".to_owned(),
                        "eventflow".to_owned(),
                    ),
                    (OWNER_UID_LABEL.to_owned(), uid.clone()),
                ])),
                ..ObjectMeta::default()
            },
            data: Some(data.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()),
            ..ConfigMap::default()
        };
        match self.api.create(&PostParams::default(), &record).await {
            Ok(_) => {
                self.lock().insert((uid, record_name(cluster, topic)));
                Ok(true)
            }
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
            Err(error) => Err(Error::Kube(error)),
        }
    }

    /// The owner records of the topics `pipeline` owns, read from the API server.
    pub async fn owned_topics(&self, pipeline: &EventPipeline) -> Result<Vec<Owner>> {
        let records = self.api.list(&owned_by(pipeline)).await?;
        Ok(records.items.iter().filter_map(Owner::of).collect())
    }

    /// Releases every topic `pipeline` owns by deleting their owner records; what is kept in
    /// memory about the pipeline's claims goes in [`Claims::forget`].
    pub async fn release(&self, pipeline: &EventPipeline) -> Result<()> {
        for record in self.api.list(&owned_by(pipeline)).await?.items {
            match self
                .api
                .delete(&record.name_any(), &DeleteParams::default())
                .await
            {
                Ok(_) => {}
                Err(kube::Error::Api(status)) if status.code == 404 => {}
                Err(error) => return Err(Error::Kube(error)),
            }
        }
        Ok(())
    }
}

fn owned_by(pipeline: &EventPipeline) -> ListParams {
    let uid = pipeline.uid().unwrap_or_default();
    ListParams::default().labels(&format!("{OWNER_UID_LABEL}={uid}"))
}

/// `eventflow-topic-` and the first 20 bytes of SHA-256(cluster id, NUL, topic) in hex: a valid
/// object name for any topic name (topic names are case-sensitive, object names are not).
pub fn record_name(cluster: &str, topic: &str) -> String {
    let mut context = ring::digest::Context::new(&ring::digest::SHA256);
    context.update(cluster.as_bytes());
    context.update(&[0]);
    context.update(topic.as_bytes());
    let digest = context.finish();
    digest.as_ref()[..20]
        .iter()
        .fold(String::from("eventflow-topic-"), |mut name, byte| {
            use std::fmt::Write as _;
            let _ = write!(name, "{byte:02x}");
            name
        })
}

#[cfg(test)]
mod tests {
    use super::record_name;

    #[test]
    fn a_record_name_tells_cluster_and_topic_case_apart() {
        let names = [
            record_name("c1", "Orders"),
            record_name("c1", "orders"),
            record_name("c2", "orders"),
            record_name("c1o", "rders"),
        ];
        for (i, name) in names.iter().enumerate() {
            assert_eq!(name.len(), "eventflow-topic-".len() + 40, "{name}");
            assert!(!names[i + 1..].contains(name), "{names:?}");
        }
        assert_eq!(record_name("c1", "orders"), names[1], "stable");
    }
}
