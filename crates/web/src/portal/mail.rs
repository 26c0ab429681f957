//! The read-only webmail: the folders of a mailbox with their unread counts,
//! a folder's messages newest first (50 a page), and one message read as
//! text. Who may read a mailbox is the API's rule ([`access`]: its holder or
//! a person with a role on it, 404 for anyone else).
//!
//! A message is never rendered as HTML: the page shows its text/plain body,
//! or the text of its HTML with every tag removed, escaped; nothing remote
//! is ever loaded (the portal's CSP forbids it anyway). Opening a message
//! marks it `\Seen`, as an IMAP client's `BODY[]` does.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use mail_parser::{Address, MessageParser, MimeHeaders};
use maud::html;
use mss_core::MailboxState;
use mss_store::{FlagChange, Folder, INBOX, Mailbox, MessageMeta};
use serde::Deserialize;

use super::layout::{self, Section};
use super::session::{Visitor, encode};
use crate::Web;
use crate::api::mailboxes::access;

/// Messages per page of a folder.
const PAGE: usize = 50;
/// The part of a message the list reads (its header, in practice).
const HEADER_MAX: usize = 64 * 1024;

pub fn router() -> Router<Arc<Web>> {
    Router::new()
        .route("/portail/boites/{address}/courrier", get(folder))
        .route("/portail/boites/{address}/courrier/{folder}/{uid}", get(message))
}

/// The path of the webmail of the mailbox at `address`.
pub fn mail_path(address: &str) -> String {
    format!("/portail/boites/{address}/courrier")
}

/// A folder's name, in French for the well-known ones.
fn folder_label(folder: &Folder) -> String {
    let by_use = match folder.special_use.as_deref().map(str::to_ascii_lowercase).as_deref() {
        Some("\\sent") => Some("Envoyés"),
        Some("\\drafts") => Some("Brouillons"),
        Some("\\trash") => Some("Corbeille"),
        Some("\\junk") => Some("Indésirables"),
        Some("\\archive") => Some("Archives"),
        _ => None,
    };
    let by_name = match folder.name.as_str() {
        n if n.eq_ignore_ascii_case(INBOX) => Some("Boîte de réception"),
        "Sent" => Some("Envoyés"),
        "Drafts" => Some("Brouillons"),
        "Trash" => Some("Corbeille"),
        "Junk" => Some("Indésirables"),
        "Archive" => Some("Archives"),
        _ => None,
    };
    by_name.or(by_use).map_or_else(|| folder.name.clone(), str::to_string)
}

/// INBOX first, then the special folders, then the others by name.
fn folder_rank(folder: &Folder) -> (u8, String) {
    let rank = if folder.name.eq_ignore_ascii_case(INBOX) {
        0
    } else if folder.special_use.is_some() {
        1
    } else {
        2
    };
    (rank, folder.name.clone())
}

