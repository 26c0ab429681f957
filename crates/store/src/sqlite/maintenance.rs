//! The SQLite side of `mss check`: SQLite's own integrity and foreign-key
//! checks, then the invariants the IMAP and delivery code rely on.

use async_trait::async_trait;
use rusqlite::Connection;

use super::SqliteStore;
use crate::{MaintenanceStore, StoreError};

/// Invariants as queries: each row returned is one problem, described by the
/// query's single text column.
const INVARIANTS: &[&str] = &[
    // A UID at or above UIDNEXT would be handed out again.
    "SELECT 'folder ' || f.id || ' (' || f.name || '): UID ' || MAX(fm.uid) || ' is not below UIDNEXT ' || f.uidnext
     FROM folders f JOIN folder_messages fm ON fm.folder_id = f.id
     GROUP BY f.id HAVING MAX(fm.uid) >= f.uidnext",
    // A change above HIGHESTMODSEQ would be invisible to CONDSTORE clients.
    "SELECT 'folder ' || f.id || ' (' || f.name || '): MODSEQ ' || MAX(fm.modseq) || ' above HIGHESTMODSEQ ' || f.highest_modseq
     FROM folders f JOIN folder_messages fm ON fm.folder_id = f.id
     GROUP BY f.id HAVING MAX(fm.modseq) > f.highest_modseq",
    "SELECT 'folder ' || e.folder_id || ': UID ' || e.uid || ' is both expunged and present'
     FROM expunged e JOIN folder_messages fm ON fm.folder_id = e.folder_id AND fm.uid = e.uid",
    // Expunge removes a message row with its last folder row, in one transaction.
    "SELECT 'message ' || m.id || ' is in no folder'
     FROM messages m WHERE NOT EXISTS (SELECT 1 FROM folder_messages fm WHERE fm.message_id = m.id)",
    "SELECT 'queued message ' || q.id || ' has no recipient'
     FROM queue_messages q WHERE NOT EXISTS (SELECT 1 FROM queue_recipients r WHERE r.message_id = q.id)",
    "SELECT 'mailbox ' || m.address || ' has no INBOX'
     FROM mailboxes m WHERE m.state <> 'deleted'
     AND NOT EXISTS (SELECT 1 FROM folders f WHERE f.mailbox_id = m.id AND f.name = 'INBOX')",
    "SELECT 'message ' || id || ' names `' || blob_hash || '`, not a blob hash'
     FROM messages WHERE length(blob_hash) <> 64 OR blob_hash GLOB '*[^0-9a-f]*'",
];

/// At most this many problems of one kind are listed.
const PROBLEMS_PER_CHECK: usize = 100;

fn problems_of(conn: &Connection, sql: &str) -> Result<Vec<String>, StoreError> {
    let mut statement = conn.prepare(sql)?;
    let rows = statement.query_map([], |r| r.get::<_, String>(0))?;
    Ok(rows.take(PROBLEMS_PER_CHECK).collect::<Result<_, _>>()?)
}

fn check(conn: &Connection) -> Result<Vec<String>, StoreError> {
    let mut problems: Vec<String> =
        problems_of(conn, "PRAGMA integrity_check")?.into_iter().filter(|line| line != "ok").collect();
    let mut statement = conn.prepare("PRAGMA foreign_key_check")?;
    let orphans = statement.query_map([], |r| {
        Ok(format!(
            "row {} of {} names a missing {}",
            r.get::<_, i64>(1)?,
            r.get::<_, String>(0)?,
            r.get::<_, String>(2)?
        ))
    })?;
    for orphan in orphans.take(PROBLEMS_PER_CHECK) {
        problems.push(orphan?);
    }
    for sql in INVARIANTS {
        problems.extend(problems_of(conn, sql)?);
    }
    Ok(problems)
}

#[async_trait]
impl MaintenanceStore for SqliteStore {
    async fn check_metadata(&self) -> Result<Vec<String>, StoreError> {
        self.read(check).await
    }

    async fn snapshot_to(&self, path: &std::path::Path) -> Result<(), StoreError> {
        let target = path.to_str().ok_or_else(|| StoreError::Invalid(format!("{} is not UTF-8", path.display())))?;
        let target = target.to_string();
        // VACUUM INTO reads one snapshot (a read transaction) and writes a
        // new, compact database: writers go on meanwhile.
        self.read(move |conn| Ok(conn.execute("VACUUM INTO ?1", [target]).map(|_| ())?)).await?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(StoreError::io(path))
    }
}
