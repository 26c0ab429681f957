//! The listeners of this process and their admission [`Figures`], for the
//! operator's scraper (`/metrics`): each listener registers its
//! [`Admission`] when it starts accepting; one that has stopped (its
//! admission dropped) leaves the list.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, Weak};

use crate::{Admission, Figures};

struct Registered {
    protocol: &'static str,
    address: SocketAddr,
    admission: Weak<Admission>,
}

static LISTENERS: Mutex<Vec<Registered>> = Mutex::new(Vec::new());

/// One listener's figures now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    /// `smtp` (the trust-space MTA), `submission`, `imap`, `http`, `https`.
    pub protocol: &'static str,
    pub address: SocketAddr,
    pub figures: Figures,
}

/// Counts `admission` as the listener of `protocol` on `address`.
pub fn register(protocol: &'static str, address: SocketAddr, admission: &Arc<Admission>) {
    let mut listeners = LISTENERS.lock().unwrap_or_else(|p| p.into_inner());
    listeners.retain(|l| l.admission.strong_count() > 0);
    listeners.push(Registered { protocol, address, admission: Arc::downgrade(admission) });
}

/// The listeners still running, in the order they started.
pub fn running() -> Vec<Listener> {
    let listeners = LISTENERS.lock().unwrap_or_else(|p| p.into_inner());
    listeners
        .iter()
        .filter_map(|l| {
            let admission = l.admission.upgrade()?;
            Some(Listener { protocol: l.protocol, address: l.address, figures: admission.figures() })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AdmissionLimits;

    const LIMITS: AdmissionLimits = AdmissionLimits {
        max_connections: 4,
        max_per_address: 4,
        max_unproven: 2,
        max_unproven_per_address: 1,
        unproven_lifetime: std::time::Duration::from_secs(60),
    };

    fn ours(address: SocketAddr) -> Option<Listener> {
        running().into_iter().find(|l| l.address == address)
    }

    #[test]
    fn a_listener_counts_what_it_admits_refuses_and_evicts_until_it_stops() {
        let address: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let admission = Admission::new(LIMITS);
        register("imap", address, &admission);
        let first = admission.admit("192.0.2.1".parse().unwrap()).unwrap();
        assert!(admission.admit("192.0.2.1".parse().unwrap()).is_err(), "one unproven per address");
        assert!(first.prove());
        let others: Vec<_> =
            (2..=4).map(|i| admission.admit(format!("192.0.2.{i}").parse().unwrap()).unwrap()).collect();
        let seen = ours(address).unwrap();
        assert_eq!(seen.protocol, "imap");
        let expected = Figures { proven: 1, unproven: 3, admitted_total: 4, refused_total: 1, evicted_total: 1 };
        assert_eq!(seen.figures, expected, "the evicted one counts until its session ends");
        drop(first);
        assert_eq!(ours(address).unwrap().figures.proven, 0);
        drop(others);
        drop(admission);
        assert_eq!(ours(address), None, "a stopped listener is no longer listed");
    }
}
