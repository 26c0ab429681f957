//! The PostgreSQL side of `mss check` and of [`crate::Store::backup_into`].
//!
//! The check: PostgreSQL enforces foreign keys at every write and has no
//! counterpart of SQLite's `integrity_check` short of an extension
//! (`amcheck`), so it is the invariants the IMAP and delivery code rely on,
//! read from one snapshot.
//!
//! The snapshot: every table, read in one repeatable-read transaction (one
//! moment, while others write), written into a new embedded database (the
//! SQLite schema of this build), ids kept. The searchable text of messages
//! goes as the words PostgreSQL indexed (distinct, folded), which SQLite's
//! full-text index matches as it matches the text they came from. An
//! operator backs up the shared database itself with `pg_dump` or its own
//! snapshots; this copy is a store `mss` opens without a database server.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use deadpool_postgres::{GenericClient, Transaction};
use rusqlite::types::Value;
use tokio_postgres::types::Type;
use tokio_postgres::{IsolationLevel, Row, Statement};

use super::{DATA_TABLES as TABLES, PgStore};
use crate::error::blocking;
use crate::maintenance::{INVARIANTS, PROBLEMS_PER_CHECK};
use crate::{MaintenanceStore, SqliteStore, StoreError};

/// A message naming something that is not a blob hash (see
/// [`INVARIANTS`] for the others).
const BLOB_HASH_SHAPE: &str = "SELECT 'message ' || id || ' names `' || blob_hash || '`, not a blob hash'
    FROM messages WHERE blob_hash !~ '^[0-9a-f]{64}$'";

/// Rows read and written at a time (inline bodies are up to 64 KiB each).
const COPY_BATCH: i32 = 256;

async fn check(client: &impl GenericClient) -> Result<Vec<String>, StoreError> {
    let mut problems = Vec::new();
    for sql in INVARIANTS.iter().chain([&BLOB_HASH_SHAPE]) {
        let rows = client.query(&format!("{sql} LIMIT {PROBLEMS_PER_CHECK}"), &[]).await?;
        for row in rows {
            problems.push(row.try_get(0)?);
        }
    }
    Ok(problems)
}

/// One row as SQLite values, by the PostgreSQL types of the schema.
fn sqlite_row(row: &Row) -> Result<Vec<Value>, StoreError> {
    let mut values = Vec::with_capacity(row.len());
    for (i, column) in row.columns().iter().enumerate() {
        let value = match *column.type_() {
            Type::INT8 => row.try_get::<_, Option<i64>>(i)?.map(Value::Integer),
            Type::INT4 => row.try_get::<_, Option<i32>>(i)?.map(|v| Value::Integer(v.into())),
            Type::INT2 => row.try_get::<_, Option<i16>>(i)?.map(|v| Value::Integer(v.into())),
            Type::BOOL => row.try_get::<_, Option<bool>>(i)?.map(|v| Value::Integer(v.into())),
            Type::TEXT | Type::VARCHAR => row.try_get::<_, Option<String>>(i)?.map(Value::Text),
            Type::BYTEA => row.try_get::<_, Option<Vec<u8>>>(i)?.map(Value::Blob),
            ref other => {
                return Err(StoreError::Invalid(format!(
                    "column {} of type {other} has no SQLite counterpart in a snapshot",
                    column.name()
                )));
            }
        };
        values.push(value.unwrap_or(Value::Null));
    }
    Ok(values)
}

