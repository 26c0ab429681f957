//! [`AccountLinkStore`] on PostgreSQL.

use async_trait::async_trait;

use super::PgStore;
use crate::{AccountLink, AccountLinkStore, StoreError};
use mss_core::NationalId;

#[async_trait]
impl AccountLinkStore for PgStore {
    async fn link_account(&self, link: &AccountLink) -> Result<(), StoreError> {
        todo!("postgres")
    }

    async fn account_link(&self, issuer: &str, subject: &str) -> Result<Option<AccountLink>, StoreError> {
        todo!("postgres")
    }

    async fn linked_account(&self, issuer: &str, person: &NationalId) -> Result<Option<AccountLink>, StoreError> {
        todo!("postgres")
    }

    async fn unlink_account(&self, issuer: &str, person: &NationalId) -> Result<bool, StoreError> {
        todo!("postgres")
    }
}
