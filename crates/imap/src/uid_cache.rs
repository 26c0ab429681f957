//! The UIDs of large folders, kept between sessions. SELECT needs the whole
//! list (sequence number n is the nth UID); reading it from the store costs
//! a row per message, about 130 ms for a folder of a million. Kept here, a
//! SELECT reads only what changed since the list was exact, as Dovecot
//! reads its index file and the log written after it.
//!
//! Why it is exact: every message added to a folder or expunged from it
//! raises the folder's HIGHESTMODSEQ, and the store answers what changed
//! since any MODSEQ (`changes_since`, what IDLE reports too). A list kept
//! with the MODSEQ read before it was read is brought up to date by the
//! changes since that MODSEQ; doing so twice changes nothing (a UID is
//! added once, only above the last; an expunged one is dropped if there).
//! Several nodes on one store stay right: the MODSEQ is the store's.
//!
//! Keyed by folder and UIDVALIDITY: a folder deleted and made again never
//! matches (UIDVALIDITY only grows). Bounded: folders under `min_uids`
//! are read each time (fast enough, nothing kept), and all the lists
//! together hold at most `max_uids`, the least recently selected leaving
//! first.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use mss_store::{Folder, FolderId, Store, StoreError};

/// Folders below this many messages are read each time.
const MIN_UIDS: usize = 10_000;

/// UIDs kept at most, all folders together (4 bytes each: 16 MiB).
const MAX_UIDS: usize = 4_000_000;

/// The lists, shared by the sessions of a server.
pub struct UidCache {
    min_uids: usize,
    max_uids: usize,
    lists: Mutex<Lists>,
}

#[derive(Default)]
struct Lists {
    by_folder: HashMap<(FolderId, u32), Kept>,
    /// UIDs held, all lists together.
    held: usize,
    /// Ticks at each use, to find the least recently used.
    clock: u64,
}

struct Kept {
    /// The list is exact at this MODSEQ (or later).
    modseq: u64,
    uids: Arc<Vec<u32>>,
    used: u64,
}

impl Default for UidCache {
    fn default() -> Self {
        Self::new(MIN_UIDS, MAX_UIDS)
    }
}

impl UidCache {
    /// Keeps the lists of folders of `min_uids` messages or more, at most
    /// `max_uids` UIDs in all.
    pub fn new(min_uids: usize, max_uids: usize) -> Self {
        Self { min_uids, max_uids, lists: Mutex::new(Lists::default()) }
    }

    /// The UIDs of `folder`, ascending, as of at least the moment its row
    /// was read.
    pub(crate) async fn uids(&self, store: &Store, folder: &Folder) -> Result<Vec<u32>, StoreError> {
        let key = (folder.id, folder.uidvalidity);
        let kept = {
            let mut lists = self.lock();
            lists.clock += 1;
            let now = lists.clock;
            lists.by_folder.get_mut(&key).map(|k| {
                k.used = now;
                (k.modseq, k.uids.clone())
            })
        };
        let (modseq, uids) = match kept {
            Some((modseq, uids)) if modseq == folder.highest_modseq => return Ok(uids.to_vec()),
            Some((modseq, uids)) if modseq < folder.highest_modseq => {
                let changes = store.meta.changes_since(folder.id, modseq).await?;
                let mut uids = uids.to_vec();
                let added = changes.changed.iter().map(|m| m.uid);
                catch_up(&mut uids, &changes.expunged, added);
                (changes.highest_modseq, uids)
            }
            // None kept, or kept from a later state than this row says
            // (the row was read before another session's SELECT).
            _ => (folder.highest_modseq, store.meta.folder_uids(folder.id).await?),
        };
        if uids.len() >= self.min_uids {
            self.keep(key, modseq, &uids);
        }
        Ok(uids)
    }

    fn keep(&self, key: (FolderId, u32), modseq: u64, uids: &[u32]) {
        if uids.len() > self.max_uids {
            return;
        }
        let mut lists = self.lock();
        lists.clock += 1;
        let used = lists.clock;
        if let Some(old) = lists.by_folder.insert(key, Kept { modseq, uids: Arc::new(uids.to_vec()), used }) {
            lists.held -= old.uids.len();
        }
        lists.held += uids.len();
        while lists.held > self.max_uids {
            let Some(oldest) = lists.by_folder.iter().min_by_key(|(_, k)| k.used).map(|(key, _)| *key) else {
                break;
            };
            if let Some(gone) = lists.by_folder.remove(&oldest) {
                lists.held -= gone.uids.len();
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Lists> {
        self.lists.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Brings an ascending list of UIDs up to date: drops the `expunged`
/// (ascending), appends the `changed` UIDs above its last one, in order.
/// Flag changes of UIDs it holds change nothing; doing it twice changes
/// nothing either.
pub(crate) fn catch_up(uids: &mut Vec<u32>, expunged: &[u32], changed: impl Iterator<Item = u32>) {
    if !expunged.is_empty() {
        uids.retain(|u| expunged.binary_search(u).is_err());
    }
    let last = uids.last().copied().unwrap_or(0);
    let mut added: Vec<u32> = changed.filter(|&u| u > last && expunged.binary_search(&u).is_err()).collect();
    added.sort_unstable();
    added.dedup();
    uids.extend(added);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_catches_up_with_expunges_and_additions_once() {
        let mut uids = vec![1, 2, 3, 5, 8];
        catch_up(&mut uids, &[2, 8, 9], [3, 10, 9, 12, 11].into_iter());
        assert_eq!(uids, [1, 3, 5, 10, 11, 12]);
        // The same changes again: nothing moves.
        catch_up(&mut uids, &[2, 8, 9], [3, 10, 9, 12, 11].into_iter());
        assert_eq!(uids, [1, 3, 5, 10, 11, 12]);
        // Everything expunged, then a newcomer.
        catch_up(&mut uids, &[1, 3, 5, 10, 11, 12], [13].into_iter());
        assert_eq!(uids, [13]);
    }
}
