//! [`MetadataStore`] on PostgreSQL.

use async_trait::async_trait;
use deadpool_postgres::{GenericClient, Transaction};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::facts::folders_updated_by;
use super::folders::lock_folders_if_there;
use super::inline_blobs::link_inline_blob;
use super::{
    MAILBOX_COLUMNS, PgStore, insert_mailbox, mailbox_by_id, mailbox_row, next_uidvalidity, parse_col, retried,
};
use crate::model::*;
use crate::{BlobHash, FolderId, StoreError, now_unix};
use mss_core::{EmailAddress, NationalId, Role};

/// The mailboxes whose `column` (an indexed one, named by the code) is
/// `value`, by address.
async fn mailboxes_where(
    client: &impl GenericClient,
    column: &'static str,
    value: &str,
) -> Result<Vec<Mailbox>, StoreError> {
    let sql = format!("SELECT {MAILBOX_COLUMNS} FROM mailboxes WHERE {column} = $1 ORDER BY address COLLATE \"C\"");
    let stmt = client.prepare_cached(&sql).await?;
    client.query(&stmt, &[&value]).await?.iter().map(|row| mailbox_row(row, 0)).collect()
}

/// Every mailbox matching `filter` (a fixed clause of the code), by address
/// in byte order, as SQLite sorts it.
async fn mailboxes_filtered(client: &impl GenericClient, filter: &str) -> Result<Vec<Mailbox>, StoreError> {
    let sql = format!("SELECT {MAILBOX_COLUMNS} FROM mailboxes {filter} ORDER BY address COLLATE \"C\"");
    client.query(&sql, &[]).await?.iter().map(|row| mailbox_row(row, 0)).collect()
}

