//! The pharmacy's conversations with its patients (Mon espace santé): the
//! patients a mailbox exchanged messages with, latest first, each with its
//! state (open or closed); one patient's messages grouped into
//! conversations (`mss_core::patients::conversations`: a message after
//! `[FIN]` starts a new one); an answer, typed or taken from the mailbox's
//! quick answers, sent with the patient headers ([`crate::shared::outgoing`]); and
//! "Clore la conversation". A message the patient read says so (their read
//! receipt, which is not shown as a message of its own).
//!
//! Rules kept here: reading needs the Read right (the messages come from
//! the store's index, [`mss_store::PatientStore`]); opening a conversation
//! marks the patient's messages seen when the person may (`MarkSeen`, as
//! opening a message does); answering needs `SendAs`; the quick answers are
//! edited by whoever organises the mailbox (`CreateFolders`: its holder, a
//! Gestionnaire or an Administrateur) and used by whoever may send. Every
//! conversation opened, answer sent and change of quick answers goes to the
//! audit trail.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use mail_parser::MimeHeaders;
use maud::{Markup, html};
use mss_core::patients::{self, Conversation, DEFAULT_QUICK_ANSWERS};
use mss_core::{Ins, Right, Rights};
use mss_http::percent_encode;
use mss_message::parsed;
use mss_store::{FlagChange, Folder, Mailbox, NewAuditEntry, PatientMessage, now_unix};
use serde::Deserialize;

use super::compose::{no_sending, open_to_send, prefixed, route_one};
use super::layout::{self, Section};
use super::mail::{self, Located, french_date};
use super::session::{Posted, Visitor};
use crate::Web;
use crate::shared::outgoing::{self, Outgoing, Recipient};
use crate::shared::sending::with_received_header;

pub fn router() -> Router<Arc<Web>> {
    Router::new()
        .route("/portail/boites/{address}/patients", get(list))
        .route("/portail/boites/{address}/patients/{ins}", get(conversation).post(answer))
        .route("/portail/boites/{address}/reponses-rapides", get(quick_answers_page).post(save_quick_answers))
}

/// Patients listed per page.
const PAGE: u32 = 30;
/// The latest messages a conversation page shows.
const SHOWN: u32 = 100;
/// The longest text shown of one message, and the longest answer taken.
const MAX_TEXT_CHARS: usize = 20_000;

/// The page of a mailbox's patients.
pub fn patients_path(address: &str) -> String {
    format!("/portail/boites/{address}/patients")
}

fn conversation_path(address: &str, ins: &str) -> String {
    format!("/portail/boites/{address}/patients/{ins}")
}

fn quick_answers_path(address: &str) -> String {
    format!("/portail/boites/{address}/reponses-rapides")
}

/// `2 79 03 51 215 189 89`: an INS as on a carte Vitale.
fn ins_shown(ins: &str) -> String {
    let mut out = String::with_capacity(ins.len() + 6);
    let mut rest = ins;
    for width in [1, 2, 2, 2, 3, 3] {
        let Some((group, tail)) = rest.split_at_checked(width) else { break };
        out.push_str(group);
        out.push(' ');
        rest = tail;
    }
    out.push_str(rest);
    out.trim_end().to_string()
}

/// Who the patient is, as a heading says it.
pub fn patient_label(name: Option<&str>, ins: &str) -> String {
    match name.map(str::trim).filter(|n| !n.is_empty()) {
        Some(name) => format!("{name} (INS {})", ins_shown(ins)),
        None => format!("Patient INS {}", ins_shown(ins)),
    }
}

fn not_found(web: &Web, visitor: &Visitor, message: &str) -> Response {
    layout::error_page(web, StatusCode::NOT_FOUND, "Introuvable", message, Some(visitor))
}

#[derive(Deserialize)]
struct ListQuery {
    page: Option<u32>,
}

