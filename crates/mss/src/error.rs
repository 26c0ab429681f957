//! How a command fails: a usage error (bad input, exit code 2, nothing
//! written) or a failure while doing the work (exit code 1).

use std::fmt::Display;

/// A command's failure, printed as one line on stderr.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The input is wrong: the message names the field. Exit code 2.
    #[error("{field}: {message}")]
    Usage { field: &'static str, message: String },
    /// The work failed (I/O, store). Exit code 1.
    #[error("{0}")]
    Failed(String),
}

impl CliError {
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Usage { .. } => 2,
            Self::Failed(_) => 1,
        }
    }
}

/// A usage error on `field`. Core's errors already start with the field name;
/// it is not repeated.
pub fn usage(field: &'static str, message: impl Display) -> CliError {
    let message = message.to_string();
    let message = message.strip_prefix(&format!("{field}: ")).map(str::to_string).unwrap_or(message);
    CliError::Usage { field, message }
}

/// A failure while doing the work.
pub fn failed(context: impl Display, error: impl Display) -> CliError {
    CliError::Failed(format!("{context}: {error}"))
}

/// Parses `value` as a `T`, or a usage error naming `field`.
pub fn parse<T: std::str::FromStr>(field: &'static str, value: &str) -> Result<T, CliError>
where
    T::Err: Display,
{
    value.parse().map_err(|e| usage(field, e))
}

impl From<mss_store::StoreError> for CliError {
    fn from(e: mss_store::StoreError) -> Self {
        match e {
            mss_store::StoreError::CertificateTaken(_) => usage("certificate-dn", e),
            e => CliError::Failed(format!("store: {e}")),
        }
    }
}
