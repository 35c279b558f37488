//! Optional auth of the /v1 routes: static bearer tokens ([`Tokens`]), JWTs ([`jwt`]), or both;
//! a request passes with either. An accepted request carries its [`Client`] (which token, or
//! the JWT bucket) as an extension, so the rate limit counts it against that client, and a
//! JWT's subject as a [`Principal`], which the write path records on its events.

pub mod jwt;

use std::{fmt, path::Path, sync::Arc};

use axum::{
    extract::{Request, State},
    http::{HeaderMap, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use subtle::ConstantTimeEq;

use self::jwt::JwtVerifier;
use super::{error::ApiError, metrics::Metrics, rate_limit::Client};
use crate::{Error, Result};

/// The accepted static bearer tokens (one per line of the tokens file). `Debug` and `Display`
/// say how many, never a token.
#[derive(Clone)]
pub struct Tokens(Arc<Vec<Vec<u8>>>);

impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tokens({} configured)", self.0.len())
    }
}

impl fmt::Display for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} bearer token(s)", self.0.len())
    }
}

impl Tokens {
    /// Tokens from text: one per line; blank lines and `#` comments are skipped.
    pub fn parse(text: &str) -> Result<Self> {
        let tokens: Vec<Vec<u8>> = text
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .map(|line| line.as_bytes().to_vec())
            .collect();
        if tokens.is_empty() {
            return Err(Error::Config("the auth tokens file holds no token".into()));
        }
        Ok(Self(Arc::new(tokens)))
    }

    /// Tokens from a file.
    pub fn from_file(path: &Path) -> Result<Self> {
        Self::parse(&crate::config::read_file(path)?)
    }

    /// Which token `candidate` is, if any: every token is compared, each in constant time
    /// (`subtle`), so the time taken says nothing about how close a guess came.
    pub fn find(&self, candidate: &[u8]) -> Option<usize> {
        self.0
            .iter()
            .enumerate()
            .fold(None, |found, (index, token)| {
                let matches: bool = token.as_slice().ct_eq(candidate).into();
                found.or(matches.then_some(index))
            })
    }

    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there is no token (never: parsing refuses an empty file).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Who sent a request authenticated by a JWT: its `sub`, recorded on the request's events as
/// the CloudEvents auth-context attributes (`authtype` [`Principal::AUTH_TYPE`], `authid`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal(pub String);

impl Principal {
    /// The `authtype` of a JWT subject: a user of the application that issued the token.
    pub const AUTH_TYPE: &'static str = "app_user";
}

/// Every accepted credential. `Debug` names no secret.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    /// Static bearer tokens.
    pub tokens: Option<Tokens>,
    /// JWT validation.
    pub jwt: Option<Arc<JwtVerifier>>,
}

/// What an accepted credential says about the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The rate-limit bucket.
    pub client: Client,
    /// A JWT's subject.
    pub principal: Option<Principal>,
}

/// Why a request is refused: a metric label and the problem the client is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The `reason` label of `eventflow_producer_auth_failures_total`.
    pub code: &'static str,
    /// `None`: no token was given.
    pub problem: Option<String>,
}

impl Credentials {
    /// Whether any credential is configured (auth on).
    pub fn is_on(&self) -> bool {
        self.tokens.is_some() || self.jwt.is_some()
    }

    /// Rate-limit buckets: one per static token, one shared by JWT clients.
    pub fn clients(&self) -> usize {
        self.tokens.as_ref().map_or(0, Tokens::len) + usize::from(self.jwt.is_some())
    }

    /// Checks the `Authorization` header.
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<Identity, Refusal> {
        let token = bearer(headers).ok_or(Refusal {
            code: "missing_token",
            problem: None,
        })?;
        if let Some(index) = self.tokens.as_ref().and_then(|t| t.find(token.as_bytes())) {
            return Ok(Identity {
                client: Client::Token(index),
                principal: None,
            });
        }
        match &self.jwt {
            Some(jwt) if token.split('.').count() == 3 => match jwt.verify(token) {
                Ok(claims) => Ok(Identity {
                    client: Client::Jwt,
                    principal: claims.sub.map(Principal),
                }),
                Err(problem) => Err(Refusal {
                    code: problem.code(),
                    problem: Some(problem.describe(jwt.algorithm())),
                }),
            },
            _ => Err(Refusal {
                code: "unknown_token",
                problem: Some("the token is not accepted".to_owned()),
            }),
        }
    }
}

/// The token of an `Authorization: Bearer <token>` header.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|token| !token.is_empty())
}

/// Middleware: with credentials configured, requires a bearer token that one of them accepts;
/// a refusal is a 401 with a `WWW-Authenticate` challenge and counts in the metrics.
pub async fn require_auth(
    State((credentials, metrics)): State<(Credentials, Metrics)>,
    mut request: Request,
    next: Next,
) -> Response {
    if !credentials.is_on() {
        return next.run(request).await;
    }
    match credentials.authenticate(request.headers()) {
        Ok(identity) => {
            request.extensions_mut().insert(identity.client);
            if let Some(principal) = identity.principal {
                request.extensions_mut().insert(principal);
            }
            next.run(request).await
        }
        Err(refusal) => {
            metrics
                .auth_failures
                .with_label_values(&[refusal.code])
                .inc();
            ApiError::Unauthorized {
                problem: refusal.problem,
            }
            .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_file_lines_are_the_tokens() {
        let tokens = Tokens::parse("# ingest\nalpha\n\n  beta  \n").unwrap();
        assert_eq!(tokens.find(b"alpha"), Some(0));
        assert_eq!(tokens.find(b"beta"), Some(1));
        assert_eq!(tokens.find(b"alph"), None);
        assert_eq!(tokens.find(b"alphaa"), None);
        assert_eq!(tokens.find(b"# ingest"), None);
        assert_eq!(tokens.len(), 2);
        assert!(Tokens::parse("\n# none\n").is_err());
    }

    #[test]
    fn credentials_never_print_a_secret() {
        let tokens = Tokens::parse("s3cret-token\n").unwrap();
        let credentials = Credentials {
            tokens: Some(tokens.clone()),
            jwt: None,
        };
        for shown in [
            format!("{tokens:?}"),
            format!("{tokens}"),
            format!("{credentials:?}"),
        ] {
            assert!(!shown.contains("s3cret"), "{shown}");
        }
    }

    #[test]
    fn a_missing_or_unknown_token_is_refused_with_its_reason() {
        let credentials = Credentials {
            tokens: Some(Tokens::parse("alpha\n").unwrap()),
            jwt: None,
        };
        let mut headers = HeaderMap::new();
        assert_eq!(
            credentials.authenticate(&headers).unwrap_err().code,
            "missing_token"
        );
        headers.insert(header::AUTHORIZATION, "Bearer beta".parse().unwrap());
        assert_eq!(
            credentials.authenticate(&headers).unwrap_err().code,
            "unknown_token"
        );
        headers.insert(header::AUTHORIZATION, "bearer alpha".parse().unwrap());
        assert_eq!(
            credentials.authenticate(&headers).unwrap().client,
            Client::Token(0)
        );
    }
}
