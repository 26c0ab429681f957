//! [`FolderStore`] on PostgreSQL.
//!
//! Transactions run side by side here (SQLite runs one writer at a time):
//! every change to a folder's messages first locks the folder's row
//! (`SELECT … FOR UPDATE`, two folders in the order of their ids), so that
//! what it reads (flags, UIDNEXT, HIGHESTMODSEQ) stays what it writes over,
//! and two nodes never hand out the same UID or MODSEQ. Changes to a
//! mailbox's folder names (create, delete, rename) lock its mailbox row.

use std::collections::HashMap;

use async_trait::async_trait;
use deadpool_postgres::{GenericClient, Transaction};
use tokio_postgres::types::ToSql;
use tokio_postgres::{IsolationLevel, Row};

use super::facts::{folders_updated_by, insert_facts, stored_u32};
use super::inline_blobs::link_inline_blob;
use super::{PgStore, next_uidvalidity, parse_col, retried};
use crate::folders::*;
use crate::{INBOX, MailboxId, StoreError};

const FOLDER_COLUMNS: &str = "id, mailbox_id, name, uidvalidity, uidnext, highest_modseq, special_use, subscribed";

fn folder_row(row: &Row) -> Result<Folder, StoreError> {
    Ok(Folder {
        id: row.try_get(0)?,
        mailbox: row.try_get(1)?,
        name: row.try_get(2)?,
        uidvalidity: stored_u32("uidvalidity", row.try_get(3)?)?,
        uidnext: stored_u32("uidnext", row.try_get(4)?)?,
        highest_modseq: row.try_get::<_, i64>(5)?.max(0) as u64,
        special_use: row.try_get(6)?,
        subscribed: row.try_get(7)?,
    })
}

async fn folder_by_name(
    client: &impl GenericClient,
    mailbox: MailboxId,
    name: &str,
) -> Result<Option<Folder>, StoreError> {
    let sql = format!("SELECT {FOLDER_COLUMNS} FROM folders WHERE mailbox_id = $1 AND name = $2");
    let stmt = client.prepare_cached(&sql).await?;
    client.query_opt(&stmt, &[&mailbox, &name]).await?.as_ref().map(folder_row).transpose()
}

async fn folder_by_id(client: &impl GenericClient, id: FolderId) -> Result<Folder, StoreError> {
    let sql = format!("SELECT {FOLDER_COLUMNS} FROM folders WHERE id = $1");
    let stmt = client.prepare_cached(&sql).await?;
    let row = client.query_opt(&stmt, &[&id]).await?;
    row.as_ref().map(folder_row).transpose()?.ok_or_else(|| StoreError::NotFound(format!("folder {id}")))
}

/// Locks a folder's row until the transaction ends, and reads it.
pub(super) async fn lock_folder(tx: &Transaction<'_>, id: FolderId) -> Result<Folder, StoreError> {
    let sql = format!("SELECT {FOLDER_COLUMNS} FROM folders WHERE id = $1 FOR UPDATE");
    let stmt = tx.prepare_cached(&sql).await?;
    let row = tx.query_opt(&stmt, &[&id]).await?;
    row.as_ref().map(folder_row).transpose()?.ok_or_else(|| StoreError::NotFound(format!("folder {id}")))
}

/// Locks the folders of `ids` that are still there until the transaction
/// ends (one deleted meanwhile took its rows with it): folders whose rows
/// a transaction's facts update ([`folders_updated_by`]).
pub(super) async fn lock_folders_if_there(
    tx: &Transaction<'_>,
    ids: impl IntoIterator<Item = FolderId>,
) -> Result<(), StoreError> {
    let mut ids = ids.into_iter().peekable();
    if ids.peek().is_none() {
        return Ok(());
    }
    let stmt = tx.prepare_cached("SELECT 1 FROM folders WHERE id = $1 FOR UPDATE").await?;
    for id in ids {
        tx.query_opt(&stmt, &[&id]).await?;
    }
    Ok(())
}

/// Locks two folders, the lower id first (two transactions locking the same
/// two never wait for each other); returns them in the order asked.
async fn lock_folders(tx: &Transaction<'_>, a: FolderId, b: FolderId) -> Result<(Folder, Folder), StoreError> {
    if a == b {
        let folder = lock_folder(tx, a).await?;
        return Ok((folder.clone(), folder));
    }
    let first = lock_folder(tx, a.min(b)).await?;
    let second = lock_folder(tx, a.max(b)).await?;
    Ok(if a < b { (first, second) } else { (second, first) })
}

/// Locks a mailbox's folder names (its row, without blocking the rows that
/// refer to it) until the transaction ends.
async fn lock_names(tx: &Transaction<'_>, mailbox: MailboxId) -> Result<(), StoreError> {
    let stmt = tx.prepare_cached("SELECT 1 FROM mailboxes WHERE id = $1 FOR NO KEY UPDATE").await?;
    match tx.query_opt(&stmt, &[&mailbox]).await? {
        Some(_) => Ok(()),
        None => Err(StoreError::NotFound(format!("mailbox {mailbox}"))),
    }
}

async fn insert_folder(tx: &Transaction<'_>, mailbox: MailboxId, name: &str) -> Result<(), StoreError> {
    let uidvalidity = i64::from(next_uidvalidity(tx).await?);
    tx.execute(
        "INSERT INTO folders (mailbox_id, name, uidvalidity) VALUES ($1, $2, $3)",
        &[&mailbox, &name, &uidvalidity],
    )
    .await?;
    Ok(())
}

