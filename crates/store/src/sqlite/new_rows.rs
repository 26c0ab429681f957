//! The rows of a new message, for a delivery and an APPEND alike: its body
//! when the database keeps it, its facts, its `messages` row naming them,
//! and each folder row with the columns it copies from the facts.
//!
//! The triggers of the schema copy those columns after an insert too (for
//! a COPY, or facts written after the message); a new message writes them
//! in its INSERTs instead, facts first, so that no row is rewritten in the
//! transaction that created it (each rewrite moved an index entry from an
//! empty value to the real one: another index page written per column).

use rusqlite::{Transaction, params};

use super::facts::{FactsOf, insert_facts};
use crate::{BlobHash, FactColumns, MessageFacts, StoreError};

/// A message about to be stored.
pub(super) struct NewRow<'a> {
    pub blob: &'a BlobHash,
    pub size: u64,
    pub received_at: i64,
    pub inline: Option<&'a [u8]>,
    pub facts: Option<&'a MessageFacts>,
}

/// What [`insert_message`] wrote.
pub(super) struct Inserted<'a> {
    /// The `messages` row.
    pub message_id: i64,
    /// The facts' row, when written (their text is to be indexed).
    pub facts_id: Option<i64>,
    /// The columns its folder rows copy.
    pub columns: Option<&'a FactColumns>,
}

/// Writes the message's body (when inline), its facts, and its `messages`
/// row.
pub(super) fn insert_message<'a>(tx: &Transaction<'_>, message: &NewRow<'a>) -> Result<Inserted<'a>, StoreError> {
    let size = i64::try_from(message.size).map_err(|_| StoreError::Invalid("message size".into()))?;
    let facts_id = match message.facts {
        Some(facts) if &facts.blob != message.blob => {
            return Err(StoreError::Invalid("facts of another message".into()));
        }
        // None when the blob had facts of this version already: the
        // `messages_facts_link` trigger names them.
        Some(facts) => insert_facts(tx, facts, FactsOf::MessageInserted)?,
        None => None,
    };
    if let Some(body) = message.inline {
        insert_inline_body(tx, message.blob, body)?;
    }
    tx.prepare_cached("INSERT INTO messages (blob_hash, size, received_at, facts_id) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![message.blob.to_hex(), size, message.received_at, facts_id])?;
    let columns = facts_id.and(message.facts).map(|facts| &facts.columns);
    Ok(Inserted { message_id: tx.last_insert_rowid(), facts_id, columns })
}

/// One copy of a message in a folder.
pub(super) struct FolderRow<'a> {
    pub folder: i64,
    pub uid: u32,
    pub message_id: i64,
    pub flags: &'a str,
    pub system_flags: i64,
    pub modseq: i64,
    pub received_at: i64,
    /// The facts' columns, from [`insert_message`].
    pub facts: Option<&'a FactColumns>,
}

/// Inserts the folder row, with the sort keys and patient of its facts,
/// marked for the folder's sort indexes once the folder is sorted
/// ([`crate::sort_index`]).
pub(super) fn insert_folder_row(tx: &Transaction<'_>, row: &FolderRow<'_>) -> Result<(), StoreError> {
    let c = row.facts;
    // What `folder_messages_sort_keys` computes: the date IMAP SORT
    // compares is the Date: field, else the arrival, for a parsed header.
    let date_key = c.filter(|c| c.header).map(|c| c.sent_at.unwrap_or(row.received_at));
    tx.prepare_cached(
        "INSERT INTO folder_messages (folder_id, uid, message_id, flags, system_flags, modseq, sender_key,
                                      subject_key, imap_subject_key, imap_from_key, imap_date_key, patient_ins,
                                      sorted)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12,
                 (SELECT sort_index > 0 FROM folders WHERE id = ?1))",
    )?
    .execute(params![
        row.folder,
        row.uid,
        row.message_id,
        row.flags,
        row.system_flags,
        row.modseq,
        c.map_or("", |c| c.sender_key.as_str()),
        c.map_or("", |c| c.subject_key.as_str()),
        c.and_then(|c| c.imap_subject_key.as_deref()),
        c.and_then(|c| c.imap_from_key.as_deref()),
        date_key,
        c.and_then(|c| c.patient_ins.as_deref()),
    ])?;
    Ok(())
}

