//! Change announcements across nodes: PostgreSQL `LISTEN`/`NOTIFY` on the
//! channel `mss_changes`, so that a delivery on one node wakes the IMAP
//! IDLE sessions of every node (see [`crate::FolderStore::watch`]).
//!
//! - Sending: [`PgStore::notify`](super::PgStore) announces to this node's
//!   watchers at once, then queues the mailbox for a publisher task that
//!   sends `pg_notify` through the pool, a burst of changes in one statement
//!   (duplicates merged). The payload is `<node>:<mailbox id>`, `<node>`
//!   being 16 hex digits drawn per store at open.
//! - Receiving: a dedicated connection, outside the pool, runs `LISTEN`
//!   (application name `mss-listener`). It cannot come from the pool: a
//!   pooled connection goes back to serve queries, and a session that
//!   `LISTEN`s must stay open and be polled for as long as it listens. Each
//!   notification from another node is forwarded to the local watchers; the
//!   node's own are ignored, its watchers had them at once. Through a
//!   pooler, `LISTEN` needs session pooling (not transaction pooling). A node
//!   uses `pool_size + 1` connections.
//! - Losing the connection: the listener reconnects (100 ms doubling to 5 s)
//!   and listens again. Notifications sent meanwhile are lost and nothing
//!   tells which mailboxes changed (watchers receive mailbox ids only, with
//!   no "everything may have changed" value). An IDLE session catches up at
//!   the next change of its mailbox (its refresh reads every change since
//!   its last MODSEQ, missed ones included), or when the client re-issues
//!   IDLE (RFC 2177: at least every 29 minutes); IDLE's periodic timer
//!   re-checks the login and rights only, not the folder.
//! - Ending: the listener and the publisher end when the last clone of the
//!   store is dropped (the publisher once it has sent what was queued).

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use deadpool_postgres::Pool;
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_postgres::tls::MakeTlsConnect;
use tokio_postgres::{AsyncMessage, Client, Config, Connection, Socket};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::StoreError;
use crate::model::MailboxId;

/// The PostgreSQL channel of change announcements.
const CHANNEL: &str = "mss_changes";
/// The application name of the listener's connection (`pg_stat_activity`).
const LISTENER_NAME: &str = "mss-listener";
/// Mailboxes announced in one statement at most.
const BATCH: usize = 256;
/// The first wait before reconnecting, doubled at each failure up to
/// [`BACKOFF_MAX`].
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// A node id: 16 hex digits, random per store (std's randomly keyed
/// hasher over the time, the process id and a counter).
pub(super) fn node_id() -> String {
    static OPENED: AtomicU64 = AtomicU64::new(0);
    let mut hasher = std::hash::RandomState::new().build_hasher();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    hasher.write_u128(now.as_nanos());
    hasher.write_u32(std::process::id());
    hasher.write_u64(OPENED.fetch_add(1, Ordering::Relaxed));
    format!("{:016x}", hasher.finish())
}

/// Starts the publisher: mailboxes sent on the returned queue are announced
/// to the other nodes. It ends when the queue's senders are all dropped,
/// after sending what was queued.
pub(super) fn publisher(pool: Pool, node: String) -> mpsc::UnboundedSender<MailboxId> {
    let (queue, mut queued) = mpsc::unbounded_channel::<MailboxId>();
    tokio::spawn(async move {
        let mut batch = Vec::with_capacity(BATCH);
        while queued.recv_many(&mut batch, BATCH).await > 0 {
            batch.sort_unstable();
            batch.dedup();
            let payloads: Vec<String> = batch.drain(..).map(|mailbox| format!("{node}:{mailbox}")).collect();
            if let Err(e) = publish(&pool, &payloads).await {
                tracing::warn!(error = %e, mailboxes = payloads.len(), "cannot announce changes to the other nodes");
            }
        }
    });
    queue
}

async fn publish(pool: &Pool, payloads: &[String]) -> Result<(), StoreError> {
    let client = pool.get().await.map_err(|e| match e {
        deadpool_postgres::PoolError::Backend(e) => StoreError::Postgres(e),
        other => StoreError::Pool(other.to_string()),
    })?;
    let statement = client.prepare_cached("SELECT pg_notify('mss_changes', p) FROM unnest($1::text[]) AS p").await?;
    client.execute(&statement, &[&payloads]).await?;
    Ok(())
}

/// Why a listening connection ended.
#[derive(Debug)]
pub(super) enum Lost {
    Postgres(tokio_postgres::Error),
    /// The server closed the connection without an error.
    Closed,
}

