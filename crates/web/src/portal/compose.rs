//! Writing mail from the webmail: a new message, a reply (to the sender or
//! to all), a forward, a draft taken up again; attachments uploaded with the
//! form (the file field takes drag and drop), or kept from the message
//! forwarded or the draft.
//!
//! Rules kept here:
//! - the message goes through the same [`Submitter`](mss_smtp::Submitter) as
//!   SMTP submission: recipients outside the trust space, or without an
//!   active mailbox here, are refused next to the field before anything is
//!   stored;
//! - a person sends as a mailbox when the access rule (`mss_core::rights`)
//!   gives them `SendAs` there; keeping a draft in its Drafts needs `Write`,
//!   replacing one (which removes it for good) `Delete` as well, as IMAP
//!   asks `i` and `t`, `e`; drafts kept and replaced are audited, and so
//!   are refusals;
//! - at most [`MAX_RECIPIENTS_PER_MESSAGE`] recipients, as submission;
//! - the message is built by [`outgoing`](crate::shared::outgoing): nothing typed
//!   reaches a header as it is;
//! - an upload over the message size limit is refused from its
//!   `Content-Length`, before its body is read (the page's script refuses
//!   it earlier still, before the upload starts); the message once built
//!   must fit the limit too;
//! - the form's CSRF token must come first in the upload, before any file.

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use mail_parser::{Message, MimeHeaders};
use maud::{Markup, html};
use mss_core::{Civil, EmailAddress, MAX_RECIPIENTS_PER_MESSAGE, Right, Rights};
use mss_http::percent_encode;
use mss_message::parsed;
use mss_smtp::submit::Route;
use mss_store::{Appended, Folder, Mailbox, NewAuditEntry, now_unix};
use serde::Deserialize;

use super::document_form::{self, DocumentErrors, DocumentFields};
use super::layout::{self, Section, field_error, text_field};
use super::mail::{self, Located, french_size};
use super::origin::{Origin, UNVERIFIABLE};
use super::recipients::{self, Suggestion};
use super::session::Visitor;
use crate::shared::outgoing::{self, Outgoing, Recipient, Upload};
use crate::shared::sending::{self, Unroutable, with_received_header};
use crate::{Sending, Web};

/// Room for the form's text fields beside the files.
const FORM_SLACK: usize = 256 * 1024;

pub fn router() -> Router<Arc<Web>> {
    Router::new()
        .route(
            "/portail/boites/{address}/ecrire",
            // The limit is the operator's message size, checked in `send`.
            get(form).post(send).layer(DefaultBodyLimit::disable()),
        )
        .route("/portail/boites/{address}/ecrire/verifier", get(check_recipients))
}

/// The path of the compose page of `address`.
pub fn compose_path(address: &str) -> String {
    format!("/portail/boites/{address}/ecrire")
}

/// What the compose form holds.
#[derive(Default)]
struct Draft {
    to: String,
    cc: String,
    subject: String,
    body: String,
    in_reply_to: String,
    references: String,
    /// The message whose attachments may be kept (forwarded, or the draft).
    source: Option<Located>,
    /// Those attachments: index in the source, name, size; and whether kept.
    kept: Vec<(usize, String, u64, bool)>,
    /// The draft this form replaces, in Drafts.
    draft_uid: Option<u32>,
    /// The health document part (`document_form`).
    document: DocumentFields,
    /// Ask for a read receipt.
    receipt: bool,
}

/// Errors next to the fields.
#[derive(Default)]
struct Errors {
    to: Option<String>,
    cc: Option<String>,
    files: Option<String>,
    general: Option<String>,
    document: DocumentErrors,
}

impl Errors {
    fn any(&self) -> bool {
        self.to.is_some() || self.cc.is_some() || self.files.is_some() || self.general.is_some() || self.document.any()
    }
}

#[derive(Deserialize, Default)]
struct Start {
    repondre: Option<String>,
    tous: Option<String>,
    transferer: Option<String>,
    brouillon: Option<u32>,
    /// A deep link's recipient (a patient's or a professional's address)
    /// and subject, prefilled (the pharmacy software links here).
    a: Option<String>,
    objet: Option<String>,
}

/// The page saying this operator's webmail does not send.
pub fn no_sending(web: &Web, visitor: &Visitor) -> Response {
    let message = "L'envoi de messages depuis le portail n'est pas activé chez cet opérateur.";
    layout::error_page(web, StatusCode::NOT_FOUND, "Envoi indisponible", message, Some(visitor))
}

/// `Re: ` or `Fwd: ` in front of `subject`, once.
pub fn prefixed(prefix: &str, subject: &str) -> String {
    if subject.len() >= prefix.len() && subject[..prefix.len()].eq_ignore_ascii_case(prefix) {
        subject.to_string()
    } else {
        format!("{prefix}{subject}")
    }
}

