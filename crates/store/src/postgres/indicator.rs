//! [`IndicatorStore`] on PostgreSQL.

use async_trait::async_trait;

use super::PgStore;
use crate::{
    Declared, IndicatorStore, OUTSIDE_CONVERSATIONS, PatientExchange, StoreError, StoredDispensation, now_unix,
};

#[async_trait]
impl IndicatorStore for PgStore {
    async fn put_dispensations(&self, dispensations: &[StoredDispensation]) -> Result<Declared, StoreError> {
        todo!("postgres")
    }

    async fn dispensations(&self, finess: &str, from: i64, to: i64) -> Result<Vec<StoredDispensation>, StoreError> {
        todo!("postgres")
    }

    async fn link_dispensation(&self, finess: &str, id: &str, message_id: &str, at: i64) -> Result<bool, StoreError> {
        todo!("postgres")
    }

    async fn dispensation_links(&self, finess: &str) -> Result<Vec<(String, i64)>, StoreError> {
        todo!("postgres")
    }

    async fn dispensations_linked_to(&self, finess: &str, message_id: &str) -> Result<Vec<String>, StoreError> {
        todo!("postgres")
    }

    async fn patient_exchanges(&self, finess: &str, from: i64, to: i64) -> Result<Vec<PatientExchange>, StoreError> {
        todo!("postgres")
    }
}
