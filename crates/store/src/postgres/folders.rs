//! [`FolderStore`] on PostgreSQL.

use async_trait::async_trait;

use super::PgStore;
use crate::folders::*;
use crate::{BlobHash, INBOX, MailboxId, StoreError};

#[async_trait]
impl FolderStore for PgStore {
    async fn folders(&self, mailbox: MailboxId) -> Result<Vec<Folder>, StoreError> {
        todo!("postgres")
    }

    async fn folder(&self, mailbox: MailboxId, name: &str) -> Result<Option<Folder>, StoreError> {
        todo!("postgres")
    }

    async fn create_folder(&self, mailbox: MailboxId, name: &str) -> Result<Folder, StoreError> {
        todo!("postgres")
    }

    async fn delete_folder(&self, mailbox: MailboxId, name: &str) -> Result<(), StoreError> {
        todo!("postgres")
    }

    async fn rename_folder(&self, mailbox: MailboxId, from: &str, to: &str) -> Result<(), StoreError> {
        todo!("postgres")
    }

    async fn set_subscribed(&self, mailbox: MailboxId, name: &str, subscribed: bool) -> Result<(), StoreError> {
        todo!("postgres")
    }

    async fn folder_counts(&self, folder: FolderId) -> Result<FolderCounts, StoreError> {
        todo!("postgres")
    }

    async fn folder_uids(&self, folder: FolderId) -> Result<Vec<u32>, StoreError> {
        todo!("postgres")
    }

    async fn uids_by_flags(
        &self,
        folder: FolderId,
        with: &[String],
        without: &[String],
    ) -> Result<Vec<u32>, StoreError> {
        todo!("postgres")
    }

    async fn messages(&self, folder: FolderId, uids: &[u32]) -> Result<Vec<MessageMeta>, StoreError> {
        todo!("postgres")
    }

    async fn set_flags(
        &self,
        folder: FolderId,
        uids: &[u32],
        change: FlagChange,
        flags: &[String],
        unchanged_since: Option<u64>,
    ) -> Result<FlagsUpdated, StoreError> {
        todo!("postgres")
    }

    async fn append_indexed(
        &self,
        folder: FolderId,
        messages: &[Appended],
        facts: &[crate::MessageFacts],
    ) -> Result<(u32, Vec<u32>), StoreError> {
        todo!("postgres")
    }

    async fn copy_messages(&self, from: FolderId, uids: &[u32], to: FolderId) -> Result<Copied, StoreError> {
        todo!("postgres")
    }

    async fn move_messages(&self, from: FolderId, uids: &[u32], to: FolderId) -> Result<Copied, StoreError> {
        todo!("postgres")
    }

    async fn expunge(&self, folder: FolderId, uids: Option<&[u32]>) -> Result<Vec<u32>, StoreError> {
        todo!("postgres")
    }

    async fn changes_since(&self, folder: FolderId, modseq: u64) -> Result<Changes, StoreError> {
        todo!("postgres")
    }

    fn watch(&self) -> tokio::sync::broadcast::Receiver<MailboxId> {
        todo!("postgres")
    }
}
