//! The shared metadata backend: PostgreSQL, for operators that run several
//! mss nodes on one database.
//!
//! A pool of connections (deadpool); each trait method takes one for its
//! statements, or for one transaction when it changes something. PostgreSQL
//! runs transactions side by side at READ COMMITTED (SQLite runs one writer
//! at a time): every read-modify-write here locks what it reads
//! (`SELECT … FOR UPDATE`) or is one atomic statement (`UPDATE … RETURNING`),
//! so that two nodes never allocate the same UID or fork the audit chain.
//! Writers of a folder's messages lock in one order, the folder's row first
//! (folders by id when there are several: copy, move, a delivery to several
//! mailboxes), then its rows by UID (a backfill of facts, which writes rows of many
//! folders without their folders' rows, locks them by folder and UID before
//! it writes): two of them never wait for each other in a circle, which
//! PostgreSQL would break by refusing one (`deadlock detected`). A writer
//! refused so anyway (an order not foreseen) runs again ([`retried`]).
//! Commits are durable when they return (`synchronous_commit` is the
//! server's, `on` by default). The schema is `migrations/postgres`, applied
//! at open under an advisory lock so that nodes starting together migrate
//! once. Folder changes are announced to every node with `LISTEN`/`NOTIFY`
//! (see `changes.rs`): a delivery on one node wakes IDLE on the others.

mod account_links;
mod app_passwords;
mod audit;
mod changes;
mod copy;
mod facts;
mod folders;
mod indicator;
mod inline_blobs;
mod leases;
mod lifecycle;
mod listing;
mod login_failures;
mod login_flows;
mod maintenance;
mod metadata;
mod migrations;
mod patients;
mod publication;
mod stats;
mod tls;

use std::sync::Arc;
use std::time::Duration;

pub use copy::{CopyReport, copy_embedded};
use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime, Transaction};
use tokio_postgres::Row;

use crate::model::{INBOX, Mailbox, MailboxId, NewMailbox, SPECIAL_FOLDERS};
use crate::{StoreError, now_unix};

/// How to reach PostgreSQL.
#[derive(Clone)]
pub struct PostgresConfig {
    /// A connection string, as libpq reads it: `host=/run/postgresql
    /// dbname=mss user=mss` or `postgresql://mss@db.internal/mss`.
    pub url: String,
    /// The password, when it is not in `url` (read by the caller from a
    /// file or the environment, never from a world-readable file).
    pub password: Option<String>,
    /// Connections this node keeps at most.
    pub pool_size: usize,
    /// The CA certificates (PEM) that sign the server's: connections are
    /// then TLS, the server verified (see `tls.rs`); none, not encrypted.
    pub ca_pem: Option<String>,
}

impl std::fmt::Debug for PostgresConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresConfig")
            .field("url", &self.url)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("pool_size", &self.pool_size)
            .field("ca_pem", &self.ca_pem.as_ref().map(|pem| pem.len()))
            .finish()
    }
}

/// Whether the connection string `url` reaches PostgreSQL on this host only
/// (Unix sockets, `localhost`, loopback addresses): without a CA
/// ([`PostgresConfig::ca_pem`]) connections are not encrypted, so nothing
/// else may carry health data. A string that does not parse is not local.
pub fn reaches_this_host_only(url: &str) -> bool {
    use tokio_postgres::config::Host;
    let Ok(config) = url.parse::<tokio_postgres::Config>() else {
        return false;
    };
    let loopback =
        |name: &str| name == "localhost" || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    !config.get_hosts().is_empty()
        && config.get_hosts().iter().all(|host| match host {
            Host::Unix(_) => true,
            Host::Tcp(name) => loopback(name),
        })
        && config.get_hostaddrs().iter().all(|ip| ip.is_loopback())
}

