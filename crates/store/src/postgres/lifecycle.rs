//! [`LifecycleStore`] on PostgreSQL.

use async_trait::async_trait;
use deadpool_postgres::Transaction;
use mss_core::{MailboxState, NationalId, Role};
use tokio_postgres::Row;

use super::{MAILBOX_COLUMNS, PgStore, insert_mailbox, mailbox_by_id, mailbox_row, parse_col};
use crate::lifecycle::*;
use crate::{Mailbox, MailboxId, StoreError, now_unix};

const SESSION_COLUMNS: &str =
    "id, national_id, first_name, last_name, method, finess, refresh_hash, created_at, expires_at, revoked_at";

/// A session from the columns of [`SESSION_COLUMNS`], in that order.
fn session_row(r: &Row) -> Result<Session, StoreError> {
    let finess: String = r.try_get(5)?;
    Ok(Session {
        id: r.try_get(0)?,
        national_id: parse_col("national id", r.try_get(1)?)?,
        first_name: r.try_get(2)?,
        last_name: r.try_get(3)?,
        method: r.try_get(4)?,
        finess: finess.split(' ').filter(|f| !f.is_empty()).map(str::to_string).collect(),
        refresh_hash: r.try_get(6)?,
        created_at: r.try_get(7)?,
        expires_at: r.try_get(8)?,
        revoked_at: r.try_get(9)?,
    })
}

/// Moves a mailbox from `from` to `to` inside `tx`; false when it was no
/// longer in `from`. The caller checks that the transition is allowed.
pub(crate) async fn update_state(
    tx: &Transaction<'_>,
    id: MailboxId,
    from: MailboxState,
    to: MailboxState,
    reason: Option<&str>,
) -> Result<bool, StoreError> {
    let stmt = tx
        .prepare_cached(
            "UPDATE mailboxes SET state = $3, state_reason = $4, updated_at = $5 WHERE id = $1 AND state = $2",
        )
        .await?;
    let changed = tx.execute(&stmt, &[&id, &from.as_str(), &to.as_str(), &reason, &now_unix()]).await?;
    Ok(changed == 1)
}

#[async_trait]
impl LifecycleStore for PgStore {
    async fn request_mailbox(&self, request: &MailboxRequest) -> Result<Mailbox, StoreError> {
        if request.mailbox.state != MailboxState::Pending {
            return Err(StoreError::Invalid("a requested mailbox starts pending".into()));
        }
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let id = insert_mailbox(&tx, &request.mailbox).await?;
        tx.execute("UPDATE mailboxes SET validation_due_at = $2 WHERE id = $1", &[&id, &request.validation_due_at])
            .await?;
        tx.execute(
            "INSERT INTO cgu_acceptances (mailbox_id, national_id, version, accepted_at) VALUES ($1, $2, $3, $4)",
            &[&id, &request.cgu.national_id.to_string(), &request.cgu.version, &request.cgu.accepted_at],
        )
        .await?;
        if let Some(admin) = &request.administrator {
            tx.execute(
                "INSERT INTO mailbox_roles (mailbox_id, national_id, role, granted_at) VALUES ($1, $2, $3, $4)",
                &[&id, &admin.to_string(), &Role::Administrateur.as_str(), &now_unix()],
            )
            .await?;
        }
        tx.commit().await?;
        mailbox_by_id(&client, id).await
    }

    async fn mailbox_by_id(&self, id: MailboxId) -> Result<Option<Mailbox>, StoreError> {
        let client = self.client().await?;
        let stmt = client.prepare_cached(&format!("SELECT {MAILBOX_COLUMNS} FROM mailboxes WHERE id = $1")).await?;
        client.query_opt(&stmt, &[&id]).await?.map(|row| mailbox_row(&row, 0)).transpose()
    }

