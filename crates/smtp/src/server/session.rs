//! The server session: one state machine from EHLO to QUIT, run once on the
//! plain connection (until STARTTLS) and once more on the TLS connection.

use std::net::SocketAddr;

use mss_core::{EmailAddress, patients};
use mss_identity::login::{self, LoginError, Principal};
use mss_store::{Bytes, Dsn, MailboxId, NewAuditEntry, Placement, RecipientDsn, Scope, now_unix};
use mss_trust::liste_blanche::dn_listed;
use mss_trust::{DistinguishedName, PeerCertificate};
use smtp_proto::{MAIL_BODY_BINARYMIME, Request};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;

use super::conn::{Conn, Line, ReadEnd};

/// How long a success report we send may wait in the queue.
const REPORT_EXPIRY_SECONDS: i64 = 5 * 86_400;
use super::sasl;
use super::{Mode, SmtpServer};
use crate::Reply;
use crate::data::{DataError, DataReader};
use crate::submit::{Refused, Route, active_mailbox};
use crate::{notify, policy};

/// Longest command line, CRLF included (RFC 5321 §4.5.3.1.4 asks for 512
/// octets at least; extensions make lines longer).
const MAX_COMMAND_LINE: usize = 4096;
/// Longest AUTH line: the command and a SASL initial response.
const MAX_AUTH_LINE: usize = sasl::MAX_RESPONSE_BYTES + 64;

/// How a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The client asked for TLS and got `220`: the caller upgrades.
    StartTls,
    /// QUIT, a closed connection, a timeout or too many errors.
    Closed,
}

/// The TLS side of a session, once upgraded.
#[derive(Debug, Clone)]
pub struct TlsPeer {
    pub certificate: PeerCertificate,
    pub version: String,
    pub cipher: String,
}

/// The transaction being built (RFC 5321 §3.3).
struct Envelope {
    /// Empty for the null reverse-path (bounces).
    from: String,
    /// Submission: the mailbox the user sends as (their own or an
    /// organisational one), which keeps the sent copy.
    sending_mailbox: Option<MailboxId>,
    recipients: Vec<Route>,
    /// What the sender asked of delivery status notifications (RFC 3461):
    /// for the message, and for each recipient (same order).
    dsn: Dsn,
    recipient_dsn: Vec<RecipientDsn>,
}

impl Envelope {
    fn is_recipient(&self, address: &EmailAddress) -> bool {
        self.recipients.iter().any(|r| r.address() == address)
    }
}

pub struct Session<'a> {
    server: &'a SmtpServer,
    peer: SocketAddr,
    tls: Option<TlsPeer>,
    helo: Option<String>,
    envelope: Option<Envelope>,
    /// The authenticated user (submission).
    principal: Option<Principal>,
    errors: usize,
}

/// What the command handler asks of the loop.
enum Next {
    Continue,
    Data,
    /// SASL: the mechanism and the initial response, if the client sent one.
    Auth(u64, String),
    StartTls,
    Quit,
}

impl<'a> Session<'a> {
    pub fn new(server: &'a SmtpServer, peer: SocketAddr, tls: Option<TlsPeer>) -> Self {
        Self { server, peer, tls, helo: None, envelope: None, principal: None, errors: 0 }
    }

    pub async fn run<S: AsyncRead + AsyncWrite + Unpin>(mut self, conn: &mut Conn<S>) -> Outcome {
        loop {
            // A command must arrive whole within the command timeout: a client
            // trickling a byte at a time (slowloris) does not hold its slot longer.
            let deadline = Instant::now() + self.server.limits.command_timeout;
            let request = match next_command(conn, deadline).await {
                Ok(Ok(request)) => request,
                Ok(Err(reply)) => {
                    self.log_refusal("command", &reply);
                    if self.refuse(conn, reply).await {
                        return Outcome::Closed;
                    }
                    continue;
                }
                Err(end) => return self.end(conn, end).await,
            };
            let verb = verb(&request);
            let (reply, next) = self.command(request).await;
            self.log_refusal(verb, &reply);
            if reply.is_permanent() && self.count_error() {
                let _ = conn.reply(&reply).await;
                let _ = conn.reply(&Reply::new(421, "4.7.0", "Too many errors, closing")).await;
                return Outcome::Closed;
            }
            match next {
                // Sent when the client waits for it: with the replies to the
                // rest of its pipelined group, or before the next read.
                Next::Continue => {
                    if conn.queue_reply(&reply).await.is_err() {
                        return Outcome::Closed;
                    }
                }
                Next::Quit => {
                    let _ = conn.reply(&reply).await;
                    return Outcome::Closed;
                }
                Next::StartTls => {
                    let _ = conn.reply(&reply).await;
                    conn.pending.clear();
                    return Outcome::StartTls;
                }
                Next::Auth(mechanism, initial) => {
                    let reply = match self.authenticate(conn, mechanism, initial).await {
                        Ok(reply) => reply,
                        Err(end) => return self.end(conn, end).await,
                    };
                    self.log_refusal("AUTH", &reply);
                    let failed = reply.is_permanent();
                    if conn.reply(&reply).await.is_err() || (failed && self.count_error()) {
                        return Outcome::Closed;
                    }
                }
                Next::Data => {
                    if conn.queue_reply(&reply).await.is_err() {
                        return Outcome::Closed;
                    }
                    let reply = match self.receive_data(conn).await {
                        Ok(reply) => reply,
                        Err(end) => return self.end(conn, end).await,
                    };
                    self.log_refusal("DATA", &reply);
                    if conn.reply(&reply).await.is_err() || reply.code == 421 {
                        return Outcome::Closed;
                    }
                }
            }
        }
    }

