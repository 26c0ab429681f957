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
//! the same protocol; [`validation`] runs the life cycle. Once a mailbox is
//! active, what the directory must learn about it (a suspension, a
//! resumption, a deletion, a liste rouge change) goes through the store's
//! outbox, which [`outbox`] sends until the ANS acknowledges it.
//!
//! [`fhir_read`]: a FHIR read endpoint for our own published mailboxes, in
//! the shape of the national API.
//!
//! This crate decides nothing about who may create what: that is the API's
//! and `mss-core`'s.

pub mod annuaire;
pub mod fhir;
pub mod fhir_read;
pub mod outbox;
pub mod publication;
pub mod simulator;
pub mod validation;

pub use outbox::{Backoff, Outbox, send_due};
pub use publication::{FhirPublisher, PublishError, Publisher, Verdict};
pub use simulator::AnsSimulator;
pub use validation::{Validation, validate_due};