/// `> ` before every line of the quoted text.
fn quoted(text: &str) -> String {
    text.lines().map(|l| if l.is_empty() { ">".to_string() } else { format!("> {l}") }).collect::<Vec<_>>().join("\n")
}

fn addresses_of(list: Option<&mail_parser::Address<'_>>) -> Vec<String> {
    list.map(|a| a.iter().filter_map(|a| a.address()).map(str::to_ascii_lowercase).collect()).unwrap_or_default()
}

fn attachments_of(message: &Message<'_>) -> Vec<(usize, String, u64, bool)> {
    message
        .attachments()
        .enumerate()
        .map(|(i, part)| (i, part.attachment_name().unwrap_or("(sans nom)").to_string(), part.len() as u64, true))
        .collect()
}

/// The message ids of a message's `References:`, each in angle brackets.
fn references_of(message: &Message<'_>) -> Vec<String> {
    match message.references() {
        mail_parser::HeaderValue::Text(id) => vec![format!("<{id}>")],
        mail_parser::HeaderValue::TextList(ids) => ids.iter().map(|id| format!("<{id}>")).collect(),
        _ => vec![],
    }
}

/// Whether `rights` let a draft be replaced (kept anew, the old one
/// removed for good).
fn may_replace_drafts(rights: Rights) -> bool {
    rights.has(Right::Write) && rights.has(Right::Delete)
}

/// The form prefilled from the message it answers, forwards or takes up
/// (who it is from as `origin` says); a draft taken up by someone who may
/// not replace it becomes a new message.
fn prefill(start: &Start, own: &str, source: Located, message: &Message<'_>, origin: &Origin, rights: Rights) -> Draft {
    let subject = message.subject().unwrap_or_default();
    let body = message.body_text(0).map(|b| b.into_owned()).unwrap_or_default();
    let message_id = message.message_id().map(|id| format!("<{id}>")).unwrap_or_default();
    let mut references = references_of(message);
    if start.brouillon.is_some() {
        return Draft {
            to: addresses_of(message.to()).join(", "),
            cc: addresses_of(message.cc()).join(", "),
            subject: subject.to_string(),
            body,
            in_reply_to: message.in_reply_to().as_text().map(|id| format!("<{id}>")).unwrap_or_default(),
            references: references.join(" "),
            kept: attachments_of(message),
            draft_uid: may_replace_drafts(rights).then_some(source.uid),
            source: Some(source),
            document: DocumentFields::default(),
            receipt: false,
        };
    }
    let date = message.date().map(|d| mail::french_date(d.to_timestamp())).unwrap_or_default();
    let author = origin.author();
    if start.transferer.is_some() {
        let author = author.as_deref().unwrap_or(UNVERIFIABLE);
        let header = format!(
            "\n\n-------- Message transféré --------\nDe : {author}\nDate : {date}\nObjet : {subject}\nÀ : {}\n\n",
            addresses_of(message.to()).join(", ")
        );
        return Draft {
            subject: prefixed("Fwd: ", subject),
            body: header + &body,
            kept: attachments_of(message),
            source: Some(source),
            ..Draft::default()
        };
    }
    // RFC 5322 §3.6.2: answers go to Reply-To when the author set one; nowhere when unverifiable.
    let to = origin.reply_targets();
    let attribution = match author {
        Some(author) => format!("Le {date}, {author} a écrit :"),
        None => format!("Le {date}, un expéditeur non vérifiable a écrit :"),
    };
    let mut cc: Vec<String> = Vec::new();
    if start.tous.is_some() {
        for address in addresses_of(message.to()).into_iter().chain(addresses_of(message.cc())) {
            if address != own && !to.contains(&address) && !cc.contains(&address) {
                cc.push(address);
            }
        }
    }
    if !message_id.is_empty() {
        references.push(message_id.clone());
    }
    Draft {
        to: to.join(", "),
        cc: cc.join(", "),
        subject: prefixed("Re: ", subject),
        body: format!("\n\n{attribution}\n{}", quoted(&body)),
        in_reply_to: message_id,
        references: references.join(" "),
        ..Draft::default()
    }
}

