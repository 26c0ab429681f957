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

/// A login half done, to keep until it is taken or expires.
#[derive(Debug, Clone, Copy)]
pub struct NewLoginFlow<'a> {
    pub kind: &'a str,
    pub key: &'a str,
    pub secret: &'a str,
    /// Who started it: the client's address group (one client's flows
    /// are bounded on their own, see [`FlowLimits`]).
    pub client: &'a str,
    pub now: i64,
    pub expires_at: i64,
}

/// How many flows of a kind may wait at once.
#[derive(Debug, Clone, Copy)]
pub struct FlowLimits {
    /// Of one client: its oldest makes room for its newest (a client
    /// starting more logins than this abandoned the first ones, or is
    /// trying to fill the store).
    pub per_client: usize,
    /// Of every client: past this, new flows are refused until some are
    /// taken or expire.
    pub total: usize,
}

#[async_trait]
pub trait LoginFlowStore: Send + Sync {
    /// Keeps the flow's secret under (`kind`, `key`) until `expires_at`,
    /// after removing the kind's flows expired at `now` and, when its
    /// client already has `per_client` pending, the client's oldest;
    /// false (nothing kept) when the kind already has about `total`
    /// pending, or the key is taken.
    async fn begin_login_flow(&self, flow: &NewLoginFlow<'_>, limits: FlowLimits) -> Result<bool, StoreError>;
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
