//! The store suite on the embedded backends (SQLite + filesystem blobs), plus
//! what is specific to them: reopening, migrations, temporary files.

mod suite;
mod support;

use std::time::{Duration, SystemTime};

use mss_store::{Bytes, SqliteStore, Store, StoreConfig, StoreError};

async fn fresh() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&StoreConfig::Embedded { dir: dir.path().to_path_buf() }).await.unwrap();
    (dir, store)
}

macro_rules! suite_tests {
    ($($name:ident),* $(,)?) => {$(
        #[tokio::test]
        async fn $name() {
            let (_dir, store) = fresh().await;
            suite::$name(&store).await;
        }
    )*};
}

suite::every_test!(suite_tests);

#[tokio::test]
async fn data_survives_reopening_and_migrations_run_once() {
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig::Embedded { dir: dir.path().to_path_buf() };
    let store = Store::open(&config).await.unwrap();
    let created = store.meta.create_mailbox(&support::person("a.a@pharma.test", "10003621892")).await.unwrap();
    store.deliver(b"hello", &[created.id]).await.unwrap();
    drop(store);

    let store = Store::open(&config).await.unwrap();
    assert_eq!(store.meta.mailboxes().await.unwrap(), vec![created.clone()]);
    assert_eq!(store.meta.folder_messages(created.id, "INBOX").await.unwrap().len(), 1);
    let conn = rusqlite::Connection::open(dir.path().join("mss.sqlite3")).unwrap();
    let applied: i64 = conn.query_row("SELECT COUNT(*) FROM schema_migrations", [], |r| r.get(0)).unwrap();
    assert_eq!(applied, SqliteStore::schema_version());
    let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
}

#[tokio::test]
async fn a_database_from_a_newer_mss_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig::Embedded { dir: dir.path().to_path_buf() };
    drop(Store::open(&config).await.unwrap());
    let conn = rusqlite::Connection::open(dir.path().join("mss.sqlite3")).unwrap();
    conn.execute("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)", []).unwrap();
    drop(conn);
    let refused = Store::open(&config).await.err().expect("a newer schema must be refused");
    assert!(matches!(refused, StoreError::SchemaTooNew { found: 999, .. }), "{refused}");
}

#[tokio::test]
async fn a_damaged_blob_is_reported_not_served() {
    let (dir, store) = fresh().await;
    let hash = store.blobs.put(Bytes::from_static(b"original")).await.unwrap();
    let hex = hash.to_hex();
    std::fs::write(dir.path().join("blobs").join(&hex[..2]).join(&hex), b"tampered").unwrap();
    assert!(matches!(store.blobs.get(&hash).await, Err(StoreError::Corrupt(_))));
}

#[tokio::test]
async fn temporary_files_of_dead_writers_are_settled_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig::Embedded { dir: dir.path().to_path_buf() };
    let store = Store::open(&config).await.unwrap();
    let present = store.blobs.put(Bytes::from_static(b"already in place")).await.unwrap();
    drop(store);
    let tmp = dir.path().join("blobs/tmp");
    // pid 0 never names a live writer; our parent (the test runner) is alive.
    let empty = tmp.join("spare.0.1");
    std::fs::write(&empty, b"").unwrap();
    // A write whose rename the crash lost: its blob is put in place.
    let renamed_lost = tmp.join("spare.0.2");
    std::fs::write(&renamed_lost, b"a whole message").unwrap();
    let duplicate = tmp.join(format!("{}.0.3", present.to_hex()));
    std::fs::write(&duplicate, b"already in place").unwrap();
    let parent_pid = std::os::unix::process::parent_id();
    let live = tmp.join(format!("{}.{parent_pid}.1", "b".repeat(64)));
    std::fs::write(&live, b"in progress elsewhere").unwrap();

    let store = Store::open(&config).await.unwrap();
    for gone in [&empty, &renamed_lost, &duplicate] {
        assert!(!gone.exists(), "{} is settled", gone.display());
    }
    assert!(live.exists(), "a live process's write in progress is left alone");
    let settled = mss_store::BlobHash::of(b"a whole message");
    assert_eq!(store.blobs.get(&settled).await.unwrap().unwrap(), b"a whole message");
    assert_eq!(store.blobs.get(&present).await.unwrap().unwrap(), b"already in place");
}

