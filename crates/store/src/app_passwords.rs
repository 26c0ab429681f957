//! Application passwords: what a person gives a mail client that cannot do
//! OAuth (a phone's mail application, mbsync, swaks) to read or send for one
//! mailbox over IMAP or submission. Made after a Pro Santé Connect or CPS
//! login, for one mailbox the person may use, scoped (IMAP, submission or
//! both), expiring, revocable, each use recorded. The store keeps a hash of
//! the secret only (the secret is random and long: a fast hash is enough,
//! see `mss_identity::app_password`).

use async_trait::async_trait;
use mss_core::NationalId;

use crate::{MailboxId, StoreError};

/// Where a password may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Imap,
    Submission,
    Both,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Imap => "imap",
            Scope::Submission => "submission",
            Scope::Both => "both",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "imap" => Some(Scope::Imap),
            "submission" => Some(Scope::Submission),
            "both" => Some(Scope::Both),
            _ => None,
        }
    }

    /// Whether it opens `protocol` (`imap` or `submission`).
    pub fn allows(self, protocol: Scope) -> bool {
        self == Scope::Both || self == protocol
    }
}

/// A password to keep (its secret already hashed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAppPassword {
    pub mailbox: MailboxId,
    /// Who made it: the password acts with this person's rights.
    pub national_id: NationalId,
    pub label: String,
    pub hash: String,
    pub scope: Scope,
    pub created_at: i64,
    pub expires_at: i64,
}

/// A password as kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppPassword {
    pub id: i64,
    pub mailbox: MailboxId,
    pub national_id: NationalId,
    pub label: String,
    pub scope: Scope,
    pub created_at: i64,
    pub expires_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

impl AppPassword {
    /// Not revoked nor expired at `now`.
    pub fn is_live(&self, now: i64) -> bool {
        self.revoked_at.is_none() && now < self.expires_at
    }
}

#[async_trait]
pub trait AppPasswordStore: Send + Sync {
    /// Keeps a new password; returns its id.
    async fn create_app_password(&self, new: &NewAppPassword) -> Result<i64, StoreError>;
    /// The password whose secret hashes to `hash`, live or not.
    async fn app_password_by_hash(&self, hash: &str) -> Result<Option<AppPassword>, StoreError>;
    /// The password `id`, live or not.
    async fn app_password(&self, id: i64) -> Result<Option<AppPassword>, StoreError>;
    /// The passwords of `mailbox` made by `person`, newest first.
    async fn app_passwords(&self, mailbox: MailboxId, person: &NationalId) -> Result<Vec<AppPassword>, StoreError>;
    /// Revokes the password `id` of `mailbox` made by `person`; false when
    /// there is none (or it was revoked already).
    async fn revoke_app_password(
        &self,
        id: i64,
        mailbox: MailboxId,
        person: &NationalId,
        at: i64,
    ) -> Result<bool, StoreError>;
    /// Revokes every password of `person` (their access was withdrawn);
    /// returns how many.
    async fn revoke_app_passwords_of(&self, person: &NationalId, at: i64) -> Result<usize, StoreError>;
    /// Records a use.
    async fn app_password_used(&self, id: i64, at: i64) -> Result<(), StoreError>;
}
