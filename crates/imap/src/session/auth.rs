//! AUTHENTICATE (SASL XOAUTH2, OAUTHBEARER, EXTERNAL, PLAIN) and LOGIN,
//! through the shared login path of `mss-identity`, throttled per client
//! and account. PLAIN and LOGIN take application passwords, and in
//! development (where the configuration allows it) a token as password.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use mss_identity::login::{self, LoginError};
use mss_identity::sasl::{self, BearerMechanism};
use mss_identity::{BearerCredentials, Principal};
use mss_store::{NewAuditEntry, Scope, now_unix};
use mss_trust::PeerCertificate;

use super::{Reply, Session, State};
use crate::conn::{Conn, ReadEnd};

impl Session<'_> {
    pub(super) async fn authenticate(
        &mut self,
        conn: &mut Conn,
        mechanism: &str,
        initial: Option<Vec<u8>>,
    ) -> Result<Reply, ReadEnd> {
        if self.tls.is_none() {
            return Ok(Reply::no("Use STARTTLS first").with_code("PRIVACYREQUIRED"));
        }
        let bearer = match mechanism.to_ascii_uppercase().as_str() {
            "XOAUTH2" => Some(BearerMechanism::XOAuth2),
            "OAUTHBEARER" => Some(BearerMechanism::OAuthBearer),
            "PLAIN" => Some(BearerMechanism::Plain),
            "EXTERNAL" => None,
            _ => return Ok(Reply::no(format!("Unsupported mechanism {mechanism}")).with_code("CANNOT")),
        };
        let response = match initial {
            Some(response) => response,
            None => {
                conn.write(b"+ \r\n").await.map_err(ReadEnd::Io)?;
                // The response is base64 of at most MAX_RESPONSE_BYTES, on one
                // line; a longer one ends the connection (ReadEnd::Overflow).
                let max = sasl::MAX_RESPONSE_BYTES.div_ceil(3) * 4 + 2;
                let progress = self.server.limits.progress_timeout;
                let Some(line) = conn.line(max, progress, progress, false).await? else {
                    return Ok(Reply::bad("Authentication response too long"));
                };
                let line = String::from_utf8_lossy(&line).trim().to_string();
                if line == "*" {
                    return Ok(Reply::bad("Authentication cancelled"));
                }
                match STANDARD.decode(line) {
                    Ok(bytes) => bytes,
                    Err(_) => return Ok(Reply::bad("Authentication response is not base64")),
                }
            }
        };
        let meta = self.server.store.meta.as_ref();
        let (claimed, result) = match bearer {
            Some(mechanism) => match sasl::decode_bearer(mechanism, &response) {
                Ok(credentials) if mechanism == BearerMechanism::Plain => {
                    let user = credentials.user.clone();
                    (user.clone(), self.password(user.as_deref().unwrap_or_default(), &credentials.token).await)
                }
                Ok(credentials) => {
                    let result = login::by_token(meta, &self.server.tokens, &credentials, now_unix()).await;
                    (credentials.user.clone(), result)
                }
                Err(why) => return Ok(Reply::bad(format!("Cannot decode the response: {why}"))),
            },
            None => {
                let authzid = match sasl::decode_external(&response) {
                    Ok(authzid) => authzid,
                    Err(why) => return Ok(Reply::bad(format!("Cannot decode the response: {why}"))),
                };
                let result = match &self.tls {
                    Some(crate::server::TlsPeer { certificate: PeerCertificate::Trusted { subject } }) => {
                        login::by_certificate(meta, subject, authzid.as_deref()).await
                    }
                    _ => Err(LoginError::Invalid("no trusted client certificate".into())),
                };
                (authzid, result)
            }
        };
        Ok(self.logged_in(claimed.as_deref(), result).await)
    }

    /// LOGIN (RFC 9051 §6.2.3): an application password.
    pub(super) async fn login(&mut self, user: &str, password: &str) -> Reply {
        if self.tls.is_none() {
            return Reply::no("Use STARTTLS first").with_code("PRIVACYREQUIRED");
        }
        let result = self.password(user, password).await;
        self.logged_in(Some(user), result).await
    }

    /// A password login: an application password, or in development a
    /// bearer token as password.
    async fn password(&self, user: &str, password: &str) -> Result<Principal, LoginError> {
        let meta = self.server.store.meta.as_ref();
        if password.trim().starts_with(mss_identity::app_password::PREFIX) {
            return login::by_app_password(meta, user, password, Scope::Imap, now_unix()).await;
        }
        if !self.server.plain_with_token {
            return Err(LoginError::Invalid("passwords are application passwords only".into()));
        }
        let credentials = BearerCredentials { user: Some(user.to_string()), token: password.to_string() };
        login::by_token(meta, &self.server.tokens, &credentials, now_unix()).await
    }

    async fn logged_in(&mut self, claimed: Option<&str>, result: Result<Principal, LoginError>) -> Reply {
        self.server.throttle.pace(self.peer.ip(), claimed, &result).await;
        match result {
            Ok(principal) => {
                tracing::info!(peer = %self.peer, user = %principal.address(), "imap: logged in");
                let address = principal.address().to_string();
                self.login_audit(&address, &address, "ok").await;
                self.principal = Some(principal);
                self.state = State::Authenticated;
                mss_net::proven();
                Reply::ok("Logged in").with_code(format!("CAPABILITY {}", self.capabilities()))
            }
            Err(LoginError::Invalid(why)) => {
                mss_net::counters::add(mss_net::counters::AUTH_FAILURES, "imap");
                tracing::warn!(peer = %self.peer, user = claimed.unwrap_or(""), reason = why, "imap: login refused");
                self.login_audit(claimed.unwrap_or("anonymous"), claimed.unwrap_or(""), &format!("refused: {why}"))
                    .await;
                Reply::no("Authentication failed").with_code("AUTHENTICATIONFAILED")
            }
            Err(LoginError::Pending) => {
                self.login_audit(claimed.unwrap_or("anonymous"), claimed.unwrap_or(""), "refused: mailbox pending")
                    .await;
                Reply::no(login::PENDING_MESSAGE).with_code("UNAVAILABLE")
            }
            Err(LoginError::Unavailable(e)) => {
                tracing::error!(error = %e, "imap: login lookup failed");
                Reply::no("Temporary failure, try again").with_code("UNAVAILABLE")
            }
        }
    }

    async fn login_audit(&mut self, actor: &str, mailbox: &str, result: &str) {
        self.audited = true;
        let entry = NewAuditEntry::now(actor, "imap.login", mailbox, result, format!("peer={}", self.peer));
        self.server.store.audit.record(entry).await;
    }
}