#[tokio::test]
async fn a_large_delivery_whose_body_cannot_be_written_leaves_nothing() {
    let (dir, store) = fresh().await;
    let a = store.meta.create_mailbox(&support::person("a.a@pharma.test", "10003621892")).await.unwrap();
    let raw = suite::large("cannot be written");
    let hash = mss_store::BlobHash::of(&raw);
    // Where its file's directory would go, a file: the rename fails.
    let shard = dir.path().join("blobs").join(&hash.to_hex()[..2]);
    std::fs::write(&shard, b"not a directory").unwrap();
    let refused = store.deliver(&raw, &[a.id]).await.expect_err("the body could not be written");
    assert!(matches!(refused, StoreError::Io { .. }), "the write's own error: {refused}");
    assert!(store.meta.folder_messages(a.id, "INBOX").await.unwrap().is_empty(), "no row names it");

    std::fs::remove_file(&shard).unwrap();
    let delivered = store.deliver(&raw, &[a.id]).await.unwrap();
    assert_eq!(delivered.copies[0].uid, 1, "the refused delivery took no UID");
    assert_eq!(store.blobs.get(&hash).await.unwrap().unwrap(), raw);
    assert!(store.check(true).await.unwrap().is_consistent());
}

/// The files waiting in the blob store's temporary directory: (name, size).
fn temporary_files(dir: &std::path::Path) -> Vec<(String, u64)> {
    let mut files: Vec<(String, u64)> = std::fs::read_dir(dir.join("blobs/tmp"))
        .unwrap()
        .map(|e| e.unwrap())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.metadata().unwrap().len()))
        .collect();
    files.sort();
    files
}

