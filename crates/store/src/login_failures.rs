//! Failed logins, counted per key (a client address, an account name) and
//! shared by every node of the store: password guessing is slowed down the
//! same whichever node a guess lands on. How long a key must wait is
//! `mss-identity`'s rule (`Throttle`); this is only the count and the time
//! of the last failure.
//!
//! Times are milliseconds since the Unix epoch. A count whose last failure
//! is older than the caller's `since` is stale: read as absent, started
//! again at one by the next failure, and removed by
//! [`LoginFailureStore::forget_login_failures`].

use async_trait::async_trait;

use crate::StoreError;

/// Longest key kept; the throttle shortens longer ones before asking.
pub const LOGIN_FAILURE_KEY_MAX: usize = 320;
/// Most keys one call may name.
pub const LOGIN_FAILURE_KEYS_MAX: usize = 8;

/// The failures of one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginFailures {
    pub key: String,
    pub count: u32,
    /// When the last one happened (ms since the epoch).
    pub last: i64,
}

#[async_trait]
pub trait LoginFailureStore: Send + Sync {
    /// The failures of these keys whose last one is at or after `since`.
    async fn login_failures(&self, keys: &[String], since: i64) -> Result<Vec<LoginFailures>, StoreError>;
    /// Counts one failure at `now` for each key; a stale count (last
    /// failure before `since`) starts again at one.
    async fn add_login_failure(&self, keys: &[String], now: i64, since: i64) -> Result<(), StoreError>;
    /// Forgets these keys' failures (a successful login).
    async fn clear_login_failures(&self, keys: &[String]) -> Result<(), StoreError>;
    /// Removes every count whose last failure is before `before`; how many.
    async fn forget_login_failures(&self, before: i64) -> Result<u64, StoreError>;
}

/// The bounds every backend checks before touching its table.
pub(crate) fn check_keys(keys: &[String]) -> Result<(), StoreError> {
    if keys.len() > LOGIN_FAILURE_KEYS_MAX {
        return Err(StoreError::Invalid(format!("at most {LOGIN_FAILURE_KEYS_MAX} login failure keys at once")));
    }
    match keys.iter().find(|k| k.is_empty() || k.len() > LOGIN_FAILURE_KEY_MAX) {
        Some(key) => Err(StoreError::Invalid(format!("a login failure key of {} bytes", key.len()))),
        None => Ok(()),
    }
}
