//! Sending a health document through the API
//! (`POST /api/mailboxes/{address}/documents`), for the pharmacy software
//! (as its applicative mailbox: token or certificate) and for people (their
//! session, on a mailbox they may send as): a PDF, its patient (INS,
//! traits) and type become a CDA and its IHE XDM package, sent beside the
//! PDF with the ANS subject and fields, as the webmail sends it
//! ([`crate::shared::document`]). Each refused value is named by its field,
//! in French, and nothing is sent; every message sent or refused is traced.

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use base64::Engine;
use mss_core::{EmailAddress, MAX_RECIPIENTS_PER_MESSAGE, Right};
use mss_documents::build::{Author, Patient, document_type};
use mss_store::NewAuditEntry;
use serde::Deserialize;

use super::software::Acting;
use crate::shared::document::{self, Document, parse_birth_date, parse_ins};
use crate::shared::outgoing::{self, Outgoing, Recipient};
use crate::shared::sending::{self, Unroutable, with_received_header};
use crate::{Problem, Web};

/// Room the JSON around the base64 PDF takes, at most.
const JSON_SLACK: usize = 256 * 1024;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DocumentBody {
    to: Vec<String>,
    #[serde(default)]
    cc: Vec<String>,
    /// The message's text, beside the document.
    #[serde(default)]
    text: String,
    patient: PatientBody,
    /// The document's LOINC type (`GET /api/openapi.json` lists them).
    #[serde(rename = "type")]
    kind: String,
    /// The PDF, base64.
    pdf: String,
    /// Ask the recipients' software for a read receipt.
    #[serde(default)]
    receipt: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatientBody {
    ins: String,
    #[serde(default)]
    qualified: bool,
    family: String,
    given: String,
    birth_date: Option<String>,
}

/// The largest request: the largest message's PDF in base64, and the rest.
pub fn max_body_bytes(max_message_bytes: usize) -> usize {
    max_message_bytes / 3 * 4 + JSON_SLACK
}

pub async fn send(
    State(web): State<Arc<Web>>,
    Path(address): Path<String>,
    acting: Acting,
    request: Request,
) -> Result<Response, Problem> {
    let Some(sending) = web.sending.as_ref() else {
        return Err(Problem::new(StatusCode::SERVICE_UNAVAILABLE, "no-sending", "L'envoi n'est pas ouvert ici."));
    };
    let (mailbox, rights) = acting.on(&web, &address).await?;
    if !rights.has(Right::SendAs) {
        return Err(Problem::forbidden("Vous ne pouvez pas envoyer de message au nom de cette boîte."));
    }
    let body: DocumentBody = super::body::json(request, max_body_bytes(sending.max_message_bytes)).await?;
    let actor = acting.actor();
    let audit =
        |result: &str, detail: String| NewAuditEntry::now(&actor, "api.document.send", &address, result, detail);
    let (to, cc, document) = match checked(body.to, body.cc, body.patient, &body.kind, &body.pdf) {
        Ok(checked) => checked,
        Err(problem) => {
            web.store.audit.record(audit("refused: invalid", problem.detail.clone())).await;
            return Err(problem);
        }
    };
    let mut routes = Vec::with_capacity(to.len() + cc.len());
    for recipient in to.iter().chain(&cc) {
        match sending::route(sending, &recipient.address).await {
            Ok(route) => routes.push(route),
            Err(Unroutable::Refused(reason)) => {
                web.store.audit.record(audit("refused: recipient", recipient.address.to_string())).await;
                return Err(Problem::invalid(reason).on("to"));
            }
            Err(Unroutable::Store(e)) => return Err(Problem::unavailable(e)),
        }
    }
    let author = match &acting {
        Acting::Person(caller) => {
            let person = &caller.0.person;
            Author {
                national_id: Some(person.national_id.as_string()),
                given: Some(person.first_name.clone()),
                family: person.last_name.clone(),
                organisation: Some(mailbox.display_name.clone()),
            }
        }
        Acting::Software(_) => Author {
            national_id: None,
            given: None,
            family: mailbox.display_name.clone(),
            organisation: Some(mailbox.display_name.clone()),
        },
    };
    let built = document::package(document, author, &sending.product).map_err(Problem::unavailable)?;
    let message = outgoing::build(Outgoing {
        from: (&mailbox.display_name, &mailbox.address),
        to: &to,
        cc: &cc,
        subject: &built.subject,
        body: &body.text,
        in_reply_to: "",
        references: "",
        attachments: built.attachments,
        hostname: &sending.hostname,
        ins_qualified: built.ins_qualified,
        closes_conversation: false,
        codecda: Some(&built.codecda),
        product: &sending.product,
        receipt: body.receipt,
    })
    .map_err(Problem::unavailable)?;
    let too_large = message.len() > sending.max_message_bytes;
    if too_large || !mss_smtp::submit::fits_patients(message.len(), &routes) {
        web.store.audit.record(audit("refused: too large", format!("size={}", message.len()))).await;
        return Err(Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-large",
            "Le message dépasse la taille maximale (celle de Mon espace santé pour un patient) : réduisez le PDF.",
        ));
    }
    let message_id = mss_message::parsed::parse_header(&message).and_then(|h| h.message_id().map(str::to_string));
    let message = with_received_header(sending, &message);
    match sending.submitter.store(message.clone(), &address, mailbox.id, &routes).await {
        Ok(()) => {}
        Err(e) if e.is_storage_full() => {
            return Err(Problem::new(
                StatusCode::INSUFFICIENT_STORAGE,
                "storage-full",
                "Le serveur manque momentanément d'espace : rien n'a été envoyé. Réessayez plus tard.",
            ));
        }
        Err(e) => return Err(Problem::unavailable(e)),
    }
    let detail = format!("recipients={} size={} type={}", routes.len(), message.len(), built.codecda);
    web.store.audit.record(audit("ok", detail)).await;
    let answer = serde_json::json!({
        "message_id": message_id,
        "subject": built.subject,
        "recipients": routes.len(),
    });
    Ok((StatusCode::ACCEPTED, Json(answer)).into_response())
}

