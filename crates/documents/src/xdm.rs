//! IHE XDM packages (IHE ITI TF-1 §16, TF-3 §4.2; the ANS "DMP compatible"
//! messaging guide): a ZIP holding `IHE_XDM/<subset>/METADATA.XML` (an ebRIM
//! 3.0 `SubmitObjectsRequest`) beside the documents it describes, with
//! `README.TXT` and `INDEX.HTM` at the top.
//!
//! [`read`] unpacks in memory ([`crate::package`]) and checks every
//! document entry of every submission set against its file: present (by
//! its `URI` slot, or by its hash when the slot is absent), SHA-1 `hash`
//! and `size` slots equal to the file's. What it finds is read (patient,
//! type, title, author, creation time); what is wrong is said, precisely,
//! in [`Package::problems`]: a package is never refused as a whole, the
//! message carrying it is delivered all the same.
//!
//! Real packages differ (see `fixtures/README.md`): subset folders
//! not named `SUBSETnn`, file names in any case, prefixes `rim:`, `ns3:` or
//! none, hashes in either case, a `sourcePatientId` escaped twice, two
//! submission sets with files of the same name, no `URI` or `size` slot.

use sha1::{Digest, Sha1};

use crate::package::{self, Entry, PackageError};
use crate::xml::{self, Element, Limits};

/// ebRIM classification and identification schemes of XDS (ITI TF-3 §4.2.5).
const TYPE_CODE: &str = "urn:uuid:f0306f51-975f-434e-a61c-c59651d33983";
const CLASS_CODE: &str = "urn:uuid:41a5887f-8865-4c09-adf7-e362475b143a";
const AUTHOR: &str = "urn:uuid:93606bcf-9494-43ec-9b4e-a7748d1a838d";
const PATIENT_ID: &str = "urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427";
const UNIQUE_ID: &str = "urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab";
/// The OIDs of the French INS (NIR, NIA) as assigning authorities.
const INS_OIDS: [&str; 2] = ["1.2.250.1.213.1.4.8", "1.2.250.1.213.1.4.10"];
const INS_NIA_OIDS: [&str; 2] = ["1.2.250.1.213.1.4.9", "1.2.250.1.213.1.4.11"];

/// A code and what it means (`typeCode`: LOINC `11502-2`, "CR d'examens
/// biologiques").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Code {
    pub code: String,
    pub display: Option<String>,
    pub scheme: Option<String>,
}

/// One document entry, checked against its file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Document {
    /// The entry's id in METADATA.XML.
    pub id: String,
    /// The file's path in the package, once found.
    pub path: Option<String>,
    pub mime_type: Option<String>,
    pub title: Option<String>,
    pub type_code: Option<Code>,
    pub class_code: Option<Code>,
    /// `XDSDocumentEntry.patientId` as written (`id^^^&oid&ISO`).
    pub patient_id: Option<String>,
    /// The patient's INS, when the patient id is one (NIR or NIA OID).
    pub ins: Option<String>,
    pub unique_id: Option<String>,
    /// `creationTime` as written (`YYYYMMDDhhmmss`, shorter allowed).
    pub creation_time: Option<String>,
    /// `authorPerson` of the first author, as written (XCN).
    pub author: Option<String>,
    /// The `hash` and `size` slots.
    pub hash: Option<String>,
    pub size: Option<u64>,
    /// The file's bytes, when found.
    pub bytes: Vec<u8>,
}

/// One submission set: a folder under `IHE_XDM/` and its documents.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subset {
    pub folder: String,
    pub documents: Vec<Document>,
}

