//! Header policy: what a message may say about who it is from, judged once
//! its data is read. The fields are read by `mss_message::originators`, the
//! reader the IMAP ENVELOPE and the webmail are to use as well, so what is
//! checked is what readers are shown.
//!
//! - **Every message**: exactly one `From:`, at most one of each field
//!   RFC 5322 §3.6 allows once (`Sender:`, `Reply-To:`, `To:`, `Subject:`...).
//! - **Submission**: every `From:` author is the envelope sender (itself
//!   checked at MAIL FROM); `Sender:` and every `Reply-To:` address must be
//!   a mailbox the user may send as ([`Submitter::sending_mailbox`]: their
//!   own, or an organisational mailbox their role lets them send for).
//!   Reply-To is held to the sending rule on purpose: a reply to a message
//!   carries patient data, and the user may only direct it to mailboxes they
//!   could have sent from.
//! - **MTA port**: the domain of every `From:` author and of `Sender:` must
//!   be one the liste blanche lists for the peer's certificate DN (for the
//!   patients' domain, the configured Mon espace santé gateway:
//!   [`PeerTrust`]), bounces (null sender) included: a peer speaks for its
//!   own domains only.
//!   `Reply-To:` is the peer's users' business, judged by their operator.

use mss_core::{EmailAddress, NationalId};
use mss_message::{HeaderError, Originators, originators};
use mss_store::{MailboxId, MetadataStore};
use mss_trust::DistinguishedName;
use mss_trust::liste_blanche::dn_listed;

use crate::Reply;
use crate::peers::PeerTrust;
use crate::submit::Submitter;

/// Submission: the originator fields of `message`, sent by the user whose
/// own mailbox is `own`, with `envelope_sender` as MAIL FROM.
pub async fn check_submission(
    submitter: &Submitter,
    message: &[u8],
    envelope_sender: &EmailAddress,
    own: (&EmailAddress, MailboxId),
    national_id: Option<&NationalId>,
) -> Result<(), Reply> {
    let originators = read(message)?;
    for author in &originators.from {
        if author.address != *envelope_sender {
            return Err(Reply::new(550, "5.7.1", format!("From: {} is not {envelope_sender}", author.address)));
        }
    }
    for (field, mailbox) in
        originators.sender.iter().map(|m| ("Sender", m)).chain(originators.reply_to.iter().map(|m| ("Reply-To", m)))
    {
        match submitter.sending_mailbox(own, national_id, &mailbox.address).await {
            Ok(Some(_)) => {}
            Ok(None) => {
                return Err(Reply::new(
                    550,
                    "5.7.1",
                    format!("{field}: {} may not send as {}", own.0, mailbox.address),
                ));
            }
            Err(e) => {
                tracing::error!(error = %e, "smtp: role lookup failed");
                return Err(Reply::new(451, "4.3.0", "Temporary failure, try again later"));
            }
        }
    }
    Ok(())
}

/// MTA port: the originator fields of `message` delivered by the peer whose
/// certificate DN is `subject` (who speaks for which domain: [`PeerTrust`]).
pub async fn check_peer(
    meta: &dyn MetadataStore,
    peers: &PeerTrust,
    message: &[u8],
    subject: &DistinguishedName,
) -> Result<(), Reply> {
    let originators = read(message)?;
    let fields = originators.from.iter().map(|m| ("From", m)).chain(originators.sender.iter().map(|m| ("Sender", m)));
    for (field, mailbox) in fields {
        let domain = mailbox.address.domain();
        let dns = peers.operator_dns(meta, domain.as_str()).await.map_err(|e| {
            tracing::error!(error = %e, "smtp: liste blanche lookup failed");
            Reply::new(451, "4.3.0", "Temporary failure, try again later")
        })?;
        if !dn_listed(dns.iter().map(String::as_str), subject) {
            return Err(Reply::new(
                550,
                "5.7.1",
                format!("{field}: domain {domain} is not one the liste blanche lists for certificate DN {subject}"),
            ));
        }
    }
    Ok(())
}

/// The originator fields, or the refusal of a header that has none to trust.
fn read(message: &[u8]) -> Result<Originators, Reply> {
    originators(message).map_err(|e: HeaderError| Reply::new(550, "5.6.0", format!("Message header refused: {e}")))
}
