//! What a person types in the compose form never becomes a header of its
//! own (pen test, issue 13): CR LF in the subject, a display name, a file
//! name or a message id, and an uploaded part's declared content type, are
//! made safe before the message is built. And one recipient limit, the
//! submission's, for the webmail too.

mod support;

use mail_parser::{MessageParser, MimeHeaders};
use mss_core::MAX_RECIPIENTS_PER_MESSAGE;
use support::webmail::{Webmail, site};

const ELODIE: &str = "810003621892";
const BOB: &str = "810000013994";
const COMPOSE: &str = "/portail/boites/elodie@ours.test/ecrire";

/// The header lines of a raw message (folded lines joined to theirs).
fn header_lines(raw: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(raw);
    let head = text.split("\r\n\r\n").next().unwrap_or_default();
    let mut lines: Vec<String> = Vec::new();
    for line in head.split("\r\n") {
        match lines.last_mut() {
            Some(last) if line.starts_with([' ', '\t']) => last.push_str(line),
            _ => lines.push(line.to_string()),
        }
    }
    lines
}

fn named<'a>(lines: &'a [String], name: &str) -> Vec<&'a String> {
    let prefix = format!("{}:", name.to_ascii_lowercase());
    lines.iter().filter(|l| l.to_ascii_lowercase().starts_with(&prefix)).collect()
}

async fn hospital(s: &Webmail) {
    let row = mss_store::WhitelistRow {
        domain: "hopital.test".into(),
        operator_dn: "CN=mss.hopital.test,O=Hopital".into(),
        description: String::new(),
        responsible_contact: String::new(),
        support_contact: String::new(),
        updated_at: String::new(),
        source: mss_store::WhitelistSource::Manual,
    };
    s.store.meta.add_manual_whitelist_row(&row).await.unwrap();
}

#[tokio::test]
async fn cr_lf_in_the_compose_form_injects_no_header() {
    let s = site().await;
    s.personal("elodie", ELODIE).await;
    let bob = s.personal("bob", BOB).await;
    let cookie = s.signed_in(ELODIE, "Élodie", "Dupont").await;
    let csrf = s.csrf(&cookie).await;

    let subject = "Bonjour\r\nFrom: chef@ours.test\r\nBcc: espion@ours.test\r\nX-Injected: oui";
    let fields = [
        ("csrf", csrf.as_str()),
        ("a", "\"Bob\rBcc: espion@ours.test\" <bob@ours.test>"),
        ("objet", subject),
        ("corps", "Texte"),
        ("en_reponse_a", "<m1@autre.test>\r\nX-Injected: oui"),
        ("references", "<m0@autre.test>\0 <m1@autre.test>\r\nX-Injected: oui"),
        ("action", "envoyer"),
    ];
    let files: [(&str, &str, &[u8]); 2] = [
        ("note.txt", "multipart/mixed; boundary=\"evil\"", b"--evil\r\nX-Injected: oui\r\n\r\nx\r\n--evil--\r\n"),
        ("scan.png", "image/png", b"\x89PNG"),
    ];
    let sent = s.post_multipart(COMPOSE, &cookie, &fields, &files).await;
    assert_eq!(sent.status, 303, "{}", sent.body);

    let inbox = s.folder(&bob, "INBOX").await;
    assert_eq!(inbox.len(), 1);
    let raw = &inbox[0].1;
    let lines = header_lines(raw);
    assert_eq!(named(&lines, "From").len(), 1, "{lines:#?}");
    assert!(named(&lines, "From")[0].contains("elodie@ours.test"), "{lines:#?}");
    assert!(named(&lines, "Bcc").is_empty() && named(&lines, "X-Injected").is_empty(), "{lines:#?}");
    assert!(!raw.contains(&0), "no NUL anywhere");
    let message = MessageParser::default().parse(raw).unwrap();
    let shown = message.subject().unwrap();
    assert!(shown.starts_with("Bonjour") && shown.contains("From: chef@ours.test"), "{shown:?}");
    assert!(!shown.contains(['\r', '\n']), "{shown:?}");
    assert_eq!(message.to().unwrap().first().unwrap().address(), Some("bob@ours.test"));
    assert_eq!(message.in_reply_to().as_text(), Some("m1@autre.test"));

    // No part header is injected either: the declared type is not trusted.
    let parts: Vec<_> = message.attachments().collect();
    assert_eq!(parts.len(), 2, "{}", String::from_utf8_lossy(raw));
    let kind = |i: usize| parts[i].content_type().map(|c| format!("{}/{}", c.ctype(), c.subtype().unwrap_or("")));
    assert_eq!(kind(0).as_deref(), Some("application/octet-stream"));
    assert_eq!(parts[0].contents(), b"--evil\r\nX-Injected: oui\r\n\r\nx\r\n--evil--\r\n");
    assert_eq!(kind(1).as_deref(), Some("image/png"));
    assert!(!String::from_utf8_lossy(raw).to_ascii_lowercase().contains("\r\nx-injected:"));
}

