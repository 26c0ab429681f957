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
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures").join(name)).unwrap()
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

const BOB: &str = "810000013994";

/// The compose form's fields, with the document part.
fn fields<'a>(csrf: &'a str, ins: &'a str, kind: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf", csrf),
        ("a", "bob@ours.test"),
        ("cc", ""),
        ("objet", "ignored: the document's subject wins"),
        ("corps", "Bonjour, voici l'ordonnance.\r\n"),
        ("doc", "1"),
        ("doc_ins", ins),
        ("doc_ins_qualifiee", "1"),
        ("doc_nom", "Martin"),
        ("doc_prenom", "Jeanne"),
        ("doc_naissance", "1979-03-28"),
        ("doc_type", kind),
        ("action", "envoyer"),
    ]
}

#[tokio::test]
async fn a_pdf_sent_as_a_health_document_travels_as_an_xdm_package_with_its_headers() {
    let s = site().await;
    s.personal("elodie", ELODIE).await;
    let bob = s.personal("bob", BOB).await;
    let cookie = s.signed_in(ELODIE, "Élodie", "Dupont").await;
    let csrf = s.csrf(&cookie).await;
    let compose = "/portail/boites/elodie@ours.test/ecrire";
    let form = s.get(compose, &cookie).await;
    assert!(form.body.contains("Envoyer le PDF joint comme document de santé"));
    let pdf = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer\n%%EOF\n".to_vec();

    // Each wrong field is said under it; nothing is sent.
    let bad = fields(&csrf, "279035121518988", "57833-6");
    let refused = s.post_multipart(compose, &cookie, &bad, &[("ordonnance.pdf", "application/pdf", &pdf)]).await;
    assert_eq!(refused.status, 422);
    assert!(refused.body.contains("INS invalide"), "{}", refused.body);
    let no_pdf = fields(&csrf, "279035121518989", "57833-6");
    let refused = s.post_multipart(compose, &cookie, &no_pdf, &[("photo.jpg", "image/jpeg", b"\xff\xd8")]).await;
    assert!(refused.body.contains("Joignez le document en PDF"), "{}", refused.body);
    let bad_type = fields(&csrf, "279035121518989", "99999-9");
    let refused = s.post_multipart(compose, &cookie, &bad_type, &[("o.pdf", "application/pdf", &pdf)]).await;
    assert!(refused.body.contains("Choisissez le type de document"), "{}", refused.body);
    assert!(s.folder(&bob, "INBOX").await.is_empty());

    let good = fields(&csrf, "2 79 03 51 215 189 89", "57833-6");
    let sent = s.post_multipart(compose, &cookie, &good, &[("ordonnance.pdf", "application/pdf", &pdf)]).await;
    assert_eq!(sent.status, 303, "{}", sent.body);
    let inbox = s.folder(&bob, "INBOX").await;
    assert_eq!(inbox.len(), 1);
    let raw = &inbox[0].1;
    let text = String::from_utf8_lossy(raw);
    for header in ["X-MSS-CODECDA: 57833-6\r\n", "X-MSS-INS: O\r\n", "X-MSS-NIL: mss tests\r\n"] {
        assert!(text.contains(header), "{header:?} in {text}");
    }
    let facts = mss_message::Facts::of(raw);
    assert_eq!(
        facts.envelope.subject.as_deref(),
        Some("XDM/1.0/DDM+Prescription de médicaments MARTIN Jeanne 19790328")
    );
    assert!(facts.xdm);
    let doc = &facts.documents[0];
    assert!(doc.problems.is_empty(), "{doc:?}");
    assert_eq!((doc.type_code.as_deref(), doc.patient_ins.as_deref()), (Some("57833-6"), Some("279035121518989")));
    assert_eq!(doc.patient_name.as_deref(), Some("Jeanne MARTIN"));
    let parsed = mss_message::parsed::parse(raw).unwrap();
    let names: Vec<String> = parsed
        .attachments()
        .map(|a| mail_parser::MimeHeaders::attachment_name(a).unwrap_or_default().to_string())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names[0].ends_with("_Prescription-de-médicaments_MARTIN_Jeanne.pdf"), "{names:?}");
    assert_eq!(names[1], "IHE_XDM.ZIP");
    assert_eq!(parsed.attachments().next().unwrap().contents(), &pdf[..], "the PDF beside the package");

    // Bob sees it as a document.
    let bob_cookie = s.signed_in(BOB, "Bob", "Durand").await;
    let page = s.get("/portail/boites/bob@ours.test/courrier/INBOX/1", &bob_cookie).await;
    assert!(page.body.contains("vérifié : empreintes et tailles conformes") && page.body.contains("Jeanne MARTIN"));
}

