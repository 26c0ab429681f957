//! [`FactsStore`] on SQLite: one `message_facts` row per blob, its
//! searchable text in the FTS5 table `message_text` under the row's id
//! (migration 0011), deleted with it (a trigger). The text of facts written
//! again (the backfill) is written in the same transaction; that of a new
//! message is indexed after its link commits (see [`super::text_index`]),
//! its facts named in `text_pending` until then (migration 0031).

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};

use super::SqliteStore;
use super::folders::{folder_rows, meta_row};
use crate::facts::{first_seen, sorted_uids_sql, ties_by_ascending_uid};
use crate::sort_index::{BATCH, INDEXED};
use crate::{
    BlobHash, DocumentCopy, EncodedFacts, FactColumns, FactsBacklog, FactsStore, FactsWalk, FolderId, FolderPage,
    ImapSortKey, IndexedText, MailboxId, MessageFacts, MessageMeta, PageQuery, Receipt, SearchedHeader, SortFacts,
    SortTexts, SortedMessage, StoreError,
};

/// The facts of a new message, and the words of their text, taken out for
/// the indexer ([`super::text_index`]).
pub(crate) fn words_apart(mut facts: MessageFacts) -> (MessageFacts, IndexedText) {
    let words = std::mem::take(&mut facts.text);
    (facts, words)
}

/// Which messages the facts are for.
pub(crate) enum FactsOf {
    /// Messages stored already: the facts are written only if a message
    /// names their blob (a message deleted meanwhile leaves none behind),
    /// their text indexed in the same transaction.
    StoredMessages,
    /// A message the caller inserts next, in the same transaction; its
    /// text is indexed later (named in `text_pending` until then).
    MessageInserted,
}

/// Writes facts, replacing an older version, and indexes their text (now
/// or later, see [`FactsOf`]); returns their row's id, or None when nothing
/// was written (no message of theirs, or facts of this version or later
/// there already).
pub(crate) fn insert_facts(tx: &Transaction<'_>, facts: &MessageFacts, of: FactsOf) -> Result<Option<i64>, StoreError> {
    let c = &facts.columns;
    let written: Option<i64> = tx
        .prepare_cached(
            "INSERT INTO message_facts (blob_hash, version, encoded, sent_at, subject, from_name, from_address,
                                        to_addresses, cc_addresses, message_id, in_reply_to, patient_ins, xdm,
                                        attachments, sender_key, subject_key, header, search_subject,
                                        search_from, search_to, search_cc, search_bcc, closes_conversation,
                                        receipt_for, receipt_disposition, preview, imap_subject_key,
                                        imap_from_key)
             SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20,
                    ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28
             WHERE ?29 OR EXISTS (SELECT 1 FROM messages WHERE facts_id IS NULL AND blob_hash = ?1)
                OR EXISTS (SELECT 1 FROM messages WHERE facts_id = (SELECT id FROM message_facts WHERE blob_hash = ?1))
             ON CONFLICT (blob_hash) DO UPDATE SET
                version = excluded.version, encoded = excluded.encoded, sent_at = excluded.sent_at,
                subject = excluded.subject, from_name = excluded.from_name, from_address = excluded.from_address,
                to_addresses = excluded.to_addresses, cc_addresses = excluded.cc_addresses,
                message_id = excluded.message_id, in_reply_to = excluded.in_reply_to,
                patient_ins = excluded.patient_ins, xdm = excluded.xdm, attachments = excluded.attachments,
                sender_key = excluded.sender_key, subject_key = excluded.subject_key,
                header = excluded.header, search_subject = excluded.search_subject,
                search_from = excluded.search_from, search_to = excluded.search_to,
                search_cc = excluded.search_cc, search_bcc = excluded.search_bcc,
                closes_conversation = excluded.closes_conversation, receipt_for = excluded.receipt_for,
                receipt_disposition = excluded.receipt_disposition, preview = excluded.preview,
                imap_subject_key = excluded.imap_subject_key, imap_from_key = excluded.imap_from_key
             WHERE excluded.version > message_facts.version
             RETURNING id",
        )?
        .query_row(
            params![
                facts.blob.to_hex(),
                facts.version,
                facts.encoded,
                c.sent_at,
                c.subject,
                c.from_name,
                c.from_address,
                c.to_addresses,
                c.cc_addresses,
                c.message_id,
                c.in_reply_to,
                c.patient_ins,
                c.xdm,
                c.attachments,
                c.sender_key,
                c.subject_key,
                c.header,
                facts.searched[SearchedHeader::Subject as usize],
                facts.searched[SearchedHeader::From as usize],
                facts.searched[SearchedHeader::To as usize],
                facts.searched[SearchedHeader::Cc as usize],
                facts.searched[SearchedHeader::Bcc as usize],
                c.closes_conversation,
                c.receipt_for,
                c.receipt_disposition,
                c.preview,
                c.imap_subject_key,
                c.imap_from_key,
                matches!(of, FactsOf::MessageInserted)
            ],
            |r| r.get(0),
        )
        .optional()?;
    let Some(id) = written else { return Ok(None) };
    // The text of the version replaced goes first (a no-op for a new row).
    tx.prepare_cached("DELETE FROM message_text WHERE rowid = ?1")?.execute([id])?;
    match of {
        FactsOf::StoredMessages => {
            tx.prepare_cached("INSERT INTO message_text (rowid, text) VALUES (?1, ?2)")?
                .execute(params![id, facts.text.as_str()])?;
            // A text still to come from a link is older than this one.
            tx.prepare_cached("DELETE FROM text_pending WHERE facts_id = ?1")?.execute([id])?;
        }
        FactsOf::MessageInserted => {
            tx.prepare_cached("INSERT INTO text_pending (facts_id) VALUES (?1) ON CONFLICT DO NOTHING")?
                .execute([id])?;
        }
    }
    tx.prepare_cached("DELETE FROM message_documents WHERE facts_id = ?1")?.execute([id])?;
    let mut document = tx.prepare_cached(
        "INSERT INTO message_documents (facts_id, document_id, replaces) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
    )?;
    for key in &facts.documents {
        document.execute(params![id, key.id, key.replaces])?;
    }
    Ok(Some(id))
}

