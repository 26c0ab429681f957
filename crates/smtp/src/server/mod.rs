//! The SMTP listeners: the trust-space MTA, where peer operators deliver to
//! our mailboxes, and submission, where our users send. Both accept a
//! connection, upgrade it to TLS, judge the client's certificate and run the
//! session; [`Mode`] says which rules apply.
//!
//! Shape shared by every listener: accept -> limit -> TLS -> authenticate
//! (here: the certificate, judged at MAIL FROM) -> session loop with limits.

mod conn;
mod sasl;
mod session;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use mss_core::Domain;
use mss_identity::{Throttle, TokenKey};
use mss_net::{Admission, AdmissionLimits, Handshake};
use mss_store::Store;
use mss_trust::{PeerCertificate, ServerTrust};

use crate::peers::PeerTrust;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;

use self::conn::Conn;
use self::session::{Outcome, Session, TlsPeer};
use crate::submit::Submitter;

/// Bounds on what one peer may make us do.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest message accepted (SIZE), in bytes.
    pub max_message_bytes: usize,
    /// Recipients per message (RFC 5321 §4.5.3.1.8 asks for at least 100).
    pub max_recipients: usize,
    /// Wait for the next command (RFC 5321 §4.5.3.2.7: 5 minutes).
    pub command_timeout: Duration,
    /// Wait for each piece of the message data (RFC 5321 §4.5.3.2.5: 3 minutes).
    pub data_timeout: Duration,
    /// Time the whole message data may take, however it trickles in (25 MB
    /// at 350 kbit/s).
    pub data_deadline: Duration,
    /// Bad commands tolerated before the connection is closed.
    pub max_errors: usize,
    /// Simultaneous proven connections (trusted peers, logged-in users).
    pub max_connections: usize,
    /// Simultaneous proven connections from one client address: one host
    /// cannot take every slot (trust-space peers open a few dozen at most).
    pub max_per_address: usize,
    /// Connections not proven yet (see `mss_net`): a smaller pool, whose
    /// oldest member makes room for a newcomer.
    pub max_unproven: usize,
    pub max_unproven_per_address: usize,
    /// How long a connection may stay unproven (TLS with a trusted
    /// certificate, or a login, take a second).
    pub unproven_lifetime: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_message_bytes: 25 * 1024 * 1024,
            max_recipients: mss_core::MAX_RECIPIENTS_PER_MESSAGE,
            command_timeout: Duration::from_secs(300),
            data_timeout: Duration::from_secs(180),
            data_deadline: Duration::from_secs(600),
            max_errors: 10,
            max_connections: 2048,
            max_per_address: 64,
            max_unproven: 256,
            max_unproven_per_address: 16,
            unproven_lifetime: Duration::from_secs(30),
        }
    }
}

/// Which listener this is.
pub enum Mode {
    /// The MTA of the trust space: peers present their operator certificate
    /// and deliver to our active mailboxes only.
    Mta,
    /// Submission: our users authenticate (SASL XOAUTH2 / OAUTHBEARER) and
    /// send as themselves, to our mailboxes or into the trust space.
    Submission(Submission),
}

/// What submission needs beyond the MTA.
pub struct Submission {
    /// Verifies bearer tokens.
    pub tokens: Arc<TokenKey>,
    /// Routes and stores what users send (shared with the webmail).
    pub submitter: Arc<Submitter>,
    /// Development only: accept SASL PLAIN with a bearer token as password,
    /// for clients that know no OAuth (swaks, old mail programs).
    pub plain_with_token: bool,
    /// Failed logins, shared with IMAP and the other nodes.
    pub throttle: Arc<Throttle>,
}

/// Everything a session needs.
pub struct SmtpServer {
    pub mode: Mode,
    pub store: Store,
    /// The mail domain we serve.
    pub domain: Domain,
    /// Our host name, in the greeting and Received headers.
    pub hostname: String,
    pub tls: Arc<tokio_rustls::rustls::ServerConfig>,
    pub trust: ServerTrust,
    /// Who speaks for which domain, beyond the liste blanche.
    pub peers: PeerTrust,
    pub limits: Limits,
}

