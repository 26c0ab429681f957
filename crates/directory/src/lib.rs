//! The Annuaire Santé side of mss.
//!
//! Today: the publication of our mailboxes, which is also their validation
//! by the ANS. A new mailbox stays pending until the ANS accepts it (it is
//! then published in the directory and becomes active) or refuses it (the
//! reason is kept and shown to its creator). The ANS is reached through a
//! [`Publisher`]; [`SimulatedAns`] stands in for it in development and
//! tests, [`validation`] runs the life cycle against either.
//!
//! This crate decides nothing about who may create what: that is the API's
//! and `mss-core`'s.

pub mod publication;
pub mod validation;

pub use publication::{PublishError, Publisher, SimulatedAns, Verdict};
pub use validation::{Validation, validate_due};
