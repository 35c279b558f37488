//! JWT validation (`producer.auth.jwt`): one algorithm (HS256, RS256 or ES256), keys from a
//! file (an HS256 secret, PEM public keys or a JWKS document), `exp` required, `nbf` checked,
//! `iss` and `aud` when configured, a clock-skew leeway. What is wrong with a refused token is
//! said in words that name no key ([`Problem`]).

use std::{fmt, path::Path, str::FromStr, time::Duration};

use base64::Engine as _;
use jsonwebtoken::{
    Algorithm, DecodingKey, Validation,
    errors::ErrorKind,
    jwk::{AlgorithmParameters, EllipticCurve, JwkSet, KeyAlgorithm, PublicKeyUse},
};
use serde::Deserialize;

use crate::{Error, Result};

/// The algorithms the producer verifies, by their header name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtAlgorithm {
    /// HMAC SHA-256 with a shared secret.
    Hs256,
    /// RSA PKCS#1 v1.5 SHA-256.
    Rs256,
    /// ECDSA P-256 SHA-256.
    Es256,
}

impl FromStr for JwtAlgorithm {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "HS256" => Ok(Self::Hs256),
            "RS256" => Ok(Self::Rs256),
            "ES256" => Ok(Self::Es256),
            other => Err(format!(
                "`{other}` is not a JWT algorithm eventflow verifies (HS256, RS256, ES256)"
            )),
        }
    }
}

impl JwtAlgorithm {
    fn algorithm(self) -> Algorithm {
        match self {
            Self::Hs256 => Algorithm::HS256,
            Self::Rs256 => Algorithm::RS256,
            Self::Es256 => Algorithm::ES256,
        }
    }
}

/// Shortest HS256 secret accepted: the hash's size (RFC 7518 §3.2).
pub const MIN_HS256_SECRET_BYTES: usize = 32;

/// What a token must satisfy besides its signature.
#[derive(Debug, Clone, Default)]
pub struct Claims {
    /// Required `iss`.
    pub issuer: Option<String>,
    /// A value `aud` must contain; `None`: a token with an `aud` is refused.
    pub audience: Option<String>,
    /// Clock skew allowed on `exp` and `nbf` (whole seconds count).
    pub leeway: Duration,
}

/// The claims read from an accepted token.
#[derive(Debug, Clone, Deserialize)]
pub struct Accepted {
    /// The token's `sub`, if any.
    pub sub: Option<String>,
}

/// Why a token was refused: a metric label ([`Problem::code`]) and a description for the
/// `WWW-Authenticate` challenge ([`Problem::describe`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// Not three base64url parts of JSON.
    Malformed,
    /// Signed with another algorithm (or `none`).
    Algorithm(String),
    /// A `kid` that no configured key has.
    UnknownKey,
    /// The signature does not verify with any configured key.
    Signature,
    /// `exp` is past (beyond the leeway).
    Expired,
    /// `nbf` is ahead (beyond the leeway).
    NotYetValid,
    /// `iss` is not the configured issuer.
    Issuer,
    /// `aud` does not name this API.
    Audience,
    /// A required claim is missing.
    MissingClaim(String),
}

impl Problem {
    /// The `reason` label of `eventflow_producer_auth_failures_total`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::Algorithm(_) => "algorithm",
            Self::UnknownKey => "unknown_key",
            Self::Signature => "signature",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::Issuer => "issuer",
            Self::Audience => "audience",
            Self::MissingClaim(_) => "missing_claim",
        }
    }

    /// What is wrong, for the client.
    pub fn describe(&self, algorithm: JwtAlgorithm) -> String {
        let expected = algorithm.algorithm();
        match self {
            Self::Malformed => "the token is not a well-formed JWT".to_owned(),
            Self::Algorithm(alg) => {
                format!("the token is signed with {alg}; only {expected:?} is accepted")
            }
            Self::UnknownKey => "no configured key has the token's kid".to_owned(),
            Self::Signature => "the token's signature does not verify".to_owned(),
            Self::Expired => "the token has expired".to_owned(),
            Self::NotYetValid => "the token is not valid yet (nbf)".to_owned(),
            Self::Issuer => "the token's issuer (iss) is not accepted".to_owned(),
            Self::Audience => "the token's audience (aud) does not name this API".to_owned(),
            Self::MissingClaim(claim) => format!("the token has no {claim} claim"),
        }
    }

    fn from_error(error: &jsonwebtoken::errors::Error) -> Self {
        match error.kind() {
            ErrorKind::InvalidSignature => Self::Signature,
            ErrorKind::ExpiredSignature => Self::Expired,
            ErrorKind::ImmatureSignature => Self::NotYetValid,
            ErrorKind::InvalidIssuer => Self::Issuer,
            ErrorKind::InvalidAudience => Self::Audience,
            ErrorKind::MissingRequiredClaim(claim) => Self::MissingClaim(claim.clone()),
            ErrorKind::InvalidAlgorithm | ErrorKind::MissingAlgorithm => {
                Self::Algorithm("another algorithm".to_owned())
            }
            _ => Self::Malformed,
        }
    }
}