async fn form(
    State(web): State<Arc<Web>>,
    Path(address): Path<String>,
    Query(start): Query<Start>,
    visitor: Visitor,
) -> Response {
    if web.sending.is_none() {
        return no_sending(&web, &visitor);
    }
    let (mailbox, rights, folders) = match open_to_send(&web, &visitor, &address).await {
        Ok(opened) => opened,
        Err(response) => return response,
    };
    let own = mailbox.address.to_string();
    let source = match (&start.repondre, &start.transferer, start.brouillon) {
        (Some(at), _, _) | (None, Some(at), _) => Located::parse(at),
        (None, None, Some(uid)) => drafts(&folders).map(|f| Located { folder: f.name.clone(), uid }),
        (None, None, None) => None,
    };
    let draft = match source {
        Some(source) => match mail::load(&web, &visitor, &folders, &source).await {
            Ok((_, _, raw)) => match parsed::parse(&raw) {
                Some(message) => prefill(&start, &own, source, &message, &Origin::of(&raw), rights),
                None => Draft::default(),
            },
            Err(response) => return response,
        },
        None => Draft {
            // Prefilled only: shown in the form, checked when sent.
            to: start.a.as_deref().map(|a| a.chars().take(320).collect()).unwrap_or_default(),
            subject: start.objet.as_deref().map(|o| o.chars().take(200).collect()).unwrap_or_default(),
            ..Draft::default()
        },
    };
    let known = recipients::recent(&web, &folders, &own).await;
    page(&web, &visitor, (&mailbox, rights), &draft, &Errors::default(), &known, StatusCode::OK)
}

/// The mailbox at `address`, the visitor's rights and its folders, if the
/// visitor may read it and send as it; the refusal page otherwise.
pub async fn open_to_send(
    web: &Web,
    visitor: &Visitor,
    address: &str,
) -> Result<(Mailbox, Rights, Vec<Folder>), Response> {
    let (mailbox, rights, folders) = mail::open(web, visitor, address).await?;
    if !rights.has(Right::SendAs) {
        return Err(may_not_send(web, visitor));
    }
    Ok((mailbox, rights, folders))
}

pub fn may_not_send(web: &Web, visitor: &Visitor) -> Response {
    let message = "Votre rôle sur cette boîte ne permet pas d'envoyer des messages en son nom.";
    layout::error_page(web, StatusCode::FORBIDDEN, "Envoi refusé", message, Some(visitor))
}

fn drafts(folders: &[Folder]) -> Option<&Folder> {
    folders.iter().find(|f| mail::is_special(f, "\\Drafts")).or_else(|| folders.iter().find(|f| f.name == "Drafts"))
}

fn page(
    web: &Web,
    visitor: &Visitor,
    (mailbox, rights): (&Mailbox, Rights),
    draft: &Draft,
    errors: &Errors,
    known: &[Suggestion],
    status: StatusCode,
) -> Response {
    let address = mailbox.address.to_string();
    let max = web.sending.as_ref().map_or(0, |s| s.max_message_bytes);
    let title = if draft.subject.is_empty() { "Nouveau message".to_string() } else { draft.subject.clone() };
    let main = html! {
        p { a href=(mail::mail_path(&address)) { "Retour au courrier" } }
        @if let Some(general) = &errors.general { (layout::alert("erreur", general)) }
        @let autosave = may_replace_drafts(rights);
        form method="post" action=(compose_path(&address)) enctype="multipart/form-data" class="redaction" data-autosave[autosave] {
            // First: the server checks it before reading any file.
            input type="hidden" name="csrf" value=(visitor.csrf());
            p class="aide" { "De : " (mailbox.display_name) " <" (address) ">" }
            @let check = format!("{}/verifier", compose_path(&address));
            @let help = "Adresses MSSanté, séparées par des virgules ; tapez un nom pour chercher dans l'Annuaire Santé.";
            (recipient_field(&Field { name: "a", label: "À", help, value: &draft.to }, &check, errors.to.as_deref()))
            (recipient_field(&Field { name: "cc", label: "Cc", help: "Facultatif.", value: &draft.cc }, &check, errors.cc.as_deref()))
            datalist id="correspondants" {
                @for s in known { option value=(s.address) { (s.label) } }
            }
            (text_field("objet", "Objet", "", Some(&draft.subject), None))
            div class="champ" {
                label for="corps" { "Message" }
                textarea id="corps" name="corps" rows="14" { (draft.body) }
            }
            @if !draft.kept.is_empty() {
                fieldset {
                    legend { "Pièces jointes reprises" }
                    @for (i, name, size, kept) in &draft.kept {
                        div class="case" {
                            input type="checkbox" id=(format!("garder-{i}")) name="garder" value=(i) checked[*kept];
                            label for=(format!("garder-{i}")) { (name) " · " (french_size(*size)) }
                        }
                    }
                }
            }
            div class={ "champ" @if errors.files.is_some() { " en-erreur" } } {
                label for="pieces" {
                    "Joindre des fichiers"
                    span class="aide" id="pieces-aide" {
                        "Glissez-déposez vos fichiers ici ou choisissez-les. Taille maximale du message : " (french_size(max as u64)) "."
                    }
                }
                input type="file" id="pieces" name="pieces" multiple data-max=(max)
                    data-max-patient=(mss_core::patients::MAX_PATIENT_MESSAGE_BYTES)
                    aria-describedby="pieces-aide pieces-erreur" aria-invalid=[errors.files.as_ref().map(|_| "true")];
                p class="erreur" id="pieces-erreur" aria-live="polite" {
                    @if let Some(e) = &errors.files { "Erreur : " (e) }
                }
            }
            div class="case" {
                input type="checkbox" id="accuse" name="accuse" value="1" checked[draft.receipt];
                label for="accuse" { "Demander un accusé de lecture" }
            }
            (document_form::fieldset(&draft.document, &errors.document))
            @if let Some(source) = &draft.source {
                input type="hidden" name="source" value=(source.to_string());
            }
            @if let Some(uid) = draft.draft_uid { input type="hidden" name="brouillon" value=(uid); }
            input type="hidden" name="en_reponse_a" value=(draft.in_reply_to);
            input type="hidden" name="references" value=(draft.references);
            div class="actions" {
                button type="submit" name="action" value="envoyer" id="envoyer" { "Envoyer" }
                @if rights.has(Right::Write) {
                    button type="submit" name="action" value="brouillon" class="secondaire" { "Enregistrer le brouillon" }
                }
            }
            @if autosave {
                p class="aide" id="etat-brouillon" aria-live="polite" {}
            }
        }
    };
    (status, layout::page_with_script(web, &title, Some(visitor), Section::Mailboxes, main)).into_response()
}

