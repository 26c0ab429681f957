//! Read receipts the webmail sends (RFC 8098): a message that asks for one
//! (`Disposition-Notification-To`) shows a button; the receipt goes to the
//! address asked, from the mailbox, through the same submission rules as
//! any message (so only inside the trust space), once: the message is then
//! marked `$MDNSent` (RFC 3503), as IMAP clients mark it. Sending one needs
//! the right to send as the mailbox; every receipt sent is traced.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use mail_parser::Message;
use maud::{Markup, html};
use mss_core::{EmailAddress, Right, Rights};
use mss_documents::acks::{DISPLAYED, Mdn};
use mss_http::percent_encode;
use mss_message::parsed;
use mss_store::{FlagChange, MessageMeta, NewAuditEntry};

use super::compose::{no_sending, open_to_send, route_one};
use super::layout;
use super::mail::{self, Located};
use super::session::Posted;
use crate::Web;
use crate::shared::sending::with_received_header;

/// The IMAP keyword of a message whose receipt was sent (RFC 3503).
const SENT_FLAG: &str = "$MDNSent";

pub fn router() -> Router<Arc<Web>> {
    Router::new().route("/portail/boites/{address}/courrier/{folder}/{uid}/accuse", post(send))
}

/// Where the message asks its receipt to go, if it asks.
fn asked(message: &Message<'_>) -> Option<EmailAddress> {
    let value = message.header_raw("Disposition-Notification-To")?;
    let inner = value.rsplit_once('<').map_or(value, |(_, r)| r.split('>').next().unwrap_or_default());
    inner.trim().parse().ok()
}

/// The offer on a message page: the button, or that it was sent.
pub fn offer(web: &Web, message: &Message<'_>, meta: &MessageMeta, rights: Rights, here: &str, csrf: &str) -> Markup {
    let Some(to) = asked(message) else { return html! {} };
    if meta.has_flag(SENT_FLAG) {
        return html! { p class="accuse" { "Accusé de lecture envoyé à " (to.to_string()) "." } };
    }
    if web.sending.is_none() || !rights.has(Right::SendAs) {
        return html! {};
    }
    html! {
        form method="post" action=(format!("{here}/accuse")) class="accuse" {
            input type="hidden" name="csrf" value=(csrf);
            p { "L'expéditeur demande un accusé de lecture (" (to.to_string()) ")." }
            button type="submit" class="secondaire" { "Envoyer un accusé de lecture" }
        }
    }
}

#[derive(serde::Deserialize)]
struct Empty {}

async fn send(
    State(web): State<Arc<Web>>,
    Path((address, folder, uid)): Path<(String, String, u32)>,
    Posted { visitor, form: Empty {} }: Posted<Empty>,
) -> Response {
    let Some(sending) = web.sending.as_ref() else {
        return no_sending(&web, &visitor);
    };
    let (mailbox, _, folders) = match open_to_send(&web, &visitor, &address).await {
        Ok(opened) => opened,
        Err(response) => return response,
    };
    let at = Located { folder, uid };
    let (current, meta, raw) = match mail::load(&web, &visitor, &folders, &at).await {
        Ok(loaded) => loaded,
        Err(response) => return response,
    };
    let here = format!("{}/{}/{uid}", mail::mail_path(&address), percent_encode(&current.name));
    let parsed = parsed::parse(&raw);
    let (Some(message), false) = (parsed.as_deref(), meta.has_flag(SENT_FLAG)) else {
        return Redirect::to(&here).into_response();
    };
    let (Some(to), Some(original)) = (asked(message), message.message_id()) else {
        let text = "Ce message ne demande pas d'accusé de lecture.";
        return layout::error_page(&web, StatusCode::UNPROCESSABLE_ENTITY, "Accusé impossible", text, Some(&visitor));
    };
    let route = match route_one(sending, &to).await {
        Ok(route) => route,
        Err(Ok(reason)) => {
            return layout::error_page(
                &web,
                StatusCode::UNPROCESSABLE_ENTITY,
                "Accusé impossible",
                &reason,
                Some(&visitor),
            );
        }
        Err(Err(response)) => return response,
    };
    let Ok(token) = mss_identity::session::random_token(18) else {
        return layout::unavailable("no randomness for a Message-ID");
    };
    let id = format!("{token}@{}", sending.hostname);
    let date = mail_builder::headers::date::Date::new(mss_store::now_unix()).to_rfc822();
    let mdn = Mdn {
        from: &address,
        to: &to.to_string(),
        original_id: original,
        original_subject: message.subject().unwrap_or_default(),
        disposition: DISPLAYED,
        reporting_ua: &sending.product,
        id: &id,
        date: &date,
    }
    .build();
    let mdn = with_received_header(sending, &mdn);
    if let Err(e) = sending.submitter.store(mdn, &address, mailbox.id, &[route]).await {
        return layout::unavailable(e);
    }
    let flag = [SENT_FLAG.to_string()];
    if let Err(e) = web.store.meta.set_flags(current.id, &[uid], FlagChange::Add, &flag, None).await {
        return layout::unavailable(e);
    }
    let entry = NewAuditEntry::now(visitor.actor(), "webmail.receipt", &address, "ok", format!("{at} to {to}"));
    web.store.audit.record(entry).await;
    Redirect::to(&format!("{here}?fait=accuse")).into_response()
}
