//! The embedded metadata backend: one SQLite file in WAL mode.
//!
//! One writer connection (SQLite allows one writer at a time anyway), on a
//! thread of its own that commits waiting writes together ([`writer`]), a
//! few reader connections, used on tokio's blocking pool, and two for
//! lookups by key, used on the caller's thread (`SqliteStore::lookup`).
//! Readers and lookup connections open on their first use: each holds its
//! own parse of the schema (about 240 KB), and an idle or lightly used
//! store needs one of each. The search text of new messages is indexed by
//! a thread of its own, behind their acknowledgement ([`text_index`]).
//! Writes use `BEGIN IMMEDIATE` so that two processes sharing the file (the
//! server and an administrator's CLI command) queue on the lock instead of
//! failing halfway; `busy_timeout` bounds the wait. `synchronous=FULL`: a
//! commit is on disk when it returns, and a write returns once committed.

mod account_links;
mod app_passwords;
mod audit;
mod facts;
mod folders;
mod indicator;
mod inline_blobs;
pub(crate) use inline_blobs::EVERY_BODY;
mod leases;
mod lifecycle;
mod listing;
mod login_failures;
mod login_flows;
mod maintenance;
mod migrations;
mod new_rows;

pub(crate) use migrations::version_of;
mod patients;
mod publication;
mod stats;
mod text_index;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use mss_core::{EmailAddress, NationalId, Role};
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::error::blocking;
use crate::model::*;
use crate::{BlobHash, StoreError, now_unix};
use new_rows::{FolderRow, NewRow};

const READERS: usize = 4;
/// Connections for lookups run on the caller's thread ([`SqliteStore::lookup`]).
const LOOKUP_READERS: usize = 2;
const BUSY_TIMEOUT_MS: u64 = 10_000;

/// The SQLite metadata store.
#[derive(Clone)]
pub struct SqliteStore {
    pool: Arc<Pool>,
}

struct Pool {
    /// The database file, for connections opened on their first use.
    path: PathBuf,
    /// Before the writer: dropped first, it hands its last texts to the
    /// writer and lets go of it.
    texts: text_index::TextIndex,
    writer: writer::Writer,
    /// `None` until first used.
    readers: Vec<Mutex<Option<Connection>>>,
    /// For [`SqliteStore::lookup`]: the file not mapped (a write since its
    /// last read makes a connection drop its map of the file and map it
    /// again, a cost above a lookup's few pages read).
    lookups: Vec<Mutex<Option<Connection>>>,
    /// One per reader: reads wait here, not in blocking threads parked on a
    /// reader's lock (two hundred sessions would hold two hundred threads).
    free_readers: tokio::sync::Semaphore,
    next_reader: AtomicUsize,
    /// Mailboxes whose folders changed (see [`crate::FolderStore::watch`]).
    changes: tokio::sync::broadcast::Sender<MailboxId>,
    /// The folders whose rows are being marked for their sort indexes.
    marking: crate::sort_index::Marking,
}

/// Change notifications buffered per receiver before it counts as lagging.
const CHANGE_BUFFER: usize = 1024;

/// How much of the database file each connection maps (SQLite's
/// `mmap_size`, at most what SQLite allows, 2 GiB less 64 KiB); the pages
/// are the kernel's page cache, shared by every connection, not memory of
/// each. A store whose small bodies live in the database passes 256 MiB
/// at about 100,000 messages: past the map, every page is read by a
/// system call into a connection's small page cache.
const MMAP_BYTES: i64 = 0x7fff_0000;

/// What a connection is for.
#[derive(Clone, Copy, PartialEq)]
enum Use {
    /// Reads: the database mapped.
    Read,
    /// Lookups of a few rows by key: pages read by system calls.
    Lookup,
    /// The writer and the checkpointer: their pages go through their own
    /// small caches, so a stream of deliveries (bodies up to 64 KiB in the
    /// database, hashed to random pages) does not map the whole file.
    Write,
}

fn connect(path: &Path, usage: Use) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_millis(BUSY_TIMEOUT_MS))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Sorts and the writer's savepoint journals stay in memory: never health
    // data in a file of the machine's temporary directory, nor a file
    // created, written and removed per delivery.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    if usage == Use::Read {
        // Reads map the database instead of copying each page through a
        // read call: a SEARCH or SORT of a large folder reads every row of
        // its facts.
        conn.pragma_update(None, "mmap_size", MMAP_BYTES)?;
    }
    // Plans never depend on the values bound: otherwise a statement whose
    // parameter the planner compared with a partial index's condition
    // (`folder_messages_unseen`...) is prepared again at every new binding,
    // a parse and plan per store read (15% of a small FETCH).
    conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    Ok(conn)
}

/// Runs the read `f` in one read transaction: its statements see one
/// snapshot of the database (a FETCH reads the messages, then their
/// bodies, as of the same commit), and the log's read lock is taken once
/// (outside a transaction each statement takes and releases it: two
/// `fcntl` calls per body a FETCH reads, a third of its time).
fn in_snapshot<T>(conn: &Connection, f: impl FnOnce(&Connection) -> Result<T, StoreError>) -> Result<T, StoreError> {
    conn.prepare_cached("BEGIN")?.execute([])?;
    let result = f(conn);
    if !conn.is_autocommit() && conn.prepare_cached("COMMIT").and_then(|mut end| end.execute([])).is_err() {
        // A read has nothing to keep: what did not commit is rolled back,
        // so that the connection goes back to its pool without a transaction.
        conn.execute_batch("ROLLBACK")?;
    }
    result
}