/// `27/11/2026 à 14:05 UTC`.
fn french_date(at: i64) -> String {
    let (days, secs) = (at.div_euclid(86_400), at.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{day:02}/{month:02}/{year:04} à {:02}:{:02} UTC", secs / 3600, secs % 3600 / 60)
}

/// `532 o`, `12,3 Ko`, `4,0 Mo`.
fn french_size(bytes: u64) -> String {
    // Precision loss is irrelevant for a size shown to one decimal.
    #[allow(clippy::cast_precision_loss)]
    let b = bytes as f64;
    let (value, unit) = if bytes < 1024 {
        return format!("{bytes} o");
    } else if bytes < 1024 * 1024 {
        (b / 1024.0, "Ko")
    } else if bytes < 1024 * 1024 * 1024 {
        (b / (1024.0 * 1024.0), "Mo")
    } else {
        (b / (1024.0 * 1024.0 * 1024.0), "Go")
    };
    format!("{value:.1} {unit}").replace('.', ",")
}

/// `Name <address>` for each address, comma-separated.
fn addresses(address: Option<&Address<'_>>) -> String {
    address
        .map(|a| {
            a.iter()
                .map(|addr| match (addr.name(), addr.address()) {
                    (Some(name), Some(address)) => format!("{name} <{address}>"),
                    (Some(name), None) => name.to_string(),
                    (None, Some(address)) => address.to_string(),
                    (None, None) => String::new(),
                })
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

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

/// What the list shows of a message.
struct Summary {
    meta: MessageMeta,
    from: String,
    subject: String,
    date: i64,
}

fn summary(meta: MessageMeta, raw: Option<&[u8]>) -> Summary {
    let parsed = raw.and_then(|raw| MessageParser::default().parse_headers(header_of(raw)));
    let (from, subject, date) = match &parsed {
        Some(m) => (
            addresses(m.from()),
            m.subject().unwrap_or_default().to_string(),
            m.date().map_or(meta.received_at, mail_parser::DateTime::to_timestamp),
        ),
        None => (String::new(), String::new(), meta.received_at),
    };
    Summary { meta, from, subject, date }
}

fn not_found(web: &Web, visitor: &Visitor, message: &str) -> Response {
    layout::error_page(web, StatusCode::NOT_FOUND, "Introuvable", message, Some(visitor))
}

/// The mailbox and its folders, if the visitor may read it and it is
/// active (IMAP and submission refuse the others the same way).
async fn open(web: &Web, visitor: &Visitor, address: &str) -> Result<(Mailbox, Vec<Folder>), Response> {
    let (mailbox, _) = access(web, &visitor.caller, address)
        .await
        .map_err(|p| layout::error_page(web, p.status, "Boîte introuvable", &p.detail, Some(visitor)))?;
    let closed = match mailbox.state {
        MailboxState::Active => None,
        MailboxState::Pending => Some(
            "La boîte est en cours de création : son courrier sera lisible dès que l'ANS aura validé les informations transmises.",
        ),
        MailboxState::Suspended => Some("Cette boîte est suspendue : son courrier n'est pas lisible."),
        MailboxState::Deleted => Some("Cette boîte a été supprimée."),
    };
    if let Some(message) = closed {
        return Err(layout::error_page(web, StatusCode::CONFLICT, "Courrier indisponible", message, Some(visitor)));
    }
    let mut folders = web.store.meta.folders(mailbox.id).await.map_err(layout::unavailable)?;
    folders.sort_by_key(folder_rank);
    Ok((mailbox, folders))
}

#[derive(Deserialize)]
struct Chosen {
    dossier: Option<String>,
    page: Option<usize>,
}

async fn folder(
    State(web): State<Arc<Web>>,
    Path(address): Path<String>,
    Query(chosen): Query<Chosen>,
    visitor: Visitor,
) -> Response {
    let (mailbox, folders) = match open(&web, &visitor, &address).await {
        Ok(opened) => opened,
        Err(response) => return response,
    };
    let name = chosen.dossier.as_deref().unwrap_or(INBOX);
    let Some(current) = folders.iter().find(|f| f.name == name) else {
        return not_found(&web, &visitor, "Ce dossier n'existe pas dans cette boîte.");
    };
    let mut counts = Vec::with_capacity(folders.len());
    for f in &folders {
        match web.store.meta.folder_counts(f.id).await {
            Ok(c) => counts.push(c),
            Err(e) => return layout::unavailable(e),
        }
    }
    let mut uids = match web.store.meta.folder_uids(current.id).await {
        Ok(uids) => uids,
        Err(e) => return layout::unavailable(e),
    };
    uids.reverse();
    let pages = uids.len().div_ceil(PAGE).max(1);
    let page = chosen.page.unwrap_or(1).clamp(1, pages);
    let mut shown: Vec<u32> = uids.iter().skip((page - 1) * PAGE).take(PAGE).copied().collect();
    shown.sort_unstable(); // the store wants them ascending
    let mut metas = match web.store.meta.messages(current.id, &shown).await {
        Ok(m) => m,
        Err(e) => return layout::unavailable(e),
    };
    metas.sort_by_key(|m| std::cmp::Reverse(m.uid));
    let hashes: Vec<_> = metas.iter().map(|m| m.blob).collect();
    let bodies = match web.store.blobs.get_many(&hashes).await {
        Ok(b) => b,
        Err(e) => return layout::unavailable(e),
    };
    let summaries: Vec<Summary> =
        metas.into_iter().zip(bodies).map(|(meta, raw)| summary(meta, raw.as_deref())).collect();

    let base = mail_path(&mailbox.address.to_string());
    let folder_link = |f: &Folder| format!("{base}?dossier={}", encode(&f.name));
    let page_link = |p: usize| format!("{base}?dossier={}&page={p}", encode(&current.name));
    let label = folder_label(current);
    let main = html! {
        p class="aide" { (mailbox.address.to_string()) " · " (mailbox.display_name) }
        div class="courrier" {
            nav aria-label="Dossiers" class="dossiers" {
                ul {
                    @for (f, c) in folders.iter().zip(&counts) {
                        li {
                            a href=(folder_link(f)) aria-current=[(f.id == current.id).then_some("page")] {
                                (folder_label(f))
                                @if c.unseen > 0 {
                                    " " span class="compte" { (c.unseen) span class="masque" { " non lus" } }
                                }
                            }
                        }
                    }
                }
            }
            section aria-labelledby="liste" {
                h2 id="liste" { (label) }
                @if summaries.is_empty() {
                    p { "Ce dossier est vide." }
                } @else {
                    div class="tableau" {
                        table {
                            caption { "Messages du dossier " (label) ", du plus récent au plus ancien" }
                            thead { tr { th scope="col" { "Expéditeur" } th scope="col" { "Objet" } th scope="col" { "Date" } th scope="col" { "Taille" } } }
                            tbody {
                                @for s in &summaries {
                                    @let unread = !s.meta.has_flag("\\Seen");
                                    tr class=[unread.then_some("non-lu")] {
                                        td data-label="Expéditeur" { (s.from) }
                                        th scope="row" data-label="Objet" {
                                            a href=(format!("{base}/{}/{}", encode(&current.name), s.meta.uid)) {
                                                @if s.subject.is_empty() { "(sans objet)" } @else { (s.subject) }
                                            }
                                            @if unread { span class="masque" { " (non lu)" } }
                                        }
                                        td data-label="Date" { (french_date(s.date)) }
                                        td data-label="Taille" { (french_size(s.meta.size)) }
                                    }
                                }
                            }
                        }
                    }
                    @if pages > 1 {
                        nav aria-label="Pages" class="pagination" {
                            ul {
                                @if page > 1 { li { a href=(page_link(page - 1)) { "Page précédente" } } }
                                li { "Page " (page) " sur " (pages) }
                                @if page < pages { li { a href=(page_link(page + 1)) { "Page suivante" } } }
                            }
                        }
                    }
                }
            }
        }
    };
    layout::page(&web, "Courrier", Some(&visitor), Section::Mailboxes, main).into_response()
}

/// An attachment as listed.
struct Attachment {
    name: String,
    kind: String,
    size: u64,
}

async fn message(
    State(web): State<Arc<Web>>,
    Path((address, name, uid)): Path<(String, String, u32)>,
    visitor: Visitor,
) -> Response {
    let (mailbox, folders) = match open(&web, &visitor, &address).await {
        Ok(opened) => opened,
        Err(response) => return response,
    };
    let Some(current) = folders.iter().find(|f| f.name == name) else {
        return not_found(&web, &visitor, "Ce dossier n'existe pas dans cette boîte.");
    };
    let meta = match web.store.meta.messages(current.id, &[uid]).await {
        Ok(mut m) if !m.is_empty() => m.remove(0),
        Ok(_) => return not_found(&web, &visitor, "Ce message n'existe pas, ou plus, dans ce dossier."),
        Err(e) => return layout::unavailable(e),
    };
    let raw = match web.store.blobs.get(&meta.blob).await {
        Ok(Some(raw)) => raw,
        Ok(None) => return layout::unavailable(format!("blob of {} uid {uid} missing", current.name)),
        Err(e) => return layout::unavailable(e),
    };
    if !meta.has_flag("\\Seen") {
        let seen = ["\\Seen".to_string()];
        if let Err(e) = web.store.meta.set_flags(current.id, &[uid], FlagChange::Add, &seen, None).await {
            return layout::unavailable(e);
        }
    }
    let parsed = MessageParser::default().parse(&raw);
    let (from, to, cc, subject, date, body, attachments) = match &parsed {
        Some(m) => {
            let attachments: Vec<Attachment> = m
                .attachments()
                .map(|part| Attachment {
                    name: part.attachment_name().unwrap_or("(sans nom)").to_string(),
                    kind: part.content_type().map_or_else(
                        || "application/octet-stream".to_string(),
                        |ct| match ct.subtype() {
                            Some(sub) => format!("{}/{sub}", ct.ctype()),
                            None => ct.ctype().to_string(),
                        },
                    ),
                    size: part.len() as u64,
                })
                .collect();
            (
                addresses(m.from()),
                addresses(m.to()),
                addresses(m.cc()),
                m.subject().unwrap_or_default().to_string(),
                m.date().map_or(meta.received_at, mail_parser::DateTime::to_timestamp),
                m.body_text(0).map(|b| b.into_owned()).unwrap_or_default(),
                attachments,
            )
        }
        None => (String::new(), String::new(), String::new(), String::new(), meta.received_at, String::new(), vec![]),
    };
    let back = format!("{}?dossier={}", mail_path(&mailbox.address.to_string()), encode(&current.name));
    let title = if subject.is_empty() { "(sans objet)".to_string() } else { subject };
    let main = html! {
        p { a href=(back) { "Retour au dossier " (folder_label(current)) } }
        dl class="entetes" {
            dt { "De" } dd { (from) }
            dt { "À" } dd { (to) }
            @if !cc.is_empty() { dt { "Cc" } dd { (cc) } }
            dt { "Date" } dd { (french_date(date)) }
            dt { "Objet" } dd { (title) }
        }
        h2 class="masque" { "Contenu du message" }
        pre class="corps" { (body) }
        @if !attachments.is_empty() {
            h2 { "Pièces jointes" }
            ul class="pieces" {
                @for a in &attachments {
                    li { (a.name) " · " (a.kind) " · " (french_size(a.size)) }
                }
            }
        }
    };
    layout::page(&web, &title, Some(&visitor), Section::Mailboxes, main).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn french_dates_and_sizes() {
        assert_eq!(french_date(0), "01/01/1970 à 00:00 UTC");
        assert_eq!(french_date(1_795_744_029), "27/11/2026 à 01:47 UTC");
        assert_eq!(french_size(532), "532 o");
        assert_eq!(french_size(12_595), "12,3 Ko");
        assert_eq!(french_size(4 * 1024 * 1024), "4,0 Mo");
    }

    #[test]
    fn the_header_stops_at_the_blank_line() {
        assert_eq!(header_of(b"Subject: a\r\n\r\nbody"), b"Subject: a\r\n\r\n");
        assert_eq!(header_of(b"Subject: a\n\nbody"), b"Subject: a\n\n");
    }
}
