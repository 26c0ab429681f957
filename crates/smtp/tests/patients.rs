//! Patients through Mon espace santé (issue 15), over real mutual TLS on
//! loopback: the gateway is trusted by configuration, not by the liste
//! blanche; a patient writes first only to an organisational mailbox, else
//! only to a mailbox that wrote to them; every refusal stores nothing; a
//! malformed INS and a message over 25 MiB to a patient are refused at
//! submission.

mod support;

use std::net::SocketAddr;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use mss_core::MailboxKind;
use mss_smtp::{Limits, PeerTrust};
use mss_store::{MailboxId, NewMailbox, Placement};
use mss_trust::pki::{CertificateAuthority, IssuedCertificate};
use support::{Site, anonymous_config, client_config, operator_certificate, starttls};

/// The ANS test patient of the CDA fixtures.
const PATIENT: &str = "279035121518989@patient.mssante.fr";
const PHARMACY: &str = "pharmacie.gare@ours.test";
const WROTE: &str = "bob.durand@ours.test";
const NEVER_WROTE: &str = "alice.martin@ours.test";

struct World {
    site: Site,
    addr: SocketAddr,
    ca: CertificateAuthority,
    gateway: IssuedCertificate,
    pharmacy: MailboxId,
    wrote: MailboxId,
    never_wrote: MailboxId,
}

async fn world() -> World {
    let ca = CertificateAuthority::generate("IGC-Santé TEST Racine", "TEST").unwrap();
    let mut site = Site::new(&ca, "ours.test").await;
    let gateway = operator_certificate(&ca, "smtps1.ens.test");
    site.peers = PeerTrust { patient_gateway: vec![gateway.subject.to_string()] };
    // A liste blanche entry for the patients' domain is not what trusts it.
    let impostor = operator_certificate(&ca, "mss.impostor.test");
    site.trust("patient.mssante.fr", &impostor.subject.to_string()).await;
    let organisational = NewMailbox::of_structure(
        PHARMACY.parse().unwrap(),
        MailboxKind::Organisational,
        "750000002".parse().unwrap(),
        "Pharmacie de la Gare",
    );
    let pharmacy = site.store.meta.create_mailbox(&organisational).await.unwrap().id;
    let wrote = site.mailbox(WROTE).await;
    let never_wrote = site.mailbox(NEVER_WROTE).await;
    // Bob wrote to the patient: his copy in Sent, with its facts.
    let sent = format!("From: <{WROTE}>\r\nTo: <{PATIENT}>\r\nSubject: Votre traitement\r\n\r\nBonjour\r\n");
    let placement = [Placement { mailbox: wrote, folder: "Sent".into() }];
    site.store.deliver_indexed(sent.as_bytes(), &placement, Some(mss_message::stored(sent.as_bytes()))).await.unwrap();
    let addr = site.start_inbound(Limits::default()).await;
    World { site, addr, ca, gateway, pharmacy, wrote, never_wrote }
}

/// A patient's message, from `from` over the certificate `cert`, to `to`:
/// the replies to RCPT TO and to the end of data (0 when not reached).
async fn deliver(w: &World, cert: &IssuedCertificate, from: &str, to: &str) -> (u16, u16, String) {
    let mut c = starttls(w.addr, client_config(cert, w.ca.cert_pem())).await;
    let (code, text) = c.cmd(&format!("MAIL FROM:<{from}>")).await;
    if code != 250 {
        return (code, 0, text);
    }
    let (rcpt, text) = c.cmd(&format!("RCPT TO:<{to}>")).await;
    if rcpt != 250 {
        return (rcpt, 0, text);
    }
    assert_eq!(c.cmd("DATA").await.0, 354);
    c.send(&format!(
        "From: <{from}>\r\nTo: <{to}>\r\nSubject: Mon médicament est-il disponible ?\r\n\r\nBonjour, ci-joint mon ordonnance.\r\n."
    ))
    .await;
    let (end, text) = c.reply().await;
    (rcpt, end, text)
}

#[tokio::test]
async fn a_patient_writes_first_to_the_pharmacy_and_answers_who_wrote() {
    let w = world().await;
    let (rcpt, end, text) = deliver(&w, &w.gateway, PATIENT, PHARMACY).await;
    assert_eq!((rcpt, end), (250, 250), "{text}");
    assert_eq!(w.site.inbox(w.pharmacy).await.len(), 1);
    // Bob wrote to this patient: the answer comes in.
    let (rcpt, end, text) = deliver(&w, &w.gateway, PATIENT, WROTE).await;
    assert_eq!((rcpt, end), (250, 250), "{text}");
    assert_eq!(w.site.inbox(w.wrote).await.len(), 1);
}

#[tokio::test]
async fn a_patient_may_not_start_with_a_personal_mailbox_and_nothing_is_stored() {
    let w = world().await;
    let (rcpt, _, text) = deliver(&w, &w.gateway, PATIENT, NEVER_WROTE).await;
    assert_eq!(rcpt, 550, "{text}");
    assert!(text.contains("5.7.1") && text.contains("never wrote to the patient"), "{text}");
    // Another patient than the one Bob wrote to is a first message too.
    let (rcpt, _, text) = deliver(&w, &w.gateway, "253072a07300443@patient.mssante.fr", WROTE).await;
    assert_eq!(rcpt, 550, "{text}");
    // A patients' domain address that is not an INS wrote to no one.
    let (rcpt, _, _) = deliver(&w, &w.gateway, "reponse.automatique-test@patient.mssante.fr", WROTE).await;
    assert_eq!(rcpt, 550);
    for mailbox in [w.never_wrote, w.wrote] {
        assert!(w.site.inbox(mailbox).await.is_empty());
    }
}

