//! The inbound MTA against real TLS clients on loopback: who may deliver,
//! what is refused and why, and what lands in the store.

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use mss_smtp::Limits;
use mss_store::{MailboxId, Store};
use mss_trust::pki::{CertificateAuthority, IssuedCertificate, OperatorIdentity};
use support::{Site, anonymous_config, client_config, connect, operator_certificate, starttls};
use tokio::io::AsyncWriteExt;
use tokio_rustls::rustls;

const RECIPIENT: &str = "alice.martin@ours.test";
const MAX_BYTES: usize = 64 * 1024;

struct Harness {
    site: Site,
    store: Store,
    addr: SocketAddr,
    ca: CertificateAuthority,
    /// A peer operator whose DN the liste blanche names for `peer.test`.
    peer: IssuedCertificate,
    mailbox: MailboxId,
}

async fn harness(limits: Limits) -> Harness {
    let ca = CertificateAuthority::generate("IGC-Santé TEST Racine", "TEST").unwrap();
    let site = Site::new(&ca, "ours.test").await;
    let peer = operator_certificate(&ca, "mss.peer.test");
    let mailbox = site.mailbox(RECIPIENT).await;
    site.trust("peer.test", &peer.subject.to_string()).await;
    site.trust("other.test", "CN=mss.other.test,OU=1,O=OTHER,ST=Paris (75),C=FR").await;
    let addr = site.start_inbound(limits).await;
    Harness { store: site.store.clone(), site, addr, ca, peer, mailbox }
}

fn test_limits() -> Limits {
    Limits { max_message_bytes: MAX_BYTES, command_timeout: Duration::from_secs(10), ..Limits::default() }
}

const MESSAGE: &str = "From: <bob@peer.test>\r\nTo: <alice.martin@ours.test>\r\nSubject: Ordonnance\r\n\r\nBonjour,\r\n..ligne qui commence par un point\r\n";

async fn inbox(h: &Harness) -> Vec<Vec<u8>> {
    h.site.inbox(h.mailbox).await
}

#[tokio::test]
async fn a_whitelisted_peer_delivers_into_the_inbox() {
    let h = harness(test_limits()).await;
    let mut c = starttls(h.addr, client_config(&h.peer, h.ca.cert_pem())).await;
    assert_eq!(c.cmd("MAIL FROM:<bob@peer.test> SIZE=200").await.0, 250);
    assert_eq!(c.cmd(&format!("RCPT TO:<{RECIPIENT}>")).await.0, 250);
    assert_eq!(c.cmd("DATA").await.0, 354);
    c.send(&format!("{MESSAGE}.")).await;
    let (code, text) = c.reply().await;
    assert_eq!(code, 250, "{text}");
    assert_eq!(c.cmd("QUIT").await.0, 221);

    let stored = inbox(&h).await;
    assert_eq!(stored.len(), 1);
    let stored = String::from_utf8(stored[0].clone()).unwrap();
    assert!(
        stored.starts_with("Received: from mss.peer.test (127.0.0.1)\r\n\tby mss.ours.test (mss) with ESMTPS"),
        "{stored}"
    );
    let body = stored.split_once("\r\nFrom: ").map(|(_, rest)| format!("From: {rest}")).unwrap();
    assert_eq!(body, MESSAGE.replace("\r\n..", "\r\n."), "dot-unstuffed, byte for byte");
    // Read once on arrival, kept with the message (issue 14).
    let folder = h.store.meta.folder(h.mailbox, mss_store::INBOX).await.unwrap().unwrap();
    let facts = h.store.meta.facts(folder.id, &[1]).await.unwrap();
    let facts = mss_message::stored::decode(&facts[0].1).unwrap();
    assert_eq!(facts.envelope.subject.as_deref(), Some("Ordonnance"));
    assert_eq!(facts.envelope.originators.unwrap().from[0].address, "bob@peer.test");
}

#[tokio::test]
async fn pipelined_transactions_are_answered_in_order() {
    let h = harness(test_limits()).await;
    let mut c = starttls(h.addr, client_config(&h.peer, h.ca.cert_pem())).await;
    // RFC 2920: the whole transaction in one write.
    c.send(&format!("MAIL FROM:<bob@peer.test>\r\nRCPT TO:<{RECIPIENT}>\r\nRCPT TO:<nobody@ours.test>\r\nDATA")).await;
    assert_eq!(c.reply().await.0, 250);
    assert_eq!(c.reply().await.0, 250);
    assert_eq!(c.reply().await.0, 550);
    assert_eq!(c.reply().await.0, 354);
    c.send(&format!("{MESSAGE}.\r\nMAIL FROM:<>\r\nRCPT TO:<{RECIPIENT}>\r\nDATA")).await;
    assert_eq!(c.reply().await.0, 250);
    assert_eq!(c.reply().await.0, 250, "a bounce from a listed operator is accepted");
    assert_eq!(c.reply().await.0, 250);
    assert_eq!(c.reply().await.0, 354);
    c.send("From: <mailer-daemon@peer.test>\r\nSubject: bounce\r\n\r\nx\r\n.").await;
    assert_eq!(c.reply().await.0, 250);
    assert_eq!(inbox(&h).await.len(), 2);
}

