//! Who is calling in the API: the session token in `Authorization: Bearer`,
//! checked on every request (expiry, revocation), makes a [`Caller`]. Also
//! `/me`, refresh and logout.

use std::sync::Arc;

use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Json, Response};
use mss_identity::SessionError;
use mss_ops::mailboxes::MailboxView;
use mss_store::{NewAuditEntry, now_unix};
use serde::Deserialize;

use super::body::Body;
use crate::shared::visible_mailboxes;
use crate::{Caller, Problem, Web};

/// The token of `Authorization: Bearer`, trimmed, if the request has one.
pub fn bearer(parts: &Parts) -> Option<&str> {
    let header = parts.headers.get(AUTHORIZATION).and_then(|h| h.to_str().ok())?;
    Some(header.strip_prefix("Bearer ").or_else(|| header.strip_prefix("bearer "))?.trim())
}

impl FromRequestParts<Arc<Web>> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, web: &Arc<Web>) -> Result<Self, Self::Rejection> {
        let Some(token) = bearer(parts) else {
            return Err(Problem::unauthenticated("Authentification requise (jeton de session)."));
        };
        match web.sessions.verify(token, now_unix()).await {
            Ok(who) => Ok(Caller(who)),
            Err(SessionError::Store(e)) => Err(Problem::unavailable(e)),
            Err(e) => {
                mss_net::counters::add(mss_net::counters::AUTH_FAILURES, "api");
                let path = parts.uri.path().to_string();
                let entry = NewAuditEntry::now("anonymous", "api.authenticate", path, format!("refused: {e}"), "");
                web.store.audit.record(entry).await;
                Err(Problem::unauthenticated("Jeton invalide, expiré ou révoqué : reconnectez-vous."))
            }
        }
    }
}

/// Who I am and which mailboxes I may use.
pub async fn me(State(web): State<Arc<Web>>, caller: Caller) -> Result<Json<serde_json::Value>, Problem> {
    let person = &caller.0.person;
    let mailboxes = visible_mailboxes(&web, &caller).await?;
    Ok(Json(serde_json::json!({
        "national_id": person.national_id.to_string(),
        "first_name": person.first_name,
        "last_name": person.last_name,
        "finess": person.finess,
        "method": caller.0.method,
        "mailboxes": mailboxes.iter().map(|(m, role)| MailboxView::new(m, *role)).collect::<Vec<_>>(),
    })))
}

#[derive(Deserialize)]
pub struct RefreshRequest {
    refresh_token: String,
}

pub async fn refresh(State(web): State<Arc<Web>>, Body(request): Body<RefreshRequest>) -> Result<Response, Problem> {
    match web.sessions.refresh(&request.refresh_token, now_unix()).await {
        Ok(tokens) => Ok(Json(tokens).into_response()),
        Err(SessionError::Store(e)) => Err(Problem::unavailable(e)),
        Err(_) => Err(Problem::unauthenticated("Session terminée : reconnectez-vous.")),
    }
}

pub async fn logout(State(web): State<Arc<Web>>, caller: Caller) -> Result<StatusCode, Problem> {
    web.sessions.close(&caller.0.session, now_unix()).await.map_err(Problem::unavailable)?;
    web.store.audit.record(NewAuditEntry::now(caller.actor(), "session.logout", caller.actor(), "ok", "")).await;
    Ok(StatusCode::NO_CONTENT)
}
