//! The webmail's reading side: the folders of a mailbox with their unread
//! counts, a folder's messages newest first (50 a page), one message read as
//! text with its attachments to download, and what is done to a message
//! (mark unread, flag, move, delete). Writing is [`super::compose`]. Who a
//! person is to a mailbox is the API's ([`access`]: its holder or a member,
//! 404 for anyone else); what that lets them do is `mss_core::rights`, the
//! rule IMAP follows too: marking seen needs `MarkSeen`, flagging `SetFlags`,
//! moving and deleting `Delete` (and `Write` into the folder moved to).
//! Every message opened and attachment downloaded goes to the audit trail,
//! and so does every change to a message, done or refused.
//!
//! Who a message is from is [`Origin`]'s to say: a sender SMTP policy
//! would not have checked is never shown.
//!
//! A message's HTML is shown sanitised ([`html`]): harmless markup only,
//! nothing remote ever loaded; a message without HTML shows its text. Opening a message
//! marks it `\Seen`, as an IMAP client's `BODY[]` does.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use mail_parser::{Address, MessagePart, MimeHeaders};
use maud::{Markup, PreEscaped, html};
use mss_core::{Civil, MailboxState, Right, Rights, rights};
use mss_http::percent_encode;
use mss_message::documents::shown_subject;
use mss_message::parsed;
use mss_store::{FlagChange, Folder, INBOX, Mailbox, MessageMeta, NewAuditEntry};
use serde::Deserialize;

use super::actions;
use super::compose::compose_path;
use super::dispensation_links;
use super::documents;
use super::html;
use super::indicator::indicator_path;
use super::layout;
use super::listing;
use super::mailboxes::switcher;
use super::message_list::{self, View};
use super::origin::{Origin, UNVERIFIABLE_WHY};
use super::patients::patients_path;
use super::receipts;
use super::session::Visitor;
use super::tracking;
use crate::Web;
use crate::shared::{access, visible_mailboxes};

pub fn router() -> Router<Arc<Web>> {
    Router::new()
        .route("/portail/boites/{address}/courrier", get(folder))
        .route("/portail/boites/{address}/courrier/etat", get(folder_state))
        .route("/portail/boites/{address}/courrier/{folder}/{uid}", get(message))
        .route("/portail/boites/{address}/courrier/{folder}/{uid}/pieces/{index}", get(attachment))
        .route("/portail/boites/{address}/courrier/lot", post(actions::bulk))
        .route("/portail/boites/{address}/courrier/{folder}/{uid}/action", post(actions::act))
}

/// A message by folder and UID: `INBOX/12` in forms and links.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    pub folder: String,
    pub uid: u32,
}

impl Located {
    pub fn parse(text: &str) -> Option<Self> {
        let (folder, uid) = text.rsplit_once('/')?;
        Some(Located { folder: folder.to_string(), uid: uid.parse().ok()? })
    }
}

impl std::fmt::Display for Located {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.folder, self.uid)
    }
}

/// The path of the webmail of the mailbox at `address`.
pub fn mail_path(address: &str) -> String {
    format!("/portail/boites/{address}/courrier")
}

