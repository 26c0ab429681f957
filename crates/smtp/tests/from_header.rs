//! Who a message says it is from (issue 13). On submission a user's
//! `From:`, `Sender:` and `Reply-To:` name only mailboxes they may send as,
//! in exactly one `From:` field; on the MTA port a trusted peer's `From:`
//! names only domains the liste blanche lists for its certificate DN,
//! bounces included.

mod support;

use std::net::SocketAddr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use mss_smtp::Limits;
use mss_store::{MailboxId, now_unix};
use mss_trust::pki::{CertificateAuthority, IssuedCertificate};
use support::{Client, Site, anonymous_config, client_config, operator_certificate, starttls};
use tokio::net::TcpStream;

type TlsClient = Client<tokio_rustls::client::TlsStream<TcpStream>>;

/// Runs one transaction; the reply to the end of data.
async fn send(c: &mut TlsClient, from: &str, to: &str, header: &str) -> (u16, String) {
    assert_eq!(c.cmd(&format!("MAIL FROM:<{from}>")).await.0, 250);
    assert_eq!(c.cmd(&format!("RCPT TO:<{to}>")).await.0, 250);
    assert_eq!(c.cmd("DATA").await.0, 354);
    c.cmd(&format!("{header}\r\nTo: <{to}>\r\nSubject: Ordonnance\r\n\r\nBonjour\r\n.")).await
}

struct Submission {
    ca: CertificateAuthority,
    ours: Site,
    addr: SocketAddr,
    bob: MailboxId,
}

/// Alice and Bob at ours.test; Alice is an Utilisateur of the pharmacy's
/// organisational mailbox.
async fn submission() -> Submission {
    let ca = CertificateAuthority::generate("IGC-Santé TEST Racine", "TEST").unwrap();
    let ours = Site::new(&ca, "ours.test").await;
    ours.mailbox("alice@ours.test").await;
    let bob = ours.mailbox("bob@ours.test").await;
    let pharmacy = mss_store::NewMailbox {
        address: "pharmacie@ours.test".parse().unwrap(),
        kind: mss_core::MailboxKind::Organisational,
        state: mss_core::MailboxState::Active,
        national_id: None,
        finess: Some("750000002".parse().unwrap()),
        first_name: None,
        last_name: None,
        display_name: "Pharmacie".into(),
        service: None,
        liste_rouge: false,
        certificate_dn: None,
    };
    let pharmacy = ours.store.meta.create_mailbox(&pharmacy).await.unwrap();
    // Site::mailbox gives every person this national id.
    let alice_id = "810003621892".parse().unwrap();
    ours.store.meta.grant_role(pharmacy.id, &alice_id, mss_core::Role::Utilisateur).await.unwrap();
    let addr = ours.start_submission(Default::default()).await;
    Submission { ca, ours, addr, bob }
}

async fn alice(s: &Submission) -> TlsClient {
    let mut c = starttls(s.addr, anonymous_config(s.ca.cert_pem())).await;
    let token = s.ours.token_key().issue("alice@ours.test", now_unix(), 300).unwrap();
    let response = STANDARD.encode(format!("user=alice@ours.test\u{1}auth=Bearer {token}\u{1}\u{1}"));
    assert_eq!(c.cmd(&format!("AUTH XOAUTH2 {response}")).await.0, 235);
    c
}

#[tokio::test]
async fn a_user_cannot_hide_another_professional_behind_a_second_from() {
    let s = submission().await;
    let mut c = alice(&s).await;
    // Display shows the first From:, policy used to read the last one.
    for header in [
        "From: Bob <bob@ours.test>\r\nFrom: Alice <alice@ours.test>",
        "From: Alice <alice@ours.test>\r\nFrom: Bob <bob@ours.test>",
        "From: Alice <alice@ours.test>\r\nFROM: Alice <alice@ours.test>",
    ] {
        let (code, text) = send(&mut c, "alice@ours.test", "bob@ours.test", header).await;
        assert_eq!(code, 550, "{header}: {text}");
        assert!(text.contains("2 From: header fields"), "{header}: {text}");
    }
    let (code, text) = send(&mut c, "alice@ours.test", "bob@ours.test", "Fr om: <bob@ours.test>").await;
    assert_eq!(code, 550, "a line a lenient reader would take for From: {text}");
    assert!(s.ours.inbox(s.bob).await.is_empty());
}

