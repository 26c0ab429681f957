//! Versioned schema migrations for SQLite, applied in order at open.
//!
//! Each migration runs in its own transaction together with the row that
//! records it in `schema_migrations`, so a crash leaves the schema at one
//! version or the next. Never edit a released migration: add the next one.

use rusqlite::Connection;

use crate::StoreError;

/// (version, name, SQL), in order. Versions are consecutive from 1.
pub(crate) const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "initial", include_str!("../../migrations/sqlite/0001_initial.sql")),
    (2, "queue", include_str!("../../migrations/sqlite/0002_queue.sql")),
    (3, "certificate_binding", include_str!("../../migrations/sqlite/0003_certificate_binding.sql")),
    (4, "roles", include_str!("../../migrations/sqlite/0004_roles.sql")),
    (5, "imap", include_str!("../../migrations/sqlite/0005_imap.sql")),
    (6, "audit", include_str!("../../migrations/sqlite/0006_audit.sql")),
    (7, "lifecycle", include_str!("../../migrations/sqlite/0007_lifecycle.sql")),
    (8, "directory_outbox", include_str!("../../migrations/sqlite/0008_directory_outbox.sql")),
    (9, "inline_blobs_and_flag_bits", include_str!("../../migrations/sqlite/0009_inline_blobs_and_flag_bits.sql")),
    (10, "message_facts", include_str!("../../migrations/sqlite/0010_message_facts.sql")),
    (11, "message_search", include_str!("../../migrations/sqlite/0011_message_search.sql")),
    (12, "facts_header_search", include_str!("../../migrations/sqlite/0012_facts_header_search.sql")),
    (13, "patient_conversations", include_str!("../../migrations/sqlite/0013_patient_conversations.sql")),
    (14, "dispensations", include_str!("../../migrations/sqlite/0014_dispensations.sql")),
    (
        15,
        "dispensation_links_by_message",
        include_str!("../../migrations/sqlite/0015_dispensation_links_by_message.sql"),
    ),
    (16, "message_documents", include_str!("../../migrations/sqlite/0016_message_documents.sql")),
    (17, "app_passwords", include_str!("../../migrations/sqlite/0017_app_passwords.sql")),
    (18, "message_preview", include_str!("../../migrations/sqlite/0018_message_preview.sql")),
    (19, "account_links", include_str!("../../migrations/sqlite/0019_account_links.sql")),
    (20, "leases", include_str!("../../migrations/sqlite/0020_leases.sql")),
    (21, "login_failures", include_str!("../../migrations/sqlite/0021_login_failures.sql")),
    (22, "login_flows", include_str!("../../migrations/sqlite/0022_login_flows.sql")),
    (23, "imap_sort_keys", include_str!("../../migrations/sqlite/0023_imap_sort_keys.sql")),
    (24, "login_flow_clients", include_str!("../../migrations/sqlite/0024_login_flow_clients.sql")),
    (25, "search_indexes", include_str!("../../migrations/sqlite/0025_search_indexes.sql")),
    (26, "folder_uids", include_str!("../../migrations/sqlite/0026_folder_uids.sql")),
    (27, "unused_facts_indexes", include_str!("../../migrations/sqlite/0027_unused_facts_indexes.sql")),
    (28, "unseen_index_with_flags", include_str!("../../migrations/sqlite/0028_unseen_index_with_flags.sql")),
    (
        29,
        "rows_written_with_their_facts",
        include_str!("../../migrations/sqlite/0029_rows_written_with_their_facts.sql"),
    ),
    (30, "folder_counts", include_str!("../../migrations/sqlite/0030_folder_counts.sql")),
    (31, "text_indexed_later", include_str!("../../migrations/sqlite/0031_text_indexed_later.sql")),
    (
        32,
        "sort_keys_indexed_once_sorted",
        include_str!("../../migrations/sqlite/0032_sort_keys_indexed_once_sorted.sql"),
    ),
    (
        33,
        "messages_found_by_their_facts",
        include_str!("../../migrations/sqlite/0033_messages_found_by_their_facts.sql"),
    ),
    (
        34,
        "bodies_kept_under_their_facts",
        include_str!("../../migrations/sqlite/0034_bodies_kept_under_their_facts.sql"),
    ),
];

/// The version of the database at `path`, read only (0: no database yet,
/// or none of its migrations applied).
pub(crate) fn version_of(path: &std::path::Path) -> Result<i64, StoreError> {
    if !path.exists() {
        return Ok(0);
    }
    let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let exists: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations')",
        [],
        |r| r.get(0),
    )?;
    if !exists {
        return Ok(0);
    }
    Ok(conn.query_row("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", [], |r| r.get(0))?)
}

