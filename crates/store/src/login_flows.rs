//! Logins half done: an OpenID Connect flow between the redirection to its
//! provider and the return (its PKCE verifier and nonce), a CPS challenge
//! between its issue and its signature. Kept in the store, not in a node's
//! memory, so that the second half may land on any node behind the
//! operator's name; each is taken once, and only before it expires.
//!
//! A flow is named by its `kind` (`psc`, `account`, `cps`: the return of
//! one provider never finishes another's flow) and its `key` (the OAuth
//! `state` or the challenge: random, unguessable). Times are seconds since
//! the Unix epoch.

use async_trait::async_trait;

use crate::StoreError;

/// Longest kind, key and secret kept.
pub const LOGIN_FLOW_FIELD_MAX: usize = 512;

#[async_trait]
pub trait LoginFlowStore: Send + Sync {
    /// Keeps `secret` under (`kind`, `key`) until `expires_at`, after
    /// removing the kind's flows expired at `now`; false (nothing kept)
    /// when the kind already has about `max` pending, or the key is taken.
    async fn begin_login_flow(
        &self,
        kind: &str,
        key: &str,
        secret: &str,
        now: i64,
        expires_at: i64,
        max: usize,
    ) -> Result<bool, StoreError>;
    /// Takes the flow (removing it): its secret, if it exists and has not
    /// expired at `now`. A kind or key longer than any kept finds nothing:
    /// what a client sends back is looked up as it is, however long.
    async fn take_login_flow(&self, kind: &str, key: &str, now: i64) -> Result<Option<String>, StoreError>;
}

/// The bounds every backend checks before keeping a flow.
pub(crate) fn check_flow(fields: &[&str]) -> Result<(), StoreError> {
    match fields.iter().find(|f| f.len() > LOGIN_FLOW_FIELD_MAX) {
        Some(field) => Err(StoreError::Invalid(format!("a login flow field of {} bytes", field.len()))),
        None => Ok(()),
    }
}

/// Whether a flow with these fields could have been kept ([`check_flow`]).
pub(crate) fn could_be_kept(fields: &[&str]) -> bool {
    check_flow(fields).is_ok()
}
