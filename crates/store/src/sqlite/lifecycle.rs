//! [`LifecycleStore`] on SQLite.

use async_trait::async_trait;
use mss_core::{MailboxState, NationalId, Role};
use rusqlite::{OptionalExtension, Row, params};

use super::{MAILBOX_COLUMNS, SqliteStore, insert_mailbox, mailbox_by_id, mailbox_row, parse_col};
use crate::lifecycle::*;
use crate::{Mailbox, MailboxId, StoreError, now_unix};

const SESSION_COLUMNS: &str =
    "id, national_id, first_name, last_name, method, finess, refresh_hash, created_at, expires_at, revoked_at";

/// A session row as SQLite returns it, typed once the row is released.
struct RawSession {
    id: String,
    national_id: String,
    first_name: String,
    last_name: String,
    method: String,
    finess: String,
    refresh_hash: String,
    created_at: i64,
    expires_at: i64,
    revoked_at: Option<i64>,
}

fn session_row(r: &Row<'_>) -> rusqlite::Result<RawSession> {
    Ok(RawSession {
        id: r.get(0)?,
        national_id: r.get(1)?,
        first_name: r.get(2)?,
        last_name: r.get(3)?,
        method: r.get(4)?,
        finess: r.get(5)?,
        refresh_hash: r.get(6)?,
        created_at: r.get(7)?,
        expires_at: r.get(8)?,
        revoked_at: r.get(9)?,
    })
}

impl RawSession {
    fn into_session(self) -> Result<Session, StoreError> {
        Ok(Session {
            id: self.id,
            national_id: parse_col("national id", self.national_id)?,
            first_name: self.first_name,
            last_name: self.last_name,
            method: self.method,
            finess: self.finess.split(' ').filter(|f| !f.is_empty()).map(str::to_string).collect(),
            refresh_hash: self.refresh_hash,
            created_at: self.created_at,
            expires_at: self.expires_at,
            revoked_at: self.revoked_at,
        })
    }
}

/// Moves a mailbox from `from` to `to` inside `tx`; false when it was no
/// longer in `from`. The caller checks that the transition is allowed.
pub(super) fn update_state(
    tx: &rusqlite::Transaction<'_>,
    id: MailboxId,
    from: MailboxState,
    to: MailboxState,
    reason: Option<&str>,
) -> Result<bool, StoreError> {
    let changed = tx.execute(
        "UPDATE mailboxes SET state = ?3, state_reason = ?4, updated_at = ?5 WHERE id = ?1 AND state = ?2",
        params![id, from.as_str(), to.as_str(), reason, now_unix()],
    )?;
    Ok(changed == 1)
}

#[async_trait]
impl LifecycleStore for SqliteStore {
    async fn request_mailbox(&self, request: &MailboxRequest) -> Result<Mailbox, StoreError> {
        if request.mailbox.state != MailboxState::Pending {
            return Err(StoreError::Invalid("a requested mailbox starts pending".into()));
        }
        let request = request.clone();
        let id = self
            .write(move |tx| {
                let id = insert_mailbox(tx, &request.mailbox)?;
                tx.execute("UPDATE mailboxes SET validation_due_at = ?2 WHERE id = ?1", params![id, request.validation_due_at])?;
                tx.execute(
                    "INSERT INTO cgu_acceptances (mailbox_id, national_id, version, accepted_at) VALUES (?1, ?2, ?3, ?4)",
                    params![id, request.cgu.national_id.to_string(), request.cgu.version, request.cgu.accepted_at],
                )?;
                if let Some(admin) = &request.administrator {
                    tx.execute(
                        "INSERT INTO mailbox_roles (mailbox_id, national_id, role, granted_at) VALUES (?1, ?2, ?3, ?4)",
                        params![id, admin.to_string(), Role::Administrateur.as_str(), now_unix()],
                    )?;
                }
                Ok(id)
            })
            .await?;
        self.read(move |conn| mailbox_by_id(conn, id)).await
    }

