//! `mss-core`: the vocabulary of an MSSanté operator.
//!
//! Identifiers of professionals, structures and patients (RPPS, ADELI, FINESS, INS),
//! mailbox addresses and the naming rules that build them, mailbox kinds and states,
//! who may do what on a mailbox, the rules of messaging with patients, and the
//! pharmacy's 5 % indicator. The protocol and storage crates ask this crate;
//! they do not re-decide what it decides.
//!
//! Rules this crate keeps:
//! - Pure: no I/O, no clock, no randomness, no async. Every function gives the same
//!   answer for the same input, so policy can be tested without a server.
//! - No panic on any input: parsers take arbitrary strings and return typed errors
//!   (`thiserror`, English messages naming the field).
//! - A value of a validated type is valid: the only ways to build one are the parsers
//!   and constructors that check it.

pub mod access;
pub mod address;
pub mod civil;
pub mod ids;
pub mod indicator;
pub mod mailbox;
pub mod patients;
pub mod role;

pub use access::{Relation, Right, Rights, rights};
pub use address::{
    AddressError, Domain, EmailAddress, PATIENT_DOMAIN, allocate_address, application_local_part, cabinet_local_part,
    fold_label, fold_latin, personal_local_part, pharmacy_local_part, service_local_part,
};
pub use civil::Civil;
pub use ids::{Adeli, Finess, IdError, IdKind, Ins, NationalId, Rpps, luhn_check_digit, luhn_is_valid, nir_check_key};
pub use mailbox::{MailboxError, MailboxKind, MailboxState};
pub use role::{Action, Role, RoleError, may, may_delegate, permits};

/// The most recipients one message may have, however it is sent (SMTP
/// submission and the webmail alike). RFC 5321 §4.5.3.1.8 asks a server to
/// accept at least 100.
pub const MAX_RECIPIENTS_PER_MESSAGE: usize = 100;

/// A short, printable excerpt of untrusted input for error messages.
///
/// Error messages may end up in logs and protocol replies: never copy a whole
/// attacker-sized string into them.
pub(crate) fn excerpt(input: &str) -> String {
    const MAX_CHARS: usize = 32;
    let mut out: String = input.chars().take(MAX_CHARS).collect();
    if input.chars().nth(MAX_CHARS).is_some() {
        out.push('…');
    }
    out
}
