//! The ANS public extraction of MSSanté mailboxes: a UTF-8 text file, one
//! header line then one line per mailbox, 31 `|`-separated columns
//! (`MSSANTE.md`, "Annuaire Santé").
//!
//! Rules kept here:
//! - the header must name the 31 columns in order (case and surrounding
//!   spaces aside, a UTF-8 BOM allowed): another file is refused whole;
//! - a data line is validated on its own ([`parse_line`]): a bad line is a
//!   [`LineError`] (reported with its reason, skipped), never a panic;
//! - what makes the whole file untrustworthy is an [`ExtractionError`]:
//!   invalid UTF-8, a line longer than [`MAX_LINE_BYTES`], a last line cut
//!   short (no final newline and not 31 columns);
//! - identifiers keep the check keys of `mss-core` (RPPS, ADELI, FINESS).
//!
//! Inferred where the public text is silent: `Type Identifiant PP` is `8`
//! (RPPS) or `0` (ADELI) and `Identification nationale PP` is that digit
//! followed by the id; `Type identifiant structure` `1` is a FINESS, `3` a
//! SIRET, `4` an RPPS + rang, and `Identification Structure` may carry that
//! digit in front of the number.

use std::io::BufRead;

use mss_core::{Adeli, EmailAddress, Finess, MailboxKind, Rpps};

/// Number of columns of every line.
pub const COLUMNS: usize = 31;

/// The header line's column names, in order.
pub const HEADER: [&str; COLUMNS] = [
    "Type de BAL",
    "Adresse BAL",
    "Type Identifiant PP",
    "Identifiant PP",
    "Identification nationale PP",
    "Type identifiant structure",
    "Identification Structure",
    "Service de rattachement",
    "Civilité d'exercice",
    "Nom d'exercice",
    "Prénom d'exercice",
    "Catégorie profession",
    "Libellé de catégorie profession",
    "Code Profession",
    "Libellé Profession",
    "Code savoir-faire",
    "Libellé savoir-faire",
    "Dématérialisation",
    "Raison Sociale structure BAL",
    "Enseigne commerciale structure BAL",
    "L2COMPLEMENTLOCALISATION structure BAL",
    "L3COMPLEMENTDISTRIBUTION structure BAL",
    "L4NUMEROVOIE structure BAL",
    "L4COMPLEMENTNUMEROVOIE structure BAL",
    "NL4TYPEVOIE structure BAL",
    "L4LIBELLEVOIE structure BAL",
    "L5LIEUDITMENTION structure BAL",
    "L6LIGNEACHEMINEMENT structure BAL",
    "Code postal structure BAL",
    "Département structure BAL",
    "Pays structure BAL",
];

/// Column positions used by name.
pub mod col {
    pub const KIND: usize = 0;
    pub const ADDRESS: usize = 1;
    pub const PP_TYPE: usize = 2;
    pub const PP_ID: usize = 3;
    pub const PP_NATIONAL: usize = 4;
    pub const STRUCTURE_TYPE: usize = 5;
    pub const STRUCTURE_ID: usize = 6;
    pub const SERVICE: usize = 7;
    pub const LAST_NAME: usize = 9;
    pub const FIRST_NAME: usize = 10;
    pub const PROFESSION_CATEGORY_LABEL: usize = 12;
    pub const PROFESSION_CODE: usize = 13;
    pub const PROFESSION_LABEL: usize = 14;
    pub const SKILL_LABEL: usize = 16;
    pub const COMPANY: usize = 18;
    pub const TRADE_NAME: usize = 19;
    pub const STREET_FIRST: usize = 20;
    pub const STREET_LAST: usize = 26;
    pub const DISTRIBUTION: usize = 27;
    pub const POSTAL_CODE: usize = 28;
    pub const DEPARTMENT: usize = 29;
}

/// Longest line accepted (bytes, newline included).
pub const MAX_LINE_BYTES: usize = 16 * 1024;
/// Longest field accepted (characters).
pub const MAX_FIELD_CHARS: usize = 500;

/// One valid mailbox line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The 31 columns, trimmed.
    pub fields: Vec<String>,
    pub kind: MailboxKind,
    /// The structure's FINESS, when its identifier is one.
    pub finess: Option<String>,
    /// The department: its column, else derived from the postal code.
    pub department: String,
}

impl Entry {
    pub fn field(&self, column: usize) -> &str {
        self.fields.get(column).map_or("", String::as_str)
    }

    /// The address's domain (after the last `@`).
    pub fn domain(&self) -> &str {
        self.field(col::ADDRESS).rsplit_once('@').map_or("", |(_, d)| d)
    }
}

/// Why one line was skipped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct LineError(pub String);

fn bad(reason: impl Into<String>) -> LineError {
    LineError(reason.into())
}

