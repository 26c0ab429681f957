//! Small message bodies kept in the database (`inline_blobs`), written by
//! the transactions that link them and read, checked against their hash, by
//! [`crate::LayeredBlobs`].

use async_trait::async_trait;

use super::PgStore;
use crate::{BlobHash, InlineBlobs, StoreError};

#[async_trait]
impl InlineBlobs for PgStore {
    async fn inline_blobs(&self, hashes: &[BlobHash]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        todo!("postgres")
    }

    async fn has_inline_blob(&self, hash: &BlobHash) -> Result<bool, StoreError> {
        todo!("postgres")
    }

    async fn inline_blob_hashes(&self) -> Result<Vec<BlobHash>, StoreError> {
        todo!("postgres")
    }

    async fn remove_inline_blob_if_unreferenced(&self, hash: &BlobHash) -> Result<bool, StoreError> {
        todo!("postgres")
    }

    async fn delete_inline_blob(&self, hash: &BlobHash) -> Result<(), StoreError> {
        todo!("postgres")
    }
}