impl std::fmt::Display for Lost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Lost::Postgres(e) => f.write_str(&crate::error::postgres_message(e)),
            Lost::Closed => f.write_str("connection closed by the server"),
        }
    }
}

impl From<Lost> for StoreError {
    fn from(lost: Lost) -> Self {
        match lost {
            Lost::Postgres(e) => StoreError::Postgres(e),
            Lost::Closed => StoreError::Pool(format!("change listener: {}", Lost::Closed)),
        }
    }
}

/// One listening connection: the client is kept, or the connection ends.
pub(super) struct Session {
    _client: Client,
    connection: Connection<Socket, <MakeRustlsConnect as MakeTlsConnect<Socket>>::Stream>,
}

impl Session {
    /// Connects with `pg` (the pool's settings, renamed and with TCP
    /// keepalives that notice a dead peer within about a minute) and runs
    /// `LISTEN`.
    pub(super) async fn open(pg: &Config, tls: &MakeRustlsConnect) -> Result<Self, Lost> {
        let mut pg = pg.clone();
        pg.application_name(LISTENER_NAME)
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(30))
            .keepalives_interval(Duration::from_secs(10))
            .keepalives_retries(3);
        let (client, mut connection) = pg.connect(tls.clone()).await.map_err(Lost::Postgres)?;
        {
            let listen = client.batch_execute("LISTEN mss_changes");
            tokio::pin!(listen);
            loop {
                tokio::select! {
                    listened = &mut listen => {
                        listened.map_err(Lost::Postgres)?;
                        break;
                    }
                    // Drives the connection; nothing is announced before LISTEN.
                    message = std::future::poll_fn(|cx| connection.poll_message(cx)) => match message {
                        Some(Ok(_)) => {}
                        Some(Err(e)) => return Err(Lost::Postgres(e)),
                        None => return Err(Lost::Closed),
                    },
                }
            }
        }
        Ok(Self { _client: client, connection })
    }

    /// Forwards the other nodes' announcements to `changes` until the
    /// connection ends.
    async fn forward(&mut self, node: &str, changes: &broadcast::WeakSender<MailboxId>) -> Lost {
        loop {
            let message = std::future::poll_fn(|cx| self.connection.poll_message(cx)).await;
            match message {
                Some(Ok(AsyncMessage::Notification(n))) if n.channel() == CHANNEL => {
                    match n.payload().split_once(':').map(|(from, id)| (from, id.parse::<MailboxId>())) {
                        Some((from, _)) if from == node => {}
                        Some((_, Ok(mailbox))) => {
                            if let Some(changes) = changes.upgrade() {
                                // No receiver is not an error: nobody is watching.
                                let _ = changes.send(mailbox);
                            }
                        }
                        _ => tracing::warn!(payload = n.payload(), "change listener: unreadable announcement"),
                    }
                }
                Some(Ok(AsyncMessage::Notice(notice))) => {
                    tracing::debug!(notice = %notice, "change listener: notice from the server");
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Lost::Postgres(e),
                None => return Lost::Closed,
            }
        }
    }
}

/// Starts the listener on an open `session`; it reconnects with `pg` when
/// the connection is lost, and ends when `stop`'s sender is dropped.
pub(super) fn listen(
    mut session: Session,
    pg: Config,
    tls: MakeRustlsConnect,
    node: String,
    changes: broadcast::WeakSender<MailboxId>,
    mut stop: oneshot::Receiver<()>,
) {
    tokio::spawn(async move {
        loop {
            let lost = tokio::select! {
                _ = &mut stop => return,
                lost = session.forward(&node, &changes) => lost,
            };
            tracing::warn!(error = %lost, "change listener: connection lost, reconnecting");
            let mut backoff = BACKOFF_MIN;
            session = loop {
                tokio::select! {
                    _ = &mut stop => return,
                    _ = tokio::time::sleep(backoff) => {}
                }
                let opened = tokio::select! {
                    _ = &mut stop => return,
                    opened = Session::open(&pg, &tls) => opened,
                };
                match opened {
                    Ok(session) => break session,
                    Err(e) => {
                        backoff = (backoff * 2).min(BACKOFF_MAX);
                        tracing::warn!(error = %e, retry_in = ?backoff, "change listener: cannot reconnect");
                    }
                }
            };
            tracing::info!(
                "change listener: listening again; changes made meanwhile show at each mailbox's next change"
            );
        }
    });
}
