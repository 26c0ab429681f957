//! [`AccountLinkStore`] on PostgreSQL.

use async_trait::async_trait;
use mss_core::NationalId;
use tokio_postgres::Row;

use super::{PgStore, parse_col};
use crate::{AccountLink, AccountLinkStore, StoreError};

const COLUMNS: &str = "issuer, subject, national_id, first_name, last_name, linked_at";

fn row(r: &Row) -> Result<AccountLink, StoreError> {
    Ok(AccountLink {
        issuer: r.try_get(0)?,
        subject: r.try_get(1)?,
        national_id: parse_col("national id", r.try_get(2)?)?,
        first_name: r.try_get(3)?,
        last_name: r.try_get(4)?,
        linked_at: r.try_get(5)?,
    })
}

#[async_trait]
impl AccountLinkStore for PgStore {
    async fn link_account(&self, link: &AccountLink) -> Result<(), StoreError> {
        let person = link.national_id.to_string();
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        // Links at one issuer change one at a time (an advisory lock held
        // until the commit): the holder read below is still the holder when
        // the row is replaced, on whichever node.
        tx.execute("SELECT pg_advisory_xact_lock(hashtext('mss account links'), hashtext($1::TEXT))", &[&link.issuer])
            .await?;
        let holder = tx
            .query_opt(
                "SELECT national_id FROM account_links WHERE issuer = $1 AND subject = $2",
                &[&link.issuer, &link.subject],
            )
            .await?
            .map(|r| r.try_get::<_, String>(0))
            .transpose()?;
        if holder.as_ref().is_some_and(|h| *h != person) {
            return Err(StoreError::AlreadyPresent(format!("account {} at {}", link.subject, link.issuer)));
        }
        tx.execute(
            "DELETE FROM account_links WHERE issuer = $1 AND (national_id = $2 OR subject = $3)",
            &[&link.issuer, &person, &link.subject],
        )
        .await?;
        tx.execute(
            "INSERT INTO account_links (issuer, subject, national_id, first_name, last_name, linked_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[&link.issuer, &link.subject, &person, &link.first_name, &link.last_name, &link.linked_at],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn account_link(&self, issuer: &str, subject: &str) -> Result<Option<AccountLink>, StoreError> {
        let client = self.client().await?;
        let sql = format!("SELECT {COLUMNS} FROM account_links WHERE issuer = $1 AND subject = $2");
        let stmt = client.prepare_cached(&sql).await?;
        client.query_opt(&stmt, &[&issuer, &subject]).await?.as_ref().map(row).transpose()
    }

    async fn linked_account(&self, issuer: &str, person: &NationalId) -> Result<Option<AccountLink>, StoreError> {
        let client = self.client().await?;
        let sql = format!("SELECT {COLUMNS} FROM account_links WHERE issuer = $1 AND national_id = $2");
        let stmt = client.prepare_cached(&sql).await?;
        client.query_opt(&stmt, &[&issuer, &person.to_string()]).await?.as_ref().map(row).transpose()
    }

    async fn unlink_account(&self, issuer: &str, person: &NationalId) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let removed = client
            .execute(
                "DELETE FROM account_links WHERE issuer = $1 AND national_id = $2",
                &[&issuer, &person.to_string()],
            )
            .await?;
        Ok(removed > 0)
    }
}
