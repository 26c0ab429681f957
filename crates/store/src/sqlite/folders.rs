//! [`FolderStore`] on SQLite.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};

use super::facts::words_apart;
use super::new_rows::{FolderRow, NewRow, insert_folder_row, insert_message};
use super::{SqliteStore, next_uidvalidity};
use crate::folders::*;
use crate::{BlobHash, INBOX, MailboxId, StoreError};

const FOLDER_COLUMNS: &str = "id, mailbox_id, name, uidvalidity, uidnext, highest_modseq, special_use, subscribed";

fn folder_row(row: &Row<'_>) -> rusqlite::Result<Folder> {
    Ok(Folder {
        id: row.get(0)?,
        mailbox: row.get(1)?,
        name: row.get(2)?,
        uidvalidity: row.get(3)?,
        uidnext: row.get(4)?,
        highest_modseq: row.get::<_, i64>(5)? as u64,
        special_use: row.get(6)?,
        subscribed: row.get(7)?,
    })
}

fn folder_by_name(conn: &Connection, mailbox: MailboxId, name: &str) -> Result<Option<Folder>, StoreError> {
    let sql = format!("SELECT {FOLDER_COLUMNS} FROM folders WHERE mailbox_id = ?1 AND name = ?2");
    Ok(conn.query_row(&sql, params![mailbox, name], folder_row).optional()?)
}

fn folder_by_id(conn: &Connection, id: FolderId) -> Result<Folder, StoreError> {
    let sql = format!("SELECT {FOLDER_COLUMNS} FROM folders WHERE id = ?1");
    conn.query_row(&sql, [id], folder_row).optional()?.ok_or_else(|| StoreError::NotFound(format!("folder {id}")))
}

fn insert_folder(tx: &Transaction<'_>, mailbox: MailboxId, name: &str) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO folders (mailbox_id, name, uidvalidity) VALUES (?1, ?2, ?3)",
        params![mailbox, name, next_uidvalidity(tx)?],
    )?;
    Ok(())
}

/// Creates the missing parents of `name` ("a/b/c" needs "a" and "a/b").
fn create_parents(tx: &Transaction<'_>, mailbox: MailboxId, name: &str) -> Result<(), StoreError> {
    for (i, _) in name.match_indices(FOLDER_SEPARATOR) {
        let parent = &name[..i];
        if folder_by_name(tx, mailbox, parent)?.is_none() {
            insert_folder(tx, mailbox, parent)?;
        }
    }
    Ok(())
}

/// Messages read in one range query when the UIDs asked for are this close.
const RUN_GAP: u32 = 256;

fn message_rows(conn: &Connection, folder: FolderId, uids: &[u32]) -> Result<Vec<MessageMeta>, StoreError> {
    folder_rows(
        conn,
        "SELECT fm.uid, fm.flags, fm.modseq, m.blob_hash, m.size, m.received_at
         FROM folder_messages fm JOIN messages m ON m.id = fm.message_id
         WHERE fm.folder_id = ?1 AND fm.uid BETWEEN ?2 AND ?3 ORDER BY fm.uid",
        folder,
        uids,
        meta_row,
    )
}

