//! The life of a mailbox and of the people using it: creation with a CGU
//! acceptance (pending until the ANS validates it), state changes with their
//! reason, roles changed under the delegation rules, and login sessions.

use async_trait::async_trait;
use mss_core::{MailboxState, NationalId, Role};

use crate::{Mailbox, MailboxId, NewMailbox, StoreError};

/// A recorded acceptance of the terms of use (CGU).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CguAcceptance {
    pub national_id: NationalId,
    pub version: String,
    /// Unix seconds.
    pub accepted_at: i64,
}

/// Everything a creation through the identity flow records at once.
#[derive(Debug, Clone)]
pub struct MailboxRequest {
    /// The mailbox, in the `pending` state.
    pub mailbox: NewMailbox,
    pub cgu: CguAcceptance,
    /// Organisational mailboxes: the creator becomes Administrateur.
    pub administrator: Option<NationalId>,
    /// When the ANS adapter is to be asked (unix seconds).
    pub validation_due_at: i64,
}

/// A login session: what the operator's tokens name in `sid`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: String,
    pub national_id: NationalId,
    pub first_name: String,
    pub last_name: String,
    /// `psc` or `cps`.
    pub method: String,
    pub finess: Vec<String>,
    /// BLAKE3 of the current refresh token (the token itself is never kept).
    pub refresh_hash: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
}

impl Session {
    pub fn is_live(&self, now: i64) -> bool {
        self.revoked_at.is_none() && self.expires_at > now
    }
}

/// Life-cycle operations of the metadata store.
#[async_trait]
pub trait LifecycleStore: Send + Sync {
    /// Creates a pending mailbox, records the CGU acceptance and the
    /// Administrateur role, in one transaction.
    async fn request_mailbox(&self, request: &MailboxRequest) -> Result<Mailbox, StoreError>;
    async fn mailbox_by_id(&self, id: MailboxId) -> Result<Option<Mailbox>, StoreError>;
    /// Moves a mailbox from `from` to `to` (a transition `mss_core` allows)
    /// with its reason; false when it was no longer in `from`.
    async fn change_state(
        &self,
        id: MailboxId,
        from: MailboxState,
        to: MailboxState,
        reason: Option<&str>,
    ) -> Result<bool, StoreError>;
    /// Pending mailboxes whose validation is due at `now`.
    async fn due_validations(&self, now: i64) -> Result<Vec<Mailbox>, StoreError>;
    /// Puts a pending mailbox's validation at `due_at` (retry later).
    async fn postpone_validation(&self, id: MailboxId, due_at: i64) -> Result<(), StoreError>;
    /// Sets (`Some`) or removes (`None`) a role. Refuses
    /// ([`StoreError::Invalid`]) to leave a mailbox without an Administrateur.
    async fn set_role(
        &self,
        mailbox: MailboxId,
        national_id: &NationalId,
        role: Option<Role>,
    ) -> Result<(), StoreError>;
    async fn cgu_acceptances(&self, mailbox: MailboxId) -> Result<Vec<CguAcceptance>, StoreError>;
    /// Empties the mailboxes deleted before `before` (unix seconds): their
    /// folders and messages go, the mailbox row stays so that the address
    /// is never given again. Returns the addresses emptied now.
    async fn purge_deleted(&self, before: i64) -> Result<Vec<String>, StoreError>;

    async fn create_session(&self, session: &Session) -> Result<(), StoreError>;
    async fn session(&self, id: &str) -> Result<Option<Session>, StoreError>;
    /// Replaces the refresh token hash if it is still `old_hash` and the
    /// session is live; false otherwise (a reused refresh token).
    async fn rotate_refresh(&self, id: &str, old_hash: &str, new_hash: &str, now: i64) -> Result<bool, StoreError>;
    async fn revoke_session(&self, id: &str, now: i64) -> Result<(), StoreError>;
    /// Revokes every session of a person (mailbox suspension, lost card).
    async fn revoke_sessions_of(&self, national_id: &NationalId, now: i64) -> Result<u64, StoreError>;
}
