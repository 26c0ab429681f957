//! Certificate revocation lists (RFC 5280 §5) peer certificates are checked
//! against: read from PEM or DER, accepted only when signed by one of the
//! trust anchors (a forged or damaged download never replaces a good one),
//! and held in a [`Revocation`] the verifiers read at each check, so that a
//! new list applies without a restart.
//!
//! The policy, as the verifiers apply it (`crate::tls`):
//! - a certificate listed by a loaded CRL of its issuer is refused, at every
//!   level of the chain;
//! - a certificate whose issuer has no CRL loaded is accepted (no CRL
//!   configured, or none obtained yet): revocation is then not checked, and
//!   `mss serve` says so at start;
//! - a CRL past its `nextUpdate` is still used (the last valid list is
//!   kept); whoever refreshes it logs that it is stale ([`Crl::is_stale`]).

use std::sync::{Arc, RwLock};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer};
use webpki::{CertRevocationList, ExpirationPolicy, RevocationCheckDepth, RevocationOptions, UnknownStatusPolicy};
use x509_parser::prelude::FromDer;
use x509_parser::revocation_list::CertificateRevocationList;

/// Largest CRL read (an IGC-Santé CRL holds every revoked certificate of
/// its CA: megabytes, not gigabytes).
pub const MAX_CRL_BYTES: usize = 64 * 1024 * 1024;

/// Why a CRL is not used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CrlError {
    #[error("larger than {MAX_CRL_BYTES} bytes")]
    TooLarge,
    #[error("not a CRL: {0}")]
    Unreadable(String),
    #[error("issued by {0}, which is not one of the trust anchors")]
    UnknownIssuer(String),
    #[error("its signature does not verify with the key of {0}")]
    BadSignature(String),
}

/// A CRL checked and ready for the verifiers.
#[derive(Debug, Clone)]
pub struct Crl {
    list: Arc<CertRevocationList<'static>>,
    /// The issuer, as a DN string, for logs.
    pub issuer: String,
    /// `nextUpdate`, unix seconds, when given.
    pub next_update: Option<i64>,
    /// How many certificates it revokes.
    pub revoked: usize,
}

impl Crl {
    /// Reads `bytes` (PEM or DER) and checks it was signed by one of
    /// `anchors` (the trust anchors, intermediates included).
    pub fn read(bytes: &[u8], anchors: &[CertificateDer<'_>]) -> Result<Self, CrlError> {
        if bytes.len() > MAX_CRL_BYTES {
            return Err(CrlError::TooLarge);
        }
        let der = match CertificateRevocationListDer::from_pem_slice(bytes) {
            Ok(der) => der.as_ref().to_vec(),
            Err(_) => bytes.to_vec(),
        };
        let (_, parsed) = CertificateRevocationList::from_der(&der).map_err(|e| CrlError::Unreadable(e.to_string()))?;
        let issuer = parsed.issuer().to_string();
        let signer = anchors.iter().find_map(|a| {
            let (_, cert) = x509_parser::parse_x509_certificate(a.as_ref()).ok()?;
            (cert.subject().as_raw() == parsed.issuer().as_raw()).then_some(cert)
        });
        let Some(signer) = signer else { return Err(CrlError::UnknownIssuer(issuer)) };
        parsed.verify_signature(signer.public_key()).map_err(|_| CrlError::BadSignature(issuer.clone()))?;
        let next_update = parsed.next_update().map(|t| t.timestamp());
        let revoked = parsed.iter_revoked_certificates().count();
        let owned =
            webpki::OwnedCertRevocationList::from_der(&der).map_err(|e| CrlError::Unreadable(format!("{e:?}")))?;
        Ok(Self { list: Arc::new(CertRevocationList::Owned(owned)), issuer, next_update, revoked })
    }

    /// Past its `nextUpdate` at `now` (unix seconds).
    pub fn is_stale(&self, now: i64) -> bool {
        self.next_update.is_some_and(|next| next < now)
    }
}

/// The CRLs in force, replaced whole while the verifiers keep reading.
#[derive(Debug, Default)]
pub struct Revocation {
    lists: RwLock<InForce>,
}

/// The CRLs in force and how many times they were replaced: a verdict
/// judged with one generation does not hold for the next.
#[derive(Debug, Default)]
struct InForce {
    generation: u64,
    crls: Arc<Vec<Crl>>,
}

impl Revocation {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Puts `crls` in force, in place of the previous ones.
    pub fn replace(&self, crls: Vec<Crl>) {
        let mut in_force = self.lists.write().unwrap_or_else(|p| p.into_inner());
        in_force.generation += 1;
        in_force.crls = Arc::new(crls);
    }

    /// The CRLs in force now.
    pub fn current(&self) -> Arc<Vec<Crl>> {
        self.in_force().1
    }

    /// The CRLs in force now, with their generation.
    pub(crate) fn in_force(&self) -> (u64, Arc<Vec<Crl>>) {
        let in_force = self.lists.read().unwrap_or_else(|p| p.into_inner());
        (in_force.generation, in_force.crls.clone())
    }
}

/// The verifiers' options for `crls` (see the module's policy); None
/// without any.
pub(crate) fn options<'a>(crls: &'a [&'a CertRevocationList<'a>]) -> Option<RevocationOptions<'a>> {
    let builder = webpki::RevocationOptionsBuilder::new(crls).ok()?;
    Some(
        builder
            .with_depth(RevocationCheckDepth::Chain)
            .with_status_policy(UnknownStatusPolicy::Allow)
            .with_expiration_policy(ExpirationPolicy::Ignore)
            .build(),
    )
}

