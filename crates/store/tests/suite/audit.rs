//! The audit trail: chained, filtered, verified, purged.

use mss_store::*;

fn entry(at: i64, action: &str, target: &str) -> NewAuditEntry {
    NewAuditEntry {
        at,
        actor: "810003621892".into(),
        action: action.into(),
        target: target.into(),
        result: "ok".into(),
        detail: String::new(),
    }
}

pub async fn the_audit_trail_is_chained_and_filtered(store: &Store) {
    for i in 0..5 {
        store.audit.record(entry(1_000 + i, "imap.select", "a@pharma.test")).await;
    }
    store.audit.record(entry(2_000, "role.grant", "org@pharma.test")).await;
    store.audit.flush().await;
    assert_eq!(store.meta.verify_audit().await.unwrap(), AuditVerdict::Intact { entries: 6 });
    let org = AuditFilter { targets: vec!["org@pharma.test".into()], limit: 10, ..AuditFilter::default() };
    let found = store.meta.audit_entries(&org).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].entry.action, "role.grant");
    let page = AuditFilter { action_prefix: Some("imap.".into()), limit: 2, ..AuditFilter::default() };
    let newest = store.meta.audit_entries(&page).await.unwrap();
    assert_eq!(newest.iter().map(|e| e.id).collect::<Vec<_>>(), [5, 4], "newest first");
    let older = AuditFilter { before_id: Some(4), ..page };
    assert_eq!(store.meta.audit_entries(&older).await.unwrap().iter().map(|e| e.id).collect::<Vec<_>>(), [3, 2]);
}

pub async fn purging_old_entries_keeps_the_chain_verifiable(store: &Store) {
    let batch: Vec<NewAuditEntry> = (0..10).map(|i| entry(1_000 + i, "imap.login", "a@pharma.test")).collect();
    store.meta.append_audit(&batch).await.unwrap();
    assert_eq!(store.meta.purge_audit(1_004).await.unwrap(), 4);
    assert_eq!(store.meta.verify_audit().await.unwrap(), AuditVerdict::Intact { entries: 6 });
    store.meta.append_audit(&[entry(3_000, "imap.login", "a@pharma.test")]).await.unwrap();
    assert_eq!(store.meta.verify_audit().await.unwrap(), AuditVerdict::Intact { entries: 7 });
    assert_eq!(store.meta.purge_audit(0).await.unwrap(), 0);
}