/// Every table of the data, parents before children (the facts before the
/// messages, whose triggers then link them): what a snapshot or a copy
/// moves. Not `message_text` (words, moved apart or recomputed), nor
/// `schema_migrations` (each database's own), nor `leases`,
/// `login_failures` and `login_flows` (the running nodes', not the data's).
pub(crate) const DATA_TABLES: &[&str] = &[
    "mailboxes",
    "folders",
    "message_facts",
    "message_documents",
    "messages",
    "folder_messages",
    "expunged",
    "counters",
    "inline_blobs",
    "whitelist_entries",
    "whitelist_imports",
    "queue_messages",
    "queue_recipients",
    "mailbox_roles",
    "audit_log",
    "audit_anchor",
    "cgu_acceptances",
    "sessions",
    "directory_outbox",
    "patient_contacts",
    "quick_answer_sets",
    "quick_answers",
    "delivery_status",
    "dispensations",
    "dispensation_links",
    "app_passwords",
    "account_links",
];

/// How long a request waits for a connection, and for a new one to open.
const POOL_WAIT: Duration = Duration::from_secs(10);
/// Change notifications buffered per receiver before it counts as lagging.
const CHANGE_BUFFER: usize = 1024;

/// The PostgreSQL metadata store.
#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
    /// The connection settings of the pool; the change listener connects
    /// with them too.
    pg: Arc<tokio_postgres::Config>,
    /// Mailboxes whose folders changed (see [`crate::FolderStore::watch`]),
    /// on this node or, through the change listener, on others.
    changes: tokio::sync::broadcast::Sender<MailboxId>,
    /// Mailboxes to announce to the other nodes (the publisher's queue).
    announce: tokio::sync::mpsc::UnboundedSender<MailboxId>,
    /// The folders whose rows are being marked for their sort indexes.
    marking: crate::sort_index::Marking,
    /// Dropped with the last clone: the change listener then ends.
    _listener: Arc<tokio::sync::oneshot::Sender<()>>,
}

