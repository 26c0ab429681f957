//! Small message bodies kept in the database, written by the transactions
//! that link them (see `new_rows`) and read, checked against their hash, by
//! [`crate::LayeredBlobs`]. A body with facts is kept under its facts' id
//! (`facts_bodies`), one without under its hash (`inline_blobs`); the
//! schema's triggers move it when its facts come or go (migration 0034).

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};

use super::SqliteStore;
use crate::{BlobHash, InlineBlobs, StoreError};

/// Every small body with its hash, wherever it is kept (what PostgreSQL
/// keeps in one table, `inline_blobs`, by hash).
pub(crate) const EVERY_BODY: &str = "SELECT hash, data FROM inline_blobs
     UNION ALL SELECT f.blob_hash, b.data FROM facts_bodies b JOIN message_facts f ON f.id = b.facts_id";

/// The hash of every small body, sorted: [`EVERY_BODY`] without the
/// bodies' bytes (a union of the two tables' hashes, no data read).
const EVERY_HASH: &str = "SELECT f.blob_hash FROM facts_bodies b JOIN message_facts f ON f.id = b.facts_id
     UNION SELECT hash FROM inline_blobs ORDER BY 1";

/// The body `?1`, wherever it is kept.
const BODY: &str = "SELECT data FROM facts_bodies WHERE facts_id = (SELECT id FROM message_facts WHERE blob_hash = ?1)
     UNION ALL SELECT data FROM inline_blobs WHERE hash = ?1";

/// Removes the body `?1` wherever it is kept, whatever names it.
const REMOVE_BODY: [&str; 2] = [
    "DELETE FROM facts_bodies WHERE facts_id = (SELECT id FROM message_facts WHERE blob_hash = ?1)",
    "DELETE FROM inline_blobs WHERE hash = ?1",
];

/// Removes the facts of body `?1` unless a message names that body; the
/// body, if kept under them, goes back under its hash.
const REMOVE_UNREFERENCED_FACTS: &str = "DELETE FROM message_facts WHERE blob_hash = ?1
     AND NOT EXISTS (SELECT 1 FROM messages WHERE facts_id IS NULL AND blob_hash = ?1)
     AND NOT EXISTS (SELECT 1 FROM messages WHERE facts_id = message_facts.id)";

/// Removes the body `?1` kept under its hash unless a message or a queued
/// message names it. A message names its body through its facts, or by
/// hash while it has none (migration 0033): both lookups are indexed.
const REMOVE_UNREFERENCED_BODY: &str = "DELETE FROM inline_blobs WHERE hash = ?1
     AND NOT EXISTS (SELECT 1 FROM messages WHERE facts_id IS NULL AND blob_hash = ?1)
     AND NOT EXISTS (SELECT 1 FROM messages WHERE facts_id = (SELECT id FROM message_facts WHERE blob_hash = ?1))
     AND NOT EXISTS (SELECT 1 FROM queue_messages WHERE blob_hash = ?1)";

#[async_trait]
impl InlineBlobs for SqliteStore {
    /// The bodies kept here among `hashes`, in order (`None` for the others),
    /// in one read.
    async fn inline_blobs(&self, hashes: &[BlobHash]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        let hashes = hashes.to_vec();
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(BODY)?;
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
        self.read(move |conn| Ok(conn.prepare_cached(BODY)?.exists([hash])?)).await
    }

    /// Every hash kept here, sorted.
    async fn inline_blob_hashes(&self) -> Result<Vec<BlobHash>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare(EVERY_HASH)?;
            let rows = stmt.query_map([], |r| r.get::<_, BlobHash>(0))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    /// Removes the body unless a message or a queued message names it, in
    /// one transaction: a delivery linking it commits before or after, never
    /// in between. Whether it was removed.
    async fn remove_inline_blob_if_unreferenced(&self, hash: &BlobHash) -> Result<bool, StoreError> {
        let hash = hash.to_hex();
        self.write(move |tx| {
            // Facts go with their blob (see crate::FactsStore), first: a body
            // kept under them is then under its hash, for the second removal.
            tx.execute(REMOVE_UNREFERENCED_FACTS, params![hash])?;
            Ok(tx.execute(REMOVE_UNREFERENCED_BODY, params![hash])? == 1)
        })
        .await
    }

