//! What Mon espace santé's gateway refuses of a professional's message, how
//! its SMTP reply says it, and how a person is told (MSSANTE.md: "bounce
//! causes Mon espace santé reports: closed mailbox, unknown patient,
//! invalid address, over 25 MB"; and a reply within a conversation the
//! patient or the professional closed).
//!
//! The public ENS text names the causes, not the codes: the codes are the
//! RFC 3463 ones that say each cause (inferred), used by the simulator
//! when it refuses and read back by the operator when it explains a bounce
//! ([`GatewayRefusal::from_status`]).

use super::MAX_PATIENT_MESSAGE_BYTES;

/// Why the gateway refuses a message to a patient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GatewayRefusal {
    /// The address is not `<INS>@patient.mssante.fr` with a valid INS.
    InvalidAddress,
    /// No patient has this INS at Mon espace santé.
    UnknownPatient,
    /// The patient's messaging is closed (profile closed or opposed).
    MailboxClosed,
    /// Over [`MAX_PATIENT_MESSAGE_BYTES`].
    TooLarge,
    /// A reply within a conversation that was closed (`[FIN]`): a new
    /// message, not a reply, starts a new one.
    ConversationClosed,
}

impl GatewayRefusal {
    pub const ALL: [GatewayRefusal; 5] = [
        GatewayRefusal::InvalidAddress,
        GatewayRefusal::UnknownPatient,
        GatewayRefusal::MailboxClosed,
        GatewayRefusal::TooLarge,
        GatewayRefusal::ConversationClosed,
    ];

    /// The SMTP reply: code, enhanced status (RFC 3463) and text.
    pub fn reply(self) -> (u16, &'static str, &'static str) {
        match self {
            GatewayRefusal::InvalidAddress => {
                (553, "5.1.3", "not a patient address: the local part must be a valid INS")
            }
            GatewayRefusal::UnknownPatient => (550, "5.1.1", "unknown patient"),
            GatewayRefusal::MailboxClosed => (550, "5.2.1", "the patient's messaging is closed"),
            GatewayRefusal::TooLarge => (552, "5.3.4", "message over 25 MB"),
            GatewayRefusal::ConversationClosed => (550, "5.7.1", "this conversation was closed ([FIN])"),
        }
    }

    /// The refusal an enhanced status code of the gateway says, if one.
    pub fn from_status(status: &str) -> Option<Self> {
        GatewayRefusal::ALL.into_iter().find(|r| r.reply().1 == status)
    }

    /// What the sender is told, in French.
    pub fn explained(self) -> &'static str {
        match self {
            GatewayRefusal::InvalidAddress => {
                "L'adresse n'est pas celle d'un patient : la partie avant « @patient.mssante.fr » doit être son INS \
                 (15 caractères, clé comprise)."
            }
            GatewayRefusal::UnknownPatient => {
                "Mon espace santé ne connaît pas de patient avec cet INS : vérifiez l'INS, qui doit être qualifié."
            }
            GatewayRefusal::MailboxClosed => {
                "La messagerie Mon espace santé de ce patient est fermée : il ne peut pas recevoir de message. \
                 Contactez-le par un autre moyen."
            }
            GatewayRefusal::TooLarge => {
                "Le message dépasse 25 Mo, la taille maximale acceptée par Mon espace santé : retirez ou réduisez \
                 des pièces jointes."
            }
            GatewayRefusal::ConversationClosed => {
                "Cette conversation avec le patient est close ([FIN]) : on ne peut plus y répondre. Écrivez-lui un \
                 nouveau message pour commencer une nouvelle conversation."
            }
        }
    }
}

/// What the gateway decides about a recipient (at RCPT): whether the
/// address holds a valid INS, a patient has it, and their messaging is open.
pub fn gateway_takes_recipient(valid_ins: bool, known: bool, open: bool) -> Result<(), GatewayRefusal> {
    match (valid_ins, known, open) {
        (false, _, _) => Err(GatewayRefusal::InvalidAddress),
        (true, false, _) => Err(GatewayRefusal::UnknownPatient),
        (true, true, false) => Err(GatewayRefusal::MailboxClosed),
        (true, true, true) => Ok(()),
    }
}

/// What the gateway decides about the message itself (at the end of
/// DATA): its size, and whether it answers a message of a closed
/// conversation.
pub fn gateway_takes_message(size: usize, replies_to_closed: bool) -> Result<(), GatewayRefusal> {
    if size > MAX_PATIENT_MESSAGE_BYTES {
        return Err(GatewayRefusal::TooLarge);
    }
    if replies_to_closed {
        return Err(GatewayRefusal::ConversationClosed);
    }
    Ok(())
}

/// Whether a patient may write to a professional: one who wrote to them
/// (or whose `Reply-To` they were given), or a pharmacy Mon espace santé
/// lets them start with (a reimbursed dispensation there in the past year).
pub fn patient_may_write_to(wrote_to_patient: bool, pharmacy_of_patient: bool) -> bool {
    wrote_to_patient || pharmacy_of_patient
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_refusal_has_its_own_status_and_reads_back_from_it() {
        for refusal in GatewayRefusal::ALL {
            let (code, status, _) = refusal.reply();
            assert!((550..=553).contains(&code), "{refusal:?}");
            assert_eq!(GatewayRefusal::from_status(status), Some(refusal));
            assert!(!refusal.explained().is_empty());
        }
        assert_eq!(GatewayRefusal::from_status("5.0.0"), None);
    }

    #[test]
    fn the_gateway_checks_the_address_the_patient_the_size_then_the_conversation() {
        let max = MAX_PATIENT_MESSAGE_BYTES;
        assert_eq!(gateway_takes_recipient(true, true, true), Ok(()));
        assert_eq!(gateway_takes_recipient(false, false, true), Err(GatewayRefusal::InvalidAddress));
        assert_eq!(gateway_takes_recipient(true, false, true), Err(GatewayRefusal::UnknownPatient));
        assert_eq!(gateway_takes_recipient(true, true, false), Err(GatewayRefusal::MailboxClosed));
        assert_eq!(gateway_takes_message(max, false), Ok(()));
        assert_eq!(gateway_takes_message(max + 1, true), Err(GatewayRefusal::TooLarge));
        assert_eq!(gateway_takes_message(10, true), Err(GatewayRefusal::ConversationClosed));
        assert!(patient_may_write_to(true, false) && patient_may_write_to(false, true));
        assert!(!patient_may_write_to(false, false));
    }
}
