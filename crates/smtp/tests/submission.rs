//! Submission: our users authenticate with a bearer token and send as
//! themselves, to our mailboxes and into the trust space; nobody else sends
//! anything anywhere.

mod support;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use mss_smtp::{Limits, Outbound, RetryPolicy};
use mss_store::{MailboxId, now_unix};
use mss_trust::pki::CertificateAuthority;
use support::{Client, Site, anonymous_config, client_config, connect, operator_certificate, starttls};
use tokio::net::TcpStream;
use tokio::sync::Notify;

type TlsClient = Client<tokio_rustls::client::TlsStream<TcpStream>>;

struct World {
    ca: CertificateAuthority,
    ours: Site,
    peer: Site,
    submission: SocketAddr,
    wake: Arc<Notify>,
    bob: MailboxId,
}

async fn world() -> World {
    let ca = CertificateAuthority::generate("IGC-Santé TEST Racine", "TEST").unwrap();
    let ours = Site::new(&ca, "ours.test").await;
    let peer = Site::new(&ca, "peer.test").await;
    ours.trust("peer.test", &peer.cert.subject.to_string()).await;
    peer.trust("ours.test", &ours.cert.subject.to_string()).await;
    ours.mailbox("alice@ours.test").await;
    let bob = ours.mailbox("bob@ours.test").await;
    let wake = Arc::new(Notify::new());
    let submission = ours.start_submission(wake.clone()).await;
    World { ca, ours, peer, submission, wake, bob }
}

fn xoauth2(user: &str, token: &str) -> String {
    STANDARD.encode(format!("user={user}\u{1}auth=Bearer {token}\u{1}\u{1}"))
}

async fn logged_in(w: &World, user: &str) -> TlsClient {
    let mut c = starttls(w.submission, anonymous_config(w.ca.cert_pem())).await;
    let token = w.ours.token_key().issue(user, now_unix(), 300).unwrap();
    let (code, text) = c.cmd(&format!("AUTH XOAUTH2 {}", xoauth2(user, &token))).await;
    assert_eq!(code, 235, "{text}");
    c
}

fn message(from: &str, to: &str) -> String {
    format!("From: Alice <{from}>\r\nTo: <{to}>\r\nSubject: Ordonnance\r\n\r\nBonjour\r\n.")
}

