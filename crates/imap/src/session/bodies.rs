//! Message bodies read in batches for FETCH and SEARCH: one store round trip
//! for many small messages (instead of one per message), a bounded number
//! of bytes in memory whatever their size.

use mss_store::{BlobHash, BlobStore, MessageMeta, StoreError};

/// Bodies read at once, at most this many bytes (but at least one body):
/// many small messages in one round trip, and a bound on what one session
/// holds while its client reads slowly.
const BATCH_BYTES: u64 = 1024 * 1024;

/// The bodies of a run of messages, handed out in order.
pub(super) struct Bodies<'a> {
    blobs: &'a dyn BlobStore,
    ready: std::vec::IntoIter<Option<Vec<u8>>>,
}

impl<'a> Bodies<'a> {
    pub fn new(blobs: &'a dyn BlobStore) -> Self {
        Self { blobs, ready: Vec::new().into_iter() }
    }

    /// The body of `metas[i]`, when called for `i = 0, 1, 2...` in turn;
    /// `None` when the store has no such blob.
    pub async fn next(&mut self, metas: &[MessageMeta], i: usize) -> Result<Option<Vec<u8>>, StoreError> {
        if self.ready.len() == 0 {
            self.ready = self.blobs.get_many(&batch(&metas[i..])).await?.into_iter();
        }
        Ok(self.ready.next().flatten())
    }
}

/// The blobs of the first messages of `metas` whose bodies fit in
/// [`BATCH_BYTES`] (the first one whatever its size).
fn batch(metas: &[MessageMeta]) -> Vec<BlobHash> {
    let mut total = 0;
    metas
        .iter()
        .take_while(|m| {
            let first = total == 0;
            total += m.size.max(1);
            first || total <= BATCH_BYTES
        })
        .map(|m| m.blob)
        .collect()
}
