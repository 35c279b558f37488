//! The dev Kafka's secured listener: `SASL_SSL` with `SCRAM-SHA-512` and a test CA, made by
//! `scripts/dev-services.sh`, which names it in the environment.

use std::{
    fmt,
    path::{Path, PathBuf},
};

use super::SetupError;

/// The listener's address.
pub const SASL_BOOTSTRAP: &str = "EVENTFLOW_KAFKA_SASL_BOOTSTRAP";
/// The PEM file of the CA that signed the listener's certificate.
pub const SASL_CA: &str = "EVENTFLOW_KAFKA_SASL_CA";
/// The `SCRAM-SHA-512` user.
pub const SASL_USERNAME: &str = "EVENTFLOW_KAFKA_SASL_USERNAME";
/// The file holding the user's password (the script never prints the password itself).
pub const SASL_PASSWORD_FILE: &str = "EVENTFLOW_KAFKA_SASL_PASSWORD_FILE";

/// How a client is given the CA: both are librdkafka properties a `kafka.secretRef` Secret
/// may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaForm {
    /// `ssl.ca.pem`: the PEM itself as the property's value (a Secret key holding the CA).
    Pem,
    /// `ssl.ca.location`: the path of the PEM file (a file mounted next to the workload).
    Location,
}

/// The `SASL_SSL` listener of the running dev services. `Debug` hides the password.
#[derive(Clone)]
pub struct SecuredKafka {
    /// Bootstrap servers of the listener.
    pub bootstrap: String,
    /// The CA's PEM file.
    pub ca_file: PathBuf,
    /// The SCRAM user.
    pub username: String,
    password: String,
}

impl fmt::Debug for SecuredKafka {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecuredKafka")
            .field("bootstrap", &self.bootstrap)
            .field("ca_file", &self.ca_file)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl SecuredKafka {
    /// The listener named by the environment, or an error that says how to get it.
    pub fn from_env() -> Result<Self, SetupError> {
        let read =
            |name: &'static str| std::env::var(name).map_err(|_| SetupError::MissingEnv(name));
        let password = read_file(Path::new(&read(SASL_PASSWORD_FILE)?))?;
        Ok(Self {
            bootstrap: read(SASL_BOOTSTRAP)?,
            ca_file: PathBuf::from(read(SASL_CA)?),
            username: read(SASL_USERNAME)?,
            password: eventflow_contract::properties::value(&password).to_owned(),
        })
    }

    /// The user's password.
    pub fn password(&self) -> &str {
        &self.password
    }

    /// The librdkafka properties of a `kafka.secretRef` Secret for this listener, logging in
    /// with `password` and trusting the CA given as `ca`.
    pub fn properties(
        &self,
        password: &str,
        ca: CaForm,
    ) -> Result<Vec<(String, String)>, SetupError> {
        let ca = match ca {
            CaForm::Pem => ("ssl.ca.pem", read_file(&self.ca_file)?),
            CaForm::Location => ("ssl.ca.location", self.ca_file.display().to_string()),
        };
        Ok([
            ("security.protocol", "SASL_SSL".to_owned()),
            ("sasl.mechanism", "SCRAM-SHA-512".to_owned()),
            ("sasl.username", self.username.clone()),
            ("sasl.password", password.to_owned()),
            ca,
        ]
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value))
        .collect())
    }
}

/// A file of the listener's (the CA, the password file) as text.
fn read_file(path: &Path) -> Result<String, SetupError> {
    std::fs::read_to_string(path).map_err(super::io(path.display()))
}
