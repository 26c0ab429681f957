//! Slowing down password guessing: each failed login from a client address
//! (its group: an IPv6 host owns its /64, see [`crate::flows::client_group`])
//! or against an account makes that client or account wait longer before
//! its next attempt is answered (nothing for the first two, then 1 s, 2 s,
//! 4 s... up to a minute), and a success forgives the keys it names.
//!
//! The counts live in the store ([`LoginFailureStore`]), so every node of
//! an operator sees the same ones: a guesser gains nothing by spreading
//! attempts over the nodes behind one name, nor by waiting for a restart.
//! A count left alone for [`FORGIVEN_AFTER`] starts again. If the store
//! cannot be read, nobody waits (the login itself then fails on the same
//! store); this is logged.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use mss_store::{LOGIN_FAILURE_KEY_MAX, LoginFailureStore};

use crate::flows::client_group;
use crate::login::{LoginError, Principal};

/// Failures forgiven before any wait.
const FREE_FAILURES: u32 = 2;
const MAX_DELAY: Duration = Duration::from_secs(60);
/// A key whose last failure is older than this starts again from nothing.
pub const FORGIVEN_AFTER: Duration = Duration::from_secs(15 * 60);
/// Every this many failures recorded, this node removes forgiven counts.
const SWEEP_EVERY: u32 = 256;

pub struct Throttle {
    store: Arc<dyn LoginFailureStore>,
    recorded: AtomicU32,
}

/// What the store said about some keys before a login was judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Standing {
    /// How long the answer must still wait.
    wait: Duration,
    /// Whether any key had failures (a success then clears them).
    failed_before: bool,
}

/// How long a key with `count` failures, the last at `last`, makes a login
/// wait at `now` (all in ms since the epoch).
fn delay(count: u32, last: i64, now: i64) -> Duration {
    if count <= FREE_FAILURES {
        return Duration::ZERO;
    }
    let full = Duration::from_secs(1 << (count - FREE_FAILURES - 1).min(6)).min(MAX_DELAY);
    let elapsed = Duration::from_millis(now.saturating_sub(last).max(0) as u64);
    full.saturating_sub(elapsed)
}

