//! The health documents of a message, as the webmail shows them: for each
//! IHE XDM package or CDA attachment (`mss_message::documents`), whether
//! the package was checked sound or what is wrong with it, then each
//! document: its type, patient (name, INS, birth date), date and author,
//! its file to download (an embedded PDF first), or its narrative as text;
//! and what the mailbox holds of it elsewhere (`mss_store`'s documents by
//! id): the same document received before, the later one that annuls and
//! replaces it, the earlier one it replaces.
//! Nothing from a document is rendered as markup: text only, escaped; its
//! files are downloaded, never shown inline. Reading a document's file is
//! traced like any download.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use maud::{Markup, html};
use mss_documents::cda::{self, Body, Cda};
use mss_documents::xdm::Document;
use mss_http::percent_encode;
use mss_message::documents::{Attached, Content, attached};
use mss_message::parsed;
use mss_store::{DocumentCopy, Folder, MailboxId, NewAuditEntry, StoreError};

use super::layout;
use super::mail::{self, Located};
use super::session::Visitor;
use crate::Web;

pub fn router() -> Router<Arc<Web>> {
    Router::new().route("/portail/boites/{address}/courrier/{folder}/{uid}/pieces/{index}/documents/{n}", get(download))
}

/// `25/03/2022` from an HL7 date (`YYYYMMDD…`); as written when it is not one.
fn hl7_date(value: &str) -> String {
    match (value.get(..4), value.get(4..6), value.get(6..8)) {
        (Some(y), Some(m), Some(d)) if value[..8].bytes().all(|b| b.is_ascii_digit()) => format!("{d}/{m}/{y}"),
        _ => value.to_string(),
    }
}

/// The documents of one attachment, in order, each with its CDA when it is
/// one: (title or type, the package entry if any, the CDA read).
fn documents_of(a: &Attached) -> Vec<(Option<&Document>, Option<Cda>)> {
    match &a.content {
        Content::Package(package) => package
            .documents()
            .map(|doc| (Some(doc), (!doc.bytes.is_empty()).then(|| cda::read(&doc.bytes).ok()).flatten()))
            .collect(),
        Content::Cda(Ok(cda)) => vec![(None, Some((**cda).clone()))],
        Content::Cda(Err(_)) => Vec::new(),
    }
}

/// The id of a document (its package entry's, else its CDA's) and the id
/// of the one it replaces.
fn ids_of(entry: Option<&Document>, cda: Option<&Cda>) -> (Option<String>, Option<String>) {
    let id = entry.and_then(|e| e.unique_id.clone()).or_else(|| cda.and_then(|c| c.id.clone()));
    (id, cda.and_then(|c| c.replaces.clone()))
}

/// Where else the mailbox holds the documents of `found`, what replaced
/// them, and what they replace.
pub async fn copies(web: &Web, mailbox: MailboxId, found: &[Attached]) -> Result<Vec<DocumentCopy>, StoreError> {
    let mut ids = Vec::new();
    for a in found {
        for (entry, cda) in documents_of(a) {
            let (id, replaces) = ids_of(entry, cda.as_ref());
            ids.extend(id.into_iter().chain(replaces));
        }
    }
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    web.store.meta.document_copies(mailbox, &ids).await
}

/// Where a message is, for the notes on its documents.
pub struct Elsewhere<'a> {
    /// The mailbox's mail pages (`/portail/boites/{address}/courrier`).
    pub base: &'a str,
    pub folders: &'a [Folder],
    /// The message shown.
    pub at: &'a Located,
    pub copies: &'a [DocumentCopy],
}

