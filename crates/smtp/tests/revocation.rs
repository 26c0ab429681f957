//! Submission after the login ended: a logout (revoked session) or a
//! suspended mailbox stops an open submission session at MAIL FROM, and a
//! message whose sender's login ended during DATA is not accepted.

mod support;

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use mss_core::MailboxState;
use mss_identity::{Method, Person, SessionAuthority};
use mss_store::now_unix;
use mss_trust::pki::CertificateAuthority;
use support::{Site, anonymous_config, starttls};
use tokio::io::AsyncBufReadExt;
use tokio::sync::Notify;

fn xoauth2(user: &str, token: &str) -> String {
    STANDARD.encode(format!("user={user}\u{1}auth=Bearer {token}\u{1}\u{1}"))
}

/// Whether the server ended the connection (over TLS without close_notify
/// the end is an unexpected EOF).
async fn ended<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(c: &mut support::Client<S>) -> bool {
    let mut line = String::new();
    let read = tokio::time::timeout(std::time::Duration::from_secs(5), c.io.read_line(&mut line)).await;
    matches!(read, Ok(Ok(0) | Err(_)))
}

#[tokio::test]
async fn a_logout_stops_an_open_submission_session_at_mail_from() {
    let ca = CertificateAuthority::generate("IGC-Santé TEST Racine", "TEST").unwrap();
    let ours = Site::new(&ca, "ours.test").await;
    ours.mailbox("alice@ours.test").await;
    let submission = ours.start_submission(Arc::new(Notify::new())).await;
    let authority = SessionAuthority::new(Arc::new(ours.token_key()), ours.store.meta.clone());
    let person = Person {
        national_id: "810003621892".parse().unwrap(),
        first_name: "Alice".into(),
        last_name: "Martin".into(),
        finess: vec![],
    };
    let tokens = authority.open(&person, Method::Psc, now_unix()).await.unwrap();
    let mut c = starttls(submission, anonymous_config(ca.cert_pem())).await;
    let (code, text) = c.cmd(&format!("AUTH XOAUTH2 {}", xoauth2("alice@ours.test", &tokens.access_token))).await;
    assert_eq!(code, 235, "{text}");
    let sid = authority.verify(&tokens.access_token, now_unix()).await.unwrap().session;
    authority.close(&sid, now_unix()).await.unwrap();
    let (code, text) = c.cmd("MAIL FROM:<alice@ours.test>").await;
    assert_eq!(code, 421, "{text}");
    assert!(text.contains("4.7.0 Session revoked"), "{text}");
    assert!(ended(&mut c).await, "the session ends");
}

#[tokio::test]
async fn a_message_is_refused_when_the_mailbox_was_suspended_during_the_transaction() {
    let ca = CertificateAuthority::generate("IGC-Santé TEST Racine", "TEST").unwrap();
    let ours = Site::new(&ca, "ours.test").await;
    let alice = ours.mailbox("alice@ours.test").await;
    let bob = ours.mailbox("bob@ours.test").await;
    let submission = ours.start_submission(Arc::new(Notify::new())).await;
    let mut c = starttls(submission, anonymous_config(ca.cert_pem())).await;
    let token = ours.token_key().issue("alice@ours.test", now_unix(), 300).unwrap();
    assert_eq!(c.cmd(&format!("AUTH XOAUTH2 {}", xoauth2("alice@ours.test", &token))).await.0, 235);
    assert_eq!(c.cmd("MAIL FROM:<alice@ours.test>").await.0, 250);
    assert_eq!(c.cmd("RCPT TO:<bob@ours.test>").await.0, 250);
    assert_eq!(c.cmd("DATA").await.0, 354);
    let meta = &ours.store.meta;
    assert!(meta.change_state(alice, MailboxState::Active, MailboxState::Suspended, Some("test")).await.unwrap());
    let (code, text) =
        c.cmd("From: Alice <alice@ours.test>\r\nTo: <bob@ours.test>\r\nSubject: Ordonnance\r\n\r\nBonjour\r\n.").await;
    assert_eq!(code, 421, "{text}");
    assert!(ended(&mut c).await, "the session ends after {text}");
    assert!(ours.inbox(bob).await.is_empty(), "nothing was delivered");
}