#[tokio::test]
async fn an_unauthenticated_client_cannot_send_anywhere() {
    let w = world().await;
    // In clear: neither mail nor authentication.
    let mut plain = connect(w.submission).await;
    assert_eq!(plain.cmd("EHLO client").await.0, 250);
    assert_eq!(plain.cmd("MAIL FROM:<alice@ours.test>").await.0, 530);
    assert_eq!(plain.cmd(&format!("AUTH XOAUTH2 {}", xoauth2("alice@ours.test", "x"))).await.0, 530);

    let mut c = starttls(w.submission, anonymous_config(w.ca.cert_pem())).await;
    let (code, text) = c.cmd("MAIL FROM:<alice@ours.test>").await;
    assert_eq!(code, 530, "{text}");
    assert!(text.contains("Authentication required"));
    for to in ["bob@ours.test", "carol@peer.test", "someone@gmail.com"] {
        assert_eq!(c.cmd(&format!("RCPT TO:<{to}>")).await.0, 503);
    }
    assert_eq!(c.cmd("DATA").await.0, 503);

    // Bad credentials: a forged token, a token of another operator, a user that is not the token's.
    let foreign = Site::new(&w.ca, "ours.test").await.token_key().issue("alice@ours.test", now_unix(), 300).unwrap();
    let good = w.ours.token_key().issue("alice@ours.test", now_unix(), 300).unwrap();
    for response in [
        xoauth2("alice@ours.test", "not.a.token"),
        xoauth2("alice@ours.test", &foreign),
        xoauth2("bob@ours.test", &good),
    ] {
        let (code, text) = c.cmd(&format!("AUTH XOAUTH2 {response}")).await;
        assert_eq!(code, 535, "{text}");
    }
    let plain = STANDARD.encode(format!("\0alice@ours.test\0{good}"));
    assert_eq!(c.cmd(&format!("AUTH PLAIN {plain}")).await.0, 535, "a token is no password unless configured");
    assert_eq!(c.cmd("MAIL FROM:<alice@ours.test>").await.0, 530, "still not authenticated");
    assert!(w.ours.inbox(w.bob).await.is_empty());
    assert!(w.ours.store.meta.queue().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_user_sends_to_our_mailboxes_and_into_the_trust_space() {
    let w = world().await;
    let carol = w.peer.mailbox("carol@peer.test").await;
    let mut c = logged_in(&w, "alice@ours.test").await;
    assert_eq!(c.cmd("MAIL FROM:<alice@ours.test>").await.0, 250);
    assert_eq!(c.cmd("RCPT TO:<bob@ours.test>").await.0, 250);
    assert_eq!(c.cmd("RCPT TO:<carol@peer.test>").await.0, 250);
    assert_eq!(c.cmd("RCPT TO:<279035121518989@patient.mssante.fr>").await.0, 250, "patients are reachable");
    let (code, text) = c.cmd("RCPT TO:<someone@gmail.com>").await;
    assert_eq!(code, 550, "{text}");
    assert!(text.contains("outside the MSSanté trust space"), "{text}");
    assert_eq!(c.cmd("DATA").await.0, 354);
    let (code, text) = c.cmd(&message("alice@ours.test", "bob@ours.test")).await;
    assert_eq!(code, 250, "{text}");

    let local = w.ours.inbox(w.bob).await;
    assert_eq!(local.len(), 1);
    let alice = w.ours.store.meta.mailbox(&"alice@ours.test".parse().unwrap()).await.unwrap().unwrap();
    let sent = w.ours.store.meta.folder_messages(alice.id, mss_store::SENT).await.unwrap();
    assert_eq!(sent.len(), 1, "a copy in the sender's Sent");
    assert_eq!(
        sent[0].blob,
        w.ours.store.meta.folder_messages(w.bob, mss_store::INBOX).await.unwrap()[0].blob,
        "stored once"
    );
    assert!(String::from_utf8_lossy(&local[0]).contains("with ESMTPSA"), "authenticated submission is traced");
    let backlog = w.ours.store.meta.facts_backlog(mss_message::stored::VERSION).await.unwrap();
    assert_eq!(backlog, mss_store::FactsBacklog::default(), "facts kept with the INBOX and Sent copies");
    w.ours.store.audit.flush().await;
    let filter = mss_store::AuditFilter { action_prefix: Some("smtp.".into()), limit: 10, ..Default::default() };
    let trail: Vec<(String, String, String)> = w
        .ours
        .store
        .meta
        .audit_entries(&filter)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.entry.actor, e.entry.action, e.entry.result))
        .collect();
    let alice_did = |action: &str| ("alice@ours.test".to_string(), action.to_string(), "ok".to_string());
    assert_eq!(trail, [alice_did("smtp.submit"), alice_did("smtp.login")], "in the audit trail, newest first");
    let queued: Vec<String> = w.ours.store.meta.queue().await.unwrap().into_iter().map(|r| r.recipient).collect();
    assert_eq!(queued, ["carol@peer.test", "279035121518989@patient.mssante.fr"]);

    // The queue worker, woken by the submission, takes it to the peer.
    tokio::time::timeout(std::time::Duration::from_secs(5), w.wake.notified()).await.ok();
    let peer_addr = w.peer.start_inbound(Limits::default()).await;
    let outbound = Outbound {
        store: w.ours.store.clone(),
        domain: "ours.test".parse().unwrap(),
        hostname: w.ours.host.clone(),
        tls: w.ours.tls.trust_space_client().unwrap(),
        routes: mss_smtp::outbound::Routes { fixed: HashMap::from([("peer.test".to_string(), peer_addr)]), dns: None },
        peers: w.ours.peers.clone(),
        retry: RetryPolicy::default(),
        wake: w.wake.clone(),
    };
    outbound.run_once().await.unwrap();
    assert_eq!(w.peer.inbox(carol).await.len(), 1, "submission -> queue -> mutual TLS -> peer inbox");
}

