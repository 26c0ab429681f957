//! [`PatientStore`] on SQLite: the mailbox's folder rows that name a
//! patient are found by the index on `folder_messages.patient_ins`
//! (migration 0013), joined to their messages and facts; contacts are rows
//! of `patient_contacts`.

use async_trait::async_trait;
use rusqlite::{Connection, Row, ToSql, params};

use super::SqliteStore;
use super::facts::{LISTED_COLUMNS, LISTED_COUNT, columns_row};
use super::folders::meta_row;
use crate::{MailboxId, OUTSIDE_CONVERSATIONS, PatientMessage, PatientPage, PatientStore, PatientThread, StoreError};

/// The mailbox's rows with a patient (`:mailbox`, and `:ins` when
/// `one_patient`), read receipts left out, one per message (a message filed in two folders: the
/// first), as `uid, flags, modseq, blob_hash, size, received_at`, the
/// listed columns, then `folder, ins, message, unseen_from_patient,
/// patient_name`.
fn patient_rows(one_patient: bool) -> String {
    let patient = if one_patient { "AND fm.patient_ins = :ins" } else { "" };
    let from_patient = "lower(coalesce(mf.from_address, '')) = lower(fm.patient_ins) || '@patient.mssante.fr'";
    format!(
        "SELECT * FROM (
            SELECT fm.uid, fm.flags, fm.modseq, m.blob_hash, m.size, m.received_at, {LISTED_COLUMNS},
                   fm.folder_id AS folder, fm.patient_ins AS ins, m.id AS message,
                   (fm.system_flags & 1 = 0 AND {from_patient}) AS unseen_from_patient,
                   CASE WHEN {from_patient} AND trim(coalesce(mf.from_name, '')) <> '' THEN mf.from_name END
                       AS patient_name,
                   ROW_NUMBER() OVER (PARTITION BY m.id ORDER BY fm.folder_id, fm.uid) AS copy
            FROM folders f
            CROSS JOIN folder_messages fm ON fm.folder_id = f.id AND fm.patient_ins IS NOT NULL {patient}
            CROSS JOIN messages m ON m.id = fm.message_id
            CROSS JOIN message_facts mf ON mf.id = m.facts_id
            WHERE f.mailbox_id = :mailbox AND f.name NOT IN (:drafts, :trash, :junk) AND mf.receipt_for IS NULL
        ) WHERE copy = 1"
    )
}

/// The names of the columns [`patient_rows`] gives, in its order, up to `folder`.
fn listed_names() -> String {
    format!("uid, flags, modseq, blob_hash, size, received_at, {}, folder", LISTED_COLUMNS.replace("mf.", ""))
}

/// Reads a [`PatientMessage`] from a row of [`listed_names`].
fn message_row(r: &Row<'_>) -> rusqlite::Result<PatientMessage> {
    Ok(PatientMessage { meta: meta_row(r)?, columns: columns_row(r, 6)?, folder: r.get(6 + LISTED_COUNT)? })
}

fn threads(conn: &Connection, mailbox: MailboxId, offset: u64, limit: u32) -> Result<PatientPage, StoreError> {
    let sql = format!(
        "WITH patient_rows AS ({rows}),
         ranked AS (
            SELECT *, ROW_NUMBER() OVER (PARTITION BY ins ORDER BY received_at DESC, message DESC) AS rank,
                   COUNT(*) OVER (PARTITION BY ins) AS messages,
                   SUM(unseen_from_patient) OVER (PARTITION BY ins) AS unseen,
                   FIRST_VALUE(patient_name) OVER (PARTITION BY ins
                       ORDER BY patient_name IS NULL, received_at DESC, message DESC) AS name
            FROM patient_rows)
         SELECT {listed}, ins, messages, unseen, name, COUNT(*) OVER () AS total
         FROM ranked WHERE rank = 1
         ORDER BY received_at DESC, message DESC LIMIT :limit OFFSET :offset",
        rows = patient_rows(false),
        listed = listed_names(),
    );
    let (limit, offset) = (i64::from(limit), i64::try_from(offset).unwrap_or(i64::MAX));
    let [drafts, trash, junk] = OUTSIDE_CONVERSATIONS;
    let bound: [(&str, &dyn ToSql); 6] = [
        (":mailbox", &mailbox),
        (":drafts", &drafts),
        (":trash", &trash),
        (":junk", &junk),
        (":limit", &limit),
        (":offset", &offset),
    ];
    let mut stmt = conn.prepare_cached(&sql)?;
    let first = 7 + LISTED_COUNT;
    let mut total = None;
    let rows = stmt.query_map(&bound[..], |r| {
        let thread = PatientThread {
            last: message_row(r)?,
            ins: r.get(first)?,
            messages: r.get::<_, i64>(first + 1)?.max(0) as u64,
            unseen: r.get::<_, i64>(first + 2)?.max(0) as u64,
            name: r.get(first + 3)?,
        };
        Ok((thread, r.get::<_, i64>(first + 4)?))
    })?;
    let mut page = PatientPage::default();
    for row in rows {
        let (thread, counted) = row?;
        total = total.or(Some(counted));
        page.threads.push(thread);
    }
    page.total = match total {
        Some(total) => total.max(0) as u64,
        // A page past the end: counted apart.
        None => {
            let sql = format!("SELECT COUNT(DISTINCT ins) FROM ({})", patient_rows(false));
            let bound = &bound[..4];
            conn.prepare_cached(&sql)?.query_row(bound, |r| r.get::<_, i64>(0))?.max(0) as u64
        }
    };
    Ok(page)
}

