//! Moving an operator from its embedded store to PostgreSQL: every row of
//! every table, ids kept, in one PostgreSQL transaction read from one SQLite
//! snapshot, after the bodies are in the target's blob store (bodies before
//! the rows that name them, as everywhere). An interrupted copy leaves the
//! target empty; a target that holds anything is refused.
//!
//! Message facts and their searchable text are not copied: SQLite's
//! full-text index keeps no text to read back. The caller recomputes them
//! from the bodies afterwards (`mss messages index` does). Each folder's
//! kept counts are counted again once the rows are in: each row inserted
//! counted itself on top of the counts its folder's row came with.

use std::path::Path;

use rusqlite::types::ValueRef;
use tokio_postgres::types::ToSql;

use super::{DATA_TABLES, PgStore};
use crate::{BlobStore, EMBEDDED_DATABASE, FsBlobStore, StoreError};

/// Tables recomputed from the bodies after the copy, not copied.
const RECOMPUTED_TABLES: &[&str] = &["message_facts", "message_documents"];

/// Columns recomputed rather than copied (`messages.facts_id`: facts are
/// not copied).
const RECOMPUTED: &[(&str, &str)] = &[("messages", "facts_id")];

/// What a copy moved.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CopyReport {
    /// Rows copied per table, in copy order.
    pub rows: Vec<(String, u64)>,
    /// Body files copied into the target's blob store (0 when it is the
    /// same directory).
    pub blobs: u64,
}

/// A value read from SQLite, typed for the PostgreSQL column it goes to.
type Value = Box<dyn ToSql + Sync + Send>;

/// Copies the embedded store of `dir` into `target` and its blob store
/// `blobs` (which may be `dir`'s own blob directory: nothing to copy then).
pub async fn copy_embedded(
    dir: &Path,
    target: &PgStore,
    blobs: &dyn BlobStore,
    same_blob_directory: bool,
) -> Result<CopyReport, StoreError> {
    let mut client = target.client().await?;
    let tx = client.transaction().await?;
    let tables = || DATA_TABLES.iter().filter(|t| !RECOMPUTED_TABLES.contains(t));
    for table in tables() {
        let occupied: bool = tx.query_one(&format!("SELECT EXISTS (SELECT 1 FROM {table})"), &[]).await?.get(0);
        if occupied {
            let why = format!("the target database is not empty ({table}): a copy goes into a new database");
            return Err(StoreError::Invalid(why));
        }
    }
    let mut report = CopyReport::default();
    if !same_blob_directory {
        let source = FsBlobStore::open(&dir.join("blobs")).await?;
        for hash in source.list().await? {
            let body = source.get(&hash).await?.ok_or_else(|| StoreError::NotFound(format!("blob {hash}")))?;
            blobs.put(body.into()).await?;
            report.blobs += 1;
        }
    }
    let source = rusqlite::Connection::open_with_flags(
        dir.join(EMBEDDED_DATABASE),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    // One read transaction: every table as of the same moment.
    source.execute_batch("BEGIN")?;
    for table in tables() {
        let columns = target_columns(&tx, table).await?;
        let names: Vec<&str> = columns.iter().map(|(name, _)| name.as_str()).collect();
        let rows = read_rows(&source, table, &columns)?;
        let placeholders: Vec<String> = (1..=columns.len()).map(|i| format!("${i}")).collect();
        let insert = format!(
            "INSERT INTO {table} ({}) OVERRIDING SYSTEM VALUE VALUES ({})",
            names.join(", "),
            placeholders.join(", ")
        );
        let statement = tx.prepare(&insert).await?;
        for row in &rows {
            let params: Vec<&(dyn ToSql + Sync)> = row.iter().map(|v| v.as_ref() as &(dyn ToSql + Sync)).collect();
            tx.execute(&statement, &params).await?;
        }
        if names.contains(&"id") && columns.iter().any(|(name, kind)| name == "id" && kind == "bigint") {
            // The next id given is past every copied one.
            tx.execute(
                &format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE(MAX(id), 0) + 1, false) \
                     FROM {table}"
                ),
                &[],
            )
            .await?;
        }
        report.rows.push((table.to_string(), rows.len() as u64));
    }
    tx.execute(crate::maintenance::RECOUNT_FOLDERS, &[]).await?;
    tx.commit().await?;
    Ok(report)
}

/// The columns of `table` in PostgreSQL, with their types, but those
/// recomputed.
async fn target_columns(
    tx: &deadpool_postgres::Transaction<'_>,
    table: &str,
) -> Result<Vec<(String, String)>, StoreError> {
    let rows = tx
        .query(
            "SELECT column_name::TEXT, data_type::TEXT FROM information_schema.columns
             WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
            &[&table],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| (r.get::<_, String>(0), r.get::<_, String>(1)))
        .filter(|(name, _)| !RECOMPUTED.contains(&(table, name.as_str())))
        .collect())
}

/// Where the rows of `table` are read in SQLite: the table of that name,
/// but for the small bodies, which SQLite keeps under their facts when they
/// have some (migration 0034) and PostgreSQL by hash.
fn source_of(table: &str) -> String {
    match table {
        "inline_blobs" => format!("({}) AS inline_blobs", crate::sqlite::EVERY_BODY),
        _ => table.to_string(),
    }
}

/// Every row of `table` in SQLite, its values typed for PostgreSQL.
fn read_rows(
    source: &rusqlite::Connection,
    table: &str,
    columns: &[(String, String)],
) -> Result<Vec<Vec<Value>>, StoreError> {
    let names: Vec<&str> = columns.iter().map(|(name, _)| name.as_str()).collect();
    let mut statement = source.prepare(&format!("SELECT {} FROM {}", names.join(", "), source_of(table)))?;
    let mut rows = statement.query([])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let mut values = Vec::with_capacity(columns.len());
        for (i, (name, kind)) in columns.iter().enumerate() {
            values.push(convert(row.get_ref(i)?, kind).map_err(|e| {
                StoreError::Corrupt(format!("{table}.{name}: {e} (the copy stops; nothing was written)"))
            })?);
        }
        out.push(values);
    }
    Ok(out)
}

/// One SQLite value as the PostgreSQL column type `kind` takes it.
fn convert(value: ValueRef<'_>, kind: &str) -> Result<Value, String> {
    Ok(match (kind, value) {
        ("bigint", ValueRef::Null) => Box::new(None::<i64>),
        ("bigint", ValueRef::Integer(i)) => Box::new(i),
        ("integer", ValueRef::Null) => Box::new(None::<i32>),
        ("integer", ValueRef::Integer(i)) => Box::new(i32::try_from(i).map_err(|e| e.to_string())?),
        ("boolean", ValueRef::Null) => Box::new(None::<bool>),
        ("boolean", ValueRef::Integer(i)) => Box::new(i != 0),
        ("text", ValueRef::Null) => Box::new(None::<String>),
        ("text", ValueRef::Text(t)) => Box::new(String::from_utf8(t.to_vec()).map_err(|e| e.to_string())?),
        ("bytea", ValueRef::Null) => Box::new(None::<Vec<u8>>),
        ("bytea", ValueRef::Blob(b)) => Box::new(b.to_vec()),
        (kind, value) => return Err(format!("a {:?} value where PostgreSQL takes {kind}", value.data_type())),
    })
}
