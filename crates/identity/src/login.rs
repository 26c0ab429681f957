//! Turning verified credentials into a principal: the mailbox a client acts
//! as. One path for every protocol (submission, IMAP, later the REST API):
//! a bearer token names an active mailbox; an organisation certificate is
//! bound to an active applicative mailbox; an application password opens
//! one mailbox, with its maker's rights, for the protocols it was made for.
//!
//! A login is not for ever: [`revoked`] tells an open session (IMAP,
//! submission) whether what proved it still holds: the login session not
//! ended (logout, revocation, expiry), the mailbox still receiving mail
//! (not suspended nor deleted), the certificate still bound to it.

use mss_core::{EmailAddress, MailboxKind, MailboxState, NationalId, Right, rights};
use mss_store::{Mailbox, MetadataStore, Scope, StoreError};
use mss_trust::DistinguishedName;

use crate::{BearerCredentials, TokenKey, app_password};

/// Who is acting: their own mailbox, and the person behind it (none for
/// software authenticated by certificate), with what proved it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub mailbox: Mailbox,
    pub national_id: Option<NationalId>,
    /// The login session of a session token (its `sid`); none for
    /// development tokens and certificates.
    pub session: Option<String>,
    /// The certificate subject of a SASL EXTERNAL login.
    pub certificate: Option<DistinguishedName>,
    /// The application password of a password login.
    pub app_password: Option<i64>,
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

/// Why a principal may no longer act.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Revoked {
    /// Logout, revocation (suspension, lost card) or expiry of the login
    /// session.
    #[error("Session revoked")]
    SessionEnded,
    /// The mailbox is suspended, deleted or gone.
    #[error("Mailbox closed")]
    MailboxClosed,
    /// The mailbox is no longer bound to the certificate that logged in.
    #[error("Certificate no longer bound to the mailbox")]
    CertificateUnbound,
    /// The application password was revoked, or expired, or its maker no
    /// longer has access to the mailbox.
    #[error("Application password revoked")]
    PasswordRevoked,
}

/// Whether `principal` may no longer act at `now`, and why: two reads by
/// key (the mailbox, the login session), cheap enough before each command.
pub async fn revoked(meta: &dyn MetadataStore, principal: &Principal, now: i64) -> Result<Option<Revoked>, StoreError> {
    let Some(mailbox) = meta.mailbox_by_id(principal.mailbox.id).await? else {
        return Ok(Some(Revoked::MailboxClosed));
    };
    if !mailbox.state.receives_mail() {
        return Ok(Some(Revoked::MailboxClosed));
    }
    if let Some(subject) = &principal.certificate
        && !mailbox.certificate_dn.as_deref().is_some_and(|dn| bound_to(dn, subject))
    {
        return Ok(Some(Revoked::CertificateUnbound));
    }
    if let Some(sid) = &principal.session
        && !meta.session(sid).await?.is_some_and(|s| s.is_live(now))
    {
        return Ok(Some(Revoked::SessionEnded));
    }
    if let Some(id) = principal.app_password {
        let live = meta.app_password(id).await?.is_some_and(|p| p.is_live(now));
        let person = principal.national_id.as_ref();
        let still = match person {
            Some(person) => meta.relation_to(&mailbox, person).await?.is_some(),
            None => false,
        };
        if !live || !still {
            return Ok(Some(Revoked::PasswordRevoked));
        }
    }
    Ok(None)
}

/// An application password (`mss_store::app_passwords`) for the mailbox
/// `user`, over `protocol` (IMAP or submission): live, of that mailbox, of
/// that scope, and its maker still holding the mailbox or a role on it
/// giving what the protocol needs (reading for IMAP, sending for
/// submission). The use is recorded.
pub async fn by_app_password(
    meta: &dyn MetadataStore,
    user: &str,
    password: &str,
    protocol: Scope,
    now: i64,
) -> Result<Principal, LoginError> {
    let invalid = |why: &str| LoginError::Invalid(why.to_string());
    if !password.trim().starts_with(app_password::PREFIX) || password.len() > 200 {
        return Err(invalid("not an application password"));
    }
    let address: EmailAddress = user.trim().parse().map_err(|_| invalid("user is not an address"))?;
    let kept = meta.app_password_by_hash(&app_password::hash(password)).await?;
    let Some(kept) = kept.filter(|p| p.is_live(now)) else {
        return Err(invalid("unknown, revoked or expired application password"));
    };
    let mailbox = meta.mailbox_by_id(kept.mailbox).await?.ok_or_else(|| invalid("mailbox gone"))?;
    if mailbox.address != address {
        return Err(invalid("the password is for another mailbox"));
    }
    if !kept.scope.allows(protocol) {
        return Err(invalid("the password is not for this protocol"));
    }
    if mailbox.state == MailboxState::Pending {
        return Err(LoginError::Pending);
    }
    let relation =
        meta.relation_to(&mailbox, &kept.national_id).await?.ok_or_else(|| invalid("maker has no access"))?;
    let needed = if protocol == Scope::Imap { Right::Read } else { Right::SendAs };
    if !rights(relation, mailbox.kind, mailbox.state).has(needed) {
        return Err(invalid("the maker's role does not allow this"));
    }
    meta.app_password_used(kept.id, now).await?;
    let national_id = Some(kept.national_id);
    Ok(Principal { mailbox, national_id, session: None, certificate: None, app_password: Some(kept.id) })
}

fn bound_to(dn: &str, subject: &DistinguishedName) -> bool {
    dn.parse::<DistinguishedName>().is_ok_and(|dn| dn.matches(subject))
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
            Ok(Principal { mailbox, national_id, session: claims.sid, certificate: None, app_password: None })
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
    let mailbox = meta.certificate_bound_mailboxes().await?.into_iter().find(|m| {
        m.kind == MailboxKind::Applicative
            && m.state.receives_mail()
            && m.certificate_dn.as_deref().is_some_and(|dn| bound_to(dn, subject))
    });
    let Some(mailbox) = mailbox else {
        return Err(LoginError::Invalid("no active applicative mailbox is bound to this certificate".into()));
    };
    if authzid.is_some_and(|a| a.parse::<EmailAddress>().ok().as_ref() != Some(&mailbox.address)) {
        return Err(LoginError::Invalid("authorization identity is not the bound mailbox".into()));
    }
    Ok(Principal { mailbox, national_id: None, session: None, certificate: Some(subject.clone()), app_password: None })
}
