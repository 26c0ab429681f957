//! A mailbox requested by a person through the identity flow (API and
//! portal): PER from their own identity, ORG by someone attached to the
//! structure (who becomes its Administrateur), APP by an Administrateur of
//! an organisational mailbox of the structure. The request needs the CGU in
//! force accepted, and leaves the mailbox pending until the ANS validates
//! it.

use mss_core::{Domain, EmailAddress, MailboxKind, MailboxState, NationalId, Role};
use mss_store::{CguAcceptance, Mailbox, MailboxDraft, MailboxRequest, NewAuditEntry, Store, now_unix};

use super::draft::{CreationForm, DraftError, Field, validate};
use crate::OpsError;
use crate::error::Refusal;

/// Who asks for a mailbox, as their identity proves them.
#[derive(Debug, Clone, Copy)]
pub struct Requester<'a> {
    pub national_id: &'a NationalId,
    /// FINESS of the structures they work in.
    pub finess: &'a [String],
}

/// A request checked and allowed: the mailbox to create, and who becomes
/// its Administrateur.
#[derive(Debug, Clone)]
pub struct Plan {
    pub draft: MailboxDraft,
    pub administrator: Option<NationalId>,
}

/// Checks `form` and whether `requester` may ask for it; nothing is written.
pub async fn plan(store: &Store, requester: Requester<'_>, form: &CreationForm) -> Result<Plan, OpsError> {
    if form.kind == MailboxKind::Cabinet {
        return Err(OpsError::Refused(Refusal::CabinetByOperator));
    }
    let draft = validate(form)?;
    let mut administrator = None;
    match draft.kind {
        MailboxKind::Personal => {
            let held = store.meta.mailboxes_of(requester.national_id).await?;
            if held.iter().any(|m| m.kind == MailboxKind::Personal && m.state != MailboxState::Deleted) {
                return Err(OpsError::Refused(Refusal::PersonalHeld));
            }
        }
        MailboxKind::Organisational => {
            let finess = draft.finess.as_ref().map(|f| f.as_str()).unwrap_or_default();
            if !requester.finess.iter().any(|f| f == finess) {
                return Err(OpsError::Refused(Refusal::NotAttached(finess.to_string())));
            }
            administrator = Some(requester.national_id.clone());
        }
        _applicative => {
            if draft.certificate_dn.is_none() {
                return Err(DraftError::Missing { field: Field::CertificateDn, kind: draft.kind }.into());
            }
            let administers = store.meta.roles_of(requester.national_id).await?.into_iter().any(|(m, role)| {
                role == Role::Administrateur
                    && m.kind == MailboxKind::Organisational
                    && m.state == MailboxState::Active
                    && m.finess == draft.finess
            });
            if !administers {
                return Err(OpsError::Refused(Refusal::NotAdministrator));
            }
        }
    }
    Ok(Plan { draft, administrator })
}

/// The address `plan` would get now; nothing is created.
pub async fn preview(store: &Store, domain: &Domain, plan: &Plan) -> Result<EmailAddress, OpsError> {
    Ok(mss_store::free_address(store.meta.as_ref(), &plan.draft.base_local, domain).await?)
}

/// Requests the mailbox of `form` for `requester`, once they accepted the
/// CGU in force (`cgu_in_force`; `accepted`: the version they accepted).
/// The acceptance is recorded with the mailbox, pending the ANS until
/// `validation_due_at`; the outcome is audited either way. The requester's
/// role on the mailbox comes back with it (Administrateur of an ORG).
pub async fn request(
    store: &Store,
    domain: &Domain,
    requester: Requester<'_>,
    form: &CreationForm,
    (cgu_in_force, accepted): (&str, Option<&str>),
    validation_due_at: i64,
) -> Result<(Mailbox, Option<Role>), OpsError> {
    let actor = requester.national_id.to_string();
    let outcome = async {
        if accepted != Some(cgu_in_force) {
            return Err(OpsError::Cgu(cgu_in_force.to_string()));
        }
        let plan = plan(store, requester, form).await?;
        let cgu = CguAcceptance {
            national_id: requester.national_id.clone(),
            version: cgu_in_force.to_string(),
            accepted_at: now_unix(),
        };
        let meta = store.meta.clone();
        let mailbox =
            mss_store::create_at_free_address(store.meta.as_ref(), &plan.draft.base_local, domain, |address| {
                let request = MailboxRequest {
                    mailbox: plan.draft.at(address, MailboxState::Pending),
                    cgu: cgu.clone(),
                    administrator: plan.administrator.clone(),
                    validation_due_at,
                };
                let meta = meta.clone();
                async move { meta.request_mailbox(&request).await }
            })
            .await?;
        Ok((mailbox, plan.administrator.map(|_| Role::Administrateur)))
    }
    .await;
    let entry = match &outcome {
        Ok((mailbox, _)) => {
            let detail = format!("type={} cgu={cgu_in_force}", mailbox.kind.code());
            NewAuditEntry::now(actor, "mailbox.request", mailbox.address.to_string(), "ok", detail)
        }
        Err(OpsError::Store(_)) => return outcome,
        Err(e) => NewAuditEntry::now(actor, "mailbox.request", form.kind.code(), format!("refused: {e}"), ""),
    };
    store.audit.record(entry).await;
    outcome
}
