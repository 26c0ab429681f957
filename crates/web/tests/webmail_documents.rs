//! Health documents in the webmail (issue 16): a message carrying the ANS
//! CDA example and a real IHE XDM package shows each document with its
//! type, patient and date, the `XDM/1.0/DDM+` prefix hidden from the
//! subject, the embedded PDF to download (never inline, traced); a
//! tampered package is shown flagged with its reason.

mod support;

use std::path::Path;

use base64::Engine;
use support::webmail::site;

const ELODIE: &str = "810003621892";

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures").join(name)).unwrap()
}

fn with_attachments(subject: &str, files: &[(&str, &str, &[u8])]) -> Vec<u8> {
    let mut raw = format!(
        "From: <labo@ours.test>\r\nTo: <elodie@ours.test>\r\nSubject: {subject}\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nCi-joint.\r\n"
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

#[tokio::test]
async fn a_document_message_shows_its_patient_type_and_pdf() {
    let s = site().await;
    let elodie = s.personal("elodie", ELODIE).await;
    let cda = fixture("cda/DOC_NON_STRUCTURE_CDA-R2-N1.xml");
    let mie = fixture("xdm/nist-iheos-toolkit2/MIE.zip");
    let mut broken = mie.clone();
    let at = broken.len() / 3;
    broken[at] ^= 0xff;
    for raw in [
        with_attachments("XDM/1.0/DDM+CR de biologie MARTIN Jeanne 19790328", &[("DOC0001.XML", "text/xml", &cda)]),
        with_attachments("Note", &[("IHE_XDM.ZIP", "application/zip", &mie)]),
        with_attachments("Abîmé", &[("IHE_XDM.ZIP", "application/zip", &broken)]),
    ] {
        let facts = mss_message::stored(&raw);
        s.store.deliver_indexed(&raw, &[mss_store::Placement::inbox(elodie.id)], Some(facts)).await.unwrap();
    }
    let cookie = s.signed_in(ELODIE, "Élodie", "Dupont").await;
    let list = s.get("/portail/boites/elodie@ours.test/courrier", &cookie).await;
    assert!(list.body.contains(">CR de biologie MARTIN Jeanne 19790328<") && !list.body.contains("XDM/1.0/DDM+"));

    let page = s.get("/portail/boites/elodie@ours.test/courrier/INBOX/1", &cookie).await;
    assert_eq!(page.status, 200);
    for expected in
        ["Documents de santé", "(11502-2)", "279035121518989", "Télécharger le document (application/pdf, 319,0 Ko)"]
    {
        assert!(page.body.contains(expected), "{expected}: {}", page.body);
    }
    assert!(page.body.contains("<dd>CR de biologie MARTIN Jeanne 19790328</dd>"), "subject without its prefix");
    let pdf = s.get("/portail/boites/elodie@ours.test/courrier/INBOX/1/pieces/0/documents/0", &cookie).await;
    assert_eq!(pdf.status, 200);
    assert_eq!(pdf.header("content-type"), Some("application/octet-stream"));
    assert!(pdf.header("content-disposition").is_some_and(|d| d.starts_with("attachment;")));
    assert!(pdf.body.starts_with("%PDF-1.5"), "the embedded PDF, decoded");
    assert!(s.audited("webmail.download", "elodie@ours.test").await[0].contains("INBOX/1 part=0 document=0"));
    let missing = s.get("/portail/boites/elodie@ours.test/courrier/INBOX/1/pieces/0/documents/7", &cookie).await;
    assert_eq!(missing.status, 404);

    let package = s.get("/portail/boites/elodie@ours.test/courrier/INBOX/2", &cookie).await;
    assert!(package.body.contains("vérifié : empreintes et tailles conformes"), "{}", package.body);
    let flagged = s.get("/portail/boites/elodie@ours.test/courrier/INBOX/3", &cookie).await;
    assert!(flagged.body.contains("non conforme"), "{}", flagged.body);
}
