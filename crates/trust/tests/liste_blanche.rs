//! The liste blanche against the real ANS file and against broken copies of it.

use std::path::PathBuf;

use mss_trust::DistinguishedName;
use mss_trust::liste_blanche::{ListeBlanche, ListeBlancheError, sha256_hex, verify_checksum};
use mss_trust::pki::{CertificateAuthority, OperatorIdentity, subject_of_pem};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/liste-blanche").join(name)
}

fn real_xml() -> Vec<u8> {
    std::fs::read(fixture("listeblanchemssante.xml")).unwrap()
}

fn real_checksum() -> String {
    std::fs::read_to_string(fixture("checksum")).unwrap()
}

#[test]
fn the_real_ans_file_parses_with_its_checksum() {
    let list = ListeBlanche::parse_verified(&real_xml(), &real_checksum()).unwrap();
    assert_eq!(list.generated_at(), "2025-03-13T14:54:10Z");
    assert_eq!(list.entries().len(), 619);
    // 80 domain names appear in more than one entry (several operator certificates).
    let distinct: std::collections::HashSet<_> = list.entries().iter().map(|e| e.domain.as_str()).collect();
    assert_eq!(list.domain_count(), distinct.len());
    assert!(list.domain_count() < 619);

    let first = &list.entries()[0];
    assert_eq!(first.domain.as_str(), "nddtestasmae.mssante.fr");
    assert_eq!(first.description, "BREST LA SAUVEGARDE");
    assert_eq!(first.updated_at, "2025-03-14T15:34:10Z");
    assert_eq!(
        first.operator_dn.to_string(),
        "CN=medimail-asip.mipih.fr,OU=318310021300028,O=GIP MIPIH,ST=Haute-Garonne (31),C=FR"
    );
}

#[test]
fn entities_in_the_real_file_are_decoded() {
    let list = ListeBlanche::parse(&real_xml()).unwrap();
    assert!(list.entries().iter().any(|e| e.description == "Domaine de messagerie MSSanté SSIAD AGE & VIE"));
}

#[test]
fn a_domain_with_several_operator_certificates_accepts_each_and_only_those() {
    let list = ListeBlanche::parse(&real_xml()).unwrap();
    let dns: Vec<String> = list.lookup("15-20.mssante.fr").map(|e| e.operator_dn.to_string()).collect();
    assert_eq!(dns.len(), 5, "{dns:?}");
    for dn in &dns {
        let dn: DistinguishedName = dn.parse().unwrap();
        assert!(list.dn_allowed_for("15-20.mssante.fr", &dn));
        assert!(list.dn_allowed_for("15-20.MSSANTE.FR", &dn), "domains are case-insensitive");
    }
    let mipih: DistinguishedName =
        "CN=medimail-asip.mipih.fr,OU=318310021300028,O=GIP MIPIH,ST=Haute-Garonne (31),C=FR".parse().unwrap();
    assert!(!list.dn_allowed_for("15-20.mssante.fr", &mipih));
    assert!(list.dn_allowed_for("adsea29.mssante.fr", &mipih));
    assert!(!list.dn_allowed_for("not-listed.example.fr", &mipih));
    assert!(!list.contains("not-listed.example.fr"));
    assert!(list.contains("uc-cmp.mssante.fr"), "upper-case Nom in the file is found");
}

#[test]
fn a_certificate_issued_with_a_listed_dn_matches_its_domain() {
    let list = ListeBlanche::parse(&real_xml()).unwrap();
    let ca = CertificateAuthority::generate("IGC-Santé TEST Racine", "MSS TEST").unwrap();
    let issued = ca
        .issue_operator(&OperatorIdentity {
            host: "mss.enovacom.fr".into(),
            organisation: "ENOVACOM".into(),
            unit: "344368557300034".into(),
            state: "Bouches-du-Rhône (13)".into(),
        })
        .unwrap();
    let from_cert = subject_of_pem(&issued.chain_pem).unwrap();
    assert_eq!(from_cert.to_string(), "CN=mss.enovacom.fr,OU=344368557300034,O=ENOVACOM,ST=Bouches-du-Rhône (13),C=FR");
    assert!(list.dn_allowed_for("15-20.mssante.fr", &from_cert));
    assert!(!list.dn_allowed_for("adsea29.mssante.fr", &from_cert));
}

#[test]
fn checksum_mismatch_or_garbage_is_refused() {
    let xml = real_xml();
    let wrong = sha256_hex(b"something else");
    assert!(matches!(ListeBlanche::parse_verified(&xml, &wrong), Err(ListeBlancheError::ChecksumMismatch { .. })));
    assert!(matches!(verify_checksum(&xml, "not hex"), Err(ListeBlancheError::BadChecksum(_))));
    assert!(verify_checksum(&xml, &format!("  {}\n", real_checksum().to_uppercase())).is_ok());
}

fn replace(xml: &[u8], from: &str, to: &str) -> Vec<u8> {
    let text = std::str::from_utf8(xml).unwrap();
    assert!(text.contains(from), "fixture lacks {from}");
    text.replacen(from, to, 1).into_bytes()
}

#[test]
fn malformed_variants_are_refused_with_a_reason() {
    let xml = real_xml();
    let cut = xml.len() / 2;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("truncated in the middle", xml[..cut].to_vec()),
        ("empty file", Vec::new()),
        ("wrong root", b"<Other><ListeDomaines></ListeDomaines></Other>".to_vec()),
        ("bad dn", replace(&xml, "<DNCertificatOperateur>CN=medimail", "<DNCertificatOperateur>XYZ=medimail")),
        ("empty dn", replace(&xml, "CN=medimail-asip.mipih.fr,OU=318310021300028,O=GIP MIPIH,ST=Haute-Garonne (31),C=FR</DNC", "</DNC")),
        ("bad domain", replace(&xml, "<Nom>adsea29.mssante.fr</Nom>", "<Nom>adsea 29!.mssante.fr</Nom>")),
        ("missing Nom", replace(&xml, "<Nom>adsea29.mssante.fr</Nom>", "")),
        ("unknown entity", replace(&xml, "SSIAD AGE &amp; VIE", "SSIAD AGE &bogus; VIE")),
        ("not utf-8", replace(&xml, "BREST LA SAUVEGARDE", "BREST \u{FFFD} SAUVEGARDE").iter().map(|&b| if b == 0xEF { 0xFF } else { b }).collect()),
        ("no generation date", replace(&xml, "<DateDeGeneration>2025-03-13T14:54:10Z</DateDeGeneration>", "")),
        (
            "no domain",
            b"<ListeBlancheMSSante xmlns=\"https://listeblanche.mssante.fr/schema\"><DateDeGeneration>2025-01-01T00:00:00Z</DateDeGeneration><ListeDomaines></ListeDomaines></ListeBlancheMSSante>".to_vec(),
        ),
    ];
    for (what, bytes) in cases {
        let err = ListeBlanche::parse(&bytes).expect_err(what);
        assert!(err.to_string().starts_with("liste blanche: "), "{what}: {err}");
    }
}

#[test]
fn a_properly_closed_file_parses_too() {
    let mut xml = real_xml();
    xml.extend_from_slice(b"\n</ListeBlancheMSSante>\n");
    assert_eq!(ListeBlanche::parse(&xml).unwrap().entries().len(), 619);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
    #[test]
    fn arbitrary_bytes_or_cuts_never_panic(cut in 0usize..341_701, noise in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
        let xml = real_xml();
        let mut bytes = xml[..cut.min(xml.len())].to_vec();
        bytes.extend_from_slice(&noise);
        let _ = ListeBlanche::parse(&bytes);
    }
}
