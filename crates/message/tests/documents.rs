//! The documents of real messages: an IHE XDM package and a CDA document
//! (the public fixtures) attached as a sending software would, read into
//! the stored facts with their type and patient; a tampered package is
//! flagged, not refused.

use std::path::Path;

use base64::Engine;
use mss_message::Facts;
use mss_message::documents::shown_subject;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures").join(name)).unwrap()
}

/// A message with `files` (name, type, bytes) attached, base64.
fn message_with(subject: &str, files: &[(&str, &str, &[u8])]) -> Vec<u8> {
    let mut raw = format!(
        "From: <labo@labo.mssante.fr>\r\nTo: <pharmacie@ours.test>\r\nSubject: {subject}\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nVoir le document.\r\n"
    );
    for (name, kind, bytes) in files {
        let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
        let lines: Vec<&str> = encoded.as_bytes().chunks(76).map(|c| std::str::from_utf8(c).unwrap()).collect();
        raw.push_str(&format!(
            "--b\r\nContent-Type: {kind}\r\nContent-Disposition: attachment; filename=\"{name}\"\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n{}\r\n",
            lines.join("\r\n")
        ));
    }
    raw.push_str("--b--\r\n");
    raw.into_bytes()
}

#[test]
fn a_cda_attached_alone_gives_the_type_and_the_patient() {
    let cda = fixture("cda/DOC_NON_STRUCTURE_CDA-R2-N1.xml");
    let raw = message_with("XDM/1.0/DDM+CR de biologie MARTIN Jeanne 19790328", &[("DOC0001.XML", "text/xml", &cda)]);
    let facts = Facts::of(&raw);
    assert_eq!(facts.documents.len(), 1, "{:?}", facts.documents);
    let doc = &facts.documents[0];
    assert_eq!((doc.attachment, doc.type_code.as_deref()), (0, Some("11502-2")));
    assert_eq!(doc.patient_ins.as_deref(), Some("279035121518989"));
    assert!(doc.patient_name.is_some() && doc.problems.is_empty(), "{doc:?}");
    assert_eq!(facts.patient.ins.as_deref(), Some("279035121518989"), "the document names the patient");
    assert_eq!(shown_subject(facts.envelope.subject.as_deref().unwrap()), "CR de biologie MARTIN Jeanne 19790328");
}

#[test]
fn a_package_is_read_with_its_documents_and_a_tampered_one_is_flagged() {
    let mie = fixture("xdm/nist-iheos-toolkit2/MIE.zip");
    let pdf = b"%PDF-1.4 rendering".to_vec();
    let raw = message_with(
        "Doctor note",
        &[("rendu.pdf", "application/pdf", &pdf), ("IHE_XDM.ZIP", "application/zip", &mie)],
    );
    let facts = Facts::of(&raw);
    assert!(facts.xdm);
    assert_eq!(facts.documents.len(), 1, "{:?}", facts.documents);
    let doc = &facts.documents[0];
    assert_eq!((doc.attachment, doc.path.as_deref()), (1, Some("IHE_XDM/SUBSET01/DOC00001.XML")));
    assert!(doc.problems.is_empty() && doc.type_code.is_some(), "{doc:?}");

    let mut broken = mie.clone();
    broken.truncate(broken.len() / 2);
    let facts = Facts::of(&message_with("Doctor note", &[("IHE_XDM.ZIP", "application/zip", &broken)]));
    assert_eq!(facts.documents.len(), 1);
    assert!(facts.documents[0].problems[0].contains("not a readable ZIP"), "{:?}", facts.documents);
}

/// A message carrying many packages has only the first ones read.
#[test]
fn only_the_first_packages_of_a_message_are_read() {
    let mie = fixture("xdm/nist-iheos-toolkit2/MIE.zip");
    let files: Vec<(&str, &str, &[u8])> = (0..30).map(|_| ("IHE_XDM.ZIP", "application/zip", &mie[..])).collect();
    let facts = Facts::of(&message_with("Lots", &files));
    assert_eq!(facts.documents.len(), mss_message::documents::MAX_ATTACHED_DOCUMENTS);
}
