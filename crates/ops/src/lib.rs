//! The use cases of mss, in one place: what the CLI, the REST API, the
//! portal and the scheduler (`mss serve`) do to mailboxes, their members,
//! the liste blanche and the stored data. mox's `admin` package plays this
//! part for its CLI and web admin.
//!
//! Rules kept here:
//! - arrows point down: this crate uses `core`, `store`, `message`, `trust`
//!   and `directory`, never a front end (`smtp`, `imap`, `web`, `mss`);
//! - no protocol, no HTML, no command-line parsing: a front end turns its
//!   input into the typed requests of this crate, and its errors into its
//!   own terms (exit code, `application/problem+json`, a French page);
//! - each use case is written once: validation, the store change, what the
//!   directory must learn (queued in the same transaction), session
//!   revocation and the audit entry go together;
//! - errors are typed ([`OpsError`], [`mailboxes::DraftError`]) and worded
//!   for operators' logs: a person's wording belongs to the front end. (The
//!   one JSON shape of a mailbox, [`mailboxes::MailboxView`], carries its
//!   French status message: it is data shown to people.)

pub mod directory;
mod error;
pub mod facts;
pub mod housekeeping;
pub mod indicator;
pub mod mailboxes;
pub mod members;
pub mod stats;
pub mod whitelist;

#[cfg(test)]
mod testing;

pub use error::{OpsError, Refusal};