#[tokio::test]
async fn only_the_configured_gateway_speaks_for_patients() {
    let w = world().await;
    // Listed for patient.mssante.fr in the liste blanche, but not the gateway.
    let impostor = operator_certificate(&w.ca, "mss.impostor.test");
    let (code, _, text) = deliver(&w, &impostor, PATIENT, PHARMACY).await;
    assert_eq!(code, 550, "{text}");
    assert!(text.contains("patient.mssante.fr"), "{text}");
    // The gateway's certificate with a professional's domain: not its own.
    let (code, _, text) = deliver(&w, &w.gateway, "bob@peer.test", PHARMACY).await;
    assert_eq!(code, 550, "{text}");
    assert!(w.site.inbox(w.pharmacy).await.is_empty());
    // Without a configured gateway, no one speaks for patients.
    let mut site = Site::new(&w.ca, "ours.test").await;
    site.peers = PeerTrust::default();
    site.trust("patient.mssante.fr", &w.gateway.subject.to_string()).await;
    let addr = site.start_inbound(Limits::default()).await;
    let mut c = starttls(addr, client_config(&w.gateway, w.ca.cert_pem())).await;
    assert_eq!(c.cmd(&format!("MAIL FROM:<{PATIENT}>")).await.0, 550);
}

#[tokio::test]
async fn a_malformed_ins_and_a_message_over_25_mib_to_a_patient_are_refused_at_submission() {
    let w = world().await;
    let wake = Arc::new(tokio::sync::Notify::new());
    // An operator whose own limit is larger than Mon espace santé's.
    let limits = Limits { max_message_bytes: 40 * 1024 * 1024, ..Limits::default() };
    let addr = w.site.start_submission_limited(wake, limits).await;
    let token = w.site.token_key().issue(NEVER_WROTE, mss_store::now_unix(), 600).unwrap();
    let mut c = starttls(addr, anonymous_config(w.ca.cert_pem())).await;
    let xoauth2 = STANDARD.encode(format!("user={NEVER_WROTE}\u{1}auth=Bearer {token}\u{1}\u{1}"));
    assert_eq!(c.cmd(&format!("AUTH XOAUTH2 {xoauth2}")).await.0, 235);
    assert_eq!(c.cmd(&format!("MAIL FROM:<{NEVER_WROTE}>")).await.0, 250);
    // A malformed INS (its key is wrong, or it is not one) is no patient's address.
    for bad in ["279035121518988@patient.mssante.fr", "reponse.automatique-test@patient.mssante.fr"] {
        let (code, text) = c.cmd(&format!("RCPT TO:<{bad}>")).await;
        assert_eq!(code, 550, "{text}");
        assert!(text.contains("5.1.3") && text.contains("valid INS"), "{text}");
    }
    assert_eq!(c.cmd(&format!("RCPT TO:<{PATIENT}>")).await.0, 250);
    assert_eq!(c.cmd("DATA").await.0, 354);
    let line = "A".repeat(998);
    let mut data = format!("From: <{NEVER_WROTE}>\r\nTo: <{PATIENT}>\r\nSubject: Radio\r\n\r\n");
    while data.len() <= mss_core::patients::MAX_PATIENT_MESSAGE_BYTES {
        data.push_str(&line);
        data.push_str("\r\n");
    }
    data.push('.');
    c.send(&data).await;
    let (code, text) = c.reply().await;
    assert_eq!(code, 552, "{text}");
    assert!(text.contains("5.3.4") && text.contains("patient"), "{text}");
    assert!(w.site.store.meta.queue().await.unwrap().is_empty(), "nothing queued");
    // The session goes on (the webmail's test sends the same to a colleague).
    assert_eq!(c.cmd("NOOP").await.0, 250);
}

/// An operator that keeps no copy in Sent: whom a mailbox wrote to is
/// recorded when the message is queued, and the patient's answer comes in.
#[tokio::test]
async fn a_patient_answers_a_mailbox_that_kept_no_copy_of_its_message() {
    let w = world().await;
    let (rcpt, _, text) = deliver(&w, &w.gateway, PATIENT, NEVER_WROTE).await;
    assert_eq!(rcpt, 550, "not yet written to: {text}");
    let submitter = mss_smtp::submit::Submitter {
        store: w.site.store.clone(),
        domain: "ours.test".parse().unwrap(),
        wake: Arc::new(tokio::sync::Notify::new()),
        queue_expiry: std::time::Duration::from_secs(3600),
        sent_copy: false,
    };
    let message = format!("From: <{NEVER_WROTE}>\r\nTo: <{PATIENT}>\r\nSubject: Votre commande\r\n\r\nBonjour\r\n");
    let route = submitter.route(&PATIENT.parse().unwrap()).await.unwrap();
    submitter.store(message.into(), NEVER_WROTE, w.never_wrote, &[route]).await.unwrap();
    let sent = w.site.store.meta.folder(w.never_wrote, "Sent").await.unwrap().unwrap();
    assert!(w.site.store.meta.folder_uids(sent.id).await.unwrap().is_empty(), "no copy kept");
    let (rcpt, end, text) = deliver(&w, &w.gateway, PATIENT, NEVER_WROTE).await;
    assert_eq!((rcpt, end), (250, 250), "{text}");
    assert_eq!(w.site.inbox(w.never_wrote).await.len(), 1);
}