/// Creates the missing parents of `name` ("a/b/c" needs "a" and "a/b").
async fn create_parents(tx: &Transaction<'_>, mailbox: MailboxId, name: &str) -> Result<(), StoreError> {
    for (i, _) in name.match_indices(FOLDER_SEPARATOR) {
        let parent = &name[..i];
        if folder_by_name(tx, mailbox, parent).await?.is_none() {
            insert_folder(tx, mailbox, parent).await?;
        }
    }
    Ok(())
}

/// Messages read in one range when the UIDs asked for are this close.
const RUN_GAP: u32 = 256;

async fn message_rows(
    client: &impl GenericClient,
    folder: FolderId,
    uids: &[u32],
) -> Result<Vec<MessageMeta>, StoreError> {
    let sql = "SELECT fm.uid, fm.flags, fm.modseq, m.blob_hash, m.size, m.received_at
         FROM unnest($2::BIGINT[], $3::BIGINT[]) AS run (first, last)
         JOIN folder_messages fm ON fm.folder_id = $1 AND fm.uid BETWEEN run.first AND run.last
         JOIN messages m ON m.id = fm.message_id
         ORDER BY fm.uid";
    folder_rows(client, sql, folder, uids, meta_row).await
}

/// The rows `sql` gives for the messages of `folder` whose UIDs are
/// `uids`, each read by `read`: `sql` selects the UID first, from the
/// ranges (`$2` firsts, `$3` lasts, disjoint) of the folder `$1`, by UID.
pub(super) async fn folder_rows<T>(
    client: &impl GenericClient,
    sql: &str,
    folder: FolderId,
    uids: &[u32],
    read: impl Fn(&Row) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    // Callers pass ascending UIDs; any other order is put right, not trusted.
    let sorted;
    let uids = if uids.windows(2).all(|w| w[0] < w[1]) {
        uids
    } else {
        sorted = {
            let mut uids = uids.to_vec();
            uids.sort_unstable();
            uids.dedup();
            uids
        };
        &sorted
    };
    let (mut starts, mut ends): (Vec<i64>, Vec<i64>) = (Vec::new(), Vec::new());
    for (start, end) in uid_runs(uids) {
        match ends.last_mut() {
            Some(last) if i64::from(start) - *last <= i64::from(RUN_GAP) => *last = i64::from(end),
            _ => {
                starts.push(i64::from(start));
                ends.push(i64::from(end));
            }
        }
    }
    if starts.is_empty() {
        return Ok(Vec::new());
    }
    // The ranges are disjoint: each row comes once.
    let stmt = client.prepare_cached(sql).await?;
    let mut out = Vec::with_capacity(uids.len());
    for row in client.query(&stmt, &[&folder, &starts, &ends]).await? {
        let uid = stored_u32("uid", row.try_get(0)?)?;
        if uids.binary_search(&uid).is_ok() {
            out.push(read(&row)?);
        }
    }
    Ok(out)
}

/// A message's metadata from `uid, flags, modseq, blob_hash, size,
/// received_at`, the first columns of `r`.
pub(super) fn meta_row(r: &Row) -> Result<MessageMeta, StoreError> {
    let flags: String = r.try_get(1)?;
    Ok(MessageMeta {
        uid: stored_u32("uid", r.try_get(0)?)?,
        flags: split_flags(&flags),
        modseq: r.try_get::<_, i64>(2)?.max(0) as u64,
        blob: parse_col("blob hash", r.try_get(3)?)?,
        size: r.try_get::<_, i64>(4)?.max(0) as u64,
        received_at: r.try_get(5)?,
    })
}

/// Bumps the folder's HIGHESTMODSEQ (and UIDNEXT by `new_uids`) in one
/// statement, which locks its row until the transaction ends; returns the
/// new MODSEQ and the first new UID.
async fn bump(tx: &Transaction<'_>, folder: FolderId, new_uids: u32) -> Result<(u64, u32), StoreError> {
    let stmt = tx
        .prepare_cached(
            "UPDATE folders SET uidnext = uidnext + $2, highest_modseq = highest_modseq + 1 WHERE id = $1
             RETURNING uidnext, highest_modseq",
        )
        .await?;
    let row = tx.query_opt(&stmt, &[&folder, &i64::from(new_uids)]).await?;
    let row = row.ok_or_else(|| StoreError::NotFound(format!("folder {folder}")))?;
    let (next, modseq): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
    // The transaction is rolled back with the error (dropped uncommitted).
    let next = u32::try_from(next).map_err(|_| StoreError::Invalid("UID space exhausted".into()))?;
    Ok((modseq.max(0) as u64, next - new_uids))
}

