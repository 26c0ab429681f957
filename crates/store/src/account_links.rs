//! Accounts of a second OpenID Connect provider (the pharmacy software
//! vendor's own account system, « Mon Compte Personnel ») linked to a
//! person. A person links their account once, signed in with Pro Santé
//! Connect or their CPS card; afterwards that account signs them in. One
//! account per person and provider, one person per account: linking an
//! account linked to someone else is refused.

use async_trait::async_trait;
use mss_core::NationalId;

use crate::StoreError;

/// An account linked to a person, with the names the strong login gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountLink {
    /// The provider's issuer URL.
    pub issuer: String,
    /// The account's `sub` at that provider.
    pub subject: String,
    pub national_id: NationalId,
    pub first_name: String,
    pub last_name: String,
    pub linked_at: i64,
}

#[async_trait]
pub trait AccountLinkStore: Send + Sync {
    /// Links `link.subject` to `link.national_id`, replacing the person's
    /// earlier account at this issuer; `AlreadyPresent` when the account is
    /// another person's.
    async fn link_account(&self, link: &AccountLink) -> Result<(), StoreError>;
    /// The link of the account `subject` at `issuer`.
    async fn account_link(&self, issuer: &str, subject: &str) -> Result<Option<AccountLink>, StoreError>;
    /// The account `person` linked at `issuer`.
    async fn linked_account(&self, issuer: &str, person: &NationalId) -> Result<Option<AccountLink>, StoreError>;
    /// Removes the person's link at `issuer`; false when there was none.
    async fn unlink_account(&self, issuer: &str, person: &NationalId) -> Result<bool, StoreError>;
}
