//! A mailbox's messages with patients of Mon espace santé (issue 15): which
//! patients it wrote to, and its conversations with each.
//!
//! A message belongs to a patient when its facts name one
//! ([`FactColumns::patient_ins`]: the message is from or to
//! `<INS>@patient.mssante.fr`). The messages with a patient are read from
//! every folder of the mailbox but drafts, trash and junk, a message filed
//! in two folders once; a read receipt is not one of them, but is found
//! by the message it is about ([`crate::FactsStore::receipts`]). Where one conversation ends and the next begins is
//! the domain's rule (`mss_core::patients`), applied by the reader to the
//! messages given here in order.
//!
//! A mailbox also keeps its own quick answers to patients.
//!
//! Who a mailbox wrote to is recorded when the message is stored for
//! sending ([`PatientStore::record_patient_contact`]), not read from Sent,
//! which an operator may turn off: a patient's answer is let in either way.

use async_trait::async_trait;

use crate::{FactColumns, FolderId, MailboxId, MessageMeta, StoreError};

/// The folders whose messages are not part of a conversation: what was
/// not sent, and what the mailbox threw away.
pub const OUTSIDE_CONVERSATIONS: [&str; 3] = [crate::DRAFTS, crate::TRASH, crate::JUNK];

/// One message with a patient: where it is, its metadata and its columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientMessage {
    pub folder: FolderId,
    pub meta: MessageMeta,
    pub columns: FactColumns,
}

impl PatientMessage {
    /// Whether the patient wrote it (its author is the patient's address).
    pub fn from_patient(&self) -> bool {
        let patient = self.columns.patient_ins.as_deref().unwrap_or_default();
        self.columns.from_address.as_deref().and_then(|a| a.split_once('@')).is_some_and(|(local, domain)| {
            local.eq_ignore_ascii_case(patient) && domain.eq_ignore_ascii_case(mss_core::PATIENT_DOMAIN)
        })
    }
}

/// A patient a mailbox exchanged messages with, as its list shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientThread {
    pub ins: String,
    /// The display name of the patient's latest message that has one.
    pub name: Option<String>,
    /// Messages with this patient, and those the patient wrote that are
    /// not read yet.
    pub messages: u64,
    pub unseen: u64,
    /// The latest message (by arrival).
    pub last: PatientMessage,
}

/// A page of a mailbox's patients, latest exchange first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PatientPage {
    pub total: u64,
    pub threads: Vec<PatientThread>,
}

#[async_trait]
pub trait PatientStore: Send + Sync {
    /// Records that `mailbox` wrote to the patient `ins` at `at` (unix
    /// seconds): called before the message is queued.
    async fn record_patient_contact(&self, mailbox: MailboxId, ins: &str, at: i64) -> Result<(), StoreError>;
    /// Whether `mailbox` wrote to the patient `ins`: recorded, or a message
    /// in one of its folders written by `author` (its first From) to them
    /// (messages sent before contacts were recorded).
    async fn wrote_to_patient(&self, mailbox: MailboxId, author: &str, ins: &str) -> Result<bool, StoreError>;
    /// The patients of `mailbox`'s messages, latest exchange first, skipping
    /// `offset`, at most `limit`.
    async fn patient_threads(&self, mailbox: MailboxId, offset: u64, limit: u32) -> Result<PatientPage, StoreError>;
    /// The quick answers `mailbox` chose, in order; None if it never chose
    /// (the caller's defaults apply).
    async fn quick_answers(&self, mailbox: MailboxId) -> Result<Option<Vec<String>>, StoreError>;
    /// Replaces the quick answers of `mailbox` (checked by the caller).
    async fn set_quick_answers(&self, mailbox: MailboxId, answers: &[String], at: i64) -> Result<(), StoreError>;
    /// The latest `limit` messages of `mailbox` with the patient `ins`, in
    /// order of arrival.
    async fn patient_messages(
        &self,
        mailbox: MailboxId,
        ins: &str,
        limit: u32,
    ) -> Result<Vec<PatientMessage>, StoreError>;
}
