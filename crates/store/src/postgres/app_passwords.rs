//! [`AppPasswordStore`] on PostgreSQL.

use async_trait::async_trait;

use super::PgStore;
use crate::{AppPassword, AppPasswordStore, MailboxId, NewAppPassword, Scope, StoreError};
use mss_core::NationalId;

#[async_trait]
impl AppPasswordStore for PgStore {
    async fn create_app_password(&self, new: &NewAppPassword) -> Result<i64, StoreError> {
        todo!("postgres")
    }

    async fn app_password_by_hash(&self, hash: &str) -> Result<Option<AppPassword>, StoreError> {
        todo!("postgres")
    }

    async fn app_password(&self, id: i64) -> Result<Option<AppPassword>, StoreError> {
        todo!("postgres")
    }

    async fn app_passwords(&self, mailbox: MailboxId, person: &NationalId) -> Result<Vec<AppPassword>, StoreError> {
        todo!("postgres")
    }

    async fn revoke_app_password(
        &self,
        id: i64,
        mailbox: MailboxId,
        person: &NationalId,
        at: i64,
    ) -> Result<bool, StoreError> {
        todo!("postgres")
    }

    async fn revoke_app_passwords_of(&self, person: &NationalId, at: i64) -> Result<usize, StoreError> {
        todo!("postgres")
    }

    async fn app_password_used(&self, id: i64, at: i64) -> Result<(), StoreError> {
        todo!("postgres")
    }
}
