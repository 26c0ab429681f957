//! The MSSanté trust space, as data: who may exchange mail with us and how we
//! recognise them.
//!
//! - [`liste_blanche`]: the ANS list of allowed domains and, for each, the subject
//!   DN of the operator certificate(s) that may speak for it.
//! - [`dn`]: distinguished names written as in the ANS file (`CN=...,OU=...,C=FR`)
//!   and read from certificates, compared the X.500 way.
//! - [`pki`]: the development PKI (an "IGC-Santé TEST" root and operator
//!   certificates), made with rcgen.
//! - [`tls`]: rustls configurations for mutual TLS and the verdict on a
//!   peer's certificate chain, revocation included ([`revocation`]: CRLs).
//!
//! Rules this crate keeps (breaking one lets a stranger into the trust space):
//! - a liste blanche that does not parse, or whose checksum does not match, is an
//!   error and never a partial list: callers keep their last good copy;
//! - a domain may be served by several operator certificates (several entries
//!   with the same `Nom`); a DN matches a domain only if one of them equals it;
//! - DN comparison is attribute by attribute in order, case- and
//!   space-insensitive on values (X.520 caseIgnoreMatch), never a substring test;
//! - private keys are written with mode 0600 and never overwritten.
//!
//! - a client certificate is judged against the trust anchors before its DN is
//!   compared with the liste blanche, and the handshake always proves the peer
//!   holds the certificate's key.
//!
//! No network I/O here: downloading the list and TLS sessions live elsewhere.

pub mod dn;
pub mod liste_blanche;
pub mod pki;
pub mod revocation;
pub mod tls;
mod verdicts;

pub use dn::{DistinguishedName, DnError};
pub use liste_blanche::{Entry, ListeBlanche, ListeBlancheError};
pub use pki::{CertificateAuthority, CpsHolder, IssuedCertificate, OperatorIdentity, PkiError};
pub use revocation::{Crl, CrlError, Revocation};
pub use tls::{PeerCertificate, ServerTrust, TlsError, TlsMaterial};
