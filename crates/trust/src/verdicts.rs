//! Chains judged trusted lately, remembered so that the same chain presented
//! again is not verified again. A peer operator reconnects for each message
//! or batch, most often resuming its TLS session, and presents the same
//! chain each time: its signature checks (P-256 here) were a resumed
//! connection's largest piece of work after the key exchange.
//!
//! Only a trusted verdict is remembered, with the subject it gives, keyed by
//! the SHA-256 of the chain as presented (every certificate, in order). It
//! holds while the CRLs in force are the ones it was judged with, for at
//! most [`REMEMBERED_FOR`], and never past the expiry of a certificate of the
//! chain. An untrusted chain is judged each time it comes.

use std::collections::HashMap;
use std::sync::Mutex;

use rustls_pki_types::CertificateDer;
use sha2::{Digest, Sha256};

use crate::dn::DistinguishedName;

/// How long a verdict is believed without a new check, in seconds.
pub(crate) const REMEMBERED_FOR: u64 = 60;

/// The most chains remembered (a few hundred bytes each).
const MAX_REMEMBERED: usize = 4096;

/// The identity of a chain as presented.
pub(crate) type ChainKey = [u8; 32];

/// Trusted verdicts by chain.
#[derive(Debug, Default)]
pub(crate) struct TrustedChains {
    entries: Mutex<HashMap<ChainKey, Remembered>>,
}

#[derive(Debug)]
struct Remembered {
    /// The generation of the CRLs it was judged with.
    crls: u64,
    /// Unix seconds after which it is judged again.
    until: u64,
    subject: DistinguishedName,
}

impl Remembered {
    fn holds(&self, crls: u64, now: u64) -> bool {
        self.crls == crls && now < self.until
    }
}

/// The key of `chain`: each certificate's length, then its bytes, so that
/// no two chains share one.
pub(crate) fn key(chain: &[CertificateDer<'_>]) -> ChainKey {
    let mut hash = Sha256::new();
    for cert in chain {
        hash.update((cert.len() as u64).to_be_bytes());
        hash.update(cert.as_ref());
    }
    hash.finalize().into()
}

impl TrustedChains {
    /// The subject of `chain` if it was found trusted with the CRLs of
    /// generation `crls` and the verdict still holds at `now`.
    pub(crate) fn get(&self, chain: &ChainKey, crls: u64, now: u64) -> Option<DistinguishedName> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.get(chain).filter(|r| r.holds(crls, now)).map(|r| r.subject.clone())
    }

    /// Remembers that `chain` was found trusted at `now` with the CRLs of
    /// generation `crls`; `expires` is the earliest end of validity of its
    /// certificates (Unix seconds).
    pub(crate) fn remember(&self, chain: ChainKey, crls: u64, now: u64, expires: u64, subject: DistinguishedName) {
        let until = expires.min(now.saturating_add(REMEMBERED_FOR));
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= MAX_REMEMBERED && !entries.contains_key(&chain) {
            entries.retain(|_, r| r.holds(crls, now));
            if entries.len() >= MAX_REMEMBERED {
                entries.clear();
            }
        }
        entries.insert(chain, Remembered { crls, until, subject });
    }
}

#[cfg(test)]
mod tests {
    use rustls_pki_types::CertificateDer;

    use super::{MAX_REMEMBERED, REMEMBERED_FOR, TrustedChains, key};

    fn subject(n: usize) -> crate::DistinguishedName {
        format!("CN=op{n}.test,O=Test,C=FR").parse().unwrap()
    }

    #[test]
    fn a_verdict_holds_for_its_crls_for_a_minute_and_never_past_expiry() {
        let chains = TrustedChains::default();
        let chain = key(&[CertificateDer::from(vec![1, 2, 3])]);
        chains.remember(chain, 7, 1_000, u64::MAX, subject(1));
        assert_eq!(chains.get(&chain, 7, 1_000), Some(subject(1)));
        assert_eq!(chains.get(&chain, 7, 1_000 + REMEMBERED_FOR - 1), Some(subject(1)));
        assert_eq!(chains.get(&chain, 7, 1_000 + REMEMBERED_FOR), None, "judged again after a minute");
        assert_eq!(chains.get(&chain, 8, 1_000), None, "judged again with other CRLs");

        chains.remember(chain, 7, 1_000, 1_010, subject(1));
        assert_eq!(chains.get(&chain, 7, 1_009), Some(subject(1)));
        assert_eq!(chains.get(&chain, 7, 1_010), None, "never past a certificate's expiry");
    }

    #[test]
    fn chains_differ_by_any_certificate_or_where_one_ends() {
        let one = key(&[CertificateDer::from(vec![1, 2]), CertificateDer::from(vec![3])]);
        let moved = key(&[CertificateDer::from(vec![1]), CertificateDer::from(vec![2, 3])]);
        let leaf_only = key(&[CertificateDer::from(vec![1, 2])]);
        assert_ne!(one, moved);
        assert_ne!(one, leaf_only);
        let chains = TrustedChains::default();
        chains.remember(one, 1, 0, u64::MAX, subject(1));
        assert_eq!(chains.get(&moved, 1, 0), None);
        assert_eq!(chains.get(&leaf_only, 1, 0), None);
    }

    #[test]
    fn the_memory_stays_bounded() {
        let chains = TrustedChains::default();
        for n in 0..MAX_REMEMBERED + 10 {
            chains.remember(key(&[CertificateDer::from(n.to_be_bytes().to_vec())]), 1, 0, u64::MAX, subject(n));
            assert!(chains.entries.lock().unwrap().len() <= MAX_REMEMBERED);
        }
        let last = key(&[CertificateDer::from((MAX_REMEMBERED + 9).to_be_bytes().to_vec())]);
        assert_eq!(chains.get(&last, 1, 0), Some(subject(MAX_REMEMBERED + 9)));
    }
}
