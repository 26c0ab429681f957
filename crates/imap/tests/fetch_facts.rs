//! FETCH ENVELOPE, BODY and BODYSTRUCTURE answered from the facts stored
//! with each message (issue 14): the same bytes as from the message itself,
//! and no message read for them.

mod support;

use mss_core::MailboxKind;
use mss_imap::Limits;
use mss_store::Placement;
use support::*;

const ALICE: &str = "alice.martin@ours.test";

/// A pharmacist's mail: a forwarded laboratory message with a PDF, an
/// encoded subject, a group of recipients, and an attachment of `size`.
fn results(size: usize) -> String {
    let pdf = "JVBERi0xLjQK".repeat(size / 12 + 1);
    format!(
        "From: \"Dr. Alice Martin\" <Alice.Martin@pharma.mssante.fr>\r\n\
         To: 279035121518989@patient.mssante.fr, Equipe: bob@cabinet.mssante.fr;\r\n\
         Subject: =?UTF-8?Q?R=C3=A9sultats?=\r\nDate: Tue, 14 May 2024 09:30:00 +0200\r\n\
         Message-ID: <20240514.1@pharma.mssante.fr>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\n\
         Content-Type: text/plain; charset=utf-8\r\nContent-Language: fr\r\n\r\nPour info.\r\n--b1\r\n\
         Content-Type: message/rfc822\r\n\r\nFrom: labo@labo.mssante.fr\r\nSubject: Resultats d'analyse\r\n\
         Content-Type: multipart/mixed; boundary=b2\r\n\r\n--b2\r\nContent-Type: text/plain\r\n\r\n\
         Glycemie normale.\r\n--b2\r\nContent-Type: application/pdf\r\n\
         Content-Disposition: attachment; filename=\"cr.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n\
         {pdf}\r\n--b2--\r\n\r\n--b1--\r\n"
    )
}

/// The data items of the one FETCH response, without `* n FETCH`.
fn items(fetch: &Response) -> &str {
    let line = fetch.untagged.trim_end();
    &line[line.find(" FETCH ").expect("a FETCH response")..]
}

#[tokio::test]
async fn envelope_and_bodystructure_from_facts_are_what_the_message_says() {
    let site = Site::new().await;
    let alice = site.mailbox(ALICE, MailboxKind::Personal, Some(ALICE_ID)).await;
    let addr = site.start(Limits::default()).await;
    let mails = [
        results(100),
        message("Ordonnance", "Paracetamol 1g"),
        "Subject: bare\r\n\r\nline one\nline two".to_string(),
        "From: <a@ours.test>\r\nFrom: <b@ours.test>\r\nSubject: two\r\n\r\nx\r\n".to_string(),
    ];
    // Facts are kept by content: the same message cannot be stored both
    // with and without them. So each is fetched as an older mss stored it
    // (parsed), then again once its facts are written (from facts).
    for raw in &mails {
        site.deliver(alice, raw).await;
    }
    let mut c = logged_in(&site, addr, ALICE).await;
    c.cmd("SELECT INBOX").await;
    let ask = |n: usize| format!("FETCH {n} (ENVELOPE BODY BODYSTRUCTURE)");
    let mut parsed = Vec::new();
    for n in 1..=mails.len() {
        let response = c.cmd(&ask(n)).await;
        assert!(response.ok(), "{response:?}");
        parsed.push(items(&response).to_string());
    }
    let facts: Vec<_> = mails.iter().map(|raw| mss_message::stored(raw.as_bytes())).collect();
    assert_eq!(site.store.meta.put_facts(&facts).await.unwrap(), mails.len());
    for (n, parsed) in (1..=mails.len()).zip(parsed) {
        let stored = c.cmd(&ask(n)).await;
        assert!(stored.ok(), "{stored:?}");
        assert_eq!(items(&stored), parsed);
    }
}

#[tokio::test]
async fn a_fetch_of_envelope_and_structure_reads_no_message() {
    let site = Site::new().await;
    let alice = site.mailbox(ALICE, MailboxKind::Personal, Some(ALICE_ID)).await;
    let addr = site.start(Limits::default()).await;
    // Larger than what is kept inline: the body is a blob file.
    let raw = results(100_000);
    let facts = mss_message::stored(raw.as_bytes());
    let blob = facts.blob;
    site.store.deliver_indexed(raw.as_bytes(), &[Placement::inbox(alice)], Some(facts)).await.unwrap();
    let mut c = logged_in(&site, addr, ALICE).await;
    c.cmd("SELECT INBOX").await;
    let before = c.cmd("FETCH 1 (FLAGS ENVELOPE BODYSTRUCTURE RFC822.SIZE)").await;
    // Without the body, the facts still answer, byte for byte.
    site.store.blobs.delete(&blob).await.unwrap();
    let after = c.cmd("FETCH 1 (FLAGS ENVELOPE BODYSTRUCTURE RFC822.SIZE)").await;
    assert!(after.ok(), "{after:?}");
    assert_eq!(items(&after), items(&before));
    assert!(items(&after).contains("\"Resultats d'analyse\""), "{after:?}");
    assert!(items(&after).contains(&format!("RFC822.SIZE {}", raw.len())), "{after:?}");
}