/// The rows `sql` gives for the messages of `folder` whose UIDs are
/// `uids`, each read by `read`: `sql` selects the UID first, from a range
/// (`?2` to `?3`) of the folder `?1`, by UID.
pub(super) fn folder_rows<T>(
    conn: &Connection,
    sql: &str,
    folder: FolderId,
    uids: &[u32],
    read: impl Fn(&Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>, StoreError> {
    let mut stmt = conn.prepare_cached(sql)?;
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
    let mut runs: Vec<(u32, u32)> = Vec::new();
    for (start, end) in uid_runs(uids) {
        match runs.last_mut() {
            Some((_, last)) if start.saturating_sub(*last) <= RUN_GAP => *last = end,
            _ => runs.push((start, end)),
        }
    }
    let mut out = Vec::with_capacity(uids.len());
    for (start, end) in runs {
        let mut rows = stmt.query(params![folder, start, end])?;
        while let Some(row) = rows.next()? {
            // A row between two asked for is skipped before it is read.
            if uids.binary_search(&row.get(0)?).is_ok() {
                out.push(read(row)?);
            }
        }
    }
    Ok(out)
}

pub(super) fn meta_row(r: &Row<'_>) -> rusqlite::Result<MessageMeta> {
    let flags: String = r.get(1)?;
    Ok(MessageMeta {
        uid: r.get(0)?,
        flags: split_flags(&flags),
        modseq: r.get::<_, i64>(2)? as u64,
        blob: r.get::<_, BlobHash>(3)?,
        size: r.get::<_, i64>(4)?.max(0) as u64,
        received_at: r.get(5)?,
    })
}

/// Bumps the folder's HIGHESTMODSEQ (and UIDNEXT by `new_uids`); returns
/// the new MODSEQ and the first new UID.
fn bump(tx: &Transaction<'_>, folder: FolderId, new_uids: u32) -> Result<(u64, u32), StoreError> {
    let (uidnext, modseq): (u32, i64) =
        tx.query_row("SELECT uidnext, highest_modseq FROM folders WHERE id = ?1", [folder], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    let next = uidnext.checked_add(new_uids).ok_or_else(|| StoreError::Invalid("UID space exhausted".into()))?;
    tx.execute(
        "UPDATE folders SET uidnext = ?2, highest_modseq = ?3 WHERE id = ?1",
        params![folder, next, modseq + 1],
    )?;
    Ok((modseq as u64 + 1, uidnext))
}

/// Removes folder rows, records them as expunged at `modseq`, and drops
/// message rows no folder refers to any more (their blobs go at the next
/// garbage collection).
fn remove_rows(tx: &Transaction<'_>, folder: FolderId, uids: &[u32], modseq: u64) -> Result<(), StoreError> {
    let mut find = tx.prepare_cached("SELECT message_id FROM folder_messages WHERE folder_id = ?1 AND uid = ?2")?;
    let mut delete = tx.prepare_cached("DELETE FROM folder_messages WHERE folder_id = ?1 AND uid = ?2")?;
    let mut record = tx.prepare_cached(
        "INSERT INTO expunged (folder_id, uid, modseq) VALUES (?1, ?2, ?3)
         ON CONFLICT (folder_id, uid) DO UPDATE SET modseq = excluded.modseq",
    )?;
    let mut orphan = tx.prepare_cached(
        "DELETE FROM messages WHERE id = ?1 AND NOT EXISTS (SELECT 1 FROM folder_messages WHERE message_id = ?1)",
    )?;
    for &uid in uids {
        let Some(message_id) = find.query_row(params![folder, uid], |r| r.get::<_, i64>(0)).optional()? else {
            continue;
        };
        delete.execute(params![folder, uid])?;
        record.execute(params![folder, uid, modseq as i64])?;
        orphan.execute([message_id])?;
    }
    Ok(())
}

/// The query of a search by flags: system flags through their bits, keywords
/// as whole words of the space-separated flags text. A search of unseen
/// messages (UNSEEN, alone or with other system flags) reads the index of
/// unseen messages alone, which holds the bits: without statistics the
/// planner prefers the folder's own rows, every one of them read for its
/// bit (a folder of 100,000 messages, 10,000 unseen, reads ten times the
/// rows, each a wide one).
fn flag_search(folder: FolderId, with: &[String], without: &[String]) -> (String, Vec<rusqlite::types::Value>) {
    use rusqlite::types::Value;
    let (mut with_bits, mut without_bits) = (0i64, 0i64);
    let mut keywords = String::new();
    let mut values: Vec<Value> = vec![folder.into()];
    let has = "instr(lower(' ' || flags || ' '), lower(' ' || ? || ' '))";
    for (flags, bits, test) in [(with, &mut with_bits, "> 0"), (without, &mut without_bits, "= 0")] {
        for flag in flags {
            match system_flag_bit(flag) {
                Some(bit) => *bits |= bit,
                None => {
                    keywords.push_str(&format!(" AND {has} {test}"));
                    values.push(Value::from(flag.clone()));
                }
            }
        }
    }
    let unseen = without_bits & SEEN_BIT != 0;
    let mut sql = String::from("SELECT uid FROM folder_messages");
    if unseen {
        // The index's own condition, word for word, so that it applies.
        sql.push_str(" INDEXED BY folder_messages_unseen WHERE folder_id = ? AND system_flags & 1 = 0");
    } else {
        sql.push_str(" WHERE folder_id = ?");
    }
    sql.push_str(&keywords);
    if with_bits != 0 {
        sql.push_str(&format!(" AND system_flags & {with_bits} = {with_bits}"));
    }
    let other_without = without_bits & !SEEN_BIT;
    if other_without != 0 {
        sql.push_str(&format!(" AND system_flags & {other_without} = 0"));
    }
    sql.push_str(" ORDER BY uid");
    (sql, values)
}

/// Copies rows into `to` with new UIDs, keeping flags (marked as `to`
/// marks its new rows: see [`crate::sort_index`]).
fn copy_rows(tx: &Transaction<'_>, from: FolderId, uids: &[u32], to: FolderId) -> Result<Copied, StoreError> {
    let mut source = Vec::with_capacity(uids.len());
    {
        let mut stmt = tx.prepare_cached(
            "SELECT message_id, flags, system_flags FROM folder_messages WHERE folder_id = ?1 AND uid = ?2",
        )?;
        for &uid in uids {
            let row = |r: &rusqlite::Row<'_>| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?));
            if let Some((id, flags, bits)) = stmt.query_row(params![from, uid], row).optional()? {
                source.push((uid, id, flags, bits));
            }
        }
    }
    let target = folder_by_id(tx, to)?;
    let count = u32::try_from(source.len()).map_err(|_| StoreError::Invalid("too many messages".into()))?;
    let (modseq, first_uid) = bump(tx, to, count)?;
    let mut insert = tx.prepare_cached(
        "INSERT INTO folder_messages (folder_id, uid, message_id, flags, system_flags, modseq, sorted)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, (SELECT sort_index > 0 FROM folders WHERE id = ?1))",
    )?;
    let mut pairs = Vec::with_capacity(source.len());
    for (i, (uid, message_id, flags, bits)) in source.into_iter().enumerate() {
        let new_uid = first_uid + i as u32;
        insert.execute(params![to, new_uid, message_id, flags, bits, modseq as i64])?;
        pairs.push((uid, new_uid));
    }
    Ok(Copied { uidvalidity: target.uidvalidity, pairs })
}

fn mailbox_of(conn: &Connection, folder: FolderId) -> Result<MailboxId, StoreError> {
    Ok(folder_by_id(conn, folder)?.mailbox)
}

/// Is `name` `parent` or below it?
fn in_subtree(name: &str, parent: &str) -> bool {
    name == parent || name.strip_prefix(parent).is_some_and(|rest| rest.starts_with(FOLDER_SEPARATOR))
}

#[async_trait]
impl FolderStore for SqliteStore {
    async fn folders(&self, mailbox: MailboxId) -> Result<Vec<Folder>, StoreError> {
        self.read(move |conn| {
            let sql = format!("SELECT {FOLDER_COLUMNS} FROM folders WHERE mailbox_id = ?1 ORDER BY name");
            let mut stmt = conn.prepare(&sql)?;
            let rows = stmt.query_map([mailbox], folder_row)?.collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .await
    }

    async fn folder(&self, mailbox: MailboxId, name: &str) -> Result<Option<Folder>, StoreError> {
        let name = name.to_string();
        self.read(move |conn| folder_by_name(conn, mailbox, &name)).await
    }

    async fn create_folder(&self, mailbox: MailboxId, name: &str) -> Result<Folder, StoreError> {
        let name = name.to_string();
        let folder = self
            .write(move |tx| {
                if folder_by_name(tx, mailbox, &name)?.is_some() {
                    return Err(StoreError::AlreadyPresent(format!("folder {name}")));
                }
                create_parents(tx, mailbox, &name)?;
                insert_folder(tx, mailbox, &name)?;
                folder_by_name(tx, mailbox, &name)?.ok_or_else(|| StoreError::NotFound(name))
            })
            .await?;
        self.notify(mailbox);
        Ok(folder)
    }

    async fn delete_folder(&self, mailbox: MailboxId, name: &str) -> Result<(), StoreError> {
        let name = name.to_string();
        self.write(move |tx| {
            if name.eq_ignore_ascii_case(INBOX) {
                return Err(StoreError::Invalid("INBOX cannot be deleted".into()));
            }
            let folder = folder_by_name(tx, mailbox, &name)?.ok_or_else(|| StoreError::NotFound(name.clone()))?;
            let names: Vec<String> = {
                let mut stmt = tx.prepare("SELECT name FROM folders WHERE mailbox_id = ?1")?;
                stmt.query_map([mailbox], |r| r.get(0))?.collect::<Result<_, _>>()?
            };
            if names.iter().any(|n| n != &name && in_subtree(n, &name)) {
                return Err(StoreError::Invalid(format!("folder {name} has subfolders")));
            }
            let uids: Vec<u32> = {
                let mut stmt = tx.prepare("SELECT uid FROM folder_messages WHERE folder_id = ?1")?;
                stmt.query_map([folder.id], |r| r.get(0))?.collect::<Result<_, _>>()?
            };
            remove_rows(tx, folder.id, &uids, folder.highest_modseq + 1)?;
            tx.execute("DELETE FROM expunged WHERE folder_id = ?1", [folder.id])?;
            tx.execute("DELETE FROM folders WHERE id = ?1", [folder.id])?;
            Ok(())
        })
        .await?;
        self.notify(mailbox);
        Ok(())
    }

    async fn rename_folder(&self, mailbox: MailboxId, from: &str, to: &str) -> Result<(), StoreError> {
        let (from, to) = (from.to_string(), to.to_string());
        self.write(move |tx| {
            let source = folder_by_name(tx, mailbox, &from)?.ok_or_else(|| StoreError::NotFound(from.clone()))?;
            if folder_by_name(tx, mailbox, &to)?.is_some() {
                return Err(StoreError::AlreadyPresent(format!("folder {to}")));
            }
            if to.eq_ignore_ascii_case(INBOX) || in_subtree(&to, &from) {
                return Err(StoreError::Invalid(format!("cannot rename {from} to {to}")));
            }
            create_parents(tx, mailbox, &to)?;
            if from == INBOX {
                insert_folder(tx, mailbox, &to)?;
                let target = folder_by_name(tx, mailbox, &to)?.ok_or_else(|| StoreError::NotFound(to.clone()))?;
                let uids: Vec<u32> = {
                    let mut stmt = tx.prepare("SELECT uid FROM folder_messages WHERE folder_id = ?1 ORDER BY uid")?;
                    stmt.query_map([source.id], |r| r.get(0))?.collect::<Result<_, _>>()?
                };
                copy_rows(tx, source.id, &uids, target.id)?;
                let (modseq, _) = bump(tx, source.id, 0)?;
                remove_rows(tx, source.id, &uids, modseq)?;
                return Ok(());
            }
            let children: Vec<(i64, String)> = {
                let mut stmt = tx.prepare("SELECT id, name FROM folders WHERE mailbox_id = ?1")?;
                stmt.query_map([mailbox], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?
            };
            for (id, name) in children.into_iter().filter(|(_, n)| in_subtree(n, &from)) {
                let renamed = format!("{to}{}", &name[from.len()..]);
                tx.execute("UPDATE folders SET name = ?2 WHERE id = ?1", params![id, renamed])?;
            }
            Ok(())
        })
        .await?;
        self.notify(mailbox);
        Ok(())
    }

    async fn set_subscribed(&self, mailbox: MailboxId, name: &str, subscribed: bool) -> Result<(), StoreError> {
        let name = name.to_string();
        self.write(move |tx| {
            let changed = tx.execute(
                "UPDATE folders SET subscribed = ?3 WHERE mailbox_id = ?1 AND name = ?2",
                params![mailbox, name, subscribed],
            )?;
            if changed == 0 {
                return Err(StoreError::NotFound(name));
            }
            Ok(())
        })
        .await
    }

    async fn folder_counts(&self, folder: FolderId) -> Result<FolderCounts, StoreError> {
        self.read(move |conn| folder_counts(conn, folder)).await
    }

    async fn folder_uids(&self, folder: FolderId) -> Result<Vec<u32>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT uid FROM folder_messages INDEXED BY folder_messages_uids WHERE folder_id = ?1 ORDER BY uid",
            )?;
            let uids = stmt.query_map([folder], |r| r.get(0))?.collect::<Result<Vec<u32>, _>>()?;
            Ok(uids)
        })
        .await
    }

    async fn uids_by_flags(
        &self,
        folder: FolderId,
        with: &[String],
        without: &[String],
    ) -> Result<Vec<u32>, StoreError> {
        let (sql, values) = flag_search(folder, with, without);
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&sql)?;
            let uids =
                stmt.query_map(rusqlite::params_from_iter(values), |r| r.get(0))?.collect::<Result<Vec<u32>, _>>()?;
            Ok(uids)
        })
        .await
    }

    async fn messages(&self, folder: FolderId, uids: &[u32]) -> Result<Vec<MessageMeta>, StoreError> {
        let uids = uids.to_vec();
        self.read(move |conn| message_rows(conn, folder, &uids)).await
    }

    async fn set_flags(
        &self,
        folder: FolderId,
        uids: &[u32],
        change: FlagChange,
        flags: &[String],
        unchanged_since: Option<u64>,
    ) -> Result<FlagsUpdated, StoreError> {
        let (uids, flags) = (uids.to_vec(), flags.to_vec());
        let (updated, mailbox) = self
            .write(move |tx| {
                let current = message_rows(tx, folder, &uids)?;
                let (mut updated, new) = flag_changes(current, change, &flags, unchanged_since);
                if !new.is_empty() {
                    let (modseq, _) = bump(tx, folder, 0)?;
                    let mut stmt = tx.prepare_cached(
                        "UPDATE folder_messages SET flags = ?3, system_flags = ?4, modseq = ?5
                         WHERE folder_id = ?1 AND uid = ?2",
                    )?;
                    for (uid, next) in new {
                        let bits = system_flag_bits(&next);
                        stmt.execute(params![folder, uid, join_flags(&next), bits, modseq as i64])?;
                        updated.changed.push((uid, next, modseq));
                    }
                }
                Ok((updated, mailbox_of(tx, folder)?))
            })
            .await?;
        if !updated.changed.is_empty() {
            self.notify(mailbox);
        }
        Ok(updated)
    }

    async fn append_indexed(
        &self,
        folder: FolderId,
        messages: &[Appended],
        facts: &[crate::MessageFacts],
    ) -> Result<(u32, Vec<u32>), StoreError> {
        let messages = messages.to_vec();
        let count = u32::try_from(messages.len()).map_err(|_| StoreError::Invalid("too many messages".into()))?;
        // Each text to the indexer now, as a delivery's (see `link_message`).
        let mut indexed = Vec::with_capacity(facts.len());
        let mut tickets = Vec::with_capacity(facts.len());
        for f in facts {
            let (f, words) = words_apart(f.clone());
            if let Some(ticket) = self.pool.texts.hand(f.blob, words).await {
                tickets.push((f.blob, ticket));
            }
            indexed.push(f);
        }
        let facts = indexed;
        let (result, mailbox, written) = self
            .write(move |tx| {
                let target = folder_by_id(tx, folder)?;
                let (modseq, first_uid) = bump(tx, folder, count)?;
                let mut uids = Vec::with_capacity(messages.len());
                let mut written = Vec::new();
                for (i, m) in messages.iter().enumerate() {
                    let row = NewRow {
                        blob: &m.blob,
                        size: m.size,
                        received_at: m.received_at,
                        inline: m.inline.as_deref(),
                        facts: facts.iter().find(|f| f.blob == m.blob),
                    };
                    let inserted = insert_message(tx, &row)?;
                    let (message_id, columns) = (inserted.message_id, inserted.columns);
                    if let Some(id) = inserted.facts_id {
                        written.push((m.blob, id));
                    }
                    let uid = first_uid + i as u32;
                    let flags = join_flags(&m.flags);
                    insert_folder_row(
                        tx,
                        &FolderRow {
                            folder,
                            uid,
                            message_id,
                            flags: &flags,
                            system_flags: system_flag_bits(&m.flags),
                            modseq: modseq as i64,
                            received_at: m.received_at,
                            facts: columns,
                        },
                    )?;
                    uids.push(uid);
                }
                Ok(((target.uidvalidity, uids), target.mailbox, written))
            })
            .await?;
        for (blob, ticket) in tickets {
            ticket.linked(written.iter().find(|(written, _)| *written == blob).map(|&(_, id)| id));
        }
        self.notify(mailbox);
        Ok(result)
    }

    async fn copy_messages(&self, from: FolderId, uids: &[u32], to: FolderId) -> Result<Copied, StoreError> {
        let uids = uids.to_vec();
        let (copied, mailbox) = self
            .write(move |tx| {
                let copied = copy_rows(tx, from, &uids, to)?;
                Ok((copied, mailbox_of(tx, to)?))
            })
            .await?;
        self.notify(mailbox);
        Ok(copied)
    }

    async fn move_messages(&self, from: FolderId, uids: &[u32], to: FolderId) -> Result<Copied, StoreError> {
        if from == to {
            return Err(StoreError::Invalid("cannot move messages to the folder they are in".into()));
        }
        let uids = uids.to_vec();
        let (copied, mailboxes) = self
            .write(move |tx| {
                let copied = copy_rows(tx, from, &uids, to)?;
                let moved: Vec<u32> = copied.pairs.iter().map(|&(uid, _)| uid).collect();
                let (modseq, _) = bump(tx, from, 0)?;
                remove_rows(tx, from, &moved, modseq)?;
                Ok((copied, [mailbox_of(tx, from)?, mailbox_of(tx, to)?]))
            })
            .await?;
        self.notify(mailboxes[0]);
        if mailboxes[1] != mailboxes[0] {
            self.notify(mailboxes[1]);
        }
        Ok(copied)
    }

    async fn expunge(&self, folder: FolderId, uids: Option<&[u32]>) -> Result<Vec<u32>, StoreError> {
        let only = uids.map(<[u32]>::to_vec);
        let (gone, mailbox) = self
            .write(move |tx| {
                let deleted: Vec<u32> = {
                    let mut stmt = tx.prepare_cached(
                        "SELECT uid FROM folder_messages WHERE folder_id = ?1 AND instr(flags, '\\Deleted') > 0
                         ORDER BY uid",
                    )?;
                    stmt.query_map([folder], |r| r.get(0))?.collect::<Result<_, _>>()?
                };
                let gone: Vec<u32> = match &only {
                    Some(only) => deleted.into_iter().filter(|uid| only.binary_search(uid).is_ok()).collect(),
                    None => deleted,
                };
                if !gone.is_empty() {
                    let (modseq, _) = bump(tx, folder, 0)?;
                    remove_rows(tx, folder, &gone, modseq)?;
                }
                Ok((gone, mailbox_of(tx, folder)?))
            })
            .await?;
        if !gone.is_empty() {
            self.notify(mailbox);
        }
        Ok(gone)
    }

    async fn changes_since(&self, folder: FolderId, modseq: u64) -> Result<Changes, StoreError> {
        self.read(move |conn| {
            let current = folder_by_id(conn, folder)?;
            let since = i64::try_from(modseq).unwrap_or(i64::MAX);
            let expunged: Vec<u32> = {
                let mut stmt =
                    conn.prepare_cached("SELECT uid FROM expunged WHERE folder_id = ?1 AND modseq > ?2 ORDER BY uid")?;
                stmt.query_map(params![folder, since], |r| r.get(0))?.collect::<Result<_, _>>()?
            };
            let mut stmt = conn.prepare_cached(
                "SELECT fm.uid, fm.flags, fm.modseq, m.blob_hash, m.size, m.received_at
                 FROM folder_messages fm JOIN messages m ON m.id = fm.message_id
                 WHERE fm.folder_id = ?1 AND fm.modseq > ?2 ORDER BY fm.uid",
            )?;
            let changed = stmt.query_map(params![folder, since], meta_row)?.collect::<Result<_, _>>()?;
            Ok(Changes { highest_modseq: current.highest_modseq, uidnext: current.uidnext, expunged, changed })
        })
        .await
    }

    fn watch(&self) -> tokio::sync::broadcast::Receiver<MailboxId> {
        self.pool.changes.subscribe()
    }
}

