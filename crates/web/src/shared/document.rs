//! A health document sent from this site (the webmail's compose page, the
//! API), ANS ECO.2.1.*: a PDF, its patient and type become a CDA and its
//! IHE XDM package (`mss_documents::build`), sent beside the PDF named by
//! the ANS convention, under the subject `XDM/1.0/DDM+…`, with the
//! `X-MSS-CODECDA` and `X-MSS-INS` fields. What a sender typed is read
//! here once for both ([`parse_ins`], [`parse_birth_date`]).

use mss_core::Ins;
use mss_documents::build::{Author, DocumentType, NewDocument, Patient};
use mss_identity::session::random_u128;
use mss_store::now_unix;

use super::outgoing::Upload;

/// A document to send, its values checked.
pub struct Document {
    pub patient: Patient,
    /// The INS was qualified (identity checked with the INSi).
    pub qualified: bool,
    pub kind: DocumentType,
    /// The PDF (starts with `%PDF-`).
    pub pdf: Vec<u8>,
}

/// What a document message carries, built.
pub struct Built {
    pub subject: String,
    /// The PDF (ANS name) and `IHE_XDM.ZIP`, in that order.
    pub attachments: Vec<Upload>,
    pub codecda: String,
    pub ins_qualified: bool,
}

/// An INS as typed: spaces and dots ignored, letters in any case.
pub fn parse_ins(text: &str) -> Option<Ins> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace() && *c != '.').collect();
    compact.to_ascii_uppercase().parse().ok()
}

/// A birth date `AAAA-MM-JJ` (or `AAAAMMJJ`) as the CDA writes it
/// (`AAAAMMJJ`); `Ok(None)` when empty.
pub fn parse_birth_date(text: &str) -> Result<Option<String>, ()> {
    let birth = text.trim().replace('-', "");
    match birth.len() {
        0 => Ok(None),
        8 if birth.bytes().all(|b| b.is_ascii_digit()) => Ok(Some(birth)),
        _ => Err(()),
    }
}

/// The CDA, its package and the PDF, ready to send; or why not, in French.
pub fn package(document: Document, author: Author, software: &str) -> Result<Built, String> {
    let (Ok(a), Ok(b)) = (random_u128(), random_u128()) else {
        return Err("Le document n'a pas pu être préparé : réessayez.".into());
    };
    let Document { patient, qualified, kind, pdf } = document;
    let document = NewDocument {
        patient,
        author,
        kind,
        title: kind.display.to_string(),
        created: now_unix(),
        pdf,
        ids: [a, b],
        software: software.to_string(),
    };
    let package = document
        .cda()
        .and_then(|cda| document.package(&cda))
        .map_err(|e| format!("Le document n'a pas pu être préparé : {e}."))?;
    let subject = document.subject();
    let attachments = vec![
        Upload { name: document.pdf_name(), content_type: "application/pdf".into(), bytes: document.pdf },
        Upload { name: "IHE_XDM.ZIP".into(), content_type: "application/zip".into(), bytes: package },
    ];
    Ok(Built { subject, attachments, codecda: kind.code.to_string(), ins_qualified: qualified })
}