    /// Counts a failed command; true when the session has had enough.
    fn count_error(&mut self) -> bool {
        self.errors += 1;
        self.errors >= self.server.limits.max_errors
    }

    /// Sends a refusal; true when the connection was closed for too many errors.
    async fn refuse<S: AsyncRead + AsyncWrite + Unpin>(&mut self, conn: &mut Conn<S>, reply: Reply) -> bool {
        let enough = self.count_error();
        let _ = conn.reply(&reply).await;
        if enough {
            let _ = conn.reply(&Reply::new(421, "4.7.0", "Too many errors, closing")).await;
        }
        enough
    }

    /// Every refusal goes to the log with its reason and who was refused
    /// (never message content: replies carry none).
    fn log_refusal(&self, during: &str, reply: &Reply) {
        if reply.code < 400 {
            return;
        }
        let user = self.principal.as_ref().map_or_else(|| "-".to_string(), |p| p.address().to_string());
        tracing::warn!(
            peer = %self.peer,
            subject = %self.peer_subject(),
            %user,
            command = during,
            code = reply.code,
            reason = %format!("{} {}", reply.enhanced, reply.text),
            "smtp: refused"
        );
    }

    async fn end<S: AsyncRead + AsyncWrite + Unpin>(&self, conn: &mut Conn<S>, end: ReadEnd) -> Outcome {
        match end {
            ReadEnd::Timeout => {
                tracing::info!(peer = %self.peer, "smtp: timeout");
                let _ = conn.reply(&Reply::new(421, "4.4.2", "Timeout, closing")).await;
            }
            ReadEnd::Io(e) => tracing::info!(peer = %self.peer, error = %e, "smtp: connection error"),
            ReadEnd::Closed => {}
        }
        Outcome::Closed
    }

    async fn command(&mut self, request: Request<String>) -> (Reply, Next) {
        match request {
            Request::Ehlo { host } => {
                self.helo = Some(host.clone());
                self.envelope = None;
                (Reply::new(250, "", self.ehlo_lines(&host)), Next::Continue)
            }
            Request::Helo { host } => {
                self.helo = Some(host.clone());
                self.envelope = None;
                (Reply::new(250, "", format!("{} greets {host}", self.server.hostname)), Next::Continue)
            }
            Request::Lhlo { .. } => (Reply::new(500, "5.5.1", "LHLO is for LMTP"), Next::Continue),
            Request::StartTls if self.tls.is_some() => (Reply::bad_sequence("Already in TLS"), Next::Continue),
            Request::StartTls => (Reply::new(220, "2.0.0", "Ready to start TLS"), Next::StartTls),
            Request::Mail { from } => match self.login_revoked().await {
                Some(reply) => (reply, Next::Quit),
                None => (self.mail(from).await, Next::Continue),
            },
            Request::Rcpt { to } => (self.rcpt(&to).await, Next::Continue),
            Request::Data => match &self.envelope {
                None => (Reply::bad_sequence("MAIL FROM first"), Next::Continue),
                Some(e) if e.recipients.is_empty() => (Reply::bad_sequence("No valid recipients"), Next::Continue),
                Some(_) => (Reply::new(354, "", "End data with <CR><LF>.<CR><LF>"), Next::Data),
            },
            Request::Rset => {
                self.envelope = None;
                (Reply::ok("Reset"), Next::Continue)
            }
            Request::Noop { .. } => (Reply::ok("OK"), Next::Continue),
            Request::Quit => (Reply::new(221, "2.0.0", "Bye"), Next::Quit),
            Request::Vrfy { .. } => (Reply::new(252, "2.5.2", "Cannot VRFY, send some mail"), Next::Continue),
            Request::Help { .. } => (Reply::new(214, "2.0.0", "See RFC 5321"), Next::Continue),
            Request::Bdat { .. } => (Reply::new(502, "5.5.1", "CHUNKING is not offered"), Next::Continue),
            Request::Auth { mechanism, initial_response } => self.auth_request(mechanism, initial_response),
            Request::Expn { .. } | Request::Etrn { .. } | Request::Atrn { .. } | Request::Burl { .. } => {
                (Reply::new(502, "5.5.1", "Command not implemented"), Next::Continue)
            }
        }
    }

