//! Values that hold credentials and never print them: `Debug` and `Display` redact, and only
//! an explicit `expose()` gives the value to the code that connects with it.

use std::{convert::Infallible, fmt, str::FromStr};

/// What a redacted value prints instead of the secret.
pub const REDACTED: &str = "***";

/// A secret string (a bearer token, a password): prints as [`REDACTED`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The secret itself, for the one place that uses it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl FromStr for Secret {
    type Err = Infallible;

    fn from_str(text: &str) -> Result<Self, Infallible> {
        Ok(Self(text.to_owned()))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({REDACTED})")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

/// A connection string (`mongodb://user:password@host/?options`): prints with the password
/// of its user info, and the value of any option whose name contains `password`, replaced by
/// [`REDACTED`], so a log still shows where it connects.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ConnectionString(String);

impl ConnectionString {
    /// The connection string itself, for the client that connects with it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The connection string with its secrets replaced by [`REDACTED`].
    pub fn redacted(&self) -> String {
        redact_uri(&self.0)
    }
}

impl From<String> for ConnectionString {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for ConnectionString {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

impl FromStr for ConnectionString {
    type Err = Infallible;

    fn from_str(text: &str) -> Result<Self, Infallible> {
        Ok(Self(text.to_owned()))
    }
}

impl fmt::Debug for ConnectionString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ConnectionString")
            .field(&self.redacted())
            .finish()
    }
}

impl fmt::Display for ConnectionString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

fn redact_uri(uri: &str) -> String {
    let (scheme, rest) = uri.split_once("://").unwrap_or(("", uri));
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((user_info, hosts)) => match user_info.split_once(':') {
            Some((user, _password)) => format!("{user}:{REDACTED}@{hosts}"),
            None => format!("{user_info}@{hosts}"),
        },
        None => authority.to_owned(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => format!("{path}?{}", redact_options(query)),
        None => tail.to_owned(),
    };
    let separator = if scheme.is_empty() { "" } else { "://" };
    format!("{scheme}{separator}{authority}{tail}")
}

fn redact_options(query: &str) -> String {
    query
        .split('&')
        .map(|option| match option.split_once('=') {
            Some((name, _)) if name.to_ascii_lowercase().contains("password") => {
                format!("{name}={REDACTED}")
            }
            _ => option.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_string_prints_without_its_passwords() {
        let uri = ConnectionString::from(
            "mongodb://u:s3cr3t-XYZ@h1:27017,h2/db?tls=true&tlsCertificateKeyFilePassword=k3y-XYZ"
                .to_owned(),
        );
        let shown = "mongodb://u:***@h1:27017,h2/db?tls=true&tlsCertificateKeyFilePassword=***";
        assert_eq!(uri.to_string(), shown);
        assert_eq!(format!("{uri:?}"), format!("ConnectionString(\"{shown}\")"));
        assert!(uri.expose().contains("s3cr3t-XYZ"));
    }

    #[test]
    fn a_connection_string_without_secrets_prints_whole() {
        for text in [
            "mongodb://127.0.0.1:27017/?directConnection=true",
            "mongodb://user@host/db",
            "mongodb+srv://cluster.example.com",
        ] {
            assert_eq!(ConnectionString::from(text.to_owned()).to_string(), text);
        }
    }

    #[test]
    fn a_secret_prints_as_stars() {
        let token = Secret::from("bearer-s3cr3t".to_owned());
        assert_eq!(
            (token.to_string(), format!("{token:?}")),
            ("***".to_owned(), "Secret(***)".to_owned())
        );
    }
}
