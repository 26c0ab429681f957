//! FETCH ENVELOPE's from, sender and reply-to are what SMTP policy reads
//! (`mss_message::originators`, issue 13): a message whose originator
//! fields policy would refuse, stored by APPEND, shows no sender at all.

mod support;

use mss_core::MailboxKind;
use mss_imap::Limits;
use support::*;

const ALICE: &str = "alice.martin@ours.test";

/// APPENDs `raw` to INBOX with a synchronising literal.
async fn append(c: &mut TlsClient, raw: &str) {
    c.send(format!("a1 APPEND INBOX {{{}}}\r\n", raw.len()).as_bytes()).await;
    assert!(c.line().await.unwrap().starts_with('+'));
    c.send(format!("{raw}\r\n").as_bytes()).await;
    let reply = c.until("a1").await;
    assert!(reply.ok(), "{reply:?}");
}

#[tokio::test]
async fn an_appended_message_with_two_from_fields_shows_no_sender() {
    let site = Site::new().await;
    site.mailbox(ALICE, MailboxKind::Personal, Some(ALICE_ID)).await;
    let addr = site.start(Limits::default()).await;
    let mut c = logged_in(&site, addr, ALICE).await;
    // The first From names another professional, the last the user herself.
    let spoofed = "From: Dr Paul Chef <paul.chef@hopital.test>\r\nTo: pharmacie@ours.test\r\n\
                   From: Dr Alice Martin <alice.martin@ours.test>\r\nSubject: Ordonnance\r\n\
                   Date: Thu, 26 Nov 2026 10:00:00 +0100\r\nMessage-ID: <twice@ours.test>\r\n\r\nbody\r\n";
    append(&mut c, spoofed).await;
    c.cmd("SELECT INBOX").await;

    let fetch = c.cmd("FETCH 1 (ENVELOPE)").await;
    assert!(fetch.ok(), "{fetch:?}");
    assert!(
        fetch.untagged.contains(
            "ENVELOPE (\"Thu, 26 Nov 2026 10:00:00 +0100\" \"Ordonnance\" NIL NIL NIL \
             ((NIL NIL \"pharmacie\" \"ours.test\")) NIL NIL NIL \"<twice@ours.test>\")"
        ),
        "no from, sender or reply-to; the rest as written: {fetch:?}"
    );
    assert!(!fetch.untagged.contains("paul.chef") && !fetch.untagged.contains("alice.martin"), "{fetch:?}");
}

#[tokio::test]
async fn a_forwarded_message_with_two_from_fields_shows_no_sender_inside() {
    let site = Site::new().await;
    site.mailbox(ALICE, MailboxKind::Personal, Some(ALICE_ID)).await;
    let addr = site.start(Limits::default()).await;
    let mut c = logged_in(&site, addr, ALICE).await;
    let forward = "From: Dr Alice Martin <alice.martin@ours.test>\r\nTo: pharmacie@ours.test\r\n\
                   Subject: Fwd: Ordonnance\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
                   --b\r\nContent-Type: text/plain\r\n\r\nPour info.\r\n\
                   --b\r\nContent-Type: message/rfc822\r\n\r\n\
                   From: <paul.chef@hopital.test>\r\nFrom: <alice.martin@ours.test>\r\nSubject: Ordonnance\r\n\r\n\
                   body\r\n--b--\r\n";
    append(&mut c, forward).await;
    c.cmd("SELECT INBOX").await;

    let fetch = c.cmd("FETCH 1 (ENVELOPE BODYSTRUCTURE)").await;
    assert!(fetch.ok(), "{fetch:?}");
    let alice = "((\"Dr Alice Martin\" NIL \"alice.martin\" \"ours.test\"))";
    assert!(
        fetch.untagged.contains(&format!("ENVELOPE (NIL \"Fwd: Ordonnance\" {alice} {alice} {alice} ")),
        "the outer message is as before: {fetch:?}"
    );
    assert!(fetch.untagged.contains("(NIL \"Ordonnance\" NIL NIL NIL NIL NIL NIL NIL NIL)"), "{fetch:?}");
    assert!(!fetch.untagged.contains("paul.chef"), "{fetch:?}");
}