/// A receipt (RFC 8098) from `from` about `original`, saying `disposition`.
fn receipt(from: &str, to: &str, original: &str, disposition: &str) -> Vec<u8> {
    format!(
        "From: <{from}>\r\nTo: <{to}>\r\nSubject: Accusé\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=disposition-notification; boundary=r\r\n\r\n\
         --r\r\nContent-Type: text/plain\r\n\r\nAccusé.\r\n--r\r\nContent-Type: message/disposition-notification\r\n\r\n\
         Final-Recipient: rfc822; {from}\r\nOriginal-Message-ID: {original}\r\nDisposition: {disposition}\r\n--r--\r\n"
    )
    .into_bytes()
}

/// The sender follows each recipient of a sent message: delivered here,
/// queued then refused by Mon espace santé (explained in French), read,
/// and an integration error with its ANS code.
#[tokio::test]
async fn the_sender_sees_what_became_of_each_recipient() {
    let s = site().await;
    let elodie = s.personal("elodie", ELODIE).await;
    s.personal("bob", BOB).await;
    let cookie = s.signed_in(ELODIE, "Élodie", "Dupont").await;
    let csrf = s.csrf(&cookie).await;
    let fields = [
        ("csrf", csrf.as_str()),
        ("a", "bob@ours.test, 279035121518989@patient.mssante.fr"),
        ("cc", ""),
        ("objet", "Votre traitement"),
        ("corps", "Bonjour"),
        ("action", "envoyer"),
    ];
    let sent = s.post_multipart("/portail/boites/elodie@ours.test/ecrire", &cookie, &fields, &[]).await;
    assert_eq!(sent.status, 303, "{}", sent.body);
    let path = "/portail/boites/elodie@ours.test/courrier/Sent/1";
    let page = s.get(path, &cookie).await;
    let shows = |body: &str, text: &str| body.contains(text) || body.contains(&text.replace('\'', "&#39;"));
    assert!(shows(&page.body, "Suivi de l'envoi"), "{}", page.body);
    let bob_row = page.body.split("bob@ours.test</th>").nth(1).unwrap_or_default();
    assert!(bob_row.trim_start().contains("Distribué le "), "{}", page.body);
    assert!(shows(&page.body, "En attente d'envoi"), "{}", page.body);

    // The gateway refuses the patient's copy.
    let queued = s.store.meta.queue().await.unwrap();
    let refusal = mss_store::AttemptOutcome::Failed { reply: "550 5.7.1 this conversation was closed ([FIN])".into() };
    s.store.meta.record_attempt(queued[0].id, &refusal).await.unwrap();
    let page = s.get(path, &cookie).await;
    assert!(page.body.contains("Cette conversation avec le patient est close"), "{}", page.body);

    // Receipts come back: Bob read it, his software did not integrate it.
    let (_, raw) = &s.folder(&elodie, "Sent").await[0];
    let id = mss_message::Facts::of(raw).envelope.message_id.unwrap();
    for disposition in [
        "manual-action/MDN-sent-manually; displayed",
        "automatic-action/MDN-sent-automatically; processed/Error: 902^Patient inconnu",
    ] {
        let mdn = receipt("bob@ours.test", "elodie@ours.test", &id, disposition);
        let facts = mss_message::stored(&mdn);
        s.store.deliver_indexed(&mdn, &[mss_store::Placement::inbox(elodie.id)], Some(facts)).await.unwrap();
    }
    let page = s.get(path, &cookie).await;
    assert!(page.body.contains("Lu le "), "{}", page.body);
    assert!(page.body.contains("Non intégré : erreur 902, patient inconnu (Patient inconnu)"), "{}", page.body);
}

