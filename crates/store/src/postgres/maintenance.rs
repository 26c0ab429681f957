//! [`MaintenanceStore`] on PostgreSQL.

use async_trait::async_trait;

use super::PgStore;
use crate::{MaintenanceStore, StoreError};

#[async_trait]
impl MaintenanceStore for PgStore {
    async fn check_metadata(&self) -> Result<Vec<String>, StoreError> {
        todo!("postgres")
    }

    async fn snapshot_to(&self, path: &std::path::Path) -> Result<(), StoreError> {
        todo!("postgres")
    }
}
