//! The store's error type: what went wrong, in terms a caller can turn into a
//! protocol reply (a conflict is not an I/O failure).

use std::path::PathBuf;

/// Errors of every backend.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A mailbox with this address exists already.
    #[error("address {0} is already taken")]
    AddressTaken(String),
    /// Another applicative mailbox that still exists is bound to this
    /// certificate DN (SASL EXTERNAL could not tell them apart).
    #[error("certificate DN is already bound to {0}")]
    CertificateTaken(String),
    /// The row to change does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The same entry is already present.
    #[error("{0} is already present")]
    AlreadyPresent(String),
    /// The caller asked for something the store cannot represent.
    #[error("invalid request: {0}")]
    Invalid(String),
    /// Stored data does not read back as what was written (hash mismatch,
    /// unknown enum value): never silently repaired.
    #[error("corrupt data: {0}")]
    Corrupt(String),
    /// The database was written by a newer mss.
    #[error("database schema version {found} is newer than this mss knows ({known}); upgrade mss")]
    SchemaTooNew { found: i64, known: i64 },
    #[error("database: {0}")]
    Database(#[from] rusqlite::Error),
    #[error("PostgreSQL: {}", postgres_message(.0))]
    Postgres(#[from] tokio_postgres::Error),
    /// No connection to PostgreSQL could be had from the pool.
    #[error("PostgreSQL pool: {0}")]
    Pool(String),
    /// The object store (S3) failed or refused a request.
    #[error("object store: {0}")]
    Objects(String),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("store task failed: {0}")]
    Task(String),
}

impl StoreError {
    /// Whether the failure is a full disk (a blob write or the database):
    /// the data is intact and the operation may succeed once space is freed.
    pub fn is_storage_full(&self) -> bool {
        match self {
            StoreError::Io { source, .. } => {
                matches!(source.kind(), std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded)
            }
            StoreError::Database(e) => e.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull),
            StoreError::Postgres(e) => e.code() == Some(&tokio_postgres::error::SqlState::DISK_FULL),
            _ => false,
        }
    }

    /// Whether PostgreSQL refused the transaction for its place among
    /// others (a lock cycle broken, `40P01`; a serialization failure,
    /// `40001`): nothing of it was written, and the same transaction run
    /// again may pass.
    pub(crate) fn is_transaction_conflict(&self) -> bool {
        use tokio_postgres::error::SqlState;
        match self {
            StoreError::Postgres(e) => e
                .code()
                .is_some_and(|c| *c == SqlState::T_R_DEADLOCK_DETECTED || *c == SqlState::T_R_SERIALIZATION_FAILURE),
            _ => false,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> StoreError {
        let path = path.into();
        move |source| StoreError::Io { path, source }
    }
}

/// Runs blocking store work off the async runtime.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| StoreError::Task(e.to_string()))?
}

/// What PostgreSQL said (the server's message, not the driver's bare
/// "db error"), or why it could not be reached.
pub(crate) fn postgres_message(e: &tokio_postgres::Error) -> String {
    match (e.as_db_error(), std::error::Error::source(e)) {
        (Some(db), _) => format!("{} ({})", db.message(), db.code().code()),
        (None, Some(cause)) => format!("{e}: {cause}"),
        (None, None) => e.to_string(),
    }
}
