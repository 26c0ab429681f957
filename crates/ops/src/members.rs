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

#[cfg(test)]
mod tests {
    use mss_core::MailboxKind;

    use super::*;
    use crate::mailboxes::{CreationForm, Requester, request};
    use crate::testing::{domain, store};

    /// A pharmacy requested by its titulaire (its Administrateur).
    async fn pharmacy(store: &Store, titulaire: &NationalId) -> Mailbox {
        let finess = vec!["750000002".to_string()];
        let form = CreationForm {
            finess: Some("750000002".into()),
            name: Some("Pharmacie du Centre".into()),
            service: Some("Officine".into()),
            ..CreationForm::new(MailboxKind::Organisational)
        };
        let requester = Requester { national_id: titulaire, finess: &finess };
        request(store, &domain(), requester, &form, ("v1", Some("v1")), 0).await.unwrap().0
    }

    fn filter() -> AuditFilter {
        AuditFilter {
            targets: Vec::new(),
            action_prefix: Some("role.".into()),
            since: None,
            before_id: None,
            limit: 10,
        }
    }

    #[tokio::test]
    async fn a_gestionnaire_manages_utilisateurs_only_and_every_change_is_audited() {
        let (store, _dir) = store().await;
        let titulaire: NationalId = "810003621892".parse().unwrap();
        let assistant: NationalId = "810000013994".parse().unwrap();
        let intern: NationalId = "810009999995".parse().unwrap();
        let mailbox = pharmacy(&store, &titulaire).await;
        let address = &mailbox.address;
        change(&store, &titulaire, address, &assistant, Some(Role::Gestionnaire)).await.unwrap();
        change(&store, &assistant, address, &intern, Some(Role::Utilisateur)).await.unwrap();
        let refused = change(&store, &assistant, address, &titulaire, None).await.unwrap_err();
        assert!(matches!(refused, OpsError::Refused(Refusal::GestionnaireLimit)), "{refused}");
        let last = change(&store, &titulaire, address, &titulaire, None).await.unwrap_err();
        assert!(matches!(last, OpsError::Invalid(_)), "the last Administrateur stays: {last}");
        let nobody = change(&store, &titulaire, address, &"810001234565".parse().unwrap(), None).await;
        assert!(matches!(nobody, Err(OpsError::Refused(Refusal::NotMember))));

        let (_, roles) = managed(&store, &assistant, address).await.unwrap();
        assert_eq!(roles, Role::Gestionnaire);
        let not_a_manager = managed(&store, &intern, address).await.unwrap_err();
        assert!(matches!(not_a_manager, OpsError::Refused(Refusal::NotManager)));

        let not_auditor = trail(&store, &assistant, address, filter()).await.unwrap_err();
        assert!(matches!(not_auditor, OpsError::Refused(Refusal::NotAuditor)));
        let (_, entries) = trail(&store, &titulaire, address, filter()).await.unwrap();
        let results: Vec<&str> = entries.iter().map(|e| e.entry.result.as_str()).collect();
        assert_eq!(results.len(), 5, "{results:?}");
        assert_eq!(results.iter().filter(|r| **r == "ok").count(), 2, "{results:?}");
    }
}
