//! [`LoginFlowStore`] on SQLite (migration 0022).

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};

use super::SqliteStore;
use crate::login_flows::{check_flow, could_be_kept};
use crate::{LoginFlowStore, StoreError};

#[async_trait]
impl LoginFlowStore for SqliteStore {
    async fn begin_login_flow(
        &self,
        kind: &str,
        key: &str,
        secret: &str,
        now: i64,
        expires_at: i64,
        max: usize,
    ) -> Result<bool, StoreError> {
        check_flow(&[kind, key, secret])?;
        let (kind, key, secret) = (kind.to_string(), key.to_string(), secret.to_string());
        self.write(move |tx| {
            tx.prepare_cached("DELETE FROM login_flows WHERE kind = ?1 AND expires_at <= ?2")?
                .execute(params![kind, now])?;
            let pending: i64 = tx
                .prepare_cached("SELECT count(*) FROM login_flows WHERE kind = ?1")?
                .query_row(params![kind], |r| r.get(0))?;
            if pending as usize >= max {
                return Ok(false);
            }
            let added = tx
                .prepare_cached(
                    "INSERT INTO login_flows (kind, key, secret, expires_at) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT DO NOTHING",
                )?
                .execute(params![kind, key, secret, expires_at])?;
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
