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
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use mail_parser::{Address, MessagePart, MimeHeaders};
use maud::{PreEscaped, html};
use mss_core::{Civil, MailboxState, Right, Rights, rights};
use mss_http::percent_encode;
use mss_message::documents::shown_subject;
use mss_message::parsed;
use mss_store::{FlagChange, Folder, INBOX, Mailbox, MessageMeta, NewAuditEntry};
use serde::Deserialize;

use super::compose::compose_path;
use super::dispensation_links;
use super::documents;
use super::html;
use super::indicator::indicator_path;
use super::layout::{self, Section};
use super::listing::{self, Listing, Order};
use super::mailboxes::switcher;
use super::origin::{Origin, UNVERIFIABLE_WHY};
use super::patients::patients_path;
use super::receipts;
use super::session::{Posted, Visitor};
use super::tracking;
use crate::Web;
use crate::shared::{access, visible_mailboxes};

pub fn router() -> Router<Arc<Web>> {
    Router::new()
        .route("/portail/boites/{address}/courrier", get(folder))
        .route("/portail/boites/{address}/courrier/etat", get(folder_state))
        .route("/portail/boites/{address}/courrier/{folder}/{uid}", get(message))
        .route("/portail/boites/{address}/courrier/{folder}/{uid}/pieces/{index}", get(attachment))
        .route("/portail/boites/{address}/courrier/{folder}/{uid}/action", post(act))
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

fn not_found(web: &Web, visitor: &Visitor, message: &str) -> Response {
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

#[derive(Deserialize)]
struct Chosen {
    dossier: Option<String>,
    page: Option<usize>,
    /// Words to search for.
    q: Option<String>,
    /// The order (see [`Order::parse`]).
    tri: Option<String>,
    /// What was just done, to confirm it.
    fait: Option<String>,
}

/// How the list's caption says it is ordered.
fn order_caption(order: Order) -> &'static str {
    match order {
        Order::Newest => "du plus récent au plus ancien",
        Order::Oldest => "du plus ancien au plus récent",
        Order::Sender => "par expéditeur",
        Order::Subject => "par objet",
    }
}

/// The confirmation of what was just done.
fn done_message(what: Option<&str>) -> Option<&'static str> {
    Some(match what? {
        "envoye" => "Votre message a été envoyé.",
        "brouillon" => "Le brouillon est enregistré.",
        "supprimer" => "Le message est supprimé.",
        "deplacer" => "Le message est déplacé.",
        _ => return None,
    })
}

