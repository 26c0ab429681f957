//! The SQLite side of `mss check`: SQLite's own integrity and foreign-key
//! checks, then the invariants the IMAP and delivery code rely on.

use async_trait::async_trait;
use rusqlite::Connection;

use super::SqliteStore;
use crate::maintenance::{INVARIANTS, PROBLEMS_PER_CHECK};
use crate::{MaintenanceStore, StoreError};

/// A message naming something that is not a blob hash (see
/// [`INVARIANTS`] for the others, shared with PostgreSQL).
const BLOB_HASH_SHAPE: &str = "SELECT 'message ' || id || ' names `' || blob_hash || '`, not a blob hash'
    FROM messages WHERE length(blob_hash) <> 64 OR blob_hash GLOB '*[^0-9a-f]*'";

/// A small body kept under its hash although it has facts, which keep it
/// (migration 0034): a move the schema's triggers missed.
const BODY_KEPT_APART_FROM_ITS_FACTS: &str = "SELECT 'body ' || hash || ' is kept apart from its facts'
    FROM inline_blobs WHERE hash IN (SELECT blob_hash FROM message_facts)";

/// A body kept under facts that are gone: new facts given that id would
/// find another body there (read, it fails its hash check).
const BODY_UNDER_FACTS_GONE: &str = "SELECT 'a body is kept under facts ' || facts_id || ', which are gone'
    FROM facts_bodies WHERE facts_id NOT IN (SELECT id FROM message_facts)";

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
    for sql in INVARIANTS.iter().chain([&BLOB_HASH_SHAPE, &BODY_KEPT_APART_FROM_ITS_FACTS, &BODY_UNDER_FACTS_GONE]) {
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
        // VACUUM INTO reads one snapshot (its own read transaction, hence
        // outside ours) and writes a new, compact database: writers go on
        // meanwhile.
        self.read_outside_transaction(move |conn| Ok(conn.execute("VACUUM INTO ?1", [target]).map(|_| ())?)).await?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(StoreError::io(path))
    }
}
