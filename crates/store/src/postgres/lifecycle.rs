//! [`LifecycleStore`] on PostgreSQL.

use async_trait::async_trait;

use super::PgStore;
use crate::lifecycle::*;
use crate::{Mailbox, MailboxId, StoreError, now_unix};
use mss_core::{MailboxState, NationalId, Role};

#[async_trait]
impl LifecycleStore for PgStore {
    async fn request_mailbox(&self, request: &MailboxRequest) -> Result<Mailbox, StoreError> {
        todo!("postgres")
    }

    async fn mailbox_by_id(&self, id: MailboxId) -> Result<Option<Mailbox>, StoreError> {
        todo!("postgres")
    }

    async fn change_state(
        &self,
        id: MailboxId,
        from: MailboxState,
        to: MailboxState,
        reason: Option<&str>,
    ) -> Result<bool, StoreError> {
        todo!("postgres")
    }

    async fn due_validations(&self, now: i64) -> Result<Vec<Mailbox>, StoreError> {
        todo!("postgres")
    }

    async fn postpone_validation(&self, id: MailboxId, due_at: i64) -> Result<(), StoreError> {
        todo!("postgres")
    }

    async fn set_role(
        &self,
        mailbox: MailboxId,
        national_id: &NationalId,
        role: Option<Role>,
    ) -> Result<(), StoreError> {
        todo!("postgres")
    }

    async fn cgu_acceptances(&self, mailbox: MailboxId) -> Result<Vec<CguAcceptance>, StoreError> {
        todo!("postgres")
    }

    async fn purge_deleted(&self, before: i64) -> Result<Vec<String>, StoreError> {
        todo!("postgres")
    }

    async fn create_session(&self, session: &Session) -> Result<(), StoreError> {
        todo!("postgres")
    }

    async fn session(&self, id: &str) -> Result<Option<Session>, StoreError> {
        todo!("postgres")
    }

    async fn rotate_refresh(&self, id: &str, old_hash: &str, new_hash: &str, now: i64) -> Result<bool, StoreError> {
        todo!("postgres")
    }

    async fn revoke_session(&self, id: &str, now: i64) -> Result<(), StoreError> {
        todo!("postgres")
    }

    async fn revoke_sessions_of(&self, national_id: &NationalId, now: i64) -> Result<u64, StoreError> {
        todo!("postgres")
    }
}
