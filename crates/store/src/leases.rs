//! Leases: work that must run once per operator, not once per node.
//!
//! Several `mss serve` nodes may share one database; the daily housekeeping
//! or the liste blanche refresh must still run on one of them at a time. A
//! lease is a named row saying which node (its *holder*, one id per running
//! process) has that work, and until when. A node takes the lease before
//! each round of the work and does the round only if it got it; the holder
//! keeps it by taking it again (which extends it), and when it stops
//! renewing (it stopped, crashed or lost the database) the lease expires
//! and the next node to ask takes it over.
//!
//! Taking is one atomic step on every backend: two nodes asking at once
//! never both get a lease that was free. Times are seconds since the Unix
//! epoch given by the caller: a clock skew between nodes shortens or
//! lengthens a lease by that much, so leases are minutes long, not seconds.
//!
//! A lease is a courtesy between nodes, not a lock that guards data: a
//! holder that stalls past its lease may find another node doing the same
//! work. Work run under a lease must stay correct when run twice; the lease
//! only keeps it from being done N times by N nodes.

use async_trait::async_trait;

use crate::StoreError;

/// Named leases shared by the nodes of one store.
#[async_trait]
pub trait LeaseStore: Send + Sync {
    /// Takes the lease `name` for `holder` until `until` (exclusive), if it
    /// is free, expired (`expires_at <= now`) or already held by `holder`
    /// (then it is extended, or shortened, to `until`). Whether `holder`
    /// holds it now. [`StoreError::Invalid`] when `until` is not after `now`.
    async fn take_lease(&self, name: &str, holder: &str, now: i64, until: i64) -> Result<bool, StoreError>;

    /// Gives the lease `name` up, if `holder` holds it (otherwise nothing
    /// changes): the next node to ask takes it at once.
    async fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError>;
}

/// The terms every backend checks before taking a lease.
pub(crate) fn check_lease_terms(name: &str, holder: &str, now: i64, until: i64) -> Result<(), StoreError> {
    if name.is_empty() || holder.is_empty() {
        return Err(StoreError::Invalid("a lease needs a name and a holder".into()));
    }
    if until <= now {
        return Err(StoreError::Invalid(format!("lease {name}: it would end ({until}) before it starts ({now})")));
    }
    Ok(())
}