/// A folder's counts, kept on its row (migration 0030); none for a folder
/// that is gone.
pub(super) fn folder_counts(conn: &Connection, folder: FolderId) -> Result<FolderCounts, StoreError> {
    let counts: Option<(u32, u32, u32, i64)> = conn
        .prepare_cached("SELECT message_count, unseen_count, deleted_count, total_size FROM folders WHERE id = ?1")?
        .query_row([folder], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .optional()?;
    let (messages, unseen, deleted, size) = counts.unwrap_or_default();
    Ok(FolderCounts { messages, unseen, deleted, size: size.max(0) as u64 })
}

#[cfg(test)]
mod tests {
    use super::super::tests::temporary_store;
    use super::*;

    /// The plan SQLite chooses for a search by flags in folder 1.
    fn plan(conn: &Connection, with: &[&str], without: &[&str]) -> String {
        let owned = |flags: &[&str]| flags.iter().map(|f| f.to_string()).collect::<Vec<_>>();
        let (sql, values) = flag_search(1, &owned(with), &owned(without));
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let rows = stmt.query_map(rusqlite::params_from_iter(values), |r| r.get::<_, String>(3)).unwrap();
        rows.collect::<Result<Vec<_>, _>>().unwrap().join("; ")
    }

    #[tokio::test]
    async fn searches_of_unseen_messages_walk_the_index_of_unseen_messages_only() {
        let (_dir, store) = temporary_store().await;
        let plans = store
            .read(|conn| {
                Ok([
                    plan(conn, &[], &["\\Seen"]),
                    plan(conn, &["\\Flagged", "$Ordonnance"], &["\\seen", "\\Deleted"]),
                    plan(conn, &["\\Seen"], &[]),
                    plan(conn, &[], &["\\Deleted"]),
                ])
            })
            .await
            .unwrap();
        assert!(plans[0].contains("COVERING INDEX folder_messages_unseen"), "the index alone: {}", plans[0]);
        for unseen in &plans[..2] {
            assert!(unseen.contains("folder_messages_unseen"), "{unseen}");
            assert!(!unseen.contains("TEMP B-TREE"), "already in UID order: {unseen}");
        }
        for other in &plans[2..] {
            assert!(!other.contains("folder_messages_unseen"), "the index holds unseen messages only: {other}");
        }
    }
}