/// A read receipt asked from the compose page is sent once by the reader,
/// from a button, and the sender's tracking shows the message read.
#[tokio::test]
async fn a_receipt_asked_is_sent_once_and_shown_to_the_sender() {
    let s = site().await;
    let elodie = s.personal("elodie", ELODIE).await;
    let bob = s.personal("bob", BOB).await;
    let cookie = s.signed_in(ELODIE, "Élodie", "Dupont").await;
    let csrf = s.csrf(&cookie).await;
    let fields = [
        ("csrf", csrf.as_str()),
        ("a", "bob@ours.test"),
        ("cc", ""),
        ("objet", "Résultats"),
        ("corps", "Bonjour"),
        ("accuse", "1"),
        ("action", "envoyer"),
    ];
    assert_eq!(s.post_multipart("/portail/boites/elodie@ours.test/ecrire", &cookie, &fields, &[]).await.status, 303);
    let bob_cookie = s.signed_in(BOB, "Bob", "Durand").await;
    let message = "/portail/boites/bob@ours.test/courrier/INBOX/1";
    let page = s.get(message, &bob_cookie).await;
    assert!(page.body.contains("Envoyer un accusé de lecture"), "{}", page.body);
    let bob_csrf = s.csrf(&bob_cookie).await;
    let sent = s.post_form(&format!("{message}/accuse"), &bob_cookie, &format!("csrf={bob_csrf}")).await;
    assert_eq!((sent.status, sent.header("location")), (303, Some(&*format!("{message}?fait=accuse"))));
    let again = s.post_form(&format!("{message}/accuse"), &bob_cookie, &format!("csrf={bob_csrf}")).await;
    assert_eq!(again.status, 303);
    let inbox = s.folder(&elodie, "INBOX").await;
    assert_eq!(inbox.len(), 1, "one receipt, not two");
    assert!(s.folder(&bob, "INBOX").await[0].0.flags.iter().any(|f| f == "$MDNSent"));
    let page = s.get(message, &bob_cookie).await;
    assert!(page.body.contains("Accusé de lecture envoyé à elodie@ours.test"), "{}", page.body);
    let forged = s.post_form(&format!("{message}/accuse"), &bob_cookie, "").await;
    assert_eq!(forged.status, 403);

    let tracking = s.get("/portail/boites/elodie@ours.test/courrier/Sent/1", &cookie).await;
    let bob_row = tracking.body.split("bob@ours.test</th>").nth(1).unwrap_or_default();
    assert!(bob_row.contains("Distribué le ") && bob_row.contains("Lu le "), "{}", tracking.body);
    assert!(s.audited("webmail.receipt", "bob@ours.test").await[0].contains("INBOX/1 to elodie@ours.test"));

    // The same through the API, for the sender only.
    let token = |national_id: &str| {
        let person = mss_identity::Person {
            national_id: national_id.parse().unwrap(),
            first_name: "X".into(),
            last_name: "Y".into(),
            finess: vec![],
        };
        let sessions = s.sessions.clone();
        async move { sessions.open(&person, mss_identity::Method::Psc, mss_store::now_unix()).await.unwrap().access_token }
    };
    let api = |token: String| {
        let request = format!(
            "GET /api/mailboxes/elodie@ours.test/messages/Sent/1/tracking HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\
             Authorization: Bearer {token}\r\n\r\n"
        );
        support::exchange(s.addr, request.into_bytes())
    };
    let reply = api(token(ELODIE).await).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let json: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(json["recipients"][0]["address"], "bob@ours.test");
    assert_eq!(json["recipients"][0]["state"], "delivered");
    assert_eq!(json["receipts"][0]["from"], "bob@ours.test");
    assert!(json["receipts"][0]["meaning"].as_str().is_some_and(|m| m == "Lu"), "{json}");
    assert_eq!(api(token(BOB).await).await.status, 404, "not Bob's mailbox");
}