const FACTS_COLUMNS: &str = "mf.blob_hash, mf.version, mf.encoded, mf.sent_at, mf.subject, mf.from_name, \
                             mf.from_address, mf.to_addresses, mf.cc_addresses, mf.message_id, mf.in_reply_to, \
                             mf.patient_ins, mf.xdm, mf.attachments, mf.sender_key, mf.subject_key, mf.header, \
                             mf.closes_conversation, mf.receipt_for, mf.receipt_disposition, mf.preview, \
                             mf.imap_subject_key, mf.imap_from_key";

/// Reads [`FACTS_COLUMNS`] from `first` on.
fn facts_row(r: &Row<'_>, first: usize) -> rusqlite::Result<MessageFacts> {
    Ok(MessageFacts {
        blob: r.get(first)?,
        version: r.get(first + 1)?,
        encoded: r.get(first + 2)?,
        columns: columns_row(r, first + 3)?,
        text: IndexedText::default(),
        searched: Default::default(),
        documents: Vec::new(),
    })
}

/// The listed columns: [`FACTS_COLUMNS`] from `mf.sent_at` on, read from `first`.
pub(super) const LISTED_COLUMNS: &str = "mf.sent_at, mf.subject, mf.from_name, mf.from_address, mf.to_addresses, \
                                         mf.cc_addresses, mf.message_id, mf.in_reply_to, mf.patient_ins, mf.xdm, \
                                         mf.attachments, mf.sender_key, mf.subject_key, mf.header, \
                                         mf.closes_conversation, mf.receipt_for, mf.receipt_disposition, \
                                         mf.preview, mf.imap_subject_key, mf.imap_from_key";

/// How many columns [`LISTED_COLUMNS`] names.
pub(super) const LISTED_COUNT: usize = 20;

