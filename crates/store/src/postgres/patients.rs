//! [`PatientStore`] on PostgreSQL.

use async_trait::async_trait;

use super::PgStore;
use crate::{MailboxId, OUTSIDE_CONVERSATIONS, PatientMessage, PatientPage, PatientStore, PatientThread, StoreError};

#[async_trait]
impl PatientStore for PgStore {
    async fn record_patient_contact(&self, mailbox: MailboxId, ins: &str, at: i64) -> Result<(), StoreError> {
        todo!("postgres")
    }

    async fn wrote_to_patient(&self, mailbox: MailboxId, author: &str, ins: &str) -> Result<bool, StoreError> {
        todo!("postgres")
    }

    async fn quick_answers(&self, mailbox: MailboxId) -> Result<Option<Vec<String>>, StoreError> {
        todo!("postgres")
    }

    async fn set_quick_answers(&self, mailbox: MailboxId, answers: &[String], at: i64) -> Result<(), StoreError> {
        todo!("postgres")
    }

    async fn patient_threads(&self, mailbox: MailboxId, offset: u64, limit: u32) -> Result<PatientPage, StoreError> {
        todo!("postgres")
    }

    async fn patient_messages(
        &self,
        mailbox: MailboxId,
        ins: &str,
        limit: u32,
    ) -> Result<Vec<PatientMessage>, StoreError> {
        todo!("postgres")
    }
}
