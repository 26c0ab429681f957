//! The liste blanche: the ANS list of MSSanté domains and of the operator
//! certificate that speaks for each.
//!
//! Format (`listeblanchemssante.xml`, namespace
//! `https://listeblanche.mssante.fr/schema`):
//! `ListeBlancheMSSante > DateDeGeneration, ListeDomaines > Domaine*`, each
//! `Domaine` with `Nom`, `Description`, `DNCertificatOperateur`,
//! `ResponsableContact`, `SupportContact`, `DateMAJ`. One domain may appear in
//! several entries, one per operator certificate allowed to send for it.
//!
//! Parsing is strict, because a bad list must never replace a good one: every
//! entry needs a valid domain name and a parseable DN, and the list must reach
//! `</ListeDomaines>`. The one leniency is the closing `</ListeBlancheMSSante>`
//! tag, which every file the ANS has published lacks.

use std::collections::HashMap;

use mss_core::Domain;
use quick_xml::Reader;
use quick_xml::events::Event;
use sha2::{Digest, Sha256};

use crate::dn::{DistinguishedName, DnError};

/// The namespace of the ANS schema.
pub const NAMESPACE: &str = "https://listeblanche.mssante.fr/schema";

/// Refuse anything bigger: the real file is 340 KB for 619 domains.
pub const MAX_FILE_BYTES: usize = 32 * 1024 * 1024;

/// Longest text we keep in one element (descriptions, contacts).
const MAX_TEXT_CHARS: usize = 4096;

/// One `<Domaine>` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub domain: Domain,
    pub description: String,
    pub operator_dn: DistinguishedName,
    pub responsible_contact: String,
    pub support_contact: String,
    /// `DateMAJ` as written (ISO 8601, UTC).
    pub updated_at: String,
}

/// A parsed, valid liste blanche.
#[derive(Debug, Clone, Default)]
pub struct ListeBlanche {
    generated_at: String,
    entries: Vec<Entry>,
    by_domain: HashMap<String, Vec<usize>>,
}

/// Why a liste blanche was refused.
#[derive(Debug, thiserror::Error)]
pub enum ListeBlancheError {
    #[error("liste blanche: file too large ({0} bytes, at most {MAX_FILE_BYTES})")]
    TooLarge(usize),
    #[error("liste blanche: checksum mismatch (expected {expected}, file has {actual})")]
    ChecksumMismatch { expected: String, actual: String },
    #[error("liste blanche: checksum `{0}` is not 64 hexadecimal characters")]
    BadChecksum(String),
    #[error("liste blanche: not UTF-8 XML: {0}")]
    Encoding(String),
    #[error("liste blanche: XML error at byte {position}: {message}")]
    Xml { position: u64, message: String },
    #[error("liste blanche: root element is `{0}`, expected ListeBlancheMSSante")]
    WrongRoot(String),
    #[error("liste blanche: entry {index}: missing <{field}>")]
    MissingField { index: usize, field: &'static str },
    #[error("liste blanche: entry {index}: domain `{value}`: {reason}")]
    BadDomain { index: usize, value: String, reason: String },
    #[error("liste blanche: entry {index} ({domain}): {source}")]
    BadDn { index: usize, domain: String, source: DnError },
    #[error("liste blanche: <{0}> is longer than {MAX_TEXT_CHARS} characters")]
    TextTooLong(&'static str),
    #[error("liste blanche: missing <DateDeGeneration>")]
    MissingGenerationDate,
    #[error("liste blanche: the file ends before </ListeDomaines> (truncated?)")]
    Truncated,
    #[error("liste blanche: no domain in the file")]
    NoDomain,
}

/// The SHA-256 of `data` as 64 lowercase hex characters (the ANS `checksum`
/// file format).
pub fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks `data` against a checksum as the ANS publishes it: 64 hex
/// characters, white space around them ignored, case-insensitive.
pub fn verify_checksum(data: &[u8], checksum: &str) -> Result<(), ListeBlancheError> {
    let expected = checksum.trim().to_ascii_lowercase();
    if expected.len() != 64 || !expected.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ListeBlancheError::BadChecksum(checksum.trim().chars().take(80).collect()));
    }
    let actual = sha256_hex(data);
    if actual != expected {
        return Err(ListeBlancheError::ChecksumMismatch { expected, actual });
    }
    Ok(())
}

