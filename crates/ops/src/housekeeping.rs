//! The daily housekeeping: audit entries past their retention go, deleted
//! mailboxes past theirs are emptied, and blobs no message names are
//! collected. A failed step is logged and the others still run. `mss serve`
//! schedules [`sweep`] once a day, on one of the nodes sharing the store
//! (the holder of its lease); running it twice is harmless.

use std::time::Duration;

use mss_store::{COLLECTION_GRACE, NewAuditEntry, Store, now_unix};

/// How long data is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Audit entries older than this are purged.
    pub audit: Duration,
    /// Deleted mailboxes are emptied this long after their deletion.
    pub deleted_mailboxes: Duration,
}

/// What one round of housekeeping did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Swept {
    pub audit_entries: u64,
    /// The deleted mailboxes emptied.
    pub emptied: Vec<String>,
    pub blobs: usize,
}

/// One round of housekeeping, now.
pub async fn sweep(store: &Store, retention: Retention) -> Swept {
    let before = |retention: Duration| now_unix() - i64::try_from(retention.as_secs()).unwrap_or(i64::MAX);
    let mut swept = Swept::default();
    match store.meta.purge_audit(before(retention.audit)).await {
        Ok(0) => {}
        Ok(n) => {
            tracing::info!(entries = n, "audit: old entries purged");
            swept.audit_entries = n;
        }
        Err(e) => tracing::error!(error = %e, "audit: purge failed"),
    }
    match store.meta.purge_deleted(before(retention.deleted_mailboxes)).await {
        Ok(emptied) => {
            for address in &emptied {
                tracing::info!(%address, "lifecycle: deleted mailbox emptied after its retention");
                store.audit.record(NewAuditEntry::now("system", "mailbox.purge", address.clone(), "ok", "")).await;
            }
            swept.emptied = emptied;
        }
        Err(e) => tracing::error!(error = %e, "lifecycle: purge of deleted mailboxes failed"),
    }
    match store.collect_blobs(COLLECTION_GRACE).await {
        Ok(c) if c.removed > 0 => {
            tracing::info!(removed = c.removed, "store: unreferenced blobs collected");
            swept.blobs = c.removed;
        }
        Ok(_) => {}
        Err(e) => tracing::error!(error = %e, "store: blob collection failed"),
    }
    swept
}

#[cfg(test)]
mod tests {
    use mss_core::MailboxKind;
    use mss_store::AuditFilter;

    use super::*;
    use crate::mailboxes::{Change, CreationForm, create, transition, validate};
    use crate::testing::{domain, store};

    #[tokio::test]
    async fn a_sweep_empties_deleted_mailboxes_past_their_retention_and_purges_old_audit() {
        let (store, _dir) = store().await;
        let form = CreationForm {
            national_id: Some("810003621892".parse().unwrap()),
            first_name: Some("Jean".into()),
            last_name: Some("Martin".into()),
            ..CreationForm::new(MailboxKind::Personal)
        };
        let mailbox = create(&store, &domain(), &validate(&form).unwrap()).await.unwrap();
        transition(&store, "cli", &mailbox.address, Change::Delete, Some("départ")).await.unwrap();

        let keep_all = Retention { audit: Duration::from_secs(3600), deleted_mailboxes: Duration::from_secs(3600) };
        assert_eq!(sweep(&store, keep_all).await, Swept::default());

        // A retention in the future's past: everything is old enough.
        let none = Retention { audit: Duration::ZERO, deleted_mailboxes: Duration::ZERO };
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let swept = sweep(&store, none).await;
        assert_eq!(swept.emptied, vec![mailbox.address.to_string()]);
        assert!(swept.audit_entries >= 1, "{swept:?}");
        store.audit.flush().await;
        let filter = AuditFilter { targets: Vec::new(), action_prefix: None, since: None, before_id: None, limit: 10 };
        let left = store.meta.audit_entries(&filter).await.unwrap();
        assert!(left.iter().any(|e| e.entry.action == "mailbox.purge"), "the purge itself is audited");
    }
}
