//! JWT authentication of the producer API with tokens the test signs: HS256 with a secret,
//! RS256 with PEM keys, ES256 with a JWKS document. Refusals go through the router alone
//! (Kafka and MongoDB unreachable); the accepted token's subject is read back from the topic of
//! the dev broker.
#![expect(
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers fail the test on any error"
)]

pub mod producer_support;

use std::{path::PathBuf, time::Duration};

use axum::http::{StatusCode, header};
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use eventflow_workloads::{
    event::Event,
    testkit::{DevServices, unique_name},
};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use producer_support::{app, args, create_topic, post_json, send, temp_file};
use rdkafka::{
    ClientConfig, Message,
    consumer::{BaseConsumer, Consumer},
};
use ring::{
    rand::SystemRandom,
    signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair},
};
use serde_json::{Value, json};

const NO_KAFKA: &str = "127.0.0.1:9";
const NO_MONGODB: &str = "mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=300&connectTimeoutMS=300";
const SECRET: &str = "a-shared-hs256-secret-of-32-bytes-or-more";
const ISSUER: &str = "https://users.example";
const AUDIENCE: &str = "eventflow";

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/jwt")
        .join(name)
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Claims of a token the producer should accept; tests spoil one field at a time.
fn good_claims() -> Value {
    json!({"sub": "user-42", "iss": ISSUER, "aud": AUDIENCE, "exp": now() + 300, "iat": now()})
}

fn sign(algorithm: Algorithm, key: &EncodingKey, kid: Option<&str>, claims: &Value) -> String {
    let mut header = Header::new(algorithm);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, key).expect("token signed")
}

fn hs256(secret: &str, claims: &Value) -> String {
    sign(
        Algorithm::HS256,
        &EncodingKey::from_secret(secret.as_bytes()),
        None,
        claims,
    )
}

fn rs256(private_key: &str, claims: &Value) -> String {
    let pem = std::fs::read(fixture(private_key)).expect("fixture key");
    let key = EncodingKey::from_rsa_pem(&pem).expect("RSA key");
    sign(Algorithm::RS256, &key, None, claims)
}

/// A fresh P-256 key pair: its PKCS#8 signing key and its public key as a JWK.
fn es256_key(kid: &str) -> (EncodingKey, Value) {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
        .expect("P-256 key generated");
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
        .expect("P-256 key read");
    // Uncompressed point: 0x04, then x and y of 32 bytes each.
    let point = pair.public_key().as_ref();
    let jwk = json!({
        "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": kid,
        "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
    });
    (EncodingKey::from_ec_der(pkcs8.as_ref()), jwk)
}

/// An unsigned token (`alg: none`).
fn unsigned(claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{payload}.")
}

/// The JWT flags, and delivery and request timeouts short enough for the broker-less tests:
/// past auth, the router without a broker answers 503 within a second.
fn jwt_flags(algorithm: &str, key_file: &str) -> Vec<String> {
    let mut flags = auth_flags(algorithm, key_file);
    flags.extend(["--delivery-timeout", "1s", "--request-timeout", "5s"].map(str::to_owned));
    flags
}

/// Only the JWT flags: a test with a real broker keeps the default delivery timeout (its first
/// publish also waits for metadata and a producer id, which a loaded machine may not give
/// within a second).
fn auth_flags(algorithm: &str, key_file: &str) -> Vec<String> {
    [
        "--jwt-key-file",
        key_file,
        "--jwt-algorithm",
        algorithm,
        "--jwt-issuer",
        ISSUER,
        "--jwt-audience",
        AUDIENCE,
        "--jwt-leeway",
        "10s",
    ]
    .map(str::to_owned)
    .to_vec()
}

async fn router(bootstrap: &str, mongodb: &str, topic: &str, flags: &[String]) -> axum::Router {
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    app(&args(bootstrap, mongodb, topic, &flags)).await.0
}

/// The status and `WWW-Authenticate` challenge of `POST /v1/events` with `token`.
async fn post_with(app: &axum::Router, token: &str) -> (StatusCode, String) {
    let mut request = post_json(&json!({"type": "LOGIN", "subject": "s"}));
    request.headers_mut().insert(
        header::AUTHORIZATION,
        format!("Bearer {token}").parse().expect("header"),
    );
    let (status, headers, _) = send(app, request).await;
    let challenge = headers
        .get(header::WWW_AUTHENTICATE)
        .map(|v| v.to_str().expect("ascii").to_owned())
        .unwrap_or_default();
    (status, challenge)
}

