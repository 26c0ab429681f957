//! Versioned schema migrations for PostgreSQL, applied in order at open.
//!
//! All pending migrations run in one transaction that first takes an
//! advisory lock: nodes starting together wait for the first one, then find
//! the schema current. DDL is transactional in PostgreSQL, so a crash leaves
//! the schema at the old version or the new. Never edit a released
//! migration: add the next one.

use deadpool_postgres::Client;

use crate::StoreError;

/// (version, name, SQL), in order. Versions are consecutive from 1.
pub(crate) const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "initial", include_str!("../../migrations/postgres/0001_initial.sql")),
    (2, "leases", include_str!("../../migrations/postgres/0002_leases.sql")),
    (3, "login_failures", include_str!("../../migrations/postgres/0003_login_failures.sql")),
    (4, "login_flows", include_str!("../../migrations/postgres/0004_login_flows.sql")),
    (5, "imap_sort_keys", include_str!("../../migrations/postgres/0005_imap_sort_keys.sql")),
    (6, "login_flow_clients", include_str!("../../migrations/postgres/0006_login_flow_clients.sql")),
    (7, "unused_facts_indexes", include_str!("../../migrations/postgres/0007_unused_facts_indexes.sql")),
    (8, "folder_counts", include_str!("../../migrations/postgres/0008_folder_counts.sql")),
    (
        9,
        "sort_keys_indexed_once_sorted",
        include_str!("../../migrations/postgres/0009_sort_keys_indexed_once_sorted.sql"),
    ),
];

/// The advisory lock key of schema changes ("mss schema" in ASCII).
const MIGRATION_LOCK: i64 = 0x6d73_7320_7363_6865;

/// The version of the database `client` is connected to, read only (0:
/// none of its migrations applied).
pub(crate) async fn version_of(client: &tokio_postgres::Client) -> Result<i64, StoreError> {
    let exists: bool = client.query_one("SELECT to_regclass('schema_migrations') IS NOT NULL", &[]).await?.get(0);
    if !exists {
        return Ok(0);
    }
    Ok(client.query_one("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", &[]).await?.get(0))
}

/// Brings the database to the latest version; returns the version reached.
pub(crate) async fn apply(client: &mut Client) -> Result<i64, StoreError> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version    BIGINT PRIMARY KEY,
            name       TEXT   NOT NULL,
            applied_at BIGINT NOT NULL
        )",
    )
    .await?;
    let known = MIGRATIONS.last().map_or(0, |m| m.0);
    let current: i64 = tx.query_one("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", &[]).await?.get(0);
    if current > known {
        return Err(StoreError::SchemaTooNew { found: current, known });
    }
    for &(version, name, sql) in MIGRATIONS.iter().filter(|m| m.0 > current) {
        tx.batch_execute(sql).await?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
            &[&version, &name, &crate::now_unix()],
        )
        .await?;
        tracing::info!(version, name, "applied schema migration");
    }
    tx.commit().await?;
    Ok(known)
}
