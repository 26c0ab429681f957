//! What became of a sent message, for software and people alike
//! (`GET /api/mailboxes/{address}/messages/{folder}/{uid}/tracking`): each
//! recipient's delivery state with the last reply, and the receipts that
//! came back with what they mean. The same figures as the webmail's
//! "Suivi de l'envoi", for whoever may read the mailbox: a person, or the
//! software whose applicative mailbox it is.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Json;
use mss_core::Right;
use mss_documents::acks;

use super::software::Acting;
use crate::{Problem, Web};

pub async fn show(
    State(web): State<Arc<Web>>,
    acting: Acting,
    Path((address, folder, uid)): Path<(String, String, u32)>,
) -> Result<Json<serde_json::Value>, Problem> {
    let (mailbox, rights) = acting.on(&web, &address).await?;
    let gone = || Problem::not_found("Aucun message de ce nom dans cette boîte.");
    if !rights.has(Right::Read) {
        return Err(gone());
    }
    let folder = web.store.meta.folder(mailbox.id, &folder).await?.ok_or_else(gone)?;
    let meta = web.store.meta.messages(folder.id, &[uid]).await?.into_iter().next().ok_or_else(gone)?;
    let raw = web.store.blobs.get(&meta.blob).await?.ok_or_else(gone)?;
    let message_id = mss_message::parsed::parse_header(&raw).and_then(|h| h.message_id().map(str::to_string));
    let statuses = web.store.meta.delivery_status(&meta.blob).await?;
    let receipts = match &message_id {
        Some(id) => web.store.meta.receipts(mailbox.id, std::slice::from_ref(id)).await?,
        None => Vec::new(),
    };
    let recipients: Vec<serde_json::Value> = statuses
        .iter()
        .map(|s| {
            serde_json::json!({ "address": s.recipient, "state": s.state.as_str(), "reply": s.reply, "at": s.updated_at })
        })
        .collect();
    let receipts: Vec<serde_json::Value> = receipts
        .iter()
        .map(|r| {
            let ack = acks::parse(r.disposition.as_deref().unwrap_or_default());
            serde_json::json!({ "from": r.from, "disposition": r.disposition, "meaning": ack.explained(), "at": r.at })
        })
        .collect();
    Ok(Json(serde_json::json!({ "message_id": message_id, "recipients": recipients, "receipts": receipts })))
}