#[tokio::test]
async fn mail_before_starttls_is_refused() {
    let h = harness(test_limits()).await;
    let mut c = connect(h.addr).await;
    assert_eq!(c.cmd("EHLO mss.peer.test").await.0, 250);
    let (code, text) = c.cmd("MAIL FROM:<bob@peer.test>").await;
    assert_eq!(code, 530, "{text}");
    assert!(text.contains("5.7.0 Must issue a STARTTLS command first"), "{text}");
    assert_eq!(c.cmd(&format!("RCPT TO:<{RECIPIENT}>")).await.0, 503);
    assert!(inbox(&h).await.is_empty());
}

/// Runs a transaction with `config` and returns the reply to MAIL FROM.
async fn mail_from(h: &Harness, config: Arc<rustls::ClientConfig>, from: &str) -> (u16, String) {
    let mut c = starttls(h.addr, config).await;
    let reply = c.cmd(&format!("MAIL FROM:<{from}>")).await;
    // Nothing may be delivered after a refusal.
    if reply.0 != 250 {
        assert_eq!(c.cmd(&format!("RCPT TO:<{RECIPIENT}>")).await.0, 503);
        assert_eq!(c.cmd("DATA").await.0, 503);
    }
    reply
}

#[tokio::test]
async fn a_peer_without_a_client_certificate_is_refused() {
    let h = harness(test_limits()).await;
    let (code, text) = mail_from(&h, anonymous_config(h.ca.cert_pem()), "bob@peer.test").await;
    assert_eq!(code, 550);
    assert!(text.contains("5.7.1 No client certificate"), "{text}");
    assert!(inbox(&h).await.is_empty());
}

#[tokio::test]
async fn a_certificate_from_another_ca_is_refused() {
    let h = harness(test_limits()).await;
    let rogue_ca = CertificateAuthority::generate("IGC-Santé TEST Racine", "TEST").unwrap();
    // Same subject DN as the whitelisted peer, but not from a trusted CA.
    let rogue = rogue_ca
        .issue_operator(&OperatorIdentity {
            host: "mss.peer.test".into(),
            organisation: "OPERATEUR mss.peer.test".into(),
            unit: "12345678900012".into(),
            state: "Paris (75)".into(),
        })
        .unwrap();
    assert_eq!(rogue.subject, h.peer.subject);
    let (code, text) = mail_from(&h, client_config(&rogue, h.ca.cert_pem()), "bob@peer.test").await;
    assert_eq!(code, 550);
    assert!(text.contains("5.7.1 Untrusted client certificate"), "{text}");
    assert!(inbox(&h).await.is_empty());
}

#[tokio::test]
async fn a_dn_that_is_not_the_listed_one_is_refused() {
    let h = harness(test_limits()).await;
    // The peer is trusted, but other.test names another operator.
    let (code, text) = mail_from(&h, client_config(&h.peer, h.ca.cert_pem()), "carol@other.test").await;
    assert_eq!(code, 550);
    assert!(text.contains("is not the one the liste blanche names for other.test"), "{text}");

    let (code, text) = mail_from(&h, client_config(&h.peer, h.ca.cert_pem()), "carol@unlisted.test").await;
    assert_eq!(code, 550);
    assert!(text.contains("Domain unlisted.test is not in the liste blanche"), "{text}");

    let stranger = operator_certificate(&h.ca, "mss.stranger.test");
    let (code, text) = mail_from(&h, client_config(&stranger, h.ca.cert_pem()), "").await;
    assert_eq!(code, 550, "a bounce from an unlisted operator: {text}");
    assert!(inbox(&h).await.is_empty());
}

#[tokio::test]
async fn only_active_mailboxes_of_our_domain_are_recipients() {
    let h = harness(test_limits()).await;
    let mut c = starttls(h.addr, client_config(&h.peer, h.ca.cert_pem())).await;
    assert_eq!(c.cmd("MAIL FROM:<bob@peer.test>").await.0, 250);
    let (code, text) = c.cmd("RCPT TO:<nobody@ours.test>").await;
    assert_eq!((code, text.contains("5.1.1")), (550, true), "{text}");
    let (code, text) = c.cmd("RCPT TO:<someone@elsewhere.test>").await;
    assert_eq!((code, text.contains("Relaying denied")), (550, true), "{text}");
    let (code, text) = c.cmd("RCPT TO:<not an address>").await;
    assert_eq!(code / 100, 5, "{text}");
    assert_eq!(c.cmd("DATA").await.0, 503, "no valid recipient");
    assert!(inbox(&h).await.is_empty());
}