impl SmtpServer {
    /// Accepts connections until the task is dropped; clients upgrade with
    /// STARTTLS.
    pub async fn serve(self: Arc<Self>, listener: TcpListener) {
        self.accept_loop(listener, false).await;
    }

    /// The same on an implicit-TLS port (RFC 8314: TLS from the first byte,
    /// as on submissions port 465).
    pub async fn serve_implicit_tls(self: Arc<Self>, listener: TcpListener) {
        self.accept_loop(listener, true).await;
    }

    async fn accept_loop(self: Arc<Self>, listener: TcpListener, implicit_tls: bool) {
        let admission = Admission::new(AdmissionLimits {
            max_connections: self.limits.max_connections,
            max_per_address: self.limits.max_per_address,
            max_unproven: self.limits.max_unproven,
            max_unproven_per_address: self.limits.max_unproven_per_address,
            unproven_lifetime: self.limits.unproven_lifetime,
        });
        let busy = b"421 4.7.0 Too many connections, try again later\r\n";
        let protocol = match self.mode {
            Mode::Mta => "smtp",
            Mode::Submission(_) => "submission",
        };
        mss_net::accept_loop(listener, admission, protocol, busy, |tcp, peer| {
            let server = self.clone();
            async move {
                if implicit_tls {
                    server.handle_implicit_tls(tcp, peer).await;
                } else {
                    server.handle(tcp, peer).await;
                }
            }
        })
        .await;
    }

    /// One connection, from greeting to close. Any byte stream will do (the
    /// fuzz target drives an in-memory one).
    pub async fn handle<S: AsyncRead + AsyncWrite + Unpin>(&self, tcp: S, peer: SocketAddr) {
        let mut plain = Conn::new(tcp);
        if plain.write_raw(self.greeting().as_bytes()).await.is_err() {
            return;
        }
        let outcome = Session::new(self, peer, None).run(&mut plain).await;
        if outcome != Outcome::StartTls {
            return;
        }
        // RFC 3207 §4.2: nothing the client sent before the handshake counts.
        self.secure_session(plain.stream, peer, false).await;
    }

    /// One implicit-TLS connection: handshake, greeting, session.
    pub async fn handle_implicit_tls<S: AsyncRead + AsyncWrite + Unpin>(&self, tcp: S, peer: SocketAddr) {
        self.secure_session(tcp, peer, true).await;
    }

    /// The TLS handshake, the verdict on the client's certificate, then the
    /// session inside TLS (greeted first when TLS was implicit).
    async fn secure_session<S: AsyncRead + AsyncWrite + Unpin>(&self, tcp: S, peer: SocketAddr, greet: bool) {
        let Some(Handshake { stream: tls, version, cipher }) =
            mss_net::tls_handshake(self.tls.clone(), tcp, "smtp", peer).await
        else {
            return;
        };
        let certificate = self.trust.judge(tls.get_ref().1.peer_certificates());
        match &certificate {
            PeerCertificate::Trusted { subject } => {
                tracing::info!(%peer, %subject, %version, "smtp: TLS peer");
                // A certificate of the trust space: out of the strangers' pool.
                mss_net::proven();
            }
            // Submission clients prove themselves by logging in, not with a
            // certificate: only the MTA port expects one.
            other if matches!(self.mode, Mode::Mta) => {
                tracing::info!(%peer, certificate = ?other, %version, "smtp: TLS peer without a trusted certificate")
            }
            _ => tracing::debug!(%peer, %version, "smtp: TLS client"),
        }
        let mut secure = Conn::new(tls);
        if greet && secure.write_raw(self.greeting().as_bytes()).await.is_err() {
            return;
        }
        let tls_peer = TlsPeer { certificate, version, cipher };
        Session::new(self, peer, Some(tls_peer)).run(&mut secure).await;
    }

    /// RFC 2034 §3: no enhanced status code in the greeting.
    fn greeting(&self) -> String {
        format!("220 {} ESMTP mss ready\r\n", self.hostname)
    }
}
