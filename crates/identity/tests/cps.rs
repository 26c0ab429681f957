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

#[test]
fn a_signed_challenge_proves_the_card_holder_once() {
    let ca = CertificateAuthority::generate("IGC-Santé TEST CPS", "TEST").unwrap();
    let authority = CpsAuthority::new(ServerTrust::from_anchors_pem(ca.cert_pem()).unwrap());
    let (leaf, pair) = card(&ca);

    let challenge = authority.challenge(NOW).unwrap();
    let person = authority.verify(&challenge, std::slice::from_ref(&leaf), &sign(&pair, &challenge), NOW + 5).unwrap();
    assert_eq!(person.national_id.to_string(), "810003621892");
    assert_eq!((person.first_name.as_str(), person.last_name.as_str()), ("Élodie", "Dupont"));
    assert_eq!(person.finess, ["750000002"]);
    let again = authority.verify(&challenge, std::slice::from_ref(&leaf), &sign(&pair, &challenge), NOW + 6);
    assert_eq!(again, Err(CpsError::Challenge), "a challenge is used once");

    let late = authority.challenge(NOW).unwrap();
    let expired = authority.verify(&late, std::slice::from_ref(&leaf), &sign(&pair, &late), NOW + 500);
    assert_eq!(expired, Err(CpsError::Challenge));

    let other = authority.challenge(NOW).unwrap();
    let wrong = authority.verify(&other, std::slice::from_ref(&leaf), &sign(&pair, "something else"), NOW + 1);
    assert_eq!(wrong, Err(CpsError::Signature));

    let foreign_ca = CertificateAuthority::generate("Autre CA", "TEST").unwrap();
    let (foreign, foreign_pair) = card(&foreign_ca);
    let fourth = authority.challenge(NOW).unwrap();
    let refused = authority.verify(&fourth, &[foreign], &sign(&foreign_pair, &fourth), NOW + 1);
    assert!(matches!(refused, Err(CpsError::Certificate(_))), "{refused:?}");
    let fifth = authority.challenge(NOW).unwrap();
    assert!(matches!(authority.verify(&fifth, &[b"garbage".to_vec()], b"x", NOW), Err(CpsError::Certificate(_))));
}