/// The connection of `slot`, opened now if it was not yet.
fn opened<'a>(slot: &'a mut Option<Connection>, path: &Path, usage: Use) -> Result<&'a Connection, StoreError> {
    let conn = match slot.take() {
        Some(conn) => conn,
        None => connect(path, usage)?,
    };
    Ok(slot.insert(conn))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding a connection leaves no transaction open (rusqlite
    // rolls back on drop), so the connection is still usable.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl SqliteStore {
    /// The mailboxes whose `column` (an indexed one, named by the code) is
    /// `value`, by address.
    async fn mailboxes_where(&self, column: &'static str, value: String) -> Result<Vec<Mailbox>, StoreError> {
        self.read(move |conn| {
            let sql = format!("SELECT {MAILBOX_COLUMNS} FROM mailboxes WHERE {column} = ?1 ORDER BY address");
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt.query_map([value], mailbox_row)?.collect::<Result<Vec<_>, _>>()?;
            rows.into_iter().map(RawMailbox::into_mailbox).collect()
        })
        .await
    }

    /// Opens or creates the database and applies migrations.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        let path = path.to_path_buf();
        blocking(move || {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(StoreError::io(parent))?;
            }
            let mut writer = connect(&path, Use::Write)?;
            migrations::apply(&mut writer)?;
            let writer = writer::Writer::start(&path, writer)?;
            let later = writer.later().ok_or_else(|| StoreError::Task("the SQLite writer is gone".into()))?;
            let texts = text_index::TextIndex::start(later).map_err(StoreError::io(&path))?;
            let readers = (0..READERS).map(|_| Mutex::new(None)).collect();
            let lookups = (0..LOOKUP_READERS).map(|_| Mutex::new(None)).collect();
            let (changes, _) = tokio::sync::broadcast::channel(CHANGE_BUFFER);
            let free_readers = tokio::sync::Semaphore::new(READERS);
            let next_reader = AtomicUsize::new(0);
            let marking = crate::sort_index::Marking::default();
            let pool = Pool { path, texts, writer, readers, lookups, free_readers, next_reader, changes, marking };
            Ok(Self { pool: Arc::new(pool) })
        })
        .await
    }

    /// The schema version of this build (the last migration).
    pub fn schema_version() -> i64 {
        migrations::MIGRATIONS.last().map_or(0, |m| m.0)
    }

    async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.pool.writer.write(f).await
    }

    /// Tells watchers (IMAP sessions) that a mailbox's folders changed.
    fn notify(&self, mailbox: MailboxId) {
        // No receiver is not an error: nobody is watching.
        let _ = self.pool.changes.send(mailbox);
    }

    /// Runs `f` on a reader connection, in one read transaction (see
    /// [`in_snapshot`]).
    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.read_outside_transaction(move |conn| in_snapshot(conn, f)).await
    }

    /// Runs `f` on a reader connection as it is, without a transaction:
    /// for what SQLite refuses inside one (`VACUUM INTO`).
    async fn read_outside_transaction<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let _permit = self.pool.free_readers.acquire().await.map_err(|e| StoreError::Task(e.to_string()))?;
        let pool = self.pool.clone();
        blocking(move || {
            // The first free reader: under a light load one connection
            // serves the reads and keeps its map of the file and its page
            // cache (a write since a reader's last read makes it drop both
            // and fault every page in again). All busy: the next in turn.
            let mut slot = match pool.readers.iter().find_map(|reader| reader.try_lock().ok()) {
                Some(slot) => slot,
                None => lock(&pool.readers[pool.next_reader.fetch_add(1, Ordering::Relaxed) % pool.readers.len()]),
            };
            f(opened(&mut slot, &pool.path, Use::Read)?)
        })
        .await
    }

    /// A read of a few rows found by an index (a mailbox by address, a
    /// domain of the liste blanche), run on the caller's thread when a
    /// lookup connection is free: a few pages from the kernel's cache cost
    /// less than handing the read to a blocking thread and waking the
    /// caller again (four context switches, under SMTP load a quarter of
    /// mss's CPU). Busy, it is an ordinary [`read`](Self::read). Never for
    /// a read whose size depends on the data (a folder, a search).
    async fn lookup<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let f = match self.pool.lookups.iter().find_map(|slot| slot.try_lock().ok()) {
            Some(mut slot) => return in_snapshot(opened(&mut slot, &self.pool.path, Use::Lookup)?, f),
            None => f,
        };
        self.read(f).await
    }
}

/// UIDVALIDITY of a new folder (RFC 9051 §2.3.1.1): it must change if a
/// folder name is ever reused, so the creation time in seconds, kept strictly
/// increasing by a counter (two folders made in the same second differ).
pub(crate) fn next_uidvalidity(tx: &rusqlite::Transaction<'_>) -> Result<u32, StoreError> {
    let last: i64 =
        tx.query_row("SELECT COALESCE((SELECT value FROM counters WHERE name = 'uidvalidity'), 0)", [], |r| r.get(0))?;
    let next = (now_unix() & 0xffff_ffff).max(last + 1);
    let next = u32::try_from(next).map_err(|_| StoreError::Invalid("UIDVALIDITY space exhausted".into()))?;
    tx.execute(
        "INSERT INTO counters (name, value) VALUES ('uidvalidity', ?1)
         ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        [next],
    )?;
    Ok(next)
}

