//! Storage for mss: mailbox metadata, the liste blanche, message metadata in a
//! relational database, and message bodies as content-addressed blobs.
//!
//! Callers see two traits, [`MetadataStore`] and [`BlobStore`], bundled in
//! [`Store`]; the backends behind them are chosen by configuration
//! ([`StoreConfig`]). Today: SQLite in WAL mode and blobs on the local
//! filesystem (the embedded default). A PostgreSQL + S3 backend implements the
//! same traits and runs the same test suite (`tests/suite`).
//!
//! Implementation notes, the rules that keep mail from being lost or torn:
//! - **Blob first, row second.** A large message's blob is durable (written
//!   to a temporary file, fsynced, renamed, directory fsynced) before the row
//!   that names it is committed. A crash in between leaves an unreferenced
//!   blob, never a row pointing at nothing. A small body (up to
//!   [`INLINE_MAX`]) is written in the linking transaction itself: one
//!   commit, one fsync, for most messages.
//! - **One transaction per user-visible change.** A delivery to several
//!   recipients, a liste blanche replacement: all or nothing.
//! - **Durable before acknowledged.** SQLite runs with `synchronous=FULL`;
//!   a method returns only after its commit is on disk. One exception,
//!   derived data only: the embedded store indexes the search text of a
//!   new message behind its acknowledgement (`sqlite/text_index.rs`); a
//!   text lost in a crash is named in the database and indexed again from
//!   the message's bytes ([`FactsStore::requeue_unindexed_texts`]).
//! - **Schema changes are migrations** (`migrations/`), applied in order at
//!   open, each in its own transaction; a database from a newer mss is refused.
//! - Nothing here decides policy: who may see or write what is `mss-core`'s job.

mod account_links;
mod allocate;
mod app_passwords;
mod audit;
mod blob;
mod error;
mod facts;
mod folders;
mod fs_blobs;
mod indicator;
mod layered;
mod leases;
mod lifecycle;
mod login_failures;
mod login_flows;
mod maintenance;
mod model;
mod patients;
mod postgres;
mod publication;
mod s3_blobs;
mod sort_index;
mod sqlite;
mod stats;
mod words;

use std::path::PathBuf;
use std::sync::Arc;

pub use account_links::*;
pub use allocate::{create_at_free_address, free_address};
pub use app_passwords::*;
pub use audit::*;
pub use blob::{BlobHash, BlobStore};
/// A message body shared without copies (`Bytes::from(Vec<u8>)` takes the
/// buffer): the blob writer works on its own thread while the caller reads
/// the same bytes.
pub use bytes::Bytes;
pub use error::StoreError;
pub use facts::*;
pub use folders::*;
pub use fs_blobs::FsBlobStore;
pub use indicator::*;
pub use layered::{Body, INLINE_MAX, InlineBlobs, LayeredBlobs};
pub use leases::*;
pub use lifecycle::*;
pub use login_failures::*;
pub use login_flows::*;
pub use maintenance::*;
pub use model::*;
pub use patients::*;
pub use postgres::{CopyReport, PgStore, PostgresConfig, copy_embedded, reaches_this_host_only};
pub use publication::*;
pub use s3_blobs::{S3BlobStore, S3Config};
pub use sqlite::SqliteStore;
pub use stats::*;
pub use words::IndexedText;

/// Which backends to open.
#[derive(Debug, Clone)]
// Read once at start: the size of the larger variant costs nothing.
#[allow(clippy::large_enum_variant)]
pub enum StoreConfig {
    /// SQLite database and blob directory inside one data directory.
    Embedded { dir: PathBuf },
    /// PostgreSQL for the metadata (and small bodies), `blobs` for the rest.
    Postgres { database: PostgresConfig, blobs: BlobsConfig },
}

/// Where the bodies too large for the database go.
#[derive(Debug, Clone)]
pub enum BlobsConfig {
    /// Files in a directory of this node (one node only).
    Files { dir: PathBuf },
    /// Objects in an S3-compatible bucket, shared by every node.
    S3(S3Config),
}

/// The metadata store and the blob store, opened together, and the audit
/// trail that records into the metadata store.
#[derive(Clone)]
pub struct Store {
    pub meta: Arc<dyn MetadataStore>,
    pub blobs: Arc<dyn BlobStore>,
    pub audit: AuditTrail,
}

/// The database file of an embedded store, in its directory.
pub const EMBEDDED_DATABASE: &str = "mss.sqlite3";

impl BlobsConfig {
    /// Opens the blob store this names.
    pub async fn open(&self) -> Result<Arc<dyn BlobStore>, StoreError> {
        Ok(match self {
            BlobsConfig::Files { dir } => Arc::new(FsBlobStore::open(dir).await?),
            BlobsConfig::S3(config) => Arc::new(S3BlobStore::open(config).await?),
        })
    }
}

/// A store's schema version against this build's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchemaVersions {
    /// What the database holds (0: nothing yet).
    pub database: i64,
    /// What this build migrates to.
    pub build: i64,
}

impl StoreConfig {
    /// The schema versions of the store this names, read without opening
    /// it for use nor migrating anything.
    pub async fn schema_versions(&self) -> Result<SchemaVersions, StoreError> {
        match self {
            StoreConfig::Embedded { dir } => {
                let path = dir.join(EMBEDDED_DATABASE);
                let database = error::blocking(move || sqlite::version_of(&path)).await?;
                Ok(SchemaVersions { database, build: SqliteStore::schema_version() })
            }
            StoreConfig::Postgres { database, .. } => Ok(SchemaVersions {
                database: PgStore::database_version(database).await?,
                build: PgStore::schema_version(),
            }),
        }
    }
}

