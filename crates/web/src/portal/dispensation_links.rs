//! A message linked by hand to a dispensation, for the 5 % indicator: on
//! the page of a message in a mailbox of a pharmacy (one with a FINESS), the
//! dispensations it is linked to, and a form to link it to one more by the
//! number the pharmacy software gave it. The rule and the store are the
//! API's (`mss_ops::indicator::link`): the dispensation must have been
//! declared by the pharmacy and the message be in one of its mailboxes.
//! Linking needs the right to write as the mailbox (`SendAs`: whoever
//! exchanges for the pharmacy says what an exchange concerns); every link
//! made or refused is traced.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use maud::{Markup, html};
use mss_core::{Finess, Right, Rights};
use mss_message::parsed;
use mss_ops::indicator;
use mss_store::{Mailbox, NewAuditEntry, StoreError, now_unix};
use serde::Deserialize;

use super::layout;
use super::mail::{self, Located};
use super::session::Posted;
use crate::Web;

/// Longest dispensation number accepted from the form (the API's bound).
const MAX_ID: usize = 64;

pub fn router() -> Router<Arc<Web>> {
    Router::new().route("/portail/boites/{address}/courrier/{folder}/{uid}/delivrance", post(link))
}

/// The section on a message page: the dispensations it counts for, and the
/// form to link one more; nothing outside a pharmacy's mailbox.
pub async fn section(
    web: &Web,
    mailbox: &Mailbox,
    rights: Rights,
    message_id: Option<&str>,
    here: &str,
    csrf: &str,
) -> Result<Markup, StoreError> {
    let (Some(finess), Some(message_id)) = (&mailbox.finess, message_id) else {
        return Ok(html! {});
    };
    let linked = indicator::linked_to(&web.store, finess, message_id).await?;
    if linked.is_empty() && !rights.has(Right::SendAs) {
        return Ok(html! {});
    }
    Ok(html! {
        section class="delivrance" aria-labelledby="delivrance-titre" {
            h2 id="delivrance-titre" { "Indicateur 5 %" }
            @if linked.is_empty() {
                p { "Ce message n'est lié à aucune délivrance." }
            } @else {
                p { "Ce message compte pour la délivrance : " (linked.join(", ")) "." }
            }
            @if rights.has(Right::SendAs) {
                form method="post" action=(format!("{here}/delivrance")) class="champ ligne" {
                    input type="hidden" name="csrf" value=(csrf);
                    label for="delivrance" { "N° de délivrance (celui du logiciel de la pharmacie)" }
                    input id="delivrance" name="delivrance" required maxlength=(MAX_ID) autocomplete="off";
                    button type="submit" class="secondaire" { "Lier à cette délivrance" }
                }
            }
        }
    })
}

#[derive(Deserialize)]
struct LinkForm {
    delivrance: String,
}

async fn link(
    State(web): State<Arc<Web>>,
    Path((address, folder, uid)): Path<(String, String, u32)>,
    Posted { visitor, form }: Posted<LinkForm>,
) -> Response {
    let (mailbox, rights, folders) = match mail::open(&web, &visitor, &address).await {
        Ok(opened) => opened,
        Err(response) => return response,
    };
    let at = Located { folder, uid };
    let (current, _, raw) = match mail::load(&web, &visitor, &folders, &at).await {
        Ok(loaded) => loaded,
        Err(response) => return response,
    };
    let here = format!("{}/{}/{uid}", mail::mail_path(&address), mss_http::percent_encode(&current.name));
    let refused = |text: &str| {
        layout::error_page(&web, StatusCode::UNPROCESSABLE_ENTITY, "Liaison impossible", text, Some(&visitor))
    };
    let Some(finess) = mailbox.finess.clone() else {
        return refused("Cette boîte n'appartient pas à une pharmacie : son courrier ne compte pas pour l'indicateur.");
    };
    if !rights.has(Right::SendAs) {
        return layout::error_page(
            &web,
            StatusCode::FORBIDDEN,
            "Liaison refusée",
            "Votre rôle dans cette boîte ne permet pas de lier ses messages à une délivrance.",
            Some(&visitor),
        );
    }
    let id = form.delivrance.trim();
    if id.is_empty() || id.chars().count() > MAX_ID || id.chars().any(char::is_control) {
        return refused("Numéro de délivrance invalide : 1 à 64 caractères, tels que le logiciel les donne.");
    }
    let message_id = parsed::parse(&raw).and_then(|m| m.message_id().map(str::to_string));
    let Some(message_id) = message_id else {
        return refused("Ce message n'a pas d'identifiant (Message-ID) : il ne peut pas être lié.");
    };
    let linked = match indicator::link(&web.store, &finess, id, &message_id, now_unix()).await {
        Ok(linked) => linked,
        Err(e) => return layout::unavailable(e),
    };
    let result = if linked { "ok" } else { "refused: unknown dispensation" };
    let detail = format!("{at} dispensation={id}");
    let entry = NewAuditEntry::now(visitor.actor(), "webmail.dispensation.link", &address, result, detail);
    web.store.audit.record(entry).await;
    if !linked {
        return refused(&unknown(&finess, id));
    }
    Redirect::to(&format!("{here}?fait=delivrance")).into_response()
}

/// Why a link was refused, in French.
fn unknown(finess: &Finess, id: &str) -> String {
    format!(
        "La délivrance « {id} » n'est pas connue pour la pharmacie {finess} : vérifiez son numéro ; elle doit avoir \
         été déclarée par le logiciel de la pharmacie."
    )
}