/// The keys as stored: each once, none longer than the store keeps (a
/// longer one, an absurd account name, is cut at a character boundary).
fn stored_keys(keys: &[&str]) -> Vec<String> {
    let mut stored: Vec<String> = keys
        .iter()
        .filter(|k| !k.is_empty())
        .map(|key| {
            let mut end = key.len().min(LOGIN_FAILURE_KEY_MAX);
            while !key.is_char_boundary(end) {
                end -= 1;
            }
            key[..end].to_string()
        })
        .collect();
    stored.sort();
    stored.dedup();
    stored
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

fn forgiven_before(now: i64) -> i64 {
    now - FORGIVEN_AFTER.as_millis() as i64
}

impl Throttle {
    pub fn new(store: Arc<dyn LoginFailureStore>) -> Self {
        Self { store, recorded: AtomicU32::new(0) }
    }

    /// Waits as long as this client address and the account it claims
    /// (any case) must, then counts the login's outcome: a refused
    /// credential is a failure of both, a success forgives both, an
    /// unavailable store or a pending mailbox counts for nothing. Callers
    /// answer after this returns: a guesser learns nothing sooner.
    pub async fn pace(&self, client: std::net::IpAddr, claimed: Option<&str>, login: &Result<Principal, LoginError>) {
        let client_key = format!("ip:{}", client_group(client));
        let account_key = claimed.map(|user| format!("user:{}", user.to_lowercase()));
        let keys: Vec<&str> = std::iter::once(client_key.as_str()).chain(account_key.as_deref()).collect();
        let standing = self.standing(&keys).await;
        if !standing.wait.is_zero() {
            tokio::time::sleep(standing.wait).await;
        }
        match login {
            Ok(_) => self.succeeded(&keys, &standing).await,
            Err(LoginError::Invalid(_)) => self.failed(&keys).await,
            Err(LoginError::Pending | LoginError::Unavailable(_)) => {}
        }
    }

    /// How long a login naming these keys (e.g. "ip:127.0.0.1",
    /// "user:a@b") must wait before it is answered.
    async fn standing(&self, keys: &[&str]) -> Standing {
        let now = now_ms();
        match self.store.login_failures(&stored_keys(keys), forgiven_before(now)).await {
            Ok(found) => Standing {
                wait: found.iter().map(|f| delay(f.count, f.last, now)).max().unwrap_or_default(),
                failed_before: !found.is_empty(),
            },
            Err(e) => {
                tracing::warn!(error = %e, "login throttle: cannot read the failures");
                Standing { wait: Duration::ZERO, failed_before: false }
            }
        }
    }

    /// Records a failure for each key.
    async fn failed(&self, keys: &[&str]) {
        let now = now_ms();
        if let Err(e) = self.store.add_login_failure(&stored_keys(keys), now, forgiven_before(now)).await {
            tracing::warn!(error = %e, "login throttle: cannot record a failure");
        }
        if self.recorded.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            match self.store.forget_login_failures(forgiven_before(now)).await {
                Ok(removed) => tracing::debug!(removed, "login throttle: forgiven counts removed"),
                Err(e) => tracing::warn!(error = %e, "login throttle: cannot remove forgiven counts"),
            }
        }
    }

    /// Forgets the failures of these keys after a successful login (a
    /// write only when `standing` found some).
    async fn succeeded(&self, keys: &[&str], standing: &Standing) {
        if !standing.failed_before {
            return;
        }
        if let Err(e) = self.store.clear_login_failures(&stored_keys(keys)).await {
            tracing::warn!(error = %e, "login throttle: cannot clear the failures");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn store(dir: &std::path::Path) -> Arc<dyn LoginFailureStore> {
        let store = mss_store::Store::open(&mss_store::StoreConfig::Embedded { dir: dir.to_path_buf() }).await.unwrap();
        store.meta
    }

    #[test]
    fn the_wait_doubles_after_two_free_failures_caps_and_runs_out() {
        assert_eq!(delay(2, 0, 0), Duration::ZERO);
        assert_eq!(delay(3, 0, 0), Duration::from_secs(1));
        assert_eq!(delay(5, 0, 0), Duration::from_secs(4));
        assert_eq!(delay(40, 0, 0), MAX_DELAY);
        assert_eq!(delay(5, 0, 1_500), Duration::from_millis(2_500), "time already waited counts");
        assert_eq!(delay(5, 0, 60_000), Duration::ZERO);
        assert_eq!(delay(5, 1_000, 0), Duration::from_secs(4), "a clock behind never shortens the wait");
    }

    #[test]
    fn keys_are_stored_once_and_cut_to_what_the_store_keeps() {
        let long = format!("user:{}", "é".repeat(400));
        let stored = stored_keys(&["ip:a", "ip:a", "", &long]);
        assert_eq!(stored.len(), 2);
        assert!(stored.iter().all(|k| k.len() <= LOGIN_FAILURE_KEY_MAX));
        assert!(stored[1].starts_with("user:é"));
    }

    #[tokio::test]
    async fn repeated_failures_make_a_client_wait_and_success_forgives() {
        let dir = tempfile::tempdir().unwrap();
        let throttle = Throttle::new(store(dir.path()).await);
        throttle.failed(&["ip:a", "user:x"]).await;
        throttle.failed(&["ip:a", "user:x"]).await;
        assert_eq!(throttle.standing(&["ip:a"]).await.wait, Duration::ZERO, "two free failures");
        throttle.failed(&["ip:a", "user:x"]).await;
        assert!(throttle.standing(&["ip:a"]).await.wait > Duration::from_millis(500));
        assert!(
            throttle.standing(&["ip:b", "user:x"]).await.wait > Duration::from_millis(500),
            "the account waits too"
        );
        let other = throttle.standing(&["ip:b", "user:y"]).await;
        assert_eq!(other.wait, Duration::ZERO, "others do not");
        for _ in 0..20 {
            throttle.failed(&["ip:a"]).await;
        }
        assert!(throttle.standing(&["ip:a"]).await.wait <= MAX_DELAY);
        let standing = throttle.standing(&["user:x"]).await;
        throttle.succeeded(&["user:x"], &standing).await;
        assert_eq!(throttle.standing(&["user:x"]).await, other);
    }

    #[tokio::test]
    async fn an_ipv6_guesser_changing_address_within_its_64_is_one_client() {
        let dir = tempfile::tempdir().unwrap();
        let throttle = Throttle::new(store(dir.path()).await);
        let refused = Err(LoginError::Invalid("wrong password".into()));
        for n in 1..=3u16 {
            let address = std::net::Ipv6Addr::new(0x2001, 0xdb8, 1, 2, 0, 0, 0, n);
            throttle.pace(address.into(), Some(&format!("guess{n}@pharmacie.test")), &refused).await;
        }
        assert!(throttle.standing(&["ip:2001:db8:1:2::/64"]).await.wait > Duration::from_millis(500));
        let neighbour = throttle.standing(&["ip:2001:db8:1:3::/64"]).await;
        assert_eq!(neighbour.wait, Duration::ZERO, "another /64 is another client");
    }

    #[tokio::test]
    async fn two_throttles_on_one_store_count_together() {
        let dir = tempfile::tempdir().unwrap();
        let shared = store(dir.path()).await;
        let (first, second) = (Throttle::new(shared.clone()), Throttle::new(shared));
        first.failed(&["user:x"]).await;
        second.failed(&["user:x"]).await;
        first.failed(&["user:x"]).await;
        assert!(second.standing(&["user:x"]).await.wait > Duration::from_millis(500));
    }
}
