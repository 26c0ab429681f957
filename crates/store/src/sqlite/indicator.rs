//! [`IndicatorStore`] on SQLite: `dispensations` (migration 0014), and the
//! pharmacy's patient messages found from its mailboxes (by FINESS) through
//! the folder rows' patient column (migration 0013).

use async_trait::async_trait;
use rusqlite::{OptionalExtension, ToSql, params};

use super::SqliteStore;
use crate::{
    Declared, IndicatorStore, OUTSIDE_CONVERSATIONS, PatientExchange, StoreError, StoredDispensation, now_unix,
};

#[async_trait]
impl IndicatorStore for SqliteStore {
    async fn put_dispensations(&self, dispensations: &[StoredDispensation]) -> Result<Declared, StoreError> {
        let dispensations = dispensations.to_vec();
        self.write(move |tx| {
            let now = now_unix();
            let mut declared = Declared::default();
            let mut known = tx.prepare_cached("SELECT 1 FROM dispensations WHERE finess = ?1 AND id = ?2")?;
            let mut put = tx.prepare_cached(
                "INSERT INTO dispensations (finess, id, dispensed_at, patient_ins, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (finess, id) DO UPDATE
                 SET dispensed_at = excluded.dispensed_at, patient_ins = excluded.patient_ins, updated_at = excluded.updated_at",
            )?;
            for d in &dispensations {
                let existed = known.query_row(params![d.finess, d.id], |_| Ok(())).optional()?.is_some();
                put.execute(params![d.finess, d.id, d.at, d.patient_ins, now])?;
                if existed { declared.replaced += 1 } else { declared.inserted += 1 }
            }
            Ok(declared)
        })
        .await
    }

    async fn dispensations(&self, finess: &str, from: i64, to: i64) -> Result<Vec<StoredDispensation>, StoreError> {
        let finess = finess.to_string();
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id, dispensed_at, patient_ins FROM dispensations INDEXED BY dispensations_by_time
                 WHERE finess = ?1 AND dispensed_at >= ?2 AND dispensed_at < ?3 ORDER BY dispensed_at, id",
            )?;
            let rows = stmt.query_map(params![finess, from, to], |r| {
                Ok(StoredDispensation { finess: finess.clone(), id: r.get(0)?, at: r.get(1)?, patient_ins: r.get(2)? })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn link_dispensation(&self, finess: &str, id: &str, message_id: &str, at: i64) -> Result<bool, StoreError> {
        let (finess, id, message_id) = (finess.to_string(), id.to_string(), message_id.to_string());
        self.write(move |tx| {
            let known: bool = tx
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM dispensations WHERE finess = ?1 AND id = ?2)
                        AND EXISTS (SELECT 1 FROM message_facts mf
                                    JOIN messages m ON m.facts_id = mf.id
                                    JOIN folder_messages fm ON fm.message_id = m.id
                                    JOIN folders f ON f.id = fm.folder_id
                                    JOIN mailboxes b ON b.id = f.mailbox_id
                                    WHERE mf.message_id = ?3 AND b.finess = ?1)",
                )?
                .query_row(params![finess, id, message_id], |r| r.get(0))?;
            if known {
                tx.prepare_cached(
                    "INSERT INTO dispensation_links (finess, dispensation_id, message_id, linked_at) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT DO NOTHING",
                )?
                .execute(params![finess, id, message_id, at])?;
            }
            Ok(known)
        })
        .await
    }

    async fn dispensation_links(&self, finess: &str) -> Result<Vec<(String, i64)>, StoreError> {
        let finess = finess.to_string();
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT dispensation_id, MIN(linked_at) FROM dispensation_links WHERE finess = ?1 GROUP BY dispensation_id",
            )?;
            let rows = stmt.query_map([finess], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn dispensations_linked_to(&self, finess: &str, message_id: &str) -> Result<Vec<String>, StoreError> {
        let (finess, message_id) = (finess.to_string(), message_id.to_string());
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT dispensation_id FROM dispensation_links WHERE finess = ?1 AND message_id = ?2
                 ORDER BY dispensation_id",
            )?;
            let rows = stmt.query_map([finess, message_id], |r| r.get(0))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn patient_exchanges(&self, finess: &str, from: i64, to: i64) -> Result<Vec<PatientExchange>, StoreError> {
        let finess = finess.to_string();
        self.read(move |conn| {
            let [drafts, trash, junk] = OUTSIDE_CONVERSATIONS;
            let mut stmt = conn.prepare_cached(
                "SELECT fm.patient_ins, m.received_at
                 FROM mailboxes b
                 CROSS JOIN folders f ON f.mailbox_id = b.id AND f.name NOT IN (:drafts, :trash, :junk)
                 CROSS JOIN folder_messages fm ON fm.folder_id = f.id AND fm.patient_ins IS NOT NULL
                 CROSS JOIN messages m ON m.id = fm.message_id
                 WHERE b.finess = :finess AND m.received_at >= :from AND m.received_at < :to",
            )?;
            let bound: [(&str, &dyn ToSql); 6] = [
                (":finess", &finess),
                (":from", &from),
                (":to", &to),
                (":drafts", &drafts),
                (":trash", &trash),
                (":junk", &junk),
            ];
            let rows = stmt.query_map(&bound[..], |r| Ok(PatientExchange { ins: r.get(0)?, at: r.get(1)? }))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }
}