#[tokio::test]
async fn sender_and_reply_to_name_only_mailboxes_the_user_may_send_as() {
    let s = submission().await;
    let mut c = alice(&s).await;
    for (header, why) in [
        ("From: <alice@ours.test>\r\nSender: Bob <bob@ours.test>", "alice@ours.test may not send as bob@ours.test"),
        ("From: <alice@ours.test>\r\nReply-To: <bob@ours.test>", "alice@ours.test may not send as bob@ours.test"),
        ("From: <alice@ours.test>\r\nReply-To: <alice@ours.test>, <x@elsewhere.test>", "x@elsewhere.test"),
        ("From: <alice@ours.test>\r\nReply-To: <alice@ours.test>\r\nReply-To: <alice@ours.test>", "2 Reply-To:"),
        ("From: <alice@ours.test>\r\nSender: <alice@ours.test>\r\nSender: <alice@ours.test>", "2 Sender:"),
        ("From: <alice@ours.test>\r\nSender: <alice@ours.test>, <bob@ours.test>", "Sender:"),
    ] {
        let (code, text) = send(&mut c, "alice@ours.test", "bob@ours.test", header).await;
        assert_eq!(code, 550, "{header}: {text}");
        assert!(text.contains(why), "{header}: {text}");
    }
    assert!(s.ours.inbox(s.bob).await.is_empty());
    // Her own mailbox, and the pharmacy's that her role lets her send for.
    for header in [
        "From: <alice@ours.test>\r\nReply-To: <alice@ours.test>",
        "From: <alice@ours.test>\r\nReply-To: Pharmacie <pharmacie@ours.test>, <alice@ours.test>",
        "From: <alice@ours.test>\r\nSender: <pharmacie@ours.test>",
    ] {
        let (code, text) = send(&mut c, "alice@ours.test", "bob@ours.test", header).await;
        assert_eq!(code, 250, "{header}: {text}");
    }
    assert_eq!(s.ours.inbox(s.bob).await.len(), 3);
}

struct Mta {
    ca: CertificateAuthority,
    ours: Site,
    addr: SocketAddr,
    /// Listed for peer.test and peer-sante.test.
    peer: IssuedCertificate,
    alice: MailboxId,
}

async fn mta() -> Mta {
    let ca = CertificateAuthority::generate("IGC-Santé TEST Racine", "TEST").unwrap();
    let ours = Site::new(&ca, "ours.test").await;
    let peer = operator_certificate(&ca, "mss.peer.test");
    let alice = ours.mailbox("alice@ours.test").await;
    ours.trust("peer.test", &peer.subject.to_string()).await;
    ours.trust("peer-sante.test", &peer.subject.to_string()).await;
    let other = operator_certificate(&ca, "mss.other.test");
    ours.trust("other.test", &other.subject.to_string()).await;
    let addr = ours.start_inbound(Limits::default()).await;
    Mta { ca, ours, addr, peer, alice }
}

#[tokio::test]
async fn a_trusted_peer_may_not_write_another_operators_domain_in_from() {
    let m = mta().await;
    let mut c = starttls(m.addr, client_config(&m.peer, m.ca.cert_pem())).await;
    let dn = m.peer.subject.to_string();
    for (envelope, header, domain) in [
        ("bob@peer.test", "From: Carol <carol@other.test>", "other.test"),
        ("bob@peer.test", "From: <x@unlisted.test>", "unlisted.test"),
        // A bounce carries content too: its From: is held to the same rule.
        ("", "From: Mail Delivery System <mailer-daemon@other.test>", "other.test"),
        ("bob@peer.test", "From: <bob@peer.test>\r\nSender: <carol@other.test>", "other.test"),
    ] {
        let (code, text) = send(&mut c, envelope, "alice@ours.test", header).await;
        assert_eq!(code, 550, "{header}: {text}");
        assert!(text.contains("5.7.1"), "{text}");
        assert!(
            text.contains(&format!("domain {domain} is not one the liste blanche lists for certificate DN {dn}")),
            "{header}: {text}"
        );
    }
    let (code, text) =
        send(&mut c, "bob@peer.test", "alice@ours.test", "From: <bob@peer.test>\r\nFrom: <carol@other.test>").await;
    assert_eq!(code, 550, "{text}");
    assert!(text.contains("2 From: header fields"), "{text}");
    let (code, text) = send(&mut c, "", "alice@ours.test", "X-Note: no From").await;
    assert_eq!(code, 550, "{text}");
    assert!(m.ours.inbox(m.alice).await.is_empty());

    // The peer's own domains, for a message and for a bounce.
    for (envelope, header) in [
        ("bob@peer.test", "From: Bob <bob@peer.test>"),
        ("bob@peer.test", "From: Bob <bob@peer-sante.test>"),
        ("", "From: Mail Delivery System <mailer-daemon@peer.test>"),
    ] {
        let (code, text) = send(&mut c, envelope, "alice@ours.test", header).await;
        assert_eq!(code, 250, "{header}: {text}");
    }
    assert_eq!(m.ours.inbox(m.alice).await.len(), 3);
}
