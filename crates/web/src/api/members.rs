//! Delegation on an organisational mailbox: list, add, change and remove
//! members. The rules are `mss_ops::members`' (a Gestionnaire manages
//! Utilisateurs only; the last Administrateur stays). Changes take effect
//! at once on open IMAP sessions, which read roles at each command.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Json;
use mss_core::Role;
use serde::Deserialize;

use super::body::Body;
use crate::shared::{change_role, managed};
use crate::{Caller, Problem, Web};

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
    change_role(&web, &caller, &address, &national_id, Some(role)).await?;
    Ok(Json(serde_json::json!({ "national_id": national_id, "role": role.as_str() })))
}

pub async fn remove(
    State(web): State<Arc<Web>>,
    caller: Caller,
    Path((address, national_id)): Path<(String, String)>,
) -> Result<StatusCode, Problem> {
    change_role(&web, &caller, &address, &national_id, None).await?;
    Ok(StatusCode::NO_CONTENT)
}