/// Removes folder rows, records them as expunged at `modseq`, and drops
/// message rows no folder refers to any more (their blobs go at the next
/// garbage collection).
async fn remove_rows(tx: &Transaction<'_>, folder: FolderId, uids: &[u32], modseq: u64) -> Result<(), StoreError> {
    let uids: Vec<i64> = uids.iter().map(|&uid| i64::from(uid)).collect();
    let delete = tx
        .prepare_cached("DELETE FROM folder_messages WHERE folder_id = $1 AND uid = ANY($2) RETURNING uid, message_id")
        .await?;
    let gone = tx.query(&delete, &[&folder, &uids]).await?;
    if gone.is_empty() {
        return Ok(());
    }
    let mut removed = Vec::with_capacity(gone.len());
    let mut messages = Vec::with_capacity(gone.len());
    for row in &gone {
        removed.push(row.try_get::<_, i64>(0)?);
        messages.push(row.try_get::<_, i64>(1)?);
    }
    let record = tx
        .prepare_cached(
            "INSERT INTO expunged (folder_id, uid, modseq) SELECT $1, uid, $3 FROM unnest($2::BIGINT[]) AS uid
             ON CONFLICT (folder_id, uid) DO UPDATE SET modseq = excluded.modseq",
        )
        .await?;
    tx.execute(&record, &[&folder, &removed, &i64::try_from(modseq).unwrap_or(i64::MAX)]).await?;
    messages.sort_unstable();
    messages.dedup();
    // Locked first: a transaction removing the other folder rows of the same
    // messages then sees these gone once it may look, and drops them itself.
    let lock = tx.prepare_cached("SELECT id FROM messages WHERE id = ANY($1) ORDER BY id FOR UPDATE").await?;
    tx.execute(&lock, &[&messages]).await?;
    let orphans = tx
        .prepare_cached(
            "DELETE FROM messages m WHERE m.id = ANY($1)
             AND NOT EXISTS (SELECT 1 FROM folder_messages fm WHERE fm.message_id = m.id)",
        )
        .await?;
    tx.execute(&orphans, &[&messages]).await?;
    Ok(())
}

/// The query of a search by flags: system flags through their bits (UNSEEN
/// alone through the index of unseen messages), keywords as whole words of
/// the space-separated flags text.
fn flag_search(with: &[String], without: &[String]) -> String {
    let mut sql = String::from("SELECT uid FROM folder_messages WHERE folder_id = $1");
    let (mut with_bits, mut without_bits) = (0i64, 0i64);
    let mut param = 1;
    for (flags, bits, test) in [(with, &mut with_bits, "> 0"), (without, &mut without_bits, "= 0")] {
        for flag in flags {
            match system_flag_bit(flag) {
                Some(bit) => *bits |= bit,
                None => {
                    param += 1;
                    sql.push_str(&format!(
                        " AND strpos(lower(' ' || flags || ' '), lower(' ' || ${param}::TEXT || ' ')) {test}"
                    ));
                }
            }
        }
    }
    if with_bits != 0 {
        sql.push_str(&format!(" AND system_flags & {with_bits} = {with_bits}"));
    }
    if without_bits != 0 {
        // Written as the index's own condition when it is \Seen alone.
        sql.push_str(&format!(" AND system_flags & {without_bits} = 0"));
    }
    sql.push_str(" ORDER BY uid");
    sql
}

/// Copies rows into `to` (locked by the caller) with new UIDs, keeping flags.
async fn copy_rows(tx: &Transaction<'_>, from: FolderId, uids: &[u32], to: &Folder) -> Result<Copied, StoreError> {
    let wanted: Vec<i64> = uids.iter().map(|&uid| i64::from(uid)).collect();
    let select = tx
        .prepare_cached(
            "SELECT uid, message_id, flags, system_flags FROM folder_messages WHERE folder_id = $1 AND uid = ANY($2)",
        )
        .await?;
    let mut found: HashMap<u32, (i64, String, i64)> = HashMap::new();
    for row in tx.query(&select, &[&from, &wanted]).await? {
        let uid = stored_u32("uid", row.try_get(0)?)?;
        found.insert(uid, (row.try_get(1)?, row.try_get(2)?, row.try_get(3)?));
    }
    // In the order asked.
    let source: Vec<(u32, &(i64, String, i64))> =
        uids.iter().filter_map(|uid| found.get(uid).map(|row| (*uid, row))).collect();
    let count = u32::try_from(source.len()).map_err(|_| StoreError::Invalid("too many messages".into()))?;
    let (modseq, first_uid) = bump(tx, to.id, count).await?;
    let mut pairs = Vec::with_capacity(source.len());
    let (mut new_uids, mut messages, mut flags, mut bits) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (i, (uid, (message_id, flags_text, flag_bits))) in source.into_iter().enumerate() {
        let new_uid = first_uid + i as u32;
        pairs.push((uid, new_uid));
        new_uids.push(i64::from(new_uid));
        messages.push(*message_id);
        flags.push(flags_text.as_str());
        bits.push(*flag_bits);
    }
    if !pairs.is_empty() {
        let insert = tx
            .prepare_cached(
                "INSERT INTO folder_messages (folder_id, uid, message_id, flags, system_flags, modseq)
                 SELECT $1, uid, message_id, flags, system_flags, $6
                 FROM unnest($2::BIGINT[], $3::BIGINT[], $4::TEXT[], $5::BIGINT[])
                      AS copied (uid, message_id, flags, system_flags)",
            )
            .await?;
        let modseq = i64::try_from(modseq).unwrap_or(i64::MAX);
        tx.execute(&insert, &[&to.id, &new_uids, &messages, &flags, &bits, &modseq]).await?;
    }
    Ok(Copied { uidvalidity: to.uidvalidity, pairs })
}

/// Is `name` `parent` or below it?
fn in_subtree(name: &str, parent: &str) -> bool {
    name == parent || name.strip_prefix(parent).is_some_and(|rest| rest.starts_with(FOLDER_SEPARATOR))
}

/// The UIDs of a folder, ascending.
async fn all_uids(client: &impl GenericClient, folder: FolderId) -> Result<Vec<u32>, StoreError> {
    let stmt = client.prepare_cached("SELECT uid FROM folder_messages WHERE folder_id = $1 ORDER BY uid").await?;
    let rows = client.query(&stmt, &[&folder]).await?;
    rows.iter().map(|r| stored_u32("uid", r.try_get(0)?)).collect()
}

