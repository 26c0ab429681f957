//! The Annuaire Santé: the national extraction of MSSanté mailboxes,
//! imported into a snapshot ([`snapshot`]) and searched ([`search`]),
//! together with our own active mailboxes ([`local`]).
//!
//! Rules kept here:
//! - the snapshot is a separate SQLite file, never the operator's metadata
//!   store; readers open it read-only;
//! - an import becomes visible whole, by a rename: a search sees the old
//!   snapshot or the new one, never a mix, and a failed import changes
//!   nothing;
//! - [`Annuaire`] notices a new snapshot (its inode changed) at the next
//!   search and opens it, loading its [`index`] once; searches running on
//!   the old one finish on it, and others keep using it while the new one
//!   loads;
//! - the index is immutable and shared by every search without locks; a
//!   search first takes one of the snapshot's few read-only connections,
//!   in order of arrival, which bounds how many run at once (see
//!   [`readers`]), and holds it to its end.

pub mod extraction;
pub mod index;
pub mod local;
pub mod query;
pub mod search;
pub mod snapshot;
pub mod synth;
pub mod zip;

use std::collections::VecDeque;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock, TryLockError};

use mss_store::Mailbox;
use rusqlite::{Connection, OptionalExtension};

pub use query::{Page, Query, QueryError};
pub use search::Hit;
pub use snapshot::{ImportError, ImportReport, Progress, import};

/// A page of search results.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Results {
    pub page: u32,
    pub per_page: u32,
    /// Matches counted, ours and the directory's.
    pub total: u64,
    /// False when the directory's part was counted only up to
    /// [`search::COUNT_CAP`].
    pub total_exact: bool,
    pub hits: Vec<Hit>,
}

/// What the current snapshot is.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SnapshotInfo {
    pub sequence: i64,
    /// Unix seconds.
    pub imported_at: i64,
    pub entries: i64,
    pub rejected: i64,
}

/// Why a search failed (not the person's fault).
#[derive(Debug, thiserror::Error)]
#[error("directory snapshot: {0}")]
pub struct SearchError(#[from] rusqlite::Error);

/// One opened snapshot file and its index.
struct Opened {
    inode: u64,
    index: index::Index,
    readers: Readers,
}

impl Opened {
    /// Opens the snapshot at `path`, `None` if an import replaced it
    /// meanwhile (every connection must be on the file the index is of).
    fn open(path: &Path, inode: u64) -> Result<Option<Self>, SearchError> {
        let connections = (0..readers()).map(|_| snapshot::open_read_only(path)).collect::<Result<Vec<_>, _>>()?;
        if std::fs::metadata(path).map(|m| m.ino()).ok() != Some(inode) {
            return Ok(None);
        }
        let index = index::Index::load(&connections[0])?;
        Ok(Some(Self { inode, index, readers: Readers::new(connections) }))
    }
}

/// Searches running at once: four per core. Searches are short and use
/// the CPU only; a few more than cores keep the cores busy while a search
/// handed a connection waits to be scheduled, many more only add the
/// scheduler's preemptions in the middle of searches to their times (tens
/// of milliseconds with dozens of threads on two cores): waiting in line
/// costs less. On 2 cores, 50 clients, p99 was 13-20 ms with one per core,
/// 7-13 ms with two, 7-8 ms with four, 9-10.5 ms with eight.
fn readers() -> usize {
    4 * std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

/// The read-only connections of a snapshot, one per running search,
/// handed out in the order searches ask for them.
struct Readers {
    state: Mutex<ReadersState>,
}

struct ReadersState {
    free: Vec<Connection>,
    waiting: VecDeque<Arc<Handoff>>,
}

/// Where a waiting search receives its connection.
struct Handoff {
    conn: Mutex<Option<Connection>>,
    thread: std::thread::Thread,
}

impl Readers {
    fn new(free: Vec<Connection>) -> Self {
        Self { state: Mutex::new(ReadersState { free, waiting: VecDeque::new() }) }
    }

    /// A connection, at once if one is free, else after the searches that
    /// asked before.
    fn take(&self) -> Reader<'_> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(conn) = state.free.pop() {
            return Reader { readers: self, conn: Some(conn) };
        }
        let handoff = Arc::new(Handoff { conn: Mutex::new(None), thread: std::thread::current() });
        state.waiting.push_back(handoff.clone());
        drop(state);
        loop {
            if let Some(conn) = handoff.conn.lock().unwrap_or_else(|p| p.into_inner()).take() {
                return Reader { readers: self, conn: Some(conn) };
            }
            std::thread::park();
        }
    }

    fn give_back(&self, conn: Connection) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match state.waiting.pop_front() {
            Some(next) => {
                *next.conn.lock().unwrap_or_else(|p| p.into_inner()) = Some(conn);
                next.thread.unpark();
            }
            None => state.free.push(conn),
        }
    }
}

/// A connection taken from [`Readers`], given back when dropped.
struct Reader<'a> {
    readers: &'a Readers,
    conn: Option<Connection>,
}

impl std::ops::Deref for Reader<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        self.conn.as_ref().expect("a reader holds its connection until dropped")
    }
}

impl Drop for Reader<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.readers.give_back(conn);
        }
    }
}

