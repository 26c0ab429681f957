//! Turning verified credentials into a principal: the mailbox a client acts
//! as. One path for every protocol (submission, IMAP, later the REST API):
//! a bearer token names an active mailbox; an organisation certificate is
//! bound to an active applicative mailbox.

use mss_core::{EmailAddress, MailboxKind, MailboxState, NationalId};
use mss_store::{Mailbox, MetadataStore, StoreError};
use mss_trust::DistinguishedName;

use crate::{BearerCredentials, TokenKey};

/// Who is acting: their own mailbox, and the person behind it (none for
/// software authenticated by certificate).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub mailbox: Mailbox,
    pub national_id: Option<NationalId>,
}

impl Principal {
    pub fn address(&self) -> &EmailAddress {
        &self.mailbox.address
    }
}

/// What a person is told when their mailbox is still pending.
pub const PENDING_MESSAGE: &str = "La boite est en cours de creation";

/// Why a login failed.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// The credentials prove nothing; the reason is for logs, never for the
    /// client (it would help guessing).
    #[error("{0}")]
    Invalid(String),
    /// The mailbox exists but waits for the ANS validation: the user is
    /// told so (in French, in 7-bit text for the protocols).
    #[error("mailbox pending validation")]
    Pending,
    /// The store could not answer; the client may retry.
    #[error("store: {0}")]
    Unavailable(#[from] StoreError),
}

/// A bearer token (XOAUTH2, OAUTHBEARER, development PLAIN).
pub async fn by_token(
    meta: &dyn MetadataStore,
    tokens: &TokenKey,
    credentials: &BearerCredentials,
    now: i64,
) -> Result<Principal, LoginError> {
    let invalid = |why: &str| LoginError::Invalid(why.to_string());
    let claims = tokens.verify(&credentials.token, now).map_err(|e| invalid(&e.to_string()))?;
    let claimed = || {
        credentials.user.as_deref().map(|u| u.parse::<EmailAddress>().map_err(|_| invalid("user is not an address")))
    };
    // A session token names a person: the user names which of their
    // personal mailboxes; other tokens name the mailbox itself.
    let (address, person) = match &claims.sid {
        Some(sid) => {
            let session =
                meta.session(sid).await?.filter(|s| s.is_live(now)).ok_or_else(|| invalid("session ended"))?;
            let address = claimed().ok_or_else(|| invalid("a session token needs the mailbox as user"))??;
            (address, Some(session.national_id))
        }
        None => {
            let address: EmailAddress = claims.sub.parse().map_err(|_| invalid("token subject is not an address"))?;
            if claimed().transpose()?.is_some_and(|user| user != address) {
                return Err(invalid("user does not match the token"));
            }
            (address, None)
        }
    };
    match meta.mailbox(&address).await? {
        Some(mailbox)
            if person.is_some() && (mailbox.kind != MailboxKind::Personal || mailbox.national_id != person) =>
        {
            Err(invalid("the mailbox is not this person's own"))
        }
        Some(mailbox) if mailbox.state.receives_mail() => {
            let national_id = mailbox.national_id.clone();
            Ok(Principal { mailbox, national_id })
        }
        Some(mailbox) if mailbox.state == MailboxState::Pending => Err(LoginError::Pending),
        _ => Err(invalid("no active mailbox")),
    }
}

/// SASL EXTERNAL: software presenting the organisation certificate its
/// applicative mailbox is bound to; `authzid`, when given, must be that
/// mailbox.
pub async fn by_certificate(
    meta: &dyn MetadataStore,
    subject: &DistinguishedName,
    authzid: Option<&str>,
) -> Result<Principal, LoginError> {
    let bound_to_subject = |dn: &str| dn.parse::<DistinguishedName>().is_ok_and(|dn| dn.matches(subject));
    let mailbox = meta.certificate_bound_mailboxes().await?.into_iter().find(|m| {
        m.kind == MailboxKind::Applicative
            && m.state.receives_mail()
            && m.certificate_dn.as_deref().is_some_and(bound_to_subject)
    });
    let Some(mailbox) = mailbox else {
        return Err(LoginError::Invalid("no active applicative mailbox is bound to this certificate".into()));
    };
    if authzid.is_some_and(|a| a.parse::<EmailAddress>().ok().as_ref() != Some(&mailbox.address)) {
        return Err(LoginError::Invalid("authorization identity is not the bound mailbox".into()));
    }
    Ok(Principal { mailbox, national_id: None })
}
