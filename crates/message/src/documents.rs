//! The health documents a message carries (`mss_documents`): which of its
//! attachments are IHE XDM packages (`IHE_XDM.ZIP`, or a type saying XDM)
//! or CDA documents (an XML attachment whose root is `ClinicalDocument`),
//! each read and checked; and the summary the stored facts keep
//! ([`DocumentSummary`]), so that a list, a search or the indicator knows a
//! message's documents without reading it again.
//!
//! Also the subject convention of document messages: `XDM/1.0/DDM+` before
//! the subject a person reads ([`shown_subject`]).

use mail_parser::{Message, MessagePart, MimeHeaders};
use mss_documents::cda::{self, Cda};
use mss_documents::xdm::{self, Package};
use serde::{Deserialize, Serialize};

/// The prefix of a document message's subject (ANS: `XDM/1.0/DDM+<libellé>
/// <NOM> <prénom> <date de naissance>`).
pub const SUBJECT_PREFIX: &str = "XDM/1.0/DDM+";

/// The subject as a person reads it: without [`SUBJECT_PREFIX`].
pub fn shown_subject(subject: &str) -> &str {
    match subject.get(..SUBJECT_PREFIX.len()) {
        Some(prefix) if prefix.eq_ignore_ascii_case(SUBJECT_PREFIX) => subject[SUBJECT_PREFIX.len()..].trim_start(),
        _ => subject,
    }
}

/// The most documents' attachments read in one message: each package is
/// inflated within its own limits, and a message holding hundreds would
/// make its delivery work for nothing (the rest are left as attachments).
pub const MAX_ATTACHED_DOCUMENTS: usize = 10;

/// A CDA attachment larger than this is not read (the message's own limit
/// is 25 MiB; a CDA with an embedded PDF is about 4/3 of the PDF).
const MAX_CDA_BYTES: usize = 40 * 1024 * 1024;

/// One attachment that is a document or a package of documents.
pub struct Attached {
    /// Its index among the message's attachments (as the webmail numbers them).
    pub attachment: usize,
    pub name: String,
    pub content: Content,
}

pub enum Content {
    Package(Package),
    /// A CDA document, or why it could not be read.
    Cda(Result<Box<Cda>, cda::CdaError>),
}

fn is_package(part: &MessagePart<'_>) -> bool {
    let named = part.attachment_name().is_some_and(|n| {
        let base = n.rsplit(['/', '\\']).next().unwrap_or(n);
        base.eq_ignore_ascii_case("IHE_XDM.ZIP")
    });
    let typed = part
        .content_type()
        .is_some_and(|ct| ct.ctype() == "application" && ct.subtype().is_some_and(|s| s.contains("xdm")));
    named || typed
}

fn may_be_cda(part: &MessagePart<'_>) -> bool {
    let xml_name = part.attachment_name().is_some_and(|n| {
        let lower = n.to_ascii_lowercase();
        lower.ends_with(".xml") || lower.ends_with(".cda")
    });
    let xml_type = part.content_type().is_some_and(|ct| ct.subtype().is_some_and(|s| s.ends_with("xml")));
    (xml_name || xml_type) && part.contents().len() <= MAX_CDA_BYTES
}

/// Whether `bytes` look like a CDA document (its root element, after any
/// prologue, is `ClinicalDocument`), without parsing it all.
fn looks_like_cda(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(4096)];
    let text = String::from_utf8_lossy(head);
    text.match_indices('<')
        .map(|(i, _)| &text[i + 1..])
        .find(|rest| !rest.starts_with('?') && !rest.starts_with('!'))
        .is_some_and(|root| {
            let name: String = root.chars().take_while(|c| !c.is_whitespace() && *c != '>' && *c != '/').collect();
            name.rsplit(':').next() == Some("ClinicalDocument")
        })
}

/// The documents among the attachments of `message`, in order.
pub fn attached(message: &Message<'_>) -> Vec<Attached> {
    let mut out = Vec::new();
    for (attachment, part) in message.attachments().enumerate() {
        let name = part.attachment_name().unwrap_or("piece-jointe").to_string();
        let content = if is_package(part) {
            Content::Package(xdm::read(part.contents()))
        } else if may_be_cda(part) && looks_like_cda(part.contents()) {
            Content::Cda(cda::read(part.contents()).map(Box::new))
        } else {
            continue;
        };
        out.push(Attached { attachment, name, content });
        if out.len() == MAX_ATTACHED_DOCUMENTS {
            break;
        }
    }
    out
}

