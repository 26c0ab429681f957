//! What the pharmacy's 5 % indicator reads (`mss_core::indicator`): the
//! dispensations its software declared, and the exchanges of its mailboxes
//! (those whose FINESS is the pharmacy's) that concern a patient, and the
//! links made by hand between a dispensation and a message. The rule
//! linking them is the caller's; the store only keeps and reads.

use async_trait::async_trait;

use crate::StoreError;

/// A dispensation as kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDispensation {
    pub finess: String,
    pub id: String,
    pub at: i64,
    pub patient_ins: Option<String>,
}

/// What a batch of declarations did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Declared {
    pub inserted: u64,
    /// Ids already known, replaced (a correction).
    pub replaced: u64,
}

/// A message of a pharmacy's mailboxes about a patient: the patient's INS
/// and when it arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientExchange {
    pub ins: String,
    pub at: i64,
}

#[async_trait]
pub trait IndicatorStore: Send + Sync {
    /// Keeps `dispensations`, all or none (one transaction); a known id of
    /// the same FINESS is replaced.
    async fn put_dispensations(&self, dispensations: &[StoredDispensation]) -> Result<Declared, StoreError>;
    /// The dispensations of `finess` from `from` (included) to `to`
    /// (excluded), by time.
    async fn dispensations(&self, finess: &str, from: i64, to: i64) -> Result<Vec<StoredDispensation>, StoreError>;
    /// Links the dispensation `id` of `finess` to the message `message_id`
    /// (as its facts keep it) of one of the pharmacy's mailboxes; false when
    /// there is no such dispensation or no such message there.
    async fn link_dispensation(&self, finess: &str, id: &str, message_id: &str, at: i64) -> Result<bool, StoreError>;
    /// The dispensations of `finess` linked to a message, with when.
    async fn dispensation_links(&self, finess: &str) -> Result<Vec<(String, i64)>, StoreError>;
    /// The dispensations of `finess` linked to the message `message_id`.
    async fn dispensations_linked_to(&self, finess: &str, message_id: &str) -> Result<Vec<String>, StoreError>;
    /// The messages about a patient in the mailboxes of `finess` (but their
    /// drafts, trash and junk), arrived from `from` to `to` (excluded).
    async fn patient_exchanges(&self, finess: &str, from: i64, to: i64) -> Result<Vec<PatientExchange>, StoreError>;
}
