//! Random, realistic events like the seed services produced: user activity, posts, transactions.

use rand::{Rng, seq::IndexedRandom};
use serde_json::{Value, json};

/// Which events the load generator sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Workload {
    /// `LOGIN`, `LOGOUT`, `PRODUCT_VIEW` with `data.userId` and `data.eventType`.
    UserActivity,
    /// `post.created` with `data.title` (2-100 chars) and `data.content` (10-1000 chars).
    Posts,
    /// `send`, `receive`, `balance_inquiry` with `data.accountId` (examples/transactions.yaml).
    Transactions,
    /// A random mix of the three.
    Mixed,
}

const USERS: u32 = 1000;
const ACTIVITY: &[&str] = &["LOGIN", "LOGOUT", "PRODUCT_VIEW"];
const TRANSACTIONS: &[&str] = &["send", "receive", "balance_inquiry"];
const WORDS: &[&str] = &[
    "kafka",
    "stream",
    "event",
    "pipeline",
    "operator",
    "cluster",
    "partition",
    "offset",
    "batch",
    "consumer",
    "producer",
    "schema",
    "latency",
    "throughput",
    "replica",
    "topic",
    "broker",
];

impl Workload {
    /// One random event of this workload.
    pub fn event(self, rng: &mut impl Rng) -> Value {
        let user = format!("user-{}", rng.random_range(0..USERS));
        match self {
            Self::UserActivity => activity(rng, &user),
            Self::Posts => post(rng, &user),
            Self::Transactions => transaction(rng, &user),
            Self::Mixed => match rng.random_range(0..3) {
                0 => activity(rng, &user),
                1 => post(rng, &user),
                _ => transaction(rng, &user),
            },
        }
    }

    /// A request body: an array of `count` events when `batched`, else one event object.
    pub fn body(self, rng: &mut impl Rng, count: usize, batched: bool) -> Value {
        if batched {
            Value::Array((0..count).map(|_| self.event(rng)).collect())
        } else {
            self.event(rng)
        }
    }
}

fn activity(rng: &mut impl Rng, user: &str) -> Value {
    let kind = ACTIVITY.choose(rng).copied().unwrap_or("LOGIN");
    let mut data = json!({"userId": user, "eventType": kind});
    if kind == "PRODUCT_VIEW" {
        data["productId"] = json!(format!("product-{}", rng.random_range(0..500)));
    }
    json!({"type": kind, "source": "/loadgen/user-activity", "subject": user, "data": data})
}

fn post(rng: &mut impl Rng, user: &str) -> Value {
    let title = sentence(rng, 2, 8);
    let content = sentence(rng, 5, 60);
    json!({
        "type": "post.created", "source": "/loadgen/posts", "subject": user,
        "data": {"userId": user, "title": title, "content": content}
    })
}

fn transaction(rng: &mut impl Rng, user: &str) -> Value {
    let kind = TRANSACTIONS.choose(rng).copied().unwrap_or("send");
    let mut data = json!({"userId": user, "transactionType": kind, "accountId": format!("acct-{}", rng.random_range(0..USERS))});
    if kind != "balance_inquiry" {
        data["amount"] = json!(f64::from(rng.random_range(100..1_000_000_u32)) / 100.0);
        data["currency"] = json!(["EUR", "USD", "GBP"].choose(rng).copied().unwrap_or("EUR"));
    }
    json!({"type": kind, "source": "/loadgen/transactions", "subject": user, "data": data})
}

/// Between `min` and `max` random words; always at least 10 characters.
fn sentence(rng: &mut impl Rng, min: usize, max: usize) -> String {
    let count = rng.random_range(min..=max);
    let words: Vec<&str> = (0..count)
        .filter_map(|_| WORDS.choose(rng).copied())
        .collect();
    let mut text = words.join(" ");
    while text.len() < 10 {
        text.push_str(" event");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_match_the_seed_shapes() {
        let mut rng = rand::rng();
        for _ in 0..50 {
            let event = Workload::UserActivity.event(&mut rng);
            assert!(ACTIVITY.contains(&event["type"].as_str().unwrap()));
            assert_eq!(event["data"]["eventType"], event["type"]);
            let post = Workload::Posts.event(&mut rng);
            let title = post["data"]["title"].as_str().unwrap().len();
            let content = post["data"]["content"].as_str().unwrap().len();
            assert!(
                (2..=100).contains(&title) && (10..=1000).contains(&content),
                "{post}"
            );
            let tx = Workload::Transactions.event(&mut rng);
            assert!(TRANSACTIONS.contains(&tx["type"].as_str().unwrap()));
            assert!(tx["subject"].as_str().unwrap().starts_with("user-"));
        }
    }

    #[test]
    fn batches_are_arrays_and_single_events_objects() {
        let mut rng = rand::rng();
        assert!(Workload::Mixed.body(&mut rng, 1, false).is_object());
        assert_eq!(
            Workload::Mixed
                .body(&mut rng, 1, true)
                .as_array()
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            Workload::Mixed
                .body(&mut rng, 7, true)
                .as_array()
                .unwrap()
                .len(),
            7
        );
    }
}
