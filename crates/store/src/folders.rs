//! Folders and the messages in them, as IMAP sees them: UIDs, flags,
//! MODSEQs, the expunge history, and the change notifications that wake
//! other sessions (IDLE) when one of them, or a delivery, changes a folder.
//!
//! Every mutation bumps the folder's HIGHESTMODSEQ once and stamps each
//! message it touched with the new value (RFC 7162), so "what changed since
//! MODSEQ n" is one indexed query.

use async_trait::async_trait;

use crate::{BlobHash, MailboxId, StoreError};

/// Database id of a folder.
pub type FolderId = i64;

/// Hierarchy separator of folder names ("Projets/2026").
pub const FOLDER_SEPARATOR: char = '/';

/// A folder of a mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folder {
    pub id: FolderId,
    pub mailbox: MailboxId,
    pub name: String,
    pub uidvalidity: u32,
    pub uidnext: u32,
    pub highest_modseq: u64,
    /// RFC 6154 attribute (`\Sent`, `\Trash`...).
    pub special_use: Option<String>,
    pub subscribed: bool,
}

/// Counts for STATUS and SELECT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FolderCounts {
    pub messages: u32,
    pub unseen: u32,
    pub deleted: u32,
    /// Sum of the message sizes, in bytes.
    pub size: u64,
}

/// One message of a folder, without its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageMeta {
    pub uid: u32,
    /// Flags and keywords, as stored (`\Seen`, `$Forwarded`...).
    pub flags: Vec<String>,
    pub modseq: u64,
    pub blob: BlobHash,
    pub size: u64,
    /// Unix seconds (INTERNALDATE).
    pub received_at: i64,
}

impl MessageMeta {
    pub fn has_flag(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f.eq_ignore_ascii_case(flag))
    }
}

/// A message to append, its body stored by [`crate::Store::body`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    pub blob: BlobHash,
    pub size: u64,
    /// Unix seconds (INTERNALDATE).
    pub received_at: i64,
    pub flags: Vec<String>,
    /// A small body, written with the rows that name it (see [`crate::Body`]).
    pub inline: Option<Vec<u8>>,
}

/// How STORE changes flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagChange {
    Add,
    Remove,
    Replace,
}

/// The outcome of a flag change.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FlagsUpdated {
    /// Messages whose flags changed: (UID, new flags, new MODSEQ).
    pub changed: Vec<(u32, Vec<String>, u64)>,
    /// UIDs left alone because they changed after UNCHANGEDSINCE.
    pub modified: Vec<u32>,
}

/// Messages copied or moved: the target's UIDVALIDITY and the (source UID,
/// new UID) pairs, for COPYUID (RFC 4315).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copied {
    pub uidvalidity: u32,
    pub pairs: Vec<(u32, u32)>,
}

/// What happened in a folder since a MODSEQ.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Changes {
    pub highest_modseq: u64,
    pub uidnext: u32,
    /// UIDs expunged since, ascending.
    pub expunged: Vec<u32>,
    /// Messages added or whose flags changed since, by UID.
    pub changed: Vec<MessageMeta>,
}

/// Folder operations of the metadata store.
#[async_trait]
pub trait FolderStore: Send + Sync {
    /// The folders of a mailbox, by name.
    async fn folders(&self, mailbox: MailboxId) -> Result<Vec<Folder>, StoreError>;
    async fn folder(&self, mailbox: MailboxId, name: &str) -> Result<Option<Folder>, StoreError>;
    /// [`StoreError::AlreadyPresent`] if the name is taken.
    async fn create_folder(&self, mailbox: MailboxId, name: &str) -> Result<Folder, StoreError>;
    /// Deletes a folder and its messages. INBOX cannot be deleted, nor a
    /// folder with children ([`StoreError::Invalid`]).
    async fn delete_folder(&self, mailbox: MailboxId, name: &str) -> Result<(), StoreError>;
    /// Renames a folder and its children. Renaming INBOX moves its messages
    /// into the new folder and leaves INBOX empty (RFC 9051 §6.3.6).
    async fn rename_folder(&self, mailbox: MailboxId, from: &str, to: &str) -> Result<(), StoreError>;
    async fn set_subscribed(&self, mailbox: MailboxId, name: &str, subscribed: bool) -> Result<(), StoreError>;
    async fn folder_counts(&self, folder: FolderId) -> Result<FolderCounts, StoreError>;
    /// Every UID of the folder, ascending: the session's sequence-number map.
    async fn folder_uids(&self, folder: FolderId) -> Result<Vec<u32>, StoreError>;
    /// UIDs of the messages that have every flag of `with` and none of
    /// `without` (case-insensitive), ascending: SEARCH by flags without
    /// reading each message.
    async fn uids_by_flags(
        &self,
        folder: FolderId,
        with: &[String],
        without: &[String],
    ) -> Result<Vec<u32>, StoreError>;
    /// The messages with these UIDs, ascending (in any order, duplicates
    /// once; missing ones are skipped).
    async fn messages(&self, folder: FolderId, uids: &[u32]) -> Result<Vec<MessageMeta>, StoreError>;
    async fn set_flags(
        &self,
        folder: FolderId,
        uids: &[u32],
        change: FlagChange,
        flags: &[String],
        unchanged_since: Option<u64>,
    ) -> Result<FlagsUpdated, StoreError>;
    /// Appends messages whose blobs are stored, all or none (APPEND,
    /// MULTIAPPEND, imports); returns the UIDVALIDITY and the new UIDs.
    async fn append(&self, folder: FolderId, messages: &[Appended]) -> Result<(u32, Vec<u32>), StoreError> {
        self.append_indexed(folder, messages, &[]).await
    }
    /// The same, with the facts of their blobs written in the same
    /// transaction (see [`crate::FactsStore`]).
    async fn append_indexed(
        &self,
        folder: FolderId,
        messages: &[Appended],
        facts: &[crate::MessageFacts],
    ) -> Result<(u32, Vec<u32>), StoreError>;
    async fn copy_messages(&self, from: FolderId, uids: &[u32], to: FolderId) -> Result<Copied, StoreError>;
    /// Copies, then expunges from the source, in one transaction.
    async fn move_messages(&self, from: FolderId, uids: &[u32], to: FolderId) -> Result<Copied, StoreError>;
    /// Removes the messages flagged `\Deleted` (only those in `uids` when
    /// given); returns their UIDs, ascending.
    async fn expunge(&self, folder: FolderId, uids: Option<&[u32]>) -> Result<Vec<u32>, StoreError>;
    async fn changes_since(&self, folder: FolderId, modseq: u64) -> Result<Changes, StoreError>;
    /// Announces each mailbox whose folders change, after the change is
    /// committed. A lagging receiver should re-read everything it watches.
    fn watch(&self) -> tokio::sync::broadcast::Receiver<MailboxId>;
}

