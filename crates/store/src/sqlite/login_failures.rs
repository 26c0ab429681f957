//! [`LoginFailureStore`] on SQLite (migration 0021).

use async_trait::async_trait;
use rusqlite::params;

use super::SqliteStore;
use crate::login_failures::check_keys;
use crate::{LoginFailureStore, LoginFailures, StoreError};

#[async_trait]
impl LoginFailureStore for SqliteStore {
    async fn login_failures(&self, keys: &[String], since: i64) -> Result<Vec<LoginFailures>, StoreError> {
        check_keys(keys)?;
        let keys = keys.to_vec();
        self.read(move |conn| {
            let mut statement = conn.prepare_cached(
                "SELECT key, failures, last_failure FROM login_failures WHERE key = ?1 AND last_failure >= ?2",
            )?;
            let mut found = Vec::new();
            for key in &keys {
                let rows = statement.query_map(params![key, since], |r| {
                    Ok(LoginFailures { key: r.get(0)?, count: r.get(1)?, last: r.get(2)? })
                })?;
                for row in rows {
                    found.push(row?);
                }
            }
            Ok(found)
        })
        .await
    }

    async fn add_login_failure(&self, keys: &[String], now: i64, since: i64) -> Result<(), StoreError> {
        check_keys(keys)?;
        let keys = keys.to_vec();
        self.write(move |tx| {
            let mut statement = tx.prepare_cached(
                "INSERT INTO login_failures (key, failures, last_failure) VALUES (?1, 1, ?2)
                 ON CONFLICT (key) DO UPDATE SET
                     failures = CASE WHEN last_failure < ?3 THEN 1 ELSE min(failures + 1, 1000000) END,
                     last_failure = max(last_failure, excluded.last_failure)",
            )?;
            for key in &keys {
                statement.execute(params![key, now, since])?;
            }
            Ok(())
        })
        .await
    }

    async fn clear_login_failures(&self, keys: &[String]) -> Result<(), StoreError> {
        check_keys(keys)?;
        let keys = keys.to_vec();
        self.write(move |tx| {
            let mut statement = tx.prepare_cached("DELETE FROM login_failures WHERE key = ?1")?;
            for key in &keys {
                statement.execute(params![key])?;
            }
            Ok(())
        })
        .await
    }

    async fn forget_login_failures(&self, before: i64) -> Result<u64, StoreError> {
        self.write(move |tx| {
            let removed =
                tx.prepare_cached("DELETE FROM login_failures WHERE last_failure < ?1")?.execute(params![before])?;
            Ok(removed as u64)
        })
        .await
    }
}
