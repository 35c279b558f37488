//! Overload and hostile clients against a real producer (its HTTP server on a TCP port, Kafka
//! and MongoDB of the dev services): the rate limit per bearer token (429 + Retry-After, 413
//! above the burst), the concurrency limit (503 + Retry-After at once), and slow clients cut
//! off by the header and body read timeouts while other clients are served.
#![expect(
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers fail the test on any error"
)]

pub mod producer_support;

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use eventflow_workloads::{
    producer::{AppState, router, server},
    testkit::{DevServices, unique_name},
};
use producer_support::{args, create_topic, temp_file};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream, tcp::OwnedReadHalf},
};
use tokio_util::sync::CancellationToken;

/// Slack on top of a configured timeout before a test calls it missed (two shared cores).
const SLACK: Duration = Duration::from_secs(3);

/// A producer served on a local port, stopped when dropped.
struct Served {
    address: SocketAddr,
    state: AppState,
    stop: CancellationToken,
}

impl Drop for Served {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl Served {
    async fn start(extra: &[&str]) -> Self {
        let services = DevServices::from_env().expect("dev services");
        let topic = unique_name("overload");
        create_topic(&services.kafka_bootstrap, &topic, 1).await;
        let args = args(
            &services.kafka_bootstrap,
            &services.mongodb_uri,
            &topic,
            extra,
        );
        let (_, state) = producer_support::app(&args).await;
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let stop = CancellationToken::new();
        tokio::spawn(server::serve(
            listener,
            router(state.clone()),
            args.header_read_timeout,
            state.metrics.clone(),
            stop.clone(),
        ));
        Self {
            address,
            state,
            stop,
        }
    }

    async fn post(&self, token: Option<&str>, body: &Value) -> (StatusCode, Option<String>, Value) {
        let mut request = reqwest::Client::new()
            .post(format!("http://{}/v1/events", self.address))
            .json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("response");
        let status = response.status();
        let retry_after = response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().expect("ascii").to_owned());
        (
            status,
            retry_after,
            response.json().await.unwrap_or(Value::Null),
        )
    }
}

fn events(count: usize) -> Value {
    let events: Vec<Value> = (0..count)
        .map(|i| json!({"type": "LOGIN", "subject": format!("user-{i}"), "data": {}}))
        .collect();
    Value::Array(events)
}