impl PgStore {
    /// Connects, and brings the schema to this build's version.
    pub async fn open(config: &PostgresConfig) -> Result<Self, StoreError> {
        let mut pg: tokio_postgres::Config = config.url.parse()?;
        if let Some(password) = &config.password {
            pg.password(password);
        }
        pg.application_name("mss");
        pg.connect_timeout(POOL_WAIT);
        let tls = tls::connector(config, &mut pg)?;
        let manager =
            Manager::from_config(pg.clone(), tls.clone(), ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            .max_size(config.pool_size.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(POOL_WAIT))
            .create_timeout(Some(POOL_WAIT))
            .build()
            .map_err(|e| StoreError::Pool(e.to_string()))?;
        let node = changes::node_id();
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let store = Self {
            announce: changes::publisher(pool.clone(), node.clone()),
            pool,
            pg: Arc::new(pg),
            changes: tokio::sync::broadcast::channel(CHANGE_BUFFER).0,
            marking: crate::sort_index::Marking::default(),
            _listener: Arc::new(stop),
        };
        migrations::apply(&mut store.client().await?).await?;
        // Listening before open returns: a change made elsewhere once the
        // store is open is heard.
        let session = changes::Session::open(&store.pg, &tls).await?;
        changes::listen(session, (*store.pg).clone(), tls, node, store.changes.downgrade(), stopped);
        Ok(store)
    }

    /// The schema version of this build (the last migration).
    pub fn schema_version() -> i64 {
        migrations::MIGRATIONS.last().map_or(0, |m| m.0)
    }

    /// The schema version of the database `config` names, read without
    /// changing anything (one connection, closed after).
    pub async fn database_version(config: &PostgresConfig) -> Result<i64, StoreError> {
        let mut pg: tokio_postgres::Config = config.url.parse()?;
        if let Some(password) = &config.password {
            pg.password(password);
        }
        pg.application_name("mss").connect_timeout(POOL_WAIT);
        let tls = tls::connector(config, &mut pg)?;
        let (client, connection) = pg.connect(tls).await?;
        let driver = tokio::spawn(connection);
        let version = migrations::version_of(&client).await;
        drop(client);
        let _ = driver.await;
        version
    }

    /// A connection of the pool, returned to it when dropped.
    pub(crate) async fn client(&self) -> Result<Object, StoreError> {
        self.pool.get().await.map_err(|e| match e {
            deadpool_postgres::PoolError::Backend(e) => StoreError::Postgres(e),
            other => StoreError::Pool(other.to_string()),
        })
    }

    /// Tells watchers (IMAP sessions) that a mailbox's folders changed:
    /// this node's at once, the other nodes' through PostgreSQL (queued,
    /// sent by a task; see `changes.rs`).
    pub(crate) fn notify(&self, mailbox: MailboxId) {
        // No receiver is not an error: nobody is watching.
        let _ = self.changes.send(mailbox);
        if self.announce.send(mailbox).is_err() {
            tracing::warn!(mailbox, "the change publisher has ended: other nodes are not told");
        }
    }
}

/// UIDVALIDITY of a new folder (RFC 9051 §2.3.1.1): the creation time in
/// seconds, kept strictly increasing by a counter that every node shares
/// (the row is locked until the transaction ends).
pub(crate) async fn next_uidvalidity(tx: &Transaction<'_>) -> Result<u32, StoreError> {
    let now = now_unix() & 0xffff_ffff;
    let next: i64 = tx
        .query_one(
            "INSERT INTO counters (name, value) VALUES ('uidvalidity', $1)
             ON CONFLICT (name) DO UPDATE SET value = GREATEST(counters.value + 1, excluded.value)
             RETURNING value",
            &[&now],
        )
        .await?
        .get(0);
    u32::try_from(next).map_err(|_| StoreError::Invalid("UIDVALIDITY space exhausted".into()))
}

pub(crate) const MAILBOX_COLUMNS: &str = "id, address, kind, state, national_id, finess, first_name, last_name, \
                               display_name, service, liste_rouge, created_at, updated_at, certificate_dn, \
                               state_reason";

/// A mailbox from the columns of [`MAILBOX_COLUMNS`], in that order,
/// starting at column `at`.
pub(crate) fn mailbox_row(row: &Row, at: usize) -> Result<Mailbox, StoreError> {
    let text = |i: usize| -> Result<Option<String>, StoreError> { Ok(row.try_get(at + i)?) };
    Ok(Mailbox {
        id: row.try_get(at)?,
        address: parse_col("address", row.try_get(at + 1)?)?,
        kind: parse_col("kind", row.try_get(at + 2)?)?,
        state: parse_col("state", row.try_get(at + 3)?)?,
        national_id: text(4)?.map(|v| parse_col("national id", v)).transpose()?,
        finess: text(5)?.map(|v| parse_col("finess", v)).transpose()?,
        first_name: text(6)?,
        last_name: text(7)?,
        display_name: row.try_get(at + 8)?,
        service: text(9)?,
        liste_rouge: row.try_get(at + 10)?,
        created_at: row.try_get(at + 11)?,
        updated_at: row.try_get(at + 12)?,
        certificate_dn: text(13)?,
        state_reason: text(14)?,
    })
}

/// A stored value parsed into its type; a value that does not parse is
/// corrupt data, reported.
pub(crate) fn parse_col<T: std::str::FromStr>(what: &str, value: String) -> Result<T, StoreError>
where
    T::Err: std::fmt::Display,
{
    value.parse().map_err(|e| StoreError::Corrupt(format!("{what} `{value}`: {e}")))
}

/// Reads one mailbox by id.
pub(crate) async fn mailbox_by_id(client: &impl GenericClient, id: MailboxId) -> Result<Mailbox, StoreError> {
    let sql = format!("SELECT {MAILBOX_COLUMNS} FROM mailboxes WHERE id = $1");
    mailbox_row(&client.query_one(&sql, &[&id]).await?, 0)
}

/// Inserts a mailbox with its INBOX and special-use folders; returns its id.
pub(crate) async fn insert_mailbox(tx: &Transaction<'_>, new: &NewMailbox) -> Result<MailboxId, StoreError> {
    let address = new.address.to_string();
    if let Some(dn) = &new.certificate_dn {
        // One mailbox per certificate: SASL EXTERNAL names the mailbox by
        // the certificate alone. A deleted mailbox frees its certificate.
        let bound = tx
            .query_opt("SELECT address FROM mailboxes WHERE certificate_dn = $1 AND state != 'deleted'", &[dn])
            .await?;
        if let Some(bound) = bound {
            return Err(StoreError::CertificateTaken(bound.get(0)));
        }
    }
    let now = now_unix();
    let inserted = tx
        .query_opt(
            "INSERT INTO mailboxes (address, kind, state, national_id, finess, first_name, last_name,
                                    display_name, service, liste_rouge, created_at, updated_at, certificate_dn)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12)
             ON CONFLICT (address) DO NOTHING
             RETURNING id",
            &[
                &address,
                &new.kind.code(),
                &new.state.as_str(),
                &new.national_id.as_ref().map(|n| n.to_string()),
                &new.finess.as_ref().map(|f| f.as_str().to_string()),
                &new.first_name,
                &new.last_name,
                &new.display_name,
                &new.service,
                &new.liste_rouge,
                &now,
                &new.certificate_dn,
            ],
        )
        .await?;
    let Some(inserted) = inserted else {
        return Err(StoreError::AddressTaken(address));
    };
    let id: MailboxId = inserted.get(0);
    let insert = "INSERT INTO folders (mailbox_id, name, uidvalidity, special_use) VALUES ($1, $2, $3, $4)";
    let inbox: Option<&str> = None;
    tx.execute(insert, &[&id, &INBOX, &i64::from(next_uidvalidity(tx).await?), &inbox]).await?;
    for (name, special_use) in SPECIAL_FOLDERS {
        tx.execute(insert, &[&id, name, &i64::from(next_uidvalidity(tx).await?), special_use]).await?;
    }
    Ok(id)
}

