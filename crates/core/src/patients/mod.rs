//! The rules of messaging with patients through Mon espace santé (the
//! Assurance Maladie's operator for `patient.mssante.fr`), as the national
//! rules state them (ENS Mon espace santé Messagerie §2, §6, §7, ECO.2.2.6
//! to ECO.2.2.8; see `../shared/docs/MSSANTE.md`):
//!
//! - a patient's address is `<INS>@patient.mssante.fr`, built only from a
//!   valid INS ([`patient_address`]);
//! - a message towards patients is at most [`MAX_PATIENT_MESSAGE_BYTES`];
//! - a conversation ends with `X-MSS-MES: FIN` (preferred) or the exact
//!   subject `[FIN]` ([`closes_conversation`]);
//! - only a professional starts a conversation, except that a patient may
//!   write first to a pharmacy's organisational mailbox (Mon espace santé
//!   decides which pharmacies: those of a reimbursed dispensation in the
//!   past year). So the operator takes a patient's message into an
//!   organisational mailbox, or into a mailbox that wrote to that patient,
//!   and refuses it anywhere else ([`may_receive_from_patient`]).
//!
//! - the messages with one patient, in order of arrival, fall into
//!   conversations: a closing message ends its conversation, the next
//!   message starts a new one ([`conversations`]);
//! - `X-MSS-INS` says whether the sender's INS is qualified (`O`) or not
//!   (`N`) ([`ins_field_value`]); messages to patients ask for a read
//!   receipt (`Disposition-Notification-To`, which the patient cannot
//!   refuse).
//!
//! - what Mon espace santé's gateway refuses, and how it is explained to
//!   the sender ([`GatewayRefusal`]).
//!
//! Also the pharmacy's quick answers to patients: their defaults and limits
//! ([`check_quick_answers`]).
//!
//! Pure: the facts (the mailbox's kind and state, whether it wrote to the
//! patient) come from the caller.

mod gateway;

use std::ops::Range;

pub use gateway::{GatewayRefusal, gateway_takes_message, gateway_takes_recipient, patient_may_write_to};

use crate::address::EmailAddress;
use crate::ids::{IdError, Ins};
use crate::mailbox::{MailboxKind, MailboxState};

/// The largest message towards patients, whole (ENS §6: 25 Mo; read as
/// 25 MiB, the size mss already takes for its other 25 Mo limits). Over it
/// Mon espace santé bounces the message, so mss refuses it before sending.
pub const MAX_PATIENT_MESSAGE_BYTES: usize = 25 * 1024 * 1024;

/// The header field that closes a conversation, and its value.
pub const CLOSING_FIELD: &str = "X-MSS-MES";
pub const CLOSING_VALUE: &str = "FIN";
/// The subject that closes a conversation (ENS §7: exactly this, case
/// sensitive).
pub const CLOSING_SUBJECT: &str = "[FIN]";

/// The patient address of `ins` (as typed: spaces and dots a person puts
/// between groups are left out), or why it is not one.
pub fn patient_address(ins: &str) -> Result<EmailAddress, IdError> {
    let compact: String = ins.chars().filter(|c| !matches!(c, ' ' | '.' | '\u{a0}')).collect();
    Ok(compact.to_ascii_uppercase().parse::<Ins>()?.patient_address())
}

/// The INS of a patient address, when `address` is one (a valid INS at
/// `patient.mssante.fr`).
pub fn patient_of(address: &EmailAddress) -> Option<Ins> {
    if !address.domain().is_patient() {
        return None;
    }
    address.local().to_ascii_uppercase().parse().ok()
}

/// Whether a message ends the conversation it belongs to: `X-MSS-MES: FIN`
/// (case and surrounding space ignored), or the subject exactly `[FIN]`.
pub fn closes_conversation(subject: Option<&str>, closing_field: Option<&str>) -> bool {
    closing_field.is_some_and(|v| v.trim().eq_ignore_ascii_case(CLOSING_VALUE)) || subject == Some(CLOSING_SUBJECT)
}

/// The header field saying whether the INS a message names is qualified.
pub const INS_FIELD: &str = "X-MSS-INS";

/// `O` for a qualified INS (number, OID and identity traits checked
/// against the national teleservice), `N` otherwise.
pub fn ins_field_value(qualified: bool) -> &'static str {
    if qualified { "O" } else { "N" }
}