    async fn change_state(
        &self,
        id: MailboxId,
        from: MailboxState,
        to: MailboxState,
        reason: Option<&str>,
    ) -> Result<bool, StoreError> {
        if !from.can_become(to) {
            return Err(StoreError::Invalid(format!("a {from} mailbox cannot become {to}")));
        }
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let changed = update_state(&tx, id, from, to, reason).await?;
        tx.commit().await?;
        Ok(changed)
    }

    async fn due_validations(&self, now: i64) -> Result<Vec<Mailbox>, StoreError> {
        let client = self.client().await?;
        let sql = format!(
            "SELECT {MAILBOX_COLUMNS} FROM mailboxes
             WHERE state = 'pending' AND validation_due_at IS NOT NULL AND validation_due_at <= $1
             ORDER BY validation_due_at LIMIT 100"
        );
        let stmt = client.prepare_cached(&sql).await?;
        client.query(&stmt, &[&now]).await?.iter().map(|row| mailbox_row(row, 0)).collect()
    }

    async fn postpone_validation(&self, id: MailboxId, due_at: i64) -> Result<(), StoreError> {
        let client = self.client().await?;
        client.execute("UPDATE mailboxes SET validation_due_at = $2 WHERE id = $1", &[&id, &due_at]).await?;
        Ok(())
    }

    async fn set_role(
        &self,
        mailbox: MailboxId,
        national_id: &NationalId,
        role: Option<Role>,
    ) -> Result<(), StoreError> {
        let national_id = national_id.to_string();
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        // The mailbox row locked: role changes of one mailbox go one at a
        // time, so two nodes removing its two Administrateurs at once cannot
        // each see the other one left.
        let locked = tx.query_opt("SELECT 1 FROM mailboxes WHERE id = $1 FOR NO KEY UPDATE", &[&mailbox]).await?;
        if locked.is_none() {
            return Err(StoreError::NotFound(format!("mailbox {mailbox}")));
        }
        let admins = tx
            .prepare_cached("SELECT count(*) FROM mailbox_roles WHERE mailbox_id = $1 AND role = 'administrateur'")
            .await?;
        let admins_before: i64 = tx.query_one(&admins, &[&mailbox]).await?.get(0);
        match role {
            Some(role) => {
                tx.execute(
                    "INSERT INTO mailbox_roles (mailbox_id, national_id, role, granted_at) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (mailbox_id, national_id) DO UPDATE SET role = excluded.role, granted_at = excluded.granted_at",
                    &[&mailbox, &national_id, &role.as_str(), &now_unix()],
                )
                .await?
            }
            None => {
                tx.execute(
                    "DELETE FROM mailbox_roles WHERE mailbox_id = $1 AND national_id = $2",
                    &[&mailbox, &national_id],
                )
                .await?
            }
        };
        let admins_after: i64 = tx.query_one(&admins, &[&mailbox]).await?.get(0);
        if admins_before > 0 && admins_after == 0 {
            // Rolled back: the transaction is dropped with this error.
            return Err(StoreError::Invalid("the last Administrateur cannot be removed".into()));
        }
        tx.commit().await?;
        Ok(())
    }

