//! [`AppPasswordStore`] on PostgreSQL.

use async_trait::async_trait;
use mss_core::NationalId;
use tokio_postgres::Row;

use super::{PgStore, parse_col};
use crate::{AppPassword, AppPasswordStore, MailboxId, NewAppPassword, Scope, StoreError};

const COLUMNS: &str = "id, mailbox_id, national_id, label, scope, created_at, expires_at, last_used_at, revoked_at";

fn row(r: &Row) -> Result<AppPassword, StoreError> {
    let scope: String = r.try_get(4)?;
    Ok(AppPassword {
        id: r.try_get(0)?,
        mailbox: r.try_get(1)?,
        national_id: parse_col("national id", r.try_get(2)?)?,
        label: r.try_get(3)?,
        scope: Scope::parse(&scope).ok_or_else(|| StoreError::Corrupt(format!("app password scope {scope:?}")))?,
        created_at: r.try_get(5)?,
        expires_at: r.try_get(6)?,
        last_used_at: r.try_get(7)?,
        revoked_at: r.try_get(8)?,
    })
}

#[async_trait]
impl AppPasswordStore for PgStore {
    async fn create_app_password(&self, new: &NewAppPassword) -> Result<i64, StoreError> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(
                "INSERT INTO app_passwords (mailbox_id, national_id, label, hash, scope, created_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 RETURNING id",
            )
            .await?;
        let row = client
            .query_one(
                &stmt,
                &[
                    &new.mailbox,
                    &new.national_id.to_string(),
                    &new.label,
                    &new.hash,
                    &new.scope.as_str(),
                    &new.created_at,
                    &new.expires_at,
                ],
            )
            .await?;
        Ok(row.try_get(0)?)
    }

    async fn app_password_by_hash(&self, hash: &str) -> Result<Option<AppPassword>, StoreError> {
        let client = self.client().await?;
        let stmt = client.prepare_cached(&format!("SELECT {COLUMNS} FROM app_passwords WHERE hash = $1")).await?;
        client.query_opt(&stmt, &[&hash]).await?.as_ref().map(row).transpose()
    }

    async fn app_password(&self, id: i64) -> Result<Option<AppPassword>, StoreError> {
        let client = self.client().await?;
        let stmt = client.prepare_cached(&format!("SELECT {COLUMNS} FROM app_passwords WHERE id = $1")).await?;
        client.query_opt(&stmt, &[&id]).await?.as_ref().map(row).transpose()
    }

    async fn app_passwords(&self, mailbox: MailboxId, person: &NationalId) -> Result<Vec<AppPassword>, StoreError> {
        let client = self.client().await?;
        let sql =
            format!("SELECT {COLUMNS} FROM app_passwords WHERE mailbox_id = $1 AND national_id = $2 ORDER BY id DESC");
        let stmt = client.prepare_cached(&sql).await?;
        client.query(&stmt, &[&mailbox, &person.to_string()]).await?.iter().map(row).collect()
    }

    async fn revoke_app_password(
        &self,
        id: i64,
        mailbox: MailboxId,
        person: &NationalId,
        at: i64,
    ) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let changed = client
            .execute(
                "UPDATE app_passwords SET revoked_at = $4
                 WHERE id = $1 AND mailbox_id = $2 AND national_id = $3 AND revoked_at IS NULL",
                &[&id, &mailbox, &person.to_string(), &at],
            )
            .await?;
        Ok(changed == 1)
    }

    async fn revoke_app_passwords_of(&self, person: &NationalId, at: i64) -> Result<usize, StoreError> {
        let client = self.client().await?;
        let changed = client
            .execute(
                "UPDATE app_passwords SET revoked_at = $2 WHERE national_id = $1 AND revoked_at IS NULL",
                &[&person.to_string(), &at],
            )
            .await?;
        usize::try_from(changed).map_err(|_| StoreError::Invalid(format!("{changed} passwords revoked")))
    }

    async fn app_password_used(&self, id: i64, at: i64) -> Result<(), StoreError> {
        let client = self.client().await?;
        let stmt = client.prepare_cached("UPDATE app_passwords SET last_used_at = $2 WHERE id = $1").await?;
        client.execute(&stmt, &[&id, &at]).await?;
        Ok(())
    }
}
