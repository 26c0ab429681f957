//! Small message bodies kept in the database (`inline_blobs`), written by
//! the transactions that link them (see `new_rows`) and read,
//! checked against their hash, by [`crate::LayeredBlobs`].

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};

use super::SqliteStore;
use crate::{BlobHash, InlineBlobs, StoreError};

/// Removes the body `?1` unless a message or a queued message names it. A
/// message names its body through its facts, or by hash while it has none
/// (migration 0033): both lookups are indexed.
const REMOVE_UNREFERENCED_BODY: &str = "DELETE FROM inline_blobs WHERE hash = ?1
     AND NOT EXISTS (SELECT 1 FROM messages WHERE facts_id IS NULL AND blob_hash = ?1)
     AND NOT EXISTS (SELECT 1 FROM messages WHERE facts_id = (SELECT id FROM message_facts WHERE blob_hash = ?1))
     AND NOT EXISTS (SELECT 1 FROM queue_messages WHERE blob_hash = ?1)";

/// Removes the facts of body `?1` unless a message names that body.
const REMOVE_UNREFERENCED_FACTS: &str = "DELETE FROM message_facts WHERE blob_hash = ?1
     AND NOT EXISTS (SELECT 1 FROM messages WHERE facts_id IS NULL AND blob_hash = ?1)
     AND NOT EXISTS (SELECT 1 FROM messages WHERE facts_id = message_facts.id)";

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
            let removed = tx.execute(REMOVE_UNREFERENCED_BODY, params![hash])?;
            // Facts go with their blob (see crate::FactsStore).
            tx.execute(REMOVE_UNREFERENCED_FACTS, params![hash])?;
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

#[cfg(test)]
mod tests {
    use super::super::tests::{message, pharmacy_mailbox, temporary_store};
    use super::*;
    use crate::{MetadataStore, NewMessage, Placement};

    /// SQLite's plan for `sql`, one line per step.
    fn plan(conn: &rusqlite::Connection, sql: &str) -> String {
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let rows = stmt.query_map(params!["00"], |r| r.get::<_, String>(3)).unwrap();
        rows.collect::<Result<Vec<_>, _>>().unwrap().join("; ")
    }

    /// A delivery with facts adds no entry keyed by its body's hash to
    /// `messages`' indexes (one page at a random place of a large index,
    /// each commit); the removals still find the messages of a body, with
    /// facts or without, through indexes, never by reading every message.
    #[tokio::test]
    async fn messages_with_facts_are_found_through_them() {
        let (_dir, store) = temporary_store().await;
        let mailbox = store.create_mailbox(&pharmacy_mailbox()).await.unwrap();
        let with_facts = message(b"Subject: bilan\r\n\r\nx\r\n", "bilan");
        let without_facts = NewMessage { facts: None, ..message(b"Subject: ordonnance\r\n\r\nx\r\n", "") };
        let blobs = [with_facts.blob, without_facts.blob];
        for message in [with_facts, without_facts] {
            store.link_message(message, &[Placement::inbox(mailbox.id)]).await.unwrap();
        }
        // The collection's removal, which a delivery can meet: each body is
        // named, one through its message's facts, one by hash.
        for blob in &blobs {
            assert!(!store.remove_inline_blob_if_unreferenced(blob).await.unwrap(), "{blob} is named");
        }
        assert!(store.inline_blobs(&blobs).await.unwrap().iter().all(Option::is_some));
        let (by_hash, plans) = store
            .read(|conn| {
                // Entries keyed by a hash: every row of a full index, the
                // rows without facts of a partial one.
                let keyed = "SELECT il.name, il.partial FROM pragma_index_list('messages') il
                             JOIN pragma_index_info(il.name) ii WHERE ii.name = 'blob_hash'";
                let mut stmt = conn.prepare(keyed)?;
                let indexes = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, bool>(1)?)))?;
                let mut by_hash = 0;
                for index in indexes {
                    let (name, partial) = index?;
                    let rows = if partial { " WHERE facts_id IS NULL" } else { "" };
                    let count = format!("SELECT count(*) FROM messages INDEXED BY {name}{rows}");
                    by_hash += conn.query_row(&count, [], |r| r.get::<_, i64>(0))?;
                }
                Ok((by_hash, [plan(conn, REMOVE_UNREFERENCED_BODY), plan(conn, REMOVE_UNREFERENCED_FACTS)]))
            })
            .await
            .unwrap();
        assert_eq!(by_hash, 1, "only the message without facts is in an index keyed by its hash");
        for plan in plans {
            assert!(!plan.contains("SCAN messages"), "{plan}");
            assert!(plan.contains("messages_blob_hash_without_facts"), "{plan}");
            assert!(plan.contains("messages_facts_id"), "{plan}");
        }
    }
}