async fn list(
    State(web): State<Arc<Web>>,
    Path(address): Path<String>,
    Query(query): Query<ListQuery>,
    visitor: Visitor,
) -> Response {
    let (mailbox, rights, _) = match mail::open(&web, &visitor, &address).await {
        Ok(opened) => opened,
        Err(response) => return response,
    };
    let page = query.page.unwrap_or(1).clamp(1, 100_000);
    let offset = u64::from(page - 1) * u64::from(PAGE);
    let found = match web.store.meta.patient_threads(mailbox.id, offset, PAGE).await {
        Ok(found) => found,
        Err(e) => return layout::unavailable(e),
    };
    let pages = found.total.div_ceil(u64::from(PAGE)).max(1);
    let address = mailbox.address.to_string();
    let page_link = |p: u64| format!("{}?page={p}", patients_path(&address));
    let main = html! {
        p { a href=(mail::mail_path(&address)) { "Retour au courrier de " (mailbox.display_name) } }
        @if rights.has(Right::CreateFolders) {
            p { a href=(quick_answers_path(&address)) { "Modifier les réponses rapides" } }
        }
        @if found.threads.is_empty() {
            p { "Aucun échange avec un patient pour le moment. Les patients écrivent à la pharmacie depuis Mon espace santé ; leurs messages apparaîtront ici." }
        } @else {
            p { @if found.total == 1 { "1 patient" } @else { (found.total) " patients" } }
            div class="tableau" {
                table {
                    caption { "Conversations avec les patients, de la plus récente à la plus ancienne" }
                    thead { tr { th scope="col" { "Patient" } th scope="col" { "État" } th scope="col" { "Dernier message" } th scope="col" { "Date" } } }
                    tbody {
                        @for thread in &found.threads {
                            @let closed = thread.last.columns.closes_conversation;
                            tr class=[(thread.unseen > 0).then_some("non-lu")] {
                                th scope="row" data-label="Patient" {
                                    a href=(conversation_path(&address, &thread.ins)) { (patient_label(thread.name.as_deref(), &thread.ins)) }
                                    @if thread.unseen > 0 {
                                        " " span class="compte" { (thread.unseen) span class="masque" { " non lus" } }
                                    }
                                }
                                td data-label="État" { @if closed { "Close" } @else { "En cours" } }
                                td data-label="Dernier message" {
                                    @if thread.last.from_patient() { "Du patient : " } @else { "De la pharmacie : " }
                                    (subject_of(&thread.last))
                                }
                                td data-label="Date" { (french_date(thread.last.meta.received_at)) }
                            }
                        }
                    }
                }
            }
            @if pages > 1 {
                nav aria-label="Pages" class="pagination" {
                    ul {
                        @if page > 1 { li { a href=(page_link(u64::from(page) - 1)) { "Page précédente" } } }
                        li { "Page " (page) " sur " (pages) }
                        @if u64::from(page) < pages { li { a href=(page_link(u64::from(page) + 1)) { "Page suivante" } } }
                    }
                }
            }
        }
    };
    layout::page(&web, "Patients", Some(&visitor), Section::Mailboxes, main).into_response()
}

fn subject_of(message: &PatientMessage) -> String {
    match message.columns.subject.as_deref().map(str::trim) {
        Some(subject) if !subject.is_empty() => subject.to_string(),
        _ => "(sans objet)".to_string(),
    }
}

/// The INS of a path, as the store keeps it (upper case), if it is one.
fn ins_of(text: &str) -> Option<Ins> {
    text.to_ascii_uppercase().parse().ok()
}

/// A message as the conversation shows it.
struct Shown {
    message: PatientMessage,
    folder: Option<Folder>,
    text: String,
    /// Its attachments' names, by index.
    attachments: Vec<String>,
    /// When the patient's read receipt for it arrived.
    read_at: Option<i64>,
}

/// The id of a message without its brackets.
fn bare_id(id: &str) -> &str {
    id.trim().trim_start_matches('<').trim_end_matches('>')
}