/// A recipients field: a text field offering the correspondents and, with
/// the script, the Annuaire Santé.
fn recipient_field(field: &Field<'_>, check: &str, error: Option<&str>) -> Markup {
    let name = field.name;
    let (help_id, error_id, warning_id) =
        (format!("{name}-aide"), format!("{name}-erreur"), format!("{name}-avertissement"));
    let described = if error.is_some() { format!("{help_id} {error_id}") } else { format!("{help_id} {warning_id}") };
    html! {
        div class={ "champ" @if error.is_some() { " en-erreur" } } {
            label for=(name) { (field.label) span class="aide" id=(help_id) { (field.help) } }
            input type="text" id=(name) name=(name) value=(field.value) list="correspondants" autocomplete="off"
                data-suggestions="/portail/annuaire/suggestions" data-verifier=(check) aria-describedby=(described)
                aria-invalid=[error.map(|_| "true")];
            (field_error(&error_id, error))
            @if error.is_none() { p class="avertissement" id=(warning_id) aria-live="polite" {} }
        }
    }
}

/// A recipients field's name, label, help and value.
struct Field<'a> {
    name: &'a str,
    label: &'a str,
    help: &'a str,
    value: &'a str,
}

/// What the form posted.
#[derive(Default)]
struct Posted {
    draft: Draft,
    keep: Vec<usize>,
    uploads: Vec<Upload>,
    save_only: bool,
    /// Saved by the page's script as the person writes: answered in JSON.
    auto: bool,
}

/// Why reading the upload stopped.
enum Unread {
    Csrf,
    TooLarge,
    Malformed,
}

async fn read_form(visitor: &Visitor, mut multipart: Multipart, limit: usize) -> Result<Posted, Unread> {
    let mut posted = Posted::default();
    let mut total = 0usize;
    let mut csrf_checked = false;
    while let Some(mut field) = multipart.next_field().await.map_err(|_| Unread::Malformed)? {
        let name = field.name().unwrap_or_default().to_string();
        if name == "csrf" {
            let token = field.text().await.map_err(|_| Unread::Malformed)?;
            csrf_checked = visitor.csrf_matches(Some(&token));
            if !csrf_checked {
                return Err(Unread::Csrf);
            }
            continue;
        }
        if !csrf_checked {
            return Err(Unread::Csrf);
        }
        if name == "pieces" {
            let file_name = field.file_name().unwrap_or_default().to_string();
            let content_type = field.content_type().unwrap_or("application/octet-stream").to_string();
            let mut bytes = Vec::new();
            while let Some(chunk) = field.chunk().await.map_err(|_| Unread::Malformed)? {
                total += chunk.len();
                if total > limit {
                    return Err(Unread::TooLarge);
                }
                bytes.extend_from_slice(&chunk);
            }
            // An empty file input posts one nameless, empty part.
            if !file_name.is_empty() || !bytes.is_empty() {
                posted.uploads.push(Upload { name: file_name, content_type, bytes });
            }
            continue;
        }
        let value = field.text().await.map_err(|_| Unread::Malformed)?;
        total += value.len();
        if total > limit {
            return Err(Unread::TooLarge);
        }
        let d = &mut posted.draft;
        match name.as_str() {
            "a" => d.to = value,
            "cc" => d.cc = value,
            "objet" => d.subject = value,
            "corps" => d.body = value.replace("\r\n", "\n"),
            "en_reponse_a" => d.in_reply_to = value,
            "references" => d.references = value,
            "source" => d.source = Located::parse(&value),
            "brouillon" => d.draft_uid = value.parse().ok(),
            "garder" => posted.keep.extend(value.parse::<usize>().ok()),
            "action" => {
                posted.auto = value == "auto";
                posted.save_only = value == "brouillon" || posted.auto;
            }
            "accuse" => d.receipt = value == "1",
            other if d.document.take(other, value) => {}
            _ => return Err(Unread::Malformed),
        }
    }
    if !csrf_checked {
        return Err(Unread::Csrf);
    }
    Ok(posted)
}

