//! Operator sessions: after a Pro Santé Connect or CPS login, the operator
//! issues its own short-lived access token (an ES256 JWT naming the person
//! and the session) and a refresh token. The same access token works for
//! the REST API and for SASL XOAUTH2 on IMAP and submission.
//!
//! - Only a BLAKE3 hash of the refresh token is stored; each refresh
//!   replaces it, and presenting an already used refresh token ends the
//!   session (it was stolen, or replayed).
//! - Every verification checks the session is live, so logout and
//!   revocation take effect at once.
//! - The portal's session cookie is a third kind of token: it names the
//!   session only (no `sub`), so it is never accepted as an access token,
//!   and it lives as long as the session.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mss_core::NationalId;
use mss_store::{MetadataStore, Session, StoreError};
use ring::rand::{SecureRandom, SystemRandom};

use crate::token::Expiring;
use crate::{Claims, TokenError, TokenKey};

/// How a person proved who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Psc,
    Cps,
    /// An account of the software vendor's, linked to the person after a
    /// PSC or CPS login (`crate::account`).
    Account,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Psc => "psc",
            Method::Cps => "cps",
            Method::Account => "account",
        }
    }

    /// Whether it proves the person by the health system's own means (a
    /// linked account does not: it may not link another).
    pub fn is_strong(method: &str) -> bool {
        matches!(method, "psc" | "cps")
    }
}

/// A person as an identity provider described them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub national_id: NationalId,
    pub first_name: String,
    pub last_name: String,
    /// FINESS of the structures they work in.
    pub finess: Vec<String>,
}

/// What a login or a refresh hands to the client.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct IssuedTokens {
    pub access_token: String,
    pub token_type: &'static str,
    /// Seconds.
    pub expires_in: i64,
    pub refresh_token: String,
    pub refresh_expires_in: i64,
}

/// A verified access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated {
    pub person: Person,
    pub session: String,
    pub method: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("{0}")]
    Token(#[from] TokenError),
    #[error("not a session token")]
    NotASession,
    #[error("session ended")]
    Ended,
    #[error("refresh token unknown or already used")]
    BadRefresh,
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

/// Issues and checks session tokens.
pub struct SessionAuthority {
    pub key: Arc<TokenKey>,
    pub meta: Arc<dyn MetadataStore>,
    /// Access token lifetime (PSC's is about 5 minutes).
    pub access_ttl: i64,
    /// Session lifetime: refreshes stop working after it.
    pub refresh_ttl: i64,
}

impl Person {
    pub fn display_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
    }
}

impl SessionAuthority {
    pub fn new(key: Arc<TokenKey>, meta: Arc<dyn MetadataStore>) -> Self {
        Self { key, meta, access_ttl: 300, refresh_ttl: 8 * 3600 }
    }

    /// Starts a session for `person`.
    pub async fn open(&self, person: &Person, method: Method, now: i64) -> Result<IssuedTokens, SessionError> {
        let (session, refresh) = self.create(person, method, now).await?;
        self.tokens(&session, refresh, now)
    }

    /// Starts a portal session for `person`: the token its cookie carries.
    pub async fn open_portal(&self, person: &Person, method: Method, now: i64) -> Result<String, SessionError> {
        let (session, _) = self.create(person, method, now).await?;
        let claims =
            PortalClaims { iss: self.key.issuer().to_string(), iat: now, exp: session.expires_at, psid: session.id };
        Ok(self.key.sign(&claims, None)?)
    }

    /// Checks a portal cookie's token and that its session is live.
    pub async fn verify_portal(&self, token: &str, now: i64) -> Result<Authenticated, SessionError> {
        let claims: PortalClaims = self.key.verify_as(token, now)?;
        let session = self.meta.session(&claims.psid).await?.ok_or(SessionError::Ended)?;
        if !session.is_live(now) {
            return Err(SessionError::Ended);
        }
        Ok(authenticated(session))
    }