/// A folder's name, in French for the well-known ones.
pub fn folder_label(folder: &Folder) -> String {
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

/// `27/11/2026 à 14:05`, in Paris time (as people in France read a clock).
pub fn french_date(at: i64) -> String {
    let Civil { year, month, day, hour, minute, .. } = Civil::paris(at);
    format!("{day:02}/{month:02}/{year:04} à {hour:02}:{minute:02}")
}

/// `532 o`, `12,3 Ko`, `4,0 Mo`.
pub fn french_size(bytes: u64) -> String {
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

pub fn not_found(web: &Web, visitor: &Visitor, message: &str) -> Response {
    layout::error_page(web, StatusCode::NOT_FOUND, "Introuvable", message, Some(visitor))
}

/// The mailbox, the visitor's rights on it and its folders, if the visitor
/// may read it and it is active (IMAP and submission refuse the others the
/// same way).
pub async fn open(web: &Web, visitor: &Visitor, address: &str) -> Result<(Mailbox, Rights, Vec<Folder>), Response> {
    let (mailbox, relation) = access(web, &visitor.caller, address)
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
    let rights = rights(relation, mailbox.kind, mailbox.state);
    if !rights.has(Right::Read) {
        return Err(not_found(web, visitor, "Aucune boîte de ce nom parmi les vôtres."));
    }
    let mut folders = web.store.meta.folders(mailbox.id).await.map_err(layout::unavailable)?;
    folders.sort_by_key(folder_rank);
    Ok((mailbox, rights, folders))
}

/// The mailbox as [`open`] gives it, and the position of its folder `name`
/// (the INBOX when unsaid), or the page saying there is none.
async fn open_folder(
    web: &Web,
    visitor: &Visitor,
    address: &str,
    name: Option<&str>,
) -> Result<(Mailbox, Rights, Vec<Folder>, usize), Response> {
    let (mailbox, rights, folders) = open(web, visitor, address).await?;
    let name = name.unwrap_or(INBOX);
    match folders.iter().position(|f| f.name == name) {
        Some(at) => Ok((mailbox, rights, folders, at)),
        None => Err(not_found(web, visitor, "Ce dossier n'existe pas dans cette boîte.")),
    }
}

/// The message at `at`: its folder, its metadata and its raw bytes, or the
/// page saying it is gone.
pub async fn load<'a>(
    web: &Web,
    visitor: &Visitor,
    folders: &'a [Folder],
    at: &Located,
) -> Result<(&'a Folder, MessageMeta, Vec<u8>), Response> {
    let Some(folder) = folders.iter().find(|f| f.name == at.folder) else {
        return Err(not_found(web, visitor, "Ce dossier n'existe pas dans cette boîte."));
    };
    let meta = match web.store.meta.messages(folder.id, &[at.uid]).await {
        Ok(mut m) if !m.is_empty() => m.remove(0),
        Ok(_) => return Err(not_found(web, visitor, "Ce message n'existe pas, ou plus, dans ce dossier.")),
        Err(e) => return Err(layout::unavailable(e)),
    };
    match web.store.blobs.get(&meta.blob).await {
        Ok(Some(raw)) => Ok((folder, meta, raw)),
        Ok(None) => Err(layout::unavailable(format!("blob of {at} missing"))),
        Err(e) => Err(layout::unavailable(e)),
    }
}

/// `type/subtype` of a part (`application/octet-stream` when unsaid).
pub fn content_type(part: &MessagePart<'_>) -> String {
    part.content_type().map_or_else(
        || "application/octet-stream".to_string(),
        |ct| match ct.subtype() {
            Some(sub) => format!("{}/{sub}", ct.ctype()),
            None => ct.ctype().to_string(),
        },
    )
}

/// The list a page shows: its search, order and page (the folder page's
/// and the message page's query string alike).
#[derive(Deserialize, Default)]
struct ListAsked {
    /// The page, from 1 (text: a flattened field reads as text, and a page
    /// that is no number is the first).
    page: Option<String>,
    /// Words to search for.
    q: Option<String>,
    /// The order (see [`listing::Order::parse`]).
    tri: Option<String>,
}

impl ListAsked {
    /// The words searched, trimmed and bounded.
    fn query(&self) -> String {
        self.q.as_deref().unwrap_or_default().trim().chars().take(200).collect()
    }

    fn page(&self) -> usize {
        self.page.as_deref().and_then(|p| p.parse().ok()).unwrap_or(1)
    }
}

#[derive(Deserialize)]
struct Chosen {
    dossier: Option<String>,
    #[serde(flatten)]
    list: ListAsked,
    /// What was just done, to confirm it.
    fait: Option<String>,
}

/// The confirmation of what was just done, and whether it is a success.
fn done_message(what: Option<&str>) -> Option<(&'static str, &'static str)> {
    let done = match what? {
        "envoye" => "Votre message a été envoyé.",
        "brouillon" => "Le brouillon est enregistré.",
        "supprimer" => "Le message est supprimé.",
        "deplacer" => "Le message est déplacé.",
        "lot-lu" => "Les messages sélectionnés sont marqués comme lus.",
        "lot-non-lu" => "Les messages sélectionnés sont marqués comme non lus.",
        "lot-suivi" => "Les messages sélectionnés sont marqués pour suivi.",
        "lot-deplacer" => "Les messages sélectionnés sont déplacés.",
        "lot-supprimer" => "Les messages sélectionnés sont supprimés.",
        "aucun" => return Some(("erreur", "Aucun message n'est sélectionné : cochez ceux à traiter.")),
        _ => return None,
    };
    Some(("succes", done))
}

/// The folder pane: a new message, the folders with their unread counts,
/// the mailbox's other pages, the keyboard shortcuts, the other mailboxes.
async fn folder_pane(
    web: &Web,
    visitor: &Visitor,
    (mailbox, rights): (&Mailbox, Rights),
    folders: &[Folder],
    current: &Folder,
) -> Result<Markup, Response> {
    let mut counts = Vec::with_capacity(folders.len());
    for f in folders {
        counts.push(web.store.meta.folder_counts(f.id).await.map_err(layout::unavailable)?);
    }
    let usable = visible_mailboxes(web, &visitor.caller)
        .await
        .map_err(|p| layout::error_page(web, p.status, "Boîtes indisponibles", &p.detail, Some(visitor)))?;
    let own = mailbox.address.to_string();
    let base = mail_path(&own);
    let folder_link = |f: &Folder| format!("{base}?dossier={}", percent_encode(&f.name));
    Ok(html! {
        div class="volet-dossiers" {
            @if web.sending.is_some() {
                p { a class="bouton nouveau" href=(compose_path(&own)) data-raccourci="n" { "Nouveau message" } }
            }
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
                    li class="patients" { a href=(patients_path(&own)) { "Patients" } }
                    @if mailbox.finess.is_some() && rights.has(Right::CreateFolders) {
                        li { a href=(indicator_path(&own)) { "Indicateur 5 %" } }
                    }
                    li { a href=(format!("/portail/boites/{own}/mots-de-passe")) { "Mots de passe d'application" } }
                }
            }
            (switcher(&usable, mailbox))
            details class="raccourcis" {
                summary { "Raccourcis clavier" }
                dl {
                    dt { kbd { "j" } " / " kbd { "k" } } dd { "Message suivant / précédent" }
                    dt { kbd { "Entrée" } } dd { "Ouvrir le message" }
                    dt { kbd { "n" } } dd { "Nouveau message" }
                    dt { kbd { "r" } " / " kbd { "a" } " / " kbd { "f" } } dd { "Répondre / à tous / transférer" }
                    dt { kbd { "x" } } dd { "Sélectionner le message" }
                    dt { kbd { "/" } } dd { "Rechercher" }
                    dt { kbd { "Suppr" } } dd { "Supprimer le message ouvert" }
                }
            }
        }
    })
}

