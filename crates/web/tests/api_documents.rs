//! Sending a health document through the API (issue 16): the pharmacy
//! software (its applicative mailbox's token) and a person (their session,
//! on their own mailbox) send a PDF with its patient and type; the
//! recipient gets the ANS subject and fields, the PDF and an IHE XDM
//! package that validates; the sender follows it with the tracking API.
//! Every bad value is refused by its field and sends nothing; a stranger's
//! mailbox, no credentials or too large a PDF are refused too.

mod support;

use base64::Engine;
use mail_parser::MimeHeaders;
use mss_core::MailboxKind;
use mss_identity::{Method, Person};
use mss_store::{NewMailbox, now_unix};
use support::webmail::{MAX, Webmail, site};
use support::{Reply, exchange};

const INS: &str = "279035121518989";
const PDF: &[u8] = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n";

async fn post(s: &Webmail, path: &str, token: Option<&str>, body: &serde_json::Value) -> Reply {
    let body = body.to_string();
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    let raw = format!(
        "POST {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n{auth}Content-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        s.addr,
        body.len()
    );
    exchange(s.addr, raw.into_bytes()).await
}

async fn get(s: &Webmail, path: &str, token: &str) -> Reply {
    let raw = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nAuthorization: Bearer {token}\r\n\r\n",
        s.addr
    );
    exchange(s.addr, raw.into_bytes()).await
}

fn document(to: &str, pdf: &[u8]) -> serde_json::Value {
    serde_json::json!({
        "to": [to],
        "text": "Ordonnance de sortie ci-jointe.",
        "patient": { "ins": INS, "qualified": true, "family": "MARTIN", "given": "Jeanne", "birth_date": "1979-03-05" },
        "type": "57833-6",
        "pdf": base64::engine::general_purpose::STANDARD.encode(pdf),
        "receipt": true,
    })
}

