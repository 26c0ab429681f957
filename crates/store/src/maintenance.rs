//! Store maintenance: the consistency check behind `mss check`, and the
//! collection of blobs that no row names any more.
//!
//! A crash between a blob write and the commit of the row naming it leaves an
//! unreferenced blob (see the crate notes), and an expunged message leaves its
//! blob behind once the last folder row naming it is gone; neither is an
//! inconsistency, both are garbage. What the check does report: a row naming
//! a missing or damaged blob, a UID at or above its folder's UIDNEXT, and the
//! like; each is a sentence an administrator can act on.
//!
//! Collection must not race a delivery that re-uses an existing blob (the
//! same content delivered again): the blob store refreshes the time of a blob
//! each time it is stored again, and a blob is only collected when it has
//! been idle for a grace period far longer than a delivery takes.

use std::time::Duration;

use async_trait::async_trait;

use crate::{Store, StoreError};

/// Invariants the IMAP and delivery code rely on, as queries both backends
/// run: each row returned is one problem, described by the query's single
/// text column. Each backend adds its own integrity checks and the one
/// query its SQL dialect writes differently (a blob hash's shape).
pub(crate) const INVARIANTS: &[&str] = &[
    // A UID at or above UIDNEXT would be handed out again.
    "SELECT 'folder ' || f.id || ' (' || f.name || '): UID ' || MAX(fm.uid) || ' is not below UIDNEXT ' || f.uidnext
     FROM folders f JOIN folder_messages fm ON fm.folder_id = f.id
     GROUP BY f.id HAVING MAX(fm.uid) >= f.uidnext",
    // A change above HIGHESTMODSEQ would be invisible to CONDSTORE clients.
    "SELECT 'folder ' || f.id || ' (' || f.name || '): MODSEQ ' || MAX(fm.modseq) || ' above HIGHESTMODSEQ ' || f.highest_modseq
     FROM folders f JOIN folder_messages fm ON fm.folder_id = f.id
     GROUP BY f.id HAVING MAX(fm.modseq) > f.highest_modseq",
    "SELECT 'folder ' || e.folder_id || ': UID ' || e.uid || ' is both expunged and present'
     FROM expunged e JOIN folder_messages fm ON fm.folder_id = e.folder_id AND fm.uid = e.uid",
    // Expunge removes a message row with its last folder row, in one transaction.
    "SELECT 'message ' || m.id || ' is in no folder'
     FROM messages m WHERE NOT EXISTS (SELECT 1 FROM folder_messages fm WHERE fm.message_id = m.id)",
    "SELECT 'queued message ' || q.id || ' has no recipient'
     FROM queue_messages q WHERE NOT EXISTS (SELECT 1 FROM queue_recipients r WHERE r.message_id = q.id)",
    "SELECT 'mailbox ' || m.address || ' has no INBOX'
     FROM mailboxes m WHERE m.state <> 'deleted'
     AND NOT EXISTS (SELECT 1 FROM folders f WHERE f.mailbox_id = m.id AND f.name = 'INBOX')",
    // The counts a folder's row keeps are what STATUS and the webmail show.
    "SELECT 'folder ' || f.id || ' (' || f.name || '): its row counts ' || f.message_count || ' messages, '
            || f.unseen_count || ' unseen, ' || f.deleted_count || ' deleted, ' || f.total_size
            || ' bytes; its messages are ' || coalesce(c.n, 0) || ', ' || coalesce(c.unseen, 0) || ', '
            || coalesce(c.deleted, 0) || ', ' || coalesce(c.size, 0)
     FROM folders f LEFT JOIN
         (SELECT fm.folder_id, count(*) AS n, sum(CASE WHEN fm.system_flags & 1 = 0 THEN 1 ELSE 0 END) AS unseen,
                 sum(CASE WHEN fm.system_flags & 8 <> 0 THEN 1 ELSE 0 END) AS deleted, sum(m.size) AS size
          FROM folder_messages fm JOIN messages m ON m.id = fm.message_id GROUP BY fm.folder_id) c
         ON c.folder_id = f.id
     WHERE f.message_count <> coalesce(c.n, 0) OR f.unseen_count <> coalesce(c.unseen, 0)
        OR f.deleted_count <> coalesce(c.deleted, 0) OR f.total_size <> coalesce(c.size, 0)",
];

/// Counts every folder's messages again into the counts its row keeps
/// (migrations: SQLite 0030, PostgreSQL 0008), in SQL both backends run:
/// after a copy of the tables, whose rows come with their folders' counts
/// and then count themselves again on insert.
pub(crate) const RECOUNT_FOLDERS: &str = "UPDATE folders SET (message_count, unseen_count, deleted_count, total_size) =
        (SELECT count(*), coalesce(sum(CASE WHEN fm.system_flags & 1 = 0 THEN 1 ELSE 0 END), 0),
                coalesce(sum(CASE WHEN fm.system_flags & 8 <> 0 THEN 1 ELSE 0 END), 0), coalesce(sum(m.size), 0)
         FROM folder_messages fm JOIN messages m ON m.id = fm.message_id WHERE fm.folder_id = folders.id)";

/// At most this many problems of one kind are listed.
pub(crate) const PROBLEMS_PER_CHECK: usize = 100;

