//! [`AuditStore`] on PostgreSQL.
//!
//! Several nodes append to one chain: each append locks the anchor row
//! (created, empty, by the first append) before it reads the last hash, and
//! holds it until its commit, so appends and purges go one at a time and the
//! chain never forks. Ids are given by the chain, consecutive, not by the
//! column's identity (whose numbers a rolled-back append would skip).

use async_trait::async_trait;
use deadpool_postgres::{GenericClient, Transaction};
use tokio_postgres::types::ToSql;
use tokio_postgres::{IsolationLevel, Row};

use super::PgStore;
use crate::StoreError;
use crate::audit::*;

/// Entries read at a time by the verification.
const VERIFY_BATCH: i32 = 1000;

/// The anchor the chain starts from: (last purged id, its hash); (0, "")
/// before any purge.
async fn anchor(client: &impl GenericClient) -> Result<(i64, String), StoreError> {
    let row = client.query_opt("SELECT last_id, hash FROM audit_anchor WHERE single = 1", &[]).await?;
    Ok(match row {
        Some(row) => (row.try_get(0)?, row.try_get(1)?),
        None => (0, String::new()),
    })
}

/// Locks the anchor row until `tx` ends (creating it, empty, the first
/// time): whoever holds it is the only one to append or purge. Returns the
/// anchor.
async fn lock_chain(tx: &Transaction<'_>) -> Result<(i64, String), StoreError> {
    tx.execute(
        "INSERT INTO audit_anchor (single, last_id, hash) VALUES (1, 0, '') ON CONFLICT (single) DO NOTHING",
        &[],
    )
    .await?;
    let row = tx.query_one("SELECT last_id, hash FROM audit_anchor WHERE single = 1 FOR UPDATE", &[]).await?;
    Ok((row.try_get(0)?, row.try_get(1)?))
}

fn entry_row(r: &Row) -> Result<AuditEntry, StoreError> {
    Ok(AuditEntry {
        id: r.try_get(0)?,
        entry: NewAuditEntry {
            at: r.try_get(1)?,
            actor: r.try_get(2)?,
            action: r.try_get(3)?,
            target: r.try_get(4)?,
            result: r.try_get(5)?,
            detail: r.try_get(6)?,
        },
        hash: r.try_get(7)?,
    })
}

const COLUMNS: &str = "id, at, actor, action, target, result, detail, hash";