impl Store {
    /// Opens (creating if needed) the configured backends and applies pending
    /// migrations.
    pub async fn open(config: &StoreConfig) -> Result<Self, StoreError> {
        match config {
            StoreConfig::Embedded { dir } => {
                let meta = Arc::new(SqliteStore::open(&dir.join(EMBEDDED_DATABASE)).await?);
                let files = FsBlobStore::open(&dir.join("blobs")).await?;
                let audit = AuditTrail::start(meta.clone());
                let blobs = LayeredBlobs { inline: meta.clone(), files: Arc::new(files) };
                Ok(Self { meta, blobs: Arc::new(blobs), audit })
            }
            StoreConfig::Postgres { database, blobs } => {
                let meta = Arc::new(PgStore::open(database).await?);
                let files = blobs.open().await?;
                let audit = AuditTrail::start(meta.clone());
                let blobs = LayeredBlobs { inline: meta.clone(), files };
                Ok(Self { meta, blobs: Arc::new(blobs), audit })
            }
        }
    }

    /// Stores one message for several local mailboxes: the blob is made
    /// durable first, then one transaction links it into each recipient's
    /// INBOX. Returns once both are on disk.
    pub async fn deliver(&self, raw: &[u8], recipients: &[MailboxId]) -> Result<Delivery, StoreError> {
        let placements: Vec<Placement> = recipients.iter().map(|&m| Placement::inbox(m)).collect();
        self.deliver_to(raw, &placements).await
    }

    /// The same, into any folders (a sent copy goes to the sender's Sent).
    pub async fn deliver_to(&self, raw: &[u8], placements: &[Placement]) -> Result<Delivery, StoreError> {
        self.deliver_indexed(raw, placements, None).await
    }

    /// The same, with the message's facts written in the linking
    /// transaction (see [`FactsStore`]); they must be the facts of `raw`.
    pub async fn deliver_indexed(
        &self,
        raw: &[u8],
        placements: &[Placement],
        facts: Option<MessageFacts>,
    ) -> Result<Delivery, StoreError> {
        self.deliver_read(Bytes::copy_from_slice(raw), placements, move |_| facts).await
    }

    /// The same, the facts read by `read` from the message while a large
    /// body is being written: the message is parsed during the blob's
    /// writes and syncs, not before them. Nothing of the message is held
    /// here while the links wait for their commit (many deliveries wait
    /// together): the body is let go once durable, and the facts hold the
    /// text cut down to its words ([`IndexedText`]); a caller that passes
    /// its only handle on `raw` frees it then.
    pub async fn deliver_read(
        &self,
        raw: Bytes,
        placements: &[Placement],
        read: impl FnOnce(&[u8]) -> Option<MessageFacts>,
    ) -> Result<Delivery, StoreError> {
        if placements.is_empty() {
            return Err(StoreError::Invalid("a delivery needs at least one recipient".into()));
        }
        let size = u64::try_from(raw.len()).map_err(|_| StoreError::Invalid("message too large".into()))?;
        // Polled in order: the body's write is under way (on a blocking
        // thread, or on the network) when `read` runs.
        let (body, facts) = tokio::join!(self.body(raw.clone()), async { read(&raw) });
        drop(raw);
        let body = body?;
        let message = NewMessage { blob: body.hash, size, received_at: now_unix(), inline: body.inline, facts };
        self.meta.link_message(message, placements).await
    }

    /// Prepares a body for linking: a large one is written to a blob file
    /// now (durable before the row that names it), a small one is handed
    /// back to be written by the linking transaction itself.
    pub async fn body(&self, raw: Bytes) -> Result<Body, StoreError> {
        if raw.len() <= INLINE_MAX {
            // The buffer itself when the caller kept no other handle on it.
            return Ok(Body { hash: BlobHash::of(&raw), inline: Some(Vec::from(raw)) });
        }
        Ok(Body { hash: self.blobs.put(raw).await?, inline: None })
    }
}

impl Store {
    /// Queues a message for remote recipients: blob durable first, then the
    /// queue rows, in one transaction.
    pub async fn enqueue(
        &self,
        raw: &[u8],
        sender: &str,
        recipients: &[mss_core::EmailAddress],
        expires_at: i64,
    ) -> Result<QueueId, StoreError> {
        let raw = Bytes::copy_from_slice(raw);
        self.enqueue_with_dsn(raw, sender, recipients, expires_at, Dsn::default(), Vec::new()).await
    }

    /// [`Store::enqueue`], with what the sender asked of delivery status
    /// notifications (RFC 3461): for the message, and per recipient.
    pub async fn enqueue_with_dsn(
        &self,
        raw: Bytes,
        sender: &str,
        recipients: &[mss_core::EmailAddress],
        expires_at: i64,
        dsn: Dsn,
        recipient_dsn: Vec<RecipientDsn>,
    ) -> Result<QueueId, StoreError> {
        let size = u64::try_from(raw.len()).map_err(|_| StoreError::Invalid("message too large".into()))?;
        let blob = self.blobs.put(raw).await?;
        let message = NewQueued {
            blob,
            size,
            sender: sender.to_string(),
            recipients: recipients.to_vec(),
            expires_at,
            dsn,
            recipient_dsn,
        };
        self.meta.enqueue(&message).await
    }
}

/// Seconds since the Unix epoch, the time unit of every stored timestamp.
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
