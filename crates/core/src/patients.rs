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
//! Pure: the facts (the mailbox's kind and state, whether it wrote to the
//! patient) come from the caller.

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