/// Reads [`LISTED_COLUMNS`] from `first` on.
pub(super) fn columns_row(r: &Row<'_>, first: usize) -> rusqlite::Result<FactColumns> {
    Ok(FactColumns {
        sent_at: r.get(first)?,
        subject: r.get(first + 1)?,
        from_name: r.get(first + 2)?,
        from_address: r.get(first + 3)?,
        to_addresses: r.get(first + 4)?,
        cc_addresses: r.get(first + 5)?,
        message_id: r.get(first + 6)?,
        in_reply_to: r.get(first + 7)?,
        patient_ins: r.get(first + 8)?,
        xdm: r.get(first + 9)?,
        attachments: r.get(first + 10)?,
        sender_key: r.get(first + 11)?,
        subject_key: r.get(first + 12)?,
        header: r.get(first + 13)?,
        closes_conversation: r.get(first + 14)?,
        receipt_for: r.get(first + 15)?,
        receipt_disposition: r.get(first + 16)?,
        preview: r.get(first + 17)?,
        imap_subject_key: r.get(first + 18)?,
        imap_from_key: r.get(first + 19)?,
    })
}

fn folder_facts(conn: &Connection, folder: FolderId, uids: &[u32]) -> Result<Vec<(u32, MessageFacts)>, StoreError> {
    let sql = format!(
        "SELECT fm.uid, {FACTS_COLUMNS}
         FROM folder_messages fm
         JOIN messages m ON m.id = fm.message_id
         JOIN message_facts mf ON mf.id = m.facts_id
         WHERE fm.folder_id = ?1 AND fm.uid BETWEEN ?2 AND ?3 ORDER BY fm.uid"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut uids = uids.to_vec();
    uids.sort_unstable();
    uids.dedup();
    let mut out = Vec::with_capacity(uids.len());
    for (start, end) in crate::folders::uid_runs(&uids) {
        let rows = stmt.query_map(params![folder, start, end], |r| Ok((r.get::<_, u32>(0)?, facts_row(r, 1)?)))?;
        for row in rows {
            out.push(row?);
        }
    }
    Ok(out)
}

/// The column of `message_facts` that keeps a searched field's text.
fn searched_column(field: SearchedHeader) -> &'static str {
    match field {
        SearchedHeader::Subject => "mf.search_subject",
        SearchedHeader::From => "mf.search_from",
        SearchedHeader::To => "mf.search_to",
        SearchedHeader::Cc => "mf.search_cc",
        SearchedHeader::Bcc => "mf.search_bcc",
    }
}

/// Messages whose blob has no facts of `version` or later.
const WITHOUT_FACTS: &str = "FROM messages m
     WHERE NOT EXISTS (SELECT 1 FROM message_facts mf WHERE mf.blob_hash = m.blob_hash AND mf.version >= ?1)";

#[async_trait]
impl FactsStore for SqliteStore {
    async fn put_facts(&self, facts: &[MessageFacts]) -> Result<usize, StoreError> {
        let facts = facts.to_vec();
        self.write(move |tx| {
            let mut written = 0;
            for f in &facts {
                written += usize::from(insert_facts(tx, f, FactsOf::StoredMessages)?.is_some());
            }
            Ok(written)
        })
        .await
    }

    async fn facts(&self, folder: FolderId, uids: &[u32]) -> Result<Vec<(u32, MessageFacts)>, StoreError> {
        let uids = uids.to_vec();
        self.read(move |conn| folder_facts(conn, folder, &uids)).await
    }

    async fn messages_with_facts(
        &self,
        folder: FolderId,
        uids: &[u32],
    ) -> Result<Vec<(MessageMeta, Option<EncodedFacts>)>, StoreError> {
        let uids = uids.to_vec();
        self.read(move |conn| {
            let sql = "SELECT fm.uid, fm.flags, fm.modseq, m.blob_hash, m.size, m.received_at, mf.version, mf.encoded
                 FROM folder_messages fm JOIN messages m ON m.id = fm.message_id
                 LEFT JOIN message_facts mf ON mf.id = m.facts_id
                 WHERE fm.folder_id = ?1 AND fm.uid BETWEEN ?2 AND ?3 ORDER BY fm.uid";
            folder_rows(conn, sql, folder, &uids, |r| {
                let facts = match r.get::<_, Option<u32>>(6)? {
                    Some(version) => Some(EncodedFacts { version, encoded: r.get(7)? }),
                    None => None,
                };
                Ok((meta_row(r)?, facts))
            })
        })
        .await
    }