/// The text and attachments of each message (read from its body), and
/// the read receipts of those the pharmacy sent.
async fn shown(
    web: &Web,
    mailbox: &Mailbox,
    folders: &[Folder],
    messages: Vec<PatientMessage>,
) -> Result<Vec<Shown>, Response> {
    let sent: Vec<String> = messages
        .iter()
        .filter(|m| !m.from_patient())
        .filter_map(|m| m.columns.message_id.as_deref().map(|id| bare_id(id).to_string()))
        .collect();
    let receipts = web.store.meta.receipts(mailbox.id, &sent).await.map_err(layout::unavailable)?;
    let mut out = Vec::with_capacity(messages.len());
    for message in messages {
        let raw = web.store.blobs.get(&message.meta.blob).await.map_err(layout::unavailable)?;
        let (text, attachments) = match raw.as_deref().and_then(parsed::parse) {
            Some(parsed) => (
                parsed.body_text(0).map(|t| t.chars().take(MAX_TEXT_CHARS).collect()).unwrap_or_default(),
                parsed.attachments().map(|a| a.attachment_name().unwrap_or("piece-jointe").to_string()).collect(),
            ),
            None => (String::new(), Vec::new()),
        };
        let folder = folders.iter().find(|f| f.id == message.folder).cloned();
        let id = message.columns.message_id.as_deref().map(bare_id);
        let read_at = receipts.iter().find(|r| Some(r.original.as_str()) == id).map(|r| r.at);
        out.push(Shown { message, folder, text, attachments, read_at });
    }
    Ok(out)
}

/// Marks the patient's unread messages seen, folder by folder.
async fn mark_seen(web: &Web, messages: &[PatientMessage]) -> Result<(), Response> {
    let unseen: Vec<&PatientMessage> =
        messages.iter().filter(|m| m.from_patient() && !m.meta.has_flag("\\Seen")).collect();
    let mut folders: Vec<i64> = unseen.iter().map(|m| m.folder).collect();
    folders.sort_unstable();
    folders.dedup();
    for folder in folders {
        let uids: Vec<u32> = unseen.iter().filter(|m| m.folder == folder).map(|m| m.meta.uid).collect();
        let seen = ["\\Seen".to_string()];
        web.store.meta.set_flags(folder, &uids, FlagChange::Add, &seen, None).await.map_err(layout::unavailable)?;
    }
    Ok(())
}

#[derive(Deserialize, Default)]
struct ConversationQuery {
    /// What was just done, to confirm it.
    fait: Option<String>,
    /// A quick answer to put in the answer field (its index).
    reponse: Option<usize>,
}

/// The quick answers of a mailbox: its own, else the defaults.
async fn quick_answers(web: &Web, mailbox: &Mailbox) -> Result<Vec<String>, Response> {
    let chosen = web.store.meta.quick_answers(mailbox.id).await.map_err(layout::unavailable)?;
    Ok(chosen.unwrap_or_else(|| DEFAULT_QUICK_ANSWERS.map(str::to_string).to_vec()))
}

async fn conversation(
    State(web): State<Arc<Web>>,
    Path((address, ins)): Path<(String, String)>,
    Query(query): Query<ConversationQuery>,
    visitor: Visitor,
) -> Response {
    let (mailbox, rights, folders) = match mail::open(&web, &visitor, &address).await {
        Ok(opened) => opened,
        Err(response) => return response,
    };
    let Some(ins) = ins_of(&ins) else {
        return not_found(&web, &visitor, "Cette adresse ne désigne pas un patient : l'INS est invalide.");
    };
    let answers = match quick_answers(&web, &mailbox).await {
        Ok(answers) => answers,
        Err(response) => return response,
    };
    let typed = query.reponse.and_then(|i| answers.get(i)).cloned().unwrap_or_default();
    let done = match query.fait.as_deref() {
        Some("envoye") => Some("Votre réponse a été envoyée au patient."),
        Some("clos") => Some("La conversation est close : le patient en est informé."),
        _ => None,
    };
    let form = AnswerPage { rights, answers: &answers, typed: &typed, error: None, done };
    render_conversation(&web, &visitor, &mailbox, &folders, &ins, form, StatusCode::OK).await
}

