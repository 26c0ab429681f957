//! SMTP smuggling (issue 13): only `<CR><LF>.<CR><LF>` ends the message
//! data, on the MTA port and on submission. A client that ends its data
//! another way and then writes commands gets one refusal for the whole of
//! it, nothing stored, and a session still in step.

mod support;

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use mss_smtp::Limits;
use mss_store::now_unix;
use mss_trust::pki::CertificateAuthority;
use support::{Client, Site, anonymous_config, client_config, operator_certificate, starttls};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

const RECIPIENT: &str = "alice.martin@ours.test";

/// The endings other servers have taken for the end of data.
const FAKE_ENDINGS: [&str; 5] = ["\r\n.\r\r\n", "\n.\n", "\r\n.\n", "\n.\r\n", "\r.\r\n"];

/// A first message ended by `ending`, then a second transaction that the
/// server must take for more data.
fn smuggling(from: &str, ending: &str) -> String {
    format!(
        "From: <{from}>\r\nSubject: first\r\n\r\nfirst{ending}\
         MAIL FROM:<{from}>\r\nRCPT TO:<{RECIPIENT}>\r\nDATA\r\n\
         From: <{from}>\r\nSubject: smuggled\r\n\r\nsmuggled\r\n.\r\n"
    )
}

/// Sends the smuggling attempt after a transaction is open, then checks
/// that one refusal came back and the session still answers in step.
async fn attempt<S: AsyncRead + AsyncWrite + Unpin>(c: &mut Client<S>, from: &str, ending: &str) {
    assert_eq!(c.cmd(&format!("MAIL FROM:<{from}>")).await.0, 250);
    assert_eq!(c.cmd(&format!("RCPT TO:<{RECIPIENT}>")).await.0, 250);
    assert_eq!(c.cmd("DATA").await.0, 354);
    c.io.get_mut().write_all(smuggling(from, ending).as_bytes()).await.unwrap();
    let (code, text) = c.reply().await;
    assert_eq!(code, 550, "{ending:?}: {text}");
    assert!(text.contains("5.6.0") && text.contains("bare"), "{ending:?}: {text}");
    let (code, text) = c.cmd("NOOP").await;
    assert_eq!(code, 250, "{ending:?}: the next reply is the NOOP's: {text}");
}

#[tokio::test]
async fn a_peer_cannot_smuggle_a_second_message_past_a_fake_end_of_data() {
    let ca = CertificateAuthority::generate("IGC-Santé TEST Racine", "TEST").unwrap();
    let site = Site::new(&ca, "ours.test").await;
    let peer = operator_certificate(&ca, "mss.peer.test");
    let alice = site.mailbox(RECIPIENT).await;
    site.trust("peer.test", &peer.subject.to_string()).await;
    let limits = Limits { command_timeout: Duration::from_secs(10), ..Limits::default() };
    let addr = site.start_inbound(limits).await;

    let mut c = starttls(addr, client_config(&peer, ca.cert_pem())).await;
    for ending in FAKE_ENDINGS {
        attempt(&mut c, "bob@peer.test", ending).await;
    }
    assert!(site.inbox(alice).await.is_empty(), "neither the first nor the smuggled message");
    assert!(site.store.blobs.list().await.unwrap().is_empty(), "not even a blob");

    // The honest ending still works, and the session is the same one.
    assert_eq!(c.cmd("MAIL FROM:<bob@peer.test>").await.0, 250);
    assert_eq!(c.cmd(&format!("RCPT TO:<{RECIPIENT}>")).await.0, 250);
    assert_eq!(c.cmd("DATA").await.0, 354);
    let (code, text) = c.cmd("From: <bob@peer.test>\r\nSubject: honest\r\n\r\nok\r\n.").await;
    assert_eq!(code, 250, "{text}");
    assert_eq!(site.inbox(alice).await.len(), 1);
}

#[tokio::test]
async fn a_user_cannot_smuggle_a_second_message_on_submission() {
    let ca = CertificateAuthority::generate("IGC-Santé TEST Racine", "TEST").unwrap();
    let site = Site::new(&ca, "ours.test").await;
    site.mailbox("bob@ours.test").await;
    let alice = site.mailbox(RECIPIENT).await;
    let addr = site.start_submission(Default::default()).await;

    let mut c = starttls(addr, anonymous_config(ca.cert_pem())).await;
    let token = site.token_key().issue("bob@ours.test", now_unix(), 300).unwrap();
    let response = STANDARD.encode(format!("user=bob@ours.test\u{1}auth=Bearer {token}\u{1}\u{1}"));
    assert_eq!(c.cmd(&format!("AUTH XOAUTH2 {response}")).await.0, 235);
    for ending in FAKE_ENDINGS {
        attempt(&mut c, "bob@ours.test", ending).await;
    }
    assert!(site.inbox(alice).await.is_empty());
    assert!(site.store.meta.queue().await.unwrap().is_empty());
}
