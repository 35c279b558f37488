//! Optional bearer-token auth of the /v1 routes. An accepted request carries its
//! [`Client`] (which token) as an extension, so the rate limit counts it against that token.

use std::{path::Path, sync::Arc};

use axum::{
    extract::{Request, State},
    http::header,
    middleware::Next,
    response::{IntoResponse, Response},
};

use super::{error::ApiError, rate_limit::Client};
use crate::{Error, Result};

/// The accepted bearer tokens (one per line of the tokens file).
#[derive(Clone)]
pub struct Tokens(Arc<Vec<Vec<u8>>>);

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tokens({} configured)", self.0.len())
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

    /// Which token `candidate` is, if any (every token is compared, each in constant time).
    pub fn find(&self, candidate: &[u8]) -> Option<usize> {
        self.0
            .iter()
            .enumerate()
            .fold(None, |found, (index, token)| {
                let matches = constant_time_eq(token, candidate);
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

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Middleware: with tokens configured, requires `Authorization: Bearer <token>`.
pub async fn require_bearer(
    State(tokens): State<Option<Tokens>>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(tokens) = tokens else {
        return next.run(request).await;
    };
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| {
            let (scheme, token) = value.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        });
    match given.map(|token| tokens.find(token.as_bytes())) {
        Some(Some(index)) => {
            request.extensions_mut().insert(Client::Token(index));
            next.run(request).await
        }
        given => ApiError::Unauthorized {
            token_given: given.is_some(),
        }
        .into_response(),
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
        assert_eq!(tokens.find(b"# ingest"), None);
        assert_eq!(tokens.len(), 2);
        assert!(Tokens::parse("\n# none\n").is_err());
    }
}