    /// RFC 4954 §4: AUTH is for submission, inside TLS, once per session and
    /// outside a transaction.
    fn auth_request(&self, mechanism: u64, initial: String) -> (Reply, Next) {
        let refusal = match &self.server.mode {
            Mode::Mta => Some(Reply::new(502, "5.5.1", "AUTH is for the submission port")),
            Mode::Submission(_) if self.tls.is_none() => {
                Some(Reply::new(530, "5.7.0", "Must issue a STARTTLS command first"))
            }
            Mode::Submission(_) if self.principal.is_some() => Some(Reply::bad_sequence("Already authenticated")),
            Mode::Submission(_) if self.envelope.is_some() => {
                Some(Reply::bad_sequence("AUTH is not allowed during a mail transaction"))
            }
            Mode::Submission(_) if !OFFERED_MECHANISMS.contains(&mechanism) => {
                Some(Reply::new(504, "5.5.4", "Unsupported mechanism; use XOAUTH2, OAUTHBEARER, EXTERNAL or PLAIN"))
            }
            Mode::Submission(_) => None,
        };
        match refusal {
            Some(reply) => (reply, Next::Continue),
            None => (Reply::ok(""), Next::Auth(mechanism, initial)),
        }
    }

    /// Runs the SASL exchange and verifies the bearer token.
    async fn authenticate<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        conn: &mut Conn<S>,
        mechanism: u64,
        initial: String,
    ) -> Result<Reply, ReadEnd> {
        let Mode::Submission(submission) = &self.server.mode else {
            return Ok(Reply::new(502, "5.5.1", "AUTH is for the submission port"));
        };
        // RFC 4954 §4: no initial response asks for a 334 challenge; "="
        // is an initial response of zero length.
        let response = if initial.is_empty() {
            let _ = conn.write_raw(b"334 \r\n").await;
            match conn.line(sasl::MAX_RESPONSE_BYTES, self.server.limits.command_timeout).await? {
                Some(line) => String::from_utf8_lossy(&line).into_owned(),
                None => return Ok(Reply::new(500, "5.5.6", "Authentication exchange line is too long")),
            }
        } else if initial == "=" {
            String::new()
        } else {
            initial
        };
        if response.trim() == "*" {
            return Ok(Reply::new(501, "5.7.0", "Authentication cancelled"));
        }
        if mechanism == smtp_proto::AUTH_EXTERNAL {
            return Ok(self.authenticate_external(&response).await);
        }
        let credentials = match sasl::decode(mechanism, &response) {
            Ok(credentials) => credentials,
            Err(why) => return Ok(Reply::new(501, "5.5.2", format!("Cannot decode the response: {why}"))),
        };
        let meta = self.server.store.meta.as_ref();
        // PLAIN: an application password, or in development a bearer token.
        let login = match (mechanism == smtp_proto::AUTH_PLAIN, credentials.user.as_deref()) {
            (true, Some(user)) if credentials.token.trim().starts_with(mss_identity::app_password::PREFIX) => {
                login::by_app_password(meta, user, &credentials.token, Scope::Submission, now_unix()).await
            }
            (true, _) if !submission.plain_with_token => {
                Err(LoginError::Invalid("PLAIN takes application passwords only".into()))
            }
            _ => login::by_token(meta, &submission.tokens, &credentials, now_unix()).await,
        };
        Ok(self.logged_in(credentials.user.as_deref(), login).await)
    }

    /// Submission: `421` when the login no longer holds (logout, revoked
    /// session, suspended mailbox, unbound certificate); the session ends.
    async fn login_revoked(&self) -> Option<Reply> {
        let principal = self.principal.as_ref()?;
        let why = match login::revoked(self.server.store.meta.as_ref(), principal, now_unix()).await {
            Ok(None) => return None,
            Ok(Some(revoked)) => revoked.to_string(),
            Err(e) => {
                tracing::error!(error = %e, "smtp: cannot check the login");
                return Some(Reply::new(421, "4.3.0", "Temporary failure, try again later"));
            }
        };
        tracing::warn!(peer = %self.peer, user = %principal.address(), reason = why, "smtp: login no longer holds");
        let entry =
            NewAuditEntry::now(principal.address().to_string(), "smtp.revoked", "", &why, self.peer.to_string());
        self.server.store.audit.record(entry).await;
        Some(Reply::new(421, "4.7.0", why))
    }

    /// SASL EXTERNAL: software presenting the organisation certificate its
    /// applicative mailbox is bound to.
    async fn authenticate_external(&mut self, response: &str) -> Reply {
        let Some(TlsPeer { certificate: PeerCertificate::Trusted { subject }, .. }) = &self.tls else {
            return self.logged_in(None, Err(LoginError::Invalid("no trusted client certificate".into()))).await;
        };
        let authzid = match sasl::decode_external(response) {
            Ok(authzid) => authzid,
            Err(why) => return Reply::new(501, "5.5.2", format!("Cannot decode the response: {why}")),
        };
        let login = login::by_certificate(self.server.store.meta.as_ref(), subject, authzid.as_deref()).await;
        self.logged_in(authzid.as_deref(), login).await
    }

    /// The reply to a login attempt, and the principal when it succeeded;
    /// the attempt goes to the audit trail either way. A client or account
    /// (`claimed`) that failed before waits first (see
    /// [`mss_identity::Throttle`], shared with IMAP and the other nodes).
    async fn logged_in(&mut self, claimed: Option<&str>, login: Result<Principal, LoginError>) -> Reply {
        let Mode::Submission(submission) = &self.server.mode else {
            return Reply::new(502, "5.5.1", "AUTH is for the submission port");
        };
        submission.throttle.pace(self.peer.ip(), claimed, &login).await;
        let peer = self.peer.to_string();
        let audit = |target: String, result: &str| NewAuditEntry::now(&target, "smtp.login", &target, result, &peer);
        match login {
            Ok(principal) => {
                tracing::info!(peer = %self.peer, user = %principal.address(), "smtp: authenticated");
                self.server.store.audit.record(audit(principal.address().to_string(), "ok")).await;
                self.principal = Some(principal);
                mss_net::proven();
                Reply::new(235, "2.7.0", "Authentication successful")
            }
            Err(LoginError::Invalid(why)) => {
                tracing::warn!(peer = %self.peer, reason = why, "smtp: authentication failed");
                mss_net::counters::add(mss_net::counters::AUTH_FAILURES, "submission");
                self.server.store.audit.record(audit(String::new(), &format!("refused: {why}"))).await;
                Reply::new(535, "5.7.8", "Authentication credentials invalid")
            }
            Err(LoginError::Pending) => {
                tracing::info!(peer = %self.peer, "smtp: login to a pending mailbox");
                self.server.store.audit.record(audit(String::new(), "refused: mailbox pending")).await;
                Reply::new(535, "5.7.8", login::PENDING_MESSAGE)
            }
            Err(LoginError::Unavailable(e)) => {
                tracing::error!(error = %e, "smtp: mailbox lookup failed");
                Reply::new(454, "4.7.0", "Temporary authentication failure")
            }
        }
    }

    /// Who a peer is for the audit trail: its certificate DN, or its address.
    fn peer_subject(&self) -> String {
        match &self.tls {
            Some(TlsPeer { certificate: PeerCertificate::Trusted { subject }, .. }) => subject.to_string(),
            _ => self.peer.to_string(),
        }
    }

    /// RFC 5321 §4.1.1.1 and the extensions offered.
    fn ehlo_lines(&self, host: &str) -> String {
        let mut lines = vec![
            format!("{} greets {host}", self.server.hostname),
            "PIPELINING".to_string(),
            format!("SIZE {}", self.server.limits.max_message_bytes),
            "8BITMIME".to_string(),
            "SMTPUTF8".to_string(),
            "ENHANCEDSTATUSCODES".to_string(),
            "DSN".to_string(),
        ];
        match (&self.tls, &self.server.mode) {
            (None, _) => lines.push("STARTTLS".to_string()),
            (Some(tls), Mode::Submission(_)) => {
                let mut auth = String::from("AUTH XOAUTH2 OAUTHBEARER");
                if let PeerCertificate::Trusted { .. } = tls.certificate {
                    auth.push_str(" EXTERNAL");
                }
                // Application passwords; bearer tokens too in development.
                auth.push_str(" PLAIN");
                lines.push(auth);
            }
            (Some(_), Mode::Mta) => {}
        }
        lines.join("\n")
    }

    async fn mail(&mut self, from: smtp_proto::MailFrom<String>) -> Reply {
        if self.helo.is_none() {
            return Reply::bad_sequence("Send EHLO first");
        }
        if self.envelope.is_some() {
            return Reply::bad_sequence("Nested MAIL command");
        }
        let Some(tls) = &self.tls else {
            // RFC 3207 §4: the trust space never carries mail in clear.
            return Reply::new(530, "5.7.0", "Must issue a STARTTLS command first");
        };
        if let Mode::Submission(_) = self.server.mode {
            return self.submission_mail(from).await;
        }
        if from.size > self.server.limits.max_message_bytes {
            return Reply::new(
                552,
                "5.3.4",
                format!("Message too large, at most {} bytes", self.server.limits.max_message_bytes),
            );
        }
        if from.flags & MAIL_BODY_BINARYMIME != 0 {
            return Reply::new(555, "5.5.4", "BINARYMIME is not offered");
        }
        let subject = match &tls.certificate {
            PeerCertificate::Trusted { subject } => subject.clone(),
            PeerCertificate::Missing => {
                tracing::warn!(peer = %self.peer, from = %from.address, "smtp: refused, no client certificate");
                return Reply::new(
                    550,
                    "5.7.1",
                    "No client certificate: trust-space operators must present their IGC-Santé server certificate",
                );
            }
            PeerCertificate::Untrusted { reason } => {
                tracing::warn!(peer = %self.peer, from = %from.address, %reason, "smtp: refused, untrusted certificate");
                return Reply::new(550, "5.7.1", format!("Untrusted client certificate: {reason}"));
            }
        };
        if let Err(reply) = self.check_sender(&from.address, &subject).await {
            return reply;
        }
        let dsn = notify::message_dsn(from.flags, from.env_id.as_deref());
        self.envelope = Some(Envelope {
            from: from.address,
            sending_mailbox: None,
            recipients: Vec::new(),
            dsn,
            recipient_dsn: Vec::new(),
        });
        Reply::ok("Sender OK")
    }

    /// Submission: an authenticated user sends as themselves.
    async fn submission_mail(&mut self, from: smtp_proto::MailFrom<String>) -> Reply {
        let Some(principal) = &self.principal else {
            return Reply::new(530, "5.7.0", "Authentication required");
        };
        if from.size > self.server.limits.max_message_bytes {
            return Reply::new(
                552,
                "5.3.4",
                format!("Message too large, at most {} bytes", self.server.limits.max_message_bytes),
            );
        }
        let sender = match from.address.parse::<EmailAddress>() {
            Ok(sender) => sender,
            Err(_) if from.address.is_empty() => {
                return Reply::new(550, "5.7.1", "Users may not send with a null sender");
            }
            Err(e) => return Reply::new(501, "5.1.7", format!("Bad sender address: {e}")),
        };
        let Mode::Submission(submission) = &self.server.mode else {
            return Reply::new(530, "5.7.0", "Authentication required");
        };
        let own = (principal.address(), principal.mailbox.id);
        let sending_mailbox =
            match submission.submitter.sending_mailbox(own, principal.national_id.as_ref(), &sender).await {
                Ok(Some(mailbox)) => mailbox,
                Ok(None) => {
                    return Reply::new(550, "5.7.1", format!("{} may not send as {sender}", principal.address()));
                }
                Err(e) => {
                    tracing::error!(error = %e, "smtp: role lookup failed");
                    return Reply::new(451, "4.3.0", "Temporary failure, try again later");
                }
            };
        self.envelope = Some(Envelope {
            from: sender.to_string(),
            sending_mailbox: Some(sending_mailbox),
            recipients: Vec::new(),
            dsn: notify::message_dsn(from.flags, from.env_id.as_deref()),
            recipient_dsn: Vec::new(),
        });
        Reply::ok("Sender OK")
    }

    /// The sender's domain must be in the liste blanche with this certificate's
    /// DN. A bounce (null sender) must come from a listed operator.
    async fn check_sender(&self, from: &str, subject: &DistinguishedName) -> Result<(), Reply> {
        let meta = &self.server.store.meta;
        let store_error = |e| {
            tracing::error!(error = %e, "smtp: liste blanche lookup failed");
            Reply::new(451, "4.3.0", "Temporary failure, try again later")
        };
        let peers = &self.server.peers;
        if from.is_empty() {
            let dns = peers.all_operator_dns(meta.as_ref()).await.map_err(store_error)?;
            if dn_listed(dns.iter().map(String::as_str), subject) {
                return Ok(());
            }
            tracing::warn!(peer = %self.peer, %subject, "smtp: refused bounce, DN not in the liste blanche");
            return Err(Reply::new(550, "5.7.1", format!("Certificate DN {subject} is not in the liste blanche")));
        }
        let domain = match from.parse::<EmailAddress>() {
            Ok(address) => address.domain().clone(),
            Err(e) => return Err(Reply::new(501, "5.1.7", format!("Bad sender address: {e}"))),
        };
        let dns = peers.operator_dns(meta.as_ref(), domain.as_str()).await.map_err(store_error)?;
        if dns.is_empty() {
            tracing::warn!(peer = %self.peer, %domain, "smtp: refused, domain not in the liste blanche");
            return Err(Reply::new(550, "5.7.1", format!("Domain {domain} is not in the liste blanche")));
        }
        if !dn_listed(dns.iter().map(String::as_str), subject) {
            tracing::warn!(peer = %self.peer, %domain, %subject, "smtp: refused, DN mismatch");
            return Err(Reply::new(
                550,
                "5.7.1",
                format!("Certificate DN {subject} is not the one the liste blanche names for {domain}"),
            ));
        }
        Ok(())
    }

    async fn rcpt(&mut self, rcpt: &smtp_proto::RcptTo<String>) -> Reply {
        let to = rcpt.address.as_str();
        let Some(envelope) = &self.envelope else {
            return Reply::bad_sequence("MAIL FROM first");
        };
        if envelope.recipients.len() >= self.server.limits.max_recipients {
            return Reply::new(452, "4.5.3", "Too many recipients");
        }
        let address = match to.parse::<EmailAddress>() {
            Ok(address) => address,
            Err(e) => return Reply::new(501, "5.1.3", format!("Bad recipient address: {e}")),
        };
        let route = match &self.server.mode {
            Mode::Submission(submission) => submission.submitter.route(&address).await,
            Mode::Mta if *address.domain() != self.server.domain => {
                return Reply::new(550, "5.7.1", format!("Relaying denied: {} is not served here", address.domain()));
            }
            Mode::Mta => match active_mailbox(self.server.store.meta.as_ref(), &address).await {
                Ok(Some(id)) => Ok(Route::Local(address, id)),
                Ok(None) => Err(Refused::NoSuchMailbox(address)),
                Err(e) => Err(Refused::Store(e)),
            },
        };
        let route = match route {
            Ok(route) => route,
            Err(Refused::NoSuchMailbox(address)) => {
                return Reply::new(550, "5.1.1", format!("<{address}>: no such active mailbox"));
            }
            Err(refused @ Refused::OutsideTrustSpace(_)) => return Reply::new(550, "5.7.1", refused.to_string()),
            Err(refused @ Refused::NotAPatient(_)) => return Reply::new(550, "5.1.3", refused.to_string()),
            Err(Refused::Store(e)) => {
                tracing::error!(error = %e, "smtp: recipient lookup failed");
                return Reply::new(451, "4.3.0", "Temporary failure, try again later");
            }
        };
        if let (Mode::Mta, Route::Local(address, id)) = (&self.server.mode, &route)
            && let Err(reply) = self.patient_may_write(&envelope.from, address, *id).await
        {
            return reply;
        }
        if let Some(envelope) = &mut self.envelope
            && !envelope.is_recipient(route.address())
        {
            envelope.recipients.push(route);
            envelope.recipient_dsn.push(notify::recipient_dsn(rcpt.flags, rcpt.orcpt.as_deref()));
        }
        Reply::ok("Recipient OK")
    }

    /// MTA port: a patient (the sender is at `patient.mssante.fr`, so the
    /// peer is Mon espace santé's gateway) writes first only to an
    /// organisational mailbox, else only to a mailbox that wrote to them
    /// (`mss_core::patients`).
    async fn patient_may_write(&self, from: &str, to: &EmailAddress, id: MailboxId) -> Result<(), Reply> {
        let Some(sender) = from.parse::<EmailAddress>().ok().filter(|a| a.domain().is_patient()) else {
            return Ok(());
        };
        let meta = self.server.store.meta.as_ref();
        let store_error = |e| {
            tracing::error!(error = %e, "smtp: patient rule lookup failed");
            Reply::new(451, "4.3.0", "Temporary failure, try again later")
        };
        let Some(mailbox) = meta.mailbox(to).await.map_err(store_error)? else {
            return Err(Reply::new(550, "5.1.1", format!("<{to}>: no such active mailbox")));
        };
        // A patient-domain address that is not an INS wrote to no one's patient.
        let wrote = match patients::patient_of(&sender) {
            Some(ins) => meta.wrote_to_patient(id, &to.to_string(), ins.as_str()).await.map_err(store_error)?,
            None => false,
        };
        patients::may_receive_from_patient(mailbox.kind, mailbox.state, wrote).map_err(|refusal| {
            tracing::info!(peer = %self.peer, %to, %refusal, "smtp: refused a patient's message");
            Reply::new(550, "5.7.1", format!("<{to}> does not take this patient's message: {refusal}"))
        })
    }

    /// Reads the message up to the final dot and stores it; the reply is 250
    /// only once it is durable.
    async fn receive_data<S: AsyncRead + AsyncWrite + Unpin>(&mut self, conn: &mut Conn<S>) -> Result<Reply, ReadEnd> {
        // Read to the real end of data whatever happens (refused messages
        // included), so the session stays in step; see `crate::data`.
        let mut reader = DataReader::new(self.server.limits.max_message_bytes);
        let limits = &self.server.limits;
        let deadline = tokio::time::Instant::now() + limits.data_deadline;
        loop {
            let used = reader.feed(&conn.pending);
            conn.pending.drain(..used);
            if reader.is_done() {
                break;
            }
            // RFC 5321 §4.5.3.2.5: each piece within the data timeout, and
            // the whole within our deadline (a trickle holds no slot forever).
            conn.fill_by((tokio::time::Instant::now() + limits.data_timeout).min(deadline)).await?;
        }
        let Some(envelope) = self.envelope.take() else {
            return Ok(Reply::bad_sequence("No transaction"));
        };
        let body = match reader.finish() {
            Ok(body) => body,
            Err(DataError::TooLarge(limit)) => {
                return Ok(Reply::new(552, "5.3.4", format!("Message too large, at most {limit} bytes")));
            }
            // RFC 5321 §2.3.8: CR and LF only as CRLF. Refused rather than
            // repaired: the client's idea of the message is not ours.
            Err(bare) => return Ok(Reply::new(550, "5.6.0", format!("Message refused: {bare}"))),
        };
        if let Err(reply) = self.check_headers(&envelope, &body).await {
            return Ok(reply);
        }
        let body = match &self.principal {
            Some(principal) => {
                match crate::packaging::for_sender(body, principal.mailbox.kind, self.server.limits.max_message_bytes) {
                    Ok(body) => body,
                    Err(reply) => return Ok(reply),
                }
            }
            None => body,
        };
        if !crate::submit::fits_patients(body.len(), &envelope.recipients) {
            let limit = mss_core::patients::MAX_PATIENT_MESSAGE_BYTES;
            return Ok(Reply::new(552, "5.3.4", format!("Message too large for a patient, at most {limit} bytes")));
        }
        // Checked again now: the login may have ended during the transaction.
        if let Some(reply) = self.login_revoked().await {
            return Ok(reply);
        }
        let message = Bytes::from(self.with_received_header(&envelope, body));
        // For the log: the message itself is let go once stored.
        let size = message.len();
        let message_id = mss_message::parsed::parse_header(&message).and_then(|h| h.message_id().map(str::to_string));
        match self.store_message(&envelope, message).await {
            Ok(()) => {
                tracing::info!(
                    peer = %self.peer,
                    from = %envelope.from,
                    recipients = envelope.recipients.len(),
                    size,
                    message_id = message_id.as_deref().unwrap_or("-"),
                    "smtp: message accepted"
                );
                let (actor, action) = match &self.principal {
                    Some(principal) => (principal.address().to_string(), "smtp.submit"),
                    None => (self.peer_subject(), "smtp.receive"),
                };
                let detail = format!("recipients={} size={size}", envelope.recipients.len());
                let entry = NewAuditEntry::now(actor, action, &envelope.from, "ok", detail);
                self.server.store.audit.record(entry).await;
                Ok(Reply::ok("Message accepted"))
            }
            Err(e) if e.is_storage_full() => {
                // RFC 5321 §4.2.5 and RFC 3463 4.3.1: the sender keeps the
                // message and tries again later; nothing of it was kept here.
                tracing::error!(error = %e, "smtp: disk full, message refused");
                Ok(Reply::new(452, "4.3.1", "Insufficient system storage, try again later"))
            }
            Err(e) => {
                tracing::error!(error = %e, "smtp: storing the message failed");
                Ok(Reply::new(451, "4.3.0", "Temporary failure storing the message, try again later"))
            }
        }
    }

    /// The header policy (see [`policy`]): the user's mailboxes on
    /// submission, the peer's listed domains on the MTA port.
    async fn check_headers(&self, envelope: &Envelope, body: &[u8]) -> Result<(), Reply> {
        match (&self.server.mode, &self.principal, &self.tls) {
            (Mode::Submission(submission), Some(principal), _) => {
                let sender = envelope
                    .from
                    .parse::<EmailAddress>()
                    .map_err(|e| Reply::new(501, "5.1.7", format!("Bad sender address: {e}")))?;
                let own = (principal.address(), principal.mailbox.id);
                let national_id = principal.national_id.as_ref();
                policy::check_submission(&submission.submitter, body, &sender, own, national_id).await
            }
            (Mode::Mta, _, Some(TlsPeer { certificate: PeerCertificate::Trusted { subject }, .. })) => {
                policy::check_peer(self.server.store.meta.as_ref(), &self.server.peers, body, subject).await
            }
            _ => Err(Reply::new(550, "5.7.1", "No authenticated sender")),
        }
    }

    /// Submission: through the [`Submitter`](crate::submit::Submitter).
    /// The MTA: into our recipients' INBOX. Durable when this returns.
    async fn store_message(&self, envelope: &Envelope, message: Bytes) -> Result<(), mss_store::StoreError> {
        if let (Mode::Submission(submission), Some(mailbox)) = (&self.server.mode, envelope.sending_mailbox) {
            let (routes, dsn) = (&envelope.recipients, (&envelope.dsn, envelope.recipient_dsn.as_slice()));
            return submission.submitter.store_with_dsn(message, &envelope.from, mailbox, routes, dsn).await;
        }
        let local: Vec<Placement> = envelope
            .recipients
            .iter()
            .filter_map(|r| if let Route::Local(_, id) = r { Some(Placement::inbox(*id)) } else { None })
            .collect();
        // Kept here only for a success report (RFC 3461), rare: otherwise
        // the body is let go once durable, before the links' commit.
        let wanted = envelope.recipient_dsn.iter().any(|dsn| notify::wants(dsn, "SUCCESS"));
        let for_report = wanted.then(|| message.clone());
        // Read once here, kept with the message (issue 14).
        self.server.store.deliver_read(message, &local, |raw| Some(mss_message::stored(raw))).await?;
        let Some(message) = for_report else {
            return Ok(());
        };
        // Success reports asked for (RFC 3461) go back once it is stored;
        // the outbound worker takes a queued one on its next round.
        let delivered: Vec<(String, RecipientDsn)> = envelope
            .recipients
            .iter()
            .zip(&envelope.recipient_dsn)
            .map(|(route, dsn)| (route.address().to_string(), dsn.clone()))
            .collect();
        let host = (self.server.hostname.as_str(), &self.server.domain);
        // A report is given as long as any message (RFC 5321 §4.5.4.1: days).
        let expires_at = now_unix() + REPORT_EXPIRY_SECONDS;
        notify::report_delivered(
            &self.server.store,
            host,
            &envelope.from,
            &message,
            &delivered,
            &envelope.dsn,
            expires_at,
        )
        .await
        .map(|_| ())
    }

    /// RFC 5321 §4.4: the trace header we add in front of the message, in
    /// the body's own buffer (a copy would double each message held while
    /// it is stored: 50 connections of 200 KB messages, 10 MB more).
    fn with_received_header(&self, envelope: &Envelope, mut body: Vec<u8>) -> Vec<u8> {
        let date =
            time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc2822).unwrap_or_default();
        let helo = self.helo.as_deref().unwrap_or("unknown");
        let helo: String = helo.chars().filter(|c| c.is_ascii_graphic()).take(255).collect();
        let tls = self.tls.as_ref().map(|t| format!(" ({} {})", t.version, t.cipher)).unwrap_or_default();
        let for_clause = match envelope.recipients.as_slice() {
            [Route::Local(only, _) | Route::Remote(only)] => format!("\r\n\tfor <{only}>"),
            _ => String::new(),
        };
        // RFC 3848: ESMTPSA once the client has authenticated.
        let with = if self.principal.is_some() { "ESMTPSA" } else { "ESMTPS" };
        let header = format!(
            "Received: from {helo} ({})\r\n\tby {} (mss) with {with}{tls}{for_clause};\r\n\t{date}\r\n",
            self.peer.ip(),
            self.server.hostname
        );
        body.splice(0..0, header.into_bytes());
        body
    }
}

