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
//!   search and opens it; searches running on the old one finish on it.

pub mod extraction;
pub mod local;
pub mod query;
pub mod search;
pub mod snapshot;
pub mod synth;
pub mod zip;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use mss_store::Mailbox;
use rusqlite::{Connection, OptionalExtension};

pub use query::{Page, Query, QueryError};
pub use search::Hit;
pub use snapshot::{ImportError, ImportReport, Progress, import};

/// Read-only connections per snapshot.
const READERS: usize = 4;

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

/// One opened snapshot file.
struct Opened {
    inode: u64,
    readers: Vec<Mutex<Connection>>,
    next: AtomicUsize,
}

/// The searchable directory of a data directory.
pub struct Annuaire {
    path: PathBuf,
    /// Our mail domain: its snapshot entries are replaced by our store's.
    own_domain: Option<String>,
    current: Mutex<Option<Arc<Opened>>>,
}

impl Annuaire {
    /// The directory kept in `dir` (`<data>/annuaire`), for the operator
    /// of `own_domain`. Nothing is opened yet: there may be no snapshot.
    pub fn new(dir: &Path, own_domain: Option<String>) -> Self {
        Self { path: dir.join(snapshot::SNAPSHOT_FILE), own_domain, current: Mutex::new(None) }
    }

    /// The current snapshot, opened again if an import replaced it; `None`
    /// before the first import.
    fn opened(&self) -> Result<Option<Arc<Opened>>, SearchError> {
        let Ok(metadata) = std::fs::metadata(&self.path) else {
            return Ok(None);
        };
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(opened) = current.as_ref().filter(|o| o.inode == metadata.ino()) {
            return Ok(Some(opened.clone()));
        }
        let readers = (0..READERS)
            .map(|_| snapshot::open_read_only(&self.path).map(Mutex::new))
            .collect::<Result<Vec<_>, _>>()?;
        let opened = Arc::new(Opened { inode: metadata.ino(), readers, next: AtomicUsize::new(0) });
        *current = Some(opened.clone());
        Ok(Some(opened))
    }

    fn with_reader<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<Option<T>, SearchError> {
        let Some(opened) = self.opened()? else {
            return Ok(None);
        };
        let i = opened.next.fetch_add(1, Ordering::Relaxed) % opened.readers.len();
        let conn = opened.readers[i].lock().unwrap_or_else(|p| p.into_inner());
        Ok(Some(f(&conn)?))
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
        let exclude = self.own_domain.as_deref();
        let found =
            self.with_reader(|conn| search::run(conn, query, snapshot_offset, want, exclude))?.unwrap_or_default();
        hits.extend(found.0);
        Ok(Results {
            page: page.number,
            per_page: page.size,
            total: local_count + found.1,
            total_exact: found.1 < search::COUNT_CAP,
            hits,
        })
    }
}
