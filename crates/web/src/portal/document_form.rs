//! Sending a health document from the compose page (ANS ECO.2.1.*): the
//! sender ticks "Envoyer comme document de santé", names the patient (INS
//! and identity traits) and the document type, and joins the PDF; the
//! document is packaged as the API packages it ([`crate::shared::document`]).
//! Each field's error is said under it, in French; nothing is sent until
//! all are right.

use maud::{Markup, html};
use mss_documents::build::{Author, DocumentType, Patient, TYPES, document_type};
use mss_store::Mailbox;

use super::layout::{field_error, text_field};
use crate::shared::document::{Built, Document, package, parse_birth_date, parse_ins};
use crate::shared::outgoing::Upload;

/// What the document part of the form holds.
#[derive(Default, Clone)]
pub struct DocumentFields {
    pub enabled: bool,
    pub ins: String,
    pub qualified: bool,
    pub family: String,
    pub given: String,
    /// `AAAA-MM-JJ`, as a date input gives it.
    pub birth: String,
    pub kind: String,
}

/// Errors under the document's fields.
#[derive(Default)]
pub struct DocumentErrors {
    pub ins: Option<String>,
    pub name: Option<String>,
    pub birth: Option<String>,
    pub kind: Option<String>,
    pub file: Option<String>,
}

impl DocumentErrors {
    pub fn any(&self) -> bool {
        self.ins.is_some() || self.name.is_some() || self.birth.is_some() || self.kind.is_some() || self.file.is_some()
    }
}

impl DocumentFields {
    /// Takes a posted field of the document part; false if it is not one.
    pub fn take(&mut self, name: &str, value: String) -> bool {
        match name {
            "doc" => self.enabled = value == "1",
            "doc_ins" => self.ins = value,
            "doc_ins_qualifiee" => self.qualified = value == "1",
            "doc_nom" => self.family = value,
            "doc_prenom" => self.given = value,
            "doc_naissance" => self.birth = value,
            "doc_type" => self.kind = value,
            _ => return false,
        }
        true
    }
}

/// The fieldset of the compose form.
pub fn fieldset(fields: &DocumentFields, errors: &DocumentErrors) -> Markup {
    html! {
        fieldset class="document-form" {
            legend { "Document de santé" }
            div class="case" {
                input type="checkbox" id="doc" name="doc" value="1" checked[fields.enabled];
                label for="doc" { "Envoyer le PDF joint comme document de santé (paquet IHE XDM, avec le patient et le type)" }
            }
            (text_field("doc_ins", "INS du patient", "15 caractères, clé comprise (carte Vitale ou téléservice INSi).", Some(&fields.ins), errors.ins.as_deref()))
            div class="case" {
                input type="checkbox" id="doc_ins_qualifiee" name="doc_ins_qualifiee" value="1" checked[fields.qualified];
                label for="doc_ins_qualifiee" { "INS qualifiée (identité vérifiée avec une pièce d'identité et l'INSi)" }
            }
            (text_field("doc_nom", "Nom de naissance du patient", "", Some(&fields.family), errors.name.as_deref()))
            (text_field("doc_prenom", "Prénom du patient", "", Some(&fields.given), None))
            div class={ "champ" @if errors.birth.is_some() { " en-erreur" } } {
                label for="doc_naissance" { "Date de naissance" }
                input type="date" id="doc_naissance" name="doc_naissance" value=(fields.birth)
                    aria-describedby=[errors.birth.as_ref().map(|_| "doc_naissance-erreur")] aria-invalid=[errors.birth.as_ref().map(|_| "true")];
                (field_error("doc_naissance-erreur", errors.birth.as_deref()))
            }
            div class={ "champ" @if errors.kind.is_some() { " en-erreur" } } {
                label for="doc_type" { "Type de document" }
                select id="doc_type" name="doc_type" aria-describedby=[errors.kind.as_ref().map(|_| "doc_type-erreur")] {
                    @for t in TYPES { option value=(t.code) selected[fields.kind == t.code] { (t.display) } }
                }
                (field_error("doc_type-erreur", errors.kind.as_deref()))
            }
            (field_error("doc-fichier-erreur", errors.file.as_deref()))
        }
    }
}

/// The document built from the fields and the first PDF of `uploads` (the
/// other files stay plain attachments, after the document's), or the errors
/// to show (nothing is sent: the files are joined again).
pub fn build(
    fields: &DocumentFields,
    uploads: Vec<Upload>,
    mailbox: &Mailbox,
    author: (Option<String>, Option<String>, String),
    software: &str,
) -> Result<Built, Box<DocumentErrors>> {
    let mut errors = DocumentErrors::default();
    let ins = parse_ins(&fields.ins);
    if ins.is_none() {
        errors.ins =
            Some("INS invalide : 15 caractères dont la clé de contrôle ; vérifiez-le sur la carte Vitale.".into());
    }
    if fields.family.trim().is_empty() || fields.given.trim().is_empty() {
        errors.name = Some("Le nom de naissance et le prénom du patient sont nécessaires.".into());
    }
    let birth = parse_birth_date(&fields.birth);
    if birth.is_err() {
        errors.birth = Some("Date de naissance invalide.".into());
    }
    let kind: Option<DocumentType> = document_type(&fields.kind);
    if kind.is_none() {
        errors.kind = Some("Choisissez le type de document.".into());
    }
    let pdf = uploads.iter().position(|u| u.bytes.starts_with(b"%PDF-"));
    if pdf.is_none() {
        errors.file = Some("Joignez le document en PDF : c'est lui qui est envoyé comme document de santé.".into());
    }
    let (Some(ins), Ok(birth_date), Some(kind), Some(at), false) = (ins, birth, kind, pdf, errors.any()) else {
        return Err(Box::new(errors));
    };
    let mut uploads = uploads;
    let pdf = uploads.remove(at);
    let (national_id, given, family) = author;
    let document = Document {
        patient: Patient {
            ins,
            given: fields.given.trim().to_string(),
            family: fields.family.trim().to_string(),
            birth_date,
        },
        qualified: fields.qualified,
        kind,
        pdf: pdf.bytes,
    };
    let author = Author { national_id, given, family, organisation: Some(mailbox.display_name.clone()) };
    match package(document, author, software) {
        Ok(mut built) => {
            built.attachments.extend(uploads);
            Ok(built)
        }
        Err(why) => {
            errors.file = Some(why);
            Err(Box::new(errors))
        }
    }
}