/// What the metadata backend checks about itself (the blobs its rows name
/// come from [`crate::MetadataStore::referenced_blobs`]).
#[async_trait]
pub trait MaintenanceStore: Send + Sync {
    /// The backend's own integrity check and the invariants mss relies on;
    /// one sentence per problem, empty when all is well.
    async fn check_metadata(&self) -> Result<Vec<String>, StoreError>;
    /// Writes a consistent copy of the metadata, as of one moment, to a new
    /// database at `path` (an embedded store's file), while others write.
    async fn snapshot_to(&self, path: &std::path::Path) -> Result<(), StoreError>;
}

/// What [`Store::backup_into`] copied.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Backup {
    /// Blobs the copy names, and how many of them were copied as files
    /// (the others are kept inside the database).
    pub blobs: usize,
    pub copied: usize,
}

/// The outcome of [`Store::check`].
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CheckReport {
    /// Inconsistencies, one sentence each: the store needs attention.
    pub problems: Vec<String>,
    /// How many blobs rows name.
    pub referenced_blobs: usize,
    /// Blobs no row names (garbage, collected by [`Store::collect_blobs`]).
    pub unreferenced_blobs: usize,
    /// Stored messages without facts (see [`crate::FactsStore`]): not a
    /// fault, work for `mss messages index`.
    pub messages_without_facts: u64,
}

impl CheckReport {
    /// Whether nothing is wrong.
    pub fn is_consistent(&self) -> bool {
        self.problems.is_empty()
    }
}

/// How many blobs [`Store::collect_blobs`] looked at and removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Collection {
    pub unreferenced: usize,
    pub removed: usize,
}

/// Unreferenced blobs younger than this are left alone: a delivery may be
/// between its blob write and its commit.
pub const COLLECTION_GRACE: Duration = Duration::from_secs(3600);

impl Store {
    /// Checks the metadata, then that every blob a row names is present and
    /// matches its hash (when `verify_content`; that reads every blob).
    pub async fn check(&self, verify_content: bool) -> Result<CheckReport, StoreError> {
        let mut problems = self.meta.check_metadata().await?;
        // Rows first, then blobs: a blob is durable before a row names it, so
        // a row read here always has its blob, whatever is delivered meanwhile.
        let referenced = self.meta.referenced_blobs().await?; // sorted
        for hash in &referenced {
            let present = if verify_content {
                self.blobs.get(hash).await.map(|data| data.is_some())
            } else {
                self.blobs.contains(hash).await
            };
            match present {
                Ok(true) => {}
                Ok(false) => problems.push(format!("blob {hash} is named by a row but missing")),
                Err(e) => problems.push(format!("blob {hash} cannot be read: {e}")),
            }
        }
        let stored = self.blobs.list().await?;
        let unreferenced = stored.iter().filter(|h| referenced.binary_search(h).is_err()).count();
        let messages_without_facts = self.meta.facts_backlog(0).await?.messages;
        Ok(CheckReport {
            problems,
            referenced_blobs: referenced.len(),
            unreferenced_blobs: unreferenced,
            messages_without_facts,
        })
    }

    /// Copies this store, as of one moment, into the embedded store of `dir`
    /// (which must not hold one): the metadata first (a snapshot), then
    /// every blob the snapshot names, each checked against its hash; mail
    /// keeps flowing meanwhile. A blob gone since the snapshot (expunged and
    /// collected) is a problem the copy reports: it fails.
    pub async fn backup_into(&self, dir: &std::path::Path) -> Result<Backup, StoreError> {
        let database = dir.join(crate::EMBEDDED_DATABASE);
        if database.exists() {
            return Err(StoreError::Invalid(format!("{} already holds a store", dir.display())));
        }
        self.meta.snapshot_to(&database).await?;
        let copy = Store::open(&crate::StoreConfig::Embedded { dir: dir.to_path_buf() }).await?;
        let named = copy.meta.referenced_blobs().await?;
        let mut backup = Backup { blobs: named.len(), copied: 0 };
        for hash in &named {
            if copy.blobs.contains(hash).await? {
                continue;
            }
            let Some(data) = self.blobs.get(hash).await? else {
                return Err(StoreError::NotFound(format!("blob {hash}, named by the snapshot")));
            };
            if copy.blobs.put(data.into()).await? != *hash {
                return Err(StoreError::Invalid(format!("blob {hash} does not match its hash")));
            }
            backup.copied += 1;
        }
        copy.audit.flush().await;
        Ok(backup)
    }

    /// Removes the blobs no row names that have been idle for `grace`.
    pub async fn collect_blobs(&self, grace: Duration) -> Result<Collection, StoreError> {
        // Blobs first, then rows: a blob stored after the listing is not a
        // candidate; one stored again before it is refreshed and stays.
        let stored = self.blobs.list().await?;
        let referenced = self.meta.referenced_blobs().await?; // sorted
        let mut collection = Collection::default();
        for hash in stored.iter().filter(|h| referenced.binary_search(h).is_err()) {
            collection.unreferenced += 1;
            if self.blobs.remove_if_idle(hash, grace).await? {
                collection.removed += 1;
            }
        }
        Ok(collection)
    }
}