/// Asserts each token is refused with a challenge whose description contains the words given.
async fn assert_refused(app: &axum::Router, cases: &[(&str, String, &str)]) {
    for (case, token, words) in cases {
        let (status, challenge) = post_with(app, token).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{case}: {challenge}");
        assert!(
            challenge.starts_with(
                r#"Bearer realm="eventflow", error="invalid_token", error_description=""#
            ) && challenge.contains(words),
            "{case}: {challenge}"
        );
    }
}

/// Passing authentication: the router has no Kafka, so 503 instead of 401.
async fn assert_passes(app: &axum::Router, case: &str, token: &str) {
    let (status, challenge) = post_with(app, token).await;
    assert_eq!(
        status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{case}: {challenge}"
    );
}

#[tokio::test]
async fn hs256_tokens_are_checked_for_key_algorithm_time_issuer_and_audience() {
    let secret = temp_file("jwt-secret", SECRET);
    let app = router(
        NO_KAFKA,
        NO_MONGODB,
        "jwt",
        &jwt_flags("HS256", secret.to_str().expect("path")),
    )
    .await;
    let spoil = |field: &str, value: Value| {
        let mut claims = good_claims();
        claims[field] = value;
        claims
    };
    let without = |field: &str| {
        let mut claims = good_claims();
        claims.as_object_mut().expect("object").remove(field);
        claims
    };
    assert_passes(&app, "valid", &hs256(SECRET, &good_claims())).await;
    assert_passes(
        &app,
        "expired within the leeway",
        &hs256(SECRET, &spoil("exp", json!(now() - 3))),
    )
    .await;
    let cases = [
        (
            "expired",
            hs256(SECRET, &spoil("exp", json!(now() - 60))),
            "the token has expired",
        ),
        (
            "not yet valid",
            hs256(SECRET, &spoil("nbf", json!(now() + 120))),
            "not valid yet",
        ),
        (
            "wrong issuer",
            hs256(SECRET, &spoil("iss", json!("https://evil.example"))),
            "issuer",
        ),
        (
            "wrong audience",
            hs256(SECRET, &spoil("aud", json!("billing"))),
            "audience",
        ),
        (
            "no audience",
            hs256(SECRET, &without("aud")),
            "no aud claim",
        ),
        ("no expiry", hs256(SECRET, &without("exp")), "no exp claim"),
        (
            "wrong key",
            hs256("another-secret-of-at-least-32-bytes!!", &good_claims()),
            "signature does not verify",
        ),
        (
            "alg none",
            unsigned(&good_claims()),
            "signed with none; only HS256",
        ),
        (
            "another algorithm",
            rs256("rs256-private.pem", &good_claims()),
            "signed with RS256; only HS256",
        ),
        ("not a JWT", "a.b.c".to_owned(), "not a well-formed JWT"),
    ];
    assert_refused(&app, &cases).await;
}

#[tokio::test]
async fn rs256_tokens_verify_with_the_pem_public_key_only() {
    let key = fixture("rs256-public.pem");
    let app = router(
        NO_KAFKA,
        NO_MONGODB,
        "jwt",
        &jwt_flags("RS256", key.to_str().expect("path")),
    )
    .await;
    assert_passes(&app, "valid", &rs256("rs256-private.pem", &good_claims())).await;
    let mut expired = good_claims();
    expired["exp"] = json!(now() - 60);
    let cases = [
        (
            "wrong key",
            rs256("rs256-other-private.pem", &good_claims()),
            "signature does not verify",
        ),
        ("expired", rs256("rs256-private.pem", &expired), "expired"),
        (
            "HS256 with the public key as secret",
            hs256(&std::fs::read_to_string(&key).expect("pem"), &good_claims()),
            "signed with HS256; only RS256",
        ),
        ("alg none", unsigned(&good_claims()), "signed with none"),
    ];
    assert_refused(&app, &cases).await;
}