/// Brings the database to the latest version; returns the version reached.
pub(crate) fn apply(conn: &mut Connection) -> Result<i64, StoreError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version    INTEGER PRIMARY KEY,
            name       TEXT    NOT NULL,
            applied_at INTEGER NOT NULL
        )",
    )?;
    let known = MIGRATIONS.last().map_or(0, |m| m.0);
    let current: i64 = conn.query_row("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", [], |r| r.get(0))?;
    if current > known {
        return Err(StoreError::SchemaTooNew { found: current, known });
    }
    for &(version, name, sql) in MIGRATIONS.iter().filter(|m| m.0 > current) {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        // Another process may have migrated while we waited for the lock.
        let done: bool =
            tx.query_row("SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = ?1)", [version], |r| {
                r.get(0)
            })?;
        if !done {
            tx.execute_batch(sql)?;
            tx.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
                rusqlite::params![version, name, crate::now_unix()],
            )?;
            tracing::info!(version, name, "applied schema migration");
        }
        tx.commit()?;
    }
    Ok(known)
}

#[cfg(test)]
mod tests {
    use rusqlite::{Connection, params};

    use super::{MIGRATIONS, apply};

    /// A database in memory as the first `applied` migrations left it.
    fn database_at(applied: usize) -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)").unwrap();
        for &(version, name, sql) in &MIGRATIONS[..applied] {
            conn.execute_batch(sql).unwrap();
            conn.execute("INSERT INTO schema_migrations VALUES (?1, ?2, 0)", params![version, name]).unwrap();
        }
        conn
    }

    #[test]
    fn facts_of_a_version_10_database_are_kept_for_the_backfill() {
        let mut conn = database_at(10);
        let hash = "ab".repeat(32);
        conn.execute("INSERT INTO messages (blob_hash, size, received_at) VALUES (?1, 1, 1)", [&hash]).unwrap();
        conn.execute(
            "INSERT INTO message_facts (blob_hash, version, encoded, subject, to_addresses) VALUES (?1, 1, x'7b7d', 'Bilan', 'a@b.test')",
            [&hash],
        )
        .unwrap();

        assert_eq!(apply(&mut conn).unwrap(), MIGRATIONS.len() as i64);
        let kept: (i64, u32, String, String, String, bool, Option<String>) = conn
            .query_row(
                "SELECT id, version, subject, to_addresses, sender_key, header, search_subject
                 FROM message_facts WHERE blob_hash = ?1",
                [&hash],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?)),
            )
            .unwrap();
        let expected = (1, 1, "Bilan".into(), "a@b.test".into(), String::new(), false, None);
        assert_eq!(kept, expected, "version 1: to be read again");
        // Its text, once written, goes with the row.
        conn.execute("INSERT INTO message_text (rowid, text) VALUES (1, 'Bilan sanguin')", []).unwrap();
        let count = |conn: &Connection| -> i64 {
            conn.query_row("SELECT COUNT(*) FROM message_text WHERE message_text MATCH 'sanguin'", [], |r| r.get(0))
                .unwrap()
        };
        assert_eq!(count(&conn), 1);
        conn.execute("DELETE FROM message_facts", []).unwrap();
        assert_eq!(count(&conn), 0);
    }

    /// Migration 0034 moves the bodies that have facts under them, and
    /// leaves the others under their hash.
    #[test]
    fn bodies_of_a_version_33_database_move_under_their_facts() {
        let mut conn = database_at(33);
        let (with_facts, without) = ("ab".repeat(32), "cd".repeat(32));
        for (hash, data) in [(&with_facts, &b"bilan"[..]), (&without, &b"ordonnance"[..])] {
            conn.execute("INSERT INTO inline_blobs (hash, data) VALUES (?1, ?2)", params![hash, data]).unwrap();
        }
        conn.execute("INSERT INTO message_facts (blob_hash, version, encoded) VALUES (?1, 1, x'7b7d')", [&with_facts])
            .unwrap();

        apply(&mut conn).unwrap();
        let under_facts: (String, Vec<u8>) = conn
            .query_row(
                "SELECT f.blob_hash, b.data FROM facts_bodies b JOIN message_facts f ON f.id = b.facts_id",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(under_facts, (with_facts, b"bilan".to_vec()));
        let under_hash: Vec<String> = conn
            .prepare("SELECT hash FROM inline_blobs")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(under_hash, [without]);
    }
}