    async fn mailbox_by_id(&self, id: MailboxId) -> Result<Option<Mailbox>, StoreError> {
        self.read(move |conn| {
            let sql = format!("SELECT {MAILBOX_COLUMNS} FROM mailboxes WHERE id = ?1");
            conn.query_row(&sql, [id], mailbox_row).optional()?.map(|m| m.into_mailbox()).transpose()
        })
        .await
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
        let reason = reason.map(str::to_string);
        self.write(move |tx| update_state(tx, id, from, to, reason.as_deref())).await
    }

    async fn due_validations(&self, now: i64) -> Result<Vec<Mailbox>, StoreError> {
        self.read(move |conn| {
            let sql = format!(
                "SELECT {MAILBOX_COLUMNS} FROM mailboxes
                 WHERE state = 'pending' AND validation_due_at IS NOT NULL AND validation_due_at <= ?1
                 ORDER BY validation_due_at LIMIT 100"
            );
            let mut stmt = conn.prepare(&sql)?;
            let rows = stmt.query_map([now], mailbox_row)?.collect::<Result<Vec<_>, _>>()?;
            rows.into_iter().map(|m| m.into_mailbox()).collect()
        })
        .await
    }

    async fn postpone_validation(&self, id: MailboxId, due_at: i64) -> Result<(), StoreError> {
        self.write(move |tx| {
            tx.execute("UPDATE mailboxes SET validation_due_at = ?2 WHERE id = ?1", params![id, due_at])?;
            Ok(())
        })
        .await
    }

    async fn set_role(
        &self,
        mailbox: MailboxId,
        national_id: &NationalId,
        role: Option<Role>,
    ) -> Result<(), StoreError> {
        let national_id = national_id.to_string();
        self.write(move |tx| {
            let exists: bool =
                tx.query_row("SELECT EXISTS (SELECT 1 FROM mailboxes WHERE id = ?1)", [mailbox], |r| r.get(0))?;
            if !exists {
                return Err(StoreError::NotFound(format!("mailbox {mailbox}")));
            }
            let admins = || -> Result<i64, StoreError> {
                Ok(tx.query_row(
                    "SELECT count(*) FROM mailbox_roles WHERE mailbox_id = ?1 AND role = 'administrateur'",
                    [mailbox],
                    |r| r.get(0),
                )?)
            };
            let admins_before = admins()?;
            match role {
                Some(role) => tx.execute(
                    "INSERT INTO mailbox_roles (mailbox_id, national_id, role, granted_at) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (mailbox_id, national_id) DO UPDATE SET role = excluded.role, granted_at = excluded.granted_at",
                    params![mailbox, national_id, role.as_str(), now_unix()],
                )?,
                None => tx.execute(
                    "DELETE FROM mailbox_roles WHERE mailbox_id = ?1 AND national_id = ?2",
                    params![mailbox, national_id],
                )?,
            };
            if admins_before > 0 && admins()? == 0 {
                // Rolled back: the transaction is dropped with this error.
                return Err(StoreError::Invalid("the last Administrateur cannot be removed".into()));
            }
            Ok(())
        })
        .await
    }

