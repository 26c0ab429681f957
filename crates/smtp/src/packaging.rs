//! Submission by the pharmacy software (an applicative mailbox): a health
//! document attached as a bare CDA R2 is packaged as IHE XDM before the
//! message goes anywhere (`mss_message::packaging`: the package, the
//! subject convention, `X-MSS-CODECDA`, `X-MSS-INS`). People's mail
//! programs are left alone: the webmail packages what people send. A CDA
//! that cannot be packaged (no INS, no type) is refused with the reason,
//! and so is a message the package would make too large.

use mss_core::MailboxKind;
use mss_message::packaging::{Packaging, package_bare_cda};

use crate::Reply;

/// `body` as it is to be sent by a mailbox of `kind`, at most `max` bytes.
pub fn for_sender(body: Vec<u8>, kind: MailboxKind, max: usize) -> Result<Vec<u8>, Reply> {
    if kind != MailboxKind::Applicative {
        return Ok(body);
    }
    let software = mss_message::parsed::parse_header(&body)
        .and_then(|h| h.header_raw("X-MSS-NIL").map(|v| v.trim().to_string()))
        .unwrap_or_else(|| "mss".to_string());
    let (Ok(a), Ok(b)) = (mss_identity::session::random_u128(), mss_identity::session::random_u128()) else {
        return Err(Reply::new(451, "4.3.0", "Temporary failure, try again later"));
    };
    match package_bare_cda(&body, &software, [a, b]) {
        Packaging::Unchanged => Ok(body),
        Packaging::Packaged { message, .. } if message.len() > max => Err(Reply::new(
            552,
            "5.3.4",
            format!("Message too large once its CDA is packaged as IHE XDM, at most {max} bytes"),
        )),
        Packaging::Packaged { message, code, .. } => {
            tracing::info!(code, size = message.len(), "smtp: bare CDA packaged as IHE XDM");
            Ok(message)
        }
        Packaging::Refused(e) => {
            Err(Reply::new(550, "5.6.0", format!("The CDA attached cannot be sent as a health document: {e}")))
        }
    }
}
