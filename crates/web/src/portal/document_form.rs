//! Sending a health document from the compose page (ANS ECO.2.1.*): the
//! sender ticks "Envoyer comme document de santé", names the patient (INS
//! and identity traits) and the document type, and joins the PDF; mss
//! builds the CDA and its IHE XDM package (`mss_documents::build`), sends
//! them beside the PDF (named by the ANS convention), with the subject
//! `XDM/1.0/DDM+…` and the `X-MSS-CODECDA` and `X-MSS-INS` fields. Each
//! field's error is said under it, in French; nothing is sent until all
//! are right.

use maud::{Markup, html};
use mss_core::Ins;
use mss_documents::build::{Author, DocumentType, NewDocument, Patient, TYPES, document_type};
use mss_store::{Mailbox, now_unix};

use super::layout::{field_error, text_field};
use super::outgoing::Upload;

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

/// What a document message carries, built.
pub struct Built {
    pub subject: String,
    pub attachments: Vec<Upload>,
    pub codecda: String,
    pub ins_qualified: bool,
}

/// A random number for an identifier.
fn random_u128() -> Option<u128> {
    let token = mss_identity::session::random_token(16).ok()?;
    Some(u128::from_le_bytes(blake3::hash(token.as_bytes()).as_bytes()[..16].try_into().ok()?))
}

/// The document built from the fields and the first PDF of `uploads` (the
/// other files stay plain attachments), or the errors to show (nothing is
/// sent: the files are joined again).
pub fn build(
    fields: &DocumentFields,
    uploads: Vec<Upload>,
    mailbox: &Mailbox,
    author: (Option<String>, Option<String>, String),
    software: &str,
) -> Result<Built, Box<DocumentErrors>> {
    let mut errors = DocumentErrors::default();
    let compact: String = fields.ins.chars().filter(|c| !c.is_whitespace() && *c != '.').collect();
    let ins = match compact.to_ascii_uppercase().parse::<Ins>() {
        Ok(ins) => Some(ins),
        Err(_) => {
            errors.ins =
                Some("INS invalide : 15 caractères dont la clé de contrôle ; vérifiez-le sur la carte Vitale.".into());
            None
        }
    };
    if fields.family.trim().is_empty() || fields.given.trim().is_empty() {
        errors.name = Some("Le nom de naissance et le prénom du patient sont nécessaires.".into());
    }
    let birth = fields.birth.trim().replace('-', "");
    let birth_ok = birth.is_empty() || (birth.len() == 8 && birth.bytes().all(|b| b.is_ascii_digit()));
    if !birth_ok {
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
    let (Some(ins), Some(kind), Some(at), true) = (ins, kind, pdf, !errors.any()) else {
        return Err(Box::new(errors));
    };
    let (national_id, given, family) = author;
    let ids = [random_u128(), random_u128()];
    let [Some(a), Some(b)] = ids else {
        errors.file = Some("Le document n'a pas pu être préparé : réessayez.".into());
        return Err(Box::new(errors));
    };
    let mut uploads = uploads;
    let pdf = uploads.remove(at);
    let document = NewDocument {
        patient: Patient {
            ins,
            given: fields.given.trim().to_string(),
            family: fields.family.trim().to_string(),
            birth_date: (!birth.is_empty()).then_some(birth),
        },
        author: Author { national_id, given, family, organisation: Some(mailbox.display_name.clone()) },
        kind,
        title: kind.display.to_string(),
        created: now_unix(),
        pdf: pdf.bytes,
        ids: [a, b],
        software: software.to_string(),
    };
    let built = document.cda().and_then(|cda| Ok((document.package(&cda)?, cda)));
    let (package, _) = match built {
        Ok(built) => built,
        Err(e) => {
            errors.file = Some(format!("Le document n'a pas pu être préparé : {e}."));
            return Err(Box::new(errors));
        }
    };
    let mut attachments = vec![
        Upload { name: document.pdf_name(), content_type: "application/pdf".into(), bytes: document.pdf.clone() },
        Upload { name: "IHE_XDM.ZIP".into(), content_type: "application/zip".into(), bytes: package },
    ];
    attachments.extend(uploads);
    Ok(Built {
        subject: document.subject(),
        attachments,
        codecda: kind.code.to_string(),
        ins_qualified: fields.qualified,
    })
}
