//! CPS challenge verification: chain to the CPS CA, signature over the
//! one-time challenge, holder read from the certificate.

use std::net::{IpAddr, Ipv4Addr};

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

/// The address the card reader's requests come from.
const READER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10));

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

    let challenge = authority.challenge(NOW, READER).await.unwrap();
    let person =
        authority.verify(&challenge, std::slice::from_ref(&leaf), &sign(&pair, &challenge), NOW + 5).await.unwrap();
    assert_eq!(person.national_id.to_string(), "810003621892");
    assert_eq!((person.first_name.as_str(), person.last_name.as_str()), ("Élodie", "Dupont"));
    assert_eq!(person.finess, ["750000002"]);
    let again = authority.verify(&challenge, std::slice::from_ref(&leaf), &sign(&pair, &challenge), NOW + 6).await;
    assert_eq!(again, Err(CpsError::Challenge), "a challenge is used once");

    let late = authority.challenge(NOW, READER).await.unwrap();
    let expired = authority.verify(&late, std::slice::from_ref(&leaf), &sign(&pair, &late), NOW + 500).await;
    assert_eq!(expired, Err(CpsError::Challenge));

    let other = authority.challenge(NOW, READER).await.unwrap();
    let wrong = authority.verify(&other, std::slice::from_ref(&leaf), &sign(&pair, "something else"), NOW + 1).await;
    assert_eq!(wrong, Err(CpsError::Signature));

    let foreign_ca = CertificateAuthority::generate("Autre CA", "TEST").unwrap();
    let (foreign, foreign_pair) = card(&foreign_ca);
    let fourth = authority.challenge(NOW, READER).await.unwrap();
    let refused = authority.verify(&fourth, &[foreign], &sign(&foreign_pair, &fourth), NOW + 1).await;
    assert!(matches!(refused, Err(CpsError::Certificate(_))), "{refused:?}");
    let fifth = authority.challenge(NOW, READER).await.unwrap();
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
    let challenge = first.challenge(NOW, READER).await.unwrap();
    let person = second.verify(&challenge, std::slice::from_ref(&leaf), &sign(&pair, &challenge), NOW + 1).await;
    assert_eq!(person.unwrap().national_id.to_string(), "810003621892");
    let again = first.verify(&challenge, std::slice::from_ref(&leaf), &sign(&pair, &challenge), NOW + 2).await;
    assert_eq!(again, Err(CpsError::Challenge), "used once, whichever node");
    let huge = "x".repeat(10_000);
    assert_eq!(second.verify(&huge, &[leaf], b"x", NOW).await, Err(CpsError::Challenge));
}

/// A client asking for challenges in a loop (an IPv6 one from every
/// address of its /64) fills its own share: its oldest make room for its
/// newest, and the challenge of the reader beside it still works.
#[tokio::test]
async fn one_client_asking_for_challenges_in_a_loop_leaves_the_others_theirs() {
    let ca = CertificateAuthority::generate("IGC-Santé TEST CPS", "TEST").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let authority = CpsAuthority::new(ServerTrust::from_anchors_pem(ca.cert_pem()).unwrap(), store(dir.path()).await);
    let (leaf, pair) = card(&ca);
    let mine = authority.challenge(NOW, READER).await.unwrap();
    let per_client = mss_identity::flows::LIMITS.per_client;
    let mut flood = Vec::new();
    for n in 0..per_client + 20 {
        let address: IpAddr = format!("2001:db8:7:7::{:x}", n + 1).parse().unwrap();
        flood.push(authority.challenge(NOW, address).await.expect("a client's newest is always given"));
    }
    let proven = authority.verify(&mine, std::slice::from_ref(&leaf), &sign(&pair, &mine), NOW + 1).await;
    assert_eq!(proven.unwrap().national_id.to_string(), "810003621892", "the reader's challenge survived");
    let oldest = &flood[0];
    let gone = authority.verify(oldest, std::slice::from_ref(&leaf), &sign(&pair, oldest), NOW + 1).await;
    assert_eq!(gone, Err(CpsError::Challenge), "the flooding client's oldest made room");
    let newest = flood.last().unwrap();
    let kept = authority.verify(newest, std::slice::from_ref(&leaf), &sign(&pair, newest), NOW + 1).await;
    assert!(kept.is_ok(), "its newest works: {kept:?}");
}