#[tokio::test]
async fn a_user_may_only_send_as_themselves() {
    let w = world().await;
    let mut c = logged_in(&w, "alice@ours.test").await;
    let (code, text) = c.cmd("MAIL FROM:<bob@ours.test>").await;
    assert_eq!(code, 550, "{text}");
    assert!(text.contains("may not send as bob@ours.test"), "{text}");
    assert_eq!(c.cmd("MAIL FROM:<>").await.0, 550);
    assert_eq!(c.cmd("MAIL FROM:<alice@ours.test>").await.0, 250);
    assert_eq!(c.cmd("RCPT TO:<bob@ours.test>").await.0, 250);
    assert_eq!(c.cmd("DATA").await.0, 354);
    let (code, text) = c.cmd(&message("bob@ours.test", "bob@ours.test")).await;
    assert_eq!(code, 550, "a forged From: header: {text}");
    for from in [
        "From: Alice <alice@ours.test>, Bob <bob@ours.test>",
        "From: \"alice@ours.test\" <bob@ours.test>",
        "Subject: no From at all",
    ] {
        assert_eq!(c.cmd("MAIL FROM:<alice@ours.test>").await.0, 250);
        assert_eq!(c.cmd("RCPT TO:<bob@ours.test>").await.0, 250);
        assert_eq!(c.cmd("DATA").await.0, 354);
        let (code, text) = c.cmd(&format!("{from}\r\nTo: <bob@ours.test>\r\n\r\nx\r\n.")).await;
        assert_eq!(code, 550, "{from}: {text}");
    }
    // An encoded display name is fine.
    assert_eq!(c.cmd("MAIL FROM:<alice@ours.test>").await.0, 250);
    assert_eq!(c.cmd("RCPT TO:<bob@ours.test>").await.0, 250);
    assert_eq!(c.cmd("DATA").await.0, 354);
    let (code, text) = c.cmd("From: =?utf-8?q?=C3=89lodie?= <alice@ours.test>\r\n\r\nx\r\n.").await;
    assert_eq!(code, 250, "{text}");
    assert_eq!(w.ours.inbox(w.bob).await.len(), 1, "only the honest one");
    let alice = w.ours.store.meta.mailbox(&"alice@ours.test".parse().unwrap()).await.unwrap().unwrap();
    let sent = w.ours.store.meta.folder_messages(alice.id, mss_store::SENT).await.unwrap();
    assert_eq!(sent.len(), 1, "no sent copy of a refused message");
}

#[tokio::test]
async fn oauthbearer_with_a_continuation_line_works_too() {
    let w = world().await;
    let mut c = starttls(w.submission, anonymous_config(w.ca.cert_pem())).await;
    let (code, ehlo) = c.cmd("EHLO client").await;
    assert_eq!(code, 250);
    assert!(ehlo.contains("AUTH XOAUTH2 OAUTHBEARER"), "{ehlo}");
    assert_eq!(c.cmd("AUTH OAUTHBEARER").await.0, 334);
    let token = w.ours.token_key().issue("alice@ours.test", now_unix(), 300).unwrap();
    let response = STANDARD.encode(format!("n,a=alice@ours.test,\u{1}auth=Bearer {token}\u{1}\u{1}"));
    assert_eq!(c.cmd(&response).await.0, 235);
    assert_eq!(c.cmd("AUTH OAUTHBEARER").await.0, 503, "only once");
    let expired = w.ours.token_key().issue("alice@ours.test", now_unix() - 600, 300).unwrap();
    let mut again = starttls(w.submission, anonymous_config(w.ca.cert_pem())).await;
    assert_eq!(again.cmd(&format!("AUTH XOAUTH2 {}", xoauth2("alice@ours.test", &expired))).await.0, 535);
}