    async fn cgu_acceptances(&self, mailbox: MailboxId) -> Result<Vec<CguAcceptance>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare(
                "SELECT national_id, version, accepted_at FROM cgu_acceptances WHERE mailbox_id = ?1 ORDER BY id",
            )?;
            let rows = stmt
                .query_map([mailbox], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?)))?
                .collect::<Result<Vec<_>, _>>()?;
            rows.into_iter()
                .map(|(id, version, accepted_at)| {
                    Ok(CguAcceptance { national_id: parse_col("national id", id)?, version, accepted_at })
                })
                .collect()
        })
        .await
    }

    async fn purge_deleted(&self, before: i64) -> Result<Vec<String>, StoreError> {
        self.write(move |tx| {
            let doomed: Vec<(i64, String)> = {
                let mut stmt = tx.prepare(
                    "SELECT DISTINCT m.id, m.address FROM mailboxes m JOIN folders f ON f.mailbox_id = m.id
                     WHERE m.state = 'deleted' AND m.updated_at < ?1",
                )?;
                stmt.query_map([before], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?
            };
            for (id, _) in &doomed {
                let folders = "SELECT id FROM folders WHERE mailbox_id = ?1";
                let messages: Vec<i64> = {
                    let sql = format!("SELECT message_id FROM folder_messages WHERE folder_id IN ({folders})");
                    let mut stmt = tx.prepare(&sql)?;
                    stmt.query_map([id], |r| r.get(0))?.collect::<Result<_, _>>()?
                };
                tx.execute(&format!("DELETE FROM folder_messages WHERE folder_id IN ({folders})"), [id])?;
                tx.execute(&format!("DELETE FROM expunged WHERE folder_id IN ({folders})"), [id])?;
                tx.execute("DELETE FROM folders WHERE mailbox_id = ?1", [id])?;
                tx.execute("DELETE FROM mailbox_roles WHERE mailbox_id = ?1", [id])?;
                tx.execute("DELETE FROM patient_contacts WHERE mailbox_id = ?1", [id])?;
                tx.execute("DELETE FROM quick_answers WHERE mailbox_id = ?1", [id])?;
                tx.execute("DELETE FROM quick_answer_sets WHERE mailbox_id = ?1", [id])?;
                let mut orphan = tx.prepare_cached(
                    "DELETE FROM messages WHERE id = ?1 AND NOT EXISTS (SELECT 1 FROM folder_messages WHERE message_id = ?1)",
                )?;
                for message in messages {
                    orphan.execute([message])?;
                }
            }
            Ok(doomed.into_iter().map(|(_, address)| address).collect())
        })
        .await
    }

    async fn create_session(&self, session: &Session) -> Result<(), StoreError> {
        let s = session.clone();
        self.write(move |tx| {
            tx.execute(
                &format!("INSERT INTO sessions ({SESSION_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"),
                params![
                    s.id,
                    s.national_id.to_string(),
                    s.first_name,
                    s.last_name,
                    s.method,
                    s.finess.join(" "),
                    s.refresh_hash,
                    s.created_at,
                    s.expires_at,
                    s.revoked_at
                ],
            )?;
            Ok(())
        })
        .await
    }

    async fn session(&self, id: &str) -> Result<Option<Session>, StoreError> {
        let id = id.to_string();
        self.read(move |conn| {
            let sql = format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?1");
            conn.query_row(&sql, [id], session_row).optional()?.map(RawSession::into_session).transpose()
        })
        .await
    }

    async fn rotate_refresh(&self, id: &str, old_hash: &str, new_hash: &str, now: i64) -> Result<bool, StoreError> {
        let (id, old_hash, new_hash) = (id.to_string(), old_hash.to_string(), new_hash.to_string());
        self.write(move |tx| {
            let changed = tx.execute(
                "UPDATE sessions SET refresh_hash = ?3
                 WHERE id = ?1 AND refresh_hash = ?2 AND revoked_at IS NULL AND expires_at > ?4",
                params![id, old_hash, new_hash, now],
            )?;
            if changed == 0 {
                // A refresh token used twice is a stolen one: end the session.
                tx.execute(
                    "UPDATE sessions SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                    params![id, now],
                )?;
            }
            Ok(changed == 1)
        })
        .await
    }

    async fn revoke_session(&self, id: &str, now: i64) -> Result<(), StoreError> {
        let id = id.to_string();
        self.write(move |tx| {
            tx.execute("UPDATE sessions SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL", params![id, now])?;
            Ok(())
        })
        .await
    }

    async fn revoke_sessions_of(&self, national_id: &NationalId, now: i64) -> Result<u64, StoreError> {
        let national_id = national_id.to_string();
        self.write(move |tx| {
            let n = tx.execute(
                "UPDATE sessions SET revoked_at = ?2 WHERE national_id = ?1 AND revoked_at IS NULL",
                params![national_id, now],
            )?;
            Ok(n as u64)
        })
        .await
    }
}