#[async_trait]
impl AuditStore for PgStore {
    async fn append_audit(&self, entries: &[NewAuditEntry]) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let anchor = lock_chain(&tx).await?;
        // Read once the lock is held: the last entry another node committed.
        let last = tx.query_opt("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1", &[]).await?;
        let (mut id, mut previous) = match last {
            Some(row) => (row.try_get(0)?, row.try_get(1)?),
            None => anchor,
        };
        let mut columns: (Vec<i64>, Vec<i64>, Vec<&str>, Vec<&str>, Vec<&str>, Vec<&str>, Vec<&str>, Vec<String>) =
            Default::default();
        for e in entries {
            id += 1;
            let hash = chain_hash(&previous, id, e);
            columns.0.push(id);
            columns.1.push(e.at);
            columns.2.push(&e.actor);
            columns.3.push(&e.action);
            columns.4.push(&e.target);
            columns.5.push(&e.result);
            columns.6.push(&e.detail);
            columns.7.push(hash.clone());
            previous = hash;
        }
        // The whole batch in one statement.
        let insert = tx
            .prepare_cached(
                "INSERT INTO audit_log (id, at, actor, action, target, result, detail, hash) OVERRIDING SYSTEM VALUE
                 SELECT * FROM unnest($1::BIGINT[], $2::BIGINT[], $3::TEXT[], $4::TEXT[], $5::TEXT[], $6::TEXT[],
                                      $7::TEXT[], $8::TEXT[])",
            )
            .await?;
        let (ids, ats, actors, actions, targets, results, details, hashes) = &columns;
        tx.execute(&insert, &[ids, ats, actors, actions, targets, results, details, hashes]).await?;
        tx.execute(
            "INSERT INTO counters (name, value) VALUES ('audit_last_id', $1)
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            &[&id],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn audit_entries(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError> {
        let mut clauses = Vec::new();
        let mut values: Vec<&(dyn ToSql + Sync)> = Vec::new();
        if !filter.targets.is_empty() {
            values.push(&filter.targets);
            clauses.push(format!("target = ANY(${})", values.len()));
        }
        if let Some(prefix) = &filter.action_prefix {
            values.push(prefix);
            clauses.push(format!("starts_with(action, ${}::TEXT)", values.len()));
        }
        if let Some(since) = &filter.since {
            values.push(since);
            clauses.push(format!("at >= ${}", values.len()));
        }
        if let Some(before) = &filter.before_id {
            values.push(before);
            clauses.push(format!("id < ${}", values.len()));
        }
        let filter_sql = if clauses.is_empty() { String::new() } else { format!("WHERE {}", clauses.join(" AND ")) };
        let limit = filter.limit.clamp(1, 10_000);
        let sql = format!("SELECT {COLUMNS} FROM audit_log {filter_sql} ORDER BY id DESC LIMIT {limit}");
        let client = self.client().await?;
        let stmt = client.prepare_cached(&sql).await?;
        client.query(&stmt, &values).await?.iter().map(entry_row).collect()
    }

    async fn verify_audit(&self) -> Result<AuditVerdict, StoreError> {
        let mut client = self.client().await?;
        // One snapshot for the anchor, the entries and the counter: a purge
        // or an append committed meanwhile is not half seen.
        let tx =
            client.build_transaction().isolation_level(IsolationLevel::RepeatableRead).read_only(true).start().await?;
        let (mut expected_id, mut previous) = anchor(&tx).await?;
        let stmt = tx.prepare(&format!("SELECT {COLUMNS} FROM audit_log ORDER BY id")).await?;
        let portal = tx.bind(&stmt, &[]).await?;
        let mut checked = 0u64;
        loop {
            let rows = tx.query_portal(&portal, VERIFY_BATCH).await?;
            if rows.is_empty() {
                break;
            }
            for row in &rows {
                let entry = entry_row(row)?;
                expected_id += 1;
                if entry.id != expected_id {
                    let reason = format!("entry {expected_id} is missing");
                    return Ok(AuditVerdict::Broken { id: entry.id, reason });
                }
                if chain_hash(&previous, entry.id, &entry.entry) != entry.hash {
                    return Ok(AuditVerdict::Broken { id: entry.id, reason: "hash does not match".into() });
                }
                previous = entry.hash;
                checked += 1;
            }
        }
        let last: Option<i64> = tx
            .query_opt("SELECT value FROM counters WHERE name = 'audit_last_id'", &[])
            .await?
            .map(|r| r.try_get(0))
            .transpose()?;
        tx.commit().await?;
        if let Some(last) = last
            && last > expected_id
        {
            return Ok(AuditVerdict::Broken {
                id: expected_id + 1,
                reason: format!("entries up to {last} are missing"),
            });
        }
        Ok(AuditVerdict::Intact { entries: checked })
    }

    async fn purge_audit(&self, before: i64) -> Result<u64, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        lock_chain(&tx).await?;
        let last =
            tx.query_opt("SELECT id, hash FROM audit_log WHERE at < $1 ORDER BY id DESC LIMIT 1", &[&before]).await?;
        let Some(last) = last else {
            return Ok(0);
        };
        let (last_id, hash): (i64, String) = (last.try_get(0)?, last.try_get(1)?);
        let removed = tx.execute("DELETE FROM audit_log WHERE id <= $1", &[&last_id]).await?;
        tx.execute("UPDATE audit_anchor SET last_id = $1, hash = $2 WHERE single = 1", &[&last_id, &hash]).await?;
        tx.commit().await?;
        Ok(removed)
    }
}