#[tokio::test]
async fn each_token_has_its_own_rate_limit_answered_429_with_retry_after() {
    let tokens = temp_file("tokens", "# ingest\nalpha\nbeta\n");
    let tokens = tokens.to_str().expect("utf-8 path");
    let producer = Served::start(&[
        "--auth-tokens-file",
        tokens,
        "--rate-limit-events-per-second",
        "1",
        "--rate-limit-burst",
        "3",
    ])
    .await;
    let (status, _, _) = producer.post(Some("alpha"), &events(3)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "the burst is accepted");
    let (status, retry_after, body) = producer.post(Some("alpha"), &events(2)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(body["error"]["code"], "rate_limited");
    // Two events at one per second from an empty bucket: 2 s.
    assert_eq!(retry_after.as_deref(), Some("2"));
    let (status, _, _) = producer.post(Some("beta"), &events(3)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "beta's bucket is its own");
    let (status, _, body) = producer.post(Some("beta"), &events(4)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "above the burst");
    assert_eq!(body["error"]["code"], "exceeds_rate_limit_burst");
    let limited = |client: &str| {
        producer
            .state
            .metrics
            .rate_limited
            .with_label_values(&[client])
            .get()
    };
    assert_eq!((limited("token-1"), limited("token-2")), (1, 1));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (status, _, _) = producer.post(Some("alpha"), &events(2)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "after Retry-After it fits");
}

#[tokio::test]
async fn without_auth_the_producer_shares_one_bucket_and_invalid_events_cost_nothing() {
    let producer = Served::start(&["--rate-limit-events-per-second", "2"]).await;
    let invalid = json!([{"subject": "no type"}]);
    for _ in 0..3 {
        let (status, _, _) = producer.post(None, &invalid).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    // Had the invalid events cost tokens, the bucket would be empty now.
    let (status, _, _) = producer.post(None, &events(1)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "invalid events cost nothing");
    // That first publish waited for the broker's metadata and a producer id, which on a loaded
    // machine takes longer than the bucket needs to refill an event (0.5 s): the checks below
    // must not straddle it. Let the bucket fill again.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (status, _, _) = producer.post(None, &events(2)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "burst defaults to the rate");
    let (status, retry_after, _) = producer.post(None, &events(1)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(retry_after.as_deref(), Some("1"));
    let limited = producer
        .state
        .metrics
        .rate_limited
        .with_label_values(&["producer"]);
    assert_eq!(limited.get(), 1);
}

/// Sends a POST's headers announcing a body of `length` bytes, and no body.
async fn headers_only(address: SocketAddr, length: usize) -> TcpStream {
    let mut stream = TcpStream::connect(address).await.expect("connect");
    let head = format!(
        "POST /v1/events HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {length}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    stream
}

/// Waits until the producer serves `count` requests at once.
async fn wait_in_flight(state: &AppState, count: i64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while state.metrics.in_flight.get() != count {
        assert!(
            Instant::now() < deadline,
            "never {count} requests in flight"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn beyond_the_concurrency_limit_requests_get_503_at_once_not_a_queue() {
    let producer = Served::start(&["--max-in-flight", "2", "--body-read-timeout", "5s"]).await;
    let holders = [
        headers_only(producer.address, 100).await,
        headers_only(producer.address, 100).await,
    ];
    wait_in_flight(&producer.state, 2).await;
    let started = Instant::now();
    let (status, retry_after, body) = producer.post(None, &events(1)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["error"]["code"], "overloaded");
    assert_eq!(retry_after.as_deref(), Some("1"));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "answered at once, not queued: {:?}",
        started.elapsed()
    );
    assert_eq!(producer.state.metrics.shed.get(), 1);
    drop(holders);
    wait_in_flight(&producer.state, 0).await;
    let (status, _, _) = producer.post(None, &events(1)).await;
    assert_eq!(
        status,
        StatusCode::ACCEPTED,
        "served again once permits free"
    );
}

/// Reads until the server closes the connection (or `within` passes): what it sent.
async fn read_until_closed(stream: &mut (impl AsyncReadExt + Unpin), within: Duration) -> String {
    let started = Instant::now();
    let mut received = Vec::new();
    let mut buffer = [0u8; 1024];
    loop {
        let left = within.saturating_sub(started.elapsed());
        match tokio::time::timeout(left, stream.read(&mut buffer)).await {
            Ok(Ok(0) | Err(_)) => break,
            Ok(Ok(n)) => received.extend_from_slice(&buffer[..n]),
            Err(elapsed) => panic!(
                "the connection is still open after {within:?} ({elapsed}); received {:?}",
                String::from_utf8_lossy(&received)
            ),
        }
    }
    String::from_utf8_lossy(&received).into_owned()
}

/// Writes `bytes` one at a time every `pause` from a task (until the server closes); the read
/// half, to see what the server answers meanwhile.
fn trickle(stream: TcpStream, bytes: &'static [u8], pause: Duration) -> OwnedReadHalf {
    let (reader, mut writer) = stream.into_split();
    tokio::spawn(async move {
        for byte in bytes {
            if writer.write_all(&[*byte]).await.is_err() {
                break;
            }
            tokio::time::sleep(pause).await;
        }
    });
    reader
}

#[tokio::test]
async fn a_trickled_body_gets_408_within_the_body_timeout_while_others_are_served() {
    let timeout = Duration::from_secs(2);
    let producer = Served::start(&["--body-read-timeout", "2s"]).await;
    let started = Instant::now();
    // 1000 bytes announced, one sent every 100 ms: 100 s if nobody cut it off.
    let slow = headers_only(producer.address, 1000).await;
    let mut slow = trickle(slow, &[b' '; 1000], Duration::from_millis(100));
    let (status, _, _) = producer.post(None, &events(1)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "others are served meanwhile");
    let response = read_until_closed(&mut slow, timeout + SLACK).await;
    assert!(response.starts_with("HTTP/1.1 408"), "{response}");
    assert!(response.contains("body_timeout"), "{response}");
    assert!(
        started.elapsed() >= timeout,
        "cut off before the timeout: {:?}",
        started.elapsed()
    );
    let timeouts = producer
        .state
        .metrics
        .client_timeouts
        .with_label_values(&["body"])
        .get();
    assert_eq!(timeouts, 1);
}

#[tokio::test]
async fn trickled_headers_and_idle_connections_are_closed_within_the_header_timeout() {
    let timeout = Duration::from_secs(1);
    let producer = Served::start(&["--header-read-timeout", "1s"]).await;
    let started = Instant::now();
    let mut idle = TcpStream::connect(producer.address).await.expect("connect");
    let trickled = TcpStream::connect(producer.address).await.expect("connect");
    let mut trickled = trickle(
        trickled,
        b"POST /v1/events HTTP/1.1\r\nhost: x\r\nx-padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        Duration::from_millis(50),
    );
    let mut kept_alive = TcpStream::connect(producer.address).await.expect("connect");
    kept_alive
        .write_all(b"GET /nowhere HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .expect("write");
    let (status, _, _) = producer.post(None, &events(1)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "others are served meanwhile");
    let within = timeout + SLACK;
    assert_eq!(read_until_closed(&mut idle, within).await, "", "idle");
    assert_eq!(
        read_until_closed(&mut trickled, within).await,
        "",
        "trickled"
    );
    let answered = read_until_closed(&mut kept_alive, within).await;
    assert!(
        answered.starts_with("HTTP/1.1 404"),
        "kept alive: {answered}"
    );
    assert!(
        started.elapsed() >= timeout,
        "closed before the timeout: {:?}",
        started.elapsed()
    );
    let closed = producer
        .state
        .metrics
        .client_timeouts
        .with_label_values(&["headers"])
        .get();
    assert!(closed >= 2, "header timeouts counted: {closed}");
}