impl Elsewhere<'_> {
    fn link(&self, copy: &DocumentCopy) -> Markup {
        let folder = self.folders.iter().find(|f| f.name == copy.folder);
        let label = folder.map_or_else(|| copy.folder.clone(), mail::folder_label);
        let href = format!("{}/{}/{}", self.base, percent_encode(&copy.folder), copy.uid);
        html! { a href=(href) { "message du " (mail::french_date(copy.received_at)) } " (" (label) ")" }
    }

    /// What the mailbox says of the document `id` (replacing `replaces`).
    fn notes(&self, id: Option<&str>, replaces: Option<&str>) -> Markup {
        let here = |c: &&DocumentCopy| c.folder == self.at.folder && c.uid == self.at.uid;
        let same: Vec<&DocumentCopy> =
            self.copies.iter().filter(|c| Some(c.document_id.as_str()) == id).filter(|c| !here(c)).collect();
        let newer: Vec<&DocumentCopy> =
            self.copies.iter().filter(|c| id.is_some() && c.replaces.as_deref() == id).collect();
        let older: Vec<&DocumentCopy> =
            self.copies.iter().filter(|c| replaces.is_some() && Some(c.document_id.as_str()) == replaces).collect();
        html! {
            @if !newer.is_empty() {
                div class="alerte alerte-erreur" role="alert" {
                    p { "Ce document a été annulé et remplacé par une version plus récente : "
                        @for (i, c) in newer.iter().enumerate() { @if i > 0 { ", " } (self.link(c)) } "." }
                }
            }
            @if !same.is_empty() {
                p class="doublon" { "Document déjà reçu (même identifiant) : "
                    @for (i, c) in same.iter().enumerate() { @if i > 0 { ", " } (self.link(c)) } "." }
            }
            @if !older.is_empty() {
                p { "Il remplace le document reçu dans le "
                    @for (i, c) in older.iter().enumerate() { @if i > 0 { ", " } (self.link(c)) } "." }
            }
        }
    }
}

/// The section of a message page showing its documents (empty without).
pub fn section(found: &[Attached], here: &str, elsewhere: &Elsewhere<'_>) -> Markup {
    if found.is_empty() {
        return html! {};
    }
    html! {
        h2 { "Documents de santé" }
        @for a in found {
            section class="document" aria-label=(format!("Pièce jointe {}", a.name)) {
                @match &a.content {
                    Content::Package(package) if package.is_valid() => {
                        p class="verifie" { "Paquet IHE XDM « " (a.name) " » vérifié : empreintes et tailles conformes aux métadonnées." }
                    }
                    Content::Package(package) => {
                        div class="alerte alerte-erreur" role="alert" {
                            p { "Paquet IHE XDM « " (a.name) " » non conforme : à vérifier avant tout usage." }
                            ul { @for problem in &package.problems { li { (problem.to_string()) } } }
                        }
                    }
                    Content::Cda(Err(e)) => {
                        div class="alerte alerte-erreur" role="alert" { p { "Document CDA « " (a.name) " » illisible : " (e.to_string()) } }
                    }
                    Content::Cda(Ok(_)) => {}
                }
                @for (n, (entry, cda)) in documents_of(a).iter().enumerate() {
                    (document(a.attachment, n, *entry, cda.as_ref(), here, elsewhere))
                }
            }
        }
    }
}

fn document(
    attachment: usize,
    n: usize,
    entry: Option<&Document>,
    cda: Option<&Cda>,
    here: &str,
    elsewhere: &Elsewhere<'_>,
) -> Markup {
    let (id, replaces) = ids_of(entry, cda);
    let code = cda.and_then(|c| c.code.as_ref()).or(entry.and_then(|e| e.type_code.as_ref()));
    let title = cda
        .and_then(|c| c.title.clone())
        .or(entry.and_then(|e| e.title.clone()))
        .or(code.and_then(|c| c.display.clone()))
        .unwrap_or_else(|| "Document".to_string());
    let patient = cda.map(|c| &c.patient);
    let name = patient.map(|p| {
        [p.given.clone(), p.family.as_ref().map(|f| f.to_uppercase())]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ")
    });
    let ins = patient.and_then(|p| p.ins.clone()).or(entry.and_then(|e| e.ins.clone()));
    let date = cda.and_then(|c| c.effective_time.clone()).or(entry.and_then(|e| e.creation_time.clone()));
    let author = cda.and_then(|c| c.author.clone()).or(entry.and_then(|e| e.author.clone()));
    let link = format!("{here}/pieces/{attachment}/documents/{n}");
    html! {
        article class="document-sante" {
            h3 { (title) }
            (elsewhere.notes(id.as_deref(), replaces.as_deref()))
            dl class="entetes" {
                @if let Some(code) = code {
                    dt { "Type" } dd { (code.display.clone().unwrap_or_default()) " (" (code.code) ")" }
                }
                @if let Some(name) = name.filter(|n| !n.is_empty()) { dt { "Patient" } dd { (name) } }
                @if let Some(ins) = ins { dt { "INS" } dd { (ins) } }
                @if let Some(birth) = patient.and_then(|p| p.birth_time.as_deref()) { dt { "Né(e) le" } dd { (hl7_date(birth)) } }
                @if let Some(date) = date { dt { "Date du document" } dd { (hl7_date(&date)) } }
                @if let Some(author) = author { dt { "Auteur" } dd { (author) } }
                @if let Some(replaces) = cda.and_then(|c| c.replaces.as_deref()) {
                    dt { "Remplace" } dd { "Ce document annule et remplace le document " (replaces) "." }
                }
            }
            @match cda.map(|c| &c.body) {
                Some(Body::File { media_type, bytes }) => {
                    p { a class="bouton" href=(link) { "Télécharger le document (" (media_type) ", " (mail::french_size(bytes.len() as u64)) ")" } }
                }
                Some(Body::Sections(sections)) => {
                    @for s in sections {
                        @if let Some(title) = &s.title { h4 { (title) } }
                        @if !s.text.is_empty() { pre class="corps" { (s.text) } }
                    }
                    p { a href=(link) { "Télécharger le document CDA" } }
                }
                _ => { p { a href=(link) { "Télécharger le document" } } }
            }
        }
    }
}

