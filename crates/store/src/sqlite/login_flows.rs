//! [`LoginFlowStore`] on SQLite (migration 0022).

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};

use super::SqliteStore;
use crate::login_flows::{FlowLimits, NewLoginFlow, check_flow, could_be_kept};
use crate::{LoginFlowStore, StoreError};

#[async_trait]
impl LoginFlowStore for SqliteStore {
    async fn begin_login_flow(&self, flow: &NewLoginFlow<'_>, limits: FlowLimits) -> Result<bool, StoreError> {
        check_flow(&[flow.kind, flow.key, flow.secret, flow.client])?;
        let (kind, key, secret, client) =
            (flow.kind.to_string(), flow.key.to_string(), flow.secret.to_string(), flow.client.to_string());
        let (now, expires_at) = (flow.now, flow.expires_at);
        self.write(move |tx| {
            tx.prepare_cached("DELETE FROM login_flows WHERE kind = ?1 AND expires_at <= ?2")?
                .execute(params![kind, now])?;
            // The client's oldest beyond its share, then the kind's bound.
            tx.prepare_cached(
                "DELETE FROM login_flows WHERE kind = ?1 AND key IN (
                     SELECT key FROM login_flows WHERE kind = ?1 AND client = ?2
                     ORDER BY turn DESC LIMIT -1 OFFSET ?3)",
            )?
            .execute(params![kind, client, limits.per_client.saturating_sub(1) as i64])?;
            let pending: i64 = tx
                .prepare_cached("SELECT count(*) FROM login_flows WHERE kind = ?1")?
                .query_row(params![kind], |r| r.get(0))?;
            if pending as usize >= limits.total {
                return Ok(false);
            }
            let added = tx
                .prepare_cached(
                    "INSERT INTO login_flows (kind, key, secret, client, expires_at, turn)
                     SELECT ?1, ?2, ?3, ?4, ?5, coalesce(max(turn), 0) + 1
                     FROM login_flows WHERE kind = ?1 AND client = ?4
                     ON CONFLICT DO NOTHING",
                )?
                .execute(params![kind, key, secret, client, expires_at])?;
            Ok(added == 1)
        })
        .await
    }

    async fn take_login_flow(&self, kind: &str, key: &str, now: i64) -> Result<Option<String>, StoreError> {
        if !could_be_kept(&[kind, key]) {
            return Ok(None);
        }
        let (kind, key) = (kind.to_string(), key.to_string());
        self.write(move |tx| {
            let taken: Option<(String, i64)> = tx
                .prepare_cached("DELETE FROM login_flows WHERE kind = ?1 AND key = ?2 RETURNING secret, expires_at")?
                .query_row(params![kind, key], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            Ok(taken.filter(|(_, expires_at)| *expires_at > now).map(|(secret, _)| secret))
        })
        .await
    }
}
