//! The portal: the pages pharmacists use in a browser, in French,
//! server-rendered (maud), with one stylesheet and one small script (the
//! compose page's size check; every page works without it).
//!
//! Rules kept here:
//! - every page but sign-in needs a live portal session; an ended one sends
//!   the person to sign-in, which brings them back to the page they wanted;
//! - every POST carries its session's CSRF token ([`session::Posted`]), and
//!   is refused without it, changing nothing;
//! - every response carries a strict Content-Security-Policy, `nosniff`, no
//!   referrer, and pages are not cached;
//! - the portal decides nothing itself: creation, delegation and the audit
//!   trail are the use cases of `mss_ops` the API calls too, with the same
//!   rules and audit (through `crate::shared`; the portal never imports
//!   the API).

mod account;
mod actions;
mod admin;
mod app_passwords;
mod cgu;
mod compose;
mod dispensation_links;
mod document_form;
mod documents;
mod html;
mod indicator;
mod layout;
mod listing;
mod mail;
mod mailboxes;
mod message_list;
mod operator;
mod origin;
mod patients;
mod receipts;
mod recipients;
mod session;
mod signin;
mod tracking;
mod trail;
mod wizard;

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{Redirect, Response};
use axum::routing::get;

pub use account::CALLBACK as ACCOUNT_CALLBACK;
pub(crate) use signin::portal_login;

pub use cgu::DEFAULT_TEXT as DEFAULT_CGU_TEXT;

use crate::{Problem, Web};

/// The portal's home: the person's mailboxes.
pub const HOME: &str = "/portail/boites";

/// What every portal response may load: its own stylesheet and script,
/// nothing else (no inline script, nothing remote).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub fn router() -> Router<Arc<Web>> {
    Router::new()
        .route("/portail", get(|| async { Redirect::to(HOME) }))
        .route("/portail/", get(|| async { Redirect::to(HOME) }))
        .route("/portail/assets/{file}", get(layout::asset))
        .route("/portail/{*rest}", get(page_not_found))
        .merge(signin::router())
        .merge(mailboxes::router())
        .merge(mail::router())
        .merge(compose::router())
        .merge(patients::router())
        .merge(documents::router())
        .merge(receipts::router())
        .merge(app_passwords::router())
        .merge(cgu::router())
        .merge(operator::router())
        .merge(dispensation_links::router())
        .merge(indicator::router())
        .merge(recipients::router())
        .merge(wizard::router())
        .merge(admin::router())
        .merge(account::router())
        .layer(axum::middleware::map_response(security_headers))
}

/// Any other portal address: a French page, not a bare 404.
async fn page_not_found(axum::extract::State(web): axum::extract::State<Arc<Web>>) -> Response {
    let message = "Cette page n'existe pas. Vérifiez l'adresse, ou repartez de vos boîtes aux lettres.";
    layout::error_page(&web, axum::http::StatusCode::NOT_FOUND, "Page introuvable", message, None)
}

/// Finishes a portal login PSC returned to its callback with.
pub(crate) async fn finish_login(web: &Web, person: Result<mss_identity::Person, Problem>, target: &str) -> Response {
    security_headers(signin::finish_login(web, person, mss_identity::Method::Psc, target).await).await
}

async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}
