//! Creating mailboxes through the identity flow, and reading them.
//!
//! - PER: from the authenticated person's identity only (`prenom.nom@`).
//! - ORG: by a person attached to the structure (its FINESS is in their
//!   PSC/CPS data); `pharmacie-nom-codepostal-ville@` or a service name; the
//!   creator becomes its Administrateur (the titulaire).
//! - APP: by an Administrateur of an organisational mailbox of the
//!   structure; bound to an organisation certificate (SASL EXTERNAL).
//!
//! A preview returns what will be published and the CGU to accept; the
//! creation needs that acceptance, records it, and leaves the mailbox
//! pending until the ANS validates it.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use mss_core::{
    AddressError, EmailAddress, Finess, MailboxKind, MailboxState, NationalId, Relation, Role, application_local_part,
    personal_local_part, pharmacy_local_part, service_local_part,
};
use mss_store::{CguAcceptance, Mailbox, MailboxDraft, MailboxRequest, NewAuditEntry, StoreError, now_unix};
use mss_trust::DistinguishedName;
use serde::Deserialize;

use super::Caller;
use super::body::Body;
use crate::{Problem, Web};

/// What the person sees once the mailbox is requested (the seed's words).
pub const PENDING_MESSAGE: &str = "Félicitations ! La boîte est en cours de création. Elle sera disponible sous 24h, \
     le temps que l'ANS valide les informations transmises et finalise la mise à jour de l'annuaire.";

/// A creation or preview request (the API's JSON body; the portal's
/// wizard fills the same).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRequest {
    #[serde(rename = "type")]
    pub(crate) kind: String,
    pub(crate) finess: Option<String>,
    pub(crate) name: Option<String>,
    #[serde(default)]
    pub(crate) pharmacy: bool,
    pub(crate) postal_code: Option<String>,
    pub(crate) city: Option<String>,
    pub(crate) service: Option<String>,
    pub(crate) certificate_dn: Option<String>,
    #[serde(default)]
    pub(crate) liste_rouge: bool,
    pub(crate) cgu_version: Option<String>,
    #[serde(default)]
    pub(crate) cgu_accepted: bool,
}

/// A validated request: the mailbox to create, and who becomes its
/// Administrateur.
struct Plan {
    draft: MailboxDraft,
    administrator: Option<NationalId>,
}

fn naming(e: AddressError) -> Problem {
    Problem::invalid(format!("Nom impossible à utiliser pour l'adresse : {e}"))
}

fn required<'a>(field: &'static str, value: &'a Option<String>) -> Result<&'a str, Problem> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| Problem::invalid(format!("Le champ « {field} » est requis.")).on(field))
}

async fn plan(web: &Web, caller: &Caller, request: &CreateRequest) -> Result<Plan, Problem> {
    let person = &caller.0.person;
    let kind: MailboxKind =
        request.kind.parse().map_err(|_| Problem::invalid("Type de boîte inconnu : PER, ORG ou APP.").on("type"))?;
    let finess = request
        .finess
        .as_deref()
        .map(|f| f.parse::<Finess>().map_err(|e| Problem::invalid(format!("FINESS invalide : {e}")).on("finess")))
        .transpose()?;
    let mut mailbox =
        MailboxDraft { finess: finess.clone(), liste_rouge: request.liste_rouge, ..MailboxDraft::new(kind) };
    let mut administrator = None;
    let base_local = match kind {
        MailboxKind::Personal => {
            let held = web.store.meta.mailboxes_of(&person.national_id).await?;
            if held.iter().any(|m| m.kind == MailboxKind::Personal && m.state != MailboxState::Deleted) {
                return Err(Problem::conflict("Vous avez déjà une boîte personnelle."));
            }
            mailbox.national_id = Some(person.national_id.clone());
            mailbox.first_name = Some(person.first_name.clone());
            mailbox.last_name = Some(person.last_name.clone());
            mailbox.display_name = person.display_name();
            personal_local_part(&person.first_name, &person.last_name).map_err(naming)?
        }
        MailboxKind::Organisational => {
            let finess = finess.ok_or_else(|| Problem::invalid("Le champ « finess » est requis.").on("finess"))?;
            if !person.finess.iter().any(|f| f == finess.as_str()) {
                return Err(Problem::forbidden(format!(
                    "Vous n'êtes pas rattaché à la structure FINESS {} dans votre identité.",
                    finess.as_str()
                ))
                .on("finess"));
            }
            let name = required("name", &request.name)?;
            mailbox.display_name = name.to_string();
            administrator = Some(person.national_id.clone());
            if request.pharmacy {
                pharmacy_local_part(
                    name,
                    required("postal_code", &request.postal_code)?,
                    required("city", &request.city)?,
                )
                .map_err(|e| naming(e).on("name"))?
            } else {
                let service = required("service", &request.service)?;
                mailbox.service = Some(service.to_string());
                service_local_part(service).map_err(|e| naming(e).on("service"))?
            }
        }
        MailboxKind::Applicative => {
            let finess = finess.ok_or_else(|| Problem::invalid("Le champ « finess » est requis.").on("finess"))?;
            let administers = web.store.meta.roles_of(&person.national_id).await?.into_iter().any(|(m, role)| {
                role == Role::Administrateur
                    && m.kind == MailboxKind::Organisational
                    && m.state == MailboxState::Active
                    && m.finess.as_ref() == Some(&finess)
            });
            if !administers {
                return Err(Problem::forbidden(
                    "Seul un Administrateur d'une boîte organisationnelle active de la structure crée une boîte applicative.",
                ));
            }
            let dn = required("certificate_dn", &request.certificate_dn)?;
            let dn: DistinguishedName =
                dn.parse().map_err(|e| Problem::invalid(format!("DN du certificat invalide : {e}")))?;
            mailbox.certificate_dn = Some(dn.to_string());
            let name = required("name", &request.name)?;
            mailbox.display_name = name.to_string();
            application_local_part(name).map_err(|e| naming(e).on("name"))?
        }
        MailboxKind::Cabinet => return Err(Problem::invalid("Les boîtes de cabinet se créent par l'opérateur.")),
    };
    mailbox.base_local = base_local;
    Ok(Plan { draft: mailbox, administrator })
}