    async fn cgu_acceptances(&self, mailbox: MailboxId) -> Result<Vec<CguAcceptance>, StoreError> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(
                "SELECT national_id, version, accepted_at FROM cgu_acceptances WHERE mailbox_id = $1 ORDER BY id",
            )
            .await?;
        client
            .query(&stmt, &[&mailbox])
            .await?
            .iter()
            .map(|r| {
                Ok(CguAcceptance {
                    national_id: parse_col("national id", r.try_get(0)?)?,
                    version: r.try_get(1)?,
                    accepted_at: r.try_get(2)?,
                })
            })
            .collect()
    }

    async fn purge_deleted(&self, before: i64) -> Result<Vec<String>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        // Locked, skipping those another node is emptying now: nodes purging
        // together share the work.
        let doomed = tx
            .query(
                "SELECT m.id, m.address FROM mailboxes m
                 WHERE m.state = 'deleted' AND m.updated_at < $1
                   AND EXISTS (SELECT 1 FROM folders f WHERE f.mailbox_id = m.id)
                 ORDER BY m.id
                 FOR NO KEY UPDATE OF m SKIP LOCKED",
                &[&before],
            )
            .await?;
        let folders = "SELECT id FROM folders WHERE mailbox_id = $1";
        let mut emptied = Vec::new();
        for row in doomed {
            let (id, address): (MailboxId, String) = (row.try_get(0)?, row.try_get(1)?);
            let messages: Vec<i64> = tx
                .query(
                    &format!("DELETE FROM folder_messages WHERE folder_id IN ({folders}) RETURNING message_id"),
                    &[&id],
                )
                .await?
                .iter()
                .map(|r| r.try_get(0))
                .collect::<Result<_, _>>()?;
            tx.execute(&format!("DELETE FROM expunged WHERE folder_id IN ({folders})"), &[&id]).await?;
            let removed = tx.execute("DELETE FROM folders WHERE mailbox_id = $1", &[&id]).await?;
            tx.execute("DELETE FROM mailbox_roles WHERE mailbox_id = $1", &[&id]).await?;
            tx.execute("DELETE FROM patient_contacts WHERE mailbox_id = $1", &[&id]).await?;
            tx.execute("DELETE FROM quick_answers WHERE mailbox_id = $1", &[&id]).await?;
            tx.execute("DELETE FROM quick_answer_sets WHERE mailbox_id = $1", &[&id]).await?;
            tx.execute(
                "DELETE FROM messages m WHERE m.id = ANY($1)
                 AND NOT EXISTS (SELECT 1 FROM folder_messages fm WHERE fm.message_id = m.id)",
                &[&messages],
            )
            .await?;
            // Read after the lock: a mailbox another node emptied between
            // the look-up and the lock had no folder left.
            if removed > 0 {
                emptied.push(address);
            }
        }
        tx.commit().await?;
        Ok(emptied)
    }

    async fn create_session(&self, session: &Session) -> Result<(), StoreError> {
        let s = session;
        let client = self.client().await?;
        client
            .execute(
                &format!("INSERT INTO sessions ({SESSION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"),
                &[
                    &s.id,
                    &s.national_id.to_string(),
                    &s.first_name,
                    &s.last_name,
                    &s.method,
                    &s.finess.join(" "),
                    &s.refresh_hash,
                    &s.created_at,
                    &s.expires_at,
                    &s.revoked_at,
                ],
            )
            .await?;
        Ok(())
    }

    async fn session(&self, id: &str) -> Result<Option<Session>, StoreError> {
        let client = self.client().await?;
        let stmt = client.prepare_cached(&format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE id = $1")).await?;
        client.query_opt(&stmt, &[&id]).await?.map(|row| session_row(&row)).transpose()
    }

    async fn rotate_refresh(&self, id: &str, old_hash: &str, new_hash: &str, now: i64) -> Result<bool, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        // Two refreshes with the same token at once: the second waits for
        // the first's row lock, then finds the hash changed.
        let changed = tx
            .execute(
                "UPDATE sessions SET refresh_hash = $3
                 WHERE id = $1 AND refresh_hash = $2 AND revoked_at IS NULL AND expires_at > $4",
                &[&id, &old_hash, &new_hash, &now],
            )
            .await?;
        if changed == 0 {
            // A refresh token used twice is a stolen one: end the session.
            tx.execute("UPDATE sessions SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL", &[&id, &now])
                .await?;
        }
        tx.commit().await?;
        Ok(changed == 1)
    }

    async fn revoke_session(&self, id: &str, now: i64) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute("UPDATE sessions SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL", &[&id, &now])
            .await?;
        Ok(())
    }

    async fn revoke_sessions_of(&self, national_id: &NationalId, now: i64) -> Result<u64, StoreError> {
        let client = self.client().await?;
        let n = client
            .execute(
                "UPDATE sessions SET revoked_at = $2 WHERE national_id = $1 AND revoked_at IS NULL",
                &[&national_id.to_string(), &now],
            )
            .await?;
        Ok(n)
    }
}
