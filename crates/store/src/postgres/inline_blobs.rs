//! Small message bodies kept in the database (`inline_blobs`), written by
//! the transactions that link them (see [`link_inline_blob`]) and read,
//! checked against their hash, by [`crate::LayeredBlobs`].
//!
//! A body's removal and a new link to it take turns on its row: the linking
//! transaction holds a share lock on the row until it commits (its message
//! row then names the body), the removal locks the row before it looks for
//! messages that name it.

use std::collections::HashMap;

use async_trait::async_trait;
use deadpool_postgres::Transaction;

use super::{PgStore, parse_col};
use crate::{BlobHash, InlineBlobs, StoreError};

/// Stores a small body in the transaction that links it (the same content
/// twice is kept once), and keeps its row from being removed until that
/// transaction ends: a removal that came first and took the row is waited
/// for, then the body written again.
pub(crate) async fn link_inline_blob(tx: &Transaction<'_>, hash: &BlobHash, body: &[u8]) -> Result<(), StoreError> {
    let hex = hash.to_hex();
    let insert = tx
        .prepare_cached("INSERT INTO inline_blobs (hash, data) VALUES ($1, $2) ON CONFLICT (hash) DO NOTHING")
        .await?;
    let lock = tx.prepare_cached("SELECT 1 FROM inline_blobs WHERE hash = $1 FOR SHARE").await?;
    loop {
        tx.execute(&insert, &[&hex, &body]).await?;
        if tx.query_opt(&lock, &[&hex]).await?.is_some() {
            return Ok(());
        }
    }
}

#[async_trait]
impl InlineBlobs for PgStore {
    /// The bodies kept here among `hashes`, in order (`None` for the others),
    /// in one read.
    async fn inline_blobs(&self, hashes: &[BlobHash]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        if hashes.is_empty() {
            return Ok(Vec::new());
        }
        let client = self.client().await?;
        let wanted: Vec<String> = hashes.iter().map(BlobHash::to_hex).collect();
        let stmt = client.prepare_cached("SELECT hash, data FROM inline_blobs WHERE hash = ANY($1)").await?;
        let mut found = HashMap::new();
        for row in client.query(&stmt, &[&wanted]).await? {
            let hash: BlobHash = parse_col("blob hash", row.try_get(0)?)?;
            let data: Vec<u8> = row.try_get(1)?;
            if BlobHash::of(&data) != hash {
                return Err(StoreError::Corrupt(format!("inline blob {hash} does not match its hash")));
            }
            found.insert(hash, data);
        }
        // A hash asked twice is served twice.
        Ok(hashes.iter().map(|hash| found.get(hash).cloned()).collect())
    }

    /// Whether the body with this hash is kept here.
    async fn has_inline_blob(&self, hash: &BlobHash) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let stmt = client.prepare_cached("SELECT 1 FROM inline_blobs WHERE hash = $1").await?;
        Ok(client.query_opt(&stmt, &[&hash.to_hex()]).await?.is_some())
    }

    /// Every hash kept here, sorted.
    async fn inline_blob_hashes(&self) -> Result<Vec<BlobHash>, StoreError> {
        let client = self.client().await?;
        let rows = client.query("SELECT hash FROM inline_blobs ORDER BY hash COLLATE \"C\"", &[]).await?;
        rows.iter().map(|r| parse_col("blob hash", r.try_get(0)?)).collect()
    }

    /// Removes the body unless a message or a queued message names it: a
    /// delivery linking it commits before or after, never in between (the
    /// body's row is locked first, so a linking transaction still open is
    /// waited for, and the statements that follow see its message). Facts
    /// no message names go with it. Whether it was removed.
    async fn remove_inline_blob_if_unreferenced(&self, hash: &BlobHash) -> Result<bool, StoreError> {
        let hash = hash.to_hex();
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.query_opt("SELECT 1 FROM inline_blobs WHERE hash = $1 FOR UPDATE", &[&hash]).await?;
        // Facts being rewritten by a linking transaction are waited for too.
        tx.query_opt("SELECT 1 FROM message_facts WHERE blob_hash = $1 FOR UPDATE", &[&hash]).await?;
        let removed = tx
            .execute(
                "DELETE FROM inline_blobs WHERE hash = $1
                 AND NOT EXISTS (SELECT 1 FROM messages WHERE blob_hash = $1)
                 AND NOT EXISTS (SELECT 1 FROM queue_messages WHERE blob_hash = $1)",
                &[&hash],
            )
            .await?;
        // Facts go with their blob (see crate::FactsStore).
        tx.execute(
            "DELETE FROM message_facts WHERE blob_hash = $1
             AND NOT EXISTS (SELECT 1 FROM messages WHERE blob_hash = $1)",
            &[&hash],
        )
        .await?;
        tx.commit().await?;
        Ok(removed == 1)
    }

    /// Removes the body whatever names it (the blob store's `delete`).
    async fn delete_inline_blob(&self, hash: &BlobHash) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute("DELETE FROM inline_blobs WHERE hash = $1", &[&hash.to_hex()]).await?;
        tx.commit().await?;
        Ok(())
    }
}