/// Stores a small body in the transaction that links it, after its facts:
/// under its facts' id when it has some (migration 0034), else under its
/// hash; the same content twice is kept once.
fn insert_inline_body(tx: &Transaction<'_>, hash: &BlobHash, body: &[u8]) -> Result<(), StoreError> {
    let hash = hash.to_hex();
    let under_facts = tx
        .prepare_cached(
            "INSERT INTO facts_bodies (facts_id, data) SELECT id, ?2 FROM message_facts WHERE blob_hash = ?1
             ON CONFLICT (facts_id) DO NOTHING",
        )?
        .execute(params![hash, body])?;
    let has_facts =
        under_facts == 1 || tx.prepare_cached("SELECT 1 FROM message_facts WHERE blob_hash = ?1")?.exists([&hash])?;
    if !has_facts {
        tx.prepare_cached("INSERT INTO inline_blobs (hash, data) VALUES (?1, ?2) ON CONFLICT (hash) DO NOTHING")?
            .execute(params![hash, body])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::SqliteStore;
    use super::super::tests::store_with_inbox;
    use crate::*;

    fn facts_of(raw: &[u8], subject: &str, header: bool, sent_at: Option<i64>) -> MessageFacts {
        let columns = FactColumns {
            sent_at,
            subject: Some(subject.into()),
            patient_ins: Some("279035121518989".into()),
            sender_key: "dr-alice-martin".into(),
            subject_key: subject.to_lowercase(),
            imap_subject_key: Some(subject.to_ascii_uppercase()),
            imap_from_key: Some("ALICE".into()),
            header,
            ..FactColumns::default()
        };
        let encoded = subject.as_bytes().to_vec();
        let (text, searched, documents) = (IndexedText::default(), Default::default(), Vec::new());
        MessageFacts { blob: BlobHash::of(raw), version: 1, encoded, columns, text, searched, documents }
    }

    /// What a folder row copies from its facts, and the facts its message
    /// names (`messages.facts_id`), by UID.
    type Copied = (Option<i64>, String, String, Option<String>, Option<String>, Option<i64>, Option<String>);

    async fn copied(store: &SqliteStore, folder: FolderId, uid: u32) -> Copied {
        store
            .read(move |conn| {
                Ok(conn.query_row(
                    "SELECT m.facts_id, fm.sender_key, fm.subject_key, fm.imap_subject_key, fm.imap_from_key,
                            fm.imap_date_key, fm.patient_ins
                     FROM folder_messages fm JOIN messages m ON m.id = fm.message_id
                     WHERE fm.folder_id = ?1 AND fm.uid = ?2",
                    rusqlite::params![folder, uid],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?)),
                )?)
            })
            .await
            .unwrap()
    }

    /// A delivery and an APPEND write the copied columns in their INSERTs;
    /// a COPY, and facts written after their message, have the triggers
    /// write them: both ways give the same row.
    #[tokio::test]
    async fn a_new_row_copies_from_its_facts_what_the_triggers_would() {
        let (_dir, store, mailbox, inbox) = store_with_inbox().await;
        let archive = store.folder(mailbox.id, "Archive").await.unwrap().unwrap();
        let received_at = 1_700_000_000;
        let stored = |raw: &[u8], facts: Option<MessageFacts>| NewMessage {
            blob: BlobHash::of(raw),
            size: raw.len() as u64,
            received_at,
            inline: Some(raw.to_vec()),
            facts,
        };

        // Delivered with facts: a Date, none, and a header not parsed.
        let cases: [(&[u8], Option<i64>, bool); 3] =
            [(b"Subject: Bilan\r\n\r\n1", Some(1_715_671_800), true), (b"x\r\n\r\n2", None, true), (b"3", None, false)];
        let mut uids = Vec::new();
        for (raw, sent_at, header) in cases {
            let facts = facts_of(raw, "Bilan", header, sent_at);
            let delivery = store.link_message(stored(raw, Some(facts)), &[Placement::inbox(mailbox.id)]).await;
            uids.push(delivery.unwrap().copies[0].uid);
        }
        // Appended with facts, and delivered without, its facts written later.
        let appended = b"Subject: Ordonnance\r\n\r\n4";
        let message = Appended {
            blob: BlobHash::of(appended),
            size: 25,
            received_at,
            flags: vec!["\\Seen".into()],
            inline: Some(appended.to_vec()),
        };
        let facts = facts_of(appended, "Ordonnance", true, Some(1_715_000_000));
        uids.extend(store.append_indexed(inbox.id, &[message], &[facts]).await.unwrap().1);
        let late = b"Subject: Tardif\r\n\r\n5";
        let delivery = store.link_message(stored(late, None), &[Placement::inbox(mailbox.id)]).await.unwrap();
        store.put_facts(&[facts_of(late, "Tardif", true, None)]).await.unwrap();
        uids.push(delivery.copies[0].uid);
        // The same bytes again, their facts there already.
        let again = store.link_message(stored(appended, None), &[Placement::inbox(mailbox.id)]).await.unwrap();
        uids.push(again.copies[0].uid);
        // Sent twice with other facts of the same version (a peer's retry):
        // the facts kept are the first, and so are the columns copied.
        let other = facts_of(appended, "Autre", true, None);
        let twice = store.link_message(stored(appended, Some(other)), &[Placement::inbox(mailbox.id)]).await;
        uids.push(twice.unwrap().copies[0].uid);
        // An APPEND given facts that none of its messages has (a newer
        // version of another message's): they are not written.
        let mut stray = facts_of(late, "Remplacé", true, None);
        stray.version = 2;
        let bare = b"6";
        let message =
            Appended { blob: BlobHash::of(bare), size: 1, received_at, flags: vec![], inline: Some(bare.to_vec()) };
        let (_, bare_uids) = store.append_indexed(inbox.id, &[message], &[stray]).await.unwrap();
        let bare_row = copied(&store, inbox.id, bare_uids[0]).await;
        assert_eq!((bare_row.0, bare_row.2.as_str()), (None, ""), "no facts of its own");
        assert_eq!(copied(&store, inbox.id, uids[4]).await.2, "tardif", "another message's facts untouched");

        let copies = store.copy_messages(inbox.id, &uids, archive.id).await.unwrap();
        for (uid, copy) in copies.pairs {
            let (row, by_trigger) = (copied(&store, inbox.id, uid).await, copied(&store, archive.id, copy).await);
            assert_eq!(row, by_trigger, "UID {uid}");
            assert!(row.0.is_some(), "UID {uid} names its facts");
            assert_eq!(row.6.as_deref(), Some("279035121518989"), "UID {uid}");
        }
        let mut date_keys = Vec::new();
        for uid in [uids[0], uids[1], uids[2], uids[4]] {
            date_keys.push(copied(&store, inbox.id, uid).await.5);
        }
        // The Date: field, else the arrival, and no key without a parsed
        // header; the same for facts written later.
        assert_eq!(date_keys, [Some(1_715_671_800), Some(received_at), None, Some(received_at)]);
        for retried in [uids[5], uids[6]] {
            assert_eq!(copied(&store, inbox.id, uids[3]).await, copied(&store, inbox.id, retried).await);
        }
    }
}
