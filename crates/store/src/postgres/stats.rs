//! [`StatsStore`] on PostgreSQL: aggregates over mailboxes, delivery states,
//! the audit trail and the Sent folders' facts.

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use tokio_postgres::IsolationLevel;

use super::PgStore;
use crate::{SENT, StatsStore, StoreError, Usage};

/// A count of `sql`, whose parameters are the period's bounds.
async fn count(client: &impl GenericClient, sql: &str, from: i64, to: i64) -> Result<u64, StoreError> {
    let stmt = client.prepare_cached(sql).await?;
    let n: i64 = client.query_one(&stmt, &[&from, &to]).await?.try_get(0)?;
    Ok(u64::try_from(n).unwrap_or(0))
}

async fn usage(client: &impl GenericClient, from: i64, to: i64) -> Result<Usage, StoreError> {
    let stmt = client
        .prepare_cached(
            "SELECT kind, state, COUNT(*) FROM mailboxes GROUP BY kind, state ORDER BY kind COLLATE \"C\", state COLLATE \"C\"",
        )
        .await?;
    let mailboxes = client
        .query(&stmt, &[])
        .await?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, u64::try_from(r.try_get::<_, i64>(2)?).unwrap_or(0))))
        .collect::<Result<_, StoreError>>()?;
    // SQLite's LIKE ignores the case of ASCII letters: ILIKE here.
    let patient = "'%@patient.mssante.fr'";
    let sent = |status: &str, extra: &str| {
        format!(
            "SELECT COUNT(*) FROM delivery_status WHERE status = '{status}' {extra} AND updated_at >= $1 AND updated_at < $2"
        )
    };
    let received = |extra: &str| {
        format!(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'smtp.receive' AND result = 'ok' {extra} AND at >= $1 AND at < $2"
        )
    };
    let stmt = client
        .prepare_cached(
            "SELECT method, COUNT(*)
             FROM (SELECT CASE action WHEN 'session.login' THEN substr(detail, 8)
                                      ELSE substr(action, 1, strpos(action, '.') - 1) END AS method
                   FROM audit_log
                   WHERE action IN ('session.login', 'imap.login', 'smtp.login') AND result = 'ok'
                     AND at >= $1 AND at < $2) AS logins
             GROUP BY method ORDER BY method COLLATE \"C\"",
        )
        .await?;
    let logins = client
        .query(&stmt, &[&from, &to])
        .await?
        .iter()
        .map(|r| Ok((r.try_get(0)?, u64::try_from(r.try_get::<_, i64>(1)?).unwrap_or(0))))
        .collect::<Result<_, StoreError>>()?;
    Ok(Usage {
        mailboxes,
        mailboxes_created: count(
            client,
            "SELECT COUNT(*) FROM mailboxes WHERE created_at >= $1 AND created_at < $2",
            from,
            to,
        )
        .await?,
        mailboxes_closed: count(
            client,
            "SELECT COUNT(*) FROM mailboxes WHERE state = 'deleted' AND updated_at >= $1 AND updated_at < $2",
            from,
            to,
        )
        .await?,
        sent_inside: count(client, &sent("delivered", ""), from, to).await?,
        sent_to_operators: count(client, &sent("accepted", &format!("AND recipient NOT ILIKE {patient}")), from, to)
            .await?,
        sent_to_patients: count(client, &sent("accepted", &format!("AND recipient ILIKE {patient}")), from, to).await?,
        sent_failed: count(client, &sent("failed", ""), from, to).await?,
        received_from_operators: count(client, &received(&format!("AND target NOT ILIKE {patient}")), from, to).await?,
        received_from_patients: count(client, &received(&format!("AND target ILIKE {patient}")), from, to).await?,
        documents_sent: count(
            client,
            &format!(
                "SELECT COUNT(DISTINCT m.id) FROM folders f
                 JOIN folder_messages fm ON fm.folder_id = f.id
                 JOIN messages m ON m.id = fm.message_id
                 JOIN message_facts mf ON mf.id = m.facts_id
                 WHERE f.name = '{SENT}' AND mf.xdm AND m.received_at >= $1 AND m.received_at < $2"
            ),
            from,
            to,
        )
        .await?,
        logins,
    })
}

#[async_trait]
impl StatsStore for PgStore {
    async fn usage(&self, from: i64, to: i64) -> Result<Usage, StoreError> {
        let mut client = self.client().await?;
        // One snapshot for every count.
        let tx =
            client.build_transaction().isolation_level(IsolationLevel::RepeatableRead).read_only(true).start().await?;
        let usage = usage(&tx, from, to).await?;
        tx.commit().await?;
        Ok(usage)
    }
}
