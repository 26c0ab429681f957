//! The pharmacy and its patient through Mon espace santé, end to end over
//! real mutual TLS on loopback: the simulated gateway (`mss-mes`) delivers
//! a patient's prescription to our inbound MTA, which trusts it by its
//! configured DN; our answer leaves by the outbound worker to the gateway,
//! which applies the national rules; the patient's read receipt comes
//! back; after the patient closes with [FIN], a reply within that
//! conversation is refused by the gateway and explained in French to the
//! pharmacist; a patient may not start with a personal mailbox.

mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use mss_core::MailboxKind;
use mss_mes::{MonEspaceSante, PatientError};
use mss_smtp::outbound::{Outbound, RetryPolicy, Routes};
use mss_smtp::submit::Submitter;
use mss_smtp::{Limits, PeerTrust};
use mss_store::NewMailbox;
use mss_trust::pki::CertificateAuthority;
use mss_trust::tls::TlsMaterial;
use support::Site;

const PATIENT_INS: &str = "279035121518989";
const PATIENT: &str = "279035121518989@patient.mssante.fr";
const PHARMACY: &str = "pharmacie.gare@ours.test";

struct World {
    site: Site,
    mes: Arc<MonEspaceSante>,
    outbound: Outbound,
    submitter: Submitter,
    pharmacy: mss_store::MailboxId,
}

async fn world() -> World {
    let ca = CertificateAuthority::generate("IGC-Santé TEST Racine", "TEST").unwrap();
    let mut site = Site::new(&ca, "ours.test").await;
    let gateway = ca.issue_operator(&mss_mes::gateway_identity()).unwrap();
    site.peers = PeerTrust { patient_gateway: vec![gateway.subject.to_string()] };
    let organisational = NewMailbox::of_structure(
        PHARMACY.parse().unwrap(),
        MailboxKind::Organisational,
        "750000002".parse().unwrap(),
        "Pharmacie de la Gare",
    );
    let pharmacy = site.store.meta.create_mailbox(&organisational).await.unwrap().id;
    site.mailbox("alice.martin@ours.test").await;
    let inbound = site.start_inbound(Limits::default()).await;
    let tls = TlsMaterial::from_pem(&gateway.chain_pem, &gateway.key_pem, ca.cert_pem()).unwrap();
    let patients = mss_mes::development_patients(&[PHARMACY]);
    let mes = MonEspaceSante::new(&tls, inbound, patients).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gateway_addr = listener.local_addr().unwrap();
    tokio::spawn(mss_mes::serve(mes.clone(), listener));
    let outbound = Outbound {
        store: site.store.clone(),
        domain: site.domain.parse().unwrap(),
        hostname: site.host.clone(),
        tls: site.tls.trust_space_client().unwrap(),
        routes: Routes { fixed: HashMap::from([("patient.mssante.fr".to_string(), gateway_addr)]), dns: None },
        peers: site.peers.clone(),
        retry: RetryPolicy { first_delay: Duration::from_secs(30), ..RetryPolicy::default() },
        wake: Arc::default(),
    };
    let submitter = Submitter {
        store: site.store.clone(),
        domain: site.domain.parse().unwrap(),
        wake: Arc::new(tokio::sync::Notify::new()),
        queue_expiry: Duration::from_secs(3600),
        sent_copy: true,
    };
    World { site, mes, outbound, submitter, pharmacy }
}

impl World {
    /// The pharmacy sends `headers` + `text` to `to`, and the outbound
    /// worker runs once.
    async fn pharmacy_sends(&self, to: &str, headers: &str, text: &str) {
        let message = format!("From: Pharmacie de la Gare <{PHARMACY}>\r\nTo: <{to}>\r\n{headers}\r\n{text}\r\n");
        let route = self.submitter.route(&to.parse().unwrap()).await.unwrap();
        self.submitter.store(message.into(), PHARMACY, self.pharmacy, &[route]).await.unwrap();
        self.outbound.run_once().await.unwrap();
    }

    async fn inbox(&self) -> Vec<String> {
        self.site.inbox(self.pharmacy).await.into_iter().map(|m| String::from_utf8_lossy(&m).into_owned()).collect()
    }
}