/// The lists of `crls`, as [`options`] borrows them.
pub(crate) fn lists(crls: &[Crl]) -> Vec<&CertRevocationList<'static>> {
    crls.iter().map(|c| c.list.as_ref()).collect()
}

#[cfg(test)]
mod tests {
    use rcgen::{CertificateRevocationListParams, Issuer, KeyIdMethod, KeyPair, RevokedCertParams, SerialNumber};
    use time::{Duration, OffsetDateTime};

    use super::*;
    use crate::pki::{CertificateAuthority, IssuedCertificate, OperatorIdentity};
    use crate::tls::{PeerCertificate, TlsMaterial};

    fn operator(ca: &CertificateAuthority, host: &str) -> IssuedCertificate {
        let who = OperatorIdentity {
            host: host.into(),
            organisation: "TEST".into(),
            unit: "00000000000000".into(),
            state: "Paris (75)".into(),
        };
        ca.issue_operator(&who).unwrap()
    }

    fn ders(pem: &str) -> Vec<CertificateDer<'static>> {
        CertificateDer::pem_slice_iter(pem.as_bytes()).collect::<Result<_, _>>().unwrap()
    }

    /// A CRL of `ca` revoking `revoked`, its next update `days` from now.
    fn crl(ca: &CertificateAuthority, revoked: &[&IssuedCertificate], days: i64) -> String {
        let issuer = Issuer::from_ca_cert_pem(ca.cert_pem(), KeyPair::from_pem(ca.key_pem()).unwrap()).unwrap();
        let now = OffsetDateTime::now_utc();
        let revoked_certs = revoked
            .iter()
            .map(|cert| {
                let leaf = &ders(&cert.chain_pem)[0];
                let (_, parsed) = x509_parser::parse_x509_certificate(leaf.as_ref()).unwrap();
                RevokedCertParams {
                    serial_number: SerialNumber::from_slice(parsed.raw_serial()),
                    revocation_time: now - Duration::hours(1),
                    reason_code: None,
                    invalidity_date: None,
                }
            })
            .collect();
        let params = CertificateRevocationListParams {
            this_update: now - Duration::days(2),
            next_update: now + Duration::days(days),
            crl_number: SerialNumber::from(1u64),
            issuing_distribution_point: None,
            revoked_certs,
            key_identifier_method: KeyIdMethod::Sha256,
        };
        params.signed_by(&issuer).unwrap().pem().unwrap()
    }

    #[test]
    fn a_revoked_certificate_is_refused_and_the_others_still_trusted() {
        let ca = CertificateAuthority::generate("IGC-Santé TEST Racine", "TEST").unwrap();
        let (revoked, kept) = (operator(&ca, "revoked.test"), operator(&ca, "kept.test"));
        let ours = operator(&ca, "ours.test");
        let material = TlsMaterial::from_pem(&ours.chain_pem, &ours.key_pem, ca.cert_pem()).unwrap();
        let (_, trust) = material.server().unwrap();
        let judged = |cert: &IssuedCertificate| trust.judge(Some(&ders(&cert.chain_pem)));
        assert!(matches!(judged(&revoked), PeerCertificate::Trusted { .. }), "no CRL: not checked");

        let pem = crl(&ca, &[&revoked], 7);
        let read = Crl::read(pem.as_bytes(), &material.anchor_certs).unwrap();
        assert_eq!(read.revoked, 1);
        assert!(!read.is_stale(now()));
        // The verdict remembered before the CRL came does not hold after it.
        material.revocation.replace(vec![read]);
        let refused = judged(&revoked);
        assert_eq!(refused, PeerCertificate::Untrusted { reason: "invalid peer certificate: revoked (CRL)".into() });
        assert!(matches!(judged(&kept), PeerCertificate::Trusted { .. }));

        // Past its nextUpdate: still in force, said stale.
        let stale = Crl::read(crl(&ca, &[&revoked], -1).as_bytes(), &material.anchor_certs).unwrap();
        assert!(stale.is_stale(now()));
        material.revocation.replace(vec![stale]);
        assert!(matches!(judged(&revoked), PeerCertificate::Untrusted { .. }));
        material.revocation.replace(vec![]);
        assert!(matches!(judged(&revoked), PeerCertificate::Trusted { .. }));
    }

    #[test]
    fn a_crl_from_elsewhere_or_damaged_is_not_used() {
        let ca = CertificateAuthority::generate("IGC-Santé TEST Racine", "TEST").unwrap();
        let other = CertificateAuthority::generate("Autre", "AUTRE").unwrap();
        let anchors = ders(ca.cert_pem());
        let foreign = crl(&other, &[], 7);
        assert!(matches!(Crl::read(foreign.as_bytes(), &anchors), Err(CrlError::UnknownIssuer(_))));
        // The same issuer name with another key: the signature does not verify.
        let impostor = CertificateAuthority::generate("IGC-Santé TEST Racine", "TEST").unwrap();
        let forged = crl(&impostor, &[], 7);
        assert!(matches!(Crl::read(forged.as_bytes(), &anchors), Err(CrlError::BadSignature(_))));
        let good = crl(&ca, &[], 7);
        let der = CertificateRevocationListDer::from_pem_slice(good.as_bytes()).unwrap();
        assert!(Crl::read(der.as_ref(), &anchors).is_ok(), "DER as well as PEM");
        let mut damaged = der.as_ref().to_vec();
        let last = damaged.len() - 1;
        damaged[last] ^= 1;
        assert!(Crl::read(&damaged, &anchors).is_err());
        assert!(matches!(Crl::read(b"not a CRL", &anchors), Err(CrlError::Unreadable(_))));
    }

    fn now() -> i64 {
        OffsetDateTime::now_utc().unix_timestamp()
    }
}
