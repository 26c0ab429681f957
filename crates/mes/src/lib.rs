//! Mon espace santé's patient messaging, simulated for development and
//! tests: the operator of `patient.mssante.fr`, which the real one (the
//! Assurance Maladie's gateway) cannot be reached from here.
//!
//! It speaks the real protocol: SMTP with STARTTLS and mutual TLS both ways,
//! its certificate naming the gateway as the operator's configured trust
//! expects it (`[patients] gateway_dns`). It applies the national rules the
//! operator faces (`mss_core::patients`): a message to an unknown patient,
//! to a closed messaging, over 25 MB, or answering a conversation closed by
//! `[FIN]` is refused with Mon espace santé's reply; a patient writes
//! first only to their pharmacies, else to professionals who wrote to them
//! (or were given as `Reply-To`); a message asking for a read receipt gets
//! one when the patient opens it. Its pages ([`pages`]) let a developer be
//! the patient, in French: write to a pharmacy with an attachment, read
//! the answers, close a conversation.
//!
//! It keeps everything in memory, and never runs in production mode (the
//! binary refuses a production configuration that enables it). It must not
//! be used as a real gateway: anyone reaching its pages acts as a patient.

mod pages;
mod smtp_in;
mod smtp_out;
mod state;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use mss_core::patients::{self, GatewayRefusal};
use mss_core::{EmailAddress, Ins};
use mss_message::Facts;
use mss_trust::tls::{ServerTrust, TlsMaterial};

pub use pages::router;
pub use smtp_in::serve;
pub use smtp_out::SendError;
pub use state::{SimMessage, SimPatient};

use state::PatientBox;

/// The simulated gateway.
pub struct MonEspaceSante {
    server_tls: Arc<rustls::ServerConfig>,
    server_trust: ServerTrust,
    client_tls: Arc<rustls::ClientConfig>,
    /// Where professionals' mail is delivered: the operator under test.
    operator: SocketAddr,
    boxes: Mutex<BTreeMap<String, PatientBox>>,
}

/// A patient's messages, in order, whom they may write to, and the
/// professionals they have an open conversation with.
pub struct PatientView {
    pub patient: SimPatient,
    pub messages: Vec<SimMessage>,
    pub may_write: Vec<String>,
    pub open: Vec<String>,
}

/// Why a patient's message was not sent (in French: the patient reads it).
#[derive(Debug, thiserror::Error)]
pub enum PatientError {
    #[error("Patient inconnu.")]
    UnknownPatient,
    #[error(
        "Vous ne pouvez pas écrire en premier à {0} : seulement à vos pharmacies, ou aux professionnels qui vous ont écrit."
    )]
    MayNotWrite(String),
    #[error("Le message dépasse 25 Mo.")]
    TooLarge,
    #[error("Le message n'a pas pu être remis : {0}")]
    NotDelivered(#[from] SendError),
    #[error("Le message n'a pas pu être construit.")]
    Build,
}

impl MonEspaceSante {
    /// A gateway with the certificate and anchors of `tls`, delivering to
    /// the operator at `operator`, knowing `patients`.
    pub fn new(tls: &TlsMaterial, operator: SocketAddr, patients: Vec<SimPatient>) -> Result<Arc<Self>, String> {
        let (server_tls, server_trust) = tls.server().map_err(|e| e.to_string())?;
        let client_tls = tls.trust_space_client().map_err(|e| e.to_string())?;
        let boxes = patients.into_iter().map(|p| (p.ins.as_str().to_string(), PatientBox::new(p))).collect();
        Ok(Arc::new(Self { server_tls, server_trust, client_tls, operator, boxes: Mutex::new(boxes) }))
    }

    fn boxes(&self) -> MutexGuard<'_, BTreeMap<String, PatientBox>> {
        // A panic while holding the lock leaves plain data: keep serving.
        self.boxes.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The patients, in INS order.
    pub fn patients(&self) -> Vec<SimPatient> {
        self.boxes().values().map(|b| b.patient.clone()).collect()
    }

