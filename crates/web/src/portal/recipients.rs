//! Who a person may want to write to, for the compose form's suggestions:
//! the mailbox's patients (by name and INS, so that a patient's address is
//! picked, not typed) and its recent correspondents (offered in the page
//! itself, so they work without the script), and the Annuaire Santé,
//! searched as the person types (`/portail/annuaire/suggestions?q=`, JSON,
//! for the script).

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use axum::{Router, http::StatusCode};
use mss_directory::annuaire::{Page, Query as DirectoryQuery};
use mss_message::parsed;
use mss_store::{Folder, SENT};
use serde::{Deserialize, Serialize};

use super::origin::Origin;
use super::session::Visitor;
use crate::Web;
use crate::shared::search_directory;

/// Recent messages looked at for correspondents, per folder.
const RECENT_MESSAGES: usize = 200;
/// Correspondents offered at most.
const RECENT_MAX: usize = 50;
/// Directory suggestions at most.
const SUGGESTIONS: u32 = 10;
/// Patients offered at most (the latest exchanges).
const PATIENTS_MAX: u32 = 50;

pub fn router() -> Router<Arc<Web>> {
    Router::new().route("/portail/annuaire/suggestions", get(suggestions))
}

/// A suggested recipient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Suggestion {
    pub address: String,
    /// What to show beside it: the name, and for the directory the
    /// profession and the town.
    pub label: String,
}

/// The people the mailbox wrote to (Sent: To and Cc) and heard from (INBOX:
/// the authors, as [`Origin`] reads them), most recent first, each once,
/// without the mailbox itself.
pub async fn recent(web: &Web, folders: &[Folder], own: &str) -> Vec<Suggestion> {
    let mut out: Vec<Suggestion> = match folders.first() {
        Some(folder) => patients(web, folder.mailbox).await,
        None => Vec::new(),
    };
    for name in [SENT, mss_store::INBOX] {
        let Some(folder) = folders.iter().find(|f| f.name == name) else { continue };
        let Ok(uids) = web.store.meta.folder_uids(folder.id).await else { continue };
        let recent = &uids[uids.len().saturating_sub(RECENT_MESSAGES)..];
        let Ok(metas) = web.store.meta.messages(folder.id, recent).await else { continue };
        let hashes: Vec<_> = metas.iter().rev().map(|m| m.blob).collect();
        let Ok(bodies) = web.store.blobs.get_many(&hashes).await else { continue };
        for raw in bodies.iter().flatten() {
            let found = if name == SENT { recipients_of(raw) } else { authors_of(raw) };
            for suggestion in found {
                if suggestion.address == own || out.iter().any(|s| s.address == suggestion.address) {
                    continue;
                }
                out.push(suggestion);
                if out.len() >= RECENT_MAX {
                    return out;
                }
            }
        }
    }
    out
}

/// The patients the mailbox exchanged with, latest first: `Jeanne MARTIN
/// (patient, INS 2 79 03 51 215 189 89)`.
async fn patients(web: &Web, mailbox: mss_store::MailboxId) -> Vec<Suggestion> {
    let Ok(page) = web.store.meta.patient_threads(mailbox, 0, PATIENTS_MAX).await else { return Vec::new() };
    page.threads
        .iter()
        .filter_map(|t| {
            let ins: mss_core::Ins = t.ins.parse().ok()?;
            let label = super::patients::patient_label(t.name.as_deref(), &t.ins);
            Some(Suggestion { address: ins.patient_address().to_string(), label: format!("{label}, patient") })
        })
        .collect()
}

/// The To and Cc of a message the mailbox sent.
fn recipients_of(raw: &[u8]) -> Vec<Suggestion> {
    let Some(header) = parsed::parse_header(header_of(raw)) else { return Vec::new() };
    [header.to(), header.cc()]
        .into_iter()
        .flatten()
        .flat_map(|a| a.iter())
        .filter_map(|a| {
            let address = a.address()?.to_ascii_lowercase();
            Some(Suggestion { address, label: a.name().map(str::to_string).unwrap_or_default() })
        })
        .collect()
}

/// The authors of a message the mailbox received, as [`Origin`] reads
/// them: none when the sender is unverifiable.
fn authors_of(raw: &[u8]) -> Vec<Suggestion> {
    Origin::of(raw)
        .authors()
        .iter()
        .map(|m| Suggestion { address: m.address.to_string(), label: m.name.clone().unwrap_or_default() })
        .collect()
}

#[derive(Deserialize)]
struct Asked {
    q: Option<String>,
}

/// Directory entries for what the person is typing (at least 2 characters).
async fn suggestions(State(web): State<Arc<Web>>, Query(asked): Query<Asked>, _visitor: Visitor) -> Response {
    let q = asked.q.unwrap_or_default();
    if q.trim().chars().count() < 2 {
        return Json(Vec::<Suggestion>::new()).into_response();
    }
    let (Ok(query), Ok(page)) = (DirectoryQuery::parse(&q), Page::new(1, SUGGESTIONS)) else {
        return (StatusCode::BAD_REQUEST, Json(Vec::<Suggestion>::new())).into_response();
    };
    match search_directory(&web, query, page).await {
        Ok(results) => {
            let found: Vec<Suggestion> = results
                .hits
                .into_iter()
                .map(|h| {
                    let details: Vec<&str> =
                        [h.profession.as_str(), h.city.as_str()].into_iter().filter(|d| !d.is_empty()).collect();
                    let label =
                        if details.is_empty() { h.name } else { format!("{} ({})", h.name, details.join(", ")) };
                    Suggestion { address: h.address, label }
                })
                .collect();
            Json(found).into_response()
        }
        Err(problem) => (problem.status, Json(Vec::<Suggestion>::new())).into_response(),
    }
}

/// The part of a message read for its recipients (its header, in practice).
const HEADER_MAX: usize = 64 * 1024;

/// The header of a raw message (up to [`HEADER_MAX`]).
fn header_of(raw: &[u8]) -> &[u8] {
    let cut = &raw[..raw.len().min(HEADER_MAX)];
    match cut.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(end) => &cut[..end + 4],
        None => match cut.windows(2).position(|w| w == b"\n\n") {
            Some(end) => &cut[..end + 2],
            None => cut,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::header_of;

    #[test]
    fn the_header_stops_at_the_blank_line() {
        assert_eq!(header_of(b"Subject: a\r\n\r\nbody"), b"Subject: a\r\n\r\n");
        assert_eq!(header_of(b"Subject: a\n\nbody"), b"Subject: a\n\n");
    }
}