/// The recipients of a field, or the French error about them.
fn parse_addresses(text: &str) -> Result<Vec<Recipient>, String> {
    let mut out: Vec<Recipient> = Vec::new();
    for part in text.split([',', ';', '\n']).map(str::trim).filter(|p| !p.is_empty()) {
        let (name, bare) = match (part.rfind('<'), part.ends_with('>')) {
            (Some(open), true) => (Some(part[..open].trim().trim_matches('"').trim()), &part[open + 1..part.len() - 1]),
            _ => (None, part),
        };
        let address: EmailAddress = bare.trim().parse().map_err(|_| format!("Adresse invalide : {part}"))?;
        if !out.iter().any(|r| r.address == address) {
            let name = name.filter(|n| !n.is_empty()).map(str::to_string);
            out.push(Recipient { name, address });
        }
    }
    Ok(out)
}

/// Where `address` goes, or the French reason it may not be sent to.
pub async fn route_one(sending: &Sending, address: &EmailAddress) -> Result<Route, Result<String, Response>> {
    match sending::route(sending, address).await {
        Ok(route) => Ok(route),
        Err(Unroutable::Refused(reason)) => Err(Ok(reason)),
        Err(Unroutable::Store(e)) => Err(Err(layout::unavailable(e))),
    }
}

/// The recipients' routes, or the error to show next to the field.
async fn route_all(sending: &Sending, recipients: &[Recipient]) -> Result<Vec<Route>, Result<String, Response>> {
    let mut routes = Vec::with_capacity(recipients.len());
    for Recipient { address, .. } in recipients {
        routes.push(route_one(sending, address).await?);
    }
    Ok(routes)
}

#[derive(Deserialize)]
struct ToCheck {
    adresses: Option<String>,
}

/// What the page's script asks as a recipients field is left: the warnings
/// the server would refuse the message with, before it is sent.
async fn check_recipients(
    State(web): State<Arc<Web>>,
    Path(address): Path<String>,
    Query(asked): Query<ToCheck>,
    visitor: Visitor,
) -> Response {
    let Some(sending) = web.sending.as_ref() else {
        return no_sending(&web, &visitor);
    };
    if let Err(response) = mail::open(&web, &visitor, &address).await {
        return response;
    }
    let text: String = asked.adresses.unwrap_or_default().chars().take(4096).collect();
    let mut warnings = Vec::new();
    match parse_addresses(&text) {
        Err(e) => warnings.push(e),
        Ok(recipients) => {
            for Recipient { address, .. } in recipients.iter().take(MAX_RECIPIENTS_PER_MESSAGE) {
                match route_one(sending, address).await {
                    Ok(_) => {}
                    Err(Ok(warning)) => warnings.push(warning),
                    Err(Err(response)) => return response,
                }
            }
        }
    }
    axum::Json(serde_json::json!({ "avertissements": warnings })).into_response()
}

