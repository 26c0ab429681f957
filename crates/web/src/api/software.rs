//! Who is calling when software calls: the pharmacy software acting as its
//! applicative mailbox, by the bearer token `mss token` made for it or by the
//! organisation certificate the mailbox is bound to, presented in the HTTPS
//! handshake (judged against the trust anchors, then bound as SMTP's and
//! IMAP's SASL EXTERNAL binds it). A token, when given, decides: a client
//! holding both is judged by what it says it is. Routes that serve people
//! and software alike take an [`Acting`]: a person's session, or software.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use mss_core::{EmailAddress, MailboxKind, Relation, Rights, rights};
use mss_identity::login::{self, LoginError, Principal};
use mss_identity::{BearerCredentials, SessionError};
use mss_store::{Mailbox, NewAuditEntry, now_unix};
use mss_trust::PeerCertificate;

use super::auth::bearer;
use crate::shared::access;
use crate::{Caller, PresentedCertificate, Problem, Web};

/// Whoever acts on a mailbox through the API: a person by their session, or
/// software as its applicative mailbox.
pub enum Acting {
    Person(Caller),
    Software(Box<Principal>),
}

impl Acting {
    /// The mailbox at `address` and what the caller may do there: a
    /// person's rights by their relation to it; software, everything on its
    /// own mailbox and nothing elsewhere (404, as for a stranger).
    pub async fn on(&self, web: &Web, address: &str) -> Result<(Mailbox, Rights), Problem> {
        match self {
            Acting::Person(caller) => {
                let (mailbox, relation) = access(web, caller, address).await?;
                let rights = rights(relation, mailbox.kind, mailbox.state);
                Ok((mailbox, rights))
            }
            Acting::Software(principal) => {
                let own = address.parse::<EmailAddress>().ok().as_ref() == Some(principal.address());
                if !own {
                    return Err(Problem::not_found("Aucune boîte de ce nom parmi les vôtres."));
                }
                let mailbox = principal.mailbox.clone();
                let rights = rights(Relation::Holder, mailbox.kind, mailbox.state);
                Ok((mailbox, rights))
            }
        }
    }

    /// Who acts, for the audit trail.
    pub fn actor(&self) -> String {
        match self {
            Acting::Person(caller) => caller.actor(),
            Acting::Software(principal) => principal.address().to_string(),
        }
    }
}

impl FromRequestParts<Arc<Web>> for Acting {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, web: &Arc<Web>) -> Result<Self, Self::Rejection> {
        if let Some(token) = bearer(parts) {
            match web.sessions.verify(token, now_unix()).await {
                Ok(who) => return Ok(Acting::Person(Caller(who))),
                Err(SessionError::Store(e)) => return Err(Problem::unavailable(e)),
                // Not a person's session: software's token, maybe.
                Err(_) => {}
            }
        }
        Ok(Acting::Software(Box::new(Software::from_request_parts(parts, web).await?.0)))
    }
}

/// Software acting as its applicative mailbox.
pub struct Software(pub Principal);

impl FromRequestParts<Arc<Web>> for Software {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, web: &Arc<Web>) -> Result<Self, Self::Rejection> {
        let login = match (bearer(parts), parts.extensions.get::<PresentedCertificate>()) {
            (Some(token), _) => {
                let credentials = BearerCredentials { user: None, token: token.to_string() };
                login::by_token(web.store.meta.as_ref(), &web.sessions.key, &credentials, now_unix()).await
            }
            (None, Some(PresentedCertificate(chain))) => by_certificate(web, chain).await,
            (None, None) => {
                return Err(Problem::unauthenticated(
                    "Authentification requise (jeton du logiciel ou certificat de sa boîte applicative).",
                ));
            }
        };
        match login {
            Ok(principal) if principal.mailbox.kind == MailboxKind::Applicative => Ok(Software(principal)),
            Ok(_) => Err(Problem::forbidden("Ce jeton n'est pas celui d'une boîte applicative.")),
            Err(LoginError::Unavailable(e)) => Err(Problem::unavailable(e)),
            Err(e) => {
                mss_net::counters::add(mss_net::counters::AUTH_FAILURES, "api");
                let path = parts.uri.path().to_string();
                let entry = NewAuditEntry::now("anonymous", "api.authenticate", path, format!("refused: {e}"), "");
                web.store.audit.record(entry).await;
                Err(Problem::unauthenticated(
                    "Jeton invalide, expiré ou révoqué, ou certificat lié à aucune boîte applicative active.",
                ))
            }
        }
    }
}

/// The applicative mailbox bound to the certificate the client presented,
/// if it chains to the trust anchors (not merely to the CPS CA the
/// handshake also accepts).
async fn by_certificate(web: &Web, chain: &[Vec<u8>]) -> Result<Principal, LoginError> {
    let Some(trust) = &web.software_trust else {
        return Err(LoginError::Invalid("certificates are not taken on this listener".into()));
    };
    match trust.judge_der(chain) {
        PeerCertificate::Trusted { subject } => login::by_certificate(web.store.meta.as_ref(), &subject, None).await,
        PeerCertificate::Untrusted { reason } => Err(LoginError::Invalid(format!("untrusted certificate: {reason}"))),
        PeerCertificate::Missing => Err(LoginError::Invalid("no certificate".into())),
    }
}
