//! [`FactsStore`] on PostgreSQL: one `message_facts` row per blob, its
//! searchable text in `message_text` (a `tsvector` under the row's id),
//! written in the same transaction and deleted with it (ON DELETE CASCADE).
//! The text is folded ([`crate::words`]) before it is stored, and the words
//! searched for before they are looked up: no PostgreSQL extension needed.

use async_trait::async_trait;
use deadpool_postgres::{GenericClient, Transaction};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::folders::{folder_rows, lock_folder, meta_row};
use super::{PgStore, parse_col, retried};
use crate::facts::{first_seen, sorted_uids_sql, ties_by_ascending_uid};
use crate::sort_index::{BATCH, INDEXED};
use crate::{
    BlobHash, DocumentCopy, EncodedFacts, FactColumns, FactsBacklog, FactsStore, FactsWalk, FolderId, FolderPage,
    ImapSortKey, IndexedText, MailboxId, MessageFacts, MessageMeta, PageQuery, Receipt, SearchedHeader, SortFacts,
    SortTexts, SortedMessage, StoreError,
};

/// Writes facts if a message names their blob, replacing an older version,
/// and indexes their text.
pub(crate) async fn insert_facts(tx: &Transaction<'_>, facts: &MessageFacts) -> Result<usize, StoreError> {
    let c = &facts.columns;
    // Each value cast: in INSERT … SELECT, PostgreSQL does not infer the
    // parameters' types from the columns.
    let stmt = tx
        .prepare_cached(
            "INSERT INTO message_facts (blob_hash, version, encoded, sent_at, subject, from_name, from_address,
                                        to_addresses, cc_addresses, message_id, in_reply_to, patient_ins, xdm,
                                        attachments, sender_key, subject_key, header, search_subject,
                                        search_from, search_to, search_cc, search_bcc, closes_conversation,
                                        receipt_for, receipt_disposition, preview, imap_subject_key,
                                        imap_from_key)
             SELECT $1::TEXT, $2::BIGINT, $3::BYTEA, $4::BIGINT, $5::TEXT, $6::TEXT, $7::TEXT, $8::TEXT,
                    $9::TEXT, $10::TEXT, $11::TEXT, $12::TEXT, $13::BOOLEAN, $14::BIGINT, $15::TEXT, $16::TEXT,
                    $17::BOOLEAN, $18::TEXT, $19::TEXT, $20::TEXT, $21::TEXT, $22::TEXT, $23::BOOLEAN, $24::TEXT,
                    $25::TEXT, $26::TEXT, $27::TEXT, $28::TEXT
             WHERE EXISTS (SELECT 1 FROM messages WHERE blob_hash = $1::TEXT)
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
        )
        .await?;
    let written = tx
        .query_opt(
            &stmt,
            &[
                &facts.blob.to_hex(),
                &i64::from(facts.version),
                &facts.encoded,
                &c.sent_at,
                &c.subject,
                &c.from_name,
                &c.from_address,
                &c.to_addresses,
                &c.cc_addresses,
                &c.message_id,
                &c.in_reply_to,
                &c.patient_ins,
                &c.xdm,
                &i64::from(c.attachments),
                &c.sender_key,
                &c.subject_key,
                &c.header,
                &facts.searched[SearchedHeader::Subject as usize],
                &facts.searched[SearchedHeader::From as usize],
                &facts.searched[SearchedHeader::To as usize],
                &facts.searched[SearchedHeader::Cc as usize],
                &facts.searched[SearchedHeader::Bcc as usize],
                &c.closes_conversation,
                &c.receipt_for,
                &c.receipt_disposition,
                &c.preview,
                &c.imap_subject_key,
                &c.imap_from_key,
            ],
        )
        .await?;
    let Some(written) = written else { return Ok(0) };
    let id: i64 = written.try_get(0)?;
    // The text of the version replaced is replaced (a plain insert for a new row).
    let text = tx
        .prepare_cached(
            "INSERT INTO message_text (facts_id, words) VALUES ($1, to_tsvector('simple', $2::TEXT))
             ON CONFLICT (facts_id) DO UPDATE SET words = excluded.words",
        )
        .await?;
    tx.execute(&text, &[&id, &facts.text.as_str()]).await?;
    tx.execute(&tx.prepare_cached("DELETE FROM message_documents WHERE facts_id = $1").await?, &[&id]).await?;
    let document = tx
        .prepare_cached(
            "INSERT INTO message_documents (facts_id, document_id, replaces) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
        )
        .await?;
    for key in &facts.documents {
        tx.execute(&document, &[&id, &key.id, &key.replaces]).await?;
    }
    Ok(1)
}

