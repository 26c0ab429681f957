//! Login with Pro Santé Connect: `/auth/psc/login` sends the person to PSC;
//! PSC sends them back to `/auth/psc/callback` with a code, which becomes
//! an operator session (the tokens of `/auth/refresh`).

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Json, Redirect, Response};
use mss_identity::psc::client::PscError;
use mss_identity::{Method, Person};
use mss_store::{NewAuditEntry, now_unix};
use serde::Deserialize;

use crate::{Problem, Web};

#[derive(Deserialize)]
pub struct LoginQuery {
    /// Passed to PSC (the simulator logs that test identity in at once).
    login_hint: Option<String>,
}

pub(crate) fn psc_failed(e: PscError) -> Problem {
    match e {
        PscError::UnknownFlow => Problem::unauthenticated("Connexion expirée ou inconnue : recommencez."),
        PscError::Claims(_) | PscError::IdToken(_) => {
            Problem::unauthenticated(format!("Pro Santé Connect n'a pas prouvé votre identité : {e}"))
        }
        PscError::Busy => {
            Problem::new(StatusCode::SERVICE_UNAVAILABLE, "busy", "Trop de connexions en cours, réessayez.")
        }
        PscError::Config(_) | PscError::Provider(_) => {
            tracing::error!(error = %e, "psc: login failed");
            Problem::new(StatusCode::BAD_GATEWAY, "psc-unavailable", "Pro Santé Connect ne répond pas, réessayez.")
        }
    }
}

pub async fn login(State(web): State<Arc<Web>>, Query(query): Query<LoginQuery>) -> Result<Response, Problem> {
    let psc = web.psc.as_ref().ok_or_else(|| Problem::not_found("Pro Santé Connect n'est pas configuré."))?;
    let (url, _state) = psc.start(query.login_hint.as_deref()).await.map_err(psc_failed)?;
    Ok(Redirect::to(&url).into_response())
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// PSC's redirect back: an API session (JSON tokens), or a portal session
/// when the browser carries the portal's cookie for this very login.
pub async fn callback(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Query(query): Query<CallbackQuery>,
) -> Result<Response, Problem> {
    if let Some(target) = query.state.as_deref().and_then(|state| crate::portal::portal_login(&web, &headers, state)) {
        return Ok(crate::portal::finish_login(&web, proven_person(&web, query).await, &target).await);
    }
    let person = proven_person(&web, query).await?;
    let tokens = web.sessions.open(&person, Method::Psc, now_unix()).await.map_err(Problem::unavailable)?;
    Ok(Json(tokens).into_response())
}

/// The person PSC proves with the callback's code; audited either way.
pub(crate) async fn proven_person(web: &Web, query: CallbackQuery) -> Result<Person, Problem> {
    let psc = web.psc.as_ref().ok_or_else(|| Problem::not_found("Pro Santé Connect n'est pas configuré."))?;
    let audit = async |actor: String, result: String| {
        web.store.audit.record(NewAuditEntry::now(actor.clone(), "session.login", actor, result, "method=psc")).await;
    };
    let (Some(code), Some(state)) = (query.code, query.state) else {
        let why = query.error.unwrap_or_else(|| "no code".into());
        audit("anonymous".into(), format!("refused: {why}")).await;
        return Err(Problem::unauthenticated(format!("Connexion refusée par Pro Santé Connect : {why}")));
    };
    match psc.finish(&code, &state).await {
        Ok(person) => {
            audit(person.national_id.to_string(), "ok".into()).await;
            Ok(person)
        }
        Err(e) => {
            audit("anonymous".into(), format!("refused: {e}")).await;
            Err(psc_failed(e))
        }
    }
}
