//! The operator's usage over a period, for the monthly report to the ANS
//! and the metrics endpoint: counts only, never a message, an address or a
//! patient.
//!
//! Where each count comes from: mailboxes from their rows (by type and
//! state, now; created and closed in the period); messages from the
//! delivery states of what our users sent (kept while the sent message is:
//! a message deleted with its Sent copy before the report is not counted)
//! and from the audit trail for what other operators delivered to us;
//! documents from the Sent copies carrying an IHE XDM package; logins from
//! the audit trail (so within its retention).

use async_trait::async_trait;

use crate::StoreError;

/// What the operator's users and peers did in a period.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Usage {
    /// Mailboxes now, by type (`PER`, `ORG`, `APP`, `CAB`) and state.
    pub mailboxes: Vec<(String, String, u64)>,
    pub mailboxes_created: u64,
    pub mailboxes_closed: u64,
    /// Recipients of messages our users sent: delivered here, accepted by
    /// another operator, accepted by Mon espace santé, failed.
    pub sent_inside: u64,
    pub sent_to_operators: u64,
    pub sent_to_patients: u64,
    pub sent_failed: u64,
    /// Messages other operators delivered to us, and those from patients.
    pub received_from_operators: u64,
    pub received_from_patients: u64,
    /// Messages our users sent carrying an IHE XDM package.
    pub documents_sent: u64,
    /// Successful logins, by method (`psc`, `cps`, `cps-tls`, `imap`, `smtp`).
    pub logins: Vec<(String, u64)>,
}

#[async_trait]
pub trait StatsStore: Send + Sync {
    /// The usage from `from` (included) to `to` (excluded), unix seconds.
    async fn usage(&self, from: i64, to: i64) -> Result<Usage, StoreError>;
}