    /// Removes the body whatever names it (the blob store's `delete`).
    async fn delete_inline_blob(&self, hash: &BlobHash) -> Result<(), StoreError> {
        let hash = hash.to_hex();
        self.write(move |tx| {
            for statement in REMOVE_BODY {
                tx.execute(statement, [&hash])?;
            }
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{message, pharmacy_mailbox, temporary_store};
    use super::*;
    use crate::{FactsStore, MaintenanceStore, MetadataStore, NewMessage, NewQueued, Placement};

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

    /// Where the body of `blob` is kept: under its facts, under its hash.
    async fn kept(store: &SqliteStore, blob: BlobHash) -> (bool, bool) {
        store
            .read(move |conn| {
                let under_facts = conn
                    .prepare(
                        "SELECT 1 FROM facts_bodies b JOIN message_facts f ON f.id = b.facts_id WHERE f.blob_hash = ?1",
                    )?
                    .exists([blob.to_hex()])?;
                let under_hash = conn.prepare("SELECT 1 FROM inline_blobs WHERE hash = ?1")?.exists([blob.to_hex()])?;
                Ok((under_facts, under_hash))
            })
            .await
            .unwrap()
    }

    /// A body with facts is kept under their id, in no index keyed by its
    /// hash (one page at a random place of a large index, each commit); one
    /// without, under its hash until facts come for it. Facts removed while
    /// the queue still names the body hand it back: it stays readable.
    #[tokio::test]
    async fn bodies_with_facts_are_kept_under_them() {
        let (_dir, store) = temporary_store().await;
        let mailbox = store.create_mailbox(&pharmacy_mailbox()).await.unwrap();
        let (first, second) = (b"Subject: bilan\r\n\r\nx\r\n".to_vec(), b"Subject: ordonnance\r\n\r\nx\r\n".to_vec());
        let with_facts = message(&first, "bilan");
        let later = message(&second, "ordonnance");
        let later_facts = later.facts.clone().unwrap();
        let without_facts = NewMessage { facts: None, ..later };
        let blobs = [with_facts.blob, without_facts.blob];
        for message in [with_facts, without_facts] {
            store.link_message(message, &[Placement::inbox(mailbox.id)]).await.unwrap();
        }
        assert_eq!(kept(&store, blobs[0]).await, (true, false), "under its facts");
        assert_eq!(kept(&store, blobs[1]).await, (false, true), "under its hash, without facts");
        store.put_facts(&[later_facts]).await.unwrap();
        assert_eq!(kept(&store, blobs[1]).await, (true, false), "taken over by the facts written later");
        assert_eq!(store.inline_blobs(&blobs).await.unwrap(), [Some(first.clone()), Some(second)]);
        assert!(store.has_inline_blob(&blobs[0]).await.unwrap());
        let mut sorted = blobs.to_vec();
        sorted.sort();
        assert_eq!(store.inline_blob_hashes().await.unwrap(), sorted);

        // The first body's message goes; the queue still names it.
        let queued = NewQueued {
            blob: blobs[0],
            size: first.len() as u64,
            sender: "pharmacie@pharma.test".into(),
            recipients: vec!["b@other.test".parse().unwrap()],
            expires_at: i64::MAX,
            dsn: Default::default(),
            recipient_dsn: Vec::new(),
        };
        store.enqueue(&queued).await.unwrap();
        let hash = blobs[0].to_hex();
        store
            .write(move |tx| {
                let message = "SELECT id FROM messages WHERE blob_hash = ?1";
                tx.execute(&format!("DELETE FROM folder_messages WHERE message_id IN ({message})"), [&hash])?;
                tx.execute("DELETE FROM messages WHERE blob_hash = ?1", [&hash])?;
                Ok(())
            })
            .await
            .unwrap();
        assert!(!store.remove_inline_blob_if_unreferenced(&blobs[0]).await.unwrap(), "the queue names it");
        assert_eq!(kept(&store, blobs[0]).await, (false, true), "its facts gone, under its hash again");
        assert_eq!(store.inline_blob(&blobs[0]).await.unwrap(), Some(first));
        // A copy under its hash beside its facts', and a body under facts
        // that are gone, are what `mss check` reports.
        assert!(store.check_metadata().await.unwrap().is_empty());
        let stray = blobs[1].to_hex();
        store
            .write(move |tx| {
                tx.execute("INSERT INTO inline_blobs (hash, data) VALUES (?1, x'00')", [stray])?;
                tx.execute("INSERT INTO facts_bodies (facts_id, data) VALUES (999999, x'00')", [])?;
                Ok(())
            })
            .await
            .unwrap();
        let problems = store.check_metadata().await.unwrap();
        let expected = [
            format!("body {} is kept apart from its facts", blobs[1]),
            "a body is kept under facts 999999, which are gone".to_string(),
        ];
        assert_eq!(problems, expected);
        for blob in blobs {
            store.delete_inline_blob(&blob).await.unwrap();
            assert_eq!(kept(&store, blob).await, (false, false), "deleted wherever kept");
        }
    }
}
