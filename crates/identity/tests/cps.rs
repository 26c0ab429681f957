//! CPS challenge verification: chain to the CPS CA, signature over the
//! one-time challenge, holder read from the certificate.

use mss_identity::cps::{CpsAuthority, CpsError};
use mss_trust::{CertificateAuthority, CpsHolder, ServerTrust};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

const NOW: i64 = 1_790_000_000;

fn card(ca: &CertificateAuthority) -> (Vec<u8>, EcdsaKeyPair) {
    let holder = CpsHolder {
        national_id: "810003621892".into(),
        first_name: "Élodie".into(),
        last_name: "Dupont".into(),
        finess: Some("750000002".into()),
    };
    let issued = ca.issue_cps(&holder).unwrap();
    let leaf = CertificateDer::pem_slice_iter(issued.chain_pem.as_bytes()).next().unwrap().unwrap().to_vec();
    let PrivateKeyDer::Pkcs8(key) = PrivateKeyDer::from_pem_slice(issued.key_pem.as_bytes()).unwrap() else { panic!() };
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, key.secret_pkcs8_der(), &SystemRandom::new())
        .unwrap();
    (leaf, pair)
}

fn sign(pair: &EcdsaKeyPair, challenge: &str) -> Vec<u8> {
    pair.sign(&SystemRandom::new(), challenge.as_bytes()).unwrap().as_ref().to_vec()
}

/// An embedded store of its own, where challenges wait.
async fn store(dir: &std::path::Path) -> std::sync::Arc<dyn mss_store::LoginFlowStore> {
    let config = mss_store::StoreConfig::Embedded { dir: dir.to_path_buf() };
    mss_store::Store::open(&config).await.unwrap().meta
}

#[tokio::test]
async fn a_signed_challenge_proves_the_card_holder_once() {
    let ca = CertificateAuthority::generate("IGC-Santé TEST CPS", "TEST").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let authority = CpsAuthority::new(ServerTrust::from_anchors_pem(ca.cert_pem()).unwrap(), store(dir.path()).await);
    let (leaf, pair) = card(&ca);

    let challenge = authority.challenge(NOW).await.unwrap();
    let person =
        authority.verify(&challenge, std::slice::from_ref(&leaf), &sign(&pair, &challenge), NOW + 5).await.unwrap();
    assert_eq!(person.national_id.to_string(), "810003621892");
    assert_eq!((person.first_name.as_str(), person.last_name.as_str()), ("Élodie", "Dupont"));
    assert_eq!(person.finess, ["750000002"]);
    let again = authority.verify(&challenge, std::slice::from_ref(&leaf), &sign(&pair, &challenge), NOW + 6).await;
    assert_eq!(again, Err(CpsError::Challenge), "a challenge is used once");

    let late = authority.challenge(NOW).await.unwrap();
    let expired = authority.verify(&late, std::slice::from_ref(&leaf), &sign(&pair, &late), NOW + 500).await;
    assert_eq!(expired, Err(CpsError::Challenge));

    let other = authority.challenge(NOW).await.unwrap();
    let wrong = authority.verify(&other, std::slice::from_ref(&leaf), &sign(&pair, "something else"), NOW + 1).await;
    assert_eq!(wrong, Err(CpsError::Signature));

    let foreign_ca = CertificateAuthority::generate("Autre CA", "TEST").unwrap();
    let (foreign, foreign_pair) = card(&foreign_ca);
    let fourth = authority.challenge(NOW).await.unwrap();
    let refused = authority.verify(&fourth, &[foreign], &sign(&foreign_pair, &fourth), NOW + 1).await;
    assert!(matches!(refused, Err(CpsError::Certificate(_))), "{refused:?}");
    let fifth = authority.challenge(NOW).await.unwrap();
    assert!(matches!(authority.verify(&fifth, &[b"garbage".to_vec()], b"x", NOW).await, Err(CpsError::Certificate(_))));
}

/// A challenge given by one node is answered on another: both keep their
/// challenges in the store they share.
#[tokio::test]
async fn a_challenge_given_by_one_node_is_answered_on_another() {
    let ca = CertificateAuthority::generate("IGC-Santé TEST CPS", "TEST").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let shared = store(dir.path()).await;
    let node = || CpsAuthority::new(ServerTrust::from_anchors_pem(ca.cert_pem()).unwrap(), shared.clone());
    let (first, second) = (node(), node());
    let (leaf, pair) = card(&ca);
    let challenge = first.challenge(NOW).await.unwrap();
    let person = second.verify(&challenge, std::slice::from_ref(&leaf), &sign(&pair, &challenge), NOW + 1).await;
    assert_eq!(person.unwrap().national_id.to_string(), "810003621892");
    let again = first.verify(&challenge, std::slice::from_ref(&leaf), &sign(&pair, &challenge), NOW + 2).await;
    assert_eq!(again, Err(CpsError::Challenge), "used once, whichever node");
    let huge = "x".repeat(10_000);
    assert_eq!(second.verify(&huge, &[leaf], b"x", NOW).await, Err(CpsError::Challenge));
}
