//! What the simulator remembers of each patient: their messages both ways,
//! the professionals they may write to, and their conversations with each
//! professional (which message ids belong to a closed one).

use std::collections::{BTreeMap, BTreeSet, HashSet};

use mss_core::patients;
use mss_core::{EmailAddress, Ins};

/// A patient of the simulator.
#[derive(Debug, Clone)]
pub struct SimPatient {
    pub ins: Ins,
    pub first_name: String,
    pub last_name: String,
    /// The pharmacies the patient may write to first (Mon espace santé:
    /// those of a reimbursed dispensation in the past year): addresses, or
    /// `@domain` for every address of an operator (development).
    pub pharmacies: Vec<String>,
    /// Their messaging is open (a closed one refuses every message).
    pub open: bool,
}

impl SimPatient {
    /// `Prénom NOM`.
    pub fn display_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name.to_uppercase())
    }
}

/// One message of a patient's mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimMessage {
    /// Its number in the patient's mailbox, from 1.
    pub number: usize,
    pub message_id: String,
    /// The professional it is from (received) or to (sent).
    pub professional: String,
    pub received: bool,
    pub subject: String,
    pub text: String,
    pub attachments: Vec<String>,
    pub at: i64,
    /// The patient opened it (received messages).
    pub read: bool,
    /// Where a read receipt goes, when asked (`Disposition-Notification-To`).
    pub receipt_to: Option<EmailAddress>,
    /// It ends its conversation.
    pub closes: bool,
}

/// A patient and what the gateway keeps for them.
#[derive(Debug)]
pub struct PatientBox {
    pub patient: SimPatient,
    pub messages: Vec<SimMessage>,
    /// Professionals who wrote to the patient (or were given as Reply-To).
    contacts: BTreeSet<String>,
    /// Message ids of the open conversation with each professional.
    open: BTreeMap<String, Vec<String>>,
    /// Message ids of closed conversations.
    closed: HashSet<String>,
}

impl PatientBox {
    pub fn new(patient: SimPatient) -> Self {
        Self { patient, messages: Vec::new(), contacts: BTreeSet::new(), open: BTreeMap::new(), closed: HashSet::new() }
    }

    /// Whether the patient may write to `professional` (lower case).
    pub fn may_write_to(&self, professional: &str) -> bool {
        let domain = professional.rsplit_once('@').map(|(_, d)| d);
        let pharmacy = self.patient.pharmacies.iter().any(|p| match p.strip_prefix('@') {
            Some(every) => domain.is_some_and(|d| d.eq_ignore_ascii_case(every)),
            None => p.eq_ignore_ascii_case(professional),
        });
        patients::patient_may_write_to(self.contacts.contains(professional), pharmacy)
    }

    /// The addresses the patient may write to, in order (an `@domain`
    /// entry names none in particular).
    pub fn may_write(&self) -> Vec<String> {
        let mut all: BTreeSet<String> = self.contacts.clone();
        all.extend(self.patient.pharmacies.iter().filter(|p| !p.starts_with('@')).map(|p| p.to_lowercase()));
        all.into_iter().collect()
    }

    /// Whether a message naming `references` (its In-Reply-To and
    /// References ids) answers one of a closed conversation.
    pub fn replies_to_closed(&self, references: &[String]) -> bool {
        references.iter().any(|id| self.closed.contains(id))
    }

    /// The professionals with an open conversation.
    pub fn open_conversations(&self) -> Vec<String> {
        self.open.iter().filter(|(_, ids)| !ids.is_empty()).map(|(pro, _)| pro.clone()).collect()
    }

    /// Keeps a message (received from, or sent to, `message.professional`)
    /// and follows its conversation; a professional who wrote (or was named
    /// in Reply-To) becomes a contact.
    pub fn keep(&mut self, mut message: SimMessage, reply_to: Option<String>) {
        message.number = self.messages.len() + 1;
        let professional = message.professional.to_lowercase();
        if message.received {
            self.contacts.insert(professional.clone());
            self.contacts.extend(reply_to.map(|r| r.to_lowercase()));
        }
        let ids = self.open.entry(professional).or_default();
        ids.push(message.message_id.clone());
        if message.closes {
            self.closed.extend(ids.drain(..));
        }
        self.messages.push(message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(id: &str, received: bool, closes: bool) -> SimMessage {
        SimMessage {
            number: 0,
            message_id: id.into(),
            professional: "Pharmacie@Ours.test".into(),
            received,
            subject: "s".into(),
            text: String::new(),
            attachments: vec![],
            at: 0,
            read: false,
            receipt_to: None,
            closes,
        }
    }

    #[test]
    fn a_closed_conversation_takes_no_reply_and_writers_become_contacts() {
        let patient = SimPatient {
            ins: "279035121518989".parse().unwrap(),
            first_name: "Jeanne".into(),
            last_name: "Martin".into(),
            pharmacies: vec!["Gare@ours.test".into(), "@labo.test".into()],
            open: true,
        };
        let mut b = PatientBox::new(patient);
        assert!(b.may_write_to("gare@ours.test") && !b.may_write_to("pharmacie@ours.test"));
        assert!(b.may_write_to("accueil@labo.test") && !b.may_write_to("accueil@labo.test.evil"));
        assert_eq!(b.may_write(), ["gare@ours.test"]);
        b.keep(message("a@x", true, false), Some("Secretariat@ours.test".into()));
        assert!(b.may_write_to("pharmacie@ours.test") && b.may_write_to("secretariat@ours.test"));
        assert_eq!(b.open_conversations(), ["pharmacie@ours.test"]);
        b.keep(message("b@x", false, true), None);
        assert!(b.replies_to_closed(&["a@x".into()]) && b.replies_to_closed(&["b@x".into()]));
        assert!(b.open_conversations().is_empty());
        b.keep(message("c@x", true, false), None);
        assert!(!b.replies_to_closed(&["c@x".into()]));
        assert_eq!(b.messages.iter().map(|m| m.number).collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(b.patient.display_name(), "Jeanne MARTIN");
    }
}