/// The list pane: the search form, what it found, the list with its bulk
/// actions; `heading` is the pane's heading level (`h1` alone on the folder
/// page, `h2` beside a message).
async fn list_pane(web: &Web, view: &View<'_>, asked: &ListAsked, heading: u8) -> Result<Markup, Response> {
    let order = view.order;
    let query = view.query;
    let listing = listing::list(web, view.current, query, order, asked.page()).await;
    let listing = listing.map_err(layout::unavailable)?;
    let searching = !query.is_empty();
    let label = folder_label(view.current);
    let base = mail_path(&view.mailbox.address.to_string());
    let total = listing.total;
    Ok(html! {
        section class="volet-liste" id="messages" aria-labelledby="liste" {
            @if heading == 1 { h1 id="liste" { (label) } } @else { h2 id="liste" { (label) } }
            form method="get" action=(base) class="recherche" role="search" {
                input type="hidden" name="dossier" value=(view.current.name);
                div class="champ" {
                    label for="q" class="masque" { "Rechercher (expéditeur, destinataires, objet, texte)" }
                    input type="search" id="q" name="q" value=(query) placeholder="Rechercher : expéditeur, objet, texte…";
                }
                div class="champ" {
                    label for="tri" class="masque" { "Trier par" }
                    select id="tri" name="tri" {
                        @for (value, text) in [("recent", "Les plus récents d'abord"), ("ancien", "Les plus anciens d'abord"), ("expediteur", "Par expéditeur"), ("objet", "Par objet")] {
                            option value=(value) selected[order.as_str() == value] { (text) }
                        }
                    }
                }
                button type="submit" class="secondaire" { "Rechercher" }
            }
            @if searching {
                p role="status" {
                    @if total == 0 { "Aucun message ne correspond à « " (query) " »." }
                    @else if total == 1 { "1 message correspond à « " (query) " »." }
                    @else { (total) " messages correspondent à « " (query) " »." }
                }
            } @else if total > 0 {
                p class="nombre" { @if total == 1 { "1 message" } @else { (total) " messages" } }
            }
            @if listing.indexing {
                p role="status" {
                    "Des messages de ce dossier sont encore en cours d'indexation : la recherche et le tri ne les voient pas encore."
                }
            }
            p id="annonce" class="masque" aria-live="polite" {}
            div id="liste-messages" data-etat=(format!("{base}/etat?dossier={}", percent_encode(&view.current.name))) data-uidnext=(view.current.uidnext) {
                (message_list::list(view, &listing))
            }
        }
    })
}

