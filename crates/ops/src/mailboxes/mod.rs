//! Mailboxes: created by the operator (active at once) or requested by a
//! person (pending the ANS), their state changes, liste rouge and roles,
//! who may see them, and the one shape they are shown in.
//!
//! Every change the directory shows (creation, suspension, resumption,
//! deletion, liste rouge) queues its publication in the outbox in the same
//! transaction as the change itself.

mod access;
mod draft;
mod request;
mod view;

use mss_core::{Domain, EmailAddress, MailboxState, NationalId, Role};
use mss_store::{Mailbox, MailboxDraft, NewAuditEntry, NewPublication, PublicationKind, Store, create_at_free_address};

pub use access::{access, visible};
pub use draft::{CreationForm, DraftError, Field, validate};
pub use request::{Plan, Requester, plan, preview, request};
pub use view::{MailboxView, Status};

use crate::OpsError;

/// The mailbox at `address`.
pub async fn find(store: &Store, address: &EmailAddress) -> Result<Mailbox, OpsError> {
    store.meta.mailbox(address).await?.ok_or_else(|| OpsError::NoMailbox(address.to_string()))
}

/// Creates `draft` at the first free address of `domain`, active at once
/// and queued for publication: the operator's administrator vouches for it.
pub async fn create(store: &Store, domain: &Domain, draft: &MailboxDraft) -> Result<Mailbox, OpsError> {
    let meta = store.meta.clone();
    let created = create_at_free_address(store.meta.as_ref(), &draft.base_local, domain, |address| {
        let (meta, new) = (meta.clone(), draft.at(address, MailboxState::Active));
        async move { meta.create_published_mailbox(&new).await }
    })
    .await?;
    Ok(created)
}

/// A state change the operator's administrator asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// An active mailbox stops receiving and serving mail.
    Suspend,
    /// A suspended mailbox is active again.
    Resume,
    /// The mailbox goes (emptied after its retention).
    Delete,
}

impl Change {
    /// The state the mailbox is in afterwards.
    pub fn to(self) -> MailboxState {
        match self {
            Change::Suspend => MailboxState::Suspended,
            Change::Resume => MailboxState::Active,
            Change::Delete => MailboxState::Deleted,
        }
    }

    fn starts_from(self, state: MailboxState) -> bool {
        let expected = match self {
            Change::Suspend => state == MailboxState::Active,
            Change::Resume => state == MailboxState::Suspended,
            Change::Delete => true,
        };
        expected && state.can_become(self.to())
    }
}

/// Applies `change` to the mailbox at `address`: the publication the
/// directory needs is queued with it, the holder's sessions end when the
/// mailbox stops being usable, and `actor`'s change is audited. Returns the
/// new state.
pub async fn transition(
    store: &Store,
    actor: &str,
    address: &EmailAddress,
    change: Change,
    reason: Option<&str>,
) -> Result<MailboxState, OpsError> {
    let mailbox = find(store, address).await?;
    let (from, to) = (mailbox.state, change.to());
    if !change.starts_from(from) {
        return Err(OpsError::State { address: address.to_string(), state: from, to });
    }
    let publication = PublicationKind::for_transition(from, to).map(NewPublication::queued);
    if !store.meta.change_state_published(mailbox.id, from, to, reason, publication).await? {
        return Err(OpsError::Raced(address.to_string()));
    }
    if to != MailboxState::Active
        && let Some(holder) = &mailbox.national_id
    {
        store.meta.revoke_sessions_of(holder, mss_store::now_unix()).await?;
    }
    let entry = NewAuditEntry::now(actor, &format!("mailbox.{to}"), address.to_string(), "ok", reason.unwrap_or(""));
    store.audit.record(entry).await;
    store.audit.flush().await;
    Ok(to)
}

/// Puts the mailbox on the liste rouge (`on`) or takes it off; a change is
/// published and audited.
pub async fn set_liste_rouge(store: &Store, actor: &str, address: &EmailAddress, on: bool) -> Result<(), OpsError> {
    let mailbox = find(store, address).await?;
    if store.meta.set_liste_rouge(mailbox.id, on).await? {
        let value = if on { "on" } else { "off" };
        let entry = NewAuditEntry::now(actor, "mailbox.liste_rouge", address.to_string(), "ok", value);
        store.audit.record(entry).await;
        store.audit.flush().await;
    }
    Ok(())
}

/// Asks the ANS about a pending mailbox now rather than at its due time
/// (the running server's validation worker does it).
pub async fn validate_now(store: &Store, address: &EmailAddress) -> Result<(), OpsError> {
    let mailbox = find(store, address).await?;
    if mailbox.state != MailboxState::Pending {
        return Err(OpsError::NotPending { address: address.to_string(), state: mailbox.state });
    }
    store.meta.postpone_validation(mailbox.id, mss_store::now_unix()).await?;
    Ok(())
}

/// Gives `national_id` the role `role` on the mailbox at `address`, by the
/// operator's administrator (`actor`); audited as members' own changes are.
pub async fn grant(
    store: &Store,
    actor: &str,
    address: &EmailAddress,
    national_id: &NationalId,
    role: Role,
) -> Result<(), OpsError> {
    let mailbox = find(store, address).await?;
    store.meta.grant_role(mailbox.id, national_id, role).await?;
    let detail = format!("member={national_id} role={}", role.as_str());
    store.audit.record(NewAuditEntry::now(actor, "role.set", address.to_string(), "ok", detail)).await;
    store.audit.flush().await;
    Ok(())
}

#[cfg(test)]
mod tests;