/// What is wrong with a package.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("{0}")]
    Package(#[from] PackageError),
    #[error("no IHE_XDM/<subset>/METADATA.XML")]
    NoMetadata,
    #[error("{folder}/METADATA.XML is unreadable: {reason}")]
    Metadata { folder: String, reason: String },
    #[error("{folder}/METADATA.XML describes no document")]
    NoDocument { folder: String },
    #[error("document {id}: its file {uri:?} is not in the package")]
    Missing { id: String, uri: Option<String> },
    #[error("document {id} ({path}): SHA-1 {actual}, METADATA.XML says {expected}")]
    Hash { id: String, path: String, expected: String, actual: String },
    #[error("document {id} ({path}): {actual} bytes, METADATA.XML says {expected}")]
    Size { id: String, path: String, expected: u64, actual: u64 },
    #[error("document {id}: no hash in METADATA.XML")]
    NoHash { id: String },
}

/// A package as read: its submission sets and what is wrong with it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Package {
    pub subsets: Vec<Subset>,
    pub problems: Vec<Problem>,
}

impl Package {
    /// Every document, in order.
    pub fn documents(&self) -> impl Iterator<Item = &Document> {
        self.subsets.iter().flat_map(|s| &s.documents)
    }

    /// Whether it passed every check.
    pub fn is_valid(&self) -> bool {
        self.problems.is_empty() && self.documents().next().is_some()
    }
}

/// Reads and checks the package in `zip`.
pub fn read(zip: &[u8]) -> Package {
    match package::unpack(zip) {
        Ok(entries) => read_entries(&entries),
        Err(e) => Package { subsets: Vec::new(), problems: vec![Problem::Package(e)] },
    }
}

/// Reads and checks a package already unpacked.
pub fn read_entries(entries: &[Entry]) -> Package {
    let mut package = Package::default();
    // Every `IHE_XDM/<folder>/METADATA.XML`, names in any case.
    let metadata = entries.iter().filter(|e| {
        let parts: Vec<&str> = e.path.split('/').collect();
        parts.len() == 3 && parts[0].eq_ignore_ascii_case("IHE_XDM") && parts[2].eq_ignore_ascii_case("METADATA.XML")
    });
    for entry in metadata {
        let folder = entry.path.rsplit_once('/').map_or("", |(f, _)| f).to_string();
        let files: Vec<&Entry> = entries
            .iter()
            .filter(|e| e.path.rsplit_once('/').is_some_and(|(f, _)| f == folder) && e.path != entry.path)
            .collect();
        let root = match xml::parse(&entry.bytes, Limits::METADATA) {
            Ok(root) => root,
            Err(e) => {
                package.problems.push(Problem::Metadata { folder, reason: e.to_string() });
                continue;
            }
        };
        let mut subset = Subset { folder: folder.clone(), documents: Vec::new() };
        for object in root.descendants("ExtrinsicObject") {
            subset.documents.push(document(object, &files, &mut package.problems));
        }
        if subset.documents.is_empty() {
            package.problems.push(Problem::NoDocument { folder });
        }
        package.subsets.push(subset);
    }
    if package.subsets.is_empty() && package.problems.is_empty() {
        package.problems.push(Problem::NoMetadata);
    }
    package
}

/// The values of the slot `name` of `object`.
fn slot(object: &Element, name: &str) -> Vec<String> {
    object
        .children_named("Slot")
        .filter(|s| s.attr("name").is_some_and(|n| n.eq_ignore_ascii_case(name)))
        .flat_map(|s| s.descendants("Value"))
        .map(|v| v.text().trim().to_string())
        .collect()
}

/// The text of a `Name` (its first `LocalizedString`).
fn name_of(object: &Element) -> Option<String> {
    let value = object.child("Name")?.descendants("LocalizedString").first()?.attr("value")?.trim().to_string();
    (!value.is_empty()).then_some(value)
}

fn classification<'a>(object: &'a Element, scheme: &str) -> Option<&'a Element> {
    object.children_named("Classification").find(|c| c.attr("classificationScheme") == Some(scheme))
}

fn code(object: &Element, scheme: &str) -> Option<Code> {
    let c = classification(object, scheme)?;
    Some(Code {
        code: c.attr("nodeRepresentation")?.to_string(),
        display: name_of(c),
        scheme: slot(c, "codingScheme").into_iter().next(),
    })
}