/// The address the request would get, and the mailbox it describes; nothing
/// is created.
pub(crate) async fn preview_address(
    web: &Web,
    caller: &Caller,
    request: &CreateRequest,
) -> Result<(EmailAddress, MailboxDraft), Problem> {
    let plan = plan(web, caller, request).await?;
    match mss_store::free_address(web.store.meta.as_ref(), &plan.draft.base_local, &web.domain).await {
        Ok(address) => Ok((address, plan.draft)),
        Err(StoreError::Invalid(why)) => Err(Problem::invalid(why)),
        Err(e) => Err(Problem::unavailable(e)),
    }
}

/// What will be published, before anything is created.
pub async fn preview(
    State(web): State<Arc<Web>>,
    caller: Caller,
    Body(request): Body<CreateRequest>,
) -> Result<Json<serde_json::Value>, Problem> {
    let (address, m) = preview_address(&web, &caller, &request).await?;
    Ok(Json(serde_json::json!({
        "address": address.to_string(),
        "type": m.kind.code(),
        "display_name": m.display_name,
        "national_id": m.national_id.as_ref().map(|n| n.to_string()),
        "finess": m.finess.as_ref().map(|f| f.as_str()),
        "service": m.service,
        "liste_rouge": m.liste_rouge,
        "certificate_dn": m.certificate_dn,
        "cgu": { "version": web.cgu.version, "url": web.cgu.url },
    })))
}

/// Creates the mailbox, pending the ANS validation.
pub async fn create(
    State(web): State<Arc<Web>>,
    caller: Caller,
    Body(request): Body<CreateRequest>,
) -> Result<Response, Problem> {
    let (mailbox, role) = request_mailbox(&web, &caller, &request).await?;
    let mut body = mailbox_json(&mailbox, role);
    body["message"] = PENDING_MESSAGE.into();
    let location = format!("/api/mailboxes/{}", mailbox.address);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(body)).into_response())
}

