//! Counts of events the operator's scraper reads (`/metrics`), kept for
//! the life of the process: TLS handshakes that failed and why, logins
//! refused by protocol, delivery attempts by result. A family and a label
//! name each count; both are fixed words of the code, never input.

use std::collections::BTreeMap;
use std::sync::Mutex;

static COUNTS: Mutex<BTreeMap<(&'static str, &'static str), u64>> = Mutex::new(BTreeMap::new());

/// One more `family` event labelled `label`.
pub fn add(family: &'static str, label: &'static str) {
    let mut counts = COUNTS.lock().unwrap_or_else(|p| p.into_inner());
    *counts.entry((family, label)).or_default() += 1;
}

/// Every count so far: (family, label, count), by family then label.
pub fn snapshot() -> Vec<(&'static str, &'static str, u64)> {
    let counts = COUNTS.lock().unwrap_or_else(|p| p.into_inner());
    counts.iter().map(|(&(family, label), &n)| (family, label, n)).collect()
}

/// TLS handshakes that failed, by reason (`timeout`, `tls`).
pub const TLS_FAILURES: &str = "tls_handshake_failures";
/// Logins refused, by protocol (`submission`, `imap`, `api`).
pub const AUTH_FAILURES: &str = "auth_failures";
/// Outbound delivery attempts, by result (`delivered`, `deferred`, `failed`).
pub const DELIVERY_ATTEMPTS: &str = "delivery_attempts";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_up_by_family_and_label() {
        let count = |family, label| snapshot().into_iter().find(|c| c.0 == family && c.1 == label).map_or(0, |c| c.2);
        let before = count("test_family", "a");
        add("test_family", "a");
        add("test_family", "a");
        add("test_family", "b");
        assert_eq!(count("test_family", "a"), before + 2);
        assert!(count("test_family", "b") >= 1);
    }
}