pub(super) const MAILBOX_COLUMNS: &str = "id, address, kind, state, national_id, finess, first_name, last_name, \
                               display_name, service, liste_rouge, created_at, updated_at, certificate_dn, \
                               state_reason";
/// How many columns [`MAILBOX_COLUMNS`] names.
const MAILBOX_COLUMN_COUNT: usize = 15;

fn corrupt(what: &str, value: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what} `{value}`: {e}"))
}

pub(super) fn parse_col<T: std::str::FromStr>(what: &str, value: String) -> Result<T, StoreError>
where
    T::Err: std::fmt::Display,
{
    value.parse().map_err(|e| corrupt(what, &value, e))
}

/// A mailbox row as SQLite returns it, typed once the row is released.
pub(super) struct RawMailbox {
    id: i64,
    address: String,
    kind: String,
    state: String,
    national_id: Option<String>,
    finess: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    display_name: String,
    service: Option<String>,
    liste_rouge: bool,
    created_at: i64,
    updated_at: i64,
    certificate_dn: Option<String>,
    state_reason: Option<String>,
}

/// Reads the columns of [`MAILBOX_COLUMNS`], in that order.
pub(super) fn mailbox_row(row: &Row<'_>) -> rusqlite::Result<RawMailbox> {
    Ok(RawMailbox {
        id: row.get(0)?,
        address: row.get(1)?,
        kind: row.get(2)?,
        state: row.get(3)?,
        national_id: row.get(4)?,
        finess: row.get(5)?,
        first_name: row.get(6)?,
        last_name: row.get(7)?,
        display_name: row.get(8)?,
        service: row.get(9)?,
        liste_rouge: row.get(10)?,
        created_at: row.get(11)?,
        updated_at: row.get(12)?,
        certificate_dn: row.get(13)?,
        state_reason: row.get(14)?,
    })
}

