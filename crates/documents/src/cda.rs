//! HL7 CDA R2 documents as the French CI-SIS writes them: what identifies
//! and describes the document (its `code`, title, date, set and version,
//! the document it replaces), its patient (INS from the `patientRole` ids
//! under the INS OIDs, names, birth date), its first author, and its body:
//! an embedded file (`nonXMLBody`, usually a PDF, decoded) or the sections'
//! narrative as plain text (table cells, list items and line breaks laid
//! out; no markup, style or link from the document survives).

use base64::Engine;

use crate::xdm::Code;
use crate::xml::{self, Element, Limits, Node, XmlError};

/// The INS OIDs (NIR and NIA, current and former).
const INS_ROOTS: [&str; 4] =
    ["1.2.250.1.213.1.4.8", "1.2.250.1.213.1.4.10", "1.2.250.1.213.1.4.9", "1.2.250.1.213.1.4.11"];
/// The largest narrative kept, in characters.
const MAX_NARRATIVE_CHARS: usize = 200_000;

/// A CDA document, as read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cda {
    pub code: Option<Code>,
    pub title: Option<String>,
    /// `effectiveTime` as written (`YYYYMMDDhhmmss+zzzz`, shorter allowed).
    pub effective_time: Option<String>,
    /// `root^extension` of the document's id, its set and its version.
    pub id: Option<String>,
    pub set_id: Option<String>,
    pub version: Option<String>,
    /// The document this one replaces ("annule et remplace": a
    /// `relatedDocument` of type RPLC), `root^extension`.
    pub replaces: Option<String>,
    pub patient: Patient,
    /// The first author's name, `Prénom NOM`.
    pub author: Option<String>,
    pub body: Body,
}

/// The patient of a document.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Patient {
    /// The INS, when a patient id has an INS root, and that root (NIR or
    /// NIA, production or test).
    pub ins: Option<String>,
    pub ins_root: Option<String>,
    pub given: Option<String>,
    pub family: Option<String>,
    /// `birthTime` as written (`YYYYMMDD`).
    pub birth_time: Option<String>,
}

/// What the document holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Body {
    /// A file (`nonXMLBody`), decoded: its media type and bytes.
    File { media_type: String, bytes: Vec<u8> },
    /// Sections: title and narrative text, in order.
    Sections(Vec<Section>),
    #[default]
    None,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Section {
    pub title: Option<String>,
    pub text: String,
}

/// Why a CDA document is not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CdaError {
    #[error("not XML: {0}")]
    Xml(#[from] XmlError),
    #[error("the root is <{0}>, not <ClinicalDocument>")]
    NotCda(String),
    #[error("the embedded file is not valid base64")]
    Base64,
}

fn id_of(e: &Element) -> Option<String> {
    let root = e.attr("root")?;
    Some(match e.attr("extension") {
        Some(extension) => format!("{root}^{extension}"),
        None => root.to_string(),
    })
}

fn trimmed(text: String) -> Option<String> {
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    (!text.is_empty()).then_some(text)
}

/// `Prénom NOM` of a `name` element.
fn name(e: &Element) -> Option<String> {
    let given: Vec<String> = e.children_named("given").filter_map(|g| trimmed(g.text())).collect();
    let family = e.children_named("family").find_map(|f| trimmed(f.text())).map(|f| f.to_uppercase());
    trimmed([given.join(" "), family.unwrap_or_default()].join(" "))
}