/// Why a whole extraction is refused.
#[derive(Debug, thiserror::Error)]
pub enum ExtractionError {
    #[error("read error: {0}")]
    Io(#[from] std::io::Error),
    #[error("the file is empty")]
    Empty,
    #[error("not an MSSanté extraction: {0}")]
    Header(String),
    #[error("line {line}: not valid UTF-8 (the extraction is UTF-8)")]
    Utf8 { line: u64 },
    #[error("line {line}: longer than {MAX_LINE_BYTES} bytes")]
    LineTooLong { line: u64 },
    #[error("line {line}: the file ends in the middle of this line (truncated file?)")]
    Truncated { line: u64 },
}

/// Checks the header line (without its line ending).
pub fn check_header(line: &str) -> Result<(), ExtractionError> {
    let line = line.strip_prefix('\u{feff}').unwrap_or(line);
    let names: Vec<&str> = line.split('|').map(str::trim).collect();
    if names.len() != COLUMNS {
        return Err(ExtractionError::Header(format!("{} columns in the header, expected {COLUMNS}", names.len())));
    }
    for (i, (found, expected)) in names.iter().zip(HEADER).enumerate() {
        if found.to_lowercase() != expected.to_lowercase() {
            return Err(ExtractionError::Header(format!("column {} is {found:?}, expected {expected:?}", i + 1)));
        }
    }
    Ok(())
}

/// Parses and validates one data line (without its line ending).
pub fn parse_line(line: &str) -> Result<Entry, LineError> {
    let fields: Vec<String> = line.split('|').map(|f| f.trim().to_string()).collect();
    if fields.len() != COLUMNS {
        return Err(bad(format!("{} columns, expected {COLUMNS}", fields.len())));
    }
    if let Some((i, _)) = fields.iter().enumerate().find(|(_, f)| f.chars().count() > MAX_FIELD_CHARS) {
        return Err(bad(format!("column {} ({}) longer than {MAX_FIELD_CHARS} characters", i + 1, HEADER[i])));
    }
    let kind: MailboxKind = fields[col::KIND]
        .parse()
        .map_err(|_| bad(format!("Type de BAL {:?} is not PER, ORG, APP or CAB", excerpt(&fields[col::KIND]))))?;
    fields[col::ADDRESS]
        .parse::<EmailAddress>()
        .map_err(|e| bad(format!("Adresse BAL {:?}: {e}", excerpt(&fields[col::ADDRESS]))))?;
    let person = check_person(&fields)?;
    let (structure, finess) = check_structure(&fields)?;
    match kind {
        MailboxKind::Personal if !person => return Err(bad("a PER mailbox needs Identifiant PP")),
        MailboxKind::Personal if fields[col::LAST_NAME].is_empty() => {
            return Err(bad("a PER mailbox needs Nom d'exercice"));
        }
        MailboxKind::Organisational | MailboxKind::Applicative if !structure => {
            return Err(bad(format!("an {kind} mailbox needs Identification Structure")));
        }
        _ => {}
    }
    let postal = &fields[col::POSTAL_CODE];
    if !postal.is_empty() && (postal.len() != 5 || !postal.bytes().all(|b| b.is_ascii_digit())) {
        return Err(bad(format!("Code postal {:?} is not 5 digits", excerpt(postal))));
    }
    let department = match fields[col::DEPARTMENT].as_str() {
        "" => department_of(postal),
        d if is_department(d) => d.to_string(),
        d => return Err(bad(format!("Département {:?} is not a department code", excerpt(d)))),
    };
    Ok(Entry { fields, kind, finess, department })
}

/// A person identifier is present (and valid).
fn check_person(fields: &[String]) -> Result<bool, LineError> {
    let (kind, id, national) = (&fields[col::PP_TYPE], &fields[col::PP_ID], &fields[col::PP_NATIONAL]);
    if kind.is_empty() && id.is_empty() && national.is_empty() {
        return Ok(false);
    }
    match kind.as_str() {
        "8" => id.parse::<Rpps>().map(drop).map_err(|e| bad(format!("Identifiant PP: {e}")))?,
        "0" => id.parse::<Adeli>().map(drop).map_err(|e| bad(format!("Identifiant PP: {e}")))?,
        other => return Err(bad(format!("Type Identifiant PP {:?} is not 8 (RPPS) or 0 (ADELI)", excerpt(other)))),
    }
    if !national.is_empty() && (national.get(..1) != Some(kind.as_str()) || national.get(1..) != Some(id.as_str())) {
        return Err(bad(format!("Identification nationale PP {:?} is not {kind}{id}", excerpt(national))));
    }
    Ok(true)
}

/// A structure identifier is present (and valid); its FINESS if it is one.
fn check_structure(fields: &[String]) -> Result<(bool, Option<String>), LineError> {
    let (kind, id) = (&fields[col::STRUCTURE_TYPE], &fields[col::STRUCTURE_ID]);
    if kind.is_empty() && id.is_empty() {
        return Ok((false, None));
    }
    if id.is_empty() {
        return Err(bad("Type identifiant structure without Identification Structure"));
    }
    // The number may carry the type digit in front.
    let strip = |len: usize| if id.chars().count() == len + 1 { id.strip_prefix(kind.as_str()) } else { None };
    match kind.as_str() {
        "1" => {
            let number = strip(Finess::LEN).unwrap_or(id);
            let finess: Finess = number.parse().map_err(|e| bad(format!("Identification Structure: {e}")))?;
            Ok((true, Some(finess.as_str().to_string())))
        }
        "3" => {
            let number = strip(14).unwrap_or(id);
            if number.len() != 14 || !number.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad(format!("Identification Structure {:?} is not a SIRET (14 digits)", excerpt(id))));
            }
            Ok((true, None))
        }
        _ if id.chars().all(|c| c.is_ascii_alphanumeric()) => Ok((true, None)),
        _ => Err(bad(format!("Identification Structure {:?} is not alphanumeric", excerpt(id)))),
    }
}