    /// What a patient's page shows of their messaging.
    pub fn mailbox(&self, ins: &str) -> Option<PatientView> {
        let boxes = self.boxes();
        let b = boxes.get(ins)?;
        Some(PatientView {
            patient: b.patient.clone(),
            messages: b.messages.clone(),
            may_write: b.may_write(),
            open: b.open_conversations(),
        })
    }

    /// RCPT TO: the patient of `address`, or the gateway's refusal.
    fn takes_recipient(&self, address: &str) -> Result<EmailAddress, GatewayRefusal> {
        let address: EmailAddress = address.parse().map_err(|_| GatewayRefusal::InvalidAddress)?;
        let ins = patients::patient_of(&address);
        let boxes = self.boxes();
        let patient = ins.as_ref().and_then(|ins| boxes.get(ins.as_str()));
        patients::gateway_takes_recipient(ins.is_some(), patient.is_some(), patient.is_some_and(|b| b.patient.open))?;
        Ok(address)
    }

    /// A professional's message, for patients already taken at RCPT.
    async fn receive(&self, sender: &str, recipients: &[EmailAddress], raw: &[u8]) -> Result<(), GatewayRefusal> {
        let facts = Facts::of(raw);
        let references: Vec<String> = message_ids(
            &[facts.envelope.in_reply_to.as_deref(), facts.references.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>(),
        );
        let parsed = mss_message::parsed::parse(raw);
        let text = parsed.as_ref().and_then(|m| m.body_text(0)).map(|t| t.into_owned()).unwrap_or_default();
        let attachments = parsed.as_ref().map_or_else(Vec::new, |m| {
            use mail_parser::MimeHeaders;
            m.attachments().map(|a| a.attachment_name().unwrap_or("piece-jointe").to_string()).collect()
        });
        let author = facts.envelope.originators.as_ref().and_then(|o| o.from.first()).map(|a| a.address.clone());
        let professional = author.unwrap_or_else(|| sender.to_string()).to_lowercase();
        let reply_to = facts.envelope.originators.as_ref().and_then(|o| o.reply_to.first()).map(|a| a.address.clone());
        let receipt_to = parsed.as_ref().and_then(|m| m.header_raw("Disposition-Notification-To")).and_then(|v| {
            let inner = v.rsplit_once('<').map_or(v, |(_, r)| r.trim().trim_end_matches('>'));
            inner.trim().parse().ok()
        });
        let mut boxes = self.boxes();
        for recipient in recipients {
            let Some(b) = patients::patient_of(recipient).and_then(|ins| boxes.get(ins.as_str())) else {
                return Err(GatewayRefusal::UnknownPatient);
            };
            patients::gateway_takes_message(raw.len(), b.replies_to_closed(&references))?;
        }
        for recipient in recipients {
            let Some(b) = patients::patient_of(recipient).and_then(|ins| boxes.get_mut(ins.as_str())) else { continue };
            let message = SimMessage {
                number: 0,
                message_id: facts.envelope.message_id.as_deref().map(strip_brackets).unwrap_or_default(),
                professional: professional.clone(),
                received: true,
                subject: facts.envelope.subject.clone().unwrap_or_default(),
                text: text.clone(),
                attachments: attachments.clone(),
                at: now(),
                read: false,
                receipt_to: receipt_to.clone(),
                closes: facts.closes_conversation(),
            };
            b.keep(message, reply_to.clone());
        }
        Ok(())
    }

    /// The patient `ins` writes to `to`; with `closes`, the message ends
    /// their conversation (`X-MSS-MES: FIN`).
    pub async fn send_from_patient(
        &self,
        ins: &str,
        to: &str,
        subject: &str,
        text: &str,
        attachment: Option<(&str, &str, &[u8])>,
        closes: bool,
    ) -> Result<(), PatientError> {
        let to = to.trim().to_lowercase();
        let (patient, in_reply_to) = {
            let boxes = self.boxes();
            let b = boxes.get(ins).ok_or(PatientError::UnknownPatient)?;
            if !b.may_write_to(&to) {
                return Err(PatientError::MayNotWrite(to));
            }
            // The professional's last message of an open conversation is answered.
            let open = b.open_conversations().contains(&to);
            let last = b.messages.iter().rev().find(|m| m.received && m.professional == to && open);
            (b.patient.clone(), last.map(|m| m.message_id.clone()))
        };
        let from = patient.ins.patient_address();
        let message_id = format!("{}.{}@{}", now(), random_part(), mss_core::PATIENT_DOMAIN);
        let raw = smtp_out::build(&smtp_out::PatientMessage {
            from: (&patient.display_name(), &from),
            to: &to,
            subject,
            text,
            in_reply_to: in_reply_to.as_deref(),
            closes,
            attachment,
            message_id: &message_id,
        })
        .map_err(|_| PatientError::Build)?;
        if raw.len() > patients::MAX_PATIENT_MESSAGE_BYTES {
            return Err(PatientError::TooLarge);
        }
        smtp_out::deliver(self.client_tls.clone(), self.operator, &from.to_string(), &to, &raw).await?;
        let sent = SimMessage {
            number: 0,
            message_id,
            professional: to,
            received: false,
            subject: subject.to_string(),
            text: text.to_string(),
            attachments: attachment.map(|(name, _, _)| vec![name.to_string()]).unwrap_or_default(),
            at: now(),
            read: true,
            receipt_to: None,
            closes,
        };
        if let Some(b) = self.boxes().get_mut(ins) {
            b.keep(sent, None);
        }
        Ok(())
    }

    /// The patient opens their message `number`: it is read, and its read
    /// receipt sent when one was asked (once).
    pub async fn open(&self, ins: &str, number: usize) -> Option<SimMessage> {
        let (message, receipt) = {
            let mut boxes = self.boxes();
            let b = boxes.get_mut(ins)?;
            let from = b.patient.ins.patient_address();
            let m = b.messages.iter_mut().find(|m| m.number == number)?;
            let first = m.received && !m.read;
            m.read = true;
            let receipt = m.receipt_to.clone().filter(|_| first).map(|to| (from, to));
            (m.clone(), receipt)
        };
        if let Some((from, to)) = receipt {
            let mdn = smtp_out::read_receipt(&from, &to, &message.message_id, &message.subject);
            let sent =
                smtp_out::deliver(self.client_tls.clone(), self.operator, &from.to_string(), &to.to_string(), &mdn)
                    .await;
            if let Err(e) = sent {
                tracing::warn!(error = %e, "mes-sim: read receipt not delivered");
            }
        }
        Some(message)
    }
}

/// The ids in message-id fields, without brackets.
fn message_ids(fields: &[&str]) -> Vec<String> {
    fields.iter().flat_map(|f| f.split_whitespace()).map(strip_brackets).filter(|id| !id.is_empty()).collect()
}

fn strip_brackets(id: &str) -> String {
    id.trim().trim_start_matches('<').trim_end_matches('>').to_string()
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// A few random hex digits for a message id (uniqueness, not secrecy).
fn random_part() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_i64(now());
    format!("{:016x}", h.finish())
}

/// The gateway's identity, as the default `[patients] gateway_dns` names it.
pub fn gateway_identity() -> mss_trust::pki::OperatorIdentity {
    mss_trust::pki::OperatorIdentity {
        host: "smtps1.ens.atos-infogerance.fr".into(),
        organisation: "CNAM".into(),
        unit: "318003502400041".into(),
        state: "Paris (75)".into(),
    }
}

/// The patients a development gateway knows: the ANS test patient of the
/// CDA fixtures and a Corsican one, who may both write first to
/// `pharmacies` (addresses, or `@domain`).
pub fn development_patients(pharmacies: &[&str]) -> Vec<SimPatient> {
    let pharmacies: Vec<String> = pharmacies.iter().map(|p| p.to_string()).collect();
    let patient = |ins: &str, first: &str, last: &str| SimPatient {
        ins: ins.parse::<Ins>().expect("a valid test INS"),
        first_name: first.into(),
        last_name: last.into(),
        pharmacies: pharmacies.clone(),
        open: true,
    };
    vec![patient("279035121518989", "Jeanne", "Martin"), patient("253072A07300443", "Paul", "Santoni")]
}