/// What the answer part of a conversation page shows.
struct AnswerPage<'a> {
    rights: Rights,
    answers: &'a [String],
    typed: &'a str,
    error: Option<&'a str>,
    done: Option<&'a str>,
}

async fn render_conversation(
    web: &Web,
    visitor: &Visitor,
    mailbox: &Mailbox,
    folders: &[Folder],
    ins: &Ins,
    form: AnswerPage<'_>,
    status: StatusCode,
) -> Response {
    let messages = match web.store.meta.patient_messages(mailbox.id, ins.as_str(), SHOWN).await {
        Ok(messages) => messages,
        Err(e) => return layout::unavailable(e),
    };
    if messages.is_empty() {
        return not_found(web, visitor, "Aucun échange avec ce patient dans cette boîte.");
    }
    if form.rights.has(Right::MarkSeen)
        && let Err(response) = mark_seen(web, &messages).await
    {
        return response;
    }
    let address = mailbox.address.to_string();
    let entry = NewAuditEntry::now(visitor.actor(), "webmail.patient.open", &address, "ok", format!("ins={ins}"));
    web.store.audit.record(entry).await;
    let closing: Vec<bool> = messages.iter().map(|m| m.columns.closes_conversation).collect();
    let name = messages.iter().rev().filter(|m| m.from_patient()).find_map(|m| m.columns.from_name.clone());
    let conversations = patients::conversations(&closing);
    let shown = match shown(web, mailbox, folders, messages).await {
        Ok(shown) => shown,
        Err(response) => return response,
    };
    let open = conversations.last().is_some_and(|c| !c.closed);
    let label = patient_label(name.as_deref(), ins.as_str());
    let path = conversation_path(&address, ins.as_str());
    let main = html! {
        @if let Some(done) = form.done { (layout::alert("succes", done)) }
        p { a href=(patients_path(&address)) { "Retour aux patients de " (mailbox.display_name) } }
        h2 { (label) }
        @for (n, c) in conversations.iter().enumerate().rev() {
            @let latest = n + 1 == conversations.len();
            @if latest {
                (conversation_block(&address, c, &shown))
            } @else {
                details {
                    summary { (conversation_title(c, &shown)) }
                    (conversation_block(&address, c, &shown))
                }
            }
        }
        (answer_form(web, visitor, &path, open, &form))
    };
    let mut response =
        layout::page(web, "Conversation avec un patient", Some(visitor), Section::Mailboxes, main).into_response();
    *response.status_mut() = status;
    response
}

fn conversation_title(c: &Conversation, shown: &[Shown]) -> String {
    let first = shown[c.messages.start].message.meta.received_at;
    let state = if c.closed { "close" } else { "en cours" };
    format!("Conversation du {} ({state})", french_date(first))
}

fn conversation_block(address: &str, c: &Conversation, shown: &[Shown]) -> Markup {
    html! {
        section class="conversation" aria-label=(conversation_title(c, shown)) {
            h3 { (conversation_title(c, shown)) }
            ol class="echanges" {
                @for s in &shown[c.messages.clone()] {
                    @let from_patient = s.message.from_patient();
                    li class=(if from_patient { "echange patient" } else { "echange pharmacie" }) {
                        p class="qui" {
                            strong { @if from_patient { "Patient" } @else { "Pharmacie" } }
                            " · " (french_date(s.message.meta.received_at)) " · " (subject_of(&s.message))
                        }
                        @if !s.text.trim().is_empty() { p class="texte" { (s.text) } }
                        @if let Some(folder) = &s.folder {
                            @if !s.attachments.is_empty() {
                                ul class="pieces" {
                                    @for (i, name) in s.attachments.iter().enumerate() {
                                        @let at = Located { folder: folder.name.clone(), uid: s.message.meta.uid };
                                        li { a href=(format!("{}/{}/{}/pieces/{i}", mail::mail_path(address), percent_encode(&at.folder), at.uid)) { "Télécharger " (name) } }
                                    }
                                }
                            }
                            p { a href=(format!("{}/{}/{}", mail::mail_path(address), percent_encode(&folder.name), s.message.meta.uid)) { "Ouvrir le message" } }
                        }
                        @if let Some(at) = s.read_at { p class="lu" { "Lu par le patient le " (french_date(at)) "." } }
                        @if s.message.columns.closes_conversation { p class="fin" { "Fin de la conversation." } }
                    }
                }
            }
        }
    }
}