impl RawMailbox {
    pub(super) fn into_mailbox(self) -> Result<Mailbox, StoreError> {
        Ok(Mailbox {
            id: self.id,
            address: parse_col("address", self.address)?,
            kind: parse_col("kind", self.kind)?,
            state: parse_col("state", self.state)?,
            national_id: self.national_id.map(|v| parse_col("national id", v)).transpose()?,
            finess: self.finess.map(|v| parse_col("finess", v)).transpose()?,
            first_name: self.first_name,
            last_name: self.last_name,
            display_name: self.display_name,
            service: self.service,
            liste_rouge: self.liste_rouge,
            certificate_dn: self.certificate_dn,
            state_reason: self.state_reason,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// Queue rows joined with their message, filtered and ordered by `tail`.
fn queued_rows(
    conn: &Connection,
    tail: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<QueuedRecipient>, StoreError> {
    let sql = format!(
        "SELECT r.id, r.message_id, m.blob_hash, m.sender, r.recipient, r.domain, r.status, r.attempts,
                r.next_attempt_at, m.expires_at, r.last_reply, r.notify, r.orcpt, m.dsn_ret, m.dsn_envid
         FROM queue_recipients r JOIN queue_messages m ON m.id = r.message_id {tail}"
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(params, |r| {
        Ok(QueuedRecipient {
            id: r.get(0)?,
            message: r.get(1)?,
            blob: r.get(2)?,
            sender: r.get(3)?,
            recipient: r.get(4)?,
            domain: r.get(5)?,
            status: r.get(6)?,
            attempts: r.get(7)?,
            next_attempt_at: r.get(8)?,
            expires_at: r.get(9)?,
            last_reply: r.get(10)?,
            dsn: RecipientDsn { notify: r.get(11)?, orcpt: r.get(12)? },
            message_dsn: Dsn { ret: r.get(13)?, envid: r.get(14)? },
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Whitelist rows, all or those of one domain (found by its index: every
/// message received asks), ANS first, in insertion order.
fn whitelist_rows(conn: &Connection, domain: Option<&str>) -> Result<Vec<WhitelistRow>, StoreError> {
    const COLUMNS: &str = "domain, operator_dn, description, responsible_contact, support_contact, updated_at, source";
    let mut stmt = match domain {
        Some(_) => conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM whitelist_entries WHERE domain = ?1 ORDER BY source, id"
        ))?,
        None => conn.prepare_cached(&format!("SELECT {COLUMNS} FROM whitelist_entries ORDER BY source, id"))?,
    };
    let rows = stmt.query_map(rusqlite::params_from_iter(domain), |r| {
        Ok(WhitelistRow {
            domain: r.get(0)?,
            operator_dn: r.get(1)?,
            description: r.get(2)?,
            responsible_contact: r.get(3)?,
            support_contact: r.get(4)?,
            updated_at: r.get(5)?,
            source: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn insert_whitelist_row(tx: &rusqlite::Transaction<'_>, row: &WhitelistRow) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO whitelist_entries
            (domain, operator_dn, description, responsible_contact, support_contact, updated_at, source)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            row.domain,
            row.operator_dn,
            row.description,
            row.responsible_contact,
            row.support_contact,
            row.updated_at,
            row.source
        ],
    )?;
    Ok(())
}

/// Inserts a mailbox with its INBOX and special-use folders; returns its id.
pub(super) fn insert_mailbox(tx: &rusqlite::Transaction<'_>, new: &NewMailbox) -> Result<MailboxId, StoreError> {
    let address = new.address.to_string();
    if let Some(dn) = &new.certificate_dn {
        // One mailbox per certificate: SASL EXTERNAL names the mailbox by
        // the certificate alone. A deleted mailbox frees its certificate.
        let bound: Option<String> = tx
            .query_row(
                "SELECT address FROM mailboxes WHERE certificate_dn = ?1 AND state != 'deleted'",
                params![dn],
                |row| row.get(0),
            )
            .optional()?;
        if let Some(bound) = bound {
            return Err(StoreError::CertificateTaken(bound));
        }
    }
    let now = now_unix();
    let inserted = tx.execute(
        "INSERT INTO mailboxes (address, kind, state, national_id, finess, first_name, last_name,
                                    display_name, service, liste_rouge, created_at, updated_at, certificate_dn)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11, ?12)
             ON CONFLICT (address) DO NOTHING",
        params![
            address,
            new.kind.code(),
            new.state.as_str(),
            new.national_id.as_ref().map(|n| n.to_string()),
            new.finess.as_ref().map(|f| f.as_str().to_string()),
            new.first_name,
            new.last_name,
            new.display_name,
            new.service,
            new.liste_rouge,
            now,
            new.certificate_dn
        ],
    )?;
    if inserted == 0 {
        return Err(StoreError::AddressTaken(address));
    }
    let id = tx.last_insert_rowid();
    tx.execute(
        "INSERT INTO folders (mailbox_id, name, uidvalidity) VALUES (?1, ?2, ?3)",
        params![id, INBOX, next_uidvalidity(tx)?],
    )?;
    for (name, special_use) in SPECIAL_FOLDERS {
        tx.execute(
            "INSERT INTO folders (mailbox_id, name, uidvalidity, special_use) VALUES (?1, ?2, ?3, ?4)",
            params![id, name, next_uidvalidity(tx)?, special_use],
        )?;
    }
    Ok(id)
}

/// Reads one mailbox by id.
pub(super) fn mailbox_by_id(conn: &Connection, id: MailboxId) -> Result<Mailbox, StoreError> {
    let sql = format!("SELECT {MAILBOX_COLUMNS} FROM mailboxes WHERE id = ?1");
    conn.query_row(&sql, [id], mailbox_row)?.into_mailbox()
}

#[async_trait]
impl MetadataStore for SqliteStore {
    async fn create_mailbox(&self, new: &NewMailbox) -> Result<Mailbox, StoreError> {
        let new = new.clone();
        let id = self.write(move |tx| insert_mailbox(tx, &new)).await?;
        self.read(move |conn| mailbox_by_id(conn, id)).await
    }

    async fn mailbox(&self, address: &EmailAddress) -> Result<Option<Mailbox>, StoreError> {
        let address = address.to_string();
        self.lookup(move |conn| {
            let sql = format!("SELECT {MAILBOX_COLUMNS} FROM mailboxes WHERE address = ?1");
            let row = conn.prepare_cached(&sql)?.query_row([address], mailbox_row).optional()?;
            row.map(RawMailbox::into_mailbox).transpose()
        })
        .await
    }

    async fn mailboxes(&self) -> Result<Vec<Mailbox>, StoreError> {
        self.read(|conn| {
            let sql = format!("SELECT {MAILBOX_COLUMNS} FROM mailboxes ORDER BY address");
            let mut stmt = conn.prepare(&sql)?;
            let rows = stmt.query_map([], mailbox_row)?.collect::<Result<Vec<_>, _>>()?;
            rows.into_iter().map(RawMailbox::into_mailbox).collect()
        })
        .await
    }

    async fn certificate_bound_mailboxes(&self) -> Result<Vec<Mailbox>, StoreError> {
        self.read(|conn| {
            let sql =
                format!("SELECT {MAILBOX_COLUMNS} FROM mailboxes WHERE certificate_dn IS NOT NULL ORDER BY address");
            let mut stmt = conn.prepare(&sql)?;
            let rows = stmt.query_map([], mailbox_row)?.collect::<Result<Vec<_>, _>>()?;
            rows.into_iter().map(RawMailbox::into_mailbox).collect()
        })
        .await
    }

    async fn grant_role(&self, mailbox: MailboxId, national_id: &NationalId, role: Role) -> Result<(), StoreError> {
        let national_id = national_id.to_string();
        self.write(move |tx| {
            let exists: bool =
                tx.query_row("SELECT EXISTS (SELECT 1 FROM mailboxes WHERE id = ?1)", [mailbox], |r| r.get(0))?;
            if !exists {
                return Err(StoreError::NotFound(format!("mailbox {mailbox}")));
            }
            tx.execute(
                "INSERT INTO mailbox_roles (mailbox_id, national_id, role, granted_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (mailbox_id, national_id) DO UPDATE SET role = excluded.role, granted_at = excluded.granted_at",
                params![mailbox, national_id, role.as_str(), now_unix()],
            )?;
            Ok(())
        })
        .await
    }

    async fn role_of(&self, mailbox: MailboxId, national_id: &NationalId) -> Result<Option<Role>, StoreError> {
        let national_id = national_id.to_string();
        self.read(move |conn| {
            let role: Option<String> = conn
                .query_row(
                    "SELECT role FROM mailbox_roles WHERE mailbox_id = ?1 AND national_id = ?2",
                    params![mailbox, national_id],
                    |r| r.get(0),
                )
                .optional()?;
            role.map(|r| parse_col("role", r)).transpose()
        })
        .await
    }

    async fn mailboxes_of(&self, national_id: &NationalId) -> Result<Vec<Mailbox>, StoreError> {
        self.mailboxes_where("national_id", national_id.to_string()).await
    }

    async fn mailboxes_of_finess(&self, finess: &str) -> Result<Vec<Mailbox>, StoreError> {
        self.mailboxes_where("finess", finess.to_string()).await
    }

    async fn roles_on(&self, mailbox: MailboxId) -> Result<Vec<(NationalId, Role)>, StoreError> {
        self.read(move |conn| {
            let mut stmt =
                conn.prepare("SELECT national_id, role FROM mailbox_roles WHERE mailbox_id = ?1 ORDER BY national_id")?;
            let rows = stmt
                .query_map([mailbox], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
                .collect::<Result<Vec<_>, _>>()?;
            rows.into_iter().map(|(id, role)| Ok((parse_col("national id", id)?, parse_col("role", role)?))).collect()
        })
        .await
    }

    async fn roles_of(&self, national_id: &NationalId) -> Result<Vec<(Mailbox, Role)>, StoreError> {
        let national_id = national_id.to_string();
        self.read(move |conn| {
            let columns = MAILBOX_COLUMNS.split(", ").map(|c| format!("m.{c}")).collect::<Vec<_>>().join(", ");
            let sql = format!(
                "SELECT {columns}, r.role FROM mailbox_roles r JOIN mailboxes m ON m.id = r.mailbox_id
                 WHERE r.national_id = ?1 ORDER BY m.address"
            );
            let mut stmt = conn.prepare(&sql)?;
            let rows = stmt
                .query_map([national_id], |r| Ok((mailbox_row(r)?, r.get::<_, String>(MAILBOX_COLUMN_COUNT)?)))?
                .collect::<Result<Vec<_>, _>>()?;
            rows.into_iter().map(|(m, role)| Ok((m.into_mailbox()?, parse_col("role", role)?))).collect()
        })
        .await
    }

    async fn addresses_with_prefix(&self, prefix: &str, domain: &str) -> Result<Vec<String>, StoreError> {
        // substr() rather than LIKE: local parts contain `_`/`%`-free text, but
        // an exact prefix test needs no escaping at all.
        let (prefix, domain) = (prefix.to_string(), domain.to_string());
        self.read(move |conn| {
            let mut stmt = conn.prepare(
                "SELECT address FROM mailboxes
                 WHERE substr(address, 1, length(?1)) = ?1
                   AND substr(address, length(address) - length(?2)) = '@' || ?2
                 ORDER BY address",
            )?;
            let rows = stmt.query_map(params![prefix, domain], |r| r.get(0))?.collect::<Result<Vec<String>, _>>()?;
            Ok(rows)
        })
        .await
    }

    async fn replace_ans_whitelist(&self, import: &WhitelistImport, rows: &[WhitelistRow]) -> Result<(), StoreError> {
        if rows.iter().any(|r| r.source != WhitelistSource::Ans) {
            return Err(StoreError::Invalid("an ANS import holds ANS rows only".into()));
        }
        let (import, rows) = (import.clone(), rows.to_vec());
        self.write(move |tx| {
            tx.execute("DELETE FROM whitelist_entries WHERE source = 'ans'", [])?;
            for row in &rows {
                insert_whitelist_row(tx, row)?;
            }
            tx.execute(
                "INSERT INTO whitelist_imports (generated_at, sha256, entry_count, imported_at) VALUES (?1, ?2, ?3, ?4)",
                params![import.generated_at, import.sha256, import.entry_count, import.imported_at],
            )?;
            Ok(())
        })
        .await
    }

    async fn add_manual_whitelist_row(&self, row: &WhitelistRow) -> Result<(), StoreError> {
        if row.source != WhitelistSource::Manual {
            return Err(StoreError::Invalid("a manual addition must be a manual row".into()));
        }
        let row = row.clone();
        self.write(move |tx| {
            let exists: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM whitelist_entries
                                WHERE source = 'manual' AND domain = ?1 AND operator_dn = ?2)",
                params![row.domain, row.operator_dn],
                |r| r.get(0),
            )?;
            if exists {
                return Err(StoreError::AlreadyPresent(format!("{} with DN {}", row.domain, row.operator_dn)));
            }
            insert_whitelist_row(tx, &row)
        })
        .await
    }

    async fn remove_manual_whitelist_rows(&self, domain: &str, dn: Option<&str>) -> Result<usize, StoreError> {
        let (domain, dn) = (domain.to_ascii_lowercase(), dn.map(str::to_string));
        self.write(move |tx| {
            Ok(tx.execute(
                "DELETE FROM whitelist_entries
                 WHERE source = 'manual' AND domain = ?1 AND (?2 IS NULL OR operator_dn = ?2)",
                params![domain, dn],
            )?)
        })
        .await
    }

    async fn whitelist(&self) -> Result<Vec<WhitelistRow>, StoreError> {
        self.read(|conn| whitelist_rows(conn, None)).await
    }

    async fn whitelist_for_domain(&self, domain: &str) -> Result<Vec<WhitelistRow>, StoreError> {
        let domain = domain.to_ascii_lowercase();
        self.lookup(move |conn| whitelist_rows(conn, Some(&domain))).await
    }

    async fn last_whitelist_import(&self) -> Result<Option<WhitelistImport>, StoreError> {
        self.read(|conn| {
            Ok(conn
                .query_row(
                    "SELECT generated_at, sha256, entry_count, imported_at FROM whitelist_imports ORDER BY id DESC LIMIT 1",
                    [],
                    |r| {
                        Ok(WhitelistImport {
                            generated_at: r.get(0)?,
                            sha256: r.get(1)?,
                            entry_count: r.get(2)?,
                            imported_at: r.get(3)?,
                        })
                    },
                )
                .optional()?)
        })
        .await
    }

    async fn link_message(&self, message: NewMessage, placements: &[Placement]) -> Result<Delivery, StoreError> {
        let NewMessage { blob, size, received_at, inline, facts } = message;
        // The words go to the indexer now, written once the link commits.
        let (facts, ticket) = match facts.map(facts::words_apart) {
            Some((facts, words)) => (Some(facts), self.pool.texts.hand(blob, words).await),
            None => (None, None),
        };
        let placements = placements.to_vec();
        let (delivery, facts_id) = self
            .write(move |tx| {
                let row = NewRow { blob: &blob, size, received_at, inline: inline.as_deref(), facts: facts.as_ref() };
                let inserted = new_rows::insert_message(tx, &row)?;
                let (message_id, columns) = (inserted.message_id, inserted.columns);
                let mut copies = Vec::with_capacity(placements.len());
                for Placement { mailbox, folder } in placements {
                    if folder != INBOX {
                        tx.execute(
                            "INSERT INTO folders (mailbox_id, name, uidvalidity)
                         SELECT id, ?2, ?3 FROM mailboxes WHERE id = ?1
                         ON CONFLICT (mailbox_id, name) DO NOTHING",
                            params![mailbox, folder, next_uidvalidity(tx)?],
                        )?;
                    }
                    let found: Option<(i64, u32, i64)> = tx
                        .prepare_cached(
                            "SELECT id, uidnext, highest_modseq FROM folders WHERE mailbox_id = ?1 AND name = ?2",
                        )?
                        .query_row(params![mailbox, folder], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                        .optional()?;
                    let (folder_id, uid, modseq) =
                        found.ok_or_else(|| StoreError::NotFound(format!("{folder} of mailbox {mailbox}")))?;
                    let next_uid =
                        uid.checked_add(1).ok_or_else(|| StoreError::Invalid("UID space exhausted".into()))?;
                    // The sender's own copy is read already: Sent counts no unread.
                    let (flags, system_flags) = if folder == SENT { ("\\Seen", 1) } else { ("", 0) };
                    new_rows::insert_folder_row(
                        tx,
                        &FolderRow {
                            folder: folder_id,
                            uid,
                            message_id,
                            flags,
                            system_flags,
                            modseq: modseq + 1,
                            received_at,
                            facts: columns,
                        },
                    )?;
                    tx.prepare_cached("UPDATE folders SET uidnext = ?2, highest_modseq = ?3 WHERE id = ?1")?
                        .execute(params![folder_id, next_uid, modseq + 1])?;
                    copies.push(DeliveredCopy { mailbox, folder, uid });
                }
                Ok((Delivery { blob, copies }, inserted.facts_id))
            })
            .await?;
        if let Some(ticket) = ticket {
            ticket.linked(facts_id);
        }
        for copy in &delivery.copies {
            self.notify(copy.mailbox);
        }
        Ok(delivery)
    }

    async fn folder_messages(&self, mailbox: MailboxId, folder: &str) -> Result<Vec<FolderMessage>, StoreError> {
        let folder = folder.to_string();
        self.read(move |conn| {
            let mut stmt = conn.prepare(
                "SELECT fm.uid, m.blob_hash, m.size, m.received_at
                 FROM folder_messages fm
                 JOIN folders f ON f.id = fm.folder_id
                 JOIN messages m ON m.id = fm.message_id
                 WHERE f.mailbox_id = ?1 AND f.name = ?2
                 ORDER BY fm.uid",
            )?;
            let rows = stmt.query_map(params![mailbox, folder], |r| {
                let size = u64::try_from(r.get::<_, i64>(2)?).map_err(|e| {
                    rusqlite::Error::FromSqlConversionFailure(2, rusqlite::types::Type::Integer, Box::new(e))
                })?;
                Ok(FolderMessage { uid: r.get(0)?, blob: r.get(1)?, size, received_at: r.get(3)? })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn referenced_blobs(&self) -> Result<Vec<BlobHash>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare(
                "SELECT blob_hash FROM messages UNION SELECT blob_hash FROM queue_messages ORDER BY blob_hash",
            )?;
            let rows = stmt.query_map([], |r| r.get::<_, BlobHash>(0))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn enqueue(&self, message: &NewQueued) -> Result<QueueId, StoreError> {
        if message.recipients.is_empty() {
            return Err(StoreError::Invalid("a queued message needs at least one recipient".into()));
        }
        let message = message.clone();
        let size = i64::try_from(message.size).map_err(|_| StoreError::Invalid("message size".into()))?;
        self.write(move |tx| {
            let now = now_unix();
            tx.execute(
                "INSERT INTO queue_messages (blob_hash, size, sender, created_at, expires_at, dsn_ret, dsn_envid)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    message.blob.to_hex(),
                    size,
                    message.sender,
                    now,
                    message.expires_at,
                    message.dsn.ret,
                    message.dsn.envid
                ],
            )?;
            let id = tx.last_insert_rowid();
            for (i, recipient) in message.recipients.iter().enumerate() {
                let dsn = message.recipient_dsn.get(i).cloned().unwrap_or_default();
                tx.execute(
                    "INSERT INTO queue_recipients (message_id, recipient, domain, status, next_attempt_at, updated_at,
                                                   notify, orcpt)
                     VALUES (?1, ?2, ?3, 'pending', ?4, ?4, ?5, ?6)",
                    params![id, recipient.to_string(), recipient.domain().as_str(), now, dsn.notify, dsn.orcpt],
                )?;
                set_delivery(tx, &message.blob.to_hex(), &recipient.to_string(), DeliveryState::Queued, "", now)?;
            }
            Ok(id)
        })
        .await
    }

    async fn claim_due_recipients(
        &self,
        now: i64,
        until: i64,
        limit: usize,
    ) -> Result<Vec<QueuedRecipient>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        // One writer at a time: the read and the claim are one transaction.
        self.write(move |tx| {
            let mut due = queued_rows(
                tx,
                "WHERE r.status = 'pending' AND r.next_attempt_at <= ?1 ORDER BY r.next_attempt_at, r.id LIMIT ?2",
                params![now, limit],
            )?;
            let mut claim = tx.prepare_cached("UPDATE queue_recipients SET next_attempt_at = ?2 WHERE id = ?1")?;
            for recipient in &mut due {
                claim.execute(params![recipient.id, until])?;
                recipient.next_attempt_at = until;
            }
            Ok(due)
        })
        .await
    }

    async fn record_attempt(&self, recipient: i64, outcome: &AttemptOutcome) -> Result<bool, StoreError> {
        let outcome = outcome.clone();
        self.write(move |tx| {
            let now = now_unix();
            let (status, reply, next) = match &outcome {
                AttemptOutcome::Delivered { reply } => ("delivered", reply, now),
                AttemptOutcome::Deferred { reply, retry_at } => ("pending", reply, *retry_at),
                AttemptOutcome::Failed { reply } => ("failed", reply, now),
            };
            let found: Option<(i64, String, String)> = tx
                .query_row(
                    "SELECT r.message_id, r.recipient, m.blob_hash FROM queue_recipients r
                     JOIN queue_messages m ON m.id = r.message_id WHERE r.id = ?1",
                    [recipient],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            let Some((message, address, blob)) = found else {
                return Ok(false);
            };
            let changed = tx.execute(
                "UPDATE queue_recipients
                 SET status = ?2, last_reply = ?3, next_attempt_at = ?4, attempts = attempts + 1, updated_at = ?5
                 WHERE id = ?1 AND status = 'pending'",
                params![recipient, status, reply, next, now],
            )?;
            if changed == 1 {
                let state = match &outcome {
                    AttemptOutcome::Delivered { .. } => DeliveryState::Accepted,
                    AttemptOutcome::Deferred { .. } => DeliveryState::Queued,
                    AttemptOutcome::Failed { .. } => DeliveryState::Failed,
                };
                set_delivery(tx, &blob, &address, state, reply, now)?;
            }
            // A message whose every recipient is final leaves the queue.
            tx.execute(
                "DELETE FROM queue_messages WHERE id = ?1
                   AND NOT EXISTS (SELECT 1 FROM queue_recipients WHERE message_id = ?1 AND status = 'pending')",
                [message],
            )?;
            Ok(changed == 1)
        })
        .await
    }

    async fn record_local_delivery(&self, blob: &BlobHash, recipients: &[String]) -> Result<(), StoreError> {
        let (blob, recipients) = (blob.to_hex(), recipients.to_vec());
        self.write(move |tx| {
            let now = now_unix();
            for recipient in &recipients {
                set_delivery(tx, &blob, recipient, DeliveryState::Delivered, "", now)?;
            }
            Ok(())
        })
        .await
    }

    async fn delivery_status(&self, blob: &BlobHash) -> Result<Vec<DeliveryStatus>, StoreError> {
        let blob = blob.to_hex();
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT recipient, status, reply, updated_at FROM delivery_status WHERE blob_hash = ?1 ORDER BY recipient",
            )?;
            let rows = stmt.query_map([blob], |r| {
                let status: String = r.get(1)?;
                Ok(DeliveryStatus {
                    recipient: r.get(0)?,
                    state: DeliveryState::parse(&status).unwrap_or(DeliveryState::Queued),
                    reply: r.get(2)?,
                    updated_at: r.get(3)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn queue(&self) -> Result<Vec<QueuedRecipient>, StoreError> {
        self.read(|conn| queued_rows(conn, "ORDER BY m.id, r.id", params![])).await
    }

    async fn retry_now(&self, message: QueueId) -> Result<bool, StoreError> {
        self.write(move |tx| {
            let changed = tx.execute(
                "UPDATE queue_recipients SET next_attempt_at = ?2, updated_at = ?2 WHERE message_id = ?1 AND status = 'pending'",
                params![message, now_unix()],
            )?;
            Ok(changed > 0)
        })
        .await
    }

    async fn delete_queued(&self, message: QueueId) -> Result<bool, StoreError> {
        self.write(move |tx| Ok(tx.execute("DELETE FROM queue_messages WHERE id = ?1", [message])? == 1)).await
    }
}

/// Stored text of the store's own enums and hashes; a value that does not
/// read back is reported as corrupt, never defaulted.
/// Sets one recipient's delivery state (the latest wins).
fn set_delivery(
    tx: &rusqlite::Transaction<'_>,
    blob: &str,
    recipient: &str,
    state: DeliveryState,
    reply: &str,
    at: i64,
) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO delivery_status (blob_hash, recipient, status, reply, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (blob_hash, recipient) DO UPDATE
         SET status = excluded.status, reply = excluded.reply, updated_at = excluded.updated_at",
    )?
    .execute(params![blob, recipient.to_lowercase(), state.as_str(), reply, at])?;
    Ok(())
}

mod columns {
    use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};

    use crate::model::{RecipientStatus, WhitelistSource};
    use crate::{BlobHash, StoreError};

    fn text<'a>(value: ValueRef<'a>) -> FromSqlResult<&'a str> {
        value.as_str()
    }

    fn corrupt(what: &str, value: &str) -> FromSqlError {
        FromSqlError::Other(Box::new(StoreError::Corrupt(format!("{what} `{value}`"))))
    }

    impl FromSql for WhitelistSource {
        fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
            match text(value)? {
                "ans" => Ok(Self::Ans),
                "manual" => Ok(Self::Manual),
                other => Err(corrupt("whitelist source", other)),
            }
        }
    }

    impl ToSql for WhitelistSource {
        fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
            Ok(self.as_str().into())
        }
    }

    impl FromSql for RecipientStatus {
        fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
            match text(value)? {
                "pending" => Ok(Self::Pending),
                "delivered" => Ok(Self::Delivered),
                "failed" => Ok(Self::Failed),
                other => Err(corrupt("queue status", other)),
            }
        }
    }

    impl FromSql for BlobHash {
        fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
            let hex = text(value)?;
            hex.parse().map_err(|_| corrupt("blob hash", hex))
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use mss_core::{MailboxKind, MailboxState};

    use super::*;

    /// A store of its own in a temporary directory (kept as long as the
    /// directory is).
    pub(crate) async fn temporary_store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("meta.db")).await.unwrap();
        (dir, store)
    }

    /// A temporary store holding [`pharmacy_mailbox`], and that mailbox's
    /// INBOX: where most tests of messages start.
    pub(crate) async fn store_with_inbox() -> (tempfile::TempDir, SqliteStore, Mailbox, crate::Folder) {
        let (dir, store) = temporary_store().await;
        let mailbox = store.create_mailbox(&pharmacy_mailbox()).await.unwrap();
        let inbox = crate::FolderStore::folder(&store, mailbox.id, crate::INBOX).await.unwrap().unwrap();
        (dir, store, mailbox, inbox)
    }

    /// A message whose searchable text is `text`, with its facts.
    pub(crate) fn message(raw: &[u8], text: &str) -> NewMessage {
        let blob = BlobHash::of(raw);
        let facts = crate::MessageFacts {
            blob,
            version: 1,
            encoded: b"{}".to_vec(),
            columns: crate::FactColumns::default(),
            text: crate::IndexedText::of(text),
            searched: Default::default(),
            documents: Vec::new(),
        };
        NewMessage {
            blob,
            size: raw.len() as u64,
            received_at: 1_700_000_000,
            inline: Some(raw.to_vec()),
            facts: Some(facts),
        }
    }

    /// A pharmacy's organisational mailbox, active.
    pub(crate) fn pharmacy_mailbox() -> NewMailbox {
        NewMailbox {
            address: "officine@pharmacie.mssante.fr".parse().unwrap(),
            kind: MailboxKind::Organisational,
            state: MailboxState::Active,
            national_id: None,
            finess: None,
            first_name: None,
            last_name: None,
            display_name: "Officine".into(),
            service: None,
            liste_rouge: false,
            certificate_dn: None,
        }
    }

    /// Readers and lookup connections open on their first use, one at a
    /// time while they are used one at a time.
    #[tokio::test]
    async fn an_idle_store_holds_no_reader_and_a_light_load_one() {
        let (_dir, store) = temporary_store().await;
        let open = |slots: &[Mutex<Option<Connection>>]| slots.iter().filter(|slot| lock(slot).is_some()).count();
        assert_eq!((open(&store.pool.readers), open(&store.pool.lookups)), (0, 0));
        for _ in 0..3 {
            assert!(store.mailboxes().await.unwrap().is_empty());
            let nobody: EmailAddress = "personne@pharmacie.mssante.fr".parse().unwrap();
            assert!(store.mailbox(&nobody).await.unwrap().is_none());
        }
        assert_eq!((open(&store.pool.readers), open(&store.pool.lookups)), (1, 1));
    }

    #[tokio::test]
    async fn a_lookup_waits_for_an_ordinary_reader_when_every_lookup_connection_is_busy() {
        let (_dir, store) = temporary_store().await;
        let new = pharmacy_mailbox();
        let address = new.address.clone();
        let created = store.create_mailbox(&new).await.unwrap();
        let found = store.mailbox(&address).await.unwrap().expect("found on a lookup connection");
        assert_eq!(found.id, created.id);

        let held: Vec<_> = store.pool.lookups.iter().map(lock).collect();
        let found = store.mailbox(&address).await.unwrap().expect("found by an ordinary reader");
        assert_eq!(found.id, created.id);
        drop(held);
    }
}
