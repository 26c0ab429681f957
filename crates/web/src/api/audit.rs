//! The audit trail of a mailbox, for its Administrateurs (and the holder of
//! a personal mailbox): newest first, filtered by action, paged by id.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Json;
use mss_store::AuditFilter;
use serde::Deserialize;

use crate::shared::trail;
use crate::{Caller, Problem, Web};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Actions starting with this (`imap.`, `role.`).
    action: Option<String>,
    /// Entries at or after this time (unix seconds).
    since: Option<i64>,
    /// Entries older than this id (the next page).
    before: Option<i64>,
    limit: Option<usize>,
}

pub async fn list(
    State(web): State<Arc<Web>>,
    caller: Caller,
    Path(address): Path<String>,
    super::body::Params(query): super::body::Params<AuditQuery>,
) -> Result<Json<serde_json::Value>, Problem> {
    let filter = AuditFilter {
        targets: Vec::new(),
        action_prefix: query.action,
        since: query.since,
        before_id: query.before,
        limit: query.limit.unwrap_or(100).clamp(1, 1000),
    };
    let (mailbox, entries) = trail(&web, &caller, &address, filter).await?;
    let list: Vec<serde_json::Value> = entries
        .iter()
        .map(|e| {
            serde_json::json!({
                "id": e.id,
                "at": e.entry.at,
                "actor": e.entry.actor,
                "action": e.entry.action,
                "result": e.entry.result,
                "detail": e.entry.detail,
            })
        })
        .collect();
    Ok(Json(serde_json::json!({ "address": mailbox.address.to_string(), "entries": list })))
}