fn answer_form(web: &Web, visitor: &Visitor, path: &str, open: bool, form: &AnswerPage<'_>) -> Markup {
    if web.sending.is_none() || !form.rights.has(Right::SendAs) {
        return html! {};
    }
    html! {
        section aria-labelledby="repondre" {
            h2 id="repondre" { "Répondre au patient" }
            @if !open {
                p { "Cette conversation est close. Un nouveau message commencera une nouvelle conversation." }
            }
            @if !form.answers.is_empty() {
                nav aria-label="Réponses rapides" class="reponses-rapides" {
                    p { "Réponses rapides (le texte se place dans le champ, à relire avant d'envoyer) :" }
                    ul {
                        @for (i, text) in form.answers.iter().enumerate() {
                            li { a href=(format!("{path}?reponse={i}#texte")) { (text) } }
                        }
                    }
                }
            }
            form method="post" action=(path) {
                input type="hidden" name="csrf" value=(visitor.csrf());
                div class="champ" {
                    label for="texte" { "Votre message" }
                    textarea id="texte" name="texte" rows="6" aria-describedby=[form.error.map(|_| "texte-erreur")] { (form.typed) }
                    (layout::field_error("texte-erreur", form.error))
                }
                div class="actions" {
                    button type="submit" name="action" value="envoyer" { "Envoyer" }
                    @if open {
                        button type="submit" name="action" value="envoyer-clore" class="secondaire" { "Envoyer et clore la conversation" }
                        button type="submit" name="action" value="clore" class="secondaire" { "Clore la conversation" }
                    }
                }
            }
        }
    }
}

#[derive(Deserialize)]
struct AnswerForm {
    texte: Option<String>,
    action: String,
}

/// What an answer form asks.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Answer {
    Send,
    SendAndClose,
    Close,
}

impl Answer {
    fn parse(action: &str) -> Option<Self> {
        Some(match action {
            "envoyer" => Answer::Send,
            "envoyer-clore" => Answer::SendAndClose,
            "clore" => Answer::Close,
            _ => return None,
        })
    }
}

/// The text a closing message carries when the pharmacy typed none.
const CLOSING_TEXT: &str =
    "La pharmacie a clos cette conversation. Pour toute nouvelle demande, écrivez-lui un nouveau message.";

