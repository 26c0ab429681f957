//! [`LeaseStore`] on PostgreSQL (migration 0002). Taking is one statement:
//! at READ COMMITTED, an `INSERT … ON CONFLICT DO UPDATE` that meets a row
//! another transaction is writing waits for it, then re-checks its `WHERE`
//! on the row as committed, so of nodes racing for a free lease exactly one
//! gets a row back.

use async_trait::async_trait;

use super::PgStore;
use crate::leases::check_lease_terms;
use crate::{LeaseStore, StoreError};

#[async_trait]
impl LeaseStore for PgStore {
    async fn take_lease(&self, name: &str, holder: &str, now: i64, until: i64) -> Result<bool, StoreError> {
        check_lease_terms(name, holder, now, until)?;
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(
                "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3)
                 ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
                 WHERE leases.expires_at <= $4 OR leases.holder = excluded.holder
                 RETURNING holder",
            )
            .await?;
        Ok(client.query_opt(&stmt, &[&name, &holder, &until, &now]).await?.is_some())
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        let client = self.client().await?;
        let stmt = client.prepare_cached("DELETE FROM leases WHERE name = $1 AND holder = $2").await?;
        client.execute(&stmt, &[&name, &holder]).await?;
        Ok(())
    }
}