/// Reads a CDA document.
pub fn read(bytes: &[u8]) -> Result<Cda, CdaError> {
    let root = xml::parse(bytes, Limits::CDA)?;
    if root.name != "ClinicalDocument" {
        return Err(CdaError::NotCda(root.name));
    }
    let code = root.child("code").and_then(|c| {
        Some(Code {
            code: c.attr("code")?.to_string(),
            display: c.attr("displayName").map(str::to_string),
            scheme: c.attr("codeSystem").map(str::to_string),
        })
    });
    let patient_role = root.path(&["recordTarget", "patientRole"]);
    let patient = patient_role.map_or_else(Patient::default, |role| {
        let ins_id = role.children_named("id").find(|id| id.attr("root").is_some_and(|r| INS_ROOTS.contains(&r)));
        let ins = ins_id.and_then(|id| id.attr("extension")).map(|e| e.trim().to_string());
        let person = role.child("patient");
        let names = person.and_then(|p| p.child("name"));
        Patient {
            ins_root: ins.as_ref().and(ins_id).and_then(|id| id.attr("root")).map(str::to_string),
            ins,
            given: names
                .and_then(|n| trimmed(n.children_named("given").map(Element::text).collect::<Vec<_>>().join(" "))),
            family: names.and_then(|n| n.children_named("family").find_map(|f| trimmed(f.text()))),
            birth_time: person.and_then(|p| p.child("birthTime")).and_then(|b| b.attr("value")).map(str::to_string),
        }
    });
    let author = root.path(&["author", "assignedAuthor", "assignedPerson", "name"]).and_then(name);
    let replaces = root
        .children_named("relatedDocument")
        .find(|r| r.attr("typeCode") == Some("RPLC"))
        .and_then(|r| r.path(&["parentDocument", "id"]))
        .and_then(id_of);
    Ok(Cda {
        code,
        title: root.child("title").and_then(|t| trimmed(t.text())),
        effective_time: root.child("effectiveTime").and_then(|t| t.attr("value")).map(str::to_string),
        id: root.child("id").and_then(id_of),
        set_id: root.child("setId").and_then(id_of),
        version: root.child("versionNumber").and_then(|v| v.attr("value")).map(str::to_string),
        replaces,
        patient,
        author,
        body: body(&root)?,
    })
}

fn body(root: &Element) -> Result<Body, CdaError> {
    let Some(component) = root.child("component") else { return Ok(Body::None) };
    if let Some(text) = component.path(&["nonXMLBody", "text"]) {
        let media_type = text.attr("mediaType").unwrap_or("text/plain").to_string();
        let content: String = text.text().chars().filter(|c| !c.is_whitespace()).collect();
        let bytes = match text.attr("representation") {
            Some("B64") => base64::engine::general_purpose::STANDARD.decode(content).map_err(|_| CdaError::Base64)?,
            _ => text.text().into_bytes(),
        };
        return Ok(Body::File { media_type, bytes });
    }
    let Some(structured) = component.child("structuredBody") else { return Ok(Body::None) };
    let mut sections = Vec::new();
    let mut budget = MAX_NARRATIVE_CHARS;
    for section in structured.descendants("section") {
        let mut text = String::new();
        if let Some(narrative) = section.child("text") {
            narrative_text(narrative, &mut text);
        }
        let text = text.lines().map(str::trim_end).collect::<Vec<_>>().join("\n").trim().to_string();
        let text: String = text.chars().take(budget).collect();
        budget -= text.chars().count();
        sections.push(Section { title: section.child("title").and_then(|t| trimmed(t.text())), text });
        if budget == 0 {
            break;
        }
    }
    Ok(Body::Sections(sections))
}

/// The narrative block's text: paragraphs, rows, list items and `br` on
/// their own lines, table cells separated by ` | `; footnotes, captions
/// and the rest as their text. Nothing else of the markup is kept.
fn narrative_text(e: &Element, out: &mut String) {
    for node in &e.children {
        match node {
            Node::Text(t) => out.push_str(&t.split_whitespace().collect::<Vec<_>>().join(" ").replace("  ", " ")),
            Node::Element(child) => match child.name.as_str() {
                "br" => out.push('\n'),
                "paragraph" | "tr" | "item" | "caption" | "list" | "table" | "thead" | "tbody" => {
                    if !out.is_empty() && !out.ends_with('\n') {
                        out.push('\n');
                    }
                    if child.name == "item" {
                        out.push_str("- ");
                    }
                    narrative_text(child, out);
                    if !out.ends_with('\n') {
                        out.push('\n');
                    }
                }
                "td" | "th" => {
                    if !out.is_empty() && !out.ends_with('\n') {
                        out.push_str(" | ");
                    }
                    narrative_text(child, out);
                }
                _ => {
                    if !out.is_empty() && !out.ends_with(['\n', ' ']) {
                        out.push(' ');
                    }
                    narrative_text(child, out);
                }
            },
        }
    }
}