#[tokio::test]
async fn a_patient_and_the_pharmacy_talk_through_mon_espace_sante_until_fin() {
    let w = world().await;
    // The patient writes first to their pharmacy, with a photo.
    let photo = b"\xff\xd8\xff\xe0 JPEG".to_vec();
    w.mes
        .send_from_patient(
            PATIENT_INS,
            PHARMACY,
            "Mon médicament est-il disponible ?",
            "Bonjour",
            Some(("ordonnance.jpg", "image/jpeg", &photo)),
            false,
        )
        .await
        .unwrap();
    let inbox = w.inbox().await;
    assert_eq!(inbox.len(), 1);
    let facts = mss_message::Facts::of(inbox[0].as_bytes());
    assert_eq!(facts.patient.ins.as_deref(), Some(PATIENT_INS));
    assert_eq!(facts.attachments().count(), 1);
    let first_id = facts.envelope.message_id.clone().unwrap();

    // The pharmacy answers, asking for a read receipt.
    let headers = format!(
        "Subject: Re: Mon médicament est-il disponible ?\r\nMessage-ID: <r1@ours.test>\r\nIn-Reply-To: {first_id}\r\n\
         X-MSS-INS: O\r\nDisposition-Notification-To: <{PHARMACY}>\r\n"
    );
    w.pharmacy_sends(PATIENT, &headers, "Votre médicament est disponible.").await;
    assert!(w.site.store.meta.queue().await.unwrap().is_empty(), "delivered");
    let view = w.mes.mailbox(PATIENT_INS).unwrap();
    let answer = view.messages.iter().find(|m| m.received).unwrap();
    assert_eq!(answer.text.trim_end(), "Votre médicament est disponible.");
    assert_eq!(view.open, [PHARMACY]);

    // The patient reads it: the receipt reaches the pharmacy.
    w.mes.open(PATIENT_INS, answer.number).await.unwrap();
    let receipt = w.inbox().await.into_iter().find(|m| m.contains("report-type=disposition-notification"));
    let receipt = receipt.expect("a read receipt");
    assert!(receipt.contains("Original-Message-ID: <r1@ours.test>"), "{receipt}");
    // Opened again: no second receipt.
    w.mes.open(PATIENT_INS, answer.number).await.unwrap();
    assert_eq!(w.inbox().await.len(), 2);

    // The patient closes the conversation.
    w.mes.send_from_patient(PATIENT_INS, PHARMACY, "[FIN]", "Merci", None, true).await.unwrap();
    let closing = w.inbox().await.pop().unwrap();
    assert!(mss_message::Facts::of(closing.as_bytes()).closes_conversation(), "{closing}");

    // A reply within the closed conversation: refused by Mon espace santé,
    // explained in French to the pharmacist.
    let late = format!("Subject: Re: Mon médicament\r\nMessage-ID: <r2@ours.test>\r\nIn-Reply-To: {first_id}\r\n");
    w.pharmacy_sends(PATIENT, &late, "Autre chose ?").await;
    let report = w.inbox().await.pop().unwrap();
    assert!(report.contains("report-type=delivery-status") && report.contains("Status: 5.7.1"), "{report}");
    assert!(report.contains("Cette conversation avec le patient est close"), "{report}");
    // A new message (no reply) starts a new conversation.
    w.pharmacy_sends(PATIENT, "Subject: Votre commande\r\nMessage-ID: <r3@ours.test>\r\n", "Elle est arrivée.").await;
    let view = w.mes.mailbox(PATIENT_INS).unwrap();
    assert_eq!(view.messages.iter().filter(|m| m.received).count(), 2);

    // An unknown patient (a valid INS nobody has): explained too.
    w.pharmacy_sends("180017512345660@patient.mssante.fr", "Subject: x\r\n", "x").await;
    let report = w.inbox().await.pop().unwrap();
    assert!(report.contains("Status: 5.1.1") && report.contains("ne connaît pas de patient"), "{report}");
}

#[tokio::test]
async fn a_patient_may_not_write_first_to_a_personal_mailbox() {
    let w = world().await;
    let refused = w.mes.send_from_patient(PATIENT_INS, "alice.martin@ours.test", "Bonjour", "?", None, false).await;
    assert!(matches!(refused, Err(PatientError::MayNotWrite(_))), "{refused:?}");
    assert!(refused.unwrap_err().to_string().contains("Vous ne pouvez pas écrire en premier"));
}