/// One conversation among a patient's messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversation {
    /// Its messages, as indexes into the messages given.
    pub messages: Range<usize>,
    /// Its last message closed it.
    pub closed: bool,
}

/// The conversations of the messages with one patient, given in order of
/// arrival by whether each closes its conversation: each closing message
/// ends one, and whatever follows starts the next (ENS §7: a message after
/// `[FIN]` is a new conversation). In order; together they hold every
/// message once.
pub fn conversations(closing: &[bool]) -> Vec<Conversation> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, &closes) in closing.iter().enumerate() {
        if closes {
            out.push(Conversation { messages: start..i + 1, closed: true });
            start = i + 1;
        }
    }
    if start < closing.len() {
        out.push(Conversation { messages: start..closing.len(), closed: false });
    }
    out
}

/// The quick answers a pharmacy starts with (it edits them).
pub const DEFAULT_QUICK_ANSWERS: [&str; 3] = [
    "Votre médicament est disponible.",
    "À commander, disponible demain après-midi.",
    "Merci de passer avec votre ordonnance originale.",
];

/// At most this many quick answers, each at most this many characters.
pub const MAX_QUICK_ANSWERS: usize = 20;
pub const MAX_QUICK_ANSWER_CHARS: usize = 1000;

/// Why a set of quick answers is refused (in French: a pharmacist reads it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuickAnswerError {
    #[error("{MAX_QUICK_ANSWERS} réponses rapides au plus.")]
    TooMany,
    #[error("La réponse n° {0} dépasse {MAX_QUICK_ANSWER_CHARS} caractères.")]
    TooLong(usize),
    #[error("La réponse n° {0} contient un caractère de contrôle.")]
    Control(usize),
}

/// The quick answers as a pharmacist typed them, one per line: blank lines
/// dropped, each trimmed; refused when too many, too long, or holding a
/// control character.
pub fn check_quick_answers(typed: &str) -> Result<Vec<String>, QuickAnswerError> {
    let answers: Vec<String> =
        typed.lines().map(str::trim).filter(|line| !line.is_empty()).map(str::to_string).collect();
    if answers.len() > MAX_QUICK_ANSWERS {
        return Err(QuickAnswerError::TooMany);
    }
    for (n, answer) in answers.iter().enumerate() {
        if answer.chars().count() > MAX_QUICK_ANSWER_CHARS {
            return Err(QuickAnswerError::TooLong(n + 1));
        }
        if answer.chars().any(char::is_control) {
            return Err(QuickAnswerError::Control(n + 1));
        }
    }
    Ok(answers)
}

/// Why a patient's message is not taken into a mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PatientRefusal {
    /// The mailbox does not receive mail (pending, suspended, closed).
    #[error("the mailbox does not receive mail")]
    NotReceiving,
    /// A personal or applicative mailbox that never wrote to this patient:
    /// patients write first only to organisational mailboxes (of pharmacies).
    #[error("patients may write first only to an organisational mailbox; this one never wrote to the patient")]
    NotStarted,
}