#[tokio::test]
async fn software_and_people_send_documents_that_validate() {
    let s = site().await;
    let new = NewMailbox::of_structure(
        "app-lgo@ours.test".parse().unwrap(),
        MailboxKind::Applicative,
        "750000002".parse().unwrap(),
        "LGO Officine",
    );
    let software = s.store.meta.create_mailbox(&new).await.unwrap();
    let bob = s.personal("bob", "810000013994").await;
    let elodie = s.personal("elodie", "810003621892").await;
    let token = s.sessions.key.issue(&software.address.to_string(), now_unix(), 600).unwrap();
    let path = "/api/mailboxes/app-lgo@ours.test/documents";

    let sent = post(&s, path, Some(&token), &document("bob@ours.test", PDF)).await;
    assert_eq!(sent.status, 202, "{}", sent.body);
    let answer: serde_json::Value = serde_json::from_str(&sent.body).unwrap();
    assert_eq!(answer["subject"], "XDM/1.0/DDM+Prescription de médicaments MARTIN Jeanne 19790305");
    assert_eq!(answer["recipients"], 1);
    let inbox = s.folder(&bob, "INBOX").await;
    assert_eq!(inbox.len(), 1);
    let raw = &inbox[0].1;
    let message = mail_parser::MessageParser::default().parse(raw).unwrap();
    assert_eq!(message.message_id(), answer["message_id"].as_str());
    for (field, value) in [("X-MSS-CODECDA", "57833-6"), ("X-MSS-NIL", "mss tests")] {
        assert_eq!(message.header_raw(field).map(str::trim), Some(value), "{field}");
    }
    assert_eq!(message.header_raw("X-MSS-INS").map(str::trim), Some("O"), "qualified INS said");
    let names: Vec<&str> = message.attachments().filter_map(|a| a.attachment_name()).collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names[0].ends_with(".pdf") && names[1] == "IHE_XDM.ZIP", "{names:?}");
    let zip = message.attachments().nth(1).unwrap().contents();
    let package = mss_documents::xdm::read(zip);
    assert!(package.is_valid(), "{:?}", package.problems);
    let doc = package.documents().next().unwrap();
    assert_eq!(doc.ins.as_deref(), Some(INS));
    assert_eq!(doc.type_code.as_ref().map(|c| c.code.as_str()), Some("57833-6"));
    assert!(doc.author.as_deref().is_some_and(|a| a.contains("LGO Officine")), "{:?}", doc.author);

    // The software follows it in its Sent folder.
    let tracking = get(&s, "/api/mailboxes/app-lgo@ours.test/messages/Sent/1/tracking", &token).await;
    assert_eq!(tracking.status, 200, "{}", tracking.body);
    let tracked: serde_json::Value = serde_json::from_str(&tracking.body).unwrap();
    assert_eq!(tracked["recipients"][0]["address"], "bob@ours.test");
    assert_eq!(tracked["message_id"], answer["message_id"]);

    // A person sends from their own mailbox, as its author.
    let person = Person {
        national_id: "810003621892".parse().unwrap(),
        first_name: "Élodie".into(),
        last_name: "Dupont".into(),
        finess: vec![],
    };
    let session = s.sessions.open(&person, Method::Psc, now_unix()).await.unwrap().access_token;
    let body = document("bob@ours.test", PDF);
    let by_person = post(&s, "/api/mailboxes/elodie@ours.test/documents", Some(&session), &body).await;
    assert_eq!(by_person.status, 202);
    let inbox = s.folder(&bob, "INBOX").await;
    let zip = mail_parser::MessageParser::default()
        .parse(&inbox[1].1)
        .unwrap()
        .attachments()
        .nth(1)
        .unwrap()
        .contents()
        .to_vec();
    let author = mss_documents::xdm::read(&zip).documents().next().unwrap().author.clone().unwrap_or_default();
    assert!(author.contains("Dupont") && author.contains("Élodie"), "{author}");
    assert!(s.folder(&elodie, "Sent").await.len() == 1);

    // Refusals: each names its field, and nothing more is sent.
    let mut bad = document("bob@ours.test", PDF);
    bad["patient"]["ins"] = "279035121518988".into();
    let cases = [
        (bad, "patient.ins"),
        (document("bob@ours.test", b"GIF89a not a pdf"), "pdf"),
        (document("dr@hors-espace.test", PDF), "to"),
        (document("pas une adresse", PDF), "to"),
        (document("x\r\ninjected@ours.test", PDF), "to"),
        (
            {
                let mut d = document("bob@ours.test", PDF);
                d["type"] = "00000-0".into();
                d
            },
            "type",
        ),
        (
            {
                let mut d = document("bob@ours.test", PDF);
                d["patient"]["family"] = "MARTIN\r\nBcc: x@y".into();
                d
            },
            "patient.family",
        ),
        (
            {
                let mut d = document("bob@ours.test", PDF);
                d["patient"]["birth_date"] = "5 mars".into();
                d
            },
            "patient.birth_date",
        ),
    ];
    for (body, field) in cases {
        let refused = post(&s, path, Some(&token), &body).await;
        assert_eq!(refused.status, 422, "{field}: {}", refused.body);
        let problem: serde_json::Value = serde_json::from_str(&refused.body).unwrap();
        assert_eq!(problem["field"], field, "{}", refused.body);
    }
    let unknown_field = serde_json::json!({ "to": ["bob@ours.test"], "bcc": ["x@ours.test"] });
    assert_eq!(post(&s, path, Some(&token), &unknown_field).await.status, 422);
    let huge = vec![b'%'; MAX * 2];
    let mut too_large = document("bob@ours.test", b"%PDF-");
    too_large["pdf"] = base64::engine::general_purpose::STANDARD.encode(&huge).into();
    assert_eq!(post(&s, path, Some(&token), &too_large).await.status, 413);
    assert_eq!(post(&s, path, None, &document("bob@ours.test", PDF)).await.status, 401);
    let elsewhere = post(&s, "/api/mailboxes/elodie@ours.test/documents", Some(&token), &body).await;
    assert_eq!(elsewhere.status, 404, "software acts for its own mailbox only");
    assert_eq!(s.folder(&bob, "INBOX").await.len(), 2, "nothing refused was sent");
    let trail = s.audited("api.document.send", "app-lgo@ours.test").await;
    assert!(trail.iter().all(|t| !t.contains('\r') && !t.contains('\n')), "one line each: {trail:?}");
    assert!(
        trail.iter().any(|t| t.contains("refused: invalid"))
            && trail.iter().any(|t| t.starts_with("api.document.send ok"))
    );
}