/// Queue rows joined with their message, filtered, ordered (and locked) by
/// `tail`.
async fn queued_rows(
    client: &impl GenericClient,
    tail: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<QueuedRecipient>, StoreError> {
    let sql = format!(
        "SELECT r.id, r.message_id, m.blob_hash, m.sender, r.recipient, r.domain, r.status, r.attempts,
                r.next_attempt_at, m.expires_at, r.last_reply, r.notify, r.orcpt, m.dsn_ret, m.dsn_envid
         FROM queue_recipients r JOIN queue_messages m ON m.id = r.message_id {tail}"
    );
    let stmt = client.prepare_cached(&sql).await?;
    client.query(&stmt, params).await?.iter().map(queued_row).collect()
}

fn queued_row(r: &Row) -> Result<QueuedRecipient, StoreError> {
    let attempts: i64 = r.try_get(7)?;
    Ok(QueuedRecipient {
        id: r.try_get(0)?,
        message: r.try_get(1)?,
        blob: parse_col("blob hash", r.try_get(2)?)?,
        sender: r.try_get(3)?,
        recipient: r.try_get(4)?,
        domain: r.try_get(5)?,
        status: recipient_status(r.try_get(6)?)?,
        attempts: u32::try_from(attempts).map_err(|_| StoreError::Corrupt(format!("queue attempts `{attempts}`")))?,
        next_attempt_at: r.try_get(8)?,
        expires_at: r.try_get(9)?,
        last_reply: r.try_get(10)?,
        dsn: RecipientDsn { notify: r.try_get(11)?, orcpt: r.try_get(12)? },
        message_dsn: Dsn { ret: r.try_get(13)?, envid: r.try_get(14)? },
    })
}

/// Stored text of the store's own enums; a value that does not read back is
/// reported as corrupt, never defaulted.
fn recipient_status(value: String) -> Result<RecipientStatus, StoreError> {
    match value.as_str() {
        "pending" => Ok(RecipientStatus::Pending),
        "delivered" => Ok(RecipientStatus::Delivered),
        "failed" => Ok(RecipientStatus::Failed),
        _ => Err(StoreError::Corrupt(format!("queue status `{value}`"))),
    }
}

fn whitelist_source(value: String) -> Result<WhitelistSource, StoreError> {
    match value.as_str() {
        "ans" => Ok(WhitelistSource::Ans),
        "manual" => Ok(WhitelistSource::Manual),
        _ => Err(StoreError::Corrupt(format!("whitelist source `{value}`"))),
    }
}

/// Whitelist rows, all or those of one domain, ANS first, in insertion order.
async fn whitelist_rows(client: &impl GenericClient, domain: Option<&str>) -> Result<Vec<WhitelistRow>, StoreError> {
    let stmt = client
        .prepare_cached(
            "SELECT domain, operator_dn, description, responsible_contact, support_contact, updated_at, source
             FROM whitelist_entries WHERE $1::TEXT IS NULL OR domain = $1 ORDER BY source, id",
        )
        .await?;
    client
        .query(&stmt, &[&domain])
        .await?
        .iter()
        .map(|r| {
            Ok(WhitelistRow {
                domain: r.try_get(0)?,
                operator_dn: r.try_get(1)?,
                description: r.try_get(2)?,
                responsible_contact: r.try_get(3)?,
                support_contact: r.try_get(4)?,
                updated_at: r.try_get(5)?,
                source: whitelist_source(r.try_get(6)?)?,
            })
        })
        .collect()
}

async fn insert_whitelist_row(tx: &Transaction<'_>, row: &WhitelistRow) -> Result<(), StoreError> {
    let stmt = tx
        .prepare_cached(
            "INSERT INTO whitelist_entries
                (domain, operator_dn, description, responsible_contact, support_contact, updated_at, source)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .await?;
    tx.execute(
        &stmt,
        &[
            &row.domain,
            &row.operator_dn,
            &row.description,
            &row.responsible_contact,
            &row.support_contact,
            &row.updated_at,
            &row.source.as_str(),
        ],
    )
    .await?;
    Ok(())
}

/// Whitelist writers take turns (nodes included): a check for an existing
/// row, or the replacement of every ANS row, then sees every row committed
/// before it. Readers are not held up.
async fn lock_whitelist(tx: &Transaction<'_>) -> Result<(), StoreError> {
    tx.batch_execute("LOCK TABLE whitelist_entries IN SHARE ROW EXCLUSIVE MODE").await?;
    Ok(())
}

/// Sets one recipient's delivery state (the latest wins).
async fn set_delivery(
    tx: &Transaction<'_>,
    blob: &str,
    recipient: &str,
    state: DeliveryState,
    reply: &str,
    at: i64,
) -> Result<(), StoreError> {
    let stmt = tx
        .prepare_cached(
            "INSERT INTO delivery_status (blob_hash, recipient, status, reply, updated_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (blob_hash, recipient) DO UPDATE
             SET status = excluded.status, reply = excluded.reply, updated_at = excluded.updated_at",
        )
        .await?;
    tx.execute(&stmt, &[&blob, &recipient.to_lowercase(), &state.as_str(), &reply, &at]).await?;
    Ok(())
}

#[async_trait]
impl MetadataStore for PgStore {
    async fn create_mailbox(&self, new: &NewMailbox) -> Result<Mailbox, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let id = insert_mailbox(&tx, new).await?;
        let mailbox = mailbox_by_id(&tx, id).await?;
        tx.commit().await?;
        Ok(mailbox)
    }

    async fn mailbox(&self, address: &EmailAddress) -> Result<Option<Mailbox>, StoreError> {
        let client = self.client().await?;
        let sql = format!("SELECT {MAILBOX_COLUMNS} FROM mailboxes WHERE address = $1");
        let stmt = client.prepare_cached(&sql).await?;
        client.query_opt(&stmt, &[&address.to_string()]).await?.map(|row| mailbox_row(&row, 0)).transpose()
    }

    async fn mailboxes(&self) -> Result<Vec<Mailbox>, StoreError> {
        mailboxes_filtered(&self.client().await?, "").await
    }

    async fn certificate_bound_mailboxes(&self) -> Result<Vec<Mailbox>, StoreError> {
        mailboxes_filtered(&self.client().await?, "WHERE certificate_dn IS NOT NULL").await
    }

    async fn grant_role(&self, mailbox: MailboxId, national_id: &NationalId, role: Role) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        // One statement: the mailbox is there or nothing is written
        // (mailboxes are never removed, only marked deleted).
        let written = tx
            .execute(
                "INSERT INTO mailbox_roles (mailbox_id, national_id, role, granted_at)
                 SELECT id, $2, $3, $4 FROM mailboxes WHERE id = $1
                 ON CONFLICT (mailbox_id, national_id) DO UPDATE SET role = excluded.role, granted_at = excluded.granted_at",
                &[&mailbox, &national_id.to_string(), &role.as_str(), &now_unix()],
            )
            .await?;
        if written == 0 {
            return Err(StoreError::NotFound(format!("mailbox {mailbox}")));
        }
        tx.commit().await?;
        Ok(())
    }

    async fn role_of(&self, mailbox: MailboxId, national_id: &NationalId) -> Result<Option<Role>, StoreError> {
        let client = self.client().await?;
        let stmt =
            client.prepare_cached("SELECT role FROM mailbox_roles WHERE mailbox_id = $1 AND national_id = $2").await?;
        let row = client.query_opt(&stmt, &[&mailbox, &national_id.to_string()]).await?;
        row.map(|r| parse_col("role", r.try_get(0)?)).transpose()
    }

    async fn mailboxes_of(&self, national_id: &NationalId) -> Result<Vec<Mailbox>, StoreError> {
        mailboxes_where(&self.client().await?, "national_id", &national_id.to_string()).await
    }

    async fn mailboxes_of_finess(&self, finess: &str) -> Result<Vec<Mailbox>, StoreError> {
        mailboxes_where(&self.client().await?, "finess", finess).await
    }

    async fn roles_on(&self, mailbox: MailboxId) -> Result<Vec<(NationalId, Role)>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT national_id, role FROM mailbox_roles WHERE mailbox_id = $1 ORDER BY national_id COLLATE \"C\"",
                &[&mailbox],
            )
            .await?;
        rows.iter().map(|r| Ok((parse_col("national id", r.try_get(0)?)?, parse_col("role", r.try_get(1)?)?))).collect()
    }

    async fn roles_of(&self, national_id: &NationalId) -> Result<Vec<(Mailbox, Role)>, StoreError> {
        let client = self.client().await?;
        let columns = MAILBOX_COLUMNS.split(", ").map(|c| format!("m.{c}")).collect::<Vec<_>>().join(", ");
        let sql = format!(
            "SELECT r.role, {columns} FROM mailbox_roles r JOIN mailboxes m ON m.id = r.mailbox_id
             WHERE r.national_id = $1 ORDER BY m.address COLLATE \"C\""
        );
        let rows = client.query(&sql, &[&national_id.to_string()]).await?;
        rows.iter().map(|r| Ok((mailbox_row(r, 1)?, parse_col("role", r.try_get(0)?)?))).collect()
    }

    async fn addresses_with_prefix(&self, prefix: &str, domain: &str) -> Result<Vec<String>, StoreError> {
        // starts_with()/right() rather than LIKE: local parts contain
        // `_`/`%`-free text, but an exact prefix test needs no escaping at all.
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT address FROM mailboxes
                 WHERE starts_with(address, $1::TEXT) AND right(address, length($2::TEXT) + 1) = '@' || $2::TEXT
                 ORDER BY address COLLATE \"C\"",
                &[&prefix, &domain],
            )
            .await?;
        Ok(rows.iter().map(|r| r.try_get(0)).collect::<Result<_, _>>()?)
    }

    async fn replace_ans_whitelist(&self, import: &WhitelistImport, rows: &[WhitelistRow]) -> Result<(), StoreError> {
        if rows.iter().any(|r| r.source != WhitelistSource::Ans) {
            return Err(StoreError::Invalid("an ANS import holds ANS rows only".into()));
        }
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        lock_whitelist(&tx).await?;
        tx.execute("DELETE FROM whitelist_entries WHERE source = 'ans'", &[]).await?;
        for row in rows {
            insert_whitelist_row(&tx, row).await?;
        }
        tx.execute(
            "INSERT INTO whitelist_imports (generated_at, sha256, entry_count, imported_at) VALUES ($1, $2, $3, $4)",
            &[&import.generated_at, &import.sha256, &import.entry_count, &import.imported_at],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn add_manual_whitelist_row(&self, row: &WhitelistRow) -> Result<(), StoreError> {
        if row.source != WhitelistSource::Manual {
            return Err(StoreError::Invalid("a manual addition must be a manual row".into()));
        }
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        lock_whitelist(&tx).await?;
        let exists: bool = tx
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM whitelist_entries
                                WHERE source = 'manual' AND domain = $1 AND operator_dn = $2)",
                &[&row.domain, &row.operator_dn],
            )
            .await?
            .try_get(0)?;
        if exists {
            return Err(StoreError::AlreadyPresent(format!("{} with DN {}", row.domain, row.operator_dn)));
        }
        insert_whitelist_row(&tx, row).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn remove_manual_whitelist_rows(&self, domain: &str, dn: Option<&str>) -> Result<usize, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let removed = tx
            .execute(
                "DELETE FROM whitelist_entries
                 WHERE source = 'manual' AND domain = $1 AND ($2::TEXT IS NULL OR operator_dn = $2)",
                &[&domain.to_ascii_lowercase(), &dn],
            )
            .await?;
        tx.commit().await?;
        usize::try_from(removed).map_err(|_| StoreError::Invalid("too many rows".into()))
    }

    async fn whitelist(&self) -> Result<Vec<WhitelistRow>, StoreError> {
        whitelist_rows(&self.client().await?, None).await
    }

    async fn whitelist_for_domain(&self, domain: &str) -> Result<Vec<WhitelistRow>, StoreError> {
        whitelist_rows(&self.client().await?, Some(&domain.to_ascii_lowercase())).await
    }

    async fn last_whitelist_import(&self) -> Result<Option<WhitelistImport>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT generated_at, sha256, entry_count, imported_at FROM whitelist_imports ORDER BY id DESC LIMIT 1",
                &[],
            )
            .await?;
        row.map(|r| {
            Ok(WhitelistImport {
                generated_at: r.try_get(0)?,
                sha256: r.try_get(1)?,
                entry_count: r.try_get(2)?,
                imported_at: r.try_get(3)?,
            })
        })
        .transpose()
    }

    async fn link_message(&self, message: NewMessage, placements: &[Placement]) -> Result<Delivery, StoreError> {
        let message = &message;
        retried(|| async move {
            let size = i64::try_from(message.size).map_err(|_| StoreError::Invalid("message size".into()))?;
            if let Some(facts) = &message.facts
                && facts.blob != message.blob
            {
                return Err(StoreError::Invalid("facts of another message".into()));
            }
            let blob = message.blob.to_hex();
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            if let Some(body) = &message.inline {
                link_inline_blob(&tx, &message.blob, body).await?;
            }
            // With it, whether the body had messages before (the statement
            // sees the table as it was): a new body has no rows facts update.
            let inserted = tx
                .query_one(
                    "WITH inserted AS (
                         INSERT INTO messages (blob_hash, size, received_at) VALUES ($1, $2, $3) RETURNING id
                     )
                     SELECT (SELECT id FROM inserted), EXISTS (SELECT 1 FROM messages WHERE blob_hash = $1)",
                    &[&blob, &size, &message.received_at],
                )
                .await?;
            let (message_id, earlier): (i64, bool) = (inserted.try_get(0)?, inserted.try_get(1)?);
            // Missing folders are made first, in one order whatever the
            // placements' order (they take the UIDVALIDITY counter, held
            // until the commit), before any folder is locked.
            let mut order: Vec<usize> = (0..placements.len()).collect();
            order.sort_by(|&a, &b| {
                let (a, b) = (&placements[a], &placements[b]);
                (a.mailbox, &a.folder).cmp(&(b.mailbox, &b.folder))
            });
            let lookup = tx.prepare_cached("SELECT id FROM folders WHERE mailbox_id = $1 AND name = $2").await?;
            let mut targets: Vec<(FolderId, usize)> = Vec::with_capacity(placements.len());
            for &i in &order {
                let Placement { mailbox, folder } = &placements[i];
                let mut found = tx.query_opt(&lookup, &[mailbox, folder]).await?;
                if found.is_none() && folder != INBOX {
                    tx.execute(
                        "INSERT INTO folders (mailbox_id, name, uidvalidity)
                         SELECT id, $2, $3 FROM mailboxes WHERE id = $1
                         ON CONFLICT (mailbox_id, name) DO NOTHING",
                        &[mailbox, folder, &i64::from(next_uidvalidity(&tx).await?)],
                    )
                    .await?;
                    found = tx.query_opt(&lookup, &[mailbox, folder]).await?;
                }
                let row = found.ok_or_else(|| StoreError::NotFound(format!("{folder} of mailbox {mailbox}")))?;
                targets.push((row.try_get(0)?, i));
            }
            // Then locked by id, the order of every writer of several
            // folders (copy and move lock the lower id first): a delivery
            // into several mailboxes never waits in a cycle with a copy
            // between two of them. The name is checked again: a folder
            // renamed meanwhile is not the one the placement names.
            targets.sort_unstable();
            let allocate = tx
                .prepare_cached(
                    "UPDATE folders SET uidnext = uidnext + 1, highest_modseq = highest_modseq + 1
                     WHERE id = $1 AND name = $2
                     RETURNING uidnext - 1, highest_modseq",
                )
                .await?;
            let link = tx
                .prepare_cached(
                    "INSERT INTO folder_messages (folder_id, uid, message_id, modseq, flags, system_flags)
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .await?;
            // With them, in the same order, the folders whose rows the
            // facts update (`folders_updated_by`).
            let mut touched = match &message.facts {
                Some(facts) if earlier => folders_updated_by(&tx, std::slice::from_ref(facts)).await?,
                _ => Vec::new(),
            };
            touched.retain(|id| targets.iter().all(|(target, _)| target != id));
            let mut touched = touched.into_iter().peekable();
            let mut allocated = Vec::with_capacity(targets.len());
            for (folder_id, i) in targets {
                let before: Vec<FolderId> = std::iter::from_fn(|| touched.next_if(|&id| id < folder_id)).collect();
                lock_folders_if_there(&tx, before).await?;
                let Placement { mailbox, folder } = &placements[i];
                // The row stays locked until the commit: UIDs are committed in
                // the order they are given.
                let found = tx.query_opt(&allocate, &[&folder_id, folder]).await?;
                let row = found.ok_or_else(|| StoreError::NotFound(format!("{folder} of mailbox {mailbox}")))?;
                let (uid, modseq): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
                let uid = u32::try_from(uid)
                    .ok()
                    .filter(|&uid| uid < u32::MAX)
                    .ok_or_else(|| StoreError::Invalid("UID space exhausted".into()))?;
                allocated.push((folder_id, i, uid, modseq));
            }
            lock_folders_if_there(&tx, touched).await?;
            // The facts once every folder is locked, the folders of the
            // body's earlier messages among them: their trigger updates those
            // rows (`message_facts_link`), so a delivery takes no row of a
            // folder before the folder's own lock, in id order, as copies and
            // moves do. The new rows, inserted next, read their sort keys
            // from the facts (`folder_messages_facts`): no second write.
            if let Some(facts) = &message.facts {
                super::facts::insert_facts(&tx, facts).await?;
            }
            let mut copies: Vec<Option<DeliveredCopy>> = vec![None; placements.len()];
            for (folder_id, i, uid, modseq) in allocated {
                let Placement { mailbox, folder } = &placements[i];
                // The sender's own copy is read already: Sent counts no unread.
                let (flags, bits) = if folder == SENT { ("\\Seen", 1_i64) } else { ("", 0) };
                tx.execute(&link, &[&folder_id, &i64::from(uid), &message_id, &modseq, &flags, &bits]).await?;
                copies[i] = Some(DeliveredCopy { mailbox: *mailbox, folder: folder.clone(), uid });
            }
            tx.commit().await?;
            let copies: Vec<DeliveredCopy> = copies.into_iter().flatten().collect();
            for copy in &copies {
                self.notify(copy.mailbox);
            }
            Ok(Delivery { blob: message.blob, copies })
        })
        .await
    }

    async fn folder_messages(&self, mailbox: MailboxId, folder: &str) -> Result<Vec<FolderMessage>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT fm.uid, m.blob_hash, m.size, m.received_at
                 FROM folder_messages fm
                 JOIN folders f ON f.id = fm.folder_id
                 JOIN messages m ON m.id = fm.message_id
                 WHERE f.mailbox_id = $1 AND f.name = $2
                 ORDER BY fm.uid",
                &[&mailbox, &folder],
            )
            .await?;
        rows.iter()
            .map(|r| {
                let (uid, size): (i64, i64) = (r.try_get(0)?, r.try_get(2)?);
                Ok(FolderMessage {
                    uid: u32::try_from(uid).map_err(|_| StoreError::Corrupt(format!("uid `{uid}`")))?,
                    blob: parse_col("blob hash", r.try_get(1)?)?,
                    size: u64::try_from(size).map_err(|_| StoreError::Corrupt(format!("message size `{size}`")))?,
                    received_at: r.try_get(3)?,
                })
            })
            .collect()
    }

    async fn referenced_blobs(&self) -> Result<Vec<BlobHash>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query("SELECT blob_hash FROM messages UNION SELECT blob_hash FROM queue_messages ORDER BY blob_hash", &[])
            .await?;
        rows.iter().map(|r| parse_col("blob hash", r.try_get(0)?)).collect()
    }

    async fn enqueue(&self, message: &NewQueued) -> Result<QueueId, StoreError> {
        if message.recipients.is_empty() {
            return Err(StoreError::Invalid("a queued message needs at least one recipient".into()));
        }
        let size = i64::try_from(message.size).map_err(|_| StoreError::Invalid("message size".into()))?;
        let blob = message.blob.to_hex();
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let now = now_unix();
        let id: QueueId = tx
            .query_one(
                "INSERT INTO queue_messages (blob_hash, size, sender, created_at, expires_at, dsn_ret, dsn_envid)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
                &[&blob, &size, &message.sender, &now, &message.expires_at, &message.dsn.ret, &message.dsn.envid],
            )
            .await?
            .try_get(0)?;
        let insert = tx
            .prepare_cached(
                "INSERT INTO queue_recipients (message_id, recipient, domain, status, next_attempt_at, updated_at,
                                               notify, orcpt)
                 VALUES ($1, $2, $3, 'pending', $4, $4, $5, $6)",
            )
            .await?;
        for (i, recipient) in message.recipients.iter().enumerate() {
            let dsn = message.recipient_dsn.get(i).cloned().unwrap_or_default();
            let address = recipient.to_string();
            tx.execute(&insert, &[&id, &address, &recipient.domain().as_str(), &now, &dsn.notify, &dsn.orcpt]).await?;
            set_delivery(&tx, &blob, &address, DeliveryState::Queued, "", now).await?;
        }
        tx.commit().await?;
        Ok(id)
    }

    async fn claim_due_recipients(
        &self,
        now: i64,
        until: i64,
        limit: usize,
    ) -> Result<Vec<QueuedRecipient>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        // SKIP LOCKED: rows another node is claiming (or whose attempt is
        // being recorded) right now are left to it, not waited for; once
        // claimed they are no longer due, so no other node is given them.
        let claimed: Vec<i64> = tx
            .query(
                "UPDATE queue_recipients SET next_attempt_at = $3 WHERE id IN (
                     SELECT id FROM queue_recipients WHERE status = 'pending' AND next_attempt_at <= $1
                     ORDER BY next_attempt_at, id LIMIT $2 FOR UPDATE SKIP LOCKED)
                 RETURNING id",
                &[&now, &limit, &until],
            )
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let due = queued_rows(&tx, "WHERE r.id = ANY($1) ORDER BY r.id", &[&claimed]).await?;
        tx.commit().await?;
        Ok(due)
    }

    async fn record_attempt(&self, recipient: i64, outcome: &AttemptOutcome) -> Result<bool, StoreError> {
        let now = now_unix();
        let (status, reply, next) = match outcome {
            AttemptOutcome::Delivered { reply } => ("delivered", reply, now),
            AttemptOutcome::Deferred { reply, retry_at } => ("pending", reply, *retry_at),
            AttemptOutcome::Failed { reply } => ("failed", reply, now),
        };
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        // The message row is locked first (as its deletion does): attempts on
        // recipients of one message take turns, so the last one to become
        // final sees the others final and removes the message.
        let found = tx
            .query_opt(
                "SELECT r.message_id, r.recipient, m.blob_hash FROM queue_recipients r
                 JOIN queue_messages m ON m.id = r.message_id WHERE r.id = $1
                 FOR UPDATE OF m",
                &[&recipient],
            )
            .await?;
        let Some(found) = found else {
            return Ok(false);
        };
        let (message, address, blob): (i64, String, String) = (found.try_get(0)?, found.try_get(1)?, found.try_get(2)?);
        let changed = tx
            .execute(
                "UPDATE queue_recipients
                 SET status = $2, last_reply = $3, next_attempt_at = $4, attempts = attempts + 1, updated_at = $5
                 WHERE id = $1 AND status = 'pending'",
                &[&recipient, &status, reply, &next, &now],
            )
            .await?;
        if changed == 1 {
            let state = match outcome {
                AttemptOutcome::Delivered { .. } => DeliveryState::Accepted,
                AttemptOutcome::Deferred { .. } => DeliveryState::Queued,
                AttemptOutcome::Failed { .. } => DeliveryState::Failed,
            };
            set_delivery(&tx, &blob, &address, state, reply, now).await?;
        }
        // A message whose every recipient is final leaves the queue.
        tx.execute(
            "DELETE FROM queue_messages WHERE id = $1
               AND NOT EXISTS (SELECT 1 FROM queue_recipients WHERE message_id = $1 AND status = 'pending')",
            &[&message],
        )
        .await?;
        tx.commit().await?;
        Ok(changed == 1)
    }

    async fn record_local_delivery(&self, blob: &BlobHash, recipients: &[String]) -> Result<(), StoreError> {
        let blob = blob.to_hex();
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let now = now_unix();
        for recipient in recipients {
            set_delivery(&tx, &blob, recipient, DeliveryState::Delivered, "", now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn delivery_status(&self, blob: &BlobHash) -> Result<Vec<DeliveryStatus>, StoreError> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(
                "SELECT recipient, status, reply, updated_at FROM delivery_status WHERE blob_hash = $1
                 ORDER BY recipient COLLATE \"C\"",
            )
            .await?;
        let rows = client.query(&stmt, &[&blob.to_hex()]).await?;
        rows.iter()
            .map(|r| {
                let status: String = r.try_get(1)?;
                Ok(DeliveryStatus {
                    recipient: r.try_get(0)?,
                    state: DeliveryState::parse(&status).unwrap_or(DeliveryState::Queued),
                    reply: r.try_get(2)?,
                    updated_at: r.try_get(3)?,
                })
            })
            .collect()
    }

    async fn queue(&self) -> Result<Vec<QueuedRecipient>, StoreError> {
        queued_rows(&self.client().await?, "ORDER BY m.id, r.id", &[]).await
    }

    async fn retry_now(&self, message: QueueId) -> Result<bool, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let changed = tx
            .execute(
                "UPDATE queue_recipients SET next_attempt_at = $2, updated_at = $2
                 WHERE message_id = $1 AND status = 'pending'",
                &[&message, &now_unix()],
            )
            .await?;
        tx.commit().await?;
        Ok(changed > 0)
    }

    async fn delete_queued(&self, message: QueueId) -> Result<bool, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let deleted = tx.execute("DELETE FROM queue_messages WHERE id = $1", &[&message]).await?;
        tx.commit().await?;
        Ok(deleted == 1)
    }
}
