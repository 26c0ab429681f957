//! A folder's sort keys, indexed once the folder is sorted.
//!
//! Each folder row copies its message's sort keys (the webmail's sender and
//! subject, IMAP SORT's subject, from and date). The five indexes that order
//! a folder by them hold only the rows marked `sorted`: a folder nobody
//! sorts (an INBOX read newest first, by clients that never send SORT)
//! costs its deliveries no entry in them. Before a folder is first sorted
//! by a key (a whole-folder SORT, a webmail page sorted by sender or
//! subject), its rows are marked
//! ([`crate::FactsStore::index_sort_keys`]):
//!
//! 1. the folder's `sort_index` goes from 0 to 1: from that commit on, its
//!    new rows are written marked;
//! 2. its older rows are marked [`BATCH`] at a time, by ascending UID, each
//!    batch a transaction of its own, deliveries committed between them;
//! 3. with the last batch, `sort_index` becomes 2. Every later sort finds it
//!    so in one read and goes straight to the index (its conditions say
//!    [`MARKED`], which the indexes' own conditions require).
//!
//! The first sort of a folder waits for that, once (a few seconds for a
//! million messages), as Dovecot's first SORT of a mailbox waits for the
//! sort keys its cache then starts keeping, for the same reason: what each
//! delivery writes. A marking cut short (a stop) leaves the folder at 1:
//! its next sort goes on with it, past the rows marked already.

/// Rows marked per transaction at most: a batch writes its rows and five
/// index entries each, and a delivery committed with it waits for them.
pub(crate) const BATCH: u32 = 500;

/// `folders.sort_index` once every row of the folder is marked.
pub(crate) const INDEXED: i32 = 2;

/// The condition of a query that reads a folder in the order of a sort key
/// (SQLite and PostgreSQL use a partial index only for a query whose
/// conditions imply the index's own).
pub(crate) const MARKED: &str = "sorted = TRUE";
