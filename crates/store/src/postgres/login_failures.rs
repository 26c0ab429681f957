//! [`LoginFailureStore`] on PostgreSQL (migration 0003). Counting is one
//! upsert per key: nodes counting the same key at once each add their one.

use async_trait::async_trait;

use super::PgStore;
use crate::login_failures::check_keys;
use crate::{LoginFailureStore, LoginFailures, StoreError};

#[async_trait]
impl LoginFailureStore for PgStore {
    async fn login_failures(&self, keys: &[String], since: i64) -> Result<Vec<LoginFailures>, StoreError> {
        check_keys(keys)?;
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(
                "SELECT key, failures, last_failure FROM login_failures
                 WHERE key = ANY($1) AND last_failure >= $2 ORDER BY key",
            )
            .await?;
        let rows = client.query(&stmt, &[&keys, &since]).await?;
        rows.iter()
            .map(|r| {
                let count: i32 = r.try_get(1)?;
                Ok(LoginFailures { key: r.try_get(0)?, count: count.max(0) as u32, last: r.try_get(2)? })
            })
            .collect()
    }

    async fn add_login_failure(&self, keys: &[String], now: i64, since: i64) -> Result<(), StoreError> {
        check_keys(keys)?;
        let mut keys = keys.to_vec();
        // One order for every node: two nodes never wait on each other's rows.
        keys.sort();
        keys.dedup();
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(
                "INSERT INTO login_failures (key, failures, last_failure) SELECT k, 1, $2 FROM unnest($1::TEXT[]) AS k
                 ON CONFLICT (key) DO UPDATE SET
                     failures = CASE WHEN login_failures.last_failure < $3 THEN 1
                                     ELSE LEAST(login_failures.failures + 1, 1000000) END,
                     last_failure = GREATEST(login_failures.last_failure, excluded.last_failure)",
            )
            .await?;
        client.execute(&stmt, &[&keys, &now, &since]).await?;
        Ok(())
    }

    async fn clear_login_failures(&self, keys: &[String]) -> Result<(), StoreError> {
        check_keys(keys)?;
        let client = self.client().await?;
        let stmt = client.prepare_cached("DELETE FROM login_failures WHERE key = ANY($1)").await?;
        client.execute(&stmt, &[&keys]).await?;
        Ok(())
    }

    async fn forget_login_failures(&self, before: i64) -> Result<u64, StoreError> {
        let client = self.client().await?;
        let stmt = client.prepare_cached("DELETE FROM login_failures WHERE last_failure < $1").await?;
        Ok(client.execute(&stmt, &[&before]).await?)
    }
}
