//! Which mailboxes a person may see, and their relation to each (what the
//! relation allows is `mss_core::rights`).

use mss_core::{EmailAddress, MailboxKind, NationalId, Relation, Role};
use mss_store::{Mailbox, NewAuditEntry, Store};

use crate::OpsError;

/// The mailbox at `address` and `person`'s relation to it, if they hold it
/// or a role on it. Otherwise [`OpsError::NoMailbox`] (others' mailboxes
/// are not revealed), and the refusal is audited.
pub async fn access(
    store: &Store,
    person: &NationalId,
    address: &EmailAddress,
) -> Result<(Mailbox, Relation), OpsError> {
    let mailbox = store.meta.mailbox(address).await?.ok_or_else(|| OpsError::NoMailbox(address.to_string()))?;
    if mailbox.kind == MailboxKind::Personal && mailbox.national_id.as_ref() == Some(person) {
        return Ok((mailbox, Relation::Holder));
    }
    match store.meta.role_of(mailbox.id, person).await? {
        Some(role) => Ok((mailbox, Relation::Member(role))),
        None => {
            let entry =
                NewAuditEntry::now(person.to_string(), "mailbox.read", address.to_string(), "refused: no access", "");
            store.audit.record(entry).await;
            Err(OpsError::NoMailbox(address.to_string()))
        }
    }
}

/// `person`'s own personal mailboxes and those they hold a role on.
pub async fn visible(store: &Store, person: &NationalId) -> Result<Vec<(Mailbox, Option<Role>)>, OpsError> {
    let own = store.meta.mailboxes_of(person).await?.into_iter().filter(|m| m.kind == MailboxKind::Personal);
    let mut out: Vec<(Mailbox, Option<Role>)> = own.map(|m| (m, None)).collect();
    out.extend(store.meta.roles_of(person).await?.into_iter().map(|(m, role)| (m, Some(role))));
    Ok(out)
}
