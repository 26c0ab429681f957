//! Directory search for authenticated people: `GET /api/annuaire?q=...`,
//! the national extraction and our own active mailboxes (never the liste
//! rouge ones), ranked and paged. The query language is the one of
//! `mss_directory::annuaire::query`; separate parameters add criteria.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Json;
use mss_directory::annuaire::{Page, Query, Results};
use serde::Deserialize;

use super::body::Params;
use crate::shared::search_directory;
use crate::{Caller, Problem, Web};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchParams {
    q: Option<String>,
    profession: Option<String>,
    ville: Option<String>,
    cp: Option<String>,
    dep: Option<String>,
    id: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    adresse: Option<String>,
    page: Option<u32>,
    per_page: Option<u32>,
}

pub async fn search(
    State(web): State<Arc<Web>>,
    _caller: Caller,
    Params(params): Params<SearchParams>,
) -> Result<Json<Results>, Problem> {
    let mut query = Query::parse(params.q.as_deref().unwrap_or("")).map_err(|e| Problem::invalid(e.0))?;
    let criteria = [
        ("profession", &params.profession),
        ("ville", &params.ville),
        ("cp", &params.cp),
        ("dep", &params.dep),
        ("id", &params.id),
        ("type", &params.kind),
        ("adresse", &params.adresse),
    ];
    for (key, value) in criteria {
        if let Some(value) = value.as_deref().filter(|v| !v.trim().is_empty()) {
            query.set(key, value).map_err(|e| Problem::invalid(e.0))?;
        }
    }
    if query.is_empty() {
        return Err(Problem::invalid("Recherche vide : indiquez un nom, un identifiant ou un critère."));
    }
    let page = Page::new(params.page.unwrap_or(1), params.per_page.unwrap_or(20)).map_err(|e| Problem::invalid(e.0))?;
    Ok(Json(search_directory(&web, query, page).await?))
}