#[tokio::test]
async fn software_authenticates_with_the_certificate_bound_to_its_applicative_mailbox() {
    let w = world().await;
    let lgo = operator_certificate(&w.ca, "lgo.ours.test");
    let app = mss_store::NewMailbox {
        address: "app-lgo@ours.test".parse().unwrap(),
        kind: mss_core::MailboxKind::Applicative,
        state: mss_core::MailboxState::Active,
        national_id: None,
        finess: Some("750000002".parse().unwrap()),
        first_name: None,
        last_name: None,
        display_name: "LGO Officine".into(),
        service: None,
        liste_rouge: false,
        certificate_dn: Some(lgo.subject.to_string()),
    };
    w.ours.store.meta.create_mailbox(&app).await.unwrap();

    let mut c = starttls(w.submission, client_config(&lgo, w.ca.cert_pem())).await;
    let (_, ehlo) = c.cmd("EHLO lgo").await;
    assert!(ehlo.contains("AUTH XOAUTH2 OAUTHBEARER EXTERNAL"), "{ehlo}");
    let (code, text) = c.cmd("AUTH EXTERNAL =").await;
    assert_eq!(code, 235, "{text}");
    assert_eq!(c.cmd("MAIL FROM:<app-lgo@ours.test>").await.0, 250);
    assert_eq!(c.cmd("RCPT TO:<bob@ours.test>").await.0, 250);
    assert_eq!(c.cmd("DATA").await.0, 354);
    assert_eq!(c.cmd(&message("app-lgo@ours.test", "bob@ours.test")).await.0, 250);
    assert_eq!(w.ours.inbox(w.bob).await.len(), 1);

    // A trusted certificate bound to nothing, a wrong authorization identity, no certificate.
    let stranger = operator_certificate(&w.ca, "other.ours.test");
    let mut c = starttls(w.submission, client_config(&stranger, w.ca.cert_pem())).await;
    assert_eq!(c.cmd("AUTH EXTERNAL =").await.0, 535);
    let mut c = starttls(w.submission, client_config(&lgo, w.ca.cert_pem())).await;
    assert_eq!(c.cmd(&format!("AUTH EXTERNAL {}", STANDARD.encode("bob@ours.test"))).await.0, 535);
    let mut c = starttls(w.submission, anonymous_config(w.ca.cert_pem())).await;
    let (_, ehlo) = c.cmd("EHLO anonymous").await;
    assert!(!ehlo.contains("EXTERNAL"), "{ehlo}");
    assert_eq!(c.cmd("AUTH EXTERNAL =").await.0, 535);
    assert_eq!(w.ours.inbox(w.bob).await.len(), 1, "nothing more");
}

#[tokio::test]
async fn implicit_tls_submission_greets_inside_tls() {
    let w = world().await;
    let addr = w.ours.start_implicit_tls_submission(w.wake.clone()).await;
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = tokio_rustls::rustls::pki_types::ServerName::try_from(support::OURS_HOST).unwrap();
    let tls = tokio_rustls::TlsConnector::from(anonymous_config(w.ca.cert_pem())).connect(name, tcp).await.unwrap();
    let mut c = Client { io: tokio::io::BufReader::new(tls) };
    assert_eq!(c.reply().await.0, 220);
    let (_, ehlo) = c.cmd("EHLO client").await;
    assert!(ehlo.contains("AUTH XOAUTH2") && !ehlo.contains("STARTTLS"), "{ehlo}");
    let token = w.ours.token_key().issue("alice@ours.test", now_unix(), 300).unwrap();
    assert_eq!(c.cmd(&format!("AUTH XOAUTH2 {}", xoauth2("alice@ours.test", &token))).await.0, 235);
    assert_eq!(c.cmd("MAIL FROM:<alice@ours.test>").await.0, 250);
    assert_eq!(c.cmd("RCPT TO:<bob@ours.test>").await.0, 250);
    assert_eq!(c.cmd("DATA").await.0, 354);
    assert_eq!(c.cmd(&message("alice@ours.test", "bob@ours.test")).await.0, 250);
    assert_eq!(w.ours.inbox(w.bob).await.len(), 1);
}

