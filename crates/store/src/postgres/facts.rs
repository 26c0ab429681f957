//! [`FactsStore`] on PostgreSQL.

use async_trait::async_trait;

use super::PgStore;
use crate::{
    BlobHash, DocumentCopy, FactColumns, FactsBacklog, FactsStore, FolderId, FolderPage, MailboxId, MessageFacts,
    PageQuery, Receipt, SearchedHeader, SortFacts, SortTexts, SortedMessage, StoreError,
};

#[async_trait]
impl FactsStore for PgStore {
    async fn put_facts(&self, facts: &[MessageFacts]) -> Result<usize, StoreError> {
        todo!("postgres")
    }

    async fn facts(&self, folder: FolderId, uids: &[u32]) -> Result<Vec<(u32, MessageFacts)>, StoreError> {
        todo!("postgres")
    }

    async fn blobs_without_facts(
        &self,
        version: u32,
        after: Option<BlobHash>,
        limit: usize,
    ) -> Result<Vec<BlobHash>, StoreError> {
        todo!("postgres")
    }

    async fn facts_backlog(&self, version: u32) -> Result<FactsBacklog, StoreError> {
        todo!("postgres")
    }

    async fn folder_blobs_without_facts(
        &self,
        folder: FolderId,
        version: u32,
        limit: usize,
    ) -> Result<Vec<BlobHash>, StoreError> {
        todo!("postgres")
    }

    async fn sort_rows(
        &self,
        folder: FolderId,
        version: u32,
        texts: SortTexts,
    ) -> Result<Vec<SortedMessage>, StoreError> {
        todo!("postgres")
    }

    async fn header_candidates(
        &self,
        folder: FolderId,
        version: u32,
        needles: &[(SearchedHeader, String)],
    ) -> Result<Vec<(u32, bool)>, StoreError> {
        todo!("postgres")
    }

    async fn receipts(&self, mailbox: MailboxId, ids: &[String]) -> Result<Vec<Receipt>, StoreError> {
        todo!("postgres")
    }

    async fn document_copies(&self, mailbox: MailboxId, ids: &[String]) -> Result<Vec<DocumentCopy>, StoreError> {
        todo!("postgres")
    }

    async fn folder_page(&self, folder: FolderId, query: &PageQuery) -> Result<FolderPage, StoreError> {
        todo!("postgres")
    }
}
