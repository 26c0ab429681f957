//! Delegation on an organisational mailbox: list, add, change and remove
//! members. `mss_core::may_delegate` decides (a Gestionnaire manages
//! Utilisateurs only); the store keeps the last Administrateur. Changes take
//! effect at once on open IMAP sessions, which read roles at each command.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Json;
use mss_core::{MailboxKind, NationalId, Role, may_delegate};
use mss_store::{NewAuditEntry, StoreError};
use serde::Deserialize;

use super::Caller;
use super::body::Body;
use super::mailboxes::access;
use crate::{Problem, Web};

/// The mailbox at `address`, if organisational and the caller may manage
/// members there (Administrateur or Gestionnaire); with the caller's role.
pub(crate) async fn managed(web: &Web, caller: &Caller, address: &str) -> Result<(mss_store::Mailbox, Role), Problem> {
    let (mailbox, relation) = access(web, caller, address).await?;
    if mailbox.kind != MailboxKind::Organisational {
        return Err(Problem::invalid("Seules les boîtes organisationnelles ont des membres."));
    }
    match relation.role() {
        Some(role @ (Role::Administrateur | Role::Gestionnaire)) => Ok((mailbox, role)),
        _ => Err(Problem::forbidden("Votre rôle ne permet pas de gérer les membres de cette boîte.")),
    }
}

pub async fn list(
    State(web): State<Arc<Web>>,
    caller: Caller,
    Path(address): Path<String>,
) -> Result<Json<serde_json::Value>, Problem> {
    let (mailbox, _) = managed(&web, &caller, &address).await?;
    let members = web.store.meta.roles_on(mailbox.id).await?;
    let list: Vec<serde_json::Value> = members
        .iter()
        .map(|(id, role)| serde_json::json!({ "national_id": id.to_string(), "role": role.as_str() }))
        .collect();
    Ok(Json(serde_json::json!({ "address": mailbox.address.to_string(), "members": list })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetRole {
    role: String,
}

pub async fn set(
    State(web): State<Arc<Web>>,
    caller: Caller,
    Path((address, national_id)): Path<(String, String)>,
    Body(request): Body<SetRole>,
) -> Result<Json<serde_json::Value>, Problem> {
    let role: Role = request
        .role
        .parse()
        .map_err(|_| Problem::invalid("Rôle inconnu : administrateur, gestionnaire ou utilisateur."))?;
    change(&web, &caller, &address, &national_id, Some(role)).await?;
    Ok(Json(serde_json::json!({ "national_id": national_id, "role": role.as_str() })))
}

pub async fn remove(
    State(web): State<Arc<Web>>,
    caller: Caller,
    Path((address, national_id)): Path<(String, String)>,
) -> Result<StatusCode, Problem> {
    change(&web, &caller, &address, &national_id, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Gives `member` the role `next` on the mailbox (`None`: removes them), if
/// the caller may; audited either way.
pub(crate) async fn change(
    web: &Web,
    caller: &Caller,
    address: &str,
    member: &str,
    next: Option<Role>,
) -> Result<(), Problem> {
    let action = if next.is_some() { "role.set" } else { "role.remove" };
    let detail = format!("member={member} role={}", next.map_or("none", Role::as_str));
    let audit = async |result: String| {
        web.store.audit.record(NewAuditEntry::now(caller.actor(), action, address, result, &detail)).await;
    };
    let outcome = async {
        let member: NationalId = member
            .parse()
            .map_err(|e| Problem::invalid(format!("Identifiant national invalide : {e}")).on("national_id"))?;
        let (mailbox, actor) = managed(web, caller, address).await?;
        let current = web.store.meta.role_of(mailbox.id, &member).await?;
        if current.is_none() && next.is_none() {
            return Err(Problem::not_found("Cette personne n'est pas membre de la boîte."));
        }
        if !may_delegate(Some(actor), current, next) {
            return Err(Problem::forbidden("Un Gestionnaire ne gère que les Utilisateurs."));
        }
        match web.store.meta.set_role(mailbox.id, &member, next).await {
            Ok(()) => Ok(()),
            Err(StoreError::Invalid(_)) => {
                Err(Problem::conflict("Le dernier Administrateur de la boîte ne peut pas être retiré."))
            }
            Err(e) => Err(Problem::unavailable(e)),
        }
    }
    .await;
    audit(match &outcome {
        Ok(()) => "ok".into(),
        Err(problem) => format!("refused: {}", problem.detail),
    })
    .await;
    outcome
}
