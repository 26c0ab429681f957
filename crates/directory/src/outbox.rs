//! The publication outbox worker: sends the due operations of the store's
//! outbox ([`mss_store::PublicationStore`]) to the directory through a
//! [`Publisher`], oldest first and in order per mailbox.
//!
//! - Acknowledged (2xx): done.
//! - Refused (404 no record, 412 several, 400/422): failed with the
//!   reason, kept and shown by `mss annuaire outbox`, never retried.
//! - Not answered (network, 5xx): retried with exponential backoff from
//!   [`Backoff::first`] up to [`Backoff::cap`], for as long as it takes.
//!
//! Every outcome goes to the audit trail.

use std::sync::Arc;
use std::time::Duration;

use mss_store::{NewAuditEntry, Publication, PublicationKind, PublicationOutcome, Store, StoreError, now_unix};

use crate::{Publisher, Verdict};

/// Operations read per store query.
const BATCH: usize = 100;
/// How long an operation taken for sending stays with the node that took
/// it before another node takes it over (a request takes 15 s at most).
const CLAIM_SECONDS: i64 = 300;

/// Waits between attempts while the directory does not answer.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub first: Duration,
    pub cap: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { first: Duration::from_secs(30), cap: Duration::from_secs(3600) }
    }
}

impl Backoff {
    /// The wait after the `attempts`-th failed attempt (1 for the first):
    /// doubled each time, at most the cap, at least a second.
    pub fn after(&self, attempts: u32) -> Duration {
        let factor = 1u32.checked_shl(attempts.saturating_sub(1)).unwrap_or(u32::MAX);
        self.first.saturating_mul(factor).min(self.cap).max(Duration::from_secs(1))
    }
}

/// How the outbox runs.
#[derive(Clone)]
pub struct Outbox {
    pub store: Store,
    pub publisher: Arc<dyn Publisher>,
    /// How often due operations are looked for.
    pub interval: Duration,
    pub backoff: Backoff,
}

impl Outbox {
    /// Runs until the task is dropped.
    pub async fn run(self) {
        loop {
            if let Err(e) = send_due(&self, now_unix()).await {
                tracing::error!(error = %e, "outbox: cannot read due operations");
            }
            tokio::time::sleep(self.interval).await;
        }
    }
}

/// Sends everything due at `now`, including what becomes due when an
/// earlier operation of the same mailbox is done; returns how many
/// operations were attempted.
pub async fn send_due(o: &Outbox, now: i64) -> Result<usize, StoreError> {
    let mut attempted = 0;
    loop {
        // Each attempt is recorded (done, failed or postponed past `now`),
        // so every round sees other operations, and the loop ends.
        let due = o.store.meta.claim_due_publications(now, now.saturating_add(CLAIM_SECONDS), BATCH).await?;
        if due.is_empty() {
            return Ok(attempted);
        }
        for publication in due {
            send(o, &publication, now).await?;
            attempted += 1;
        }
    }
}

/// Sends one operation and records its outcome.
async fn send(o: &Outbox, p: &Publication, now: i64) -> Result<(), StoreError> {
    let outcome = match o.store.meta.mailbox_by_id(p.mailbox).await? {
        None => PublicationOutcome::Failed { error: "boîte inconnue".into() },
        Some(mailbox) => {
            let answer = match p.kind {
                PublicationKind::Publish => o.publisher.publish(&mailbox).await,
                PublicationKind::Update => o.publisher.update(&mailbox).await,
                PublicationKind::Withdraw => o.publisher.withdraw(&mailbox).await,
            };
            match answer {
                Ok(Verdict::Published) => PublicationOutcome::Acknowledged,
                Ok(Verdict::Refused(reason)) => PublicationOutcome::Failed { error: reason },
                Err(e) => {
                    let wait = o.backoff.after(p.attempts.saturating_add(1));
                    let retry_at = now.saturating_add(i64::try_from(wait.as_secs()).unwrap_or(i64::MAX));
                    PublicationOutcome::Retry { error: e.0, retry_at }
                }
            }
        }
    };
    let (result, level_ok) = match &outcome {
        PublicationOutcome::Acknowledged => ("ok".to_string(), true),
        PublicationOutcome::Retry { error, retry_at } => (format!("retry at {retry_at}: {error}"), false),
        PublicationOutcome::Failed { error } => (format!("refused: {error}"), false),
    };
    if level_ok {
        tracing::info!(address = %p.address, kind = %p.kind, "outbox: acknowledged");
    } else {
        tracing::warn!(address = %p.address, kind = %p.kind, %result, "outbox: not acknowledged");
    }
    o.store.meta.record_publication(p.id, &outcome, now).await?;
    let action = format!("directory.{}", p.kind);
    let detail = format!("outbox {}, attempt {}", p.id, p.attempts.saturating_add(1));
    o.store.audit.record(NewAuditEntry::now("ans", &action, &p.address, result, detail)).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_doubles_up_to_its_cap() {
        let b = Backoff { first: Duration::from_secs(30), cap: Duration::from_secs(3600) };
        let waits: Vec<u64> = [1, 2, 3, 7, 8, 40, u32::MAX].iter().map(|&n| b.after(n).as_secs()).collect();
        assert_eq!(waits, [30, 60, 120, 1920, 3600, 3600, 3600]);
        assert_eq!(Backoff { first: Duration::ZERO, cap: Duration::ZERO }.after(1), Duration::from_secs(1));
    }
}
