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
//! [`FactsStore::blobs_without_facts`] and indexed later. The embedded
//! backend indexes the searchable text of a new message after its
//! acknowledgement (a search waits for it); a text lost in a crash is
//! requeued by [`FactsStore::requeue_unindexed_texts`].
//!
//! With the facts comes the searchable text of the message
//! ([`MessageFacts::text`]), which the backend indexes with its own
//! full-text search (SQLite: FTS5) and does not give back. A folder's list
//! ([`FactsStore::folder_page`]) is sorted, searched and paged by the
//! backend from these, at any folder size; messages without facts are
//! still listed (they sort as if their keys were empty and match no search)
//! so that nothing disappears before the backfill.
//!
//! IMAP reads the facts by columns where it can: the candidates of a SEARCH
//! by header keys ([`FactsStore::header_candidates`], from the searched
//! header texts kept lowercased, [`MessageFacts::searched`]) and a whole
//! folder's SORT keys in one read ([`FactsStore::sort_rows`]). A backend
//! keeps its own links from messages to their facts and from folder rows
//! to the list's sort keys (SQLite: triggers, migration 0012).

use async_trait::async_trait;

use crate::sort_index::marked_rows;
use crate::words::query_words;
use crate::{BlobHash, FolderId, IndexedText, MailboxId, MessageMeta, StoreError};

/// The facts of one blob, as the store keeps them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageFacts {
    pub blob: BlobHash,
    /// The version of the encoding; a newer writer re-indexes older ones.
    pub version: u32,
    /// The encoded facts, opaque to the store.
    pub encoded: Vec<u8>,
    pub columns: FactColumns,
    /// The searchable text (subject, people, decoded text parts) as the
    /// index keeps it: indexed, not kept, so facts read back have it empty.
    pub text: IndexedText,
    /// The texts the header keys of IMAP SEARCH look in, indexed by
    /// `SearchedHeader as usize` (see [`FactsStore::header_candidates`]): each
    /// field's occurrences joined by a line feed, lowercased; None when not
    /// known. Written, not read back.
    pub searched: [Option<String>; 5],
    /// The health documents attached, by id, for finding the same document
    /// or its replacement elsewhere ([`FactsStore::document_copies`]).
    /// Written, not read back.
    pub documents: Vec<DocumentKey>,
}

/// A health document's id and the id of the one it replaces ("annule et
/// remplace"), each as `root^extension`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DocumentKey {
    pub id: String,
    pub replaces: Option<String>,
}

/// A message of a mailbox holding a document asked about, or its
/// replacement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentCopy {
    pub document_id: String,
    pub replaces: Option<String>,
    pub folder: String,
    pub uid: u32,
    pub received_at: i64,
}

/// A header field whose text the store keeps for IMAP SEARCH (RFC 9051
/// §6.4.4: SUBJECT, FROM, TO, CC, BCC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchedHeader {
    Subject,
    From,
    To,
    Cc,
    Bcc,
}

impl SearchedHeader {
    pub const ALL: [Self; 5] = [Self::Subject, Self::From, Self::To, Self::Cc, Self::Bcc];

    /// The field's name, as a message writes it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Subject => "Subject",
            Self::From => "From",
            Self::To => "To",
            Self::Cc => "Cc",
            Self::Bcc => "Bcc",
        }
    }

    /// The field named `name`, case ignored.
    pub fn named(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|h| h.name().eq_ignore_ascii_case(name))
    }
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
    /// The message ends a patient conversation (`X-MSS-MES: FIN` or the
    /// subject `[FIN]`, `mss_core::patients::closes_conversation`).
    pub closes_conversation: bool,
    /// For a read receipt, the id (without brackets) of the message it is
    /// about, and its `Disposition`.
    pub receipt_for: Option<String>,
    pub receipt_disposition: Option<String>,
    /// How many attachments.
    pub attachments: u32,
    /// The first author as shown (display name, else address) and the
    /// subject, folded by the writer (case and accents ignored): what the
    /// list sorts by.
    pub sender_key: String,
    pub subject_key: String,
    /// What IMAP SORT SUBJECT and SORT FROM compare (RFC 5256: the base
    /// subject, the first author's addr-mailbox, i;ascii-casemap), kept on
    /// every folder row so that a whole folder is sorted by an index; None
    /// when the columns do not say (no parsed header, a From its reader
    /// refused or quoted), and SORT then reads the message.
    pub imap_subject_key: Option<String>,
    pub imap_from_key: Option<String>,
    /// The message's header was parsed: the columns say what its bytes say
    /// (without it they are empty, and readers go to the bytes).
    pub header: bool,
    /// The first words of the text (at most [`PREVIEW_MAX`] characters,
    /// whitespace folded), shown under the subject in a list.
    pub preview: String,
}

/// The most characters of [`FactColumns::preview`].
pub const PREVIEW_MAX: usize = 160;

/// What a folder's list is ordered by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ListOrder {
    /// The order of arrival (UID).
    #[default]
    Arrival,
    /// [`FactColumns::sender_key`], newest first among equals.
    Sender,
    /// [`FactColumns::subject_key`], newest first among equals.
    Subject,
}