async fn send(
    State(web): State<Arc<Web>>,
    Path(address): Path<String>,
    headers: HeaderMap,
    visitor: Visitor,
    multipart: Multipart,
) -> Response {
    let Some(sending) = web.sending.as_ref() else {
        return no_sending(&web, &visitor);
    };
    let too_large = || {
        let message = format!(
            "Le message et ses pièces jointes dépassent la taille maximale de {} : retirez ou réduisez des pièces jointes.",
            french_size(sending.max_message_bytes as u64)
        );
        layout::error_page(&web, StatusCode::PAYLOAD_TOO_LARGE, "Message trop volumineux", &message, Some(&visitor))
    };
    let limit = sending.max_message_bytes + FORM_SLACK;
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
    if declared.is_some_and(|length: usize| length > limit) {
        return too_large();
    }
    let posted = match read_form(&visitor, multipart, limit).await {
        Ok(posted) => posted,
        Err(Unread::TooLarge) => return too_large(),
        Err(Unread::Csrf) => {
            let entry = NewAuditEntry::now(visitor.actor(), "portal.post", compose_path(&address), "refused: csrf", "");
            web.store.audit.record(entry).await;
            let message = "Le jeton de sécurité du formulaire est absent ou ne correspond pas à votre session. \
                 Revenez à la page précédente, rechargez-la et recommencez.";
            return layout::error_page(&web, StatusCode::FORBIDDEN, "Demande refusée", message, Some(&visitor));
        }
        Err(Unread::Malformed) => {
            let message = "Le formulaire envoyé est illisible : rechargez la page et recommencez.";
            return layout::error_page(&web, StatusCode::BAD_REQUEST, "Formulaire refusé", message, Some(&visitor));
        }
    };
    let (mailbox, rights, folders) = match open_to_send(&web, &visitor, &address).await {
        Ok(opened) => opened,
        Err(response) => return response,
    };
    let Posted { mut draft, mut keep, uploads, save_only, auto } = posted;
    if let Some(response) = refuse_drafts(&web, &visitor, &address, rights, &draft, save_only).await {
        return response;
    }
    let mut errors = Errors::default();
    let to = parse_addresses(&draft.to).unwrap_or_else(|e| {
        errors.to = Some(e);
        vec![]
    });
    let cc = parse_addresses(&draft.cc).unwrap_or_else(|e| {
        errors.cc = Some(e);
        vec![]
    });
    if !save_only && errors.to.is_none() && to.is_empty() && cc.is_empty() {
        errors.to = Some("Indiquez au moins un destinataire.".into());
    }
    let count = to.len() + cc.iter().filter(|r| !to.iter().any(|t| t.address == r.address)).count();
    if count > MAX_RECIPIENTS_PER_MESSAGE {
        errors.to = Some(format!(
            "Trop de destinataires : {count} adresses, {MAX_RECIPIENTS_PER_MESSAGE} au plus par message."
        ));
    }
    let mut routes = Vec::new();
    if !save_only && !errors.any() {
        match route_all(sending, &to).await {
            Ok(r) => routes.extend(r),
            Err(Ok(e)) => errors.to = Some(e),
            Err(Err(response)) => return response,
        }
        match route_all(sending, &cc).await {
            Ok(r) => routes.extend(r),
            Err(Ok(e)) => errors.cc = Some(e),
            Err(Err(response)) => return response,
        }
    }
    // The message whose attachments may be kept (forwarded, or the draft).
    let source_raw = match &draft.source {
        Some(source) => match mail::load(&web, &visitor, &folders, source).await {
            Ok((_, _, raw)) => Some(raw),
            Err(response) => return response,
        },
        None => None,
    };
    let source = source_raw.as_deref().and_then(parsed::parse);
    if auto && errors.any() {
        let errors = [&errors.to, &errors.cc].into_iter().flatten().collect::<Vec<_>>();
        return (StatusCode::UNPROCESSABLE_ENTITY, axum::Json(serde_json::json!({ "erreurs": errors })))
            .into_response();
    }
    // Saved as the person writes, a draft taken up keeps all its
    // attachments: the boxes ticked choose among them when it is sent.
    let replaced = draft.draft_uid.zip(drafts(&folders)).map(|(uid, f)| Located { folder: f.name.clone(), uid });
    let source_replaced = auto && replaced.is_some() && draft.source == replaced;
    if let Some(message) = source.as_ref().filter(|_| source_replaced) {
        keep = (0..message.attachments().count()).collect();
    }
    if errors.any() {
        if !uploads.is_empty() {
            errors.files = Some("Rien n'a été envoyé : joignez de nouveau vos fichiers.".into());
        }
        if let Some(message) = &source {
            // Show the kept attachments again, as they were chosen.
            draft.kept = attachments_of(message).into_iter().map(|(i, n, s, _)| (i, n, s, keep.contains(&i))).collect();
        }
        let known = recipients::recent(&web, &folders, &address).await;
        return page(&web, &visitor, (&mailbox, rights), &draft, &errors, &known, StatusCode::UNPROCESSABLE_ENTITY);
    }
    // Attachments kept from the source message come first, in its order.
    let mut attachments: Vec<Upload> = source
        .iter()
        .flat_map(|message| message.attachments())
        .enumerate()
        .filter(|(i, _)| keep.contains(i))
        .map(|(_, part)| Upload {
            name: part.attachment_name().unwrap_or("piece-jointe").to_string(),
            content_type: mail::content_type(part),
            bytes: part.contents().to_vec(),
        })
        .collect();
    attachments.extend(uploads);
    // A health document: built from its fields and the PDF joined.
    let mut document = None;
    if draft.document.enabled && !save_only {
        let person = &visitor.caller.0.person;
        let author = (Some(person.national_id.as_string()), Some(person.first_name.clone()), person.last_name.clone());
        match document_form::build(&draft.document, attachments, &mailbox, author, &sending.product) {
            Ok(built) => {
                draft.subject = built.subject;
                attachments = built.attachments;
                document = Some((built.codecda, built.ins_qualified));
            }
            Err(document_errors) => {
                errors.document = *document_errors;
                errors.files = Some("Rien n'a été envoyé : joignez de nouveau vos fichiers.".into());
                let known = recipients::recent(&web, &folders, &address).await;
                return page(
                    &web,
                    &visitor,
                    (&mailbox, rights),
                    &draft,
                    &errors,
                    &known,
                    StatusCode::UNPROCESSABLE_ENTITY,
                );
            }
        }
    }
    let outgoing = Outgoing {
        from: (&mailbox.display_name, &mailbox.address),
        to: &to,
        cc: &cc,
        subject: &draft.subject,
        body: &draft.body,
        in_reply_to: &draft.in_reply_to,
        references: &draft.references,
        attachments,
        hostname: &sending.hostname,
        // For a patient's address, typed or picked: nothing says it was
        // checked; for a document, the sender said.
        ins_qualified: document.as_ref().is_some_and(|(_, qualified)| *qualified),
        closes_conversation: false,
        codecda: document.as_ref().map(|(code, _)| code.as_str()),
        product: &sending.product,
        receipt: draft.receipt,
    };
    let Ok(message) = outgoing::build(outgoing) else {
        return layout::unavailable("building a webmail message failed");
    };
    if message.len() > sending.max_message_bytes {
        return too_large();
    }
    if !mss_smtp::submit::fits_patients(message.len(), &routes) {
        let message = format!(
            "Mon espace santé n'accepte pas les messages de plus de {} : retirez ou réduisez des pièces jointes pour \
             écrire à un patient.",
            french_size(mss_core::patients::MAX_PATIENT_MESSAGE_BYTES as u64)
        );
        return layout::error_page(
            &web,
            StatusCode::PAYLOAD_TOO_LARGE,
            "Message trop volumineux",
            &message,
            Some(&visitor),
        );
    }
    let base = mail::mail_path(&address);
    let old_draft = draft.draft_uid.zip(drafts(&folders));
    if save_only {
        let Some(folder) = drafts(&folders) else {
            return layout::unavailable(format!("{address} has no Drafts folder"));
        };
        let uid = match save_draft(&web, folder, &message).await {
            Ok(uid) => uid,
            Err(e) => return layout::unavailable(e),
        };
        let entry = NewAuditEntry::now(visitor.actor(), "webmail.draft.save", &address, "ok", &folder.name);
        web.store.audit.record(entry).await;
        remove_draft(&web, &visitor, &address, old_draft).await;
        if auto {
            let Civil { hour, minute, .. } = Civil::paris(now_unix());
            let source = source_replaced.then(|| Located { folder: folder.name.clone(), uid }.to_string());
            let saved =
                serde_json::json!({ "brouillon": uid, "source": source, "heure": format!("{hour:02}:{minute:02}") });
            return axum::Json(saved).into_response();
        }
        return Redirect::to(&format!("{base}?dossier={}&fait=brouillon", percent_encode(&folder.name)))
            .into_response();
    }
    let message = with_received_header(sending, &message);
    match sending.submitter.store(message.clone(), &address, mailbox.id, &routes).await {
        Ok(()) => {}
        Err(e) if e.is_storage_full() => {
            let message =
                "Le serveur manque momentanément d'espace : votre message n'a pas été envoyé. Réessayez plus tard.";
            return layout::error_page(
                &web,
                StatusCode::INSUFFICIENT_STORAGE,
                "Envoi impossible",
                message,
                Some(&visitor),
            );
        }
        Err(e) => return layout::unavailable(e),
    }
    let detail = format!("recipients={} size={}", routes.len(), message.len());
    web.store.audit.record(NewAuditEntry::now(visitor.actor(), "webmail.send", &address, "ok", detail)).await;
    remove_draft(&web, &visitor, &address, old_draft).await;
    Redirect::to(&format!("{base}?fait=envoye")).into_response()
}

