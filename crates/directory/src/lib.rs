//! The Annuaire Santé side of mss.
//!
//! [`annuaire`]: the national directory (the ANS extraction of MSSanté
//! mailboxes) imported into a snapshot of its own and searched together
//! with our own active mailboxes.
//!
//! The publication of our mailboxes, which is also their validation
//! by the ANS. A new mailbox stays pending until the ANS accepts it (it is
//! then published in the directory and becomes active) or refuses it (the
//! reason is kept and shown to its creator). The ANS is reached through a
//! [`Publisher`]: [`FhirPublisher`] sends the FHIR PATCH of [`fhir`] to the
//! directory API, the real one or the development [`simulator`] that speaks
//! the same protocol; [`validation`] runs the life cycle.
//!
//! This crate decides nothing about who may create what: that is the API's
//! and `mss-core`'s.

pub mod annuaire;
pub mod fhir;
pub mod publication;
pub mod simulator;
pub mod validation;

pub use publication::{FhirPublisher, PublishError, Publisher, Verdict};
pub use simulator::AnsSimulator;
pub use validation::{Validation, validate_due};
