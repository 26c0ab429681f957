//! What is done to messages from the webmail: mark read or unread, flag for
//! follow-up, move, delete; for the message read (its action form) or for
//! the messages selected in a list (the list's bulk form). One rule for
//! both, `mss_core::rights` as IMAP follows it: marking seen needs
//! `MarkSeen`, flagging `SetFlags`, moving and deleting `Delete` and
//! `Write`. Every change is audited, done or refused; deleting moves to the
//! Trash, or removes for good what is in the Trash already.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use mss_core::Right;
use mss_http::percent_encode;
use mss_store::{FlagChange, Folder, NewAuditEntry, StoreError};
use serde::Deserialize;

use super::layout;
use super::mail::{is_special, mail_path, not_found, open, refuse, remove_for_good};
use super::session::{Posted, Visitor};
use crate::Web;

/// The most messages one bulk form may name (a page lists 50).
pub const MAX_SELECTED: usize = 500;

/// What an action form asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Act {
    Flag(FlagChange, &'static str),
    Move,
    Delete,
}

impl Act {
    fn parse(action: &str) -> Option<Act> {
        Some(match action {
            "lu" => Act::Flag(FlagChange::Add, "\\Seen"),
            "non-lu" => Act::Flag(FlagChange::Remove, "\\Seen"),
            "suivi" => Act::Flag(FlagChange::Add, "\\Flagged"),
            "sans-suivi" => Act::Flag(FlagChange::Remove, "\\Flagged"),
            "deplacer" => Act::Move,
            "supprimer" => Act::Delete,
            _ => return None,
        })
    }

    /// What it needs, as IMAP: RFC 4314 §4, STORE of \Seen needs `s`, of
    /// other flags `w`; MOVE needs `t` and `e` here, `i` there.
    fn needs(self) -> &'static [Right] {
        match self {
            Act::Flag(_, "\\Seen") => &[Right::MarkSeen],
            Act::Flag(..) => &[Right::SetFlags],
            Act::Move | Act::Delete => &[Right::Delete, Right::Write],
        }
    }

    /// Its name in the audit trail.
    fn audited_as(self) -> &'static str {
        match self {
            Act::Flag(..) => "webmail.flag",
            Act::Move => "webmail.move",
            Act::Delete => "webmail.delete",
        }
    }

    /// What the refusal says it may not do.
    fn refused(self) -> &'static str {
        match self {
            Act::Flag(_, "\\Seen") => {
                "Votre rôle sur cette boîte ne permet pas de marquer des messages comme lus ou non lus."
            }
            Act::Flag(..) => "Votre rôle sur cette boîte ne permet pas de marquer des messages pour suivi.",
            Act::Move | Act::Delete => {
                "Votre rôle sur cette boîte ne permet pas de déplacer ni de supprimer des messages."
            }
        }
    }
}

/// The outcome of [`apply`].
enum Applied {
    Done,
    Refused(Response),
}

/// Does `act` to `uids` of `current` for `visitor`, if their `rights`
/// allow it; audited either way. `to` names the folder moved to.
async fn apply(
    web: &Web,
    visitor: &Visitor,
    (own, rights, folders): (&str, mss_core::Rights, &[Folder]),
    current: &Folder,
    act: Act,
    uids: &[u32],
    to: Option<&str>,
) -> Result<Applied, StoreError> {
    let at = |uids: &[u32]| {
        let listed = uids.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
        format!("{}/{listed}", current.name)
    };
    if !act.needs().iter().all(|right| rights.has(*right)) {
        let refusal = refuse(web, visitor, act.audited_as(), own, at(uids), act.refused()).await;
        return Ok(Applied::Refused(refusal));
    }
    let meta = &web.store.meta;
    // Only the messages of this folder are acted on and named in the trail.
    let present: Vec<u32> = meta.messages(current.id, uids).await?.iter().map(|m| m.uid).collect();
    if present.is_empty() {
        return Ok(Applied::Done);
    }
    let (uids, at) = (present.as_slice(), at(&present));
    let (action, detail) = match act {
        Act::Flag(change, flag) => {
            let sign = if change == FlagChange::Add { '+' } else { '-' };
            meta.set_flags(current.id, uids, change, &[flag.to_string()], None).await?;
            ("webmail.flag", format!("{at} {sign}{flag}"))
        }
        Act::Move => match folders.iter().find(|f| Some(f.name.as_str()) == to && f.id != current.id) {
            Some(target) => {
                meta.move_messages(current.id, uids, target.id).await?;
                ("webmail.move", format!("{at} to {}", target.name))
            }
            None => {
                return Ok(Applied::Refused(not_found(web, visitor, "Ce dossier n'existe pas dans cette boîte.")));
            }
        },
        // To the Trash; from the Trash (or without one), for good.
        Act::Delete => match folders.iter().find(|f| is_special(f, "\\Trash") && f.id != current.id) {
            Some(trash) => {
                meta.move_messages(current.id, uids, trash.id).await?;
                ("webmail.delete", format!("{at} to {}", trash.name))
            }
            None => {
                remove_for_good(web, current, uids).await?;
                ("webmail.expunge", at)
            }
        },
    };
    web.store.audit.record(NewAuditEntry::now(visitor.actor(), action, own, "ok", detail)).await;
    Ok(Applied::Done)
}