/// The searchable directory of a data directory.
pub struct Annuaire {
    path: PathBuf,
    /// Our mail domain: its snapshot entries are replaced by our store's.
    own_domain: Option<String>,
    current: RwLock<Option<Arc<Opened>>>,
    /// Held while a snapshot is opened and indexed, one at a time.
    opening: Mutex<()>,
}

impl Annuaire {
    /// The directory kept in `dir` (`<data>/annuaire`), for the operator
    /// of `own_domain`. Nothing is opened yet: there may be no snapshot.
    pub fn new(dir: &Path, own_domain: Option<String>) -> Self {
        Self {
            path: dir.join(snapshot::SNAPSHOT_FILE),
            own_domain,
            current: RwLock::new(None),
            opening: Mutex::new(()),
        }
    }

    /// The current snapshot, opened again if an import replaced it; `None`
    /// before the first import.
    fn opened(&self) -> Result<Option<Arc<Opened>>, SearchError> {
        let Ok(metadata) = std::fs::metadata(&self.path) else {
            return Ok(None);
        };
        let current = || self.current.read().unwrap_or_else(|p| p.into_inner()).clone();
        let previous = current();
        if let Some(opened) = previous.as_ref().filter(|o| o.inode == metadata.ino()) {
            return Ok(Some(opened.clone()));
        }
        let opening = match (self.opening.try_lock(), previous) {
            (Ok(opening), _) => opening,
            (Err(TryLockError::Poisoned(p)), _) => p.into_inner(),
            // Another search is opening the new snapshot: this one keeps
            // to the previous, as if it had started a moment earlier.
            (Err(TryLockError::WouldBlock), Some(previous)) => return Ok(Some(previous)),
            (Err(TryLockError::WouldBlock), None) => self.opening.lock().unwrap_or_else(|p| p.into_inner()),
        };
        if let Some(opened) = current().filter(|o| o.inode == metadata.ino()) {
            return Ok(Some(opened));
        }
        let Some(opened) = Opened::open(&self.path, metadata.ino())? else {
            // Replaced while opening: the next search opens the new one.
            return Ok(current());
        };
        let opened = Arc::new(opened);
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Some(opened.clone());
        drop(opening);
        Ok(Some(opened))
    }

    fn with_reader<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<Option<T>, SearchError> {
        let Some(opened) = self.opened()? else {
            return Ok(None);
        };
        Ok(Some(f(&opened.readers.take())?))
    }

    /// The current snapshot, if any.
    pub fn info(&self) -> Result<Option<SnapshotInfo>, SearchError> {
        let read = |conn: &Connection| {
            let value = |key: &str| -> rusqlite::Result<i64> {
                let text: Option<String> =
                    conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0)).optional()?;
                Ok(text.and_then(|t| t.parse().ok()).unwrap_or(0))
            };
            Ok(SnapshotInfo {
                sequence: value("sequence")?,
                imported_at: value("imported_at")?,
                entries: value("entries")?,
                rejected: value("rejected")?,
            })
        };
        self.with_reader(read)
    }

    /// Searches our `own` mailboxes (those of them that are public come
    /// first) and the snapshot. Blocking: call it off the async runtime.
    pub fn search(&self, query: &Query, page: Page, own: &[Mailbox]) -> Result<Results, SearchError> {
        let mut local: Vec<Hit> = own.iter().filter(|m| local::matches(m, query)).map(local::hit).collect();
        local.sort_by(|a, b| a.name.cmp(&b.name));
        let (offset, size) = (page.offset(), u64::from(page.size));
        let local_count = local.len() as u64;
        let mut hits: Vec<Hit> = local.into_iter().skip(offset as usize).take(size as usize).collect();
        let want = size - hits.len() as u64;
        let snapshot_offset = offset.saturating_sub(local_count);
        let mut total = 0;
        if let Some(opened) = self.opened()? {
            // Taken first: it is also this search's turn to run.
            let reader = opened.readers.take();
            let (rows, found) = search::find(&opened.index, query, snapshot_offset, want, self.own_domain.as_deref());
            hits.extend(search::hits(&reader, &rows)?);
            total = found;
        }
        Ok(Results {
            page: page.number,
            per_page: page.size,
            total: local_count + total,
            total_exact: total < search::COUNT_CAP,
            hits,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn no_more_searches_run_at_once_than_there_are_readers_and_all_get_their_turn() {
        let connections = (0..2).map(|_| Connection::open_in_memory().unwrap()).collect();
        let readers = Readers::new(connections);
        let (running, most, done) = (AtomicUsize::new(0), AtomicUsize::new(0), AtomicUsize::new(0));
        std::thread::scope(|scope| {
            for _ in 0..12 {
                scope.spawn(|| {
                    for _ in 0..5 {
                        let reader = readers.take();
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        reader.query_row("SELECT 1", [], |r| r.get::<_, i64>(0)).unwrap();
                        std::thread::sleep(std::time::Duration::from_millis(1));
                        running.fetch_sub(1, Ordering::SeqCst);
                        drop(reader);
                        done.fetch_add(1, Ordering::SeqCst);
                    }
                });
            }
        });
        assert_eq!((most.load(Ordering::SeqCst), done.load(Ordering::SeqCst)), (2, 60));
        assert_eq!(readers.state.lock().unwrap().free.len(), 2, "every connection given back");
    }
}
