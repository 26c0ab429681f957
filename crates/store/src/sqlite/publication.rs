//! [`PublicationStore`] on SQLite: the `directory_outbox` table.

use async_trait::async_trait;
use mss_core::MailboxState;
use rusqlite::{OptionalExtension, Row, params};

use super::lifecycle::update_state;
use super::{MAILBOX_COLUMNS, SqliteStore, insert_mailbox, mailbox_by_id, mailbox_row};
use crate::publication::*;
use crate::{Mailbox, MailboxId, NewMailbox, StoreError, now_unix};

const COLUMNS: &str = "o.id, o.mailbox_id, m.address, o.kind, o.status, o.attempts, o.next_attempt_at, \
                       o.last_error, o.created_at, o.acknowledged_at";
const FROM: &str = "directory_outbox o JOIN mailboxes m ON m.id = o.mailbox_id";

/// Records an operation on `mailbox` inside `tx`, due now.
fn insert(tx: &rusqlite::Transaction<'_>, mailbox: MailboxId, publication: NewPublication) -> Result<(), StoreError> {
    let now = now_unix();
    let (status, acknowledged_at) = match publication.acknowledged {
        true => (PublicationStatus::Acknowledged, Some(now)),
        false => (PublicationStatus::Pending, None),
    };
    tx.execute(
        "INSERT INTO directory_outbox (mailbox_id, kind, status, attempts, next_attempt_at, created_at, acknowledged_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6)",
        params![mailbox, publication.kind.as_str(), status.as_str(), u32::from(publication.acknowledged), now, acknowledged_at],
    )?;
    Ok(())
}

type RawPublication = (i64, i64, String, String, String, u32, i64, Option<String>, i64, Option<i64>);

fn row(r: &Row<'_>) -> rusqlite::Result<RawPublication> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?, r.get(9)?))
}

fn typed(raw: RawPublication) -> Result<Publication, StoreError> {
    let (id, mailbox, address, kind, status, attempts, next_attempt_at, last_error, created_at, acknowledged_at) = raw;
    Ok(Publication {
        id,
        mailbox,
        address,
        kind: PublicationKind::parse(&kind).ok_or_else(|| StoreError::Corrupt(format!("outbox kind {kind:?}")))?,
        status: PublicationStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("outbox status {status:?}")))?,
        attempts,
        next_attempt_at,
        last_error,
        created_at,
        acknowledged_at,
    })
}

fn select(
    conn: &rusqlite::Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<Publication>, StoreError> {
    let mut stmt = conn.prepare(sql)?;
    let rows = stmt.query_map(params, row)?.collect::<Result<Vec<_>, _>>()?;
    rows.into_iter().map(typed).collect()
}

#[async_trait]
impl PublicationStore for SqliteStore {
    async fn create_published_mailbox(&self, new: &NewMailbox) -> Result<Mailbox, StoreError> {
        if new.state != MailboxState::Active {
            return Err(StoreError::Invalid("only an active mailbox is published at creation".into()));
        }
        let new = new.clone();
        let id = self
            .write(move |tx| {
                let id = insert_mailbox(tx, &new)?;
                insert(tx, id, NewPublication::queued(PublicationKind::Publish))?;
                Ok(id)
            })
            .await?;
        self.read(move |conn| mailbox_by_id(conn, id)).await
    }

    async fn change_state_published(
        &self,
        id: MailboxId,
        from: MailboxState,
        to: MailboxState,
        reason: Option<&str>,
        publication: Option<NewPublication>,
    ) -> Result<bool, StoreError> {
        if !from.can_become(to) {
            return Err(StoreError::Invalid(format!("a {from} mailbox cannot become {to}")));
        }
        let reason = reason.map(str::to_string);
        self.write(move |tx| {
            let changed = update_state(tx, id, from, to, reason.as_deref())?;
            if let (true, Some(publication)) = (changed, publication) {
                insert(tx, id, publication)?;
            }
            Ok(changed)
        })
        .await
    }

    async fn set_liste_rouge(&self, id: MailboxId, liste_rouge: bool) -> Result<bool, StoreError> {
        self.write(move |tx| {
            let sql = format!("SELECT {MAILBOX_COLUMNS} FROM mailboxes WHERE id = ?1");
            let Some(mailbox) = tx.query_row(&sql, [id], mailbox_row).optional()? else {
                return Err(StoreError::NotFound(format!("mailbox {id}")));
            };
            let mailbox = mailbox.into_mailbox()?;
            if mailbox.liste_rouge == liste_rouge {
                return Ok(false);
            }
            tx.execute(
                "UPDATE mailboxes SET liste_rouge = ?2, updated_at = ?3 WHERE id = ?1",
                params![id, liste_rouge, now_unix()],
            )?;
            if mailbox.state == MailboxState::Active {
                insert(tx, id, NewPublication::queued(PublicationKind::Update))?;
            }
            Ok(true)
        })
        .await
    }

    async fn claim_due_publications(&self, now: i64, until: i64, limit: usize) -> Result<Vec<Publication>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.write(move |tx| {
            let sql = format!(
                "SELECT {COLUMNS} FROM {FROM}
                 WHERE o.status = 'pending' AND o.next_attempt_at <= ?1
                   AND o.id = (SELECT min(id) FROM directory_outbox
                               WHERE mailbox_id = o.mailbox_id AND status = 'pending')
                 ORDER BY o.id LIMIT ?2"
            );
            let mut due = select(tx, &sql, params![now, limit])?;
            let mut claim = tx.prepare_cached("UPDATE directory_outbox SET next_attempt_at = ?2 WHERE id = ?1")?;
            for publication in &mut due {
                claim.execute(params![publication.id, until])?;
                publication.next_attempt_at = until;
            }
            Ok(due)
        })
        .await
    }

    async fn record_publication(
        &self,
        id: PublicationId,
        outcome: &PublicationOutcome,
        now: i64,
    ) -> Result<bool, StoreError> {
        let (status, next, error, acknowledged_at) = match outcome.clone() {
            PublicationOutcome::Acknowledged => (PublicationStatus::Acknowledged, now, None, Some(now)),
            PublicationOutcome::Retry { error, retry_at } => (PublicationStatus::Pending, retry_at, Some(error), None),
            PublicationOutcome::Failed { error } => (PublicationStatus::Failed, now, Some(error), None),
        };
        self.write(move |tx| {
            let changed = tx.execute(
                "UPDATE directory_outbox
                 SET status = ?2, attempts = attempts + 1, next_attempt_at = ?3,
                     last_error = coalesce(?4, last_error), acknowledged_at = ?5
                 WHERE id = ?1 AND status = 'pending'",
                params![id, status.as_str(), next, error, acknowledged_at],
            )?;
            Ok(changed == 1)
        })
        .await
    }

    async fn publications(&self, all: bool) -> Result<Vec<Publication>, StoreError> {
        self.read(move |conn| {
            let filter = if all { "" } else { "WHERE o.status = 'pending'" };
            select(conn, &format!("SELECT {COLUMNS} FROM {FROM} {filter} ORDER BY o.id"), [])
        })
        .await
    }

    async fn publications_due_now(&self, now: i64) -> Result<u64, StoreError> {
        self.write(move |tx| {
            let n = tx.execute(
                "UPDATE directory_outbox SET next_attempt_at = ?1 WHERE status = 'pending' AND next_attempt_at > ?1",
                [now],
            )?;
            Ok(n as u64)
        })
        .await
    }
}