#[async_trait]
impl FolderStore for PgStore {
    async fn folders(&self, mailbox: MailboxId) -> Result<Vec<Folder>, StoreError> {
        let client = self.client().await?;
        // Ordered by bytes, as SQLite orders them.
        let sql = format!("SELECT {FOLDER_COLUMNS} FROM folders WHERE mailbox_id = $1 ORDER BY name COLLATE \"C\"");
        let stmt = client.prepare_cached(&sql).await?;
        client.query(&stmt, &[&mailbox]).await?.iter().map(folder_row).collect()
    }

    async fn folder(&self, mailbox: MailboxId, name: &str) -> Result<Option<Folder>, StoreError> {
        folder_by_name(&self.client().await?, mailbox, name).await
    }

    async fn create_folder(&self, mailbox: MailboxId, name: &str) -> Result<Folder, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        lock_names(&tx, mailbox).await?;
        if folder_by_name(&tx, mailbox, name).await?.is_some() {
            return Err(StoreError::AlreadyPresent(format!("folder {name}")));
        }
        create_parents(&tx, mailbox, name).await?;
        insert_folder(&tx, mailbox, name).await?;
        let folder = folder_by_name(&tx, mailbox, name).await?.ok_or_else(|| StoreError::NotFound(name.into()))?;
        tx.commit().await?;
        self.notify(mailbox);
        Ok(folder)
    }

    async fn delete_folder(&self, mailbox: MailboxId, name: &str) -> Result<(), StoreError> {
        if name.eq_ignore_ascii_case(INBOX) {
            return Err(StoreError::Invalid("INBOX cannot be deleted".into()));
        }
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        lock_names(&tx, mailbox).await?;
        let found = folder_by_name(&tx, mailbox, name).await?.ok_or_else(|| StoreError::NotFound(name.into()))?;
        let names: Vec<String> = {
            let rows = tx.query("SELECT name FROM folders WHERE mailbox_id = $1", &[&mailbox]).await?;
            rows.iter().map(|r| r.try_get(0)).collect::<Result<_, _>>()?
        };
        if names.iter().any(|n| n != name && in_subtree(n, name)) {
            return Err(StoreError::Invalid(format!("folder {name} has subfolders")));
        }
        let folder = lock_folder(&tx, found.id).await?;
        let uids = all_uids(&tx, folder.id).await?;
        remove_rows(&tx, folder.id, &uids, folder.highest_modseq + 1).await?;
        tx.execute("DELETE FROM expunged WHERE folder_id = $1", &[&folder.id]).await?;
        tx.execute("DELETE FROM folders WHERE id = $1", &[&folder.id]).await?;
        tx.commit().await?;
        self.notify(mailbox);
        Ok(())
    }

    async fn rename_folder(&self, mailbox: MailboxId, from: &str, to: &str) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        lock_names(&tx, mailbox).await?;
        let source = folder_by_name(&tx, mailbox, from).await?.ok_or_else(|| StoreError::NotFound(from.into()))?;
        if folder_by_name(&tx, mailbox, to).await?.is_some() {
            return Err(StoreError::AlreadyPresent(format!("folder {to}")));
        }
        if to.eq_ignore_ascii_case(INBOX) || in_subtree(to, from) {
            return Err(StoreError::Invalid(format!("cannot rename {from} to {to}")));
        }
        create_parents(&tx, mailbox, to).await?;
        if from == INBOX {
            // INBOX stays: its messages move to a new folder.
            insert_folder(&tx, mailbox, to).await?;
            let target = folder_by_name(&tx, mailbox, to).await?.ok_or_else(|| StoreError::NotFound(to.into()))?;
            let (source, target) = lock_folders(&tx, source.id, target.id).await?;
            let uids = all_uids(&tx, source.id).await?;
            copy_rows(&tx, source.id, &uids, &target).await?;
            let (modseq, _) = bump(&tx, source.id, 0).await?;
            remove_rows(&tx, source.id, &uids, modseq).await?;
        } else {
            let children: Vec<(i64, String)> = {
                let rows = tx.query("SELECT id, name FROM folders WHERE mailbox_id = $1", &[&mailbox]).await?;
                rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect::<Result<_, StoreError>>()?
            };
            for (id, name) in children.into_iter().filter(|(_, n)| in_subtree(n, from)) {
                let renamed = format!("{to}{}", &name[from.len()..]);
                tx.execute("UPDATE folders SET name = $2 WHERE id = $1", &[&id, &renamed]).await?;
            }
        }
        tx.commit().await?;
        self.notify(mailbox);
        Ok(())
    }

    async fn set_subscribed(&self, mailbox: MailboxId, name: &str, subscribed: bool) -> Result<(), StoreError> {
        let client = self.client().await?;
        let changed = client
            .execute(
                "UPDATE folders SET subscribed = $3 WHERE mailbox_id = $1 AND name = $2",
                &[&mailbox, &name, &subscribed],
            )
            .await?;
        if changed == 0 {
            return Err(StoreError::NotFound(name.into()));
        }
        Ok(())
    }

    async fn folder_counts(&self, folder: FolderId) -> Result<FolderCounts, StoreError> {
        folder_counts(&self.client().await?, folder).await
    }

    async fn folder_uids(&self, folder: FolderId) -> Result<Vec<u32>, StoreError> {
        all_uids(&self.client().await?, folder).await
    }

    async fn uids_by_flags(
        &self,
        folder: FolderId,
        with: &[String],
        without: &[String],
    ) -> Result<Vec<u32>, StoreError> {
        let sql = flag_search(with, without);
        // The keywords, in the order flag_search numbered them.
        let mut bound: Vec<&(dyn ToSql + Sync)> = vec![&folder];
        bound.extend(
            with.iter().chain(without).filter(|f| system_flag_bit(f).is_none()).map(|f| f as &(dyn ToSql + Sync)),
        );
        let client = self.client().await?;
        let stmt = client.prepare_cached(&sql).await?;
        let rows = client.query(&stmt, &bound).await?;
        rows.iter().map(|r| stored_u32("uid", r.try_get(0)?)).collect()
    }

    async fn messages(&self, folder: FolderId, uids: &[u32]) -> Result<Vec<MessageMeta>, StoreError> {
        message_rows(&self.client().await?, folder, uids).await
    }

    async fn set_flags(
        &self,
        folder: FolderId,
        uids: &[u32],
        change: FlagChange,
        flags: &[String],
        unchanged_since: Option<u64>,
    ) -> Result<FlagsUpdated, StoreError> {
        retried(|| async move {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            // Locked before the flags are read: they are what is written over.
            let locked = lock_folder(&tx, folder).await?;
            let current = message_rows(&tx, folder, uids).await?;
            let (mut updated, new) = flag_changes(current, change, flags, unchanged_since);
            if !new.is_empty() {
                let (modseq, _) = bump(&tx, folder, 0).await?;
                let stmt = tx
                    .prepare_cached(
                        "UPDATE folder_messages SET flags = $3, system_flags = $4, modseq = $5
                         WHERE folder_id = $1 AND uid = $2",
                    )
                    .await?;
                let stamped = i64::try_from(modseq).unwrap_or(i64::MAX);
                for (uid, next) in new {
                    let bits = system_flag_bits(&next);
                    tx.execute(&stmt, &[&folder, &i64::from(uid), &join_flags(&next), &bits, &stamped]).await?;
                    updated.changed.push((uid, next, modseq));
                }
            }
            tx.commit().await?;
            if !updated.changed.is_empty() {
                self.notify(locked.mailbox);
            }
            Ok(updated)
        })
        .await
    }

    async fn append_indexed(
        &self,
        folder: FolderId,
        messages: &[Appended],
        facts: &[crate::MessageFacts],
    ) -> Result<(u32, Vec<u32>), StoreError> {
        retried(|| async move {
            let count = u32::try_from(messages.len()).map_err(|_| StoreError::Invalid("too many messages".into()))?;
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            // With the folders whose rows the facts update, in id order.
            let touched = folders_updated_by(&tx, facts).await?;
            lock_folders_if_there(&tx, touched.iter().copied().filter(|&id| id < folder)).await?;
            let target = lock_folder(&tx, folder).await?;
            lock_folders_if_there(&tx, touched.iter().copied().filter(|&id| id > folder)).await?;
            let (modseq, first_uid) = bump(&tx, folder, count).await?;
            let message = tx
                .prepare_cached("INSERT INTO messages (blob_hash, size, received_at) VALUES ($1, $2, $3) RETURNING id")
                .await?;
            let link = tx
                .prepare_cached(
                    "INSERT INTO folder_messages (folder_id, uid, message_id, flags, system_flags, modseq)
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .await?;
            let stamped = i64::try_from(modseq).unwrap_or(i64::MAX);
            let mut uids = Vec::with_capacity(messages.len());
            for (i, m) in messages.iter().enumerate() {
                let size = i64::try_from(m.size).map_err(|_| StoreError::Invalid("message size".into()))?;
                if let Some(body) = &m.inline {
                    link_inline_blob(&tx, &m.blob, body).await?;
                }
                let id: i64 = tx.query_one(&message, &[&m.blob.to_hex(), &size, &m.received_at]).await?.try_get(0)?;
                let uid = first_uid + i as u32;
                let (flags, bits) = (join_flags(&m.flags), system_flag_bits(&m.flags));
                tx.execute(&link, &[&folder, &i64::from(uid), &id, &flags, &bits, &stamped]).await?;
                uids.push(uid);
            }
            for facts in facts {
                insert_facts(&tx, facts).await?;
            }
            tx.commit().await?;
            self.notify(target.mailbox);
            Ok((target.uidvalidity, uids))
        })
        .await
    }

    async fn copy_messages(&self, from: FolderId, uids: &[u32], to: FolderId) -> Result<Copied, StoreError> {
        retried(|| async move {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let (_, target) = lock_folders(&tx, from, to).await?;
            let copied = copy_rows(&tx, from, uids, &target).await?;
            tx.commit().await?;
            self.notify(target.mailbox);
            Ok(copied)
        })
        .await
    }

    async fn move_messages(&self, from: FolderId, uids: &[u32], to: FolderId) -> Result<Copied, StoreError> {
        retried(|| async move {
            if from == to {
                return Err(StoreError::Invalid("cannot move messages to the folder they are in".into()));
            }
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let (source, target) = lock_folders(&tx, from, to).await?;
            let copied = copy_rows(&tx, from, uids, &target).await?;
            let moved: Vec<u32> = copied.pairs.iter().map(|&(uid, _)| uid).collect();
            let (modseq, _) = bump(&tx, from, 0).await?;
            remove_rows(&tx, from, &moved, modseq).await?;
            tx.commit().await?;
            self.notify(source.mailbox);
            if target.mailbox != source.mailbox {
                self.notify(target.mailbox);
            }
            Ok(copied)
        })
        .await
    }

    async fn expunge(&self, folder: FolderId, uids: Option<&[u32]>) -> Result<Vec<u32>, StoreError> {
        retried(|| async move {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let locked = lock_folder(&tx, folder).await?;
            let deleted: Vec<u32> = {
                let stmt = tx
                    .prepare_cached(
                        "SELECT uid FROM folder_messages WHERE folder_id = $1 AND strpos(flags, '\\Deleted') > 0
                         ORDER BY uid",
                    )
                    .await?;
                let rows = tx.query(&stmt, &[&folder]).await?;
                rows.iter().map(|r| stored_u32("uid", r.try_get(0)?)).collect::<Result<_, _>>()?
            };
            let gone: Vec<u32> = match uids {
                Some(only) => deleted.into_iter().filter(|uid| only.binary_search(uid).is_ok()).collect(),
                None => deleted,
            };
            if !gone.is_empty() {
                let (modseq, _) = bump(&tx, folder, 0).await?;
                remove_rows(&tx, folder, &gone, modseq).await?;
            }
            tx.commit().await?;
            if !gone.is_empty() {
                self.notify(locked.mailbox);
            }
            Ok(gone)
        })
        .await
    }

    async fn changes_since(&self, folder: FolderId, modseq: u64) -> Result<Changes, StoreError> {
        let mut client = self.client().await?;
        // One snapshot: the rows are those of the HIGHESTMODSEQ returned.
        let tx =
            client.build_transaction().isolation_level(IsolationLevel::RepeatableRead).read_only(true).start().await?;
        let current = folder_by_id(&tx, folder).await?;
        let since = i64::try_from(modseq).unwrap_or(i64::MAX);
        let expunged: Vec<u32> = {
            let stmt =
                tx.prepare_cached("SELECT uid FROM expunged WHERE folder_id = $1 AND modseq > $2 ORDER BY uid").await?;
            let rows = tx.query(&stmt, &[&folder, &since]).await?;
            rows.iter().map(|r| stored_u32("uid", r.try_get(0)?)).collect::<Result<_, _>>()?
        };
        let stmt = tx
            .prepare_cached(
                "SELECT fm.uid, fm.flags, fm.modseq, m.blob_hash, m.size, m.received_at
                 FROM folder_messages fm JOIN messages m ON m.id = fm.message_id
                 WHERE fm.folder_id = $1 AND fm.modseq > $2 ORDER BY fm.uid",
            )
            .await?;
        let changed = tx.query(&stmt, &[&folder, &since]).await?.iter().map(meta_row).collect::<Result<_, _>>()?;
        tx.commit().await?;
        Ok(Changes { highest_modseq: current.highest_modseq, uidnext: current.uidnext, expunged, changed })
    }

    fn watch(&self) -> tokio::sync::broadcast::Receiver<MailboxId> {
        self.changes.subscribe()
    }
}