/// Flags as stored: one space-separated string, each flag once.
/// The system flags as the bits of the `system_flags` column, in this order.
pub(crate) const SYSTEM_FLAGS: [&str; 5] = ["\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft"];

/// The bit of `\Seen` (the first of [`SYSTEM_FLAGS`]).
pub(crate) const SEEN_BIT: i64 = 1;

/// The bit of a system flag; `None` for keywords.
pub(crate) fn system_flag_bit(flag: &str) -> Option<i64> {
    SYSTEM_FLAGS.iter().position(|f| f.eq_ignore_ascii_case(flag)).map(|i| 1 << i)
}

/// The bits of the system flags among `flags`.
pub(crate) fn system_flag_bits(flags: &[String]) -> i64 {
    flags.iter().filter_map(|f| system_flag_bit(f)).fold(0, |bits, bit| bits | bit)
}

pub(crate) fn join_flags(flags: &[String]) -> String {
    let mut out: Vec<&str> = Vec::with_capacity(flags.len());
    for flag in flags {
        if !out.iter().any(|f| f.eq_ignore_ascii_case(flag)) {
            out.push(flag);
        }
    }
    out.join(" ")
}

pub(crate) fn split_flags(stored: &str) -> Vec<String> {
    stored.split(' ').filter(|f| !f.is_empty()).map(str::to_string).collect()
}

/// Applies a STORE to the current flags.
pub(crate) fn apply_flags(current: &[String], change: FlagChange, flags: &[String]) -> Vec<String> {
    let mut out: Vec<String> = match change {
        FlagChange::Replace => Vec::new(),
        FlagChange::Add | FlagChange::Remove => current.to_vec(),
    };
    match change {
        FlagChange::Remove => out.retain(|f| !flags.iter().any(|r| r.eq_ignore_ascii_case(f))),
        FlagChange::Add | FlagChange::Replace => {
            for flag in flags {
                if !out.iter().any(|f| f.eq_ignore_ascii_case(flag)) {
                    out.push(flag.clone());
                }
            }
        }
    }
    out
}

/// What a STORE changes on `current`, the messages it names: the UIDs
/// modified since `unchanged_since` (left as they are, RFC 7162
/// UNCHANGEDSINCE) in the answer, and each message whose flags change with
/// its new flags, for the backend to write under a new modseq.
pub(crate) fn flag_changes(
    current: Vec<MessageMeta>,
    change: FlagChange,
    flags: &[String],
    unchanged_since: Option<u64>,
) -> (FlagsUpdated, Vec<(u32, Vec<String>)>) {
    let mut updated = FlagsUpdated::default();
    let mut new = Vec::new();
    for meta in current {
        if unchanged_since.is_some_and(|since| meta.modseq > since) {
            updated.modified.push(meta.uid);
            continue;
        }
        let next = apply_flags(&meta.flags, change, flags);
        if next != meta.flags {
            new.push((meta.uid, next));
        }
    }
    (updated, new)
}

/// Splits ascending UIDs into inclusive runs, so a set becomes a few range
/// queries.
pub(crate) fn uid_runs(uids: &[u32]) -> Vec<(u32, u32)> {
    let mut runs: Vec<(u32, u32)> = Vec::new();
    for &uid in uids {
        match runs.last_mut() {
            Some((_, end)) if end.checked_add(1) == Some(uid) => *end = uid,
            _ => runs.push((uid, uid)),
        }
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_are_kept_once_case_insensitively() {
        let current = vec!["\\Seen".to_string()];
        let added = apply_flags(&current, FlagChange::Add, &["\\seen".into(), "$Label".into()]);
        assert_eq!(added, vec!["\\Seen", "$Label"]);
        assert_eq!(apply_flags(&added, FlagChange::Remove, &["\\SEEN".into()]), vec!["$Label"]);
        assert_eq!(apply_flags(&added, FlagChange::Replace, &["\\Flagged".into()]), vec!["\\Flagged"]);
        assert_eq!(split_flags(&join_flags(&added)), added);
    }

    #[test]
    fn uids_become_runs() {
        assert_eq!(uid_runs(&[1, 2, 3, 7, 9, 10]), vec![(1, 3), (7, 7), (9, 10)]);
        assert_eq!(uid_runs(&[u32::MAX - 1, u32::MAX]), vec![(u32::MAX - 1, u32::MAX)]);
        assert!(uid_runs(&[]).is_empty());
    }
}
