//! The daily housekeeping `mss serve` schedules: audit entries past their
//! retention go, deleted mailboxes past theirs are emptied, and blobs no
//! message names are collected. A failed step is logged and the others
//! still run.

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

/// [`sweep`] now and then once a day, forever.
pub async fn daily(store: Store, retention: Retention) {
    loop {
        sweep(&store, retention).await;
        tokio::time::sleep(Duration::from_secs(86_400)).await;
    }
}