/// A folder's counts, kept on its row (migration 0008); none for a folder
/// that is gone.
pub(super) async fn folder_counts(client: &impl GenericClient, folder: FolderId) -> Result<FolderCounts, StoreError> {
    let stmt = client
        .prepare_cached(
            "SELECT coalesce(sum(message_count), 0)::BIGINT, coalesce(sum(unseen_count), 0)::BIGINT,
                    coalesce(sum(deleted_count), 0)::BIGINT, coalesce(sum(total_size), 0)::BIGINT
             FROM folders WHERE id = $1",
        )
        .await?;
    let row = client.query_one(&stmt, &[&folder]).await?;
    Ok(FolderCounts {
        messages: stored_u32("message count", row.try_get(0)?)?,
        unseen: stored_u32("unseen count", row.try_get(1)?)?,
        deleted: stored_u32("deleted count", row.try_get(2)?)?,
        size: row.try_get::<_, i64>(3)?.max(0) as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BlobHash;
    use crate::postgres::PostgresConfig;
    use crate::{MetadataStore, NewMessage, Placement};

    /// Two nodes (two stores on one database) appending to one folder and
    /// flagging one message at once: no UID given twice, no flag lost.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn nodes_writing_one_folder_at_once_never_collide() {
        let Some(cluster) = mss_testkit::Cluster::start() else { return };
        cluster.create_database("mss");
        let config = PostgresConfig { url: cluster.url("mss"), password: None, pool_size: 8, ca_pem: None };
        let nodes = [PgStore::open(&config).await.unwrap(), PgStore::open(&config).await.unwrap()];
        cluster.psql(
            "mss",
            "INSERT INTO mailboxes (address, kind, state, display_name, created_at, updated_at)
             VALUES ('a@pharma.test', 'PER', 'active', 'A', 0, 0);
             INSERT INTO folders (mailbox_id, name, uidvalidity) SELECT id, 'INBOX', 1 FROM mailboxes;",
        );
        let folder = nodes[0].folder(1, INBOX).await.unwrap().unwrap().id;
        let append_on = |node: usize, i: usize| {
            let store = nodes[node].clone();
            let body = format!("Subject: {node}-{i}\r\n\r\n");
            tokio::spawn(async move { store.append(folder, &[appended(body.as_bytes())]).await.unwrap().1 })
        };
        let tasks: Vec<_> = (0..40).map(|i| append_on(i % 2, i)).collect();
        let mut uids = Vec::new();
        for task in tasks {
            uids.extend(task.await.unwrap());
        }
        uids.sort_unstable();
        assert_eq!(uids, (1..=40).collect::<Vec<u32>>());
        let state = nodes[1].folder(1, INBOX).await.unwrap().unwrap();
        assert_eq!((state.uidnext, state.highest_modseq), (41, 41));

        let flagged = |node: usize, flag: &str| {
            let (store, flag) = (nodes[node].clone(), flag.to_string());
            tokio::spawn(async move { store.set_flags(folder, &[1], FlagChange::Add, &[flag], None).await.unwrap() })
        };
        let tasks: Vec<_> = (0..20).map(|i| flagged(i % 2, &format!("$k{i}"))).collect();
        for task in tasks {
            task.await.unwrap();
        }
        let flags = &nodes[0].messages(folder, &[1]).await.unwrap()[0].flags;
        assert_eq!(flags.len(), 20, "{flags:?}");
        let modseqs: Vec<u64> =
            nodes[0].changes_since(folder, 0).await.unwrap().changed.iter().map(|m| m.modseq).collect();
        assert_eq!(modseqs.len(), 40);
        assert_eq!(nodes[0].folder(1, INBOX).await.unwrap().unwrap().highest_modseq, 61);
    }

    /// A message of `body` to append, its body stored elsewhere.
    fn appended(body: &[u8]) -> Appended {
        Appended { blob: BlobHash::of(body), size: body.len() as u64, received_at: 0, flags: Vec::new(), inline: None }
    }

    /// A store on a new database of `cluster`, holding what `setup` inserts.
    async fn store_with(cluster: &mss_testkit::Cluster, setup: &str) -> PgStore {
        cluster.create_database("mss");
        let config = PostgresConfig { url: cluster.url("mss"), password: None, pool_size: 4, ca_pem: None };
        let store = PgStore::open(&config).await.unwrap();
        cluster.psql("mss", setup);
        store
    }

    /// A connection to the store's database beside the store's pool.
    async fn other_client(cluster: &mss_testkit::Cluster) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::connect(&cluster.url("mss"), tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(connection);
        client
    }

    /// Returns once a transaction waits for a lock (`who`, 20 s at most).
    async fn until_one_waits_for_a_lock(cluster: &mss_testkit::Cluster, who: &str) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let waiting = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'";
        while cluster.psql("mss", waiting).trim() != "1" {
            assert!(std::time::Instant::now() < deadline, "{who} never waited for a lock");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// A flag change meets another transaction that locks the message's row
    /// and then the folder's, the reverse of every writer here: PostgreSQL
    /// breaks the cycle by refusing the flag change, which runs again once
    /// the other transaction is through, and succeeds.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_writer_refused_for_a_lock_cycle_runs_again() {
        let Some(cluster) = mss_testkit::Cluster::start() else { return };
        let store = store_with(
            &cluster,
            "INSERT INTO mailboxes (address, kind, state, display_name, created_at, updated_at)
             VALUES ('a@pharma.test', 'PER', 'active', 'A', 0, 0);
             INSERT INTO folders (mailbox_id, name, uidvalidity) SELECT id, 'INBOX', 1 FROM mailboxes;",
        )
        .await;
        let folder = store.folder(1, INBOX).await.unwrap().unwrap().id;
        store.append(folder, &[appended(b"Subject: x\r\n\r\n")]).await.unwrap();

        let mut other = other_client(&cluster).await;
        let other = other.transaction().await.unwrap();
        other.execute("UPDATE folder_messages SET flags = '$autre' WHERE folder_id = $1", &[&folder]).await.unwrap();
        let flagged = {
            let store = store.clone();
            tokio::spawn(async move { store.set_flags(folder, &[1], FlagChange::Add, &["$vu".into()], None).await })
        };
        // The flag change holds the folder's row and waits for the message's;
        // this waits for the folder's: a cycle, found after PostgreSQL's
        // deadlock_timeout (1 s) by the flag change, which waited first.
        until_one_waits_for_a_lock(&cluster, "the flag change").await;
        other.execute("SELECT 1 FROM folders WHERE id = $1 FOR UPDATE", &[&folder]).await.unwrap();
        other.commit().await.unwrap();
        let flagged = flagged.await.unwrap().expect("run again after the conflict");
        assert_eq!(flagged.changed.len(), 1);
        let flags = &store.messages(folder, &[1]).await.unwrap()[0].flags;
        assert_eq!(flags, &["$autre".to_string(), "$vu".to_string()]);
        assert!(cluster.log().contains("deadlock detected"), "the cycle was met: {}", cluster.log());
    }

    /// A store with two mailboxes whose INBOXes' ids run against their
    /// mailboxes' order: the store, mailbox 2's INBOX (the lower id), mailbox 1's.
    async fn inboxes_against_their_mailboxes_order(cluster: &mss_testkit::Cluster) -> (PgStore, FolderId, FolderId) {
        let store = store_with(
            cluster,
            "INSERT INTO mailboxes (address, kind, state, display_name, created_at, updated_at)
             VALUES ('a@pharma.test', 'PER', 'active', 'A', 0, 0), ('b@pharma.test', 'PER', 'active', 'B', 0, 0);
             INSERT INTO folders (mailbox_id, name, uidvalidity) VALUES (2, 'INBOX', 1);
             INSERT INTO folders (mailbox_id, name, uidvalidity) VALUES (1, 'INBOX', 2);",
        )
        .await;
        let (lower, higher) =
            (store.folder(2, INBOX).await.unwrap().unwrap().id, store.folder(1, INBOX).await.unwrap().unwrap().id);
        assert!(lower < higher);
        (store, lower, higher)
    }

    /// A delivery to two mailboxes whose folders' ids run against their
    /// mailboxes' order locks the lower id first, as copy and move do:
    /// while it waits for that folder, it holds no other, so a transaction
    /// holding the lower one can still take the higher one (the cycle a
    /// copy between the two would close).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_delivery_to_several_mailboxes_locks_their_folders_by_id() {
        let Some(cluster) = mss_testkit::Cluster::start() else { return };
        let (store, first, second) = inboxes_against_their_mailboxes_order(&cluster).await;

        let mut other = other_client(&cluster).await;
        let other = other.transaction().await.unwrap();
        other.execute("SELECT 1 FROM folders WHERE id = $1 FOR UPDATE", &[&first]).await.unwrap();
        let delivered = {
            let store = store.clone();
            tokio::spawn(async move {
                let body = b"Subject: x\r\n\r\n".to_vec();
                let message = NewMessage {
                    blob: BlobHash::of(&body),
                    size: body.len() as u64,
                    received_at: 0,
                    inline: Some(body),
                    facts: None,
                };
                let placements = [1, 2].map(|mailbox| Placement { mailbox, folder: INBOX.to_string() });
                store.link_message(message, &placements).await
            })
        };
        until_one_waits_for_a_lock(&cluster, "the delivery").await;
        other
            .execute("SELECT 1 FROM folders WHERE id = $1 FOR UPDATE NOWAIT", &[&second])
            .await
            .expect("the delivery holds no folder while it waits for the lower id");
        other.commit().await.unwrap();
        let delivery = delivered.await.unwrap().unwrap();
        let mut copies: Vec<_> = delivery.copies.iter().map(|c| (c.mailbox, c.folder.as_str(), c.uid)).collect();
        copies.sort_unstable();
        assert_eq!(copies, [(1, INBOX, 1), (2, INBOX, 1)]);
    }

    /// Facts of `body` whose sort keys say `subject`.
    fn facts_of(body: &[u8], subject: &str) -> crate::MessageFacts {
        crate::MessageFacts {
            blob: BlobHash::of(body),
            version: 1,
            encoded: Vec::new(),
            columns: crate::FactColumns { subject_key: subject.into(), ..Default::default() },
            text: crate::IndexedText::default(),
            searched: Default::default(),
            documents: Vec::new(),
        }
    }

    /// Facts written for a body already in another folder without facts
    /// update that folder's row (its sort keys), so the writer locks that
    /// folder too, in the order of the ids: while a writer of the other
    /// folder holds it and its rows, the facts' writer waits for the folder
    /// holding none of its own, and the other can still take the writer's
    /// folder (the cycle a copy between the two would close). `write` stores
    /// the body, with its facts, into folder `target`.
    async fn facts_for_an_earlier_copy_wait_for_its_folder<F, Fut>(write: F)
    where
        F: FnOnce(PgStore, FolderId, Vec<u8>, crate::MessageFacts) -> Fut,
        Fut: std::future::Future<Output = Result<(), StoreError>> + Send + 'static,
    {
        let Some(cluster) = mss_testkit::Cluster::start() else { return };
        // The earlier copy is in mailbox 2's INBOX, the lower id.
        let (store, earlier, target) = inboxes_against_their_mailboxes_order(&cluster).await;
        let body = b"Subject: Ordonnance\r\n\r\n".to_vec();
        store.append(earlier, &[appended(&body)]).await.unwrap();

        // A writer of the earlier folder: its row, then its messages' rows.
        let mut other = other_client(&cluster).await;
        let other = other.transaction().await.unwrap();
        other.execute("SELECT 1 FROM folders WHERE id = $1 FOR UPDATE", &[&earlier]).await.unwrap();
        other.execute("UPDATE folder_messages SET flags = '$autre' WHERE folder_id = $1", &[&earlier]).await.unwrap();
        let written = tokio::spawn(write(store.clone(), target, body.clone(), facts_of(&body, "ordonnance")));
        until_one_waits_for_a_lock(&cluster, "the facts' writer").await;
        other
            .execute("SELECT 1 FROM folders WHERE id = $1 FOR UPDATE NOWAIT", &[&target])
            .await
            .expect("the facts' writer holds no folder while it waits for the earlier copy's");
        other.commit().await.unwrap();
        written.await.unwrap().unwrap();
        let keys = cluster.psql("mss", "SELECT folder_id, subject_key, flags FROM folder_messages ORDER BY folder_id");
        assert_eq!(keys.trim(), format!("{earlier}|ordonnance|$autre\n{target}|ordonnance|"));
        assert!(!cluster.log().contains("deadlock detected"), "no cycle: {}", cluster.log());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_delivery_whose_facts_update_an_earlier_copy_locks_its_folder_in_turn() {
        facts_for_an_earlier_copy_wait_for_its_folder(|store, _, body, facts| async move {
            let message = NewMessage {
                blob: facts.blob,
                size: body.len() as u64,
                received_at: 0,
                inline: Some(body),
                facts: Some(facts),
            };
            store.link_message(message, &[Placement { mailbox: 1, folder: INBOX.to_string() }]).await.map(drop)
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_append_whose_facts_update_an_earlier_copy_locks_its_folder_in_turn() {
        facts_for_an_earlier_copy_wait_for_its_folder(|store, target, body, facts| async move {
            let message = Appended { inline: Some(body.clone()), ..appended(&body) };
            store.append_indexed(target, &[message], &[facts]).await.map(drop)
        })
        .await;
    }
}
