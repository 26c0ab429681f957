//! [`IndicatorStore`] on PostgreSQL: `dispensations`, and the pharmacy's
//! patient messages found from its mailboxes (by FINESS) through the folder
//! rows' patient column.

use async_trait::async_trait;

use super::PgStore;
use crate::{
    Declared, IndicatorStore, OUTSIDE_CONVERSATIONS, PatientExchange, StoreError, StoredDispensation, now_unix,
};

#[async_trait]
impl IndicatorStore for PgStore {
    async fn put_dispensations(&self, dispensations: &[StoredDispensation]) -> Result<Declared, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let now = now_unix();
        let mut declared = Declared::default();
        // Inserted, or else replaced: a declaration of the same id by another
        // node waits for this one's insert, then replaces it, and each counts
        // what it did.
        let insert = tx
            .prepare_cached(
                "INSERT INTO dispensations (finess, id, dispensed_at, patient_ins, updated_at) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (finess, id) DO NOTHING",
            )
            .await?;
        let replace = tx
            .prepare_cached(
                "UPDATE dispensations SET dispensed_at = $3, patient_ins = $4, updated_at = $5
                 WHERE finess = $1 AND id = $2",
            )
            .await?;
        for d in dispensations {
            let values: [&(dyn tokio_postgres::types::ToSql + Sync); 5] =
                [&d.finess, &d.id, &d.at, &d.patient_ins, &now];
            if tx.execute(&insert, &values).await? == 1 {
                declared.inserted += 1;
            } else {
                tx.execute(&replace, &values).await?;
                declared.replaced += 1;
            }
        }
        tx.commit().await?;
        Ok(declared)
    }

    async fn dispensations(&self, finess: &str, from: i64, to: i64) -> Result<Vec<StoredDispensation>, StoreError> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(
                "SELECT id, dispensed_at, patient_ins FROM dispensations
                 WHERE finess = $1 AND dispensed_at >= $2 AND dispensed_at < $3 ORDER BY dispensed_at, id COLLATE \"C\"",
            )
            .await?;
        client
            .query(&stmt, &[&finess, &from, &to])
            .await?
            .iter()
            .map(|r| {
                Ok(StoredDispensation {
                    finess: finess.to_string(),
                    id: r.try_get(0)?,
                    at: r.try_get(1)?,
                    patient_ins: r.try_get(2)?,
                })
            })
            .collect()
    }

    async fn link_dispensation(&self, finess: &str, id: &str, message_id: &str, at: i64) -> Result<bool, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let known: bool = tx
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM dispensations WHERE finess = $1 AND id = $2)
                    AND EXISTS (SELECT 1 FROM message_facts mf
                                JOIN messages m ON m.facts_id = mf.id
                                JOIN folder_messages fm ON fm.message_id = m.id
                                JOIN folders f ON f.id = fm.folder_id
                                JOIN mailboxes b ON b.id = f.mailbox_id
                                WHERE mf.message_id = $3 AND b.finess = $1)",
                &[&finess, &id, &message_id],
            )
            .await?
            .try_get(0)?;
        if known {
            tx.execute(
                "INSERT INTO dispensation_links (finess, dispensation_id, message_id, linked_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT DO NOTHING",
                &[&finess, &id, &message_id, &at],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(known)
    }

    async fn dispensation_links(&self, finess: &str) -> Result<Vec<(String, i64)>, StoreError> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(
                "SELECT dispensation_id, MIN(linked_at) FROM dispensation_links WHERE finess = $1
                 GROUP BY dispensation_id ORDER BY dispensation_id COLLATE \"C\"",
            )
            .await?;
        client.query(&stmt, &[&finess]).await?.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
    }

    async fn dispensations_linked_to(&self, finess: &str, message_id: &str) -> Result<Vec<String>, StoreError> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(
                "SELECT dispensation_id FROM dispensation_links WHERE finess = $1 AND message_id = $2
                 ORDER BY dispensation_id COLLATE \"C\"",
            )
            .await?;
        client.query(&stmt, &[&finess, &message_id]).await?.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }

    async fn patient_exchanges(&self, finess: &str, from: i64, to: i64) -> Result<Vec<PatientExchange>, StoreError> {
        let [drafts, trash, junk] = OUTSIDE_CONVERSATIONS;
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(
                "SELECT fm.patient_ins, m.received_at
                 FROM mailboxes b
                 JOIN folders f ON f.mailbox_id = b.id AND f.name NOT IN ($4, $5, $6)
                 JOIN folder_messages fm ON fm.folder_id = f.id AND fm.patient_ins IS NOT NULL
                 JOIN messages m ON m.id = fm.message_id
                 WHERE b.finess = $1 AND m.received_at >= $2 AND m.received_at < $3",
            )
            .await?;
        client
            .query(&stmt, &[&finess, &from, &to, &drafts, &trash, &junk])
            .await?
            .iter()
            .map(|r| Ok(PatientExchange { ins: r.try_get(0)?, at: r.try_get(1)? }))
            .collect()
    }
}