/// Which page of a folder's list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageQuery {
    pub order: ListOrder,
    pub descending: bool,
    /// Messages skipped, then at most `limit` listed.
    pub offset: u64,
    pub limit: u32,
    /// Words the messages must all contain (`crate::words`), case and
    /// accents ignored, the last one as a prefix (what a person is typing).
    pub search: Option<String>,
}

impl PageQuery {
    /// Whether the page is read in the order of a sort key (sorted by
    /// sender or subject, without a search): from the folder's sort index
    /// ([`crate::sort_index`]).
    pub(crate) fn by_sort_key(&self) -> bool {
        self.order != ListOrder::Arrival && self.search.as_deref().is_none_or(|s| query_words(s).is_empty())
    }
}

/// One page of a folder's list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FolderPage {
    /// Messages listed in all (those matching, when searching).
    pub total: u64,
    pub messages: Vec<ListedMessage>,
}

/// A message of a list: its metadata and, when it has facts, their columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedMessage {
    pub meta: MessageMeta,
    pub columns: Option<FactColumns>,
}

/// What SORT reads of one message of a folder: its arrival, its size and,
/// when it has facts of the version asked for, what they say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortedMessage {
    pub uid: u32,
    pub received_at: i64,
    pub size: u64,
    pub facts: Option<SortFacts>,
}

/// The columns of a message's facts SORT orders by; the texts only when
/// asked for ([`SortTexts`]), each read costing an allocation per message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SortFacts {
    /// See [`FactColumns::header`]: without it the rest says nothing.
    pub header: bool,
    pub sent_at: Option<i64>,
    pub subject: Option<String>,
    pub from_name: Option<String>,
    pub from_address: Option<String>,
    pub to_addresses: Option<String>,
    pub cc_addresses: Option<String>,
}

/// A sort key kept on every folder row (see
/// [`FactColumns::imap_subject_key`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImapSortKey {
    Subject,
    From,
    /// The Date of a parsed header, else the arrival.
    Date,
}

impl ImapSortKey {
    /// Its column in `folder_messages`.
    pub(crate) fn column(self) -> &'static str {
        match self {
            ImapSortKey::Subject => "imap_subject_key",
            ImapSortKey::From => "imap_from_key",
            ImapSortKey::Date => "imap_date_key",
        }
    }
}

/// Which texts of [`SortFacts`] to read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SortTexts {
    pub subject: bool,
    pub from: bool,
    pub to: bool,
    pub cc: bool,
}

/// The statements of [`FactsStore::sorted_uids`], from the folder's sort
/// index when `indexed` ([`crate::sort_index`]): whether a row lacks the
/// key, then the UIDs in order (both backends write them alike). Key and UID
/// go the same way, so that the folder's index of the key is read as it is,
/// forward or backward, with nothing sorted after it; read backward
/// (REVERSE), equal keys come by descending UID, and the key comes with each
/// UID for [`ties_by_ascending_uid`] to put them back.
pub(crate) fn sorted_uids_sql(key: ImapSortKey, reverse: bool, parameter: &str, indexed: bool) -> (String, String) {
    let column = key.column();
    let (direction, keyed) = if reverse { ("DESC", format!(", {column}")) } else { ("ASC", String::new()) };
    let marked = marked_rows(indexed);
    (
        format!(
            "SELECT EXISTS (SELECT 1 FROM folder_messages WHERE folder_id = {parameter} AND {column} IS NULL{marked})"
        ),
        format!(
            "SELECT uid{keyed} FROM folder_messages WHERE folder_id = {parameter}{marked}
             ORDER BY {column} {direction}, uid {direction}"
        ),
    )
}

/// The UIDs of a backward read of [`sorted_uids_sql`], each numbered by its
/// run of equal keys, in SORT's order: RFC 5256 breaks ties by ascending
/// sequence number, REVERSE or not, so each run is turned around.
pub(crate) fn ties_by_ascending_uid(rows: Vec<(u32, u32)>) -> Vec<u32> {
    rows.chunk_by(|a, b| a.0 == b.0).flat_map(|run| run.iter().rev().map(|&(_, uid)| uid)).collect()
}

/// A read or processing receipt (RFC 8098) a mailbox received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The id (without brackets) of the message it is about.
    pub original: String,
    /// Who sent it (the recipient who read or processed the message).
    pub from: Option<String>,
    /// Its `Disposition`, as written.
    pub disposition: Option<String>,
    /// When it arrived.
    pub at: i64,
}

/// A message's facts as stored, not decoded: what a reader of each
/// message of a folder needs of them ([`FactsStore::messages_with_facts`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedFacts {
    pub version: u32,
    pub encoded: Vec<u8>,
}

/// Where a walk of the messages without facts stands
/// ([`FactsStore::blobs_without_facts`]): the last message it saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FactsWalk(pub(crate) i64);

