//! Where Pro Santé Connect sends the person back (`/api/auth/psc/callback`):
//! an API session (JSON tokens), or a portal session when the browser
//! carries the portal's cookie for this very login. It routes between the
//! API and the portal, so it belongs to neither.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Json, Response};
use mss_identity::{Method, Person};
use mss_store::{NewAuditEntry, now_unix};
use serde::Deserialize;

use crate::{Problem, Web, portal};

/// Where the callback is served.
pub const PATH: &str = "/api/auth/psc/callback";

#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// PSC's redirect back, with a code for the person it proved.
pub async fn callback(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Query(query): Query<CallbackQuery>,
) -> Result<Response, Problem> {
    if let Some(target) = query.state.as_deref().and_then(|state| portal::portal_login(&web, &headers, state)) {
        return Ok(portal::finish_login(&web, proven_person(&web, query).await, &target).await);
    }
    let person = proven_person(&web, query).await?;
    let tokens = web.sessions.open(&person, Method::Psc, now_unix()).await.map_err(Problem::unavailable)?;
    Ok(Json(tokens).into_response())
}

/// The person PSC proves with the callback's code; audited either way.
async fn proven_person(web: &Web, query: CallbackQuery) -> Result<Person, Problem> {
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
            Err(e.into())
        }
    }
}
