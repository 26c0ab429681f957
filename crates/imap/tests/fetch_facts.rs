//! FETCH ENVELOPE, BODY and BODYSTRUCTURE answered from the facts stored
//! with each message (issue 14), and the header fields a mail client lists
//! a folder with (HEADER, HEADER.FIELDS, from the header block the facts
//! keep): the same bytes as from the message itself, and no message read
//! for them.

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
        // A header too large to keep in the facts: read from the message.
        format!("X-Long: {}\r\nSubject: long\r\n\r\nbody\r\n", "a".repeat(mss_message::facts::MAX_KEPT_HEADER)),
        "Subject: no body\r\nfrom: <c@ours.test>\r\n".to_string(),
    ];
    // Facts are kept by content: the same message cannot be stored both
    // with and without them. So each is fetched as an older mss stored it
    // (parsed), then again once its facts are written (from facts).
    for raw in &mails {
        site.deliver(alice, raw).await;
    }
    let mut c = logged_in(&site, addr, ALICE).await;
    c.cmd("SELECT INBOX").await;
    let asks = [
        "ENVELOPE BODY BODYSTRUCTURE",
        // The header alone, as a mail client lists a folder.
        "UID BODY.PEEK[HEADER.FIELDS (FROM SUBJECT DATE MESSAGE-ID)]",
        "BODY.PEEK[HEADER.FIELDS.NOT (SUBJECT)]<5.20> RFC822.HEADER",
        "ENVELOPE BODY.PEEK[HEADER]",
    ];
    let ask = |n: usize, items: &str| format!("FETCH {n} ({items})");
    let mut parsed = Vec::new();
    for n in 1..=mails.len() {
        for items_asked in asks {
            let response = c.cmd(&ask(n, items_asked)).await;
            assert!(response.ok(), "{response:?}");
            parsed.push(items(&response).to_string());
        }
    }
    assert!(parsed[1].contains("Subject: =?UTF-8?Q?R=C3=A9sultats?=\r\n"), "{}", parsed[1]);
    let facts: Vec<_> = mails.iter().map(|raw| mss_message::stored(raw.as_bytes())).collect();
    assert_eq!(site.store.meta.put_facts(&facts).await.unwrap(), mails.len());
    let mut parsed = parsed.into_iter();
    for n in 1..=mails.len() {
        for items_asked in asks {
            let stored = c.cmd(&ask(n, items_asked)).await;
            assert!(stored.ok(), "{stored:?}");
            assert_eq!(items(&stored), parsed.next().unwrap(), "message {n}, {items_asked}");
        }
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
    let asked = [
        "FETCH 1 (FLAGS ENVELOPE BODYSTRUCTURE RFC822.SIZE)",
        "FETCH 1 (UID FLAGS BODY.PEEK[HEADER.FIELDS (FROM TO SUBJECT DATE MESSAGE-ID)])",
        "FETCH 1 (BODY.PEEK[HEADER])",
    ];
    let mut before = Vec::new();
    for command in asked {
        before.push(c.cmd(command).await);
    }
    // Without the body, the facts still answer, byte for byte.
    site.store.blobs.delete(&blob).await.unwrap();
    for (command, before) in asked.into_iter().zip(before) {
        let after = c.cmd(command).await;
        assert!(after.ok(), "{after:?}");
        assert_eq!(items(&after), items(&before));
    }
    let after = c.cmd(asked[0]).await;
    assert!(items(&after).contains("\"Resultats d'analyse\""), "{after:?}");
    assert!(items(&after).contains(&format!("RFC822.SIZE {}", raw.len())), "{after:?}");
    let header = c.cmd(asked[2]).await;
    assert!(items(&header).contains("Message-ID: <20240514.1@pharma.mssante.fr>\r\n"), "{header:?}");
    // What the facts do not keep is still read from the message, now gone.
    let text = c.cmd("FETCH 1 (BODY.PEEK[TEXT])").await;
    assert!(!items(&text).contains("Pour info."), "{text:?}");
}