async fn folder(
    State(web): State<Arc<Web>>,
    Path(address): Path<String>,
    Query(chosen): Query<Chosen>,
    visitor: Visitor,
) -> Response {
    let (mailbox, rights, folders, at) = match open_folder(&web, &visitor, &address, chosen.dossier.as_deref()).await {
        Ok(opened) => opened,
        Err(response) => return response,
    };
    let current = &folders[at];
    let pane = match folder_pane(&web, &visitor, (&mailbox, rights), &folders, current).await {
        Ok(pane) => pane,
        Err(response) => return response,
    };
    let query = chosen.list.query();
    let csrf = visitor.csrf();
    let view = View::of((&mailbox, rights, &folders), current, (&query, chosen.list.tri.as_deref()), &csrf, None);
    let list = match list_pane(&web, &view, &chosen.list, 1).await {
        Ok(list) => list,
        Err(response) => return response,
    };
    let main = html! {
        @if let Some((kind, done)) = done_message(chosen.fait.as_deref()) { (layout::alert(kind, done)) }
        div class="client" { (pane) (list) }
    };
    let title = format!("{} · {}", folder_label(current), mailbox.display_name);
    layout::client_page(&web, &title, Some(&visitor), main).into_response()
}

#[derive(Deserialize)]
struct StateOf {
    dossier: Option<String>,
}

/// What the page's script polls to notice new mail: the folder's UIDNEXT
/// (it grows with every message that arrives) and its unread count.
async fn folder_state(
    State(web): State<Arc<Web>>,
    Path(address): Path<String>,
    Query(of): Query<StateOf>,
    visitor: Visitor,
) -> Response {
    let (_, _, folders, at) = match open_folder(&web, &visitor, &address, of.dossier.as_deref()).await {
        Ok(opened) => opened,
        Err(response) => return response,
    };
    let current = &folders[at];
    match web.store.meta.folder_counts(current.id).await {
        Ok(counts) => {
            axum::Json(serde_json::json!({ "uidnext": current.uidnext, "non_lus": counts.unseen })).into_response()
        }
        Err(e) => layout::unavailable(e),
    }
}