    async fn blobs_without_facts(
        &self,
        version: u32,
        after: FactsWalk,
        limit: usize,
    ) -> Result<(Vec<BlobHash>, FactsWalk), StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(move |conn| {
            let sql = format!("SELECT m.id, m.blob_hash {WITHOUT_FACTS} AND m.id > ?2 ORDER BY m.id LIMIT ?3");
            let mut stmt = conn.prepare(&sql)?;
            let rows: Vec<(i64, BlobHash)> = stmt
                .query_map(params![version, after.0, limit], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?;
            let walk = rows.last().map_or(after, |&(id, _)| FactsWalk(id));
            Ok((first_seen(rows.into_iter().map(|(_, hash)| hash)), walk))
        })
        .await
    }

    async fn facts_backlog(&self, version: u32) -> Result<FactsBacklog, StoreError> {
        self.read(move |conn| {
            let sql = format!("SELECT COUNT(*), COUNT(DISTINCT m.blob_hash) {WITHOUT_FACTS}");
            let (messages, blobs): (i64, i64) = conn.query_row(&sql, [version], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(FactsBacklog { messages: messages.max(0) as u64, blobs: blobs.max(0) as u64 })
        })
        .await
    }

    async fn requeue_unindexed_texts(&self) -> Result<u64, StoreError> {
        self.write(|tx| {
            // Version 0: older than any writer's, so written again whole.
            let requeued =
                tx.execute("UPDATE message_facts SET version = 0 WHERE id IN (SELECT facts_id FROM text_pending)", [])?;
            tx.execute("DELETE FROM text_pending", [])?;
            Ok(requeued as u64)
        })
        .await
    }

    async fn folder_blobs_without_facts(
        &self,
        folder: FolderId,
        version: u32,
        limit: usize,
    ) -> Result<Vec<BlobHash>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(move |conn| {
            // From the folder's rows: the rest of the store is not read.
            let mut stmt = conn.prepare_cached(
                "SELECT DISTINCT m.blob_hash FROM folder_messages fm JOIN messages m ON m.id = fm.message_id
                 WHERE fm.folder_id = ?2 AND NOT EXISTS
                    (SELECT 1 FROM message_facts mf WHERE mf.blob_hash = m.blob_hash AND mf.version >= ?1)
                 LIMIT ?3",
            )?;
            let rows = stmt.query_map(params![version, folder, limit], |r| r.get::<_, BlobHash>(0))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn sorted_uids(
        &self,
        folder: FolderId,
        key: ImapSortKey,
        reverse: bool,
    ) -> Result<Option<Vec<u32>>, StoreError> {
        let (indexed, sorted) = self
            .read(move |conn| {
                let indexed = sort_index(conn, folder)? == Some(INDEXED);
                Ok((indexed, sorted_uids(conn, folder, key, reverse, indexed)?))
            })
            .await?;
        if !indexed {
            self.pool.marking.start(self, folder);
        }
        Ok(sorted)
    }

    async fn mark_sorted_rows(&self, folder: FolderId, after: Option<u32>) -> Result<Option<u32>, StoreError> {
        if after.is_none() && self.read(move |conn| Ok(sort_index(conn, folder)?.is_none_or(|s| s == INDEXED))).await? {
            return Ok(None);
        }
        self.write(move |tx| {
            let Some(after) = after else {
                let started = tx
                    .prepare_cached("UPDATE folders SET sort_index = 1 WHERE id = ?1 AND sort_index < ?2")?
                    .execute(params![folder, INDEXED])?;
                return Ok((started > 0).then_some(0));
            };
            let last: Option<u32> = tx
                .prepare_cached(
                    "SELECT uid FROM folder_messages WHERE folder_id = ?1 AND uid > ?2 ORDER BY uid LIMIT 1 OFFSET ?3",
                )?
                .query_row(params![folder, after, BATCH - 1], |r| r.get(0))
                .optional()?;
            tx.prepare_cached(
                "UPDATE folder_messages SET sorted = TRUE
                 WHERE folder_id = ?1 AND uid > ?2 AND uid <= ?3 AND sorted = FALSE",
            )?
            .execute(params![folder, after, last.unwrap_or(u32::MAX)])?;
            if last.is_none() {
                tx.prepare_cached("UPDATE folders SET sort_index = ?2 WHERE id = ?1")?
                    .execute(params![folder, INDEXED])?;
            }
            Ok(last)
        })
        .await
    }

    async fn sort_rows(
        &self,
        folder: FolderId,
        version: u32,
        texts: SortTexts,
    ) -> Result<Vec<SortedMessage>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT fm.uid, m.received_at, m.size, mf.id IS NOT NULL, mf.header, mf.sent_at, mf.subject,
                        mf.from_name, mf.from_address, mf.to_addresses, mf.cc_addresses
                 FROM folder_messages fm
                 JOIN messages m ON m.id = fm.message_id
                 LEFT JOIN message_facts mf ON mf.id = m.facts_id AND mf.version >= ?2
                 WHERE fm.folder_id = ?1 ORDER BY fm.uid",
            )?;
            // A text not asked for is not read (an allocation per message).
            let text = |r: &Row<'_>, asked: bool, at: usize| if asked { r.get(at) } else { Ok(None) };
            let rows = stmt.query_map(params![folder, version], |r| {
                let facts = match r.get::<_, bool>(3)? {
                    false => None,
                    true => Some(SortFacts {
                        header: r.get(4)?,
                        sent_at: r.get(5)?,
                        subject: text(r, texts.subject, 6)?,
                        from_name: text(r, texts.from, 7)?,
                        from_address: text(r, texts.from, 8)?,
                        to_addresses: text(r, texts.to, 9)?,
                        cc_addresses: text(r, texts.cc, 10)?,
                    }),
                };
                let size = r.get::<_, i64>(2)?.max(0) as u64;
                Ok(SortedMessage { uid: r.get(0)?, received_at: r.get(1)?, size, facts })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn header_candidates(
        &self,
        folder: FolderId,
        version: u32,
        needles: &[(SearchedHeader, String)],
    ) -> Result<Vec<(u32, bool)>, StoreError> {
        let needles = needles.to_vec();
        self.read(move |conn| {
            // A NULL text (not known) keeps the message, like no facts.
            let tests: Vec<String> = needles
                .iter()
                .enumerate()
                .map(|(i, (field, _))| format!(" AND coalesce(instr({}, ?{}), 1) > 0", searched_column(*field), i + 3))
                .collect();
            let known: Vec<String> =
                needles.iter().map(|(field, _)| format!(" AND {} IS NOT NULL", searched_column(*field))).collect();
            let sql = format!(
                "SELECT fm.uid, mf.id IS NOT NULL {} FROM folder_messages fm
                 JOIN messages m ON m.id = fm.message_id
                 LEFT JOIN message_facts mf INDEXED BY message_facts_search
                     ON mf.id = m.facts_id AND mf.version >= ?2 AND mf.header = 1
                 WHERE fm.folder_id = ?1 AND (mf.id IS NULL OR (1 {}))
                 ORDER BY fm.uid",
                known.concat(),
                tests.concat()
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut bound: Vec<&dyn rusqlite::ToSql> = vec![&folder, &version];
            bound.extend(needles.iter().map(|(_, needle)| needle as &dyn rusqlite::ToSql));
            let rows = stmt.query_map(&bound[..], |r| Ok((r.get::<_, u32>(0)?, r.get::<_, bool>(1)?)))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn receipts(&self, mailbox: MailboxId, ids: &[String]) -> Result<Vec<Receipt>, StoreError> {
        let ids = ids.to_vec();
        self.read(move |conn| {
            // A receipt filed in two folders is one receipt.
            let mut stmt = conn.prepare_cached(
                "SELECT mf.receipt_for, mf.from_address, mf.receipt_disposition, MIN(m.received_at)
                 FROM message_facts mf
                 JOIN messages m ON m.facts_id = mf.id
                 JOIN folder_messages fm ON fm.message_id = m.id
                 JOIN folders f ON f.id = fm.folder_id
                 WHERE mf.receipt_for = ?2 AND f.mailbox_id = ?1
                 GROUP BY mf.id ORDER BY 4",
            )?;
            let mut out = Vec::new();
            for id in &ids {
                let rows = stmt.query_map(params![mailbox, id], |r| {
                    Ok(Receipt { original: r.get(0)?, from: r.get(1)?, disposition: r.get(2)?, at: r.get(3)? })
                })?;
                for row in rows {
                    out.push(row?);
                }
            }
            out.sort_by_key(|r| r.at);
            Ok(out)
        })
        .await
    }

    async fn document_copies(&self, mailbox: MailboxId, ids: &[String]) -> Result<Vec<DocumentCopy>, StoreError> {
        let ids: Vec<String> = ids.iter().take(20).cloned().collect();
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT md.document_id, md.replaces, f.name, fm.uid, m.received_at
                 FROM message_documents md
                 JOIN messages m ON m.facts_id = md.facts_id
                 JOIN folder_messages fm ON fm.message_id = m.id
                 JOIN folders f ON f.id = fm.folder_id
                 WHERE (md.document_id = ?2 OR md.replaces = ?2) AND f.mailbox_id = ?1
                 ORDER BY m.received_at, f.name, fm.uid LIMIT 50",
            )?;
            let mut out: Vec<DocumentCopy> = Vec::new();
            for id in &ids {
                let rows = stmt.query_map(params![mailbox, id], |r| {
                    Ok(DocumentCopy {
                        document_id: r.get(0)?,
                        replaces: r.get(1)?,
                        folder: r.get(2)?,
                        uid: r.get(3)?,
                        received_at: r.get(4)?,
                    })
                })?;
                for row in rows {
                    let row = row?;
                    if !out.contains(&row) {
                        out.push(row);
                    }
                }
            }
            out.sort_by(|a, b| (a.received_at, &a.folder, a.uid).cmp(&(b.received_at, &b.folder, b.uid)));
            out.truncate(50);
            Ok(out)
        })
        .await
    }

    async fn folder_page(&self, folder: FolderId, query: &PageQuery) -> Result<FolderPage, StoreError> {
        if query.search.is_some() {
            // The messages stored before the search are found by their text.
            self.pool.texts.caught_up().await;
        }
        let query = query.clone();
        let by_sort_key = query.by_sort_key();
        let (indexed, page) = self
            .read(move |conn| {
                let indexed = by_sort_key && sort_index(conn, folder)? == Some(INDEXED);
                Ok((indexed, super::listing::folder_page(conn, folder, &query, indexed)?))
            })
            .await?;
        if by_sort_key && !indexed {
            self.pool.marking.start(self, folder);
        }
        Ok(page)
    }
}

/// [`FactsStore::sorted_uids`], from the folder's sort index when
/// `indexed`, else from its rows read and sorted whole.
fn sorted_uids(
    conn: &Connection,
    folder: FolderId,
    key: ImapSortKey,
    reverse: bool,
    indexed: bool,
) -> Result<Option<Vec<u32>>, StoreError> {
    let (incomplete, ordered) = sorted_uids_sql(key, reverse, "?1", indexed);
    if conn.prepare_cached(&incomplete)?.query_row([folder], |r| r.get::<_, bool>(0))? {
        return Ok(None);
    }
    let mut stmt = conn.prepare_cached(&ordered)?;
    if !reverse {
        let uids = stmt.query_map([folder], |r| r.get::<_, u32>(0))?.collect::<Result<_, _>>()?;
        return Ok(Some(uids));
    }
    // The key of the run being read: copied once a run, compared in
    // place for each row.
    let (mut run, mut key) = (0u32, None::<rusqlite::types::Value>);
    let rows = stmt.query_map([folder], |r| {
        let this = r.get_ref(1)?;
        if key.as_ref().is_none_or(|k| rusqlite::types::ValueRef::from(k) != this) {
            run += 1;
            key = Some(r.get(1)?);
        }
        Ok((run, r.get::<_, u32>(0)?))
    })?;
    Ok(Some(ties_by_ascending_uid(rows.collect::<Result<_, _>>()?)))
}

/// Where the marking of `folder`'s rows for its sort indexes stands (see
/// [`crate::sort_index`]); none for a folder that is gone.
fn sort_index(conn: &Connection, folder: FolderId) -> Result<Option<i32>, StoreError> {
    let state = conn
        .prepare_cached("SELECT sort_index FROM folders WHERE id = ?1")?
        .query_row([folder], |r| r.get(0))
        .optional()?;
    Ok(state)
}

#[cfg(test)]
mod tests {
    use super::super::tests::store_with_inbox;
    use super::*;
    use crate::{Appended, FolderStore, ListOrder};

    #[test]
    fn the_listed_count_is_the_listed_columns() {
        assert_eq!(super::LISTED_COLUMNS.split(',').count(), super::LISTED_COUNT);
    }

    /// Appends a message with facts whose sort keys come from `subject`.
    async fn append(store: &SqliteStore, folder: FolderId, subject: &str) {
        let raw = format!("Subject: {subject}\r\n\r\nx").into_bytes();
        let columns = FactColumns {
            header: true,
            sent_at: Some(1_715_671_800),
            sender_key: subject.to_lowercase(),
            subject_key: subject.to_lowercase(),
            imap_subject_key: Some(subject.to_ascii_uppercase()),
            imap_from_key: Some(subject.to_ascii_uppercase()),
            ..FactColumns::default()
        };
        let (blob, size) = (crate::BlobHash::of(&raw), raw.len() as u64);
        let facts = MessageFacts {
            blob,
            version: 1,
            encoded: b"{}".to_vec(),
            columns,
            text: IndexedText::default(),
            searched: Default::default(),
            documents: Vec::new(),
        };
        let message = Appended { blob, size, received_at: 1, flags: vec![], inline: Some(raw) };
        store.append_indexed(folder, &[message], &[facts]).await.unwrap();
    }

    /// The folder's `sort_index`, and how many of its rows are marked.
    async fn marks(store: &SqliteStore, folder: FolderId) -> (i32, i64) {
        let sql = "SELECT sort_index, (SELECT count(*) FROM folder_messages WHERE folder_id = ?1 AND sorted)
                   FROM folders WHERE id = ?1";
        store.read(move |conn| Ok(conn.query_row(sql, [folder], |r| Ok((r.get(0)?, r.get(1)?)))?)).await.unwrap()
    }

    /// Waits until the folder's marking, started in the background, is done.
    async fn indexed(store: &SqliteStore, folder: FolderId) -> (i32, i64) {
        for _ in 0..500 {
            let marks = marks(store, folder).await;
            if marks.0 == INDEXED {
                return marks;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("folder {folder} not marked after 5 s");
    }

    /// The plan of a whole-folder SORT SUBJECT of folder 1.
    fn plan(conn: &Connection, indexed: bool) -> String {
        let (_, ordered) = sorted_uids_sql(ImapSortKey::Subject, false, "?1", indexed);
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {ordered}")).unwrap();
        let rows = stmt.query_map([1], |r| r.get::<_, String>(3)).unwrap();
        rows.collect::<Result<Vec<_>, _>>().unwrap().join("; ")
    }

    /// A folder nobody sorted writes no entry in the sort indexes; its
    /// first SORT, or its first page sorted by sender, is read from its
    /// rows and has them marked in the background; from then on its new
    /// rows are written marked and its sorts read the index.
    #[tokio::test]
    async fn a_folder_is_marked_for_its_sort_indexes_once_sorted() {
        let (_dir, store, mailbox, inbox) = store_with_inbox().await;
        let archive = store.folder(mailbox.id, "Archive").await.unwrap().unwrap();
        for subject in ["Bilan", "Ordonnance", "Analyse"] {
            append(&store, inbox.id, subject).await;
            append(&store, archive.id, subject).await;
        }
        assert_eq!(marks(&store, inbox.id).await, (0, 0), "never sorted: no row marked");

        let sorted = store.sorted_uids(inbox.id, ImapSortKey::Subject, false).await.unwrap();
        assert_eq!(sorted, Some(vec![3, 1, 2]), "read from the rows");
        assert_eq!(indexed(&store, inbox.id).await, (INDEXED, 3), "marked in the background");
        assert_eq!(marks(&store, archive.id).await, (0, 0), "another folder untouched");
        append(&store, inbox.id, "Courrier").await;
        append(&store, archive.id, "Courrier").await;
        assert_eq!(marks(&store, inbox.id).await, (INDEXED, 4), "a new row written marked");
        assert_eq!(marks(&store, archive.id).await, (0, 0));
        let sorted = store.sorted_uids(inbox.id, ImapSortKey::Subject, false).await.unwrap();
        assert_eq!(sorted, Some(vec![3, 1, 4, 2]), "read from the index, the new row with the others");
        let (from_index, from_rows) = store.read(|conn| Ok((plan(conn, true), plan(conn, false)))).await.unwrap();
        assert!(from_index.contains("folder_messages_imap_subject_key"), "{from_index}");
        assert!(!from_index.contains("TEMP B-TREE"), "in the index's order: {from_index}");
        assert!(!from_rows.contains("folder_messages_imap_subject_key"), "{from_rows}");

        // Listed by arrival: nothing marked; by sender: marked as well.
        let newest = PageQuery { limit: 10, ..PageQuery::default() };
        store.folder_page(archive.id, &newest).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert_eq!(marks(&store, archive.id).await, (0, 0));
        let by_sender = PageQuery { order: ListOrder::Sender, limit: 10, ..PageQuery::default() };
        let page = store.folder_page(archive.id, &by_sender).await.unwrap();
        assert_eq!(page.messages.iter().map(|m| m.meta.uid).collect::<Vec<_>>(), [3, 1, 4, 2]);
        // Another folder sorted meanwhile: its marking waits its turn.
        let other = store.create_folder(mailbox.id, "Dossier").await.unwrap();
        append(&store, other.id, "Bilan").await;
        store.sorted_uids(other.id, ImapSortKey::From, true).await.unwrap();
        assert_eq!(indexed(&store, archive.id).await, (INDEXED, 4), "a sorted page marks the folder too");
        assert_eq!(indexed(&store, other.id).await, (INDEXED, 1), "then the next one");
        let page = store.folder_page(archive.id, &by_sender).await.unwrap();
        assert_eq!(page.messages.iter().map(|m| m.meta.uid).collect::<Vec<_>>(), [3, 1, 4, 2], "from the index");
    }

    /// What a hostile or unlucky client can make a sort do: fifty sorts at
    /// once of a folder never sorted all answer alike and leave it marked,
    /// every row once; a sort of a folder deleted meanwhile answers empty
    /// and leaves nothing to mark.
    #[tokio::test]
    async fn sorts_in_a_burst_or_of_a_folder_gone_answer_alike_or_empty() {
        let (_dir, store, mailbox, inbox) = store_with_inbox().await;
        for subject in ["Bilan", "Ordonnance", "Analyse"] {
            append(&store, inbox.id, subject).await;
        }
        let burst = (0..50).map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.sorted_uids(inbox.id, ImapSortKey::Subject, false).await.unwrap() })
        });
        for sorted in futures_util::future::join_all(burst).await {
            assert_eq!(sorted.unwrap(), Some(vec![3, 1, 2]));
        }
        assert_eq!(indexed(&store, inbox.id).await, (INDEXED, 3));

        let gone = store.create_folder(mailbox.id, "Ancien").await.unwrap();
        store.delete_folder(mailbox.id, "Ancien").await.unwrap();
        assert_eq!(store.sorted_uids(gone.id, ImapSortKey::From, false).await.unwrap(), Some(vec![]));
        let by_sender = PageQuery { order: ListOrder::Sender, limit: 10, ..PageQuery::default() };
        assert!(store.folder_page(gone.id, &by_sender).await.unwrap().messages.is_empty());
        assert_eq!(store.mark_sorted_rows(gone.id, None).await.unwrap(), None, "nothing to mark");
    }
}
