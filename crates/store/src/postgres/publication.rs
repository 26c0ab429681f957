//! [`PublicationStore`] on PostgreSQL: the `directory_outbox` table.

use async_trait::async_trait;
use deadpool_postgres::Transaction;
use mss_core::MailboxState;
use tokio_postgres::Row;

use super::lifecycle::update_state;
use super::{MAILBOX_COLUMNS, PgStore, insert_mailbox, mailbox_by_id, mailbox_row};
use crate::publication::*;
use crate::{Mailbox, MailboxId, NewMailbox, StoreError, now_unix};

const COLUMNS: &str = "o.id, o.mailbox_id, m.address, o.kind, o.status, o.attempts, o.next_attempt_at, \
                       o.last_error, o.created_at, o.acknowledged_at";
const FROM: &str = "directory_outbox o JOIN mailboxes m ON m.id = o.mailbox_id";

/// Records an operation on `mailbox` inside `tx`, due now.
async fn insert(tx: &Transaction<'_>, mailbox: MailboxId, publication: NewPublication) -> Result<(), StoreError> {
    let now = now_unix();
    let (status, acknowledged_at) = match publication.acknowledged {
        true => (PublicationStatus::Acknowledged, Some(now)),
        false => (PublicationStatus::Pending, None),
    };
    let stmt = tx
        .prepare_cached(
            "INSERT INTO directory_outbox (mailbox_id, kind, status, attempts, next_attempt_at, created_at, acknowledged_at)
             VALUES ($1, $2, $3, $4, $5, $5, $6)",
        )
        .await?;
    let attempts = i64::from(publication.acknowledged);
    tx.execute(&stmt, &[&mailbox, &publication.kind.as_str(), &status.as_str(), &attempts, &now, &acknowledged_at])
        .await?;
    Ok(())
}

/// An operation from the columns of [`COLUMNS`], in that order.
fn typed(r: &Row) -> Result<Publication, StoreError> {
    let kind: String = r.try_get(3)?;
    let status: String = r.try_get(4)?;
    let attempts: i64 = r.try_get(5)?;
    Ok(Publication {
        id: r.try_get(0)?,
        mailbox: r.try_get(1)?,
        address: r.try_get(2)?,
        kind: PublicationKind::parse(&kind).ok_or_else(|| StoreError::Corrupt(format!("outbox kind {kind:?}")))?,
        status: PublicationStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("outbox status {status:?}")))?,
        attempts: u32::try_from(attempts).map_err(|_| StoreError::Corrupt(format!("outbox attempts {attempts}")))?,
        next_attempt_at: r.try_get(6)?,
        last_error: r.try_get(7)?,
        created_at: r.try_get(8)?,
        acknowledged_at: r.try_get(9)?,
    })
}

#[async_trait]
impl PublicationStore for PgStore {
    async fn create_published_mailbox(&self, new: &NewMailbox) -> Result<Mailbox, StoreError> {
        if new.state != MailboxState::Active {
            return Err(StoreError::Invalid("only an active mailbox is published at creation".into()));
        }
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let id = insert_mailbox(&tx, new).await?;
        insert(&tx, id, NewPublication::queued(PublicationKind::Publish)).await?;
        tx.commit().await?;
        mailbox_by_id(&client, id).await
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
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let changed = update_state(&tx, id, from, to, reason).await?;
        if let (true, Some(publication)) = (changed, publication) {
            insert(&tx, id, publication).await?;
        }
        tx.commit().await?;
        Ok(changed)
    }

    async fn set_liste_rouge(&self, id: MailboxId, liste_rouge: bool) -> Result<bool, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        // Locked until the commit: the state read decides whether an update
        // is queued, and must not change before.
        let sql = format!("SELECT {MAILBOX_COLUMNS} FROM mailboxes WHERE id = $1 FOR NO KEY UPDATE");
        let Some(row) = tx.query_opt(&sql, &[&id]).await? else {
            return Err(StoreError::NotFound(format!("mailbox {id}")));
        };
        let mailbox = mailbox_row(&row, 0)?;
        if mailbox.liste_rouge == liste_rouge {
            return Ok(false);
        }
        tx.execute(
            "UPDATE mailboxes SET liste_rouge = $2, updated_at = $3 WHERE id = $1",
            &[&id, &liste_rouge, &now_unix()],
        )
        .await?;
        if mailbox.state == MailboxState::Active {
            insert(&tx, id, NewPublication::queued(PublicationKind::Update)).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn claim_due_publications(&self, now: i64, until: i64, limit: usize) -> Result<Vec<Publication>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        // Rows another node is claiming or recording right now are skipped,
        // not waited for; once claimed they are not due.
        let claimed: Vec<i64> = tx
            .query(
                "UPDATE directory_outbox SET next_attempt_at = $3 WHERE id IN (
                     SELECT o.id FROM directory_outbox o
                     WHERE o.status = 'pending' AND o.next_attempt_at <= $1
                       AND o.id = (SELECT min(id) FROM directory_outbox
                                   WHERE mailbox_id = o.mailbox_id AND status = 'pending')
                     ORDER BY o.id LIMIT $2 FOR UPDATE SKIP LOCKED)
                 RETURNING id",
                &[&now, &limit, &until],
            )
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let sql = format!("SELECT {COLUMNS} FROM {FROM} WHERE o.id = ANY($1) ORDER BY o.id");
        let due = tx.query(&sql, &[&claimed]).await?.iter().map(typed).collect::<Result<_, _>>()?;
        tx.commit().await?;
        Ok(due)
    }

    async fn record_publication(
        &self,
        id: PublicationId,
        outcome: &PublicationOutcome,
        now: i64,
    ) -> Result<bool, StoreError> {
        let (status, next, error, acknowledged_at) = match outcome {
            PublicationOutcome::Acknowledged => (PublicationStatus::Acknowledged, now, None, Some(now)),
            PublicationOutcome::Retry { error, retry_at } => {
                (PublicationStatus::Pending, *retry_at, Some(error.as_str()), None)
            }
            PublicationOutcome::Failed { error } => (PublicationStatus::Failed, now, Some(error.as_str()), None),
        };
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(
                "UPDATE directory_outbox
                 SET status = $2, attempts = attempts + 1, next_attempt_at = $3,
                     last_error = coalesce($4, last_error), acknowledged_at = $5
                 WHERE id = $1 AND status = 'pending'",
            )
            .await?;
        let changed = client.execute(&stmt, &[&id, &status.as_str(), &next, &error, &acknowledged_at]).await?;
        Ok(changed == 1)
    }

    async fn publications(&self, all: bool) -> Result<Vec<Publication>, StoreError> {
        let client = self.client().await?;
        let filter = if all { "" } else { "WHERE o.status = 'pending'" };
        let stmt = client.prepare_cached(&format!("SELECT {COLUMNS} FROM {FROM} {filter} ORDER BY o.id")).await?;
        client.query(&stmt, &[]).await?.iter().map(typed).collect()
    }

    async fn publications_due_now(&self, now: i64) -> Result<u64, StoreError> {
        let client = self.client().await?;
        let n = client
            .execute(
                "UPDATE directory_outbox SET next_attempt_at = $1 WHERE status = 'pending' AND next_attempt_at > $1",
                &[&now],
            )
            .await?;
        Ok(n)
    }
}