/// Keeps `message` in `folder` (Drafts), seen: its UID.
async fn save_draft(web: &Web, folder: &Folder, message: &[u8]) -> Result<u32, mss_store::StoreError> {
    let body = web.store.body(mss_store::Bytes::copy_from_slice(message)).await?;
    let appended = Appended {
        blob: body.hash,
        size: message.len() as u64,
        received_at: now_unix(),
        flags: vec!["\\Draft".into(), "\\Seen".into()],
        inline: body.inline,
    };
    let facts = mss_message::stored(message);
    let (_, uids) = web.store.meta.append_indexed(folder.id, &[appended], &[facts]).await?;
    uids.first().copied().ok_or_else(|| mss_store::StoreError::Invalid("a draft appended without a UID".into()))
}

/// The refusal of a draft kept without `Write`, or replaced without
/// `Delete` too (the old one is removed for good), audited; `None` when
/// the visitor may.
async fn refuse_drafts(
    web: &Web,
    visitor: &Visitor,
    address: &str,
    rights: Rights,
    draft: &Draft,
    save_only: bool,
) -> Option<Response> {
    if let Some(uid) = draft.draft_uid
        && !may_replace_drafts(rights)
    {
        let why = "Votre rôle sur cette boîte ne permet pas de remplacer ni de supprimer ses brouillons.";
        return Some(mail::refuse(web, visitor, "webmail.draft.replace", address, format!("Drafts/{uid}"), why).await);
    }
    if save_only && !rights.has(Right::Write) {
        let why = "Votre rôle sur cette boîte ne permet pas d'y enregistrer des brouillons.";
        return Some(mail::refuse(web, visitor, "webmail.draft.save", address, "Drafts".into(), why).await);
    }
    None
}

