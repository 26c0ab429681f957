//! Delegation on an organisational mailbox: who may manage its members, and
//! the change of one member's role. `mss_core::may_delegate` decides (a
//! Gestionnaire manages Utilisateurs only); the store keeps the last
//! Administrateur. Changes take effect at once on open IMAP sessions, which
//! read roles at each command.

use mss_core::{EmailAddress, MailboxKind, NationalId, Relation, Role, may_delegate};
use mss_store::{AuditEntry, AuditFilter, Mailbox, NewAuditEntry, Store};

use crate::OpsError;
use crate::error::Refusal;
use crate::mailboxes::access;

/// The mailbox at `address`, if organisational and `person` may manage its
/// members (Administrateur or Gestionnaire); with their role.
pub async fn managed(store: &Store, person: &NationalId, address: &EmailAddress) -> Result<(Mailbox, Role), OpsError> {
    let (mailbox, relation) = access(store, person, address).await?;
    if mailbox.kind != MailboxKind::Organisational {
        return Err(OpsError::Refused(Refusal::NotOrganisational));
    }
    match relation.role() {
        Some(role @ (Role::Administrateur | Role::Gestionnaire)) => Ok((mailbox, role)),
        _ => Err(OpsError::Refused(Refusal::NotManager)),
    }
}

/// Gives `member` the role `next` on the mailbox at `address` (`None`:
/// removes them), if `person` may; audited either way.
pub async fn change(
    store: &Store,
    person: &NationalId,
    address: &EmailAddress,
    member: &NationalId,
    next: Option<Role>,
) -> Result<(), OpsError> {
    let outcome = async {
        let (mailbox, actor) = managed(store, person, address).await?;
        let current = store.meta.role_of(mailbox.id, member).await?;
        if current.is_none() && next.is_none() {
            return Err(OpsError::Refused(Refusal::NotMember));
        }
        if !may_delegate(Some(actor), current, next) {
            return Err(OpsError::Refused(Refusal::GestionnaireLimit));
        }
        Ok(store.meta.set_role(mailbox.id, member, next).await?)
    }
    .await;
    let action = if next.is_some() { "role.set" } else { "role.remove" };
    let detail = format!("member={member} role={}", next.map_or("none", Role::as_str));
    let result = match &outcome {
        Ok(()) => "ok".to_string(),
        Err(e) => format!("refused: {e}"),
    };
    store.audit.record(NewAuditEntry::now(person.to_string(), action, address.to_string(), result, detail)).await;
    outcome
}

/// The audit entries of the mailbox at `address` that `filter` selects (its
/// targets are set here), if `person` may read its trail: its holder or an
/// Administrateur.
pub async fn trail(
    store: &Store,
    person: &NationalId,
    address: &EmailAddress,
    filter: AuditFilter,
) -> Result<(Mailbox, Vec<AuditEntry>), OpsError> {
    let (mailbox, relation) = access(store, person, address).await?;
    if !matches!(relation, Relation::Holder | Relation::Member(Role::Administrateur)) {
        return Err(OpsError::Refused(Refusal::NotAuditor));
    }
    let filter = AuditFilter { targets: vec![mailbox.address.to_string()], ..filter };
    store.audit.flush().await;
    let entries = store.meta.audit_entries(&filter).await?;
    Ok((mailbox, entries))
}
