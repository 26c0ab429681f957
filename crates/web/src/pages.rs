//! The health checks (`/healthz`: the process answers; `/readyz`: and its
//! store does, so a load balancer may send it traffic) and the status page.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Json, Response};
use axum::routing::get;

use crate::Web;

pub fn router() -> Router<Arc<Web>> {
    Router::new().route("/", get(status_page)).route("/healthz", get(health)).route("/readyz", get(ready))
}

async fn health(State(web): State<Arc<Web>>) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok", "domain": web.domain.as_str(), "version": env!("CARGO_PKG_VERSION") }))
}

async fn ready(State(web): State<Arc<Web>>) -> Response {
    match web.store.meta.last_whitelist_import().await {
        Ok(_) => Json(serde_json::json!({ "status": "ready" })).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "readiness: the store does not answer");
            (StatusCode::SERVICE_UNAVAILABLE, Json(serde_json::json!({ "status": "unavailable" }))).into_response()
        }
    }
}

async fn status_page(State(web): State<Arc<Web>>) -> Html<String> {
    let domain = web.domain.as_str().replace('&', "&amp;").replace('<', "&lt;");
    Html(format!(
        "<!doctype html><html lang=\"fr\"><meta charset=\"utf-8\"><title>mss · {domain}</title>\
         <h1>Opérateur MSSanté {domain}</h1><p>Le service est en marche.</p>\
         <p><a href=\"/portail\">Accéder au portail (messagerie et gestion des boîtes)</a></p></html>"
    ))
}