/// Whether a message from a patient may enter a mailbox of this kind and
/// state, which did or did not write to that patient before.
pub fn may_receive_from_patient(
    kind: MailboxKind,
    state: MailboxState,
    wrote_to_patient: bool,
) -> Result<(), PatientRefusal> {
    if !state.receives_mail() {
        return Err(PatientRefusal::NotReceiving);
    }
    match kind {
        MailboxKind::Organisational => Ok(()),
        _ if wrote_to_patient => Ok(()),
        _ => Err(PatientRefusal::NotStarted),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_patient_address_comes_from_a_valid_ins_only() {
        let address = patient_address("2 79 03 51 215 189 89").unwrap();
        assert_eq!(address.to_string(), "279035121518989@patient.mssante.fr");
        assert_eq!(patient_of(&address).unwrap().as_str(), "279035121518989");
        // Corsica, typed in lower case.
        assert_eq!(patient_address("253072a07300443").unwrap().to_string(), "253072a07300443@patient.mssante.fr");
        for bad in
            ["279035121518988", "27903512151898", "", "2790351215189890", "x79035121518989", "2 79 03 51 215 189"]
        {
            assert!(patient_address(bad).is_err(), "{bad}");
        }
        let professional: EmailAddress = "279035121518989@pharma.mssante.fr".parse().unwrap();
        assert!(patient_of(&professional).is_none());
        let not_an_ins: EmailAddress = "reponse.automatique-test@patient.mssante.fr".parse().unwrap();
        assert!(patient_of(&not_an_ins).is_none());
    }

    #[test]
    fn a_conversation_closes_with_the_header_or_the_exact_subject() {
        assert!(closes_conversation(None, Some("FIN")));
        assert!(closes_conversation(Some("Re: ordonnance"), Some(" fin ")));
        assert!(closes_conversation(Some("[FIN]"), None));
        for subject in ["[fin]", "Re: [FIN]", "[FIN] merci", " [FIN]", "FIN"] {
            assert!(!closes_conversation(Some(subject), None), "{subject}");
        }
        assert!(!closes_conversation(None, Some("FINI")) && !closes_conversation(None, None));
    }

    #[test]
    fn a_closing_message_ends_its_conversation_and_the_next_starts_another() {
        let c = |r: Range<usize>, closed| Conversation { messages: r, closed };
        assert_eq!(conversations(&[]), []);
        assert_eq!(conversations(&[false, false]), [c(0..2, false)]);
        assert_eq!(conversations(&[false, true]), [c(0..2, true)]);
        assert_eq!(conversations(&[false, true, false]), [c(0..2, true), c(2..3, false)]);
        assert_eq!(conversations(&[true, true]), [c(0..1, true), c(1..2, true)]);
        assert_eq!(ins_field_value(true), "O");
        assert_eq!(ins_field_value(false), "N");
    }

    proptest::proptest! {
        #[test]
        fn conversations_hold_every_message_once_in_order(closing in proptest::collection::vec(proptest::bool::ANY, 0..60)) {
            let found = conversations(&closing);
            let mut next = 0;
            for (i, conversation) in found.iter().enumerate() {
                proptest::prop_assert_eq!(conversation.messages.start, next);
                proptest::prop_assert!(!conversation.messages.is_empty());
                next = conversation.messages.end;
                let last = conversation.messages.end - 1;
                // Closed exactly when its last message closes; no earlier one does.
                proptest::prop_assert_eq!(conversation.closed, closing[last]);
                proptest::prop_assert!(closing[conversation.messages.start..last].iter().all(|c| !c));
                proptest::prop_assert!(conversation.closed || i == found.len() - 1);
            }
            proptest::prop_assert_eq!(next, closing.len());
        }
    }

    #[test]
    fn quick_answers_are_lines_checked_for_size_and_control_characters() {
        assert_eq!(
            check_quick_answers("  Disponible. \r\n\r\n\nÀ commander\n").unwrap(),
            ["Disponible.", "À commander"]
        );
        assert_eq!(check_quick_answers("").unwrap(), Vec::<String>::new());
        assert_eq!(check_quick_answers(&"a\n".repeat(MAX_QUICK_ANSWERS + 1)), Err(QuickAnswerError::TooMany));
        let long = format!("ok\n{}", "é".repeat(MAX_QUICK_ANSWER_CHARS + 1));
        assert_eq!(check_quick_answers(&long), Err(QuickAnswerError::TooLong(2)));
        assert_eq!(check_quick_answers("a\u{1b}[2J"), Err(QuickAnswerError::Control(1)));
        assert!(DEFAULT_QUICK_ANSWERS.iter().all(|a| check_quick_answers(a).is_ok()));
    }

    #[test]
    fn patients_write_first_to_organisational_mailboxes_only() {
        use MailboxKind::*;
        use MailboxState::*;
        assert_eq!(may_receive_from_patient(Organisational, Active, false), Ok(()));
        assert_eq!(may_receive_from_patient(Personal, Active, true), Ok(()));
        assert_eq!(may_receive_from_patient(Personal, Active, false), Err(PatientRefusal::NotStarted));
        assert_eq!(may_receive_from_patient(Applicative, Active, false), Err(PatientRefusal::NotStarted));
        assert_eq!(may_receive_from_patient(Organisational, Suspended, true), Err(PatientRefusal::NotReceiving));
        assert_eq!(may_receive_from_patient(Personal, Deleted, true), Err(PatientRefusal::NotReceiving));
        assert_eq!(may_receive_from_patient(Cabinet, Active, false), Err(PatientRefusal::NotStarted));
    }
}