/// Tries of a transaction PostgreSQL refuses for its place among others.
const CONFLICT_TRIES: u32 = 3;

/// Runs `attempt`, a whole transaction, again when PostgreSQL refused it
/// for a lock cycle or a serialization failure
/// ([`StoreError::is_transaction_conflict`]): the transaction it met went on
/// and a new try no longer waits for it. A client then gets its answer
/// late rather than an error (a delivery refused with 451 waits for the
/// sender's next try, minutes later). Three tries at most, a few
/// milliseconds apart.
pub(crate) async fn retried<T, F: Future<Output = Result<T, StoreError>>>(
    mut attempt: impl FnMut() -> F,
) -> Result<T, StoreError> {
    let mut tries = 1;
    loop {
        match attempt().await {
            Err(e) if tries < CONFLICT_TRIES && e.is_transaction_conflict() => {
                tracing::info!(error = %e, tries, "PostgreSQL refused a transaction for a conflict; run again");
                tokio::time::sleep(Duration::from_millis(5 * u64::from(tries))).await;
                tries += 1;
            }
            done => return done,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{PostgresConfig, reaches_this_host_only};

    #[test]
    fn the_password_never_shows_in_debug() {
        let config = PostgresConfig {
            url: "host=db dbname=mss".into(),
            password: Some("tr3s-secret".into()),
            pool_size: 4,
            ca_pem: None,
        };
        let shown = format!("{config:?}");
        assert!(shown.contains("<redacted>") && !shown.contains("tr3s-secret"), "{shown}");
    }

    #[test]
    fn only_sockets_and_loopback_count_as_this_host() {
        for local in [
            "host=/run/postgresql dbname=mss",
            "host=127.0.0.1 port=5432 user=mss",
            "postgresql://mss@localhost/mss",
            "host=::1 dbname=mss",
            "host=localhost hostaddr=127.0.0.1",
        ] {
            assert!(reaches_this_host_only(local), "{local}");
        }
        for remote in [
            "host=db.internal dbname=mss",
            "postgresql://mss@10.0.0.5/mss",
            "host=127.0.0.1,db.internal",
            "host=localhost hostaddr=10.0.0.5",
            "dbname=mss",
            "not a connection string '",
        ] {
            assert!(!reaches_this_host_only(remote), "{remote}");
        }
    }
}
