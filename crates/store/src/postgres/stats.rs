//! [`StatsStore`] on PostgreSQL.

use async_trait::async_trait;

use super::PgStore;
use crate::{SENT, StatsStore, StoreError, Usage};

#[async_trait]
impl StatsStore for PgStore {
    async fn usage(&self, from: i64, to: i64) -> Result<Usage, StoreError> {
        todo!("postgres")
    }
}