async fn answer(
    State(web): State<Arc<Web>>,
    Path((address, ins)): Path<(String, String)>,
    Posted { visitor, form }: Posted<AnswerForm>,
) -> Response {
    let Some(sending) = web.sending.as_ref() else {
        return no_sending(&web, &visitor);
    };
    let (mailbox, rights, folders) = match open_to_send(&web, &visitor, &address).await {
        Ok(opened) => opened,
        Err(response) => return response,
    };
    let Some(ins) = ins_of(&ins) else {
        return not_found(&web, &visitor, "Cette adresse ne désigne pas un patient : l'INS est invalide.");
    };
    let Some(action) = Answer::parse(&form.action) else {
        let message = "Le formulaire envoyé est illisible : rechargez la page et recommencez.";
        return layout::error_page(&web, StatusCode::BAD_REQUEST, "Formulaire refusé", message, Some(&visitor));
    };
    let typed = form.texte.unwrap_or_default();
    let text = typed.trim();
    let error = if text.is_empty() && action != Answer::Close {
        Some("Écrivez votre message, ou choisissez une réponse rapide.".to_string())
    } else if text.chars().count() > MAX_TEXT_CHARS {
        Some(format!("Votre message dépasse {MAX_TEXT_CHARS} caractères : raccourcissez-le."))
    } else {
        None
    };
    if let Some(error) = error {
        let answers = match quick_answers(&web, &mailbox).await {
            Ok(answers) => answers,
            Err(response) => return response,
        };
        let form = AnswerPage { rights, answers: &answers, typed: &typed, error: Some(&error), done: None };
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        return render_conversation(&web, &visitor, &mailbox, &folders, &ins, form, status).await;
    }
    let messages = match web.store.meta.patient_messages(mailbox.id, ins.as_str(), SHOWN).await {
        Ok(messages) => messages,
        Err(e) => return layout::unavailable(e),
    };
    let Some(last) = messages.last() else {
        return not_found(&web, &visitor, "Aucun échange avec ce patient dans cette boîte.");
    };
    // The patient's last message is the one answered; after a closing
    // message, a new conversation starts (Mon espace santé refuses a
    // reply within a closed one).
    let answered = messages.iter().rev().find(|m| m.from_patient()).unwrap_or(last);
    let new_conversation = last.columns.closes_conversation;
    let subject = match action {
        Answer::Close => patients::CLOSING_SUBJECT.to_string(),
        _ if new_conversation => format!("Message de {}", mailbox.display_name),
        _ => prefixed("Re: ", &subject_of(answered)),
    };
    let body = if text.is_empty() { CLOSING_TEXT } else { text };
    let in_reply_to =
        if new_conversation { String::new() } else { answered.columns.message_id.clone().unwrap_or_default() };
    let recipient = Recipient { name: None, address: ins.patient_address() };
    let route = match route_one(sending, &recipient.address).await {
        Ok(route) => route,
        Err(Ok(reason)) => {
            return layout::error_page(
                &web,
                StatusCode::UNPROCESSABLE_ENTITY,
                "Envoi impossible",
                &reason,
                Some(&visitor),
            );
        }
        Err(Err(response)) => return response,
    };
    let to = [recipient];
    let outgoing = Outgoing {
        from: (&mailbox.display_name, &mailbox.address),
        to: &to,
        cc: &[],
        subject: &subject,
        body,
        in_reply_to: &in_reply_to,
        references: &in_reply_to,
        attachments: Vec::new(),
        hostname: &sending.hostname,
        // Mon espace santé named the patient by this INS in their messages.
        ins_qualified: messages.iter().any(PatientMessage::from_patient),
        closes_conversation: action != Answer::Send,
        codecda: None,
        product: &sending.product,
        receipt: true,
    };
    let Ok(message) = outgoing::build(outgoing) else {
        return layout::unavailable("building an answer to a patient failed");
    };
    let message = with_received_header(sending, &message);
    if let Err(e) = sending.submitter.store(message.clone(), &address, mailbox.id, &[route]).await {
        return layout::unavailable(e);
    }
    let what = match action {
        Answer::Send => "answer",
        Answer::SendAndClose => "answer+close",
        Answer::Close => "close",
    };
    let detail = format!("ins={ins} {what} size={}", message.len());
    web.store.audit.record(NewAuditEntry::now(visitor.actor(), "webmail.patient.answer", &address, "ok", detail)).await;
    let done = if action == Answer::Send { "envoye" } else { "clos" };
    Redirect::to(&format!("{}?fait={done}", conversation_path(&address, ins.as_str()))).into_response()
}

/// Whether the person may change the mailbox's quick answers.
fn may_edit_answers(rights: Rights) -> bool {
    rights.has(Right::CreateFolders)
}

fn may_not_edit(web: &Web, visitor: &Visitor) -> Response {
    let message = "Votre rôle sur cette boîte ne permet pas de modifier ses réponses rapides : demandez-le à un gestionnaire ou à un administrateur de la boîte.";
    layout::error_page(web, StatusCode::FORBIDDEN, "Action non autorisée", message, Some(visitor))
}