/// The fields of the entry being read.
#[derive(Default)]
struct PartialEntry {
    nom: Option<String>,
    description: Option<String>,
    dn: Option<String>,
    responsible: Option<String>,
    support: Option<String>,
    updated_at: Option<String>,
}

impl ListeBlanche {
    /// Parses and validates the XML; use [`ListeBlanche::parse_verified`] when a
    /// checksum is published beside it.
    pub fn parse(xml: &[u8]) -> Result<Self, ListeBlancheError> {
        if xml.len() > MAX_FILE_BYTES {
            return Err(ListeBlancheError::TooLarge(xml.len()));
        }
        let text = std::str::from_utf8(xml).map_err(|e| ListeBlancheError::Encoding(e.to_string()))?;
        // No trim_text: it would also trim the text around an entity
        // (`AGE &amp; VIE`); values are trimmed whole when their element ends.
        let mut reader = Reader::from_str(text);

        let mut path: Vec<String> = Vec::new();
        let mut generated_at = None;
        let mut current: Option<PartialEntry> = None;
        let mut text_buf = String::new();
        let mut entries = Vec::new();
        let mut list_closed = false;

        loop {
            let event = reader
                .read_event()
                .map_err(|e| ListeBlancheError::Xml { position: reader.error_position(), message: e.to_string() });
            let event = match event {
                Ok(event) => event,
                // The ANS file stops after </ListeDomaines>: an unclosed root
                // is the one error tolerated, and only once the list is complete.
                Err(_) if list_closed && path.len() == 1 => break,
                Err(e) => return Err(e),
            };
            match event {
                Event::Start(start) => {
                    let name = start.local_name().as_ref().to_string();
                    if path.is_empty() && name != "ListeBlancheMSSante" {
                        return Err(ListeBlancheError::WrongRoot(name));
                    }
                    if name == "Domaine" && path.last().is_some_and(|p| p == "ListeDomaines") {
                        current = Some(PartialEntry::default());
                    }
                    path.push(name);
                    text_buf.clear();
                }
                Event::Empty(start) if path.is_empty() => {
                    let name = start.local_name().as_ref().to_string();
                    return Err(ListeBlancheError::WrongRoot(name));
                }
                Event::Text(t) => push_text(&mut text_buf, &t.xml10_content())?,
                Event::CData(t) => push_text(&mut text_buf, &t.xml10_content())?,
                Event::GeneralRef(r) => {
                    let resolved = match r.resolve_char_ref() {
                        Ok(Some(c)) => c.to_string(),
                        _ => {
                            let name: &str = &r;
                            quick_xml::escape::resolve_predefined_entity(name)
                                .ok_or_else(|| ListeBlancheError::Xml {
                                    position: reader.buffer_position(),
                                    message: format!("unknown entity &{name};"),
                                })?
                                .to_string()
                        }
                    };
                    push_text(&mut text_buf, &resolved)?;
                }
                Event::End(_) => {
                    let name = path.pop().unwrap_or_default();
                    let value = std::mem::take(&mut text_buf).trim().to_string();
                    match (name.as_str(), current.as_mut()) {
                        ("DateDeGeneration", _) if path.len() == 1 => generated_at = Some(value),
                        ("Domaine", Some(_)) => {
                            if let Some(partial) = current.take() {
                                entries.push(finish_entry(entries.len() + 1, partial)?);
                            }
                        }
                        ("Nom", Some(e)) => e.nom = Some(value),
                        ("Description", Some(e)) => e.description = Some(value),
                        ("DNCertificatOperateur", Some(e)) => e.dn = Some(value),
                        ("ResponsableContact", Some(e)) => e.responsible = Some(value),
                        ("SupportContact", Some(e)) => e.support = Some(value),
                        ("DateMAJ", Some(e)) => e.updated_at = Some(value),
                        ("ListeDomaines", _) if path.len() == 1 => list_closed = true,
                        _ => {}
                    }
                }
                Event::Eof => {
                    if !list_closed || path.len() > 1 {
                        return Err(ListeBlancheError::Truncated);
                    }
                    break;
                }
                _ => {}
            }
        }
        let generated_at = generated_at.filter(|d| !d.is_empty()).ok_or(ListeBlancheError::MissingGenerationDate)?;
        if entries.is_empty() {
            return Err(ListeBlancheError::NoDomain);
        }
        Ok(Self::from_entries(generated_at, entries))
    }