#[tokio::test]
async fn a_user_sends_as_an_organisational_mailbox_only_when_their_role_allows() {
    let w = world().await;
    let new = |address: &str, kind, national_id: Option<&str>| mss_store::NewMailbox {
        address: address.parse().unwrap(),
        kind,
        state: mss_core::MailboxState::Active,
        national_id: national_id.map(|n| n.parse().unwrap()),
        finess: Some("750000002".parse().unwrap()),
        first_name: None,
        last_name: None,
        display_name: address.into(),
        service: None,
        liste_rouge: false,
        certificate_dn: None,
    };
    let meta = &w.ours.store.meta;
    let org =
        meta.create_mailbox(&new("pharmacie@ours.test", mss_core::MailboxKind::Organisational, None)).await.unwrap();
    meta.create_mailbox(&new("carl@ours.test", mss_core::MailboxKind::Personal, Some("810000013994"))).await.unwrap();

    let mut c = logged_in(&w, "carl@ours.test").await;
    let (code, text) = c.cmd("MAIL FROM:<pharmacie@ours.test>").await;
    assert_eq!(code, 550, "no role yet: {text}");
    assert!(text.contains("may not send as pharmacie@ours.test"), "{text}");

    meta.grant_role(org.id, &"810000013994".parse().unwrap(), mss_core::Role::Utilisateur).await.unwrap();
    assert_eq!(c.cmd("MAIL FROM:<pharmacie@ours.test>").await.0, 250, "an Utilisateur may send");
    assert_eq!(c.cmd("RCPT TO:<bob@ours.test>").await.0, 250);
    assert_eq!(c.cmd("DATA").await.0, 354);
    assert_eq!(c.cmd(&message("pharmacie@ours.test", "bob@ours.test")).await.0, 250);
    assert_eq!(w.ours.inbox(w.bob).await.len(), 1);
    let org_sent = meta.folder_messages(org.id, mss_store::SENT).await.unwrap();
    assert_eq!(org_sent.len(), 1, "the sent copy is the organisation's");
    // Another person's mailbox is never a role's to send as.
    assert_eq!(c.cmd("MAIL FROM:<bob@ours.test>").await.0, 550);
}

/// RFC 3461 on submission: the extension is offered; a local recipient
/// asked with NOTIFY=SUCCESS gets the sender a success report (with ENVID
/// and ORCPT); the remote one keeps what was asked in the queue.
#[tokio::test]
async fn a_sender_asking_for_success_reports_gets_one_per_local_recipient() {
    let w = world().await;
    w.peer.mailbox("carol@peer.test").await;
    let mut c = logged_in(&w, "alice@ours.test").await;
    let (code, ehlo) = c.cmd("EHLO client.test").await;
    assert!(code == 250 && ehlo.lines().any(|l| l.contains("DSN")), "{ehlo}");
    assert_eq!(c.cmd("MAIL FROM:<alice@ours.test> RET=HDRS ENVID=lot+2B42").await.0, 250);
    assert_eq!(c.cmd("RCPT TO:<bob@ours.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob@ours.test").await.0, 250);
    assert_eq!(c.cmd("RCPT TO:<carol@peer.test> NOTIFY=SUCCESS").await.0, 250);
    assert_eq!(c.cmd("DATA").await.0, 354);
    assert_eq!(c.cmd(&message("alice@ours.test", "bob@ours.test")).await.0, 250);
    let alice = w.ours.store.meta.mailbox(&"alice@ours.test".parse().unwrap()).await.unwrap().unwrap();
    let reports = w.ours.inbox(alice.id).await;
    assert_eq!(reports.len(), 1, "one report: bob's (carol's is the peer's to give)");
    let report = String::from_utf8_lossy(&reports[0]);
    assert!(report.contains("Original-Envelope-Id: lot+42\r\n"), "{report}");
    assert!(report.contains("Final-Recipient: rfc822; bob@ours.test\r\nAction: delivered\r\n"), "{report}");
    let queued = w.ours.store.meta.queue().await.unwrap();
    let carol = queued.iter().find(|q| q.recipient == "carol@peer.test").unwrap();
    assert_eq!(carol.dsn.notify.as_deref(), Some("SUCCESS"));
    assert_eq!((carol.message_dsn.ret.as_deref(), carol.message_dsn.envid.as_deref()), (Some("HDRS"), Some("lot+42")));
}

