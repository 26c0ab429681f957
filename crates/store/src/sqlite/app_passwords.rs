//! [`AppPasswordStore`] on SQLite (migration 0017).

use async_trait::async_trait;
use mss_core::NationalId;
use rusqlite::{OptionalExtension, Row, params};

use super::SqliteStore;
use crate::{AppPassword, AppPasswordStore, MailboxId, NewAppPassword, Scope, StoreError};

const COLUMNS: &str = "id, mailbox_id, national_id, label, scope, created_at, expires_at, last_used_at, revoked_at";

fn row(r: &Row<'_>) -> rusqlite::Result<AppPassword> {
    let national_id: String = r.get(2)?;
    let scope: String = r.get(4)?;
    let invalid = |what: &str| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, format!("bad {what}").into())
    };
    Ok(AppPassword {
        id: r.get(0)?,
        mailbox: r.get(1)?,
        national_id: national_id.parse().map_err(|_| invalid("national id"))?,
        label: r.get(3)?,
        scope: Scope::parse(&scope).ok_or_else(|| invalid("scope"))?,
        created_at: r.get(5)?,
        expires_at: r.get(6)?,
        last_used_at: r.get(7)?,
        revoked_at: r.get(8)?,
    })
}

#[async_trait]
impl AppPasswordStore for SqliteStore {
    async fn create_app_password(&self, new: &NewAppPassword) -> Result<i64, StoreError> {
        let new = new.clone();
        self.write(move |tx| {
            tx.prepare_cached(
                "INSERT INTO app_passwords (mailbox_id, national_id, label, hash, scope, created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                new.mailbox,
                new.national_id.to_string(),
                new.label,
                new.hash,
                new.scope.as_str(),
                new.created_at,
                new.expires_at
            ])?;
            Ok(tx.last_insert_rowid())
        })
        .await
    }

    async fn app_password_by_hash(&self, hash: &str) -> Result<Option<AppPassword>, StoreError> {
        let hash = hash.to_string();
        self.read(move |conn| {
            let sql = format!("SELECT {COLUMNS} FROM app_passwords WHERE hash = ?1");
            Ok(conn.prepare_cached(&sql)?.query_row([hash], row).optional()?)
        })
        .await
    }

    async fn app_password(&self, id: i64) -> Result<Option<AppPassword>, StoreError> {
        self.read(move |conn| {
            let sql = format!("SELECT {COLUMNS} FROM app_passwords WHERE id = ?1");
            Ok(conn.prepare_cached(&sql)?.query_row([id], row).optional()?)
        })
        .await
    }

    async fn app_passwords(&self, mailbox: MailboxId, person: &NationalId) -> Result<Vec<AppPassword>, StoreError> {
        let person = person.to_string();
        self.read(move |conn| {
            let sql = format!(
                "SELECT {COLUMNS} FROM app_passwords WHERE mailbox_id = ?1 AND national_id = ?2 ORDER BY id DESC"
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt.query_map(params![mailbox, person], row)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn revoke_app_password(
        &self,
        id: i64,
        mailbox: MailboxId,
        person: &NationalId,
        at: i64,
    ) -> Result<bool, StoreError> {
        let person = person.to_string();
        self.write(move |tx| {
            let changed = tx.execute(
                "UPDATE app_passwords SET revoked_at = ?4
                 WHERE id = ?1 AND mailbox_id = ?2 AND national_id = ?3 AND revoked_at IS NULL",
                params![id, mailbox, person, at],
            )?;
            Ok(changed == 1)
        })
        .await
    }

    async fn revoke_app_passwords_of(&self, person: &NationalId, at: i64) -> Result<usize, StoreError> {
        let person = person.to_string();
        self.write(move |tx| {
            Ok(tx.execute(
                "UPDATE app_passwords SET revoked_at = ?2 WHERE national_id = ?1 AND revoked_at IS NULL",
                params![person, at],
            )?)
        })
        .await
    }

    async fn app_password_used(&self, id: i64, at: i64) -> Result<(), StoreError> {
        self.write(move |tx| {
            tx.execute("UPDATE app_passwords SET last_used_at = ?2 WHERE id = ?1", params![id, at])?;
            Ok(())
        })
        .await
    }
}
