//! The facts of stored messages: what `mss-message` read in a message when
//! it was stored, kept so that IMAP FETCH, SEARCH, SORT and the webmail
//! need not parse it again.
//!
//! The store does not parse: callers hand it the facts, an opaque encoding
//! whose format and version belong to the writer, and the columns clients
//! sort and search by, which the store keeps as real columns. Facts depend
//! on the bytes only, so they are keyed by blob hash: a message delivered to
//! many folders, copied or moved has one set.
//!
//! Facts are written in the transaction that links the message (delivery,
//! APPEND), never after the acknowledgement; a message stored without them
//! (by an older mss, or a path that does not compute them) is found by
//! [`FactsStore::blobs_without_facts`] and indexed later.

use async_trait::async_trait;

use crate::{BlobHash, FolderId, StoreError};

/// The facts of one blob, as the store keeps them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageFacts {
    pub blob: BlobHash,
    /// The version of the encoding; a newer writer re-indexes older ones.
    pub version: u32,
    /// The encoded facts, opaque to the store.
    pub encoded: Vec<u8>,
    pub columns: FactColumns,
}

/// What clients sort, search and show, as columns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FactColumns {
    /// `Date:`, unix seconds.
    pub sent_at: Option<i64>,
    /// `Subject:`, decoded.
    pub subject: Option<String>,
    /// The first author's display name and address.
    pub from_name: Option<String>,
    pub from_address: Option<String>,
    /// The addresses of `To:` and of `Cc:`, each list comma-separated.
    pub to_addresses: String,
    pub cc_addresses: String,
    pub message_id: Option<String>,
    pub in_reply_to: Option<String>,
    /// The INS of a patient the message is from or to.
    pub patient_ins: Option<String>,
    /// An IHE XDM package is attached.
    pub xdm: bool,
    /// How many attachments.
    pub attachments: u32,
}

/// How much is left to index.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FactsBacklog {
    /// Stored messages without facts (a copy made by COPY or MOVE shares
    /// its message with the original and is not counted again).
    pub messages: u64,
    /// Distinct blobs among them: the work left.
    pub blobs: u64,
}

/// Facts of the metadata store.
#[async_trait]
pub trait FactsStore: Send + Sync {
    /// Writes facts, each replacing facts of an older version of the same
    /// blob. Facts of a blob no message names are not kept (it may have
    /// been expunged meanwhile); returns how many were written.
    async fn put_facts(&self, facts: &[MessageFacts]) -> Result<usize, StoreError>;
    /// The facts of messages of a folder, by UID, ascending; messages
    /// without facts are left out.
    async fn facts(&self, folder: FolderId, uids: &[u32]) -> Result<Vec<(u32, MessageFacts)>, StoreError>;
    /// Blobs messages name without facts of `version` or later, in hash
    /// order, after `after`, at most `limit`.
    async fn blobs_without_facts(
        &self,
        version: u32,
        after: Option<BlobHash>,
        limit: usize,
    ) -> Result<Vec<BlobHash>, StoreError>;
    /// What has no facts of `version` or later.
    async fn facts_backlog(&self, version: u32) -> Result<FactsBacklog, StoreError>;
}
