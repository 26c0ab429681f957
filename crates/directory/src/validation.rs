//! The life-cycle step the ANS decides: pending mailboxes whose validation
//! is due are published; accepted ones become active, refused ones are
//! closed with the reason, and an unreachable ANS is asked again later.
//! Every decision goes to the audit trail.
//!
//! This publication is the mailbox's creation in the directory: it is
//! sent here, not through the outbox of [`crate::outbox`], because its
//! answer decides the state (a 404 refuses the mailbox); the activation
//! records it in the outbox as acknowledged, in the same transaction. Every
//! later change goes through the outbox.

use std::sync::Arc;
use std::time::Duration;

use mss_core::MailboxState;
use mss_store::{NewAuditEntry, NewPublication, PublicationKind, Store, now_unix};

use crate::{Publisher, Verdict};

/// How the validation runs.
#[derive(Clone)]
pub struct Validation {
    pub store: Store,
    pub publisher: Arc<dyn Publisher>,
    /// How often due mailboxes are looked for.
    pub interval: Duration,
    /// Wait before asking an unreachable ANS again.
    pub retry: Duration,
}

impl Validation {
    /// Runs until the task is dropped.
    pub async fn run(self) {
        loop {
            if let Err(e) = validate_due(&self, now_unix()).await {
                tracing::error!(error = %e, "validation: cannot read due mailboxes");
            }
            tokio::time::sleep(self.interval).await;
        }
    }
}

/// One pass: decides every mailbox due at `now`; returns how many changed.
pub async fn validate_due(v: &Validation, now: i64) -> Result<usize, mss_store::StoreError> {
    let meta = &v.store.meta;
    let mut changed = 0;
    for mailbox in meta.due_validations(now).await? {
        let address = mailbox.address.to_string();
        let (to, reason, action) = match v.publisher.publish(&mailbox).await {
            Ok(Verdict::Published) => (MailboxState::Active, None, "mailbox.activate"),
            Ok(Verdict::Refused(reason)) => (MailboxState::Deleted, Some(reason), "mailbox.refuse"),
            Err(e) => {
                tracing::warn!(%address, error = %e, "validation: ANS unreachable, will retry");
                meta.postpone_validation(mailbox.id, now + v.retry.as_secs() as i64).await?;
                continue;
            }
        };
        // The publication that validated it is the mailbox's first outbox
        // operation, already acknowledged: the outbox tells the whole story.
        let published = (to == MailboxState::Active).then(|| NewPublication::acknowledged(PublicationKind::Publish));
        if meta.change_state_published(mailbox.id, MailboxState::Pending, to, reason.as_deref(), published).await? {
            tracing::info!(%address, state = %to, "validation: decided");
            let result = reason.as_deref().map_or("ok".to_string(), |r| format!("refused: {r}"));
            v.store.audit.record(NewAuditEntry::now("ans", action, &address, result, "")).await;
            changed += 1;
        }
    }
    Ok(changed)
}
