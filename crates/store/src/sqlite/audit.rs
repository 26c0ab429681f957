//! [`AuditStore`] on SQLite.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};

use super::SqliteStore;
use crate::StoreError;
use crate::audit::*;

/// The anchor the chain starts from: (last purged id, its hash).
fn anchor(conn: &Connection) -> Result<(i64, String), StoreError> {
    Ok(conn
        .query_row("SELECT last_id, hash FROM audit_anchor WHERE single = 1", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?
        .unwrap_or((0, String::new())))
}

/// The id and hash the next entry chains to; the head counter says which
/// id was written last, so a removed tail is noticed too.
fn head(conn: &Connection) -> Result<(i64, String), StoreError> {
    let last: Option<(i64, String)> = conn
        .query_row("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    match last {
        Some(last) => Ok(last),
        None => anchor(conn),
    }
}

fn entry_row(r: &Row<'_>) -> rusqlite::Result<AuditEntry> {
    Ok(AuditEntry {
        id: r.get(0)?,
        entry: NewAuditEntry {
            at: r.get(1)?,
            actor: r.get(2)?,
            action: r.get(3)?,
            target: r.get(4)?,
            result: r.get(5)?,
            detail: r.get(6)?,
        },
        hash: r.get(7)?,
    })
}

const COLUMNS: &str = "id, at, actor, action, target, result, detail, hash";

#[async_trait]
impl AuditStore for SqliteStore {
    async fn append_audit(&self, entries: &[NewAuditEntry]) -> Result<(), StoreError> {
        let entries = entries.to_vec();
        self.write(move |tx| {
            let (mut id, mut previous) = head(tx)?;
            let mut insert = tx.prepare_cached(
                "INSERT INTO audit_log (id, at, actor, action, target, result, detail, hash)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?;
            for e in &entries {
                id += 1;
                let hash = chain_hash(&previous, id, e);
                insert.execute(params![id, e.at, e.actor, e.action, e.target, e.result, e.detail, hash])?;
                previous = hash;
            }
            tx.execute(
                "INSERT INTO counters (name, value) VALUES ('audit_last_id', ?1)
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                [id],
            )?;
            Ok(())
        })
        .await
    }

    async fn audit_entries(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError> {
        let filter = filter.clone();
        self.read(move |conn| {
            let mut clauses = Vec::new();
            let mut values: Vec<rusqlite::types::Value> = Vec::new();
            if !filter.targets.is_empty() {
                clauses.push(format!("target IN ({})", vec!["?"; filter.targets.len()].join(", ")));
                values.extend(filter.targets.iter().cloned().map(Into::into));
            }
            if let Some(prefix) = &filter.action_prefix {
                clauses.push("substr(action, 1, length(?)) = ?".into());
                values.extend([prefix.clone().into(), prefix.clone().into()]);
            }
            if let Some(since) = filter.since {
                clauses.push("at >= ?".into());
                values.push(since.into());
            }
            if let Some(before) = filter.before_id {
                clauses.push("id < ?".into());
                values.push(before.into());
            }
            let filter_sql =
                if clauses.is_empty() { String::new() } else { format!("WHERE {}", clauses.join(" AND ")) };
            let limit = filter.limit.clamp(1, 10_000);
            let sql = format!("SELECT {COLUMNS} FROM audit_log {filter_sql} ORDER BY id DESC LIMIT {limit}");
            let mut stmt = conn.prepare(&sql)?;
            let rows = stmt.query_map(params_from_iter(values), entry_row)?.collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .await
    }

    async fn verify_audit(&self) -> Result<AuditVerdict, StoreError> {
        self.read(|conn| {
            let (mut expected_id, mut previous) = anchor(conn)?;
            let mut stmt = conn.prepare(&format!("SELECT {COLUMNS} FROM audit_log ORDER BY id"))?;
            let mut rows = stmt.query([])?;
            let mut checked = 0u64;
            while let Some(row) = rows.next()? {
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
            let last: Option<i64> = conn
                .query_row("SELECT value FROM counters WHERE name = 'audit_last_id'", [], |r| r.get(0))
                .optional()?;
            if let Some(last) = last
                && last > expected_id
            {
                return Ok(AuditVerdict::Broken {
                    id: expected_id + 1,
                    reason: format!("entries up to {last} are missing"),
                });
            }
            Ok(AuditVerdict::Intact { entries: checked })
        })
        .await
    }

    async fn purge_audit(&self, before: i64) -> Result<u64, StoreError> {
        self.write(move |tx| {
            let last: Option<(i64, String)> = tx
                .query_row("SELECT id, hash FROM audit_log WHERE at < ?1 ORDER BY id DESC LIMIT 1", [before], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()?;
            let Some((last_id, hash)) = last else {
                return Ok(0);
            };
            let removed = tx.execute("DELETE FROM audit_log WHERE id <= ?1", [last_id])?;
            tx.execute(
                "INSERT INTO audit_anchor (single, last_id, hash) VALUES (1, ?1, ?2)
                 ON CONFLICT (single) DO UPDATE SET last_id = excluded.last_id, hash = excluded.hash",
                params![last_id, hash],
            )?;
            Ok(removed as u64)
        })
        .await
    }
}
