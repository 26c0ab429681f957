//! The audit trail: who did what, on what, with which result, and when;
//! never message content (MSSanté traces, kept 6 months by default).
//!
//! Rows are hash-chained: `hash = BLAKE3(previous hash, id, fields)`, so
//! [`AuditStore::verify_audit`] finds the first altered, inserted or removed
//! row. Recording goes through [`AuditTrail`], which batches rows into one
//! transaction every few milliseconds so that tracing every IMAP command does
//! not cost an fsync each; a crash can lose the last batch, never corrupt
//! the chain.

use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::mpsc;

use crate::StoreError;

/// An entry to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuditEntry {
    /// Unix seconds.
    pub at: i64,
    /// Who: a national id, a mailbox address, `cli`, `system`...
    pub actor: String,
    /// What, as `domain.verb` (`imap.login`, `mailbox.create`, `role.grant`).
    pub action: String,
    /// On what: usually a mailbox address.
    pub target: String,
    /// `ok`, or what refused or failed it.
    pub result: String,
    /// Context without content (peer address, role, folder).
    pub detail: String,
}

impl NewAuditEntry {
    /// An entry stamped with the current time.
    pub fn now(
        actor: impl Into<String>,
        action: &str,
        target: impl Into<String>,
        result: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            at: crate::now_unix(),
            actor: actor.into(),
            action: action.into(),
            target: target.into(),
            result: result.into(),
            detail: detail.into(),
        }
    }
}

/// A recorded entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub id: i64,
    pub entry: NewAuditEntry,
    pub hash: String,
}

/// Which entries to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Only these targets (an Administrateur's mailboxes); empty = all.
    pub targets: Vec<String>,
    pub action_prefix: Option<String>,
    pub since: Option<i64>,
    /// Entries with an id below this (paging backwards); none = newest.
    pub before_id: Option<i64>,
    pub limit: usize,
}

/// What verification found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditVerdict {
    /// The chain is whole: this many entries checked.
    Intact { entries: u64 },
    /// The first entry whose hash does not follow (altered, or a row before
    /// it removed or inserted).
    Broken { id: i64, reason: String },
}

/// Audit operations of the metadata store.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends entries, chained, in one transaction.
    async fn append_audit(&self, entries: &[NewAuditEntry]) -> Result<(), StoreError>;
    /// Newest first.
    async fn audit_entries(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError>;
    async fn verify_audit(&self) -> Result<AuditVerdict, StoreError>;
    /// Removes entries older than `before` (unix seconds), keeping the chain
    /// verifiable from the last removed one; returns how many went.
    async fn purge_audit(&self, before: i64) -> Result<u64, StoreError>;
}

/// The chained hash of an entry.
pub(crate) fn chain_hash(previous: &str, id: i64, e: &NewAuditEntry) -> String {
    let mut hasher = blake3::Hasher::new();
    // Length-prefixed fields: no two different entries hash the same input.
    for field in [previous, &id.to_string(), &e.at.to_string(), &e.actor, &e.action, &e.target, &e.result, &e.detail] {
        hasher.update(&(field.len() as u64).to_le_bytes());
        hasher.update(field.as_bytes());
    }
    hasher.finalize().to_hex().to_string()
}

/// Entries waiting in memory before they are written.
const QUEUE: usize = 65_536;
/// Longest wait before a batch is written.
const FLUSH_EVERY: Duration = Duration::from_millis(50);
const BATCH: usize = 1024;

/// The handle every service records through. Cheap to clone.
#[derive(Clone)]
pub struct AuditTrail {
    sender: mpsc::Sender<Command>,
}

enum Command {
    Record(NewAuditEntry),
    Flush(tokio::sync::oneshot::Sender<()>),
}

impl AuditTrail {
    /// Starts the writer task on the current runtime.
    pub fn start(store: std::sync::Arc<dyn AuditStore>) -> Self {
        let (sender, receiver) = mpsc::channel(QUEUE);
        tokio::spawn(write_batches(store, receiver));
        Self { sender }
    }

    /// Records an entry (written within [`FLUSH_EVERY`]). When the queue is
    /// full the caller waits: traces are not dropped.
    pub async fn record(&self, entry: NewAuditEntry) {
        if self.sender.send(Command::Record(entry)).await.is_err() {
            tracing::error!("audit: the writer is gone; entry lost");
        }
    }

    /// Waits until everything recorded so far is written.
    pub async fn flush(&self) {
        let (done, wait) = tokio::sync::oneshot::channel();
        if self.sender.send(Command::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }
}

/// What woke the writer.
enum Event {
    Command(Command),
    Timer,
    Closed,
}

async fn write_batches(store: std::sync::Arc<dyn AuditStore>, mut receiver: mpsc::Receiver<Command>) {
    let mut batch = Vec::new();
    let mut waiting = Vec::new();
    // The first entry of a batch is written at most FLUSH_EVERY later, however
    // steadily others keep coming.
    let mut deadline = tokio::time::Instant::now();
    loop {
        let event = if batch.is_empty() {
            let event = receiver.recv().await.map_or(Event::Closed, Event::Command);
            deadline = tokio::time::Instant::now() + FLUSH_EVERY;
            event
        } else {
            match tokio::time::timeout_at(deadline, receiver.recv()).await {
                Ok(command) => command.map_or(Event::Closed, Event::Command),
                Err(_) => Event::Timer,
            }
        };
        let closed = matches!(event, Event::Closed);
        match event {
            Event::Command(Command::Record(entry)) => {
                batch.push(entry);
                if batch.len() < BATCH {
                    continue;
                }
            }
            Event::Command(Command::Flush(done)) => waiting.push(done),
            Event::Timer | Event::Closed => {}
        }
        if !batch.is_empty() {
            if let Err(e) = store.append_audit(&batch).await {
                tracing::error!(error = %e, entries = batch.len(), "audit: cannot write entries");
            }
            batch.clear();
        }
        for done in waiting.drain(..) {
            let _ = done.send(());
        }
        if closed {
            return;
        }
    }
}
