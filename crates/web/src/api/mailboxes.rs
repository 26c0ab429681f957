//! Creating mailboxes through the identity flow, and reading them. The
//! rules are `mss_ops::mailboxes`' (PER from the person's identity; ORG by
//! someone attached to the structure, who becomes its Administrateur; APP
//! by an Administrateur of an organisational mailbox of the structure,
//! bound to an organisation certificate).
//!
//! A preview returns what will be published and the CGU to accept; the
//! creation needs that acceptance, records it, and leaves the mailbox
//! pending until the ANS validates it.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use mss_ops::mailboxes::MailboxView;

use super::body::Body;
use crate::shared::{CreateRequest, PENDING_MESSAGE, access, preview_address, request_mailbox};
use crate::{Caller, Problem, Web};

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
    let body = Created { mailbox: MailboxView::new(&mailbox, role), message: PENDING_MESSAGE };
    let location = format!("/api/mailboxes/{}", mailbox.address);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(body)).into_response())
}

/// A mailbox just requested, with what the person is told.
#[derive(serde::Serialize)]
struct Created {
    #[serde(flatten)]
    mailbox: MailboxView,
    message: &'static str,
}

/// One mailbox the caller may see.
pub async fn show(
    State(web): State<Arc<Web>>,
    caller: Caller,
    Path(address): Path<String>,
) -> Result<Json<MailboxView>, Problem> {
    let (mailbox, relation) = access(&web, &caller, &address).await?;
    Ok(Json(MailboxView::new(&mailbox, relation.role())))
}
