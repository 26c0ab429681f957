//! What the pharmacy software polls to show its envelope icon
//! (`GET /api/unread`): for each mailbox the caller may read, the unread
//! messages of its INBOX and the webmail page that opens it. A person (their
//! session) gets the mailboxes they hold or have a role on; the pharmacy
//! software (its applicative mailbox) its own and the organisational
//! mailboxes of its FINESS. Counts only: nothing of the messages.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Json;
use mss_core::{MailboxKind, Right, rights};
use mss_store::{INBOX, Mailbox};

use super::software::Acting;
use crate::shared::visible_mailboxes;
use crate::{Problem, Web};

pub async fn show(State(web): State<Arc<Web>>, acting: Acting) -> Result<Json<serde_json::Value>, Problem> {
    let mailboxes: Vec<Mailbox> = match &acting {
        Acting::Person(caller) => visible_mailboxes(&web, caller)
            .await?
            .into_iter()
            .filter(|(m, role)| {
                let relation = match role {
                    Some(role) => mss_core::Relation::Member(*role),
                    None => mss_core::Relation::Holder,
                };
                rights(relation, m.kind, m.state).has(Right::Read)
            })
            .map(|(m, _)| m)
            .collect(),
        Acting::Software(principal) => {
            let own = principal.mailbox.clone();
            let mut found = vec![own.clone()];
            if let Some(finess) = &own.finess {
                let all = web.store.meta.mailboxes().await?;
                found.extend(all.into_iter().filter(|m| {
                    m.kind == MailboxKind::Organisational
                        && m.finess.as_ref() == Some(finess)
                        && m.state.receives_mail()
                }));
            }
            found
        }
    };
    let mut out = Vec::with_capacity(mailboxes.len());
    for mailbox in mailboxes {
        let Some(inbox) = web.store.meta.folder(mailbox.id, INBOX).await? else { continue };
        let counts = web.store.meta.folder_counts(inbox.id).await?;
        out.push(serde_json::json!({
            "address": mailbox.address.to_string(),
            "name": mailbox.display_name,
            "unread": counts.unseen,
            "webmail": format!("/portail/boites/{}/courrier", mailbox.address),
        }));
    }
    Ok(Json(serde_json::json!({ "mailboxes": out })))
}
