//! [`PatientStore`] on PostgreSQL: the mailbox's folder rows that name a
//! patient are found by the index on `folder_messages.patient_ins`, joined
//! to their messages and facts; contacts are rows of `patient_contacts`.

use async_trait::async_trait;
use tokio_postgres::Row;

use super::PgStore;
use super::facts::{LISTED_COLUMNS, LISTED_COUNT, columns_row};
use super::folders::meta_row;
use crate::{MailboxId, OUTSIDE_CONVERSATIONS, PatientMessage, PatientPage, PatientStore, PatientThread, StoreError};

/// The mailbox's rows with a patient (`$1`, the folders left out `$2`, and
/// the patient `$3` when `one_patient`), read receipts left out, one per
/// message (a message filed in two folders: the first), as `uid, flags,
/// modseq, blob_hash, size, received_at`, the listed columns, then `folder,
/// ins, message, unseen_from_patient, patient_name`.
fn patient_rows(one_patient: bool) -> String {
    let patient = if one_patient { "AND fm.patient_ins = $3" } else { "" };
    let from_patient = "lower(coalesce(mf.from_address, '')) = (lower(fm.patient_ins) || '@patient.mssante.fr')";
    format!(
        "SELECT * FROM (
            SELECT fm.uid, fm.flags, fm.modseq, m.blob_hash, m.size, m.received_at, {LISTED_COLUMNS},
                   fm.folder_id AS folder, fm.patient_ins AS ins, m.id AS message,
                   (fm.system_flags & 1 = 0 AND {from_patient}) AS unseen_from_patient,
                   CASE WHEN {from_patient} AND trim(coalesce(mf.from_name, '')) <> '' THEN mf.from_name END
                       AS patient_name,
                   ROW_NUMBER() OVER (PARTITION BY m.id ORDER BY fm.folder_id, fm.uid) AS copy
            FROM folders f
            JOIN folder_messages fm ON fm.folder_id = f.id AND fm.patient_ins IS NOT NULL {patient}
            JOIN messages m ON m.id = fm.message_id
            JOIN message_facts mf ON mf.id = m.facts_id
            WHERE f.mailbox_id = $1 AND f.name <> ALL($2::TEXT[]) AND mf.receipt_for IS NULL
        ) copies WHERE copy = 1"
    )
}

/// The names of the columns [`patient_rows`] gives, in its order, up to `folder`.
fn listed_names() -> String {
    format!("uid, flags, modseq, blob_hash, size, received_at, {}, folder", LISTED_COLUMNS.replace("mf.", ""))
}

/// Reads a [`PatientMessage`] from a row of [`listed_names`].
fn message_row(r: &Row) -> Result<PatientMessage, StoreError> {
    Ok(PatientMessage { meta: meta_row(r)?, columns: columns_row(r, 6)?, folder: r.try_get(6 + LISTED_COUNT)? })
}

/// The folders whose messages are not part of a conversation, as bound.
fn outside() -> Vec<&'static str> {
    OUTSIDE_CONVERSATIONS.to_vec()
}

#[async_trait]
impl PatientStore for PgStore {
    async fn record_patient_contact(&self, mailbox: MailboxId, ins: &str, at: i64) -> Result<(), StoreError> {
        let ins = ins.to_ascii_uppercase();
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(
                "INSERT INTO patient_contacts (mailbox_id, ins, first_at, last_at) VALUES ($1, $2, $3, $3)
                 ON CONFLICT (mailbox_id, ins) DO UPDATE
                 SET last_at = GREATEST(patient_contacts.last_at, excluded.last_at)",
            )
            .await?;
        client.execute(&stmt, &[&mailbox, &ins, &at]).await?;
        Ok(())
    }