/// One document of an attachment: the CDA's embedded file, else the
/// document's own bytes; downloaded, never shown inline.
async fn download(
    State(web): State<Arc<Web>>,
    Path((address, folder, uid, index, n)): Path<(String, String, u32, usize, usize)>,
    visitor: Visitor,
) -> Response {
    let (_, _, folders) = match mail::open(&web, &visitor, &address).await {
        Ok(opened) => opened,
        Err(response) => return response,
    };
    let at = Located { folder, uid };
    let (_, _, raw) = match mail::load(&web, &visitor, &folders, &at).await {
        Ok(loaded) => loaded,
        Err(response) => return response,
    };
    let parsed = parsed::parse(&raw);
    let found = parsed.as_deref().map(attached).unwrap_or_default();
    let chosen = found.iter().find(|a| a.attachment == index).and_then(|a| {
        let (entry, cda) = documents_of(a).into_iter().nth(n)?;
        let file = match cda.map(|c| c.body) {
            Some(Body::File { media_type, bytes }) => Some((media_type, bytes)),
            _ => None,
        };
        Some(file.unwrap_or_else(|| match (&a.content, entry) {
            (_, Some(doc)) => (doc.mime_type.clone().unwrap_or_default(), doc.bytes.clone()),
            _ => ("text/xml".into(), Vec::new()),
        }))
    });
    let Some((media_type, bytes)) = chosen.filter(|(_, b)| !b.is_empty()) else {
        let message = "Ce document n'existe pas dans ce message.";
        return layout::error_page(&web, StatusCode::NOT_FOUND, "Introuvable", message, Some(&visitor));
    };
    let extension = if media_type.contains("pdf") {
        "pdf"
    } else if media_type.contains("xml") {
        "xml"
    } else {
        "bin"
    };
    let file_name = format!("document-{}.{extension}", n + 1);
    let detail = format!("{at} part={index} document={n}");
    web.store.audit.record(NewAuditEntry::now(visitor.actor(), "webmail.download", &address, "ok", detail)).await;
    let disposition = format!("attachment; filename=\"{file_name}\"; filename*=UTF-8''{}", percent_encode(&file_name));
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream")),
        (
            header::CONTENT_DISPOSITION,
            HeaderValue::from_str(&disposition).unwrap_or(HeaderValue::from_static("attachment")),
        ),
    ];
    (headers, bytes).into_response()
}

#[cfg(test)]
mod tests {
    #[test]
    fn hl7_dates_read_as_french_dates() {
        assert_eq!(super::hl7_date("20220325142400+0100"), "25/03/2022");
        assert_eq!(super::hl7_date("19790328"), "28/03/1979");
        assert_eq!(super::hl7_date("2022"), "2022");
        assert_eq!(super::hl7_date("2022é1234"), "2022é1234");
    }
}
