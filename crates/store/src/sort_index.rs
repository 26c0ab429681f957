//! A folder's sort keys, indexed once the folder is sorted.
//!
//! Each folder row copies its message's sort keys (the webmail's sender and
//! subject, IMAP SORT's subject, from and date). The five indexes that order
//! a folder by them hold only the rows marked `sorted`: a folder nobody
//! sorts (an INBOX read newest first, by clients that never send SORT)
//! costs its deliveries no entry in them. The first sort of a folder by a
//! key (a whole-folder SORT, a webmail page sorted by sender or subject) is
//! answered from the folder's rows, read and sorted whole, and starts the
//! marking of its rows in the background ([`Marking::start`],
//! [`crate::FactsStore::index_sort_keys`]):
//!
//! 1. the folder's `sort_index` goes from 0 to 1: from that commit on, its
//!    new rows are written marked;
//! 2. its older rows are marked [`BATCH`] at a time, by ascending UID, each
//!    batch a transaction of its own, deliveries committed between them;
//! 3. with the last batch, `sort_index` becomes 2: only then do the
//!    folder's sorts read the indexes ([`marked_rows`]).
//!
//! Dovecot decides the same way what its cache keeps (a field once a client
//! asks for it), for the same reason: what each delivery writes. A marking
//! cut short (a stop) leaves the folder at 1: its next sort starts it
//! again, past the rows marked already.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::Semaphore;

use crate::{FactsStore, FolderId};

/// Rows marked per transaction at most. Each batch writes again every page
/// of the five indexes its entries land on (they land all over each one),
/// so small batches multiply the writes: 100,000 rows took 5.6 s in
/// batches of 500, 1.2 s in batches of 5,000, 0.7 s in one (sqlite3,
/// synthetic rows, this machine). A delivery that comes during a batch
/// waits for it (~60 ms), during a folder's first seconds of being sorted.
pub(crate) const BATCH: u32 = 5_000;

/// `folders.sort_index` once every row of the folder is marked.
pub(crate) const INDEXED: i32 = 2;

/// The condition a query that reads a folder in the order of a sort key
/// adds when the folder's rows are all marked, for the index to serve it
/// (SQLite and PostgreSQL use a partial index only for a query whose
/// conditions imply the index's own); nothing otherwise (the folder's rows
/// then read and sorted whole).
pub(crate) fn marked_rows(indexed: bool) -> &'static str {
    if indexed { " AND sorted = TRUE" } else { "" }
}

/// The markings of this process: one task per folder, however many sorts
/// arrive meanwhile, and one folder marked at a time (a person who sorts
/// each of a hundred large folders at once queues their markings rather
/// than a hundred batches in one commit of the writer, which deliveries
/// would wait for).
#[derive(Clone)]
pub(crate) struct Marking(Arc<Markings>);

struct Markings {
    folders: Mutex<HashSet<FolderId>>,
    one_at_a_time: Semaphore,
}

impl Default for Marking {
    fn default() -> Self {
        Marking(Arc::new(Markings { folders: Mutex::default(), one_at_a_time: Semaphore::new(1) }))
    }
}

impl Marking {
    /// Marks `folder`'s rows in the background, unless that runs already.
    pub(crate) fn start<S: FactsStore + Clone + 'static>(&self, store: &S, folder: FolderId) {
        if !self.0.folders.lock().unwrap_or_else(PoisonError::into_inner).insert(folder) {
            return;
        }
        let (store, marking) = (store.clone(), self.clone());
        tokio::spawn(async move {
            // Held until the folder is marked (the semaphore is never closed).
            let _turn = marking.0.one_at_a_time.acquire().await;
            if let Err(e) = store.index_sort_keys(folder).await {
                tracing::warn!(folder, error = %e, "sort index: the marking of the folder's rows stopped");
            }
            marking.0.folders.lock().unwrap_or_else(PoisonError::into_inner).remove(&folder);
        });
    }
}
