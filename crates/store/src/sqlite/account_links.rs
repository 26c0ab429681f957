//! [`AccountLinkStore`] on SQLite (migration 0019).

use async_trait::async_trait;
use mss_core::NationalId;
use rusqlite::{OptionalExtension, Row, params};

use super::SqliteStore;
use crate::{AccountLink, AccountLinkStore, StoreError};

const COLUMNS: &str = "issuer, subject, national_id, first_name, last_name, linked_at";

fn row(r: &Row<'_>) -> rusqlite::Result<AccountLink> {
    let national_id: String = r.get(2)?;
    Ok(AccountLink {
        issuer: r.get(0)?,
        subject: r.get(1)?,
        national_id: national_id.parse().map_err(|_| {
            rusqlite::Error::FromSqlConversionFailure(2, rusqlite::types::Type::Text, "bad national id".into())
        })?,
        first_name: r.get(3)?,
        last_name: r.get(4)?,
        linked_at: r.get(5)?,
    })
}

#[async_trait]
impl AccountLinkStore for SqliteStore {
    async fn link_account(&self, link: &AccountLink) -> Result<(), StoreError> {
        let link = link.clone();
        self.write(move |tx| {
            let holder: Option<String> = tx
                .prepare_cached("SELECT national_id FROM account_links WHERE issuer = ?1 AND subject = ?2")?
                .query_row(params![link.issuer, link.subject], |r| r.get(0))
                .optional()?;
            let person = link.national_id.to_string();
            if holder.as_ref().is_some_and(|h| *h != person) {
                return Err(StoreError::AlreadyPresent(format!("account {} at {}", link.subject, link.issuer)));
            }
            tx.prepare_cached("DELETE FROM account_links WHERE issuer = ?1 AND (national_id = ?2 OR subject = ?3)")?
                .execute(params![link.issuer, person, link.subject])?;
            tx.prepare_cached(
                "INSERT INTO account_links (issuer, subject, national_id, first_name, last_name, linked_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                link.issuer,
                link.subject,
                person,
                link.first_name,
                link.last_name,
                link.linked_at
            ])?;
            Ok(())
        })
        .await
    }

    async fn account_link(&self, issuer: &str, subject: &str) -> Result<Option<AccountLink>, StoreError> {
        let (issuer, subject) = (issuer.to_string(), subject.to_string());
        self.read(move |conn| {
            let sql = format!("SELECT {COLUMNS} FROM account_links WHERE issuer = ?1 AND subject = ?2");
            Ok(conn.prepare_cached(&sql)?.query_row(params![issuer, subject], row).optional()?)
        })
        .await
    }

    async fn linked_account(&self, issuer: &str, person: &NationalId) -> Result<Option<AccountLink>, StoreError> {
        let (issuer, person) = (issuer.to_string(), person.to_string());
        self.read(move |conn| {
            let sql = format!("SELECT {COLUMNS} FROM account_links WHERE issuer = ?1 AND national_id = ?2");
            Ok(conn.prepare_cached(&sql)?.query_row(params![issuer, person], row).optional()?)
        })
        .await
    }

    async fn unlink_account(&self, issuer: &str, person: &NationalId) -> Result<bool, StoreError> {
        let (issuer, person) = (issuer.to_string(), person.to_string());
        self.write(move |tx| {
            let removed = tx
                .prepare_cached("DELETE FROM account_links WHERE issuer = ?1 AND national_id = ?2")?
                .execute(params![issuer, person])?;
            Ok(removed > 0)
        })
        .await
    }
}