/// An attachment as listed.
struct Attachment {
    name: String,
    kind: String,
    size: u64,
}

#[derive(Deserialize)]
struct Shown {
    fait: Option<String>,
    /// The list shown beside the message.
    #[serde(flatten)]
    list: ListAsked,
}

async fn message(
    State(web): State<Arc<Web>>,
    Path((address, name, uid)): Path<(String, String, u32)>,
    Query(shown): Query<Shown>,
    visitor: Visitor,
) -> Response {
    let (mailbox, rights, folders) = match open(&web, &visitor, &address).await {
        Ok(opened) => opened,
        Err(response) => return response,
    };
    let at = Located { folder: name, uid };
    let (current, meta, raw) = match load(&web, &visitor, &folders, &at).await {
        Ok(loaded) => loaded,
        Err(response) => return response,
    };
    // RFC 3501 §6.4.5, as IMAP's BODY[]: seen, for those who may mark it (s).
    if rights.has(Right::MarkSeen) && !meta.has_flag("\\Seen") && shown.fait.as_deref() != Some("non-lu") {
        let seen = ["\\Seen".to_string()];
        if let Err(e) = web.store.meta.set_flags(current.id, &[uid], FlagChange::Add, &seen, None).await {
            return layout::unavailable(e);
        }
    }
    // Who read which message, as for a download: health data.
    let entry = NewAuditEntry::now(visitor.actor(), "webmail.read", &address, "ok", at.to_string());
    web.store.audit.record(entry).await;
    let parsed = parsed::parse(&raw);
    let html = parsed.as_deref().and_then(html::safe_html);
    let origin = Origin::of(&raw);
    let (to, cc, subject, date, body, attachments) = match &parsed {
        Some(m) => {
            let attachments: Vec<Attachment> = m
                .attachments()
                .map(|part| Attachment {
                    name: part.attachment_name().unwrap_or("(sans nom)").to_string(),
                    kind: content_type(part),
                    size: part.len() as u64,
                })
                .collect();
            (
                addresses(m.to()),
                addresses(m.cc()),
                shown_subject(m.subject().unwrap_or_default()).to_string(),
                m.date().map_or(meta.received_at, mail_parser::DateTime::to_timestamp),
                m.body_text(0).map(|b| b.into_owned()).unwrap_or_default(),
                attachments,
            )
        }
        None => (String::new(), String::new(), String::new(), meta.received_at, String::new(), vec![]),
    };
    let message_id = parsed.as_ref().and_then(|m| m.message_id().map(str::to_string));
    let tracking = match tracking::section(&web, &mailbox, &meta, message_id.as_deref()).await {
        Ok(section) => section,
        Err(e) => return layout::unavailable(e),
    };
    let own = mailbox.address.to_string();
    let back = format!("{}?dossier={}", mail_path(&own), percent_encode(&current.name));
    let here = format!("{}/{}/{uid}", mail_path(&own), percent_encode(&current.name));
    let found = parsed.as_deref().map(mss_message::documents::attached).unwrap_or_default();
    let copies = match documents::copies(&web, mailbox.id, &found).await {
        Ok(copies) => copies,
        Err(e) => return layout::unavailable(e),
    };
    let base = mail_path(&own);
    let elsewhere = documents::Elsewhere { base: &base, folders: &folders, at: &at, copies: &copies };
    let csrf = visitor.csrf();
    let linked = match dispensation_links::section(&web, &mailbox, rights, message_id.as_deref(), &here, &csrf).await {
        Ok(section) => section,
        Err(e) => return layout::unavailable(e),
    };
    let located = percent_encode(&at.to_string());
    let compose = compose_path(&own);
    let may_move = rights.has(Right::Delete) && rights.has(Right::Write);
    let flagged = meta.has_flag("\\Flagged");
    let title = if subject.is_empty() { "(sans objet)".to_string() } else { subject };
    let pane = match folder_pane(&web, &visitor, (&mailbox, rights), &folders, current).await {
        Ok(pane) => pane,
        Err(response) => return response,
    };
    let query = shown.list.query();
    let view = View::of((&mailbox, rights, &folders), current, (&query, shown.list.tri.as_deref()), &csrf, Some(uid));
    let list = match list_pane(&web, &view, &shown.list, 2).await {
        Ok(list) => list,
        Err(response) => return response,
    };
    let back = format!("{back}{}", view.kept(shown.list.page()).replacen('?', "&", 1));
    let reading = html! {
        @if let Some(done) = shown.fait.as_deref().and_then(|f| match f {
            "non-lu" => Some("Le message est marqué comme non lu."),
            "suivi" => Some("Le message est marqué pour suivi."),
            "sans-suivi" => Some("Le message n'est plus marqué pour suivi."),
            "accuse" => Some("L'accusé de lecture est envoyé."),
            "delivrance" => Some("Le message est lié à la délivrance : il compte pour l'indicateur 5 %."),
            _ => None,
        }) { (layout::alert("succes", done)) }
        p class="retour-liste" { a href=(back) { "Retour au dossier " (folder_label(current)) } }
        h1 id="titre-message" { (title) }
        @if !origin.is_verifiable() { (layout::alert("erreur", UNVERIFIABLE_WHY)) }
        @if web.sending.is_some() {
            ul class="outils" aria-label="Répondre" {
                li { a class="bouton" href=(format!("{compose}?repondre={located}")) data-raccourci="r" { "Répondre" } }
                li { a class="bouton secondaire" href=(format!("{compose}?repondre={located}&tous=1")) data-raccourci="a" { "Répondre à tous" } }
                li { a class="bouton secondaire" href=(format!("{compose}?transferer={located}")) data-raccourci="f" { "Transférer" } }
            }
        }
        h2 class="masque" { "Actions" }
        form method="post" action=(format!("{here}/action")) class="actions-message" id="actions-message" {
            input type="hidden" name="csrf" value=(visitor.csrf());
            @if rights.has(Right::MarkSeen) {
                button type="submit" name="action" value="non-lu" class="secondaire" { "Marquer comme non lu" }
            }
            @if rights.has(Right::SetFlags) {
                @if flagged {
                    button type="submit" name="action" value="sans-suivi" class="secondaire" { "Ne plus suivre" }
                } @else {
                    button type="submit" name="action" value="suivi" class="secondaire" { "Marquer pour suivi" }
                }
            }
            @if may_move {
                div class="champ ligne" {
                    label for="vers" { "Déplacer vers" }
                    select id="vers" name="vers" {
                        @for f in folders.iter().filter(|f| f.id != current.id) {
                            option value=(f.name) { (folder_label(f)) }
                        }
                    }
                    button type="submit" name="action" value="deplacer" class="secondaire" { "Déplacer" }
                }
                button type="submit" name="action" value="supprimer" class="danger" data-raccourci="Delete" { "Supprimer" }
            }
        }
        dl class="entetes" {
            dt { "De" } dd { (origin.shown()) }
            dt { "À" } dd { (to) }
            @if !cc.is_empty() { dt { "Cc" } dd { (cc) } }
            dt { "Date" } dd { (french_date(date)) }
            dt { "Objet" } dd { (title) }
            @if flagged { dt { "Suivi" } dd { "Marqué pour suivi" } }
        }
        h2 class="masque" { "Contenu du message" }
        @if let Some(html) = &html {
            div class="corps-html" { (PreEscaped(html)) }
        } @else {
            pre class="corps" { (body) }
        }
        (tracking)
        @if let Some(message) = &parsed {
            (receipts::offer(&web, message, &meta, rights, &here, &visitor.csrf()))
            (documents::section(&found, &here, &elsewhere))
        }
        (linked)
        @if !attachments.is_empty() {
            h2 { "Pièces jointes" }
            ul class="pieces" {
                @for (i, a) in attachments.iter().enumerate() {
                    li {
                        a href=(format!("{here}/pieces/{i}")) download=(a.name) { (a.name) }
                        " · " (a.kind) " · " (french_size(a.size))
                    }
                }
            }
        }
    };
    let main = html! {
        div class="client lecture" {
            (pane)
            (list)
            article class="volet-lecture" aria-labelledby="titre-message" { (reading) }
        }
    };
    layout::client_page(&web, &title, Some(&visitor), main).into_response()
}

