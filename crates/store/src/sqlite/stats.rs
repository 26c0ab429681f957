//! [`StatsStore`] on SQLite: aggregates over mailboxes, delivery states,
//! the audit trail and the Sent folders' facts.

use async_trait::async_trait;
use rusqlite::{Connection, params};

use super::SqliteStore;
use crate::{SENT, StatsStore, StoreError, Usage};

fn count(conn: &Connection, sql: &str, from: i64, to: i64) -> Result<u64, StoreError> {
    let n: i64 = conn.prepare_cached(sql)?.query_row(params![from, to], |r| r.get(0))?;
    Ok(n.max(0) as u64)
}

fn usage(conn: &Connection, from: i64, to: i64) -> Result<Usage, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT kind, state, COUNT(*) FROM mailboxes GROUP BY kind, state ORDER BY kind, state")?;
    let mailboxes = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)?.max(0) as u64)))?
        .collect::<Result<_, _>>()?;
    let patient = "'%@patient.mssante.fr'";
    let sent = |status: &str, extra: &str| {
        format!(
            "SELECT COUNT(*) FROM delivery_status WHERE status = '{status}' {extra} AND updated_at >= ?1 AND updated_at < ?2"
        )
    };
    let received = |extra: &str| {
        format!(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'smtp.receive' AND result = 'ok' {extra} AND at >= ?1 AND at < ?2"
        )
    };
    let mut stmt = conn.prepare_cached(
        "SELECT CASE action WHEN 'session.login' THEN substr(detail, 8) ELSE substr(action, 1, instr(action, '.') - 1) END,
                COUNT(*)
         FROM audit_log
         WHERE action IN ('session.login', 'imap.login', 'smtp.login') AND result = 'ok' AND at >= ?1 AND at < ?2
         GROUP BY 1 ORDER BY 1",
    )?;
    let logins = stmt
        .query_map(params![from, to], |r| Ok((r.get(0)?, r.get::<_, i64>(1)?.max(0) as u64)))?
        .collect::<Result<_, _>>()?;
    Ok(Usage {
        mailboxes,
        mailboxes_created: count(
            conn,
            "SELECT COUNT(*) FROM mailboxes WHERE created_at >= ?1 AND created_at < ?2",
            from,
            to,
        )?,
        mailboxes_closed: count(
            conn,
            "SELECT COUNT(*) FROM mailboxes WHERE state = 'deleted' AND updated_at >= ?1 AND updated_at < ?2",
            from,
            to,
        )?,
        sent_inside: count(conn, &sent("delivered", ""), from, to)?,
        sent_to_operators: count(conn, &sent("accepted", &format!("AND recipient NOT LIKE {patient}")), from, to)?,
        sent_to_patients: count(conn, &sent("accepted", &format!("AND recipient LIKE {patient}")), from, to)?,
        sent_failed: count(conn, &sent("failed", ""), from, to)?,
        received_from_operators: count(conn, &received(&format!("AND target NOT LIKE {patient}")), from, to)?,
        received_from_patients: count(conn, &received(&format!("AND target LIKE {patient}")), from, to)?,
        documents_sent: count(
            conn,
            &format!(
                "SELECT COUNT(DISTINCT m.id) FROM folders f
                 JOIN folder_messages fm ON fm.folder_id = f.id
                 JOIN messages m ON m.id = fm.message_id
                 JOIN message_facts mf ON mf.id = m.facts_id
                 WHERE f.name = '{SENT}' AND mf.xdm = 1 AND m.received_at >= ?1 AND m.received_at < ?2"
            ),
            from,
            to,
        )?,
        logins,
    })
}

#[async_trait]
impl StatsStore for SqliteStore {
    async fn usage(&self, from: i64, to: i64) -> Result<Usage, StoreError> {
        self.read(move |conn| usage(conn, from, to)).await
    }
}
