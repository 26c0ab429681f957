//! Who a message is from, as the webmail shows and uses it: the sender on
//! the message page and in the folder list (its column, its search, its
//! sort), the reply's recipients, the recent correspondents.
//!
//! Rules kept here:
//! - the originator fields are read by [`mss_message::originators`], the
//!   reader SMTP policy checks, never by mail-parser: what a person sees as
//!   the sender is what policy checked (issue 13: policy read the last of
//!   two `From:` fields, the webmail showed the first);
//! - a message that reader refuses (two `From:` fields, none, a malformed
//!   header line: stored by IMAP APPEND, or before the policy) has no
//!   sender here: it is shown as [`UNVERIFIABLE`], a reply to it starts
//!   with no recipient, and no correspondent is learnt from it.

use mss_message::{Mailbox, Originators, originators};

/// What the webmail shows instead of a sender it cannot vouch for.
pub const UNVERIFIABLE: &str = "Expéditeur non vérifiable";

/// Why, on the message page.
pub const UNVERIFIABLE_WHY: &str = "Expéditeur non vérifiable : l'en-tête de ce message ne permet pas d'établir \
    qui l'a envoyé (champ « De » absent, répété ou illisible). Aucune adresse n'est affichée comme expéditeur, \
    et une réponse part sans destinataire.";

/// Who a message is from, or that this cannot be said.
pub struct Origin(Option<Originators>);

impl Origin {
    /// Reads the originator fields of `raw`, a whole message (the reader
    /// stops at the end of the header).
    pub fn of(raw: &[u8]) -> Self {
        Origin(originators(raw).ok())
    }

    pub fn is_verifiable(&self) -> bool {
        self.0.is_some()
    }

    /// The authors as people read them (`Name <address>, ...`), or
    /// [`UNVERIFIABLE`].
    pub fn shown(&self) -> String {
        match &self.0 {
            Some(o) => o.from.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
            None => UNVERIFIABLE.to_string(),
        }
    }

    /// The first author's address.
    pub fn author(&self) -> Option<String> {
        Some(self.0.as_ref()?.from.first()?.address.to_string())
    }

    /// The authors (none when unverifiable).
    pub fn authors(&self) -> &[Mailbox] {
        self.0.as_ref().map_or(&[], |o| o.from.as_slice())
    }

    /// The addresses a reply goes to (RFC 5322 §3.6.2: Reply-To, else the
    /// authors); none when unverifiable.
    pub fn reply_targets(&self) -> Vec<String> {
        self.0.as_ref().map_or_else(Vec::new, |o| o.reply_targets().iter().map(|m| m.address.to_string()).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checked_sender_is_shown_and_answered() {
        let origin = Origin::of(
            b"From: =?utf-8?q?Jos=C3=A9?= <Jose@Autre.test>, <b@autre.test>\r\nSender: <s@autre.test>\r\n\
              Reply-To: <r@autre.test>\r\n\r\nbody",
        );
        assert!(origin.is_verifiable());
        assert_eq!(origin.shown(), "José <jose@autre.test>, b@autre.test");
        assert_eq!(origin.author().as_deref(), Some("jose@autre.test"));
        assert_eq!(origin.authors().len(), 2);
        assert_eq!(origin.reply_targets(), ["r@autre.test"]);
    }

    #[test]
    fn two_from_fields_give_no_sender_at_all() {
        let origin = Origin::of(b"From: <chef@autre.test>\r\nFrom: <elodie@ours.test>\r\n\r\nbody");
        assert!(!origin.is_verifiable());
        assert_eq!(origin.shown(), UNVERIFIABLE);
        assert_eq!((origin.author(), origin.authors().len(), origin.reply_targets().len()), (None, 0, 0));
    }
}