async fn folder(
    State(web): State<Arc<Web>>,
    Path(address): Path<String>,
    Query(chosen): Query<Chosen>,
    visitor: Visitor,
) -> Response {
    let (mailbox, mailbox_rights, folders) = match open(&web, &visitor, &address).await {
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
    let usable = match visible_mailboxes(&web, &visitor.caller).await {
        Ok(mailboxes) => mailboxes,
        Err(p) => return layout::error_page(&web, p.status, "Boîtes indisponibles", &p.detail, Some(&visitor)),
    };
    let query = chosen.q.as_deref().unwrap_or_default().trim().chars().take(200).collect::<String>();
    let order = Order::parse(chosen.tri.as_deref());
    let listing = match listing::list(&web, current, &query, order, chosen.page.unwrap_or(1)).await {
        Ok(listing) => listing,
        Err(e) => return layout::unavailable(e),
    };
    let Listing { summaries, page, pages, total, indexing } = listing;
    let searching = !query.is_empty();

    let base = mail_path(&mailbox.address.to_string());
    let folder_link = |f: &Folder| format!("{base}?dossier={}", percent_encode(&f.name));
    let page_link = |p: usize| {
        format!(
            "{base}?dossier={}&q={}&tri={}&page={p}",
            percent_encode(&current.name),
            percent_encode(&query),
            order.as_str()
        )
    };
    let label = folder_label(current);
    let is_drafts = is_special(current, "\\Drafts");
    let open_link = |uid: u32| {
        if is_drafts {
            format!("{}?brouillon={uid}", compose_path(&mailbox.address.to_string()))
        } else {
            format!("{base}/{}/{uid}", percent_encode(&current.name))
        }
    };
    let main = html! {
        @if let Some(done) = done_message(chosen.fait.as_deref()) { (layout::alert("succes", done)) }
        (switcher(&usable, &mailbox))
        @if web.sending.is_some() {
            p { a class="bouton" href=(compose_path(&mailbox.address.to_string())) { "Nouveau message" } }
        }
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
                    li class="patients" { a href=(patients_path(&mailbox.address.to_string())) { "Patients" } }
                    @if mailbox.finess.is_some() && mailbox_rights.has(Right::CreateFolders) {
                        li { a href=(indicator_path(&mailbox.address.to_string())) { "Indicateur 5 %" } }
                    }
                    li { a href=(format!("/portail/boites/{}/mots-de-passe", mailbox.address)) { "Mots de passe d'application" } }
                }
            }
            section aria-labelledby="liste" id="messages" {
                h2 id="liste" { (label) }
                form method="get" action=(base) class="recherche" role="search" {
                    input type="hidden" name="dossier" value=(current.name);
                    div class="champ" {
                        label for="q" { "Rechercher (expéditeur, destinataires, objet, texte)" }
                        input type="search" id="q" name="q" value=(query);
                    }
                    div class="champ" {
                        label for="tri" { "Trier par" }
                        select id="tri" name="tri" {
                            @for (value, text) in [("recent", "Date, du plus récent"), ("ancien", "Date, du plus ancien"), ("expediteur", "Expéditeur"), ("objet", "Objet")] {
                                option value=(value) selected[order.as_str() == value] { (text) }
                            }
                        }
                    }
                    button type="submit" class="secondaire" { "Afficher" }
                }
                @if searching {
                    p role="status" {
                        @if total == 0 { "Aucun message ne correspond à « " (query) " »." }
                        @else if total == 1 { "1 message correspond à « " (query) " »." }
                        @else { (total) " messages correspondent à « " (query) " »." }
                    }
                } @else if total > 0 {
                    p { @if total == 1 { "1 message" } @else { (total) " messages" } }
                }
                @if indexing {
                    p role="status" {
                        "Des messages de ce dossier sont encore en cours d'indexation : la recherche et le tri ne les voient pas encore."
                    }
                }
                p id="annonce" class="masque" aria-live="polite" {}
                div id="liste-messages" data-etat=(format!("{base}/etat?dossier={}", percent_encode(&current.name))) data-uidnext=(current.uidnext) {
                @if summaries.is_empty() {
                    @if !searching { p { "Ce dossier est vide." } }
                } @else {
                    div class="tableau" {
                        table {
                            caption { "Messages du dossier " (label) ", " (order_caption(order)) }
                            thead { tr { th scope="col" { "Expéditeur" } th scope="col" { "Objet" } th scope="col" { "Date" } th scope="col" { "Taille" } } }
                            tbody {
                                @for s in &summaries {
                                    @let unread = !s.meta.has_flag("\\Seen");
                                    tr class=[unread.then_some("non-lu")] {
                                        td data-label="Expéditeur" { (s.from) }
                                        th scope="row" data-label="Objet" {
                                            a href=(open_link(s.meta.uid)) {
                                                @if s.subject.is_empty() { "(sans objet)" } @else { (s.subject) }
                                            }
                                            @if unread { span class="masque" { " (non lu)" } }
                                            @if let Some(ins) = &s.patient {
                                                " " a class="marque-patient" href=(format!("{}/{ins}", patients_path(&mailbox.address.to_string()))) { "Conversation patient" }
                                            }
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
        }
    };
    layout::page_with_script(&web, "Courrier", Some(&visitor), Section::Mailboxes, main).into_response()
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
    let (_, _, folders) = match open(&web, &visitor, &address).await {
        Ok(opened) => opened,
        Err(response) => return response,
    };
    let name = of.dossier.as_deref().unwrap_or(INBOX);
    let Some(current) = folders.iter().find(|f| f.name == name) else {
        return not_found(&web, &visitor, "Ce dossier n'existe pas dans cette boîte.");
    };
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
    let main = html! {
        @if let Some(done) = shown.fait.as_deref().and_then(|f| match f {
            "non-lu" => Some("Le message est marqué comme non lu."),
            "suivi" => Some("Le message est marqué pour suivi."),
            "sans-suivi" => Some("Le message n'est plus marqué pour suivi."),
            "accuse" => Some("L'accusé de lecture est envoyé."),
            "delivrance" => Some("Le message est lié à la délivrance : il compte pour l'indicateur 5 %."),
            _ => None,
        }) { (layout::alert("succes", done)) }
        p { a href=(back) { "Retour au dossier " (folder_label(current)) } }
        @if !origin.is_verifiable() { (layout::alert("erreur", UNVERIFIABLE_WHY)) }
        @if web.sending.is_some() {
            ul class="outils" aria-label="Répondre" {
                li { a class="bouton" href=(format!("{compose}?repondre={located}")) { "Répondre" } }
                li { a class="bouton secondaire" href=(format!("{compose}?repondre={located}&tous=1")) { "Répondre à tous" } }
                li { a class="bouton secondaire" href=(format!("{compose}?transferer={located}")) { "Transférer" } }
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
        h2 { "Actions" }
        form method="post" action=(format!("{here}/action")) class="actions-message" {
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
                button type="submit" name="action" value="supprimer" class="danger" { "Supprimer" }
            }
        }
    };
    layout::page(&web, &title, Some(&visitor), Section::Mailboxes, main).into_response()
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

#[derive(Deserialize)]
struct ActionForm {
    action: String,
    vers: Option<String>,
}

/// What a message's action form asks.
enum Act {
    Flag(FlagChange, &'static str),
    Move,
    Delete,
}

impl Act {
    fn parse(action: &str) -> Option<Act> {
        Some(match action {
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
    fn needs(&self) -> &'static [Right] {
        match self {
            Act::Flag(_, "\\Seen") => &[Right::MarkSeen],
            Act::Flag(..) => &[Right::SetFlags],
            Act::Move | Act::Delete => &[Right::Delete, Right::Write],
        }
    }

    /// Its name in the audit trail.
    fn audited_as(&self) -> &'static str {
        match self {
            Act::Flag(..) => "webmail.flag",
            Act::Move => "webmail.move",
            Act::Delete => "webmail.delete",
        }
    }

    /// What the refusal says it may not do.
    fn refused(&self) -> &'static str {
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

/// Whether `folder` has the RFC 6154 attribute `special_use` (`\\Trash`).
pub fn is_special(folder: &Folder, special_use: &str) -> bool {
    folder.special_use.as_deref().is_some_and(|u| u.eq_ignore_ascii_case(special_use))
}

/// Removes one message from `folder` for good (flagged `\\Deleted`, expunged).
pub async fn remove_for_good(web: &Web, folder: &Folder, uid: u32) -> Result<(), mss_store::StoreError> {
    let deleted = ["\\Deleted".to_string()];
    web.store.meta.set_flags(folder.id, &[uid], FlagChange::Add, &deleted, None).await?;
    web.store.meta.expunge(folder.id, Some(&[uid])).await.map(|_| ())
}

/// The page refusing what the visitor's role does not allow, the refusal
/// audited as `action` on `address`.
pub async fn refuse(web: &Web, visitor: &Visitor, action: &str, address: &str, detail: String, why: &str) -> Response {
    let entry = NewAuditEntry::now(visitor.actor(), action, address, "refused: role", detail);
    web.store.audit.record(entry).await;
    layout::error_page(web, StatusCode::FORBIDDEN, "Action refusée", why, Some(visitor))
}

/// Marks, moves or deletes one message, if the visitor's rights allow it;
/// audited either way. Deleting moves it to the Trash, or removes it for
/// good (expunges it) when it is there already.
async fn act(
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
    let own = mailbox.address.to_string();
    let here = format!("{}/{}/{uid}", mail_path(&own), percent_encode(&current.name));
    let Some(act) = Act::parse(&form.action) else {
        return not_found(&web, &visitor, "Action inconnue.");
    };
    let at = format!("{}/{uid}", current.name);
    if !act.needs().iter().all(|right| rights.has(*right)) {
        return refuse(&web, &visitor, act.audited_as(), &own, at, act.refused()).await;
    }
    let (action, detail, result) = match act {
        Act::Flag(change, flag) => {
            let sign = if matches!(change, FlagChange::Add) { '+' } else { '-' };
            let result = web.store.meta.set_flags(current.id, &[uid], change, &[flag.to_string()], None).await;
            ("webmail.flag", format!("{at} {sign}{flag}"), result.map(|_| ()))
        }
        Act::Move => match folders.iter().find(|f| Some(&f.name) == form.vers.as_ref() && f.id != current.id) {
            Some(target) => {
                let result = web.store.meta.move_messages(current.id, &[uid], target.id).await.map(|_| ());
                ("webmail.move", format!("{at} to {}", target.name), result)
            }
            None => return not_found(&web, &visitor, "Ce dossier n'existe pas dans cette boîte."),
        },
        // To the Trash; from the Trash (or without one), for good.
        Act::Delete => match folders.iter().find(|f| is_special(f, "\\Trash") && f.id != current.id) {
            Some(trash) => {
                let result = web.store.meta.move_messages(current.id, &[uid], trash.id).await.map(|_| ());
                ("webmail.delete", format!("{at} to {}", trash.name), result)
            }
            None => ("webmail.expunge", at, remove_for_good(&web, current, uid).await),
        },
    };
    if let Err(e) = result {
        return layout::unavailable(e);
    }
    web.store.audit.record(NewAuditEntry::now(visitor.actor(), action, &own, "ok", detail)).await;
    match act {
        Act::Flag(..) => Redirect::to(&format!("{here}?fait={}", form.action)).into_response(),
        Act::Move | Act::Delete => {
            let folder = percent_encode(&current.name);
            Redirect::to(&format!("{}?dossier={folder}&fait={}", mail_path(&own), form.action)).into_response()
        }
    }
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
