//! The consistency check and blob collection, on any backend.

use std::time::Duration;

use mss_store::*;

use crate::suite::facts::facts_of;
use crate::support::person;

/// A body stored in a blob file (larger than what the database keeps).
pub fn large(subject: &str) -> Vec<u8> {
    let mut raw = format!("Subject: {subject}\r\n\r\n").into_bytes();
    raw.resize(INLINE_MAX + 1024, b'x');
    raw
}

pub async fn a_healthy_store_checks_clean_and_collects_only_unreferenced_blobs(store: &Store) {
    let a = store.meta.create_mailbox(&person("a.a@pharma.test", "10003621892")).await.unwrap();
    let kept = store.deliver(b"Subject: kept\r\n\r\nx\r\n", &[a.id]).await.unwrap();
    let gone_small = store.deliver(b"Subject: gone\r\n\r\nx\r\n", &[a.id]).await.unwrap();
    let gone_large = store.deliver(&large("gone too"), &[a.id]).await.unwrap();
    // Messages with facts are found through them (SQLite indexes by hash
    // only the messages without): the same collection either way.
    let with_facts = |subject: &str| format!("Subject: {subject}\r\n\r\nx\r\n").into_bytes();
    let (kept_raw, gone_raw) = (with_facts("kept, facts"), with_facts("gone, facts"));
    let inbox = [Placement::inbox(a.id)];
    let kept_facts = store.deliver_indexed(&kept_raw, &inbox, Some(facts_of(&kept_raw, 1, "kept"))).await.unwrap();
    let gone_facts = store.deliver_indexed(&gone_raw, &inbox, Some(facts_of(&gone_raw, 1, "gone"))).await.unwrap();
    let queued = store
        .enqueue(b"Subject: out\r\n\r\nx\r\n", "a.a@pharma.test", &["b@other.test".parse().unwrap()], i64::MAX)
        .await;
    queued.unwrap();
    let report = store.check(true).await.unwrap();
    assert!(report.is_consistent(), "{report:?}");
    assert_eq!((report.referenced_blobs, report.unreferenced_blobs), (6, 0));

    let inbox = store.meta.folder(a.id, INBOX).await.unwrap().unwrap();
    let uids = [gone_small.copies[0].uid, gone_large.copies[0].uid, gone_facts.copies[0].uid];
    store.meta.set_flags(inbox.id, &uids, FlagChange::Add, &["\\Deleted".into()], None).await.unwrap();
    assert_eq!(store.meta.expunge(inbox.id, None).await.unwrap(), uids);
    let report = store.check(true).await.unwrap();
    assert!(report.is_consistent(), "an expunged message's blob is garbage, not a fault: {report:?}");
    assert_eq!((report.referenced_blobs, report.unreferenced_blobs), (3, 3));

    // A small body goes at once (its removal checks references in the same
    // statement); a blob file written a moment ago waits for the grace period.
    let young = store.collect_blobs(COLLECTION_GRACE).await.unwrap();
    assert_eq!(young, Collection { unreferenced: 3, removed: 2 });
    assert!(store.blobs.get(&gone_small.blob).await.unwrap().is_none());
    assert!(store.blobs.get(&gone_facts.blob).await.unwrap().is_none());
    assert!(store.blobs.get(&kept_facts.blob).await.unwrap().is_some(), "named through its facts");
    let kept_uid = kept_facts.copies[0].uid;
    assert_eq!(store.meta.facts(inbox.id, &[kept_uid]).await.unwrap().len(), 1, "its facts kept");
    assert!(store.blobs.get(&gone_large.blob).await.unwrap().is_some());
    let collected = store.collect_blobs(Duration::ZERO).await.unwrap();
    assert_eq!(collected, Collection { unreferenced: 1, removed: 1 });
    assert!(store.blobs.get(&gone_large.blob).await.unwrap().is_none());
    assert!(store.blobs.get(&kept.blob).await.unwrap().is_some(), "a referenced blob is never collected");
    let report = store.check(true).await.unwrap();
    assert!(report.is_consistent(), "{report:?}");
    assert_eq!((report.referenced_blobs, report.unreferenced_blobs), (3, 0));
}

/// A backup holds what was stored, small bodies in its database and large
/// ones as files, checks clean, and is refused over an existing copy.
pub async fn a_backup_holds_every_message_and_checks_clean(store: &Store) {
    let m = store.meta.create_mailbox(&person("claire.petit@pharma.test", "10003621892")).await.unwrap();
    let (small, big) = (b"Subject: petit\r\n\r\nx\r\n".to_vec(), large("grand"));
    store.deliver(&small, &[m.id]).await.unwrap();
    store.deliver(&big, &[m.id]).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let backup = store.backup_into(dir.path()).await.unwrap();
    assert_eq!(backup, Backup { blobs: 2, copied: 1 });
    let copy = Store::open(&StoreConfig::Embedded { dir: dir.path().to_path_buf() }).await.unwrap();
    // Consistent, the counts each folder keeps included (counted again
    // after a copy of PostgreSQL's rows, which count themselves on the way).
    let report = copy.check(true).await.unwrap();
    assert!(report.is_consistent(), "{report:?}");
    let inbox_id = copy.meta.folder(m.id, INBOX).await.unwrap().unwrap().id;
    let counts = copy.meta.folder_counts(inbox_id).await.unwrap();
    assert_eq!((counts.messages, counts.size), (2, (small.len() + big.len()) as u64));
    let inbox = copy.meta.folder_messages(m.id, INBOX).await.unwrap();
    assert_eq!(inbox.len(), 2);
    assert_eq!(copy.blobs.get(&BlobHash::of(&big)).await.unwrap().as_deref(), Some(&big[..]));
    assert_eq!(copy.blobs.get(&BlobHash::of(&small)).await.unwrap().as_deref(), Some(&small[..]));
    assert!(matches!(store.backup_into(dir.path()).await, Err(StoreError::Invalid(_))));
}