    async fn create(&self, person: &Person, method: Method, now: i64) -> Result<(Session, String), SessionError> {
        let id = random_token(18)?;
        let refresh = format!("{id}.{}", random_token(32)?);
        let session = Session {
            id: id.clone(),
            national_id: person.national_id.clone(),
            first_name: person.first_name.clone(),
            last_name: person.last_name.clone(),
            method: method.as_str().into(),
            finess: person.finess.clone(),
            refresh_hash: hash(&refresh),
            created_at: now,
            expires_at: now + self.refresh_ttl,
            revoked_at: None,
        };
        self.meta.create_session(&session).await?;
        Ok((session, refresh))
    }

    /// A new access token (and refresh token) for a live session.
    pub async fn refresh(&self, refresh_token: &str, now: i64) -> Result<IssuedTokens, SessionError> {
        let id = refresh_token.split('.').next().filter(|id| !id.is_empty()).ok_or(SessionError::BadRefresh)?;
        let session = self.meta.session(id).await?.ok_or(SessionError::BadRefresh)?;
        let next = format!("{id}.{}", random_token(32)?);
        if !self.meta.rotate_refresh(id, &hash(refresh_token), &hash(&next), now).await? {
            return Err(SessionError::BadRefresh);
        }
        self.tokens(&session, next, now)
    }

    /// Checks an access token and that its session is live.
    pub async fn verify(&self, access_token: &str, now: i64) -> Result<Authenticated, SessionError> {
        let claims = self.key.verify(access_token, now)?;
        let sid = claims.sid.ok_or(SessionError::NotASession)?;
        let session = self.meta.session(&sid).await?.ok_or(SessionError::Ended)?;
        if !session.is_live(now) || session.national_id.to_string() != claims.sub {
            return Err(SessionError::Ended);
        }
        Ok(authenticated(session))
    }

    /// Logout.
    pub async fn close(&self, session: &str, now: i64) -> Result<(), SessionError> {
        Ok(self.meta.revoke_session(session, now).await?)
    }

    fn tokens(&self, session: &Session, refresh_token: String, now: i64) -> Result<IssuedTokens, SessionError> {
        let expires = (now + self.access_ttl).min(session.expires_at);
        let claims = Claims {
            sub: session.national_id.to_string(),
            iss: self.key.issuer().to_string(),
            iat: now,
            exp: expires,
            sid: Some(session.id.clone()),
            name: Some(format!("{} {}", session.first_name, session.last_name)),
            finess: session.finess.clone(),
            amr: Some(session.method.clone()),
        };
        Ok(IssuedTokens {
            access_token: self.key.sign(&claims, None)?,
            token_type: "Bearer",
            expires_in: expires - now,
            refresh_token,
            refresh_expires_in: session.expires_at - now,
        })
    }
}

/// The claims of a portal session cookie. `psid` (not `sid`) and no `sub`:
/// neither an access token nor this can be taken for the other.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PortalClaims {
    iss: String,
    iat: i64,
    exp: i64,
    psid: String,
}

impl Expiring for PortalClaims {
    fn issuer(&self) -> &str {
        &self.iss
    }

    fn expires_at(&self) -> i64 {
        self.exp
    }
}

fn authenticated(session: Session) -> Authenticated {
    Authenticated {
        person: Person {
            national_id: session.national_id,
            first_name: session.first_name,
            last_name: session.last_name,
            finess: session.finess,
        },
        session: session.id,
        method: session.method,
    }
}

/// `bytes` random bytes, base64url.
pub fn random_token(bytes: usize) -> Result<String, TokenError> {
    let mut buffer = vec![0u8; bytes];
    SystemRandom::new().fill(&mut buffer).map_err(|_| TokenError::Key("no randomness".into()))?;
    Ok(URL_SAFE_NO_PAD.encode(buffer))
}

/// A random number, for identifiers (`2.25.<n>` OIDs, `urn:uuid:`).
pub fn random_u128() -> Result<u128, TokenError> {
    let mut buffer = [0u8; 16];
    SystemRandom::new().fill(&mut buffer).map_err(|_| TokenError::Key("no randomness".into()))?;
    Ok(u128::from_le_bytes(buffer))
}

fn hash(token: &str) -> String {
    blake3::hash(token.as_bytes()).to_hex().to_string()
}