#[tokio::test]
async fn oversized_messages_are_refused_and_nothing_is_stored() {
    let h = harness(test_limits()).await;
    let mut c = starttls(h.addr, client_config(&h.peer, h.ca.cert_pem())).await;
    let (code, text) = c.cmd(&format!("MAIL FROM:<bob@peer.test> SIZE={}", MAX_BYTES + 1)).await;
    assert_eq!((code, text.contains("5.3.4")), (552, true), "{text}");

    assert_eq!(c.cmd("MAIL FROM:<bob@peer.test>").await.0, 250);
    assert_eq!(c.cmd(&format!("RCPT TO:<{RECIPIENT}>")).await.0, 250);
    assert_eq!(c.cmd("DATA").await.0, 354);
    let line = "x".repeat(998);
    for _ in 0..(MAX_BYTES / 1000 + 10) {
        c.send(&line).await;
    }
    let (code, text) = c.cmd(".").await;
    assert_eq!((code, text.contains("5.3.4")), (552, true), "{text}");
    assert_eq!(c.cmd("NOOP").await.0, 250, "the session goes on");
    assert!(inbox(&h).await.is_empty());
    assert!(h.store.blobs.list().await.unwrap().is_empty(), "not even a blob");
}

#[tokio::test]
async fn bad_commands_get_errors_and_too_many_close_the_session() {
    let h = harness(test_limits()).await;
    let mut c = connect(h.addr).await;
    assert_eq!(c.cmd("MAIL FROM:<bob@peer.test>").await.0, 503, "EHLO first");
    assert_eq!(c.cmd("FROB").await.0, 500);
    let (code, text) = c.cmd(&"A".repeat(5000)).await;
    assert_eq!(code, 500, "{text}");
    // By the tenth error the server says goodbye and closes.
    let mut goodbye = None;
    for _ in 0..12 {
        c.send("FROB").await;
        match c.reply().await {
            (421, text) => {
                goodbye = Some(text);
                break;
            }
            (code, text) => assert_eq!(code, 500, "{text}"),
        }
    }
    assert!(goodbye.is_some_and(|t| t.contains("Too many errors")));
    assert!(c.closed().await);
}

#[tokio::test]
async fn a_stalled_client_is_disconnected() {
    let h = harness(Limits { command_timeout: Duration::from_millis(500), ..test_limits() }).await;
    let mut c = connect(h.addr).await;
    c.send("EHLO half").await;
    c.reply().await;
    c.io.get_mut().write_all(b"MAIL FROM:<never-ending").await.unwrap();
    let (code, text) = c.reply().await;
    assert_eq!(code, 421, "{text}");
    assert!(text.contains("4.4.2"));
    assert!(c.closed().await);
}

#[tokio::test]
async fn a_peer_trickling_message_data_is_cut_at_the_data_deadline() {
    let h = harness(Limits { data_deadline: Duration::from_millis(800), ..test_limits() }).await;
    let mut c = starttls(h.addr, client_config(&h.peer, h.ca.cert_pem())).await;
    assert_eq!(c.cmd("MAIL FROM:<bob@peer.test>").await.0, 250);
    assert_eq!(c.cmd(&format!("RCPT TO:<{RECIPIENT}>")).await.0, 250);
    assert_eq!(c.cmd("DATA").await.0, 354);
    let started = std::time::Instant::now();
    // A line every 100 ms: each piece well within the data timeout, the
    // whole never ends.
    while started.elapsed() < Duration::from_secs(3) {
        if c.io.get_mut().write_all(b"Subject: x\r\n").await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (code, text) = tokio::time::timeout(Duration::from_secs(2), c.reply()).await.expect("cut at the deadline");
    assert_eq!(code, 421, "{text}");
    assert!(text.contains("4.4.2"), "{text}");
    assert!(started.elapsed() < Duration::from_secs(4), "cut after {:?}", started.elapsed());
    assert!(inbox(&h).await.is_empty());
}

#[tokio::test]
async fn a_client_trickling_a_command_is_cut_at_the_command_timeout() {
    let h = harness(Limits { command_timeout: Duration::from_millis(800), ..test_limits() }).await;
    let mut c = connect(h.addr).await;
    c.send("EHLO slow").await;
    c.reply().await;
    let started = std::time::Instant::now();
    // A byte every 200 ms: each read is well within the timeout, the
    // command never is.
    for byte in b"MAIL FROM:<slowloris@peer.test>" {
        if c.io.get_mut().write_all(&[*byte]).await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        if started.elapsed() > Duration::from_secs(2) {
            break;
        }
    }
    let (code, text) = c.reply().await;
    assert_eq!(code, 421, "{text}");
    assert!(text.contains("4.4.2"), "{text}");
    assert!(started.elapsed() < Duration::from_secs(2), "cut after {:?}", started.elapsed());
}

/// A plain connection from `ip` (any of 127/8 is loopback), greeted or not.
async fn connect_from(ip: [u8; 4], addr: std::net::SocketAddr) -> support::Client<tokio::net::TcpStream> {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind((std::net::Ipv4Addr::from(ip), 0).into()).unwrap();
    support::Client { io: tokio::io::BufReader::new(socket.connect(addr).await.unwrap()) }
}

#[tokio::test]
async fn one_address_cannot_take_every_slot() {
    let h = harness(Limits { max_unproven_per_address: 3, ..test_limits() }).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(connect(h.addr).await);
    }
    let mut fourth = connect_from([127, 0, 0, 1], h.addr).await;
    let (code, text) = fourth.reply().await;
    assert_eq!((code, text.contains("4.7.0 Too many connections")), (421, true), "{text}");
    // Another address is served.
    assert_eq!(connect_from([127, 0, 0, 2], h.addr).await.reply().await.0, 220);
    // A slot given back is free again.
    drop(held.pop());
    tokio::time::sleep(Duration::from_millis(200)).await;
    connect(h.addr).await;
}