    async fn wrote_to_patient(&self, mailbox: MailboxId, author: &str, ins: &str) -> Result<bool, StoreError> {
        let (author, ins) = (author.to_lowercase(), ins.to_ascii_uppercase());
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM patient_contacts WHERE mailbox_id = $1 AND ins = $2)
                     OR EXISTS (SELECT 1 FROM folders f
                                JOIN folder_messages fm ON fm.folder_id = f.id AND fm.patient_ins = $2
                                JOIN messages m ON m.id = fm.message_id
                                JOIN message_facts mf ON mf.id = m.facts_id
                                WHERE f.mailbox_id = $1 AND lower(mf.from_address) = $3)",
            )
            .await?;
        Ok(client.query_one(&stmt, &[&mailbox, &ins, &author]).await?.try_get(0)?)
    }

    async fn quick_answers(&self, mailbox: MailboxId) -> Result<Option<Vec<String>>, StoreError> {
        let client = self.client().await?;
        let chosen =
            client.prepare_cached("SELECT EXISTS (SELECT 1 FROM quick_answer_sets WHERE mailbox_id = $1)").await?;
        if !client.query_one(&chosen, &[&mailbox]).await?.try_get::<_, bool>(0)? {
            return Ok(None);
        }
        let stmt =
            client.prepare_cached("SELECT text FROM quick_answers WHERE mailbox_id = $1 ORDER BY position").await?;
        let rows = client.query(&stmt, &[&mailbox]).await?;
        Ok(Some(rows.iter().map(|r| r.try_get(0)).collect::<Result<_, _>>()?))
    }

    async fn set_quick_answers(&self, mailbox: MailboxId, answers: &[String], at: i64) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        // The set's row first: it is locked until the end, so that two
        // writers replace the answers one after the other.
        tx.execute(
            "INSERT INTO quick_answer_sets (mailbox_id, updated_at) VALUES ($1, $2)
             ON CONFLICT (mailbox_id) DO UPDATE SET updated_at = excluded.updated_at",
            &[&mailbox, &at],
        )
        .await?;
        tx.execute("DELETE FROM quick_answers WHERE mailbox_id = $1", &[&mailbox]).await?;
        let insert =
            tx.prepare_cached("INSERT INTO quick_answers (mailbox_id, position, text) VALUES ($1, $2, $3)").await?;
        for (position, text) in answers.iter().enumerate() {
            tx.execute(&insert, &[&mailbox, &(position as i64), text]).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn patient_threads(&self, mailbox: MailboxId, offset: u64, limit: u32) -> Result<PatientPage, StoreError> {
        let sql = format!(
            "WITH patient_rows AS ({rows}),
             ranked AS (
                SELECT *, ROW_NUMBER() OVER (PARTITION BY ins ORDER BY received_at DESC, message DESC) AS rank,
                       COUNT(*) OVER (PARTITION BY ins) AS messages,
                       COUNT(*) FILTER (WHERE unseen_from_patient) OVER (PARTITION BY ins) AS unseen,
                       FIRST_VALUE(patient_name) OVER (PARTITION BY ins
                           ORDER BY patient_name IS NULL, received_at DESC, message DESC) AS name
                FROM patient_rows)
             SELECT {listed}, ins, messages, unseen, name, COUNT(*) OVER () AS total
             FROM ranked WHERE rank = 1
             ORDER BY received_at DESC, message DESC LIMIT $3 OFFSET $4",
            rows = patient_rows(false),
            listed = listed_names(),
        );
        let (limit, offset) = (i64::from(limit), i64::try_from(offset).unwrap_or(i64::MAX));
        let outside = outside();
        let client = self.client().await?;
        let stmt = client.prepare_cached(&sql).await?;
        let first = 7 + LISTED_COUNT;
        let mut total = None;
        let mut page = PatientPage::default();
        for r in client.query(&stmt, &[&mailbox, &outside, &limit, &offset]).await? {
            page.threads.push(PatientThread {
                last: message_row(&r)?,
                ins: r.try_get(first)?,
                messages: r.try_get::<_, i64>(first + 1)?.max(0) as u64,
                unseen: r.try_get::<_, i64>(first + 2)?.max(0) as u64,
                name: r.try_get(first + 3)?,
            });
            total = total.or(Some(r.try_get::<_, i64>(first + 4)?));
        }
        page.total = match total {
            Some(total) => total.max(0) as u64,
            // A page past the end: counted apart.
            None => {
                let sql = format!("SELECT COUNT(DISTINCT ins) FROM ({}) threads", patient_rows(false));
                let stmt = client.prepare_cached(&sql).await?;
                client.query_one(&stmt, &[&mailbox, &outside]).await?.try_get::<_, i64>(0)?.max(0) as u64
            }
        };
        Ok(page)
    }

    async fn patient_messages(
        &self,
        mailbox: MailboxId,
        ins: &str,
        limit: u32,
    ) -> Result<Vec<PatientMessage>, StoreError> {
        let sql = format!(
            "SELECT {listed} FROM (
                SELECT * FROM ({rows}) patient_rows ORDER BY received_at DESC, message DESC LIMIT $4
             ) last ORDER BY received_at, message",
            rows = patient_rows(true),
            listed = listed_names(),
        );
        let (limit, ins, outside) = (i64::from(limit), ins.to_ascii_uppercase(), outside());
        let client = self.client().await?;
        let stmt = client.prepare_cached(&sql).await?;
        let rows = client.query(&stmt, &[&mailbox, &outside, &ins, &limit]).await?;
        rows.iter().map(message_row).collect()
    }
}
