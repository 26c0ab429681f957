//! The blob store callers see: small bodies in the metadata database (written
//! with the rows that name them, see [`Body`]), the others in blob files.
//!
//! A body goes to one place by its size, so a hash is normally in one of
//! the two; reading looks in the database first, then the files. `put`
//! always writes a file (the queue and tests use it; a small body stored
//! that way is read the same).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use crate::{BlobHash, BlobStore, StoreError};

/// Bodies up to this size are kept in the database.
pub const INLINE_MAX: usize = 64 * 1024;

/// A message body ready to be linked: its hash, and the bytes themselves
/// when they are to be written by the linking transaction.
#[derive(Debug, Clone)]
pub struct Body {
    pub hash: BlobHash,
    pub inline: Option<Vec<u8>>,
}

/// Small bodies kept in the metadata database, by the transactions that
/// link them (see [`Body`]).
#[async_trait]
pub trait InlineBlobs: Send + Sync {
    /// The bodies kept here among `hashes`, in order (`None` for the
    /// others), in one read; a row that does not match its hash is
    /// reported, never served.
    async fn inline_blobs(&self, hashes: &[BlobHash]) -> Result<Vec<Option<Vec<u8>>>, StoreError>;
    /// The body with this hash, if it is kept here.
    async fn inline_blob(&self, hash: &BlobHash) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.inline_blobs(std::slice::from_ref(hash)).await?.pop().flatten())
    }
    /// Whether the body with this hash is kept here.
    async fn has_inline_blob(&self, hash: &BlobHash) -> Result<bool, StoreError>;
    /// Every hash kept here, sorted.
    async fn inline_blob_hashes(&self) -> Result<Vec<BlobHash>, StoreError>;
    /// Removes the body unless a message or a queued message names it, in
    /// one statement: a delivery linking it commits before or after, never
    /// in between; facts no message names go with it. Whether it was removed.
    async fn remove_inline_blob_if_unreferenced(&self, hash: &BlobHash) -> Result<bool, StoreError>;
    /// Removes the body whatever names it (the blob store's `delete`).
    async fn delete_inline_blob(&self, hash: &BlobHash) -> Result<(), StoreError>;
}

/// Small bodies in the metadata database, the others in blob files or
/// objects.
#[derive(Clone)]
pub struct LayeredBlobs {
    pub(crate) inline: Arc<dyn InlineBlobs>,
    pub(crate) files: Arc<dyn BlobStore>,
}

#[async_trait]
impl BlobStore for LayeredBlobs {
    async fn put(&self, data: Bytes) -> Result<BlobHash, StoreError> {
        self.files.put(data).await
    }

    async fn get(&self, hash: &BlobHash) -> Result<Option<Vec<u8>>, StoreError> {
        match self.inline.inline_blob(hash).await? {
            Some(data) => Ok(Some(data)),
            None => self.files.get(hash).await,
        }
    }

    async fn get_many(&self, hashes: &[BlobHash]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        let mut out = self.inline.inline_blobs(hashes).await?;
        let missing: Vec<BlobHash> = hashes.iter().zip(&out).filter(|(_, d)| d.is_none()).map(|(h, _)| *h).collect();
        if !missing.is_empty() {
            let mut files = self.files.get_many(&missing).await?.into_iter();
            for slot in out.iter_mut().filter(|d| d.is_none()) {
                *slot = files.next().flatten();
            }
        }
        Ok(out)
    }

    async fn contains(&self, hash: &BlobHash) -> Result<bool, StoreError> {
        Ok(self.inline.has_inline_blob(hash).await? || self.files.contains(hash).await?)
    }

    async fn delete(&self, hash: &BlobHash) -> Result<(), StoreError> {
        self.inline.delete_inline_blob(hash).await?;
        self.files.delete(hash).await
    }

    async fn list(&self) -> Result<Vec<BlobHash>, StoreError> {
        let mut all = self.inline.inline_blob_hashes().await?;
        all.extend(self.files.list().await?);
        all.sort();
        all.dedup();
        Ok(all)
    }

    async fn remove_if_idle(&self, hash: &BlobHash, idle: Duration) -> Result<bool, StoreError> {
        // A database row goes in one statement that checks for references:
        // no grace period is needed there.
        let inline = self.inline.remove_inline_blob_if_unreferenced(hash).await?;
        let file = self.files.remove_if_idle(hash, idle).await?;
        Ok(inline || file)
    }
}
