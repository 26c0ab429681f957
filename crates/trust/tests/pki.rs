//! The development PKI writes, reloads and issues certificates that chain to it.

use std::os::unix::fs::PermissionsExt;

use mss_trust::pki::{CertificateAuthority, OperatorIdentity, PkiError, subject_of_pem};

fn identity(host: &str) -> OperatorIdentity {
    OperatorIdentity {
        host: host.into(),
        organisation: "PHARMA SOFT".into(),
        unit: "12345678900012".into(),
        state: "Puy-de-Dôme (63)".into(),
    }
}

#[test]
fn a_written_ca_reloads_and_keeps_issuing_under_the_same_root() {
    let dir = tempfile::tempdir().unwrap();
    let ca = CertificateAuthority::generate("IGC-Santé TEST Racine", "MSS TEST").unwrap();
    ca.write_to(dir.path()).unwrap();
    let key_mode = std::fs::metadata(dir.path().join("ca.key")).unwrap().permissions().mode() & 0o777;
    assert_eq!(key_mode, 0o600);

    let reloaded = CertificateAuthority::load(dir.path()).unwrap();
    assert_eq!(reloaded.cert_pem(), ca.cert_pem());
    let issued = reloaded.issue_operator(&identity("mss.example.fr")).unwrap();

    // The leaf is signed by the root: verify the signature with x509-parser.
    let pems: Vec<_> =
        x509_parser::pem::Pem::iter_from_buffer(issued.chain_pem.as_bytes()).map(|p| p.unwrap()).collect();
    assert_eq!(pems.len(), 2, "leaf then CA");
    let leaf = pems[0].parse_x509().unwrap();
    let root = pems[1].parse_x509().unwrap();
    assert_eq!(root.subject().to_string(), leaf.issuer().to_string());
    leaf.verify_signature(Some(root.public_key())).unwrap();
    assert!(!leaf.is_ca());
    let eku = leaf.extended_key_usage().unwrap().unwrap().value;
    assert!(eku.server_auth && eku.client_auth, "operators use one certificate for both sides");
    let names = leaf.subject_alternative_name().unwrap().unwrap().value.general_names.clone();
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    assert_eq!(
        names,
        [
            "DNSName(mss.example.fr)",
            "DNSName(localhost)",
            "IPAddress(7f:00:00:01)",
            format!("IPAddress({}01)", "00:".repeat(15)).as_str()
        ],
        "mail clients on a laptop check the name they dial"
    );
    assert_eq!(
        subject_of_pem(&issued.chain_pem).unwrap().to_string(),
        "CN=mss.example.fr,OU=12345678900012,O=PHARMA SOFT,ST=Puy-de-Dôme (63),C=FR"
    );
}

#[test]
fn nothing_is_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let ca = CertificateAuthority::generate("IGC-Santé TEST Racine", "MSS TEST").unwrap();
    ca.write_to(dir.path()).unwrap();
    let before = std::fs::read(dir.path().join("ca.key")).unwrap();
    let other = CertificateAuthority::generate("Other", "MSS TEST").unwrap();
    assert!(matches!(other.write_to(dir.path()), Err(PkiError::Exists(_))));
    assert_eq!(std::fs::read(dir.path().join("ca.key")).unwrap(), before);

    let issued = ca.issue_operator(&identity("mss.example.fr")).unwrap();
    issued.write_to(dir.path(), "server").unwrap();
    let mode = std::fs::metadata(dir.path().join("server.key")).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(matches!(issued.write_to(dir.path(), "server"), Err(PkiError::Exists(_))));
}

#[test]
fn loading_a_directory_without_a_ca_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    assert!(CertificateAuthority::load(dir.path()).is_err());
    std::fs::write(dir.path().join("ca.pem"), "not a pem").unwrap();
    std::fs::write(dir.path().join("ca.key"), "not a key").unwrap();
    assert!(CertificateAuthority::load(dir.path()).is_err());
}