const FACTS_COLUMNS: &str = "mf.blob_hash, mf.version, mf.encoded, mf.sent_at, mf.subject, mf.from_name, \
                             mf.from_address, mf.to_addresses, mf.cc_addresses, mf.message_id, mf.in_reply_to, \
                             mf.patient_ins, mf.xdm, mf.attachments, mf.sender_key, mf.subject_key, mf.header, \
                             mf.closes_conversation, mf.receipt_for, mf.receipt_disposition, mf.preview, \
                             mf.imap_subject_key, mf.imap_from_key";

/// Reads [`FACTS_COLUMNS`] from `first` on.
fn facts_row(r: &Row, first: usize) -> Result<MessageFacts, StoreError> {
    Ok(MessageFacts {
        blob: parse_col("blob hash", r.try_get(first)?)?,
        version: stored_u32("facts version", r.try_get(first + 1)?)?,
        encoded: r.try_get(first + 2)?,
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
pub(super) fn columns_row(r: &Row, first: usize) -> Result<FactColumns, StoreError> {
    Ok(FactColumns {
        sent_at: r.try_get(first)?,
        subject: r.try_get(first + 1)?,
        from_name: r.try_get(first + 2)?,
        from_address: r.try_get(first + 3)?,
        to_addresses: r.try_get(first + 4)?,
        cc_addresses: r.try_get(first + 5)?,
        message_id: r.try_get(first + 6)?,
        in_reply_to: r.try_get(first + 7)?,
        patient_ins: r.try_get(first + 8)?,
        xdm: r.try_get(first + 9)?,
        attachments: stored_u32("attachments", r.try_get(first + 10)?)?,
        sender_key: r.try_get(first + 11)?,
        subject_key: r.try_get(first + 12)?,
        header: r.try_get(first + 13)?,
        closes_conversation: r.try_get(first + 14)?,
        receipt_for: r.try_get(first + 15)?,
        receipt_disposition: r.try_get(first + 16)?,
        preview: r.try_get(first + 17)?,
        imap_subject_key: r.try_get(first + 18)?,
        imap_from_key: r.try_get(first + 19)?,
    })
}

/// A stored BIGINT that must fit a u32 (a UID, a count); one that does not
/// is corrupt data, reported.
pub(super) fn stored_u32(what: &str, value: i64) -> Result<u32, StoreError> {
    u32::try_from(value).map_err(|_| StoreError::Corrupt(format!("{what} {value}")))
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

/// The folders holding rows that writing `facts` updates: the rows of the
/// messages of their blobs without facts of that version yet, onto which
/// the facts' triggers copy the sort keys. A writer of facts locks these
/// folders with its own, in the order of their ids, before writing them,
/// as every writer of a folder's rows locks the folder first: a row taken
/// in a folder not locked could wait for that folder's writer while it
/// waits for one of ours (a copy between the two). A row of these blobs
/// added elsewhere meanwhile is updated as before, a conflict there refused
/// by PostgreSQL and the transaction run again ([`retried`]).
pub(super) async fn folders_updated_by(
    tx: &Transaction<'_>,
    facts: &[MessageFacts],
) -> Result<Vec<FolderId>, StoreError> {
    if facts.is_empty() {
        return Ok(Vec::new());
    }
    let blobs: Vec<String> = facts.iter().map(|f| f.blob.to_hex()).collect();
    let versions: Vec<i64> = facts.iter().map(|f| i64::from(f.version)).collect();
    let stmt = tx
        .prepare_cached(
            "SELECT DISTINCT fm.folder_id
             FROM unnest($1::TEXT[], $2::BIGINT[]) AS w(blob_hash, version)
             JOIN messages m ON m.blob_hash = w.blob_hash
             JOIN folder_messages fm ON fm.message_id = m.id
             WHERE NOT EXISTS (SELECT 1 FROM message_facts mf
                               WHERE mf.blob_hash = w.blob_hash AND mf.version >= w.version)
             ORDER BY fm.folder_id",
        )
        .await?;
    let rows = tx.query(&stmt, &[&blobs, &versions]).await?;
    rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
}

/// Messages whose blob has no facts of `version` or later.
const WITHOUT_FACTS: &str = "FROM messages m
     WHERE NOT EXISTS (SELECT 1 FROM message_facts mf WHERE mf.blob_hash = m.blob_hash AND mf.version >= $1)";

/// A row count or limit as PostgreSQL takes it.
fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

#[async_trait]
impl FactsStore for PgStore {
    async fn put_facts(&self, facts: &[MessageFacts]) -> Result<usize, StoreError> {
        retried(|| async move {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            // The folder rows the facts' sort keys are copied onto, locked
            // first by folder and UID, as the folders' writers lock them: rows
            // locked as each message comes would wait for a writer that waits
            // for them (a client flagging a folder during a backfill).
            let blobs: Vec<String> = facts.iter().map(|f| f.blob.to_hex()).collect();
            let lock = tx
                .prepare_cached(
                    "SELECT 1 FROM folder_messages fm JOIN messages m ON m.id = fm.message_id
                     WHERE m.blob_hash = ANY($1) ORDER BY fm.folder_id, fm.uid FOR UPDATE OF fm",
                )
                .await?;
            tx.execute(&lock, &[&blobs]).await?;
            let mut written = 0;
            for f in facts {
                written += insert_facts(&tx, f).await?;
            }
            tx.commit().await?;
            Ok(written)
        })
        .await
    }

    async fn facts(&self, folder: FolderId, uids: &[u32]) -> Result<Vec<(u32, MessageFacts)>, StoreError> {
        let mut uids: Vec<i64> = uids.iter().map(|&uid| i64::from(uid)).collect();
        uids.sort_unstable();
        uids.dedup();
        let client = self.client().await?;
        let sql = format!(
            "SELECT fm.uid, {FACTS_COLUMNS}
             FROM folder_messages fm
             JOIN messages m ON m.id = fm.message_id
             JOIN message_facts mf ON mf.id = m.facts_id
             WHERE fm.folder_id = $1 AND fm.uid = ANY($2) ORDER BY fm.uid"
        );
        let stmt = client.prepare_cached(&sql).await?;
        let rows = client.query(&stmt, &[&folder, &uids]).await?;
        rows.iter().map(|r| Ok((stored_u32("uid", r.try_get(0)?)?, facts_row(r, 1)?))).collect()
    }

    async fn messages_with_facts(
        &self,
        folder: FolderId,
        uids: &[u32],
    ) -> Result<Vec<(MessageMeta, Option<EncodedFacts>)>, StoreError> {
        let client = self.client().await?;
        let sql = "SELECT fm.uid, fm.flags, fm.modseq, m.blob_hash, m.size, m.received_at, mf.version, mf.encoded
             FROM unnest($2::BIGINT[], $3::BIGINT[]) AS run (first, last)
             JOIN folder_messages fm ON fm.folder_id = $1 AND fm.uid BETWEEN run.first AND run.last
             JOIN messages m ON m.id = fm.message_id
             LEFT JOIN message_facts mf ON mf.id = m.facts_id
             ORDER BY fm.uid";
        folder_rows(&client, sql, folder, uids, |r| {
            let facts = match r.try_get::<_, Option<i64>>(6)? {
                Some(version) => {
                    Some(EncodedFacts { version: stored_u32("facts version", version)?, encoded: r.try_get(7)? })
                }
                None => None,
            };
            Ok((meta_row(r)?, facts))
        })
        .await
    }

    async fn blobs_without_facts(
        &self,
        version: u32,
        after: FactsWalk,
        limit: usize,
    ) -> Result<(Vec<BlobHash>, FactsWalk), StoreError> {
        let client = self.client().await?;
        let sql = format!("SELECT m.id, m.blob_hash {WITHOUT_FACTS} AND m.id > $2 ORDER BY m.id LIMIT $3");
        let rows = client.query(&sql, &[&i64::from(version), &after.0, &sql_limit(limit)]).await?;
        let walk = rows.last().map(|r| r.try_get(0)).transpose()?.map_or(after, FactsWalk);
        let hashes = rows.iter().map(|r| parse_col("blob hash", r.try_get(1)?)).collect::<Result<Vec<_>, _>>()?;
        Ok((first_seen(hashes), walk))
    }

    async fn facts_backlog(&self, version: u32) -> Result<FactsBacklog, StoreError> {
        let client = self.client().await?;
        let sql = format!("SELECT COUNT(*), COUNT(DISTINCT m.blob_hash) {WITHOUT_FACTS}");
        let row = client.query_one(&sql, &[&i64::from(version)]).await?;
        let (messages, blobs): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
        Ok(FactsBacklog { messages: messages.max(0) as u64, blobs: blobs.max(0) as u64 })
    }

    async fn folder_blobs_without_facts(
        &self,
        folder: FolderId,
        version: u32,
        limit: usize,
    ) -> Result<Vec<BlobHash>, StoreError> {
        let client = self.client().await?;
        // From the folder's rows: the rest of the store is not read.
        let stmt = client
            .prepare_cached(
                "SELECT DISTINCT m.blob_hash FROM folder_messages fm JOIN messages m ON m.id = fm.message_id
                 WHERE fm.folder_id = $2 AND NOT EXISTS
                    (SELECT 1 FROM message_facts mf WHERE mf.blob_hash = m.blob_hash AND mf.version >= $1)
                 LIMIT $3",
            )
            .await?;
        let rows = client.query(&stmt, &[&i64::from(version), &folder, &sql_limit(limit)]).await?;
        rows.iter().map(|r| parse_col("blob hash", r.try_get(0)?)).collect()
    }

    async fn sorted_uids(
        &self,
        folder: FolderId,
        key: ImapSortKey,
        reverse: bool,
    ) -> Result<Option<Vec<u32>>, StoreError> {
        let client = self.client().await?;
        let indexed = sort_index(&client, folder).await? == Some(INDEXED);
        if !indexed {
            self.marking.start(self, folder);
        }
        let (incomplete, ordered) = sorted_uids_sql(key, reverse, "$1", indexed);
        let stmt = client.prepare_cached(&incomplete).await?;
        if client.query_one(&stmt, &[&folder]).await?.try_get::<_, bool>(0)? {
            return Ok(None);
        }
        let stmt = client.prepare_cached(&ordered).await?;
        let rows = client.query(&stmt, &[&folder]).await?;
        if !reverse {
            return rows.iter().map(|r| stored_u32("uid", r.try_get(0)?)).collect::<Result<_, _>>().map(Some);
        }
        let same_key = |a: &Row, b: &Row| -> Result<bool, StoreError> {
            Ok(match key {
                ImapSortKey::Date => a.try_get::<_, Option<i64>>(1)? == b.try_get::<_, Option<i64>>(1)?,
                ImapSortKey::Subject | ImapSortKey::From => {
                    a.try_get::<_, Option<&str>>(1)? == b.try_get::<_, Option<&str>>(1)?
                }
            })
        };
        let mut numbered = Vec::with_capacity(rows.len());
        let mut run = 0u32;
        for (i, row) in rows.iter().enumerate() {
            if i == 0 || !same_key(&rows[i - 1], row)? {
                run += 1;
            }
            numbered.push((run, stored_u32("uid", row.try_get(0)?)?));
        }
        Ok(Some(ties_by_ascending_uid(numbered)))
    }

    async fn mark_sorted_rows(&self, folder: FolderId, after: Option<u32>) -> Result<Option<u32>, StoreError> {
        retried(|| async move {
            let mut client = self.client().await?;
            let Some(after) = after else {
                if sort_index(&client, folder).await?.is_none_or(|s| s == INDEXED) {
                    return Ok(None);
                }
                // Its own transaction: the folder's row is locked by every
                // delivery to it until its commit, so this waits for those
                // under way, and those after it write their rows marked.
                let stmt = client
                    .prepare_cached("UPDATE folders SET sort_index = 1 WHERE id = $1 AND sort_index < $2 RETURNING 1")
                    .await?;
                let started = client.query_opt(&stmt, &[&folder, &INDEXED]).await?.is_some();
                return Ok(started.then_some(0));
            };
            let tx = client.transaction().await?;
            // The folder's row first, as every writer of its rows locks it
            // (deliveries, flags, expunges): rows locked in the other order
            // would wait for a writer that waits for them.
            match lock_folder(&tx, folder).await {
                Err(StoreError::NotFound(_)) => return Ok(None),
                locked => locked?,
            };
            let last = tx
                .prepare_cached(
                    "SELECT uid FROM folder_messages WHERE folder_id = $1 AND uid > $2 ORDER BY uid LIMIT 1 OFFSET $3",
                )
                .await?;
            let last = match tx.query_opt(&last, &[&folder, &i64::from(after), &i64::from(BATCH - 1)]).await? {
                Some(row) => Some(stored_u32("uid", row.try_get(0)?)?),
                None => None,
            };
            let mark = tx
                .prepare_cached(
                    "UPDATE folder_messages SET sorted = TRUE
                     WHERE folder_id = $1 AND uid IN (SELECT uid FROM folder_messages
                                                     WHERE folder_id = $1 AND uid > $2 AND uid <= $3 AND NOT sorted
                                                     ORDER BY uid FOR UPDATE)",
                )
                .await?;
            let upto = last.map_or(i64::MAX, i64::from);
            tx.execute(&mark, &[&folder, &i64::from(after), &upto]).await?;
            if last.is_none() {
                let done = tx.prepare_cached("UPDATE folders SET sort_index = $2 WHERE id = $1").await?;
                tx.execute(&done, &[&folder, &INDEXED]).await?;
            }
            tx.commit().await?;
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
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(
                "SELECT fm.uid, m.received_at, m.size, mf.id IS NOT NULL, mf.header, mf.sent_at, mf.subject,
                        mf.from_name, mf.from_address, mf.to_addresses, mf.cc_addresses
                 FROM folder_messages fm
                 JOIN messages m ON m.id = fm.message_id
                 LEFT JOIN message_facts mf ON mf.id = m.facts_id AND mf.version >= $2
                 WHERE fm.folder_id = $1 ORDER BY fm.uid",
            )
            .await?;
        let rows = client.query(&stmt, &[&folder, &i64::from(version)]).await?;
        // A text not asked for is not read (an allocation per message).
        let text = |r: &Row, asked: bool, at: usize| -> Result<Option<String>, StoreError> {
            if asked { Ok(r.try_get(at)?) } else { Ok(None) }
        };
        rows.iter()
            .map(|r| {
                let facts = match r.try_get::<_, bool>(3)? {
                    false => None,
                    true => Some(SortFacts {
                        header: r.try_get(4)?,
                        sent_at: r.try_get(5)?,
                        subject: text(r, texts.subject, 6)?,
                        from_name: text(r, texts.from, 7)?,
                        from_address: text(r, texts.from, 8)?,
                        to_addresses: text(r, texts.to, 9)?,
                        cc_addresses: text(r, texts.cc, 10)?,
                    }),
                };
                let size = r.try_get::<_, i64>(2)?.max(0) as u64;
                Ok(SortedMessage { uid: stored_u32("uid", r.try_get(0)?)?, received_at: r.try_get(1)?, size, facts })
            })
            .collect()
    }

    async fn header_candidates(
        &self,
        folder: FolderId,
        version: u32,
        needles: &[(SearchedHeader, String)],
    ) -> Result<Vec<(u32, bool)>, StoreError> {
        // A NULL text (not known) keeps the message, like no facts.
        let tests: Vec<String> = needles
            .iter()
            .enumerate()
            .map(|(i, (field, _))| {
                format!(" AND coalesce(strpos({}, ${}::TEXT), 1) > 0", searched_column(*field), i + 3)
            })
            .collect();
        let known: Vec<String> =
            needles.iter().map(|(field, _)| format!(" AND {} IS NOT NULL", searched_column(*field))).collect();
        let sql = format!(
            "SELECT fm.uid, mf.id IS NOT NULL {} FROM folder_messages fm
             JOIN messages m ON m.id = fm.message_id
             LEFT JOIN message_facts mf ON mf.id = m.facts_id AND mf.version >= $2 AND mf.header
             WHERE fm.folder_id = $1 AND (mf.id IS NULL OR (true {}))
             ORDER BY fm.uid",
            known.concat(),
            tests.concat()
        );
        let version = i64::from(version);
        let mut bound: Vec<&(dyn ToSql + Sync)> = vec![&folder, &version];
        bound.extend(needles.iter().map(|(_, needle)| needle as &(dyn ToSql + Sync)));
        let client = self.client().await?;
        let stmt = client.prepare_cached(&sql).await?;
        let rows = client.query(&stmt, &bound).await?;
        rows.iter().map(|r| Ok((stored_u32("uid", r.try_get(0)?)?, r.try_get(1)?))).collect()
    }

    async fn receipts(&self, mailbox: MailboxId, ids: &[String]) -> Result<Vec<Receipt>, StoreError> {
        let client = self.client().await?;
        // A receipt filed in two folders is one receipt.
        let stmt = client
            .prepare_cached(
                "SELECT mf.receipt_for, mf.from_address, mf.receipt_disposition, MIN(m.received_at)
                 FROM message_facts mf
                 JOIN messages m ON m.facts_id = mf.id
                 JOIN folder_messages fm ON fm.message_id = m.id
                 JOIN folders f ON f.id = fm.folder_id
                 WHERE mf.receipt_for = $2 AND f.mailbox_id = $1
                 GROUP BY mf.id ORDER BY 4",
            )
            .await?;
        let mut out = Vec::new();
        for id in ids {
            for r in client.query(&stmt, &[&mailbox, id]).await? {
                out.push(Receipt {
                    original: r.try_get(0)?,
                    from: r.try_get(1)?,
                    disposition: r.try_get(2)?,
                    at: r.try_get(3)?,
                });
            }
        }
        out.sort_by_key(|r| r.at);
        Ok(out)
    }

    async fn document_copies(&self, mailbox: MailboxId, ids: &[String]) -> Result<Vec<DocumentCopy>, StoreError> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(
                "SELECT md.document_id, md.replaces, f.name, fm.uid, m.received_at
                 FROM message_documents md
                 JOIN messages m ON m.facts_id = md.facts_id
                 JOIN folder_messages fm ON fm.message_id = m.id
                 JOIN folders f ON f.id = fm.folder_id
                 WHERE (md.document_id = $2 OR md.replaces = $2) AND f.mailbox_id = $1
                 ORDER BY m.received_at, f.name COLLATE \"C\", fm.uid LIMIT 50",
            )
            .await?;
        let mut out: Vec<DocumentCopy> = Vec::new();
        for id in ids.iter().take(20) {
            for r in client.query(&stmt, &[&mailbox, id]).await? {
                let row = DocumentCopy {
                    document_id: r.try_get(0)?,
                    replaces: r.try_get(1)?,
                    folder: r.try_get(2)?,
                    uid: stored_u32("uid", r.try_get(3)?)?,
                    received_at: r.try_get(4)?,
                };
                if !out.contains(&row) {
                    out.push(row);
                }
            }
        }
        out.sort_by(|a, b| (a.received_at, &a.folder, a.uid).cmp(&(b.received_at, &b.folder, b.uid)));
        out.truncate(50);
        Ok(out)
    }

    async fn folder_page(&self, folder: FolderId, query: &PageQuery) -> Result<FolderPage, StoreError> {
        let client = self.client().await?;
        let by_sort_key = query.by_sort_key();
        let indexed = by_sort_key && sort_index(&client, folder).await? == Some(INDEXED);
        if by_sort_key && !indexed {
            self.marking.start(self, folder);
        }
        super::listing::folder_page(&client, folder, query, indexed).await
    }
}

/// Where the marking of `folder`'s rows for its sort indexes stands (see
/// [`crate::sort_index`]); none for a folder that is gone.
async fn sort_index(client: &impl GenericClient, folder: FolderId) -> Result<Option<i32>, StoreError> {
    let stmt = client.prepare_cached("SELECT sort_index FROM folders WHERE id = $1").await?;
    Ok(client.query_opt(&stmt, &[&folder]).await?.map(|r| r.try_get(0)).transpose()?)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_listed_count_is_the_listed_columns() {
        assert_eq!(super::LISTED_COLUMNS.split(',').count(), super::LISTED_COUNT);
    }
}