    /// Verifies the SHA-256 checksum, then parses.
    pub fn parse_verified(xml: &[u8], checksum: &str) -> Result<Self, ListeBlancheError> {
        verify_checksum(xml, checksum)?;
        Self::parse(xml)
    }

    /// A list made of already validated entries (from the store, say).
    pub fn from_entries(generated_at: String, entries: Vec<Entry>) -> Self {
        let mut by_domain: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, entry) in entries.iter().enumerate() {
            by_domain.entry(entry.domain.as_str().to_string()).or_default().push(i);
        }
        Self { generated_at, entries, by_domain }
    }

    /// `DateDeGeneration` of the file.
    pub fn generated_at(&self) -> &str {
        &self.generated_at
    }

    /// Every entry, in file order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Number of distinct domains.
    pub fn domain_count(&self) -> usize {
        self.by_domain.len()
    }

    /// The entries for a domain (case-insensitive); empty when not listed.
    pub fn lookup(&self, domain: &str) -> impl Iterator<Item = &Entry> {
        self.by_domain.get(&domain.to_ascii_lowercase()).into_iter().flatten().filter_map(|&i| self.entries.get(i))
    }

    /// Whether the domain is in the list at all.
    pub fn contains(&self, domain: &str) -> bool {
        self.by_domain.contains_key(&domain.to_ascii_lowercase())
    }

    /// "Is this certificate DN the one for this domain?": true only when one of
    /// the domain's entries names exactly this DN.
    pub fn dn_allowed_for(&self, domain: &str, dn: &DistinguishedName) -> bool {
        self.lookup(domain).any(|entry| entry.operator_dn.matches(dn))
    }
}

/// The same question on stored entries: whether `subject` matches one of the
/// `listed` DNs (text as the liste blanche writes them). A stored DN that does
/// not parse matches nothing.
pub fn dn_listed<'a>(listed: impl IntoIterator<Item = &'a str>, subject: &DistinguishedName) -> bool {
    listed.into_iter().filter_map(|text| text.parse::<DistinguishedName>().ok()).any(|dn| dn.matches(subject))
}

impl ListeBlanche {}

fn push_text(buf: &mut String, text: &str) -> Result<(), ListeBlancheError> {
    if buf.len() + text.len() > MAX_TEXT_CHARS * 4 {
        return Err(ListeBlancheError::TextTooLong("text"));
    }
    buf.push_str(text);
    Ok(())
}

fn finish_entry(index: usize, partial: PartialEntry) -> Result<Entry, ListeBlancheError> {
    let nom = partial.nom.filter(|n| !n.is_empty()).ok_or(ListeBlancheError::MissingField { index, field: "Nom" })?;
    let domain = nom.parse::<Domain>().map_err(|e| ListeBlancheError::BadDomain {
        index,
        value: nom.clone(),
        reason: e.to_string(),
    })?;
    let dn_text = partial
        .dn
        .filter(|d| !d.is_empty())
        .ok_or(ListeBlancheError::MissingField { index, field: "DNCertificatOperateur" })?;
    let operator_dn =
        dn_text.parse().map_err(|source| ListeBlancheError::BadDn { index, domain: domain.to_string(), source })?;
    let description = bounded(partial.description, "Description")?;
    Ok(Entry {
        domain,
        description,
        operator_dn,
        responsible_contact: bounded(partial.responsible, "ResponsableContact")?,
        support_contact: bounded(partial.support, "SupportContact")?,
        updated_at: bounded(partial.updated_at, "DateMAJ")?,
    })
}

fn bounded(value: Option<String>, field: &'static str) -> Result<String, ListeBlancheError> {
    let value = value.unwrap_or_default();
    if value.chars().count() > MAX_TEXT_CHARS {
        return Err(ListeBlancheError::TextTooLong(field));
    }
    Ok(value)
}