/// Copies the rows `select` returns into `table` of the copy (into
/// `columns`, or the statement's own column names).
async fn copy_rows(
    tx: &Transaction<'_>,
    copy: rusqlite::Connection,
    table: &str,
    select: &Statement,
    columns: Option<&str>,
) -> Result<rusqlite::Connection, StoreError> {
    let names: Vec<&str> = select.columns().iter().map(|c| c.name()).collect();
    let columns = columns.map_or_else(|| names.join(", "), str::to_string);
    let marks = vec!["?"; names.len()].join(", ");
    let insert = format!("INSERT INTO {table} ({columns}) VALUES ({marks})");
    let portal = tx.bind(select, &[]).await?;
    let mut copy = copy;
    loop {
        let rows = tx.query_portal(&portal, COPY_BATCH).await?;
        if rows.is_empty() {
            return Ok(copy);
        }
        let rows = rows.iter().map(sqlite_row).collect::<Result<Vec<_>, _>>()?;
        let insert = insert.clone();
        copy = blocking(move || {
            {
                let mut stmt = copy.prepare_cached(&insert)?;
                for row in rows {
                    stmt.execute(rusqlite::params_from_iter(row))?;
                }
            }
            Ok(copy)
        })
        .await?;
    }
}

/// Writes the snapshot `tx` reads into the new database `path`, whose
/// schema is made.
async fn snapshot(tx: &Transaction<'_>, path: &Path) -> Result<(), StoreError> {
    // The tables a newer schema added would be left out silently: refused.
    let known: Vec<String> = tx
        .query("SELECT tablename::TEXT FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1", &[])
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    if let Some(unknown) = known.iter().find(|t| {
        !TABLES.contains(&t.as_str())
            && !["message_text", "schema_migrations", "leases", "login_failures", "login_flows"].contains(&t.as_str())
    }) {
        return Err(StoreError::Invalid(format!("table {unknown} is not known to the snapshot of this build")));
    }

    // The copy's schema, by the embedded store itself; then one transaction.
    drop(SqliteStore::open(path).await?);
    let target = path.to_path_buf();
    let mut copy = blocking(move || {
        let copy = rusqlite::Connection::open(&target)?;
        copy.execute_batch("PRAGMA synchronous = FULL; BEGIN IMMEDIATE")?;
        Ok(copy)
    })
    .await?;
    for table in TABLES {
        let select = tx.prepare(&format!("SELECT * FROM {table}")).await?;
        copy = copy_rows(tx, copy, table, &select, None).await?;
    }
    let words =
        tx.prepare("SELECT facts_id, array_to_string(tsvector_to_array(words), ' ') AS text FROM message_text").await?;
    copy = copy_rows(tx, copy, "message_text", &words, Some("rowid, text")).await?;
    // Each folder's kept counts: the copied rows counted themselves again.
    blocking(move || {
        copy.execute(crate::maintenance::RECOUNT_FOLDERS, [])?;
        Ok(copy.execute_batch("COMMIT")?)
    })
    .await
}

/// The files of the SQLite database `path`.
fn database_files(path: &Path) -> [PathBuf; 3] {
    let with = |suffix: &str| {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    };
    [path.to_path_buf(), with("-wal"), with("-shm")]
}

#[async_trait]
impl MaintenanceStore for PgStore {
    async fn check_metadata(&self) -> Result<Vec<String>, StoreError> {
        let mut client = self.client().await?;
        let tx =
            client.build_transaction().isolation_level(IsolationLevel::RepeatableRead).read_only(true).start().await?;
        let problems = check(&tx).await?;
        tx.commit().await?;
        Ok(problems)
    }

    async fn snapshot_to(&self, path: &Path) -> Result<(), StoreError> {
        if path.exists() {
            return Err(StoreError::Invalid(format!("{} exists: a snapshot goes to a new database", path.display())));
        }
        let mut client = self.client().await?;
        // One moment of the database, however long the copy takes.
        let tx =
            client.build_transaction().isolation_level(IsolationLevel::RepeatableRead).read_only(true).start().await?;
        if let Err(e) = snapshot(&tx, path).await {
            // No half copy left behind to be taken for a backup.
            for file in database_files(path) {
                if let Err(removal) = std::fs::remove_file(&file)
                    && removal.kind() != std::io::ErrorKind::NotFound
                {
                    tracing::warn!(file = %file.display(), error = %removal, "snapshot: cannot remove a failed copy");
                }
            }
            return Err(e);
        }
        tx.commit().await?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(StoreError::io(path))
    }
}