#[tokio::test]
async fn es256_tokens_pick_their_key_from_the_jwks_by_kid() {
    let (key_one, jwk_one) = es256_key("one");
    let (key_two, jwk_two) = es256_key("two");
    let (stranger, _) = es256_key("one");
    let jwks = temp_file("jwks", &json!({"keys": [jwk_one, jwk_two]}).to_string());
    let app = router(
        NO_KAFKA,
        NO_MONGODB,
        "jwt",
        &jwt_flags("ES256", jwks.to_str().expect("path")),
    )
    .await;
    assert_passes(
        &app,
        "kid one",
        &sign(Algorithm::ES256, &key_one, Some("one"), &good_claims()),
    )
    .await;
    assert_passes(
        &app,
        "kid two",
        &sign(Algorithm::ES256, &key_two, Some("two"), &good_claims()),
    )
    .await;
    let cases = [
        (
            "unknown kid",
            sign(Algorithm::ES256, &key_one, Some("three"), &good_claims()),
            "no configured key has the token's kid",
        ),
        (
            "signed by a stranger under kid one",
            sign(Algorithm::ES256, &stranger, Some("one"), &good_claims()),
            "signature does not verify",
        ),
        (
            "key two under kid one",
            sign(Algorithm::ES256, &key_two, Some("one"), &good_claims()),
            "signature does not verify",
        ),
    ];
    assert_refused(&app, &cases).await;
}

#[tokio::test]
async fn static_tokens_and_jwts_work_side_by_side_and_failures_are_counted() {
    let tokens = temp_file("tokens", "static-token\n");
    let secret = temp_file("jwt-secret", SECRET);
    let mut flags = jwt_flags("HS256", secret.to_str().expect("path"));
    flags.extend([
        "--auth-tokens-file".to_owned(),
        tokens.to_str().expect("path").to_owned(),
    ]);
    let producer = args(
        NO_KAFKA,
        NO_MONGODB,
        "jwt",
        &flags.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let (app, state) = app(&producer).await;
    assert_passes(&app, "static token", "static-token").await;
    assert_passes(&app, "JWT", &hs256(SECRET, &good_claims())).await;
    let (status, challenge) = post_with(&app, "static-tokem").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        challenge.contains("the token is not accepted"),
        "{challenge}"
    );
    let mut expired = good_claims();
    expired["exp"] = json!(now() - 60);
    post_with(&app, &hs256(SECRET, &expired)).await;
    let failures = |reason: &str| {
        state
            .metrics
            .auth_failures
            .with_label_values(&[reason])
            .get()
    };
    assert_eq!((failures("unknown_token"), failures("expired")), (1, 1));
}

#[tokio::test]
async fn a_short_hs256_secret_is_refused_at_start() {
    let secret = temp_file("jwt-secret", "too-short");
    let flags = jwt_flags("HS256", secret.to_str().expect("path"));
    let producer = args(
        NO_KAFKA,
        NO_MONGODB,
        "jwt",
        &flags.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let registry = prometheus::Registry::new();
    let error = eventflow_workloads::producer::build(&producer, &registry)
        .await
        .expect_err("a 9-byte secret is refused");
    assert!(error.to_string().contains("at least 32"), "{error}");
}

#[tokio::test]
async fn the_subject_of_an_accepted_jwt_is_recorded_on_the_event() {
    let services = DevServices::from_env().expect("dev services");
    let topic = unique_name("jwt-subject");
    create_topic(&services.kafka_bootstrap, &topic, 1).await;
    let secret = temp_file("jwt-secret", SECRET);
    let app = router(
        &services.kafka_bootstrap,
        &services.mongodb_uri,
        &topic,
        &auth_flags("HS256", secret.to_str().expect("path")),
    )
    .await;
    let mut request =
        post_json(&json!({"type": "LOGIN", "authid": "forged", "authtype": "system"}));
    request.headers_mut().insert(
        header::AUTHORIZATION,
        format!("Bearer {}", hs256(SECRET, &good_claims()))
            .parse()
            .expect("header"),
    );
    let (status, _, body) = send(&app, request).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &services.kafka_bootstrap)
        .set("group.id", unique_name("jwt-test"))
        .set("auto.offset.reset", "earliest")
        .create()
        .expect("consumer");
    consumer.subscribe(&[&topic]).expect("subscribe");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let event = loop {
        assert!(
            std::time::Instant::now() < deadline,
            "no message within 30 s"
        );
        if let Some(message) = consumer.poll(Duration::from_millis(200)) {
            let message = message.expect("message");
            break Event::decode(message.payload().expect("payload")).expect("event");
        }
    };
    assert_eq!(
        event.authid.as_deref(),
        Some("user-42"),
        "the token's sub, not the body's"
    );
    assert_eq!(event.authtype.as_deref(), Some("app_user"));
}