/// Sends `body` from `from` to Bob: the reply to the data.
async fn send_to_bob(c: &mut TlsClient, from: &str, body: String) -> (u16, String) {
    assert_eq!(c.cmd(&format!("MAIL FROM:<{from}>")).await.0, 250);
    assert_eq!(c.cmd("RCPT TO:<bob@ours.test>").await.0, 250);
    assert_eq!(c.cmd("DATA").await.0, 354);
    c.cmd(&body).await
}

/// A message with a CDA R2 attached.
fn with_cda(from: &str, cda: &[u8]) -> String {
    let encoded = STANDARD.encode(cda);
    let lines: Vec<&str> = encoded.as_bytes().chunks(76).map(|c| std::str::from_utf8(c).unwrap()).collect();
    format!(
        "From: <{from}>\r\nTo: <bob@ours.test>\r\nSubject: CR\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nCi-joint.\r\n\
         --b\r\nContent-Type: text/xml\r\nContent-Disposition: attachment; filename=\"CR.XML\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--b--\r\n.",
        lines.join("\r\n")
    )
}

/// The pharmacy software sends a bare CDA: it arrives packaged as IHE XDM,
/// with the ANS subject and fields. A CDA naming no patient by INS is
/// refused and nothing is sent; a person's mail program is left alone.
#[tokio::test]
async fn a_bare_cda_from_software_travels_packaged() {
    let w = world().await;
    let app = mss_store::NewMailbox::of_structure(
        "app-lgo@ours.test".parse().unwrap(),
        mss_core::MailboxKind::Applicative,
        "750000002".parse().unwrap(),
        "LGO Officine",
    );
    w.ours.store.meta.create_mailbox(&app).await.unwrap();
    let cda = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/cda/DOC_NON_STRUCTURE_CDA-R2-N1.xml"))
        .unwrap();
    let mut software = logged_in(&w, "app-lgo@ours.test").await;
    let (code, text) = send_to_bob(&mut software, "app-lgo@ours.test", with_cda("app-lgo@ours.test", &cda)).await;
    assert_eq!(code, 250, "{text}");
    let inbox = w.ours.inbox(w.bob).await;
    let message = mail_parser::MessageParser::default().parse(&inbox[0]).unwrap();
    assert!(message.subject().unwrap().starts_with("XDM/1.0/DDM+CR d'examens biologiques "), "{:?}", message.subject());
    assert_eq!(message.header_raw("X-MSS-CODECDA").map(str::trim), Some("11502-2"));
    let names: Vec<&str> = message.attachments().filter_map(mail_parser::MimeHeaders::attachment_name).collect();
    assert_eq!(names, ["CR.XML", "IHE_XDM.ZIP"]);
    let facts = mss_message::Facts::of(&inbox[0]);
    assert_eq!(facts.patient.ins.as_deref(), Some("279035121518989"), "the patient is known from the package");

    let anonymous = String::from_utf8(cda.clone()).unwrap().replace("1.2.250.1.213.1.4.10", "1.2.3.4");
    let (code, text) =
        send_to_bob(&mut software, "app-lgo@ours.test", with_cda("app-lgo@ours.test", anonymous.as_bytes())).await;
    assert_eq!(code, 550, "{text}");
    assert!(text.contains("5.6.0") && text.contains("INS"), "{text}");
    assert_eq!(w.ours.inbox(w.bob).await.len(), 1, "nothing sent");

    let mut alice = logged_in(&w, "alice@ours.test").await;
    assert_eq!(send_to_bob(&mut alice, "alice@ours.test", with_cda("alice@ours.test", &cda)).await.0, 250);
    let inbox = w.ours.inbox(w.bob).await;
    assert!(!String::from_utf8_lossy(&inbox[1]).contains("IHE_XDM.ZIP"), "a person's message is as they wrote it");
}