#[derive(Deserialize)]
pub struct ActionForm {
    action: String,
    vers: Option<String>,
}

/// The action form of the message read.
pub async fn act(
    State(web): State<Arc<Web>>,
    Path((address, name, uid)): Path<(String, String, u32)>,
    Posted { visitor, form }: Posted<ActionForm>,
) -> Response {
    let (mailbox, rights, folders) = match open(&web, &visitor, &address).await {
        Ok(opened) => opened,
        Err(response) => return response,
    };
    let Some(current) = folders.iter().find(|f| f.name == name) else {
        return not_found(&web, &visitor, "Ce dossier n'existe pas dans cette boîte.");
    };
    let Some(act) = Act::parse(&form.action) else {
        return not_found(&web, &visitor, "Action inconnue.");
    };
    let own = mailbox.address.to_string();
    let by = (own.as_str(), rights, folders.as_slice());
    match apply(&web, &visitor, by, current, act, &[uid], form.vers.as_deref()).await {
        Ok(Applied::Done) => {}
        Ok(Applied::Refused(response)) => return response,
        Err(e) => return layout::unavailable(e),
    }
    let folder = percent_encode(&current.name);
    match act {
        Act::Flag(..) => {
            Redirect::to(&format!("{}/{folder}/{uid}?fait={}", mail_path(&own), form.action)).into_response()
        }
        Act::Move | Act::Delete => {
            Redirect::to(&format!("{}?dossier={folder}&fait={}", mail_path(&own), form.action)).into_response()
        }
    }
}

/// The bulk form of a list: `m` once per message selected, the list's
/// folder, search, order and page to return to.
pub async fn bulk(
    State(web): State<Arc<Web>>,
    Path(address): Path<String>,
    Posted { visitor, form }: Posted<Vec<(String, String)>>,
) -> Response {
    let (mailbox, rights, folders) = match open(&web, &visitor, &address).await {
        Ok(opened) => opened,
        Err(response) => return response,
    };
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let Some(current) = folders.iter().find(|f| Some(f.name.as_str()) == field("dossier")) else {
        return not_found(&web, &visitor, "Ce dossier n'existe pas dans cette boîte.");
    };
    let Some(act) = field("action").and_then(Act::parse) else {
        return not_found(&web, &visitor, "Action inconnue.");
    };
    let selected = form.iter().filter(|(k, _)| k == "m").map(|(_, v)| v.parse::<u32>());
    let Ok(mut uids) = selected.collect::<Result<Vec<u32>, _>>() else {
        return not_found(&web, &visitor, "Ce message n'existe pas dans ce dossier.");
    };
    uids.sort_unstable();
    uids.dedup();
    let own = mailbox.address.to_string();
    let mut back = format!("{}?dossier={}", mail_path(&own), percent_encode(&current.name));
    for (name, value) in [("q", field("q")), ("tri", field("tri")), ("page", field("page"))] {
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            back.push_str(&format!("&{name}={}", percent_encode(value)));
        }
    }
    if uids.is_empty() {
        return Redirect::to(&format!("{back}&fait=aucun")).into_response();
    }
    if uids.len() > MAX_SELECTED {
        let message = format!("Sélectionnez au plus {MAX_SELECTED} messages à la fois.");
        let status = axum::http::StatusCode::BAD_REQUEST;
        return layout::error_page(&web, status, "Trop de messages sélectionnés", &message, Some(&visitor));
    }
    let by = (own.as_str(), rights, folders.as_slice());
    match apply(&web, &visitor, by, current, act, &uids, field("vers")).await {
        Ok(Applied::Done) => {}
        Ok(Applied::Refused(response)) => return response,
        Err(e) => return layout::unavailable(e),
    }
    Redirect::to(&format!("{back}&fait=lot-{}", field("action").unwrap_or_default())).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_action_needs_what_imap_asks() {
        assert_eq!(Act::parse("lu"), Some(Act::Flag(FlagChange::Add, "\\Seen")));
        assert_eq!(Act::parse("lu").unwrap().needs(), [Right::MarkSeen]);
        assert_eq!(Act::parse("suivi").unwrap().needs(), [Right::SetFlags]);
        assert_eq!(Act::parse("supprimer").unwrap().needs(), [Right::Delete, Right::Write]);
        assert_eq!(Act::parse("effacer-tout"), None);
    }
}