fn messages(conn: &Connection, mailbox: MailboxId, ins: &str, limit: u32) -> Result<Vec<PatientMessage>, StoreError> {
    let sql = format!(
        "SELECT {listed} FROM (
            SELECT * FROM ({rows}) ORDER BY received_at DESC, message DESC LIMIT :limit
         ) ORDER BY received_at, message",
        rows = patient_rows(true),
        listed = listed_names(),
    );
    let limit = i64::from(limit);
    let [drafts, trash, junk] = OUTSIDE_CONVERSATIONS;
    let ins = ins.to_ascii_uppercase();
    let bound: [(&str, &dyn ToSql); 6] = [
        (":mailbox", &mailbox),
        (":ins", &ins),
        (":drafts", &drafts),
        (":trash", &trash),
        (":junk", &junk),
        (":limit", &limit),
    ];
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(&bound[..], message_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

#[async_trait]
impl PatientStore for SqliteStore {
    async fn record_patient_contact(&self, mailbox: MailboxId, ins: &str, at: i64) -> Result<(), StoreError> {
        let ins = ins.to_ascii_uppercase();
        self.write(move |tx| {
            tx.prepare_cached(
                "INSERT INTO patient_contacts (mailbox_id, ins, first_at, last_at) VALUES (?1, ?2, ?3, ?3)
                 ON CONFLICT (mailbox_id, ins) DO UPDATE SET last_at = max(last_at, excluded.last_at)",
            )?
            .execute(params![mailbox, ins, at])?;
            Ok(())
        })
        .await
    }

    async fn wrote_to_patient(&self, mailbox: MailboxId, author: &str, ins: &str) -> Result<bool, StoreError> {
        let (author, ins) = (author.to_lowercase(), ins.to_ascii_uppercase());
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM patient_contacts WHERE mailbox_id = ?1 AND ins = ?2)
                     OR EXISTS (SELECT 1 FROM folders f
                                JOIN folder_messages fm ON fm.folder_id = f.id AND fm.patient_ins = ?2
                                JOIN messages m ON m.id = fm.message_id
                                JOIN message_facts mf ON mf.id = m.facts_id
                                WHERE f.mailbox_id = ?1 AND lower(mf.from_address) = ?3)",
            )?;
            Ok(stmt.query_row(params![mailbox, ins, author], |r| r.get(0))?)
        })
        .await
    }

    async fn quick_answers(&self, mailbox: MailboxId) -> Result<Option<Vec<String>>, StoreError> {
        self.read(move |conn| {
            let chosen: bool = conn
                .prepare_cached("SELECT EXISTS (SELECT 1 FROM quick_answer_sets WHERE mailbox_id = ?1)")?
                .query_row([mailbox], |r| r.get(0))?;
            if !chosen {
                return Ok(None);
            }
            let mut stmt =
                conn.prepare_cached("SELECT text FROM quick_answers WHERE mailbox_id = ?1 ORDER BY position")?;
            let answers = stmt.query_map([mailbox], |r| r.get(0))?.collect::<Result<_, _>>()?;
            Ok(Some(answers))
        })
        .await
    }

    async fn set_quick_answers(&self, mailbox: MailboxId, answers: &[String], at: i64) -> Result<(), StoreError> {
        let answers = answers.to_vec();
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO quick_answer_sets (mailbox_id, updated_at) VALUES (?1, ?2)
                 ON CONFLICT (mailbox_id) DO UPDATE SET updated_at = excluded.updated_at",
                params![mailbox, at],
            )?;
            tx.execute("DELETE FROM quick_answers WHERE mailbox_id = ?1", [mailbox])?;
            let mut insert =
                tx.prepare_cached("INSERT INTO quick_answers (mailbox_id, position, text) VALUES (?1, ?2, ?3)")?;
            for (position, text) in answers.iter().enumerate() {
                insert.execute(params![mailbox, position as i64, text])?;
            }
            Ok(())
        })
        .await
    }

    async fn patient_threads(&self, mailbox: MailboxId, offset: u64, limit: u32) -> Result<PatientPage, StoreError> {
        self.read(move |conn| threads(conn, mailbox, offset, limit)).await
    }

    async fn patient_messages(
        &self,
        mailbox: MailboxId,
        ins: &str,
        limit: u32,
    ) -> Result<Vec<PatientMessage>, StoreError> {
        let ins = ins.to_string();
        self.read(move |conn| messages(conn, mailbox, &ins, limit)).await
    }
}