struct Key {
    kid: Option<String>,
    key: DecodingKey,
}

/// Verifies JWTs. Its `Debug` names the algorithm and how many keys, never a key.
pub struct JwtVerifier {
    algorithm: JwtAlgorithm,
    keys: Vec<Key>,
    validation: Validation,
}

impl fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtVerifier")
            .field("algorithm", &self.algorithm)
            .field("keys", &self.keys.len())
            .field("issuer", &self.validation.iss)
            .field("audience", &self.validation.aud)
            .finish_non_exhaustive()
    }
}

impl JwtVerifier {
    /// A verifier of `algorithm` tokens with the keys in `material` (see the module docs).
    pub fn new(algorithm: JwtAlgorithm, material: &[u8], claims: &Claims) -> Result<Self> {
        let keys = match algorithm {
            JwtAlgorithm::Hs256 => vec![hs256_key(material)?],
            JwtAlgorithm::Rs256 | JwtAlgorithm::Es256 => public_keys(algorithm, material)?,
        };
        let mut validation = Validation::new(algorithm.algorithm());
        validation.leeway = claims.leeway.as_secs();
        validation.validate_nbf = true;
        let mut required = vec!["exp"];
        if let Some(issuer) = &claims.issuer {
            validation.set_issuer(&[issuer]);
            required.push("iss");
        }
        match &claims.audience {
            Some(audience) => {
                validation.set_audience(&[audience]);
                required.push("aud");
            }
            None => validation.aud = None,
        }
        validation.set_required_spec_claims(&required);
        Ok(Self {
            algorithm,
            keys,
            validation,
        })
    }

    /// A verifier whose keys are read from `path`.
    pub fn from_file(algorithm: JwtAlgorithm, path: &Path, claims: &Claims) -> Result<Self> {
        let material = std::fs::read(path)
            .map_err(|e| Error::Config(format!("the JWT key file {}: {e}", path.display())))?;
        Self::new(algorithm, &material, claims)
    }

    /// The algorithm every token must use.
    pub fn algorithm(&self) -> JwtAlgorithm {
        self.algorithm
    }

    /// The token's claims when it verifies, else why not.
    pub fn verify(&self, token: &str) -> Result<Accepted, Problem> {
        let alg = header_algorithm(token).ok_or(Problem::Malformed)?;
        if alg != format!("{:?}", self.algorithm.algorithm()) {
            return Err(Problem::Algorithm(printable(&alg)));
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| Problem::Malformed)?;
        let candidates: Vec<&Key> = match &header.kid {
            Some(kid) if self.keys.iter().any(|k| k.kid.is_some()) => self
                .keys
                .iter()
                .filter(|k| k.kid.as_deref() == Some(kid))
                .collect(),
            _ => self.keys.iter().collect(),
        };
        let mut problem = Problem::UnknownKey;
        for key in candidates {
            match jsonwebtoken::decode::<Accepted>(token, &key.key, &self.validation) {
                Ok(data) => return Ok(data.claims),
                Err(error) => {
                    let this = Problem::from_error(&error);
                    // A wrong key says only "signature"; the right key's verdict wins.
                    if matches!(problem, Problem::UnknownKey | Problem::Signature) {
                        problem = this;
                    }
                }
            }
        }
        Err(problem)
    }
}

/// The `alg` of a token's header, read before the library parses it, so that `none` or an
/// algorithm it does not know is named instead of called malformed.
fn header_algorithm(token: &str) -> Option<String> {
    let header = token.split('.').next()?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header.trim_end_matches('='))
        .ok()?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    Some(value.get("alg")?.as_str()?.to_owned())
}

/// At most 16 visible ASCII characters of a client-given text.
fn printable(text: &str) -> String {
    text.chars()
        .filter(char::is_ascii_graphic)
        .take(16)
        .collect()
}

fn hs256_key(secret: &[u8]) -> Result<Key> {
    if secret.len() < MIN_HS256_SECRET_BYTES {
        return Err(Error::Config(format!(
            "the HS256 secret has {} bytes; it needs at least {MIN_HS256_SECRET_BYTES} (RFC 7518)",
            secret.len()
        )));
    }
    Ok(Key {
        kid: None,
        key: DecodingKey::from_secret(secret),
    })
}

