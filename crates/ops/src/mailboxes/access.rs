//! Which mailboxes a person may see, and their relation to each (what the
//! relation allows is `mss_core::rights`).

use mss_core::{EmailAddress, NationalId, Relation, Role};
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
    match store.meta.relation_to(&mailbox, person).await? {
        Some(relation) => Ok((mailbox, relation)),
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
    let relations = store.meta.relations_of(person).await?;
    Ok(relations.into_iter().map(|(m, relation)| (m, relation.role())).collect())
}