#[tokio::test]
async fn a_forwarded_attachment_named_with_cr_lf_stays_one_header() {
    let s = site().await;
    let elodie = s.personal("elodie", ELODIE).await;
    let bob = s.personal("bob", BOB).await;
    // An incoming message whose attachment's name decodes to CR LF.
    let incoming = "From: Labo <labo@autre.test>\r\nTo: elodie@ours.test\r\nSubject: Analyses\r\n\
        Message-ID: <a1@autre.test>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
        --b\r\nContent-Type: text/plain\r\n\r\nVoir.\r\n--b\r\nContent-Type: application/pdf\r\n\
        Content-Disposition: attachment; filename*=utf-8''a.pdf%0D%0ABcc%3A%20espion%40ours.test\r\n\r\n%PDF\r\n--b--\r\n";
    s.store.deliver(incoming.as_bytes(), &[elodie.id]).await.unwrap();
    let cookie = s.signed_in(ELODIE, "Élodie", "Dupont").await;
    let csrf = s.csrf(&cookie).await;
    let fields = [
        ("csrf", csrf.as_str()),
        ("a", "bob@ours.test"),
        ("objet", "Fwd: Analyses"),
        ("source", "INBOX/1"),
        ("garder", "0"),
        ("action", "envoyer"),
    ];
    let files: [(&str, &str, &[u8]); 1] = [("photo.jpg", "image/jpeg", b"jpg")];
    assert_eq!(s.post_multipart(COMPOSE, &cookie, &fields, &files).await.status, 303);
    let raw = s.folder(&bob, "INBOX").await.remove(0).1;
    let text = String::from_utf8_lossy(&raw).to_ascii_lowercase();
    assert!(!text.contains("\r\nbcc:"), "{text}");
    let message = MessageParser::default().parse(&raw).unwrap();
    let names: Vec<&str> = message.attachments().filter_map(|p| p.attachment_name()).collect();
    assert_eq!(names.len(), 2, "{text}");
    assert!(names.iter().all(|n| !n.contains(['\r', '\n'])), "{names:?}");
}

#[tokio::test]
async fn more_recipients_than_submission_allows_are_refused_under_the_field() {
    assert_eq!(mss_smtp::Limits::default().max_recipients, MAX_RECIPIENTS_PER_MESSAGE, "one limit");
    let s = site().await;
    let elodie = s.personal("elodie", ELODIE).await;
    hospital(&s).await;
    let cookie = s.signed_in(ELODIE, "Élodie", "Dupont").await;
    let csrf = s.csrf(&cookie).await;
    let addresses = |n: usize| (0..n).map(|i| format!("p{i}@hopital.test")).collect::<Vec<_>>();

    let (to, cc) = (addresses(60).join(", "), addresses(101)[60..].join(", "));
    let fields =
        [("csrf", csrf.as_str()), ("a", to.as_str()), ("cc", cc.as_str()), ("objet", "Tous"), ("action", "envoyer")];
    let refused = s.post_multipart(COMPOSE, &cookie, &fields, &[]).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(
        refused.body.contains("Trop de destinataires : 101 adresses, 100 au plus par message."),
        "{}",
        refused.body
    );
    assert!(refused.body.contains("id=\"a-erreur\""), "under the field");
    assert!(s.store.meta.queue().await.unwrap().is_empty(), "nothing queued");
    assert!(s.folder(&elodie, "Sent").await.is_empty(), "nothing sent");

    let hundred = addresses(MAX_RECIPIENTS_PER_MESSAGE).join(", ");
    let fields = [("csrf", csrf.as_str()), ("a", hundred.as_str()), ("objet", "Cent"), ("action", "envoyer")];
    assert_eq!(s.post_multipart(COMPOSE, &cookie, &fields, &[]).await.status, 303);
    assert_eq!(s.store.meta.queue().await.unwrap().len(), MAX_RECIPIENTS_PER_MESSAGE);
}