/// A value the client sent, as a refusal may quote it (and the audit trail
/// keep it): one line, 100 characters at most.
fn shown(value: &str) -> String {
    value.chars().filter(|c| !c.is_control()).take(100).collect()
}

/// The recipients and the document, or the first value refused (named by
/// its field).
fn checked(
    to: Vec<String>,
    cc: Vec<String>,
    patient: PatientBody,
    kind: &str,
    pdf: &str,
) -> Result<(Vec<Recipient>, Vec<Recipient>, Document), Problem> {
    let recipients = |list: Vec<String>, field: &'static str| {
        list.iter()
            .map(|a| {
                let address: EmailAddress = a
                    .trim()
                    .parse()
                    .map_err(|_| Problem::invalid(format!("Adresse invalide : {}", shown(a))).on(field))?;
                Ok(Recipient { name: None, address })
            })
            .collect::<Result<Vec<_>, Problem>>()
    };
    let (to, cc) = (recipients(to, "to")?, recipients(cc, "cc")?);
    if to.is_empty() {
        return Err(Problem::invalid("Indiquez au moins un destinataire.").on("to"));
    }
    if to.len() + cc.len() > MAX_RECIPIENTS_PER_MESSAGE {
        let detail = format!("Trop de destinataires : {MAX_RECIPIENTS_PER_MESSAGE} au plus par message.");
        return Err(Problem::invalid(detail).on("to"));
    }
    let ins = parse_ins(&patient.ins)
        .ok_or_else(|| Problem::invalid("INS invalide : 15 caractères dont la clé de contrôle.").on("patient.ins"))?;
    let name = |text: &str| {
        let text = text.trim();
        (!text.is_empty() && text.chars().count() <= 100 && !text.chars().any(char::is_control))
            .then(|| text.to_string())
    };
    let (Some(family), Some(given)) = (name(&patient.family), name(&patient.given)) else {
        return Err(Problem::invalid(
            "Le nom de naissance et le prénom du patient sont nécessaires (100 caractères au plus).",
        )
        .on("patient.family"));
    };
    let birth_date = parse_birth_date(patient.birth_date.as_deref().unwrap_or_default())
        .map_err(|()| Problem::invalid("Date de naissance invalide : AAAA-MM-JJ.").on("patient.birth_date"))?;
    let kind = document_type(kind)
        .ok_or_else(|| Problem::invalid("Type de document inconnu (code LOINC de la liste des types).").on("type"))?;
    let pdf = base64::engine::general_purpose::STANDARD
        .decode(pdf.trim())
        .map_err(|_| Problem::invalid("Le PDF doit être encodé en base64.").on("pdf"))?;
    if !pdf.starts_with(b"%PDF-") {
        return Err(Problem::invalid("Ce fichier n'est pas un PDF.").on("pdf"));
    }
    let patient_ins = Patient { ins, given, family, birth_date };
    Ok((to, cc, Document { patient: patient_ins, qualified: patient.qualified, kind, pdf }))
}
