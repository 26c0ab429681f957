//! The directory publication outbox: what the Annuaire Santé must learn
//! about our mailboxes (their publication, an update of what it shows,
//! their withdrawal), kept until the ANS acknowledges it.
//!
//! Rules:
//! - An operation is recorded **in the same transaction** as the change
//!   that calls for it (a state change, a new active mailbox, a liste rouge
//!   change), so that no change the directory must see is lost.
//! - Operations of one mailbox are sent **in order**: only the oldest
//!   pending one of a mailbox is ever due.
//! - The payload is rebuilt from the mailbox when sent (address, type and
//!   national id / FINESS never change).
//! - A refusal by the ANS is final (`failed`, with its reason) and stays
//!   visible; only an unreachable ANS is retried.

use async_trait::async_trait;
use mss_core::MailboxState;

use crate::{Mailbox, MailboxId, NewMailbox, StoreError};

/// Database id of an outbox operation.
pub type PublicationId = i64;

/// What the directory must do with a mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublicationKind {
    /// Add the mailbox to its record's `telecom` (creation, resumption).
    Publish,
    /// Replace what the directory shows (liste rouge, name, service).
    Update,
    /// Remove the mailbox from the directory (suspension, deletion).
    Withdraw,
}

impl PublicationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Publish => "publish",
            Self::Update => "update",
            Self::Withdraw => "withdraw",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Publish, Self::Update, Self::Withdraw].into_iter().find(|k| k.as_str() == text)
    }

    /// What the directory must learn when a mailbox goes from `from` to
    /// `to`: an active mailbox is published, a suspended or deleted one is
    /// withdrawn (correspondents must not find a mailbox that cannot
    /// receive); a pending one was never published.
    pub fn for_transition(from: MailboxState, to: MailboxState) -> Option<Self> {
        match (from, to) {
            (MailboxState::Pending, _) => None,
            (_, MailboxState::Active) => Some(Self::Publish),
            (MailboxState::Active | MailboxState::Suspended, MailboxState::Suspended | MailboxState::Deleted) => {
                Some(Self::Withdraw)
            }
            _ => None,
        }
    }
}

impl std::fmt::Display for PublicationKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where an operation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublicationStatus {
    /// Not acknowledged yet: sent when due.
    Pending,
    /// The ANS accepted it.
    Acknowledged,
    /// The ANS refused it (unknown or ambiguous record): not retried.
    Failed,
}

impl PublicationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Acknowledged => "acknowledged",
            Self::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Pending, Self::Acknowledged, Self::Failed].into_iter().find(|s| s.as_str() == text)
    }
}

impl std::fmt::Display for PublicationStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An operation to record with a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewPublication {
    pub kind: PublicationKind,
    /// Already done and acknowledged (the validation's own publication).
    pub acknowledged: bool,
}

impl NewPublication {
    /// To be sent by the outbox worker, due now.
    pub fn queued(kind: PublicationKind) -> Self {
        Self { kind, acknowledged: false }
    }

    /// Sent and acknowledged already; recorded so the outbox tells the
    /// whole story.
    pub fn acknowledged(kind: PublicationKind) -> Self {
        Self { kind, acknowledged: true }
    }
}

/// One outbox operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publication {
    pub id: PublicationId,
    pub mailbox: MailboxId,
    pub address: String,
    pub kind: PublicationKind,
    pub status: PublicationStatus,
    pub attempts: u32,
    /// Unix seconds.
    pub next_attempt_at: i64,
    /// The last failure (unreachable ANS, refusal).
    pub last_error: Option<String>,
    pub created_at: i64,
    pub acknowledged_at: Option<i64>,
}

/// The result of sending one operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicationOutcome {
    Acknowledged,
    /// The ANS could not be reached: try again at `retry_at` (unix seconds).
    Retry {
        error: String,
        retry_at: i64,
    },
    /// The ANS refused it for good.
    Failed {
        error: String,
    },
}

/// The outbox operations of the metadata store.
#[async_trait]
pub trait PublicationStore: Send + Sync {
    /// Creates an active mailbox and queues its publication, in one
    /// transaction (an operator's mailbox needs no ANS validation).
    async fn create_published_mailbox(&self, new: &NewMailbox) -> Result<Mailbox, StoreError>;
    /// Moves a mailbox from `from` to `to` (as
    /// [`crate::LifecycleStore::change_state`]) and records `publication`
    /// in the same transaction; false, and nothing recorded, when it was no
    /// longer in `from`.
    async fn change_state_published(
        &self,
        id: MailboxId,
        from: MailboxState,
        to: MailboxState,
        reason: Option<&str>,
        publication: Option<NewPublication>,
    ) -> Result<bool, StoreError>;
    /// Sets the liste rouge flag and, if it changed on an active mailbox,
    /// queues an update, in one transaction; true when it changed.
    async fn set_liste_rouge(&self, id: MailboxId, liste_rouge: bool) -> Result<bool, StoreError>;
    /// Claims the oldest pending operation of each mailbox, when due at
    /// `now`; oldest first, at most `limit`. Claimed, an operation is due
    /// again only at `until` (if the node sending it died before recording
    /// the attempt), so no two nodes send it at once; the mailbox's later
    /// operations keep waiting behind it.
    async fn claim_due_publications(&self, now: i64, until: i64, limit: usize) -> Result<Vec<Publication>, StoreError>;
    /// Records an attempt on a pending operation (attempts + 1); false when
    /// it is no longer pending.
    async fn record_publication(
        &self,
        id: PublicationId,
        outcome: &PublicationOutcome,
        now: i64,
    ) -> Result<bool, StoreError>;
    /// Pending operations (and, with `all`, acknowledged and failed ones),
    /// oldest first.
    async fn publications(&self, all: bool) -> Result<Vec<Publication>, StoreError>;
    /// Makes every pending operation due at `now`; returns how many were
    /// waiting for a later time.
    async fn publications_due_now(&self, now: i64) -> Result<u64, StoreError>;
}