fn identifier(object: &Element, scheme: &str) -> Option<String> {
    let e = object.children_named("ExternalIdentifier").find(|e| e.attr("identificationScheme") == Some(scheme))?;
    Some(e.attr("value")?.trim().to_string())
}

/// The INS of an HL7 CX patient id (`279035121518989^^^&1.2.250.1.213.1.4.10&ISO`),
/// `&amp;` written twice or not.
pub fn ins_of(patient_id: &str) -> Option<String> {
    let unescaped = patient_id.replace("&amp;", "&");
    let (id, rest) = unescaped.split_once('^')?;
    let authority = rest.rsplit('^').next()?;
    let oid = authority.split('&').nth(1)?;
    if INS_OIDS.contains(&oid) {
        let ins: mss_core::Ins = id.trim().parse().ok()?;
        return Some(ins.as_str().to_string());
    }
    // A NIA (temporary number) is kept as written: it has no NIR key.
    INS_NIA_OIDS.contains(&oid).then(|| id.trim().to_string())
}

fn sha1_hex(bytes: &[u8]) -> String {
    Sha1::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// One document entry, with its file found and checked.
fn document(object: &Element, files: &[&Entry], problems: &mut Vec<Problem>) -> Document {
    let id = object.attr("id").unwrap_or_default().to_string();
    let hash = slot(object, "hash").into_iter().next().map(|h| h.to_ascii_lowercase());
    let size = slot(object, "size").into_iter().next().and_then(|s| s.parse().ok());
    let uri = slot(object, "URI").into_iter().next();
    let patient_id = identifier(object, PATIENT_ID);
    let mut doc = Document {
        id: id.clone(),
        mime_type: object.attr("mimeType").map(str::to_string),
        title: name_of(object),
        type_code: code(object, TYPE_CODE),
        class_code: code(object, CLASS_CODE),
        ins: patient_id.as_deref().and_then(ins_of),
        patient_id,
        unique_id: identifier(object, UNIQUE_ID),
        creation_time: slot(object, "creationTime").into_iter().next(),
        author: classification(object, AUTHOR).and_then(|a| slot(a, "authorPerson").into_iter().next()),
        hash: hash.clone(),
        size,
        ..Document::default()
    };
    let by_name = |name: &str| {
        files.iter().find(|f| f.path.rsplit('/').next().is_some_and(|n| n.eq_ignore_ascii_case(name.trim())))
    };
    let found = match &uri {
        Some(uri) => by_name(uri),
        None => hash.as_ref().and_then(|h| files.iter().find(|f| &sha1_hex(&f.bytes) == h)),
    };
    let Some(file) = found else {
        problems.push(Problem::Missing { id, uri });
        return doc;
    };
    let path = file.path.clone();
    match &hash {
        Some(expected) => {
            let actual = sha1_hex(&file.bytes);
            if &actual != expected {
                problems.push(Problem::Hash { id: id.clone(), path: path.clone(), expected: expected.clone(), actual });
            }
        }
        None => problems.push(Problem::NoHash { id: id.clone() }),
    }
    let actual = file.bytes.len() as u64;
    if let Some(expected) = size.filter(|&s| s != actual) {
        problems.push(Problem::Size { id, path: path.clone(), expected, actual });
    }
    doc.path = Some(path);
    doc.bytes = file.bytes.clone();
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ins_is_read_from_a_patient_id_with_the_ins_authority_only() {
        assert_eq!(ins_of("279035121518989^^^&1.2.250.1.213.1.4.10&ISO").as_deref(), Some("279035121518989"));
        assert_eq!(ins_of("279035121518989^^^&amp;1.2.250.1.213.1.4.10&amp;ISO").as_deref(), Some("279035121518989"));
        assert_eq!(ins_of("279035121518989^^^&1.2.3.4&ISO"), None, "another authority's number");
        assert_eq!(ins_of("279035121518988^^^&1.2.250.1.213.1.4.10&ISO"), None, "a wrong key");
        assert_eq!(ins_of("no caret"), None);
    }
}