/// The attack: many hosts open idle connections until every slot is taken.
/// They only fill the pool of unproven connections; a trust-space peer
/// arriving after them still gets in (the oldest stranger makes room) and
/// delivers, and a stranger that never proves itself is closed after its
/// lifetime.
#[tokio::test]
async fn idle_strangers_cannot_lock_out_a_trusted_peer() {
    let limits = Limits {
        max_unproven: 16,
        max_unproven_per_address: 4,
        unproven_lifetime: Duration::from_secs(3),
        ..test_limits()
    };
    let h = harness(limits).await;
    let mut strangers = Vec::new();
    for host in 0..8u8 {
        for _ in 0..4 {
            strangers.push(connect_from([127, 0, 3, host + 1], h.addr).await);
        }
    }
    // 32 strangers for 16 places: the first 16 were pushed out by the next.
    let mut greeted = 0;
    for stranger in &mut strangers {
        let (code, _) = stranger.reply().await;
        greeted += usize::from(code == 220);
    }
    assert_eq!(greeted, 32, "every stranger was admitted, the oldest then closed");
    let mut c = starttls(h.addr, client_config(&h.peer, h.ca.cert_pem())).await;
    assert_eq!(c.cmd("MAIL FROM:<bob@peer.test>").await.0, 250);
    assert_eq!(c.cmd(&format!("RCPT TO:<{RECIPIENT}>")).await.0, 250);
    assert_eq!(c.cmd("DATA").await.0, 354);
    c.send(&format!("{MESSAGE}.")).await;
    assert_eq!(c.reply().await.0, 250);
    // Past their lifetime the strangers are gone; the proven peer stays.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let mut closed = 0;
    for stranger in &mut strangers {
        use tokio::io::AsyncReadExt;
        let mut byte = [0u8; 1];
        let read = tokio::time::timeout(Duration::from_secs(1), stranger.io.read(&mut byte)).await;
        closed += usize::from(matches!(read, Ok(Ok(0)) | Ok(Err(_))));
    }
    assert_eq!(closed, 32, "unproven connections do not outlive their lifetime");
    assert_eq!(c.cmd("NOOP").await.0, 250, "the trusted peer is still connected");
    assert_eq!(inbox(&h).await.len(), 1);
}

#[tokio::test]
async fn a_peer_may_use_implicit_tls_and_the_same_rules_apply() {
    let h = harness(test_limits()).await;
    let addr = h.site.start_implicit_tls_inbound().await;
    for (config, expected) in [(client_config(&h.peer, h.ca.cert_pem()), 250), (anonymous_config(h.ca.cert_pem()), 550)]
    {
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let name = tokio_rustls::rustls::pki_types::ServerName::try_from(support::OURS_HOST).unwrap();
        let tls = tokio_rustls::TlsConnector::from(config).connect(name, tcp).await.unwrap();
        let mut c = support::Client { io: tokio::io::BufReader::new(tls) };
        assert_eq!(c.reply().await.0, 220);
        let (_, ehlo) = c.cmd("EHLO mss.peer.test").await;
        assert!(!ehlo.contains("STARTTLS"), "{ehlo}");
        assert_eq!(c.cmd("MAIL FROM:<bob@peer.test>").await.0, expected);
    }
}