/// One attachment, downloaded: never shown inline, whatever it claims to be.
async fn attachment(
    State(web): State<Arc<Web>>,
    Path((address, name, uid, index)): Path<(String, String, u32, usize)>,
    visitor: Visitor,
) -> Response {
    let (_, _, folders) = match open(&web, &visitor, &address).await {
        Ok(opened) => opened,
        Err(response) => return response,
    };
    let at = Located { folder: name, uid };
    let (_, _, raw) = match load(&web, &visitor, &folders, &at).await {
        Ok(loaded) => loaded,
        Err(response) => return response,
    };
    let parsed = parsed::parse(&raw);
    let Some(part) = parsed.as_ref().and_then(|m| m.attachments().nth(index)) else {
        return not_found(&web, &visitor, "Cette pièce jointe n'existe pas dans ce message.");
    };
    let file_name = part.attachment_name().unwrap_or("piece-jointe");
    let ascii: String =
        file_name.chars().map(|c| if c.is_ascii_alphanumeric() || ".-_".contains(c) { c } else { '_' }).collect();
    let disposition = format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{}", percent_encode(file_name));
    let entry = NewAuditEntry::now(visitor.actor(), "webmail.download", &address, "ok", format!("{at} part={index}"));
    web.store.audit.record(entry).await;
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream")),
        (
            header::CONTENT_DISPOSITION,
            HeaderValue::from_str(&disposition).unwrap_or(HeaderValue::from_static("attachment")),
        ),
    ];
    (headers, part.contents().to_vec()).into_response()
}

