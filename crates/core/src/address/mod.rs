//! Mailbox addresses: domains, addresses, and the rules that name new mailboxes.
//!
//! Rules this module keeps:
//! - A [`Domain`] is an LDH host name, lower-cased, of at least two labels
//!   (RFC 1035 §2.3.1, RFC 1123 §2.1, RFC 3696 §2). Internationalised names are
//!   accepted in their ASCII `xn--` form only.
//! - An [`EmailAddress`] is `local@domain` with a dot-atom local part
//!   (RFC 5321 §4.1.2, ASCII atext only: no quoted strings, no SMTPUTF8) of at most
//!   64 octets (RFC 5321 §4.5.3.1.1) and at most 254 octets in all (RFC 3696 errata
//!   1690). The local part is stored lower-cased: this operator treats local parts
//!   case-insensitively, so two spellings never name two mailboxes.
//! - New local parts come from [`fold_label`] (lower case, accents folded, separators
//!   turned into `-`) and the `*_local_part` builders; they always fit in 64 octets.
//! - [`allocate_address`] resolves collisions deterministically: the same inputs and
//!   the same taken set always give the same address.

mod allocate;
mod domain;
mod email;
mod fold;
mod naming;

pub use allocate::{MAX_ALLOCATION_ATTEMPTS, allocate_address};
pub use domain::Domain;
pub use email::EmailAddress;
pub use fold::{fold_label, fold_latin};
pub use naming::{
    application_local_part, cabinet_local_part, personal_local_part, pharmacy_local_part, service_local_part,
};

/// The domain of patients' addresses in Mon espace santé.
pub const PATIENT_DOMAIN: &str = "patient.mssante.fr";

/// Longest local part, in octets (RFC 5321 §4.5.3.1.1).
pub const LOCAL_PART_MAX: usize = 64;
/// Longest address, in octets (RFC 3696 errata 1690; RFC 5321 §4.5.3.1.3 path - 2).
pub const ADDRESS_MAX: usize = 254;
/// Longest domain, in octets (RFC 1035 §2.3.4, without the final dot).
pub const DOMAIN_MAX: usize = 253;
/// Longest domain label, in octets (RFC 1035 §2.3.4).
pub const LABEL_MAX: usize = 63;

/// Why a domain, an address or a mailbox name is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("domain: is empty")]
    DomainEmpty,
    #[error("domain: {octets} octets, at most 253 allowed")]
    DomainTooLong { octets: usize },
    #[error("domain: a label has {octets} octets, labels have 1 to 63")]
    DomainLabelLength { octets: usize },
    #[error("domain: character {found:?} not allowed (letters, digits, '-' and '.'; IDN in xn-- form)")]
    DomainCharacter { found: char },
    #[error("domain: a label starts or ends with '-'")]
    DomainHyphen,
    #[error("domain: needs at least two labels")]
    DomainSingleLabel,
    #[error("domain: the top-level label is all digits")]
    DomainNumericTld,

    #[error("address: missing '@'")]
    MissingAt,
    #[error("address: {octets} octets, at most 254 allowed")]
    AddressTooLong { octets: usize },
    #[error("local part: is empty")]
    LocalEmpty,
    #[error("local part: {octets} octets, at most 64 allowed")]
    LocalTooLong { octets: usize },
    #[error("local part: character {found:?} not allowed")]
    LocalCharacter { found: char },
    #[error("local part: starts or ends with '.', or has '..'")]
    LocalDot,

    /// A name folded to nothing (e.g. only punctuation or non-Latin letters).
    #[error("{field}: nothing left after folding {input:?}")]
    EmptyName { field: &'static str, input: String },
    #[error("postal code: expected 5 digits (01000 to 98999), got {got:?}")]
    PostalCode { got: String },
    /// No room for even one character of local part next to this domain.
    #[error("domain: {octets} octets leave no room for a local part")]
    NoRoomForLocalPart { octets: usize },
    #[error("address: no free address for {base:?} after {attempts} attempts")]
    NoFreeAddress { base: String, attempts: u32 },
}
