//! [`MetadataStore`] on PostgreSQL.

use async_trait::async_trait;

use super::PgStore;
use crate::error::blocking;
use crate::model::*;
use crate::{BlobHash, StoreError, now_unix};
use mss_core::{EmailAddress, NationalId, Role};

#[async_trait]
impl MetadataStore for PgStore {
    async fn create_mailbox(&self, new: &NewMailbox) -> Result<Mailbox, StoreError> {
        todo!("postgres")
    }

    async fn mailbox(&self, address: &EmailAddress) -> Result<Option<Mailbox>, StoreError> {
        todo!("postgres")
    }

    async fn mailboxes(&self) -> Result<Vec<Mailbox>, StoreError> {
        todo!("postgres")
    }

    async fn certificate_bound_mailboxes(&self) -> Result<Vec<Mailbox>, StoreError> {
        todo!("postgres")
    }

    async fn grant_role(&self, mailbox: MailboxId, national_id: &NationalId, role: Role) -> Result<(), StoreError> {
        todo!("postgres")
    }

    async fn role_of(&self, mailbox: MailboxId, national_id: &NationalId) -> Result<Option<Role>, StoreError> {
        todo!("postgres")
    }

    async fn mailboxes_of(&self, national_id: &NationalId) -> Result<Vec<Mailbox>, StoreError> {
        todo!("postgres")
    }

    async fn mailboxes_of_finess(&self, finess: &str) -> Result<Vec<Mailbox>, StoreError> {
        todo!("postgres")
    }

    async fn roles_on(&self, mailbox: MailboxId) -> Result<Vec<(NationalId, Role)>, StoreError> {
        todo!("postgres")
    }

    async fn roles_of(&self, national_id: &NationalId) -> Result<Vec<(Mailbox, Role)>, StoreError> {
        todo!("postgres")
    }

    async fn addresses_with_prefix(&self, prefix: &str, domain: &str) -> Result<Vec<String>, StoreError> {
        todo!("postgres")
    }

    async fn replace_ans_whitelist(&self, import: &WhitelistImport, rows: &[WhitelistRow]) -> Result<(), StoreError> {
        todo!("postgres")
    }

    async fn add_manual_whitelist_row(&self, row: &WhitelistRow) -> Result<(), StoreError> {
        todo!("postgres")
    }

    async fn remove_manual_whitelist_rows(&self, domain: &str, dn: Option<&str>) -> Result<usize, StoreError> {
        todo!("postgres")
    }

    async fn whitelist(&self) -> Result<Vec<WhitelistRow>, StoreError> {
        todo!("postgres")
    }

    async fn whitelist_for_domain(&self, domain: &str) -> Result<Vec<WhitelistRow>, StoreError> {
        todo!("postgres")
    }

    async fn last_whitelist_import(&self) -> Result<Option<WhitelistImport>, StoreError> {
        todo!("postgres")
    }

    async fn link_message(&self, message: &NewMessage, placements: &[Placement]) -> Result<Delivery, StoreError> {
        todo!("postgres")
    }

    async fn folder_messages(&self, mailbox: MailboxId, folder: &str) -> Result<Vec<FolderMessage>, StoreError> {
        todo!("postgres")
    }

    async fn referenced_blobs(&self) -> Result<Vec<BlobHash>, StoreError> {
        todo!("postgres")
    }

    async fn enqueue(&self, message: &NewQueued) -> Result<QueueId, StoreError> {
        todo!("postgres")
    }

    async fn due_recipients(&self, now: i64, limit: usize) -> Result<Vec<QueuedRecipient>, StoreError> {
        todo!("postgres")
    }

    async fn record_attempt(&self, recipient: i64, outcome: &AttemptOutcome) -> Result<bool, StoreError> {
        todo!("postgres")
    }

    async fn record_local_delivery(&self, blob: &BlobHash, recipients: &[String]) -> Result<(), StoreError> {
        todo!("postgres")
    }

    async fn delivery_status(&self, blob: &BlobHash) -> Result<Vec<DeliveryStatus>, StoreError> {
        todo!("postgres")
    }

    async fn queue(&self) -> Result<Vec<QueuedRecipient>, StoreError> {
        todo!("postgres")
    }

    async fn retry_now(&self, message: QueueId) -> Result<bool, StoreError> {
        todo!("postgres")
    }

    async fn delete_queued(&self, message: QueueId) -> Result<bool, StoreError> {
        todo!("postgres")
    }
}