/// Blobs in the order first seen, each once.
pub(crate) fn first_seen(hashes: impl IntoIterator<Item = BlobHash>) -> Vec<BlobHash> {
    let mut seen = std::collections::HashSet::new();
    hashes.into_iter().filter(|h| seen.insert(*h)).collect()
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
    /// The metadata of messages of a folder, by UID, ascending (as
    /// [`crate::MetadataStore::messages`]), each with its encoded facts
    /// when it has some: one read for what IMAP FETCH and SEARCH need of
    /// each message.
    async fn messages_with_facts(
        &self,
        folder: FolderId,
        uids: &[u32],
    ) -> Result<Vec<(MessageMeta, Option<EncodedFacts>)>, StoreError>;
    /// Blobs of the next `limit` messages after `after` without facts of
    /// `version` or later, in the order the messages were stored (each blob
    /// once), and where the walk stands after them. Facts written in that
    /// order lie in the order of the folders' rows, which SEARCH reads.
    async fn blobs_without_facts(
        &self,
        version: u32,
        after: FactsWalk,
        limit: usize,
    ) -> Result<(Vec<BlobHash>, FactsWalk), StoreError>;
    /// What has no facts of `version` or later.
    async fn facts_backlog(&self, version: u32) -> Result<FactsBacklog, StoreError>;
    /// Facts whose text a stopped process did not index (see the module's
    /// notes) counted as missing again, for the backfill that follows to
    /// write them anew; returns how many. Meant for the start of a
    /// backfill: texts still in flight are then written twice, never lost.
    /// A backend that indexes in the linking transaction has none.
    async fn requeue_unindexed_texts(&self) -> Result<u64, StoreError> {
        Ok(0)
    }
    /// Blobs of messages of `folder` without facts of `version` or later,
    /// at most `limit`: what a reader of the folder may index on the way.
    async fn folder_blobs_without_facts(
        &self,
        folder: FolderId,
        version: u32,
        limit: usize,
    ) -> Result<Vec<BlobHash>, StoreError>;
    /// The UIDs of `folder` by `key` (descending when `reverse`), by UID
    /// among equals: a whole-folder SORT read from an index. None when a
    /// message of the folder has no such key (facts missing, older, or not
    /// saying): SORT then reads its columns or its bytes.
    async fn sorted_uids(
        &self,
        folder: FolderId,
        key: ImapSortKey,
        reverse: bool,
    ) -> Result<Option<Vec<u32>>, StoreError>;
    /// Marks every row of `folder` for its sort indexes (see
    /// [`crate::sort_index`]), in batches, unless they are (then one read);
    /// returns once they are. The first sort of a folder by a key starts
    /// it in the background.
    async fn index_sort_keys(&self, folder: FolderId) -> Result<(), StoreError> {
        let mut step = self.mark_sorted_rows(folder, None).await?;
        while let Some(after) = step {
            step = self.mark_sorted_rows(folder, Some(after)).await?;
        }
        Ok(())
    }
    /// One step of [`FactsStore::index_sort_keys`], in a transaction of its
    /// own. From `None`: marks the folder, so that its new rows are written
    /// marked, and returns `Some(0)` (`None`, after one read, when the
    /// folder is gone or indexed already). From `Some(after)`: marks at most
    /// [`crate::sort_index::BATCH`] of its rows past UID `after` and returns
    /// the last UID marked, or `None` once every row is, the folder then
    /// indexed.
    async fn mark_sorted_rows(&self, folder: FolderId, after: Option<u32>) -> Result<Option<u32>, StoreError>;
    /// Every message of `folder`, by UID, ascending, with what its facts of
    /// `version` or later say (the texts in `texts`): one read for what
    /// SORT orders a whole folder by.
    async fn sort_rows(
        &self,
        folder: FolderId,
        version: u32,
        texts: SortTexts,
    ) -> Result<Vec<SortedMessage>, StoreError>;
    /// The UIDs of `folder` that may contain each needle (lowercase) in its
    /// header field: those whose facts of `version` or later, from a parsed
    /// header, keep that field's text and contain it, and every message
    /// whose facts do not say. A superset of what SEARCH finds with these
    /// keys, for it to check fewer messages; by UID, ascending, each with
    /// whether its facts answered (it then holds every needle, in the very
    /// texts SEARCH compares) or it is to be checked.
    async fn header_candidates(
        &self,
        folder: FolderId,
        version: u32,
        needles: &[(SearchedHeader, String)],
    ) -> Result<Vec<(u32, bool)>, StoreError>;
    /// The receipts `mailbox` received for the messages `ids` (without
    /// brackets), oldest first.
    async fn receipts(&self, mailbox: MailboxId, ids: &[String]) -> Result<Vec<Receipt>, StoreError>;
    /// The messages of `mailbox` holding a document whose id is one of
    /// `ids`, or replacing one of them; oldest first, at most 50.
    async fn document_copies(&self, mailbox: MailboxId, ids: &[String]) -> Result<Vec<DocumentCopy>, StoreError>;
    /// A page of the list of `folder`, sorted and searched.
    async fn folder_page(&self, folder: FolderId, query: &PageQuery) -> Result<FolderPage, StoreError>;
}