/// Polls `done` for up to ten seconds (the spares are made on a thread of
/// their own).
async fn eventually(mut done: impl FnMut() -> bool) -> bool {
    for _ in 0..1000 {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

#[tokio::test]
async fn temporary_files_are_made_ahead_taken_by_writes_and_gone_with_the_store() {
    let (dir, store) = fresh().await;
    let spare_prefix = format!("spare.{}.", std::process::id());
    assert!(temporary_files(dir.path()).is_empty(), "none at open: a command that writes no blob makes none");

    // The first write makes its own file, then the spares (`SPARES`: 4).
    let first = Bytes::from(vec![b'y'; 200 * 1024]);
    let hash = store.blobs.put(first.clone()).await.unwrap();
    assert_eq!(std::fs::read(blob_path(dir.path(), &hash)).unwrap(), first, "the blob is whole in its place");
    assert!(eventually(|| temporary_files(dir.path()).len() == 4).await, "{:?}", temporary_files(dir.path()));
    let ready = temporary_files(dir.path());
    assert!(ready.iter().all(|(name, len)| name.starts_with(&spare_prefix) && *len == 0), "{ready:?}");

    // Handed out once their names are synced (the files show before): from
    // then on, a write takes one and renames it into place.
    let mut taken = None;
    for i in 0..500 {
        let body = Bytes::from(format!("{i} x").repeat(70_000));
        let hash = store.blobs.put(body.clone()).await.unwrap();
        assert_eq!(std::fs::read(blob_path(dir.path(), &hash)).unwrap(), body, "the blob is whole in its place");
        let now = temporary_files(dir.path());
        taken = ready.iter().find(|(name, _)| !now.iter().any(|(left, _)| left == name)).cloned();
        if taken.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(taken.is_some(), "no write took a spare: {:?}", temporary_files(dir.path()));
    assert!(eventually(|| temporary_files(dir.path()).len() == ready.len()).await, "the taken one is made again");

    // More writes at once than files made ahead: each makes its own if need be.
    let bodies: Vec<Bytes> = (0..20).map(|i| Bytes::from(format!("{i} ").repeat(20_000))).collect();
    let puts = bodies.iter().map(|b| store.blobs.put(b.clone()));
    let hashes = futures_util::future::try_join_all(puts).await.unwrap();
    for (hash, body) in hashes.iter().zip(&bodies) {
        assert_eq!(store.blobs.get(hash).await.unwrap().unwrap(), body.to_vec());
    }
    let spares = || temporary_files(dir.path()).iter().all(|(name, len)| name.starts_with(&spare_prefix) && *len == 0);
    assert!(eventually(|| spares() && temporary_files(dir.path()).len() == ready.len()).await);

    drop(store);
    assert!(eventually(|| temporary_files(dir.path()).is_empty()).await, "{:?}", temporary_files(dir.path()));
}

fn blob_path(dir: &std::path::Path, hash: &mss_store::BlobHash) -> std::path::PathBuf {
    let hex = hash.to_hex();
    dir.join("blobs").join(&hex[..2]).join(&hex)
}

fn age(path: &std::path::Path, by: Duration) {
    let file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    file.set_modified(SystemTime::now() - by).unwrap();
}

#[tokio::test]
async fn the_check_names_missing_and_damaged_blobs_and_broken_invariants() {
    let (dir, store) = fresh().await;
    let a = store.meta.create_mailbox(&support::person("a.a@pharma.test", "10003621892")).await.unwrap();
    let missing = store.deliver(&suite::large("one"), &[a.id]).await.unwrap();
    let damaged = store.deliver(&suite::large("two"), &[a.id]).await.unwrap();
    assert!(store.check(true).await.unwrap().is_consistent());
    std::fs::remove_file(blob_path(dir.path(), &missing.blob)).unwrap();
    std::fs::write(blob_path(dir.path(), &damaged.blob), b"tampered").unwrap();
    let conn = rusqlite::Connection::open(dir.path().join("mss.sqlite3")).unwrap();
    conn.execute("UPDATE folders SET uidnext = 2 WHERE mailbox_id = ?1 AND name = 'INBOX'", [a.id]).unwrap();

    let report = store.check(true).await.unwrap();
    let text = report.problems.join("\n");
    assert_eq!(report.problems.len(), 3, "{text}");
    assert!(text.contains(&format!("blob {} is named by a row but missing", missing.blob)), "{text}");
    assert!(text.contains(&format!("blob {} cannot be read", damaged.blob)), "{text}");
    assert!(text.contains("(INBOX): UID 2 is not below UIDNEXT 2"), "{text}");
    let quick = store.check(false).await.unwrap();
    assert_eq!(quick.problems.len(), 2, "without reading contents the damage goes unseen: {quick:?}");
}

#[tokio::test]
async fn a_blob_stored_again_is_not_collected_and_an_interrupted_collection_is_undone() {
    let (dir, store) = fresh().await;
    let hour = Duration::from_secs(3600);
    let reused = store.blobs.put(Bytes::from_static(b"same content")).await.unwrap();
    let idle = store.blobs.put(Bytes::from_static(b"forgotten")).await.unwrap();
    age(&blob_path(dir.path(), &reused), 2 * hour);
    age(&blob_path(dir.path(), &idle), 2 * hour);
    // A delivery re-using the blob refreshes it.
    assert_eq!(store.blobs.put(Bytes::from_static(b"same content")).await.unwrap(), reused);
    assert!(!store.blobs.remove_if_idle(&reused, hour).await.unwrap());
    assert!(store.blobs.remove_if_idle(&idle, hour).await.unwrap());
    assert!(!store.blobs.contains(&idle).await.unwrap());
    assert!(!store.blobs.remove_if_idle(&idle, hour).await.unwrap(), "already gone");

    // A collection cut short after parking the blob: it comes back at open.
    let parked = dir.path().join("blobs/collecting").join(format!("{reused}.0.7"));
    std::fs::rename(blob_path(dir.path(), &reused), &parked).unwrap();
    drop(store);
    let store = Store::open(&StoreConfig::Embedded { dir: dir.path().to_path_buf() }).await.unwrap();
    assert_eq!(store.blobs.get(&reused).await.unwrap().as_deref(), Some(&b"same content"[..]));
    assert!(!parked.exists());
    assert_eq!(store.blobs.list().await.unwrap(), vec![reused], "the parking place is not a blob shard");
}

/// Tampering with the database file directly is what verification is for.
#[tokio::test]
async fn an_altered_or_removed_audit_entry_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&StoreConfig::Embedded { dir: dir.path().to_path_buf() }).await.unwrap();
    let entries: Vec<mss_store::NewAuditEntry> = (0..5)
        .map(|i| mss_store::NewAuditEntry {
            at: 1_000 + i,
            actor: "cli".into(),
            action: "mailbox.create".into(),
            target: format!("m{i}@pharma.test"),
            result: "ok".into(),
            detail: String::new(),
        })
        .collect();
    store.meta.append_audit(&entries).await.unwrap();
    let db = rusqlite::Connection::open(dir.path().join("mss.sqlite3")).unwrap();
    db.execute("UPDATE audit_log SET result = 'refused' WHERE id = 3", []).unwrap();
    let verdict = store.meta.verify_audit().await.unwrap();
    assert!(matches!(verdict, mss_store::AuditVerdict::Broken { id: 3, .. }), "{verdict:?}");
    db.execute("UPDATE audit_log SET result = 'ok' WHERE id = 3", []).unwrap();
    assert_eq!(store.meta.verify_audit().await.unwrap(), mss_store::AuditVerdict::Intact { entries: 5 });
    db.execute("DELETE FROM audit_log WHERE id = 2", []).unwrap();
    assert!(matches!(store.meta.verify_audit().await.unwrap(), mss_store::AuditVerdict::Broken { id: 3, .. }));
    db.execute("DELETE FROM audit_log WHERE id >= 3", []).unwrap();
    let verdict = store.meta.verify_audit().await.unwrap();
    assert!(matches!(verdict, mss_store::AuditVerdict::Broken { .. }), "a removed tail is noticed: {verdict:?}");
}

#[tokio::test]
async fn small_bodies_live_in_the_database_and_are_checked_there_too() {
    let (dir, store) = fresh().await;
    let a = store.meta.create_mailbox(&support::person("a.a@pharma.test", "10003621892")).await.unwrap();
    let small = store.deliver(b"Subject: small\r\n\r\nx\r\n", &[a.id]).await.unwrap();
    let large = store.deliver(&suite::large("large"), &[a.id]).await.unwrap();
    assert!(!blob_path(dir.path(), &small.blob).exists(), "a small body has no file");
    assert!(blob_path(dir.path(), &large.blob).exists());
    assert_eq!(store.blobs.list().await.unwrap().len(), 2);
    assert!(store.blobs.contains(&small.blob).await.unwrap());
    let absent = mss_store::BlobHash::of(b"never stored");
    let many = store.blobs.get_many(&[large.blob, absent, small.blob]).await.unwrap();
    assert_eq!(
        many.iter().map(|b| b.as_ref().map(Vec::len)).collect::<Vec<_>>(),
        [Some(suite::large("large").len()), None, Some(21)]
    );

    let conn = rusqlite::Connection::open(dir.path().join("mss.sqlite3")).unwrap();
    conn.execute("UPDATE inline_blobs SET data = X'00'", []).unwrap();
    assert!(matches!(store.blobs.get(&small.blob).await, Err(StoreError::Corrupt(_))), "never served damaged");
    let report = store.check(true).await.unwrap();
    assert_eq!(report.problems.len(), 1, "{report:?}");
    assert!(report.problems[0].contains(&format!("blob {} cannot be read", small.blob)));
}

#[tokio::test]
async fn the_log_is_copied_into_the_database_while_deliveries_go_on() {
    let (dir, store) = fresh().await;
    let a = store.meta.create_mailbox(&support::person("a.a@pharma.test", "10003621892")).await.unwrap();
    let body = |n: usize| format!("Subject: {n}\r\n\r\n{}\r\n", "x".repeat(40 * 1024)).into_bytes();
    let database = dir.path().join("mss.sqlite3");
    let log = dir.path().join("mss.sqlite3-wal");
    let size = |path: &std::path::Path| std::fs::metadata(path).unwrap().len();
    // Small bodies, each kept in the database, past the log's 4 MB threshold
    // (about 7 MB of log) but below the writer's own backstop: no commit
    // copies the log; the checkpointer does, after the last delivery too
    // (the database holds little else: a fresh one is a few pages).
    for n in 0..60 {
        store.deliver(&body(n), &[a.id]).await.unwrap();
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while size(&database) < 1024 * 1024 {
        assert!(std::time::Instant::now() < deadline, "the database stayed at {} bytes", size(&database));
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // A stream until the log nears the writer's backstop (about 64 MB), then
    // about 64 MB more: the log stays bounded. From eight clients at once,
    // their deliveries committed together: the log then outruns the
    // checkpointer (one client's log, restarting whenever the checkpointer
    // catches up, may never near the backstop; four did not, once, on a
    // loaded machine).
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
    const NEAR: u64 = 48 * 1024 * 1024;
    const AFTER: usize = 1300;
    const AT_MOST: usize = 8000;
    let (largest, next, neared_at) = (AtomicU64::new(0), AtomicUsize::new(60), AtomicUsize::new(usize::MAX));
    let (delivered, last) = (AtomicUsize::new(60), AtomicUsize::new(59));
    let client = async || {
        loop {
            let n = next.fetch_add(1, Relaxed);
            if n >= AT_MOST || n >= neared_at.load(Relaxed).saturating_add(AFTER) {
                break;
            }
            store.deliver(&body(n), &[a.id]).await.unwrap();
            delivered.fetch_add(1, Relaxed);
            last.fetch_max(n, Relaxed);
            let now = size(&log);
            largest.fetch_max(now, Relaxed);
            if now > NEAR {
                let _ = neared_at.compare_exchange(usize::MAX, n, Relaxed, Relaxed);
            }
        }
    };
    tokio::join!(client(), client(), client(), client(), client(), client(), client(), client());
    let largest = largest.into_inner();
    assert!(largest > NEAR, "the stream never neared the backstop: {largest} bytes");
    assert!(largest < 72 * 1024 * 1024, "the log grew to {largest} bytes");
    drop(store);
    let store = Store::open(&StoreConfig::Embedded { dir: dir.path().to_path_buf() }).await.unwrap();
    let messages = store.meta.folder_messages(a.id, "INBOX").await.unwrap();
    assert_eq!(messages.len(), delivered.into_inner());
    let last = body(last.into_inner());
    let last_blob = mss_store::BlobHash::of(&last);
    assert!(messages.iter().any(|m| m.blob == last_blob));
    assert_eq!(store.blobs.get(&last_blob).await.unwrap(), Some(last));
}