/// Requests the mailbox (pending the ANS validation) once the CGU in force
/// are accepted; records the acceptance and audits the outcome. The
/// creator's role on it comes back with it (Administrateur of an ORG).
pub(crate) async fn request_mailbox(
    web: &Web,
    caller: &Caller,
    request: &CreateRequest,
) -> Result<(Mailbox, Option<Role>), Problem> {
    let refuse = async |problem: Problem| {
        let entry = NewAuditEntry::now(
            caller.actor(),
            "mailbox.request",
            &request.kind,
            format!("refused: {}", problem.detail),
            "",
        );
        web.store.audit.record(entry).await;
        problem
    };
    if !request.cgu_accepted || request.cgu_version.as_deref() != Some(web.cgu.version.as_str()) {
        let problem = Problem::invalid(format!(
            "Acceptez les CGU en vigueur (version {}) pour créer la boîte : « J'ai lu et j'accepte les CGU ».",
            web.cgu.version
        ))
        .on("cgu");
        return Err(refuse(problem).await);
    }
    let plan = match plan(web, caller, request).await {
        Ok(plan) => plan,
        Err(problem) => return Err(refuse(problem).await),
    };
    let now = now_unix();
    let cgu = CguAcceptance {
        national_id: caller.0.person.national_id.clone(),
        version: web.cgu.version.clone(),
        accepted_at: now,
    };
    let due = now + web.validation_delay.as_secs() as i64;
    let meta = web.store.meta.clone();
    let created =
        mss_store::create_at_free_address(web.store.meta.as_ref(), &plan.draft.base_local, &web.domain, |address| {
            let request = MailboxRequest {
                mailbox: plan.draft.at(address, MailboxState::Pending),
                cgu: cgu.clone(),
                administrator: plan.administrator.clone(),
                validation_due_at: due,
            };
            let meta = meta.clone();
            async move { meta.request_mailbox(&request).await }
        })
        .await;
    let mailbox = match created {
        Ok(mailbox) => mailbox,
        Err(StoreError::Invalid(why)) => return Err(refuse(Problem::invalid(why)).await),
        Err(StoreError::CertificateTaken(bound)) => {
            let why = format!("Ce certificat est déjà associé à la boîte applicative {bound}.");
            return Err(refuse(Problem::conflict(why).on("certificate_dn")).await);
        }
        Err(e) => return Err(Problem::unavailable(e)),
    };
    let detail = format!("type={} cgu={}", mailbox.kind.code(), web.cgu.version);
    web.store
        .audit
        .record(NewAuditEntry::now(caller.actor(), "mailbox.request", mailbox.address.to_string(), "ok", detail))
        .await;
    let role = plan.administrator.map(|_| Role::Administrateur);
    Ok((mailbox, role))
}

/// One mailbox the caller may see.
pub async fn show(
    State(web): State<Arc<Web>>,
    caller: Caller,
    Path(address): Path<String>,
) -> Result<Json<serde_json::Value>, Problem> {
    let (mailbox, relation) = access(&web, &caller, &address).await?;
    Ok(Json(mailbox_json(&mailbox, relation.role())))
}

/// The mailbox at `address` and the caller's relation to it, if they hold
/// it or a role on it; 404 otherwise, so that others' mailboxes are not
/// revealed. What the relation allows is `mss_core::rights`.
pub async fn access(web: &Web, caller: &Caller, address: &str) -> Result<(Mailbox, Relation), Problem> {
    let not_found = || Problem::not_found("Aucune boîte de ce nom parmi les vôtres.");
    let address: EmailAddress = address.parse().map_err(|_| not_found())?;
    let mailbox = web.store.meta.mailbox(&address).await?.ok_or_else(not_found)?;
    let person = &caller.0.person.national_id;
    if mailbox.kind == MailboxKind::Personal && mailbox.national_id.as_ref() == Some(person) {
        return Ok((mailbox, Relation::Holder));
    }
    match web.store.meta.role_of(mailbox.id, person).await? {
        Some(role) => Ok((mailbox, Relation::Member(role))),
        None => {
            let entry =
                NewAuditEntry::now(caller.actor(), "mailbox.read", address.to_string(), "refused: no access", "");
            web.store.audit.record(entry).await;
            Err(not_found())
        }
    }
}

/// The caller's own mailboxes and those they hold a role on.
pub async fn visible_mailboxes(web: &Web, caller: &Caller) -> Result<Vec<(Mailbox, Option<Role>)>, Problem> {
    let person = &caller.0.person.national_id;
    let mut out: Vec<(Mailbox, Option<Role>)> = web
        .store
        .meta
        .mailboxes_of(person)
        .await?
        .into_iter()
        .filter(|m| m.kind == MailboxKind::Personal)
        .map(|m| (m, None))
        .collect();
    out.extend(web.store.meta.roles_of(person).await?.into_iter().map(|(m, role)| (m, Some(role))));
    Ok(out)
}

/// A mailbox as the API shows it; `status` says `refused` for a mailbox the
/// ANS refused, with the reason.
pub fn mailbox_json(m: &Mailbox, role: Option<Role>) -> serde_json::Value {
    let refused = m.state == MailboxState::Deleted && m.state_reason.is_some();
    let status = if refused { "refused" } else { m.state.as_str() };
    let message = match (status, &m.state_reason) {
        ("pending", _) => Some("La boîte est en cours de création.".to_string()),
        ("refused", Some(reason)) => Some(format!("La création a été refusée par l'ANS : {reason}")),
        ("suspended", Some(reason)) => Some(format!("La boîte est suspendue : {reason}")),
        _ => None,
    };
    serde_json::json!({
        "address": m.address.to_string(),
        "type": m.kind.code(),
        "status": status,
        "status_message": message,
        "display_name": m.display_name,
        "national_id": m.national_id.as_ref().map(|n| n.to_string()),
        "finess": m.finess.as_ref().map(|f| f.as_str()),
        "service": m.service,
        "liste_rouge": m.liste_rouge,
        "certificate_dn": m.certificate_dn,
        "role": role.map(|r| r.as_str()),
        "created_at": m.created_at,
    })
}