/// The next command line, parsed (smtp-proto's grammar), or the reply
/// refusing it. Lines are bounded: [`MAX_COMMAND_LINE`], or
/// [`MAX_AUTH_LINE`] for AUTH and its initial response.
async fn next_command<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    deadline: Instant,
) -> Result<Result<Request<String>, Reply>, ReadEnd> {
    let too_long = || Reply::new(500, "5.5.6", "Command line too long");
    let len = match conn.next_line(MAX_AUTH_LINE, deadline).await? {
        Line::Ready(len) => len,
        Line::TooLong => return Ok(Err(too_long())),
    };
    let line: Vec<u8> = conn.pending.drain(..len).collect();
    if len > MAX_COMMAND_LINE && !line[..5].eq_ignore_ascii_case(b"AUTH ") {
        return Ok(Err(too_long()));
    }
    Ok(Request::parse(&mut line.iter()).map(owned).map_err(|e| Reply::for_parse_error(&e)))
}

/// A command's name, for the log.
fn verb(request: &Request<String>) -> &'static str {
    match request {
        Request::Ehlo { .. } => "EHLO",
        Request::Lhlo { .. } => "LHLO",
        Request::Helo { .. } => "HELO",
        Request::Mail { .. } => "MAIL",
        Request::Rcpt { .. } => "RCPT",
        Request::Bdat { .. } => "BDAT",
        Request::Auth { .. } => "AUTH",
        Request::Noop { .. } => "NOOP",
        Request::Vrfy { .. } => "VRFY",
        Request::Expn { .. } => "EXPN",
        Request::Help { .. } => "HELP",
        Request::Etrn { .. } => "ETRN",
        Request::Atrn { .. } => "ATRN",
        Request::Burl { .. } => "BURL",
        Request::StartTls => "STARTTLS",
        Request::Data => "DATA",
        Request::Rset => "RSET",
        Request::Quit => "QUIT",
    }
}

