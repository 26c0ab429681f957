//! Slowing down password guessing: each failed login from a client address
//! or against an account doubles the wait before that client or account may
//! try again (1 s, 2 s, 4 s... capped), and a success clears the account's
//! count. Kept in memory: a restart forgives, which only costs an attacker's
//! guesses their waiting time again.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures forgiven before any wait.
const FREE_FAILURES: u32 = 2;
const MAX_DELAY: Duration = Duration::from_secs(60);
/// Entries kept; the oldest are dropped beyond this.
const MAX_ENTRIES: usize = 100_000;

#[derive(Default)]
pub struct Throttle {
    entries: Mutex<HashMap<String, Entry>>,
}

#[derive(Clone, Copy)]
struct Entry {
    failures: u32,
    until: Instant,
}

impl Throttle {
    pub fn new() -> Self {
        Self::default()
    }

    /// How long these keys (e.g. "ip:127.0.0.1", "user:a@b") must still wait.
    pub fn wait(&self, keys: &[&str]) -> Duration {
        let now = Instant::now();
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        keys.iter()
            .filter_map(|k| entries.get(*k))
            .map(|e| e.until.saturating_duration_since(now))
            .max()
            .unwrap_or_default()
    }

    /// Records a failure for each key.
    pub fn failed(&self, keys: &[&str]) {
        let now = Instant::now();
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, e| e.until > now);
        }
        for key in keys {
            let entry = entries.entry(key.to_string()).or_insert(Entry { failures: 0, until: now });
            entry.failures = entry.failures.saturating_add(1);
            let exponent = entry.failures.saturating_sub(FREE_FAILURES).min(16);
            let delay =
                if entry.failures > FREE_FAILURES { Duration::from_secs(1 << exponent.min(6)) } else { Duration::ZERO };
            entry.until = now + delay.min(MAX_DELAY);
        }
    }

    /// Forgets the failures of these keys.
    pub fn succeeded(&self, keys: &[&str]) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        for key in keys {
            entries.remove(*key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_failures_make_a_client_wait_and_success_forgives() {
        let throttle = Throttle::new();
        throttle.failed(&["ip:a", "user:x"]);
        throttle.failed(&["ip:a", "user:x"]);
        assert_eq!(throttle.wait(&["ip:a"]), Duration::ZERO, "two free failures");
        throttle.failed(&["ip:a", "user:x"]);
        assert!(throttle.wait(&["ip:a"]) > Duration::from_millis(500));
        assert!(throttle.wait(&["ip:b", "user:x"]) > Duration::from_millis(500), "the account waits too");
        assert_eq!(throttle.wait(&["ip:b", "user:y"]), Duration::ZERO, "others do not");
        for _ in 0..20 {
            throttle.failed(&["ip:a"]);
        }
        assert!(throttle.wait(&["ip:a"]) <= MAX_DELAY);
        throttle.succeeded(&["user:x"]);
        assert_eq!(throttle.wait(&["user:x"]), Duration::ZERO);
    }
}
