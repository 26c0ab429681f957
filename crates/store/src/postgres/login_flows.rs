//! [`LoginFlowStore`] on PostgreSQL (migration 0004). Taking is one
//! `DELETE … RETURNING`: of two nodes handed the same return, one gets it.

use async_trait::async_trait;

use super::PgStore;
use crate::login_flows::{FlowLimits, NewLoginFlow, check_flow, could_be_kept};
use crate::{LoginFlowStore, StoreError};

#[async_trait]
impl LoginFlowStore for PgStore {
    async fn begin_login_flow(&self, flow: &NewLoginFlow<'_>, limits: FlowLimits) -> Result<bool, StoreError> {
        check_flow(&[flow.kind, flow.key, flow.secret, flow.client])?;
        let NewLoginFlow { kind, key, secret, client, now, expires_at } = *flow;
        let mut client_conn = self.client().await?;
        let tx = client_conn.transaction().await?;
        tx.execute("DELETE FROM login_flows WHERE kind = $1 AND expires_at <= $2", &[&kind, &now]).await?;
        // The client's oldest beyond its share, then the kind's bound.
        let keep = limits.per_client.saturating_sub(1) as i64;
        tx.execute(
            "DELETE FROM login_flows WHERE kind = $1 AND key IN (
                 SELECT key FROM login_flows WHERE kind = $1 AND client = $2
                 ORDER BY turn DESC OFFSET $3)",
            &[&kind, &client, &keep],
        )
        .await?;
        let pending: i64 = tx.query_one("SELECT count(*) FROM login_flows WHERE kind = $1", &[&kind]).await?.get(0);
        if pending as usize >= limits.total {
            return Ok(false);
        }
        let added = tx
            .execute(
                "INSERT INTO login_flows (kind, key, secret, client, expires_at, turn)
                 SELECT $1, $2, $3, $4, $5, coalesce(max(turn), 0) + 1
                 FROM login_flows WHERE kind = $1 AND client = $4
                 ON CONFLICT DO NOTHING",
                &[&kind, &key, &secret, &client, &expires_at],
            )
            .await?;
        tx.commit().await?;
        Ok(added == 1)
    }

    async fn take_login_flow(&self, kind: &str, key: &str, now: i64) -> Result<Option<String>, StoreError> {
        if !could_be_kept(&[kind, key]) {
            return Ok(None);
        }
        let client = self.client().await?;
        let stmt = client
            .prepare_cached("DELETE FROM login_flows WHERE kind = $1 AND key = $2 RETURNING secret, expires_at")
            .await?;
        let taken = client.query_opt(&stmt, &[&kind, &key]).await?;
        Ok(taken.filter(|row| row.get::<_, i64>(1) > now).map(|row| row.get(0)))
    }
}