async fn quick_answers_page(State(web): State<Arc<Web>>, Path(address): Path<String>, visitor: Visitor) -> Response {
    let (mailbox, rights, _) = match mail::open(&web, &visitor, &address).await {
        Ok(opened) => opened,
        Err(response) => return response,
    };
    if !may_edit_answers(rights) {
        return may_not_edit(&web, &visitor);
    }
    let answers = match quick_answers(&web, &mailbox).await {
        Ok(answers) => answers,
        Err(response) => return response,
    };
    quick_answers_form(&web, &visitor, &mailbox, &answers.join("\n"), None, StatusCode::OK)
}

fn quick_answers_form(
    web: &Web,
    visitor: &Visitor,
    mailbox: &Mailbox,
    typed: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let address = mailbox.address.to_string();
    let main = html! {
        p { a href=(patients_path(&address)) { "Retour aux patients de " (mailbox.display_name) } }
        p { "Les réponses rapides de " strong { (mailbox.display_name) } " se placent dans le champ de réponse d'une conversation avec un patient, à relire avant d'envoyer. Une réponse par ligne ; "
            (patients::MAX_QUICK_ANSWERS) " réponses au plus, de " (patients::MAX_QUICK_ANSWER_CHARS) " caractères au plus." }
        form method="post" action=(quick_answers_path(&address)) {
            input type="hidden" name="csrf" value=(visitor.csrf());
            div class="champ" {
                label for="reponses" { "Réponses rapides" }
                textarea id="reponses" name="reponses" rows="8" aria-describedby=[error.map(|_| "reponses-erreur")] { (typed) }
                (layout::field_error("reponses-erreur", error))
            }
            button type="submit" { "Enregistrer" }
        }
    };
    let mut response = layout::page(web, "Réponses rapides", Some(visitor), Section::Mailboxes, main).into_response();
    *response.status_mut() = status;
    response
}

#[derive(Deserialize)]
struct QuickAnswersForm {
    reponses: Option<String>,
}

async fn save_quick_answers(
    State(web): State<Arc<Web>>,
    Path(address): Path<String>,
    Posted { visitor, form }: Posted<QuickAnswersForm>,
) -> Response {
    let (mailbox, rights, _) = match mail::open(&web, &visitor, &address).await {
        Ok(opened) => opened,
        Err(response) => return response,
    };
    if !may_edit_answers(rights) {
        let entry = NewAuditEntry::now(visitor.actor(), "webmail.quick_answers", &address, "refused: role", "");
        web.store.audit.record(entry).await;
        return may_not_edit(&web, &visitor);
    }
    let typed = form.reponses.unwrap_or_default();
    let answers = match patients::check_quick_answers(&typed) {
        Ok(answers) => answers,
        Err(e) => {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            return quick_answers_form(&web, &visitor, &mailbox, &typed, Some(&e.to_string()), status);
        }
    };
    if let Err(e) = web.store.meta.set_quick_answers(mailbox.id, &answers, now_unix()).await {
        return layout::unavailable(e);
    }
    let detail = format!("answers={}", answers.len());
    web.store.audit.record(NewAuditEntry::now(visitor.actor(), "webmail.quick_answers", &address, "ok", detail)).await;
    Redirect::to(&patients_path(&address)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ins_is_shown_in_its_groups() {
        assert_eq!(ins_shown("279035121518989"), "2 79 03 51 215 189 89");
        assert_eq!(ins_shown("253072A07300443"), "2 53 07 2A 073 004 43");
        assert_eq!(ins_shown("12"), "1 2");
        assert_eq!(patient_label(Some(" "), "279035121518989"), "Patient INS 2 79 03 51 215 189 89");
        assert_eq!(ins_of("253072a07300443").map(|i| i.to_string()).as_deref(), Some("253072A07300443"));
        assert!(ins_of("279035121518988").is_none() && ins_of("../INBOX").is_none());
    }
}
