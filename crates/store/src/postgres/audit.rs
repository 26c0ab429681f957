//! [`AuditStore`] on PostgreSQL.

use async_trait::async_trait;

use super::PgStore;
use crate::StoreError;
use crate::audit::*;

#[async_trait]
impl AuditStore for PgStore {
    async fn append_audit(&self, entries: &[NewAuditEntry]) -> Result<(), StoreError> {
        todo!("postgres")
    }

    async fn audit_entries(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError> {
        todo!("postgres")
    }

    async fn verify_audit(&self) -> Result<AuditVerdict, StoreError> {
        todo!("postgres")
    }

    async fn purge_audit(&self, before: i64) -> Result<u64, StoreError> {
        todo!("postgres")
    }
}