/// The draft a message replaced goes for good, audited (a failure leaves
/// it, harmless).
async fn remove_draft(web: &Web, visitor: &Visitor, address: &str, draft: Option<(u32, &Folder)>) {
    let Some((uid, folder)) = draft else { return };
    if let Err(e) = mail::remove_for_good(web, folder, &[uid]).await {
        tracing::warn!(error = %e, "portal: the old draft stays");
        return;
    }
    let entry =
        NewAuditEntry::now(visitor.actor(), "webmail.draft.replace", address, "ok", format!("{}/{uid}", folder.name));
    web.store.audit.record(entry).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_split_and_checked() {
        let parsed = parse_addresses("a@b.test, \"Dr X\" <x@y.test>; a@b.test\n").unwrap();
        let shown: Vec<(Option<&str>, String)> =
            parsed.iter().map(|r| (r.name.as_deref(), r.address.to_string())).collect();
        assert_eq!(shown, [(None, "a@b.test".to_string()), (Some("Dr X"), "x@y.test".to_string())]);
        assert_eq!(parse_addresses("").unwrap(), vec![]);
        assert_eq!(parse_addresses("a@b.test, pas une adresse").unwrap_err(), "Adresse invalide : pas une adresse");
    }

    #[test]
    fn a_reply_to_all_goes_to_reply_to_and_copies_the_others_once() {
        let raw = "From: Labo <labo@x.test>\r\nReply-To: secretariat@x.test\r\nTo: me@ours.test, a@x.test\r\n\
                   Cc: a@x.test, b@x.test, secretariat@x.test\r\nSubject: Bilan\r\nMessage-ID: <m2@x.test>\r\n\
                   References: <m1@x.test>\r\n\r\nTexte\r\n";
        let message = mail_parser::MessageParser::default().parse(raw.as_bytes()).unwrap();
        let start = Start { repondre: Some("INBOX/3".into()), tous: Some("1".into()), ..Start::default() };
        let at = Located { folder: "INBOX".into(), uid: 3 };
        let draft = prefill(&start, "me@ours.test", at, &message, &Origin::of(raw.as_bytes()), Rights::ALL);
        assert_eq!((draft.to.as_str(), draft.cc.as_str()), ("secretariat@x.test", "a@x.test, b@x.test"));
        assert_eq!((draft.subject.as_str(), draft.in_reply_to.as_str()), ("Re: Bilan", "<m2@x.test>"));
        assert_eq!(draft.references, "<m1@x.test> <m2@x.test>");
        assert!(draft.body.contains("labo@x.test a écrit :\n> Texte"), "{}", draft.body);
    }

    #[test]
    fn a_reply_to_a_message_with_two_from_fields_starts_with_no_recipient() {
        let raw = "From: <chef@x.test>\r\nTo: me@ours.test, a@x.test\r\nFrom: <me@ours.test>\r\n\
                   Subject: Bilan\r\n\r\nTexte\r\n";
        let message = mail_parser::MessageParser::default().parse(raw.as_bytes()).unwrap();
        let origin = Origin::of(raw.as_bytes());
        let at = || Located { folder: "INBOX".into(), uid: 3 };
        let reply = Start { repondre: Some("INBOX/3".into()), tous: Some("1".into()), ..Start::default() };
        let draft = prefill(&reply, "me@ours.test", at(), &message, &origin, Rights::ALL);
        assert_eq!((draft.to.as_str(), draft.cc.as_str()), ("", "a@x.test"));
        assert!(draft.body.contains("un expéditeur non vérifiable a écrit :") && !draft.body.contains("chef"));
        let forward = Start { transferer: Some("INBOX/3".into()), ..Start::default() };
        let draft = prefill(&forward, "me@ours.test", at(), &message, &origin, Rights::ALL);
        assert!(draft.body.contains("De : Expéditeur non vérifiable\n") && !draft.body.contains("chef"));
    }

    #[test]
    fn prefixes_and_quotes() {
        assert_eq!(prefixed("Re: ", "Ordonnance"), "Re: Ordonnance");
        assert_eq!(prefixed("Re: ", "RE: Ordonnance"), "RE: Ordonnance");
        assert_eq!(quoted("a\n\nb"), "> a\n>\n> b");
    }
}
