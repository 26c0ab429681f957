//! [`PublicationStore`] on PostgreSQL.

use async_trait::async_trait;

use super::PgStore;
use crate::publication::*;
use crate::{Mailbox, MailboxId, NewMailbox, StoreError, now_unix};
use mss_core::MailboxState;

#[async_trait]
impl PublicationStore for PgStore {
    async fn create_published_mailbox(&self, new: &NewMailbox) -> Result<Mailbox, StoreError> {
        todo!("postgres")
    }

    async fn change_state_published(
        &self,
        id: MailboxId,
        from: MailboxState,
        to: MailboxState,
        reason: Option<&str>,
        publication: Option<NewPublication>,
    ) -> Result<bool, StoreError> {
        todo!("postgres")
    }

    async fn set_liste_rouge(&self, id: MailboxId, liste_rouge: bool) -> Result<bool, StoreError> {
        todo!("postgres")
    }

    async fn due_publications(&self, now: i64, limit: usize) -> Result<Vec<Publication>, StoreError> {
        todo!("postgres")
    }

    async fn record_publication(
        &self,
        id: PublicationId,
        outcome: &PublicationOutcome,
        now: i64,
    ) -> Result<bool, StoreError> {
        todo!("postgres")
    }

    async fn publications(&self, all: bool) -> Result<Vec<Publication>, StoreError> {
        todo!("postgres")
    }

    async fn publications_due_now(&self, now: i64) -> Result<u64, StoreError> {
        todo!("postgres")
    }
}