/// Whether `folder` has the RFC 6154 attribute `special_use` (`\\Trash`).
pub fn is_special(folder: &Folder, special_use: &str) -> bool {
    folder.special_use.as_deref().is_some_and(|u| u.eq_ignore_ascii_case(special_use))
}

/// Removes messages from `folder` for good (flagged `\\Deleted`, expunged).
pub async fn remove_for_good(web: &Web, folder: &Folder, uids: &[u32]) -> Result<(), mss_store::StoreError> {
    let deleted = ["\\Deleted".to_string()];
    web.store.meta.set_flags(folder.id, uids, FlagChange::Add, &deleted, None).await?;
    web.store.meta.expunge(folder.id, Some(uids)).await.map(|_| ())
}

/// The page refusing what the visitor's role does not allow, the refusal
/// audited as `action` on `address`.
pub async fn refuse(web: &Web, visitor: &Visitor, action: &str, address: &str, detail: String, why: &str) -> Response {
    let entry = NewAuditEntry::now(visitor.actor(), action, address, "refused: role", detail);
    web.store.audit.record(entry).await;
    layout::error_page(web, StatusCode::FORBIDDEN, "Action refusée", why, Some(visitor))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn french_dates_and_sizes() {
        assert_eq!(french_date(0), "01/01/1970 à 01:00");
        assert_eq!(french_date(1_795_744_029), "27/11/2026 à 02:47");
        assert_eq!(french_size(532), "532 o");
        assert_eq!(french_size(12_595), "12,3 Ko");
        assert_eq!(french_size(4 * 1024 * 1024), "4,0 Mo");
    }
}