/// The SASL mechanisms a submission listener accepts.
const OFFERED_MECHANISMS: [u64; 4] =
    [smtp_proto::AUTH_XOAUTH2, smtp_proto::AUTH_OAUTHBEARER, smtp_proto::AUTH_EXTERNAL, smtp_proto::AUTH_PLAIN];

/// smtp-proto's request, detached from the receive buffer.
fn owned(request: Request<std::borrow::Cow<'_, str>>) -> Request<String> {
    match request {
        Request::Ehlo { host } => Request::Ehlo { host: host.into_owned() },
        Request::Lhlo { host } => Request::Lhlo { host: host.into_owned() },
        Request::Helo { host } => Request::Helo { host: host.into_owned() },
        Request::Mail { from } => Request::Mail { from: from.into_owned() },
        Request::Rcpt { to } => Request::Rcpt { to: to.into_owned() },
        Request::Bdat { chunk_size, is_last } => Request::Bdat { chunk_size, is_last },
        Request::Auth { mechanism, initial_response } => {
            Request::Auth { mechanism, initial_response: initial_response.into_owned() }
        }
        Request::Noop { value } => Request::Noop { value: value.into_owned() },
        Request::Vrfy { value } => Request::Vrfy { value: value.into_owned() },
        Request::Expn { value } => Request::Expn { value: value.into_owned() },
        Request::Help { value } => Request::Help { value: value.into_owned() },
        Request::Etrn { name } => Request::Etrn { name: name.into_owned() },
        Request::Atrn { domains } => Request::Atrn { domains: domains.into_iter().map(|d| d.into_owned()).collect() },
        Request::Burl { uri, is_last } => Request::Burl { uri: uri.into_owned(), is_last },
        Request::StartTls => Request::StartTls,
        Request::Data => Request::Data,
        Request::Rset => Request::Rset,
        Request::Quit => Request::Quit,
    }
}
