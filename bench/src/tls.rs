//! One development CA for the whole run: mss's certificate, the peer's
//! (Postfix and Dovecot) and the load generator's (a trust-space operator
//! that mss lists), so that both sides do the same TLS work.

use std::path::PathBuf;
use std::sync::Arc;

use mss_trust::TlsMaterial;
use mss_trust::pki::{CertificateAuthority, IssuedCertificate, OperatorIdentity};

pub struct Pki {
    pub dir: tempfile::TempDir,
    pub ca: CertificateAuthority,
    /// Where `mss init --ca` finds it.
    pub ca_dir: PathBuf,
    pub load_generator: IssuedCertificate,
}

/// The TLS suite both sides chose for `protocol`, asserted to be the same:
/// figures with a handshake per message compare only then (each side
/// chooses in its own order, `peer_side::SUITES`). Printed for the record.
pub fn same_suite(protocol: &str, ours: rustls::CipherSuite, theirs: rustls::CipherSuite) {
    assert_eq!(ours, theirs, "mss and the peer chose different TLS suites for {protocol}");
    println!("{protocol}: both sides chose {ours:?}");
}

pub fn identity(host: &str) -> OperatorIdentity {
    OperatorIdentity {
        host: host.into(),
        organisation: format!("BENCH {host}"),
        unit: "12345678900012".into(),
        state: "Paris (75)".into(),
    }
}

impl Pki {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let ca = CertificateAuthority::generate("IGC-Santé TEST Bench", "BENCH").expect("CA");
        let ca_dir = dir.path().join("ca");
        ca.write_to(&ca_dir).expect("CA files");
        let load_generator = ca.issue_operator(&identity("loadgen.peer.test")).expect("certificate");
        Self { dir, ca, ca_dir, load_generator }
    }

    /// The load generator's client configuration: presents its operator
    /// certificate, accepts servers chaining to the CA (no host name).
    pub fn client(&self) -> Arc<rustls::ClientConfig> {
        let material =
            TlsMaterial::from_pem(&self.load_generator.chain_pem, &self.load_generator.key_pem, self.ca.cert_pem())
                .expect("TLS material");
        material.trust_space_client().expect("client configuration")
    }

    /// The CA certificate, PEM, for servers that verify client certificates.
    pub fn ca_file(&self) -> PathBuf {
        self.ca_dir.join(mss_trust::pki::CA_CERT_FILE)
    }

    /// A server certificate for `host`, written as PEM files; returns (chain, key).
    pub fn server_files(&self, host: &str) -> (PathBuf, PathBuf) {
        let issued = self.ca.issue_operator(&identity(host)).expect("certificate");
        issued.write_to(&self.dir.path().join(host), "server").expect("certificate files")
    }
}