/// The same document received twice is recognised as such; a later
/// version that annuls and replaces it is announced on the first, and
/// names the one it replaces; another mailbox's copies are not counted.
#[tokio::test]
async fn duplicates_and_replacements_are_recognised() {
    let s = site().await;
    let elodie = s.personal("elodie", ELODIE).await;
    let bob = s.personal("bob", "810000013994").await;
    let cda = String::from_utf8(fixture("cda/DOC_NON_STRUCTURE_CDA-R2-N1.xml")).unwrap();
    let first_id = r#"<id root="1.3.6.1.4.1.19376.1.2.20.12345.1.1"/>"#;
    assert!(cda.contains(first_id) && cda.contains("<componentOf>"));
    let newer = cda.replacen(first_id, r#"<id root="1.3.6.1.4.1.19376.1.2.20.12345.1.2"/>"#, 1).replacen(
        "<componentOf>",
        &format!(r#"<relatedDocument typeCode="RPLC"><parentDocument>{first_id}</parentDocument></relatedDocument><componentOf>"#),
        1,
    );
    let deliver = |raw: Vec<u8>, mailbox| {
        let facts = mss_message::stored(&raw);
        let store = s.store.clone();
        async move { store.deliver_indexed(&raw, &[mss_store::Placement::inbox(mailbox)], Some(facts)).await.unwrap() }
    };
    deliver(with_attachments("CR", &[("DOC0001.XML", "text/xml", cda.as_bytes())]), elodie.id).await;
    deliver(with_attachments("CR (renvoi)", &[("DOC0001.XML", "text/xml", cda.as_bytes())]), elodie.id).await;
    deliver(with_attachments("CR corrigé", &[("DOC0001.XML", "text/xml", newer.as_bytes())]), elodie.id).await;
    deliver(with_attachments("CR", &[("DOC0001.XML", "text/xml", cda.as_bytes())]), bob.id).await;
    let cookie = s.signed_in(ELODIE, "Élodie", "Dupont").await;
    let page = |uid: u32| {
        let (s, cookie) = (&s, &cookie);
        async move {
            let body = s.get(&format!("/portail/boites/elodie@ours.test/courrier/INBOX/{uid}"), cookie).await.body;
            // The reading pane: the list beside it links every message.
            body[body.find("<article class=\"volet-lecture\"").unwrap()..].to_string()
        }
    };

    let first = page(1).await;
    assert!(first.contains("Document déjà reçu (même identifiant)"), "{first}");
    assert!(first.contains(r#"href="/portail/boites/elodie@ours.test/courrier/INBOX/2""#), "{first}");
    assert!(first.contains("annulé et remplacé par une version plus récente"), "{first}");
    assert!(first.contains(r#"href="/portail/boites/elodie@ours.test/courrier/INBOX/3""#), "{first}");
    assert_eq!(first.matches("Boîte de réception)").count(), 2, "two links, in this mailbox only: {first}");
    let second = page(2).await;
    assert!(second.contains(r#"href="/portail/boites/elodie@ours.test/courrier/INBOX/1""#), "{second}");
    assert!(!second.contains(r#"href="/portail/boites/elodie@ours.test/courrier/INBOX/2""#), "not itself");
    let third = page(3).await;
    assert!(!third.contains("Document déjà reçu") && !third.contains("annulé et remplacé par"), "{third}");
    assert!(third.contains("Il remplace le document reçu dans le"), "{third}");
    assert!(third.contains("Ce document annule et remplace le document 1.3.6.1.4.1.19376.1.2.20.12345.1.1."));
}
