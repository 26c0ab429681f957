//! Small message bodies kept in the database (`inline_blobs`), written by
//! the transactions that link them (see `new_rows`) and read,
//! checked against their hash, by [`crate::LayeredBlobs`].

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};

use super::SqliteStore;
use crate::{BlobHash, InlineBlobs, StoreError};

#[async_trait]
impl InlineBlobs for SqliteStore {
    /// The bodies kept here among `hashes`, in order (`None` for the others),
    /// in one read.
    async fn inline_blobs(&self, hashes: &[BlobHash]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        let hashes = hashes.to_vec();
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached("SELECT data FROM inline_blobs WHERE hash = ?1")?;
            hashes
                .iter()
                .map(|hash| {
                    let data: Option<Vec<u8>> = stmt.query_row([hash.to_hex()], |r| r.get(0)).optional()?;
                    match data {
                        Some(data) if BlobHash::of(&data) != *hash => {
                            Err(StoreError::Corrupt(format!("inline blob {hash} does not match its hash")))
                        }
                        data => Ok(data),
                    }
                })
                .collect()
        })
        .await
    }

    /// Whether the body with this hash is kept here.
    async fn has_inline_blob(&self, hash: &BlobHash) -> Result<bool, StoreError> {
        let hash = hash.to_hex();
        self.read(move |conn| {
            Ok(conn
                .prepare_cached("SELECT 1 FROM inline_blobs WHERE hash = ?1")?
                .query_row([hash], |_| Ok(()))
                .optional()?
                .is_some())
        })
        .await
    }

    /// Every hash kept here, sorted.
    async fn inline_blob_hashes(&self) -> Result<Vec<BlobHash>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare("SELECT hash FROM inline_blobs ORDER BY hash")?;
            let rows = stmt.query_map([], |r| r.get::<_, BlobHash>(0))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    /// Removes the body unless a message or a queued message names it, in
    /// one statement: a delivery linking it commits before or after, never
    /// in between. Whether it was removed.
    async fn remove_inline_blob_if_unreferenced(&self, hash: &BlobHash) -> Result<bool, StoreError> {
        let hash = hash.to_hex();
        self.write(move |tx| {
            let removed = tx.execute(
                "DELETE FROM inline_blobs WHERE hash = ?1
                 AND NOT EXISTS (SELECT 1 FROM messages WHERE blob_hash = ?1)
                 AND NOT EXISTS (SELECT 1 FROM queue_messages WHERE blob_hash = ?1)",
                params![hash],
            )?;
            // Facts go with their blob (see crate::FactsStore).
            tx.execute(
                "DELETE FROM message_facts WHERE blob_hash = ?1
                 AND NOT EXISTS (SELECT 1 FROM messages WHERE blob_hash = ?1)",
                params![hash],
            )?;
            Ok(removed == 1)
        })
        .await
    }

    /// Removes the body whatever names it (the blob store's `delete`).
    async fn delete_inline_blob(&self, hash: &BlobHash) -> Result<(), StoreError> {
        let hash = hash.to_hex();
        self.write(move |tx| Ok(tx.execute("DELETE FROM inline_blobs WHERE hash = ?1", [hash]).map(|_| ())?)).await
    }
}