/// `75`, `2A`, `2B`, `971`..`976`, or another two digits.
fn is_department(code: &str) -> bool {
    let digits = code.bytes().all(|b| b.is_ascii_digit());
    matches!(code, "2A" | "2B") || (code.len() == 2 && digits) || (code.len() == 3 && digits && code.starts_with("97"))
}

/// The department of a postal code (empty when there is none).
pub fn department_of(postal: &str) -> String {
    if !postal.is_ascii() {
        return String::new();
    }
    match postal.get(..3) {
        None => String::new(),
        Some(p) if p.starts_with("97") || p.starts_with("98") => p.to_string(),
        // Corsica: 200xx-201xx are Corse-du-Sud, 202xx-206xx Haute-Corse.
        Some("200" | "201") => "2A".into(),
        Some(p) if p.starts_with("20") => "2B".into(),
        Some(p) => p.get(..2).unwrap_or_default().to_string(),
    }
}

/// At most 40 characters of a value, for messages.
fn excerpt(value: &str) -> String {
    value.chars().take(40).collect()
}

/// What [`Lines`] yields: a data line's number and its text.
pub type NumberedLine = (u64, String);

/// The data lines of an extraction, after its header was checked. Each
/// line is UTF-8 and at most [`MAX_LINE_BYTES`]; the line ending (`\n` or
/// `\r\n`) is removed; empty lines are skipped.
pub struct Lines<R> {
    reader: R,
    number: u64,
    buffer: Vec<u8>,
    /// Bytes read so far (for progress).
    pub bytes: u64,
}

impl<R: BufRead> Lines<R> {
    /// Reads and checks the header.
    pub fn open(reader: R) -> Result<Self, ExtractionError> {
        let mut lines = Self { reader, number: 0, buffer: Vec::with_capacity(1024), bytes: 0 };
        match lines.next_line()? {
            None => Err(ExtractionError::Empty),
            Some((_, header)) => {
                check_header(&header)?;
                Ok(lines)
            }
        }
    }

    /// The next non-empty line, or `None` at the end of the file.
    pub fn next_line(&mut self) -> Result<Option<NumberedLine>, ExtractionError> {
        loop {
            self.buffer.clear();
            self.number += 1;
            let limit = (MAX_LINE_BYTES + 1) as u64;
            let read = std::io::Read::take(&mut self.reader, limit).read_until(b'\n', &mut self.buffer)?;
            if read == 0 {
                return Ok(None);
            }
            self.bytes += read as u64;
            let line = self.number;
            let complete = self.buffer.last() == Some(&b'\n');
            if !complete && self.buffer.len() > MAX_LINE_BYTES {
                return Err(ExtractionError::LineTooLong { line });
            }
            while matches!(self.buffer.last(), Some(b'\n' | b'\r')) {
                self.buffer.pop();
            }
            let text = std::str::from_utf8(&self.buffer).map_err(|_| ExtractionError::Utf8 { line })?;
            // A last line without its newline is accepted only if it is whole.
            if !complete && line > 1 && text.split('|').count() != COLUMNS {
                return Err(ExtractionError::Truncated { line });
            }
            if !text.trim().is_empty() {
                return Ok(Some((line, text.to_string())));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn departments_from_postal_codes() {
        assert_eq!(department_of("75011"), "75");
        assert_eq!(department_of("20000"), "2A");
        assert_eq!(department_of("20200"), "2B");
        assert_eq!(department_of("97400"), "974");
        assert_eq!(department_of(""), "");
    }
}
