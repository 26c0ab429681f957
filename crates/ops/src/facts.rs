//! The backfill of message facts (see `mss_message::facts`): the messages
//! stored without facts, or with facts of an older version (a store made
//! before facts existed or before this version, a path that did not compute
//! them), are read once and their facts written, a batch per transaction.
//! Resumable: an interrupted run keeps the batches it wrote, and the next
//! finds only what is still missing. Safe beside live traffic (a message
//! delivered meanwhile comes with its facts). `mss messages index` runs it
//! with a progress bar; `mss serve` runs it in the background at start.

use mss_message::stored;
use mss_store::{FactsBacklog, FactsWalk, MessageFacts, Store, StoreError};

/// Messages read and written at a time by the background backfill.
pub const BATCH: usize = 200;

/// What a backfill did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Indexed {
    /// Messages whose facts were written.
    pub indexed: u64,
    /// Messages whose body is missing (`mss check` reports them).
    pub missing: u64,
}

/// What is left to index, with this version of the facts.
pub async fn backlog(store: &Store) -> Result<FactsBacklog, StoreError> {
    store.meta.facts_backlog(stored::VERSION).await
}

/// Indexes every message without facts of this version, `batch` at a
/// time; `progress` hears of each message read.
pub async fn index_missing(store: &Store, batch: usize, mut progress: impl FnMut()) -> Result<Indexed, StoreError> {
    let mut done = Indexed::default();
    let mut walk = FactsWalk::default();
    loop {
        let (hashes, next) = store.meta.blobs_without_facts(stored::VERSION, walk, batch.max(1)).await?;
        if hashes.is_empty() {
            break;
        }
        walk = next;
        let mut facts: Vec<MessageFacts> = Vec::with_capacity(hashes.len());
        // One body at a time: memory stays bounded by the largest message.
        for hash in hashes {
            match store.blobs.get(&hash).await? {
                Some(raw) => {
                    // Read off the async threads; a panic there leaves the message unindexed.
                    if let Ok(read) = tokio::task::spawn_blocking(move || stored::encode(hash, &raw)).await {
                        facts.push(read);
                    }
                }
                None => done.missing += 1,
            }
            progress();
        }
        done.indexed += store.meta.put_facts(&facts).await? as u64;
    }
    Ok(done)
}

/// Facts whose search text a stopped process left unindexed counted as
/// missing, for the backfill to write them again with their text; before
/// [`backlog`] and [`index_missing`].
pub async fn requeue_unindexed_texts(store: &Store) -> Result<(), StoreError> {
    let requeued = store.meta.requeue_unindexed_texts().await?;
    if requeued > 0 {
        tracing::info!(messages = requeued, "search text of messages left unindexed by the last run: indexing again");
    }
    Ok(())
}

/// The backfill `mss serve` starts with: logged, never fatal (a message
/// without facts is still served, read from its bytes).
pub async fn backfill(store: Store) {
    if let Err(e) = requeue_unindexed_texts(&store).await {
        tracing::warn!(error = %e, "cannot requeue the search text left unindexed");
    }
    let waiting = match backlog(&store).await {
        Ok(backlog) if backlog.blobs == 0 => return,
        Ok(backlog) => backlog.blobs,
        Err(e) => return tracing::warn!(error = %e, "cannot count the messages without facts"),
    };
    tracing::info!(messages = waiting, "indexing the messages stored without facts");
    match index_missing(&store, BATCH, || {}).await {
        Ok(done) if done.missing > 0 => {
            tracing::warn!(indexed = done.indexed, missing = done.missing, "message bodies missing: run mss check")
        }
        Ok(done) => tracing::info!(indexed = done.indexed, "messages indexed"),
        Err(e) => tracing::warn!(error = %e, "indexing stopped; the next start resumes it"),
    }
}