/// What the facts keep of one document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentSummary {
    /// The attachment it is (or is in), by index.
    pub attachment: u32,
    /// Its path in the package; None for a CDA attached alone.
    pub path: Option<String>,
    pub type_code: Option<String>,
    pub type_display: Option<String>,
    pub title: Option<String>,
    pub patient_ins: Option<String>,
    /// `Prénom NOM` and birth date (`YYYYMMDD`), from the CDA.
    pub patient_name: Option<String>,
    pub patient_birth: Option<String>,
    /// When it was made (`YYYYMMDD…`) and by whom.
    pub created: Option<String>,
    pub author: Option<String>,
    /// Its unique id, and the one it replaces ("annule et remplace").
    pub id: Option<String>,
    pub replaces: Option<String>,
    /// What is wrong with it or its package (empty: checked and sound).
    pub problems: Vec<String>,
}

impl DocumentSummary {
    fn with_cda(mut self, cda: &Cda) -> Self {
        let code = cda.code.as_ref();
        self.type_code = self.type_code.or_else(|| code.map(|c| c.code.clone()));
        self.type_display = self.type_display.or_else(|| code.and_then(|c| c.display.clone()));
        self.title = cda.title.clone().or(self.title);
        self.patient_ins = self.patient_ins.or_else(|| cda.patient.ins.clone());
        let name = [cda.patient.given.clone(), cda.patient.family.as_ref().map(|f| f.to_uppercase())];
        let name: Vec<String> = name.into_iter().flatten().collect();
        self.patient_name = (!name.is_empty()).then(|| name.join(" "));
        self.patient_birth = cda.patient.birth_time.clone();
        self.created = self.created.or_else(|| cda.effective_time.clone());
        self.author = cda.author.clone().or(self.author);
        self.id = self.id.or_else(|| cda.id.clone());
        self.replaces = cda.replaces.clone();
        self
    }
}

/// The summaries of the documents [`attached`] finds.
pub fn summaries(attached: &[Attached]) -> Vec<DocumentSummary> {
    let mut out = Vec::new();
    for a in attached {
        let attachment = u32::try_from(a.attachment).unwrap_or(u32::MAX);
        match &a.content {
            Content::Package(package) => {
                let problems: Vec<String> = package.problems.iter().map(ToString::to_string).collect();
                if package.documents().next().is_none() {
                    out.push(DocumentSummary { attachment, problems, ..DocumentSummary::default() });
                    continue;
                }
                for doc in package.documents() {
                    let summary = DocumentSummary {
                        attachment,
                        path: doc.path.clone(),
                        type_code: doc.type_code.as_ref().map(|c| c.code.clone()),
                        type_display: doc.type_code.as_ref().and_then(|c| c.display.clone()),
                        title: doc.title.clone(),
                        patient_ins: doc.ins.clone(),
                        created: doc.creation_time.clone(),
                        author: doc.author.clone(),
                        id: doc.unique_id.clone(),
                        problems: problems.clone(),
                        ..DocumentSummary::default()
                    };
                    let cda = (!doc.bytes.is_empty() && looks_like_cda(&doc.bytes)).then(|| cda::read(&doc.bytes));
                    out.push(match cda {
                        Some(Ok(cda)) => summary.with_cda(&cda),
                        _ => summary,
                    });
                }
            }
            Content::Cda(Ok(cda)) => {
                out.push(DocumentSummary { attachment, ..DocumentSummary::default() }.with_cda(cda))
            }
            Content::Cda(Err(e)) => {
                out.push(DocumentSummary { attachment, problems: vec![e.to_string()], ..DocumentSummary::default() })
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_prefix_is_hidden_from_the_subject() {
        assert_eq!(
            shown_subject("XDM/1.0/DDM+CR de biologie MARTIN Jeanne 19790328"),
            "CR de biologie MARTIN Jeanne 19790328"
        );
        assert_eq!(shown_subject("xdm/1.0/ddm+ x"), "x");
        assert_eq!(shown_subject("Re: XDM/1.0/DDM+x"), "Re: XDM/1.0/DDM+x");
        assert_eq!(shown_subject("XDM"), "XDM");
        assert_eq!(shown_subject("é"), "é");
    }

    #[test]
    fn a_cda_root_is_recognised_after_its_prologue() {
        assert!(looks_like_cda(b"\xef\xbb\xbf<?xml version=\"1.0\"?>\n<?xml-stylesheet href=\"x\"?><!-- c --><ClinicalDocument xmlns=\"urn:hl7-org:v3\">"));
        assert!(looks_like_cda(b"<hl7:ClinicalDocument>"));
        assert!(!looks_like_cda(b"<html><ClinicalDocument/></html>"));
        assert!(!looks_like_cda(b"not xml"));
    }
}