fn public_keys(algorithm: JwtAlgorithm, material: &[u8]) -> Result<Vec<Key>> {
    let text = std::str::from_utf8(material)
        .map_err(|_| Error::Config("the JWT key file is not text (PEM or JWKS)".into()))?
        .trim();
    let keys = if text.starts_with('{') {
        jwks_keys(algorithm, text)?
    } else {
        pem_keys(algorithm, text)?
    };
    if keys.is_empty() {
        return Err(Error::Config(format!(
            "the JWT key file holds no {:?} public key (PEM `-----BEGIN PUBLIC KEY-----` blocks or a JWKS document)",
            algorithm.algorithm()
        )));
    }
    Ok(keys)
}

fn pem_keys(algorithm: JwtAlgorithm, text: &str) -> Result<Vec<Key>> {
    let mut keys = Vec::new();
    for block in pem_blocks(text) {
        let pem = block.as_bytes();
        let key = match algorithm {
            JwtAlgorithm::Rs256 => DecodingKey::from_rsa_pem(pem),
            _ => DecodingKey::from_ec_pem(pem),
        }
        .map_err(|e| Error::Config(format!("a PEM key of the JWT key file: {e}")))?;
        keys.push(Key { kid: None, key });
    }
    Ok(keys)
}

fn jwks_keys(algorithm: JwtAlgorithm, text: &str) -> Result<Vec<Key>> {
    let set: JwkSet = serde_json::from_str(text)
        .map_err(|e| Error::Config(format!("the JWT key file is not a JWKS document: {e}")))?;
    let wanted = match algorithm {
        JwtAlgorithm::Rs256 => KeyAlgorithm::RS256,
        JwtAlgorithm::Hs256 => KeyAlgorithm::HS256,
        JwtAlgorithm::Es256 => KeyAlgorithm::ES256,
    };
    let mut keys = Vec::new();
    for jwk in &set.keys {
        let fits = match &jwk.algorithm {
            AlgorithmParameters::RSA(_) => algorithm == JwtAlgorithm::Rs256,
            AlgorithmParameters::EllipticCurve(ec) => {
                algorithm == JwtAlgorithm::Es256 && ec.curve == EllipticCurve::P256
            }
            _ => false,
        };
        let usable = !matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption))
            && jwk.common.key_algorithm.is_none_or(|alg| alg == wanted);
        if !(fits && usable) {
            continue;
        }
        let key = DecodingKey::from_jwk(jwk)
            .map_err(|e| Error::Config(format!("a JWKS key of the JWT key file: {e}")))?;
        keys.push(Key {
            kid: jwk.common.key_id.clone(),
            key,
        });
    }
    Ok(keys)
}

/// The PEM blocks of a text, each up to and with its `-----END ...-----` line.
fn pem_blocks(text: &str) -> Vec<&str> {
    const END: &str = "-----END ";
    let mut blocks = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(END) {
        let label_start = start + END.len();
        let end = rest[label_start..]
            .find("-----")
            .map_or(rest.len(), |i| label_start + i + "-----".len());
        blocks.push(rest[..end].trim());
        rest = &rest[end..];
    }
    blocks
}

#[cfg(test)]
mod tests {
    use super::*;

    const PUBLIC: &str = include_str!("../../../tests/fixtures/jwt/rs256-public.pem");

    #[test]
    fn several_pem_keys_are_all_read() {
        let text = format!("# rotated keys\n{PUBLIC}\n{PUBLIC}");
        let verifier =
            JwtVerifier::new(JwtAlgorithm::Rs256, text.as_bytes(), &Claims::default()).unwrap();
        assert_eq!(verifier.keys.len(), 2);
        assert!(JwtVerifier::new(JwtAlgorithm::Rs256, b"no key here", &Claims::default()).is_err());
        let jwks_without_fit = br#"{"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}"#;
        assert!(
            JwtVerifier::new(JwtAlgorithm::Rs256, jwks_without_fit, &Claims::default()).is_err()
        );
    }

    #[test]
    fn the_verifier_never_prints_its_key() {
        let secret = b"0123456789abcdef0123456789abcdef-hs256";
        let verifier = JwtVerifier::new(JwtAlgorithm::Hs256, secret, &Claims::default()).unwrap();
        let shown = format!("{verifier:?}");
        assert!(
            shown.contains("keys: 1") && !shown.contains("0123456789"),
            "{shown}"
        );
    }
}
