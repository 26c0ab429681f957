//! The REST API: sessions, mailbox creation, delegation, audit trail,
//! directory search, and the pharmacy software's dispensations and 5 %
//! indicator. The
//! OpenAPI document at `/api/openapi.json` describes it.

mod annuaire;
mod audit;
mod auth;
mod body;
mod cps;
mod documents;
mod mailboxes;
mod members;
mod pharmacies;
mod psc;
mod software;
mod tracking;
mod unread;

use std::sync::Arc;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post, put};

use crate::Web;

/// The OpenAPI 3.1 description of this API.
pub const OPENAPI: &str = include_str!("../../openapi.json");

pub fn router() -> Router<Arc<Web>> {
    Router::new()
        .route("/openapi.json", get(openapi))
        .route("/me", get(auth::me))
        .route("/unread", get(unread::show))
        .route("/annuaire", get(annuaire::search))
        .route("/auth/psc/login", get(psc::login))
        .route("/auth/cps/challenge", post(cps::challenge))
        .route("/auth/cps/login", post(cps::login))
        .route("/auth/refresh", post(auth::refresh))
        .route("/auth/logout", post(auth::logout))
        .route("/mailboxes/preview", post(mailboxes::preview))
        .route("/mailboxes", post(mailboxes::create))
        .route("/mailboxes/{address}", get(mailboxes::show))
        .route("/mailboxes/{address}/members", get(members::list))
        .route("/mailboxes/{address}/members/{national_id}", put(members::set).delete(members::remove))
        .route("/mailboxes/{address}/audit", get(audit::list))
        .route("/mailboxes/{address}/messages/{folder}/{uid}/tracking", get(tracking::show))
        .route(
            "/mailboxes/{address}/documents",
            // Bounded by the handler: the largest message the operator takes.
            post(documents::send).layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route(
            "/pharmacies/{finess}/dispensations",
            post(pharmacies::declare).layer(axum::extract::DefaultBodyLimit::max(pharmacies::MAX_DECLARATION_BYTES)),
        )
        .route("/pharmacies/{finess}/dispensations/{id}/links", post(pharmacies::link))
        .route("/pharmacies/{finess}/indicator", get(pharmacies::indicator))
        .fallback(|| async { crate::Problem::not_found("Cette adresse de l'API n'existe pas.") })
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}
