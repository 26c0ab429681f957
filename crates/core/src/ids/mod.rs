//! National identifiers of the French health system, validated on parse.
//!
//! - [`Rpps`]: a professional's RPPS number, 11 digits with a Luhn key.
//! - [`Adeli`]: a professional's ADELI number (the older registry), 9 characters.
//! - [`Finess`]: a structure's FINESS number, 9 characters with a Luhn key.
//! - [`Ins`]: a patient's INS matricule (NIR or NIA), 13 characters and a mod-97 key.
//! - [`NationalId`]: the prefixed person id of PSC and the CPS (`8`+RPPS, `0`+ADELI).
//!
//! Rules every type here keeps:
//! - Parsing trims nothing and folds no case: `" 10000013994"` is invalid. What is
//!   stored is exactly what was parsed, so `Display` gives the input back.
//! - Every parse failure is an [`IdError`] whose message starts with the id kind.
//! - No panic on any input: lengths are counted in characters before anything is
//!   indexed, and indexing only happens on strings already known to be ASCII.

mod adeli;
mod finess;
mod ins;
mod luhn;
mod national;
mod rpps;

use std::fmt;

pub use adeli::Adeli;
pub use finess::Finess;
pub use ins::{Ins, nir_check_key};
pub use luhn::{luhn_check_digit, luhn_is_valid};
pub use national::NationalId;
pub use rpps::Rpps;

/// Which identifier an [`IdError`] is about; its `Display` starts every message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdKind {
    Rpps,
    Adeli,
    Finess,
    Ins,
    NationalId,
}

impl IdKind {
    pub fn as_str(self) -> &'static str {
        match self {
            IdKind::Rpps => "rpps",
            IdKind::Adeli => "adeli",
            IdKind::Finess => "finess",
            IdKind::Ins => "ins",
            IdKind::NationalId => "national id",
        }
    }
}

impl fmt::Display for IdKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a string is not a valid identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// Wrong number of characters, e.g. "rpps: expected 11 digits, got 10".
    #[error("{kind}: expected {expected}, got {got}")]
    Length { kind: IdKind, expected: &'static str, got: usize },
    /// A character that is not allowed where it stands (position counts from 1).
    #[error("{kind}: unexpected character {found:?} at position {position}")]
    Character { kind: IdKind, position: usize, found: char },
    /// A part of the id has a value the format does not allow.
    #[error("{kind}: {part} {reason}")]
    Part { kind: IdKind, part: &'static str, reason: &'static str },
    /// The check key does not match the rest of the id.
    #[error("{kind}: check key is wrong")]
    CheckKey { kind: IdKind },
    /// A national id must start with `8` (RPPS) or `0` (ADELI).
    #[error("national id: expected prefix '8' (RPPS) or '0' (ADELI), got {}", describe_prefix(.found))]
    Prefix { found: Option<char> },
}

fn describe_prefix(found: &Option<char>) -> String {
    match found {
        Some(c) => format!("{c:?}"),
        None => "nothing".to_owned(),
    }
}

/// Fails unless `input` has exactly `len` characters.
fn expect_len(kind: IdKind, input: &str, len: usize, expected: &'static str) -> Result<(), IdError> {
    let got = input.chars().count();
    if got == len { Ok(()) } else { Err(IdError::Length { kind, expected, got }) }
}

/// Fails on the first character that is not an ASCII digit, skipping the first
/// `from` characters.
fn expect_digits_from(kind: IdKind, input: &str, from: usize) -> Result<(), IdError> {
    match input.chars().enumerate().skip(from).find(|(_, c)| !c.is_ascii_digit()) {
        None => Ok(()),
        Some((index, found)) => Err(IdError::Character { kind, position: index + 1, found }),
    }
}

/// Fails on the first character of `input` that is not an ASCII digit.
fn expect_digits(kind: IdKind, input: &str) -> Result<(), IdError> {
    expect_digits_from(kind, input, 0)
}

/// The department at the start of a FINESS or ADELI number: two digits, or one of
/// the `lettered` codes (`2A`/`2B` for Corsica, and for ADELI `9A`..`9F` overseas).
fn expect_department(kind: IdKind, input: &str, lettered: &[&str]) -> Result<(), IdError> {
    let head: String = input.chars().take(2).collect();
    let two_digits = head.len() == 2 && head.bytes().all(|b| b.is_ascii_digit());
    if two_digits || lettered.contains(&head.as_str()) {
        return Ok(());
    }
    match head.chars().enumerate().find(|(_, c)| !c.is_ascii_digit()) {
        Some((index, found)) => Err(IdError::Character { kind, position: index + 1, found }),
        // Callers check the length first; this is only a guard.
        None => Err(IdError::Part { kind, part: "department", reason: "is missing" }),
    }
}
