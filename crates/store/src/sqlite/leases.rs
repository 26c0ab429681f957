//! [`LeaseStore`] on SQLite (migration 0020). One writer at a time: the
//! upsert runs in the write transaction, atomic by construction.

use async_trait::async_trait;
use rusqlite::params;

use super::SqliteStore;
use crate::leases::check_lease_terms;
use crate::{LeaseStore, StoreError};

#[async_trait]
impl LeaseStore for SqliteStore {
    async fn take_lease(&self, name: &str, holder: &str, now: i64, until: i64) -> Result<bool, StoreError> {
        check_lease_terms(name, holder, now, until)?;
        let (name, holder) = (name.to_string(), holder.to_string());
        self.write(move |tx| {
            // A conflicting row the WHERE keeps is left as it is: no change.
            let changed = tx
                .prepare_cached(
                    "INSERT INTO leases (name, holder, expires_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
                     WHERE leases.expires_at <= ?4 OR leases.holder = excluded.holder",
                )?
                .execute(params![name, holder, until, now])?;
            Ok(changed == 1)
        })
        .await
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        let (name, holder) = (name.to_string(), holder.to_string());
        self.write(move |tx| {
            tx.prepare_cached("DELETE FROM leases WHERE name = ?1 AND holder = ?2")?.execute(params![name, holder])?;
            Ok(())
        })
        .await
    }
}
