//! The IMAP listeners: accept, bound the number of connections, upgrade to
//! TLS (STARTTLS or implicit), judge the client certificate (for SASL
//! EXTERNAL), run the session.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use mss_identity::{Throttle, TokenKey};
use mss_net::QuickAck;
use mss_net::{Admission, AdmissionLimits};
use mss_store::Store;
use mss_trust::{PeerCertificate, ServerTrust};
use tokio::net::TcpListener;

use crate::conn::{Conn, FrameLimits, Stream};
use crate::session::{Outcome, Session};

/// Bounds on what one client may make us do.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest message APPEND accepts (announced as APPENDLIMIT).
    pub max_append_bytes: u64,
    /// Longest command line.
    pub max_line_bytes: usize,
    /// Largest literal outside APPEND.
    pub max_literal_bytes: u64,
    /// Largest command outside APPEND once logged in, lines and literals
    /// together (an APPEND may carry `max_append_bytes` and a line).
    pub max_command_bytes: u64,
    /// How long a client may accept no bytes of a response.
    pub write_timeout: Duration,
    /// How often an IDLE session checks that its login and its rights on
    /// the selected mailbox still hold.
    pub revalidate_every: Duration,
    /// Wait for a command when idle (RFC 9051 §5.4: at least 30 minutes
    /// once authenticated); before login it is much shorter.
    pub idle_timeout: Duration,
    pub unauthenticated_timeout: Duration,
    /// Wait for the rest of a command once it started.
    pub progress_timeout: Duration,
    /// Bad commands tolerated before the connection is closed.
    pub max_errors: usize,
    /// Simultaneous logged-in connections (see `mss_net`).
    pub max_connections: usize,
    /// Logged-in connections from one client address: a pharmacy or a
    /// hospital behind one NAT address has many users, each with a few
    /// connections.
    pub max_per_address: usize,
    /// Connections not logged in yet: a smaller pool, whose oldest member
    /// makes room for a newcomer, and a lifetime to log in.
    pub max_unproven: usize,
    pub max_unproven_per_address: usize,
    pub unproven_lifetime: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_append_bytes: 25 * 1024 * 1024,
            max_line_bytes: 64 * 1024,
            max_literal_bytes: 64 * 1024,
            max_command_bytes: 1024 * 1024,
            write_timeout: crate::conn::WRITE_TIMEOUT,
            revalidate_every: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(30 * 60),
            unauthenticated_timeout: Duration::from_secs(60),
            progress_timeout: Duration::from_secs(60),
            max_errors: 20,
            max_connections: 4096,
            max_per_address: 512,
            max_unproven: 512,
            max_unproven_per_address: 32,
            unproven_lifetime: Duration::from_secs(60),
        }
    }
}

/// Before login a command carries credentials at most: a SASL initial
/// response (at most `sasl::MAX_RESPONSE_BYTES`, base64 on one line) or a
/// user name and a bearer token. Nothing more is read from a stranger.
const UNAUTHENTICATED_COMMAND_BYTES: usize = 16 * 1024;
/// A literal before login: a user name or a token.
const UNAUTHENTICATED_LITERAL_BYTES: u64 = mss_identity::token::MAX_TOKEN_BYTES as u64;

impl Limits {
    pub(crate) fn frame(&self, authenticated: bool) -> FrameLimits {
        if !authenticated {
            return FrameLimits {
                max_line: self.max_line_bytes.min(UNAUTHENTICATED_COMMAND_BYTES),
                max_append: 0,
                max_literal: self.max_literal_bytes.min(UNAUTHENTICATED_LITERAL_BYTES),
                max_command: UNAUTHENTICATED_COMMAND_BYTES as u64,
                skip_long_lines: false,
                idle: self.unauthenticated_timeout,
                progress: self.progress_timeout,
            };
        }
        FrameLimits {
            max_line: self.max_line_bytes,
            max_append: self.max_append_bytes,
            max_literal: self.max_literal_bytes,
            max_command: self.max_command_bytes,
            skip_long_lines: true,
            idle: self.idle_timeout,
            progress: self.progress_timeout,
        }
    }
}

/// Everything a session needs.
pub struct ImapServer {
    pub store: Store,
    /// Our host name, in the greeting.
    pub hostname: String,
    pub tls: Arc<tokio_rustls::rustls::ServerConfig>,
    pub trust: ServerTrust,
    pub tokens: Arc<TokenKey>,
    /// Failed logins, shared with submission and the other nodes.
    pub throttle: Arc<Throttle>,
    pub limits: Limits,
    /// Development only: LOGIN and AUTHENTICATE PLAIN with a bearer token as
    /// the password, for clients that know no OAuth (mbsync, neomutt).
    pub plain_with_token: bool,
    /// The UIDs of large folders, for SELECT.
    pub uid_lists: crate::UidCache,
}

/// What is known of the TLS layer of a connection.
#[derive(Debug, Clone)]
pub struct TlsPeer {
    pub certificate: PeerCertificate,
}

impl ImapServer {
    /// Accepts connections; clients upgrade with STARTTLS.
    pub async fn serve(self: Arc<Self>, listener: TcpListener) {
        self.accept_loop(listener, false).await;
    }

    /// The same on an implicit-TLS port (RFC 8314, port 993).
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
        let busy = b"* BYE [UNAVAILABLE] Too many connections, try again later\r\n";
        mss_net::accept_loop(listener, admission, "imap", busy, |tcp, peer| {
            let server = self.clone();
            async move {
                if implicit_tls {
                    if let Some((conn, tls)) = server.handshake(tcp, peer).await {
                        server.run(conn, peer, Some(tls)).await;
                    }
                } else {
                    server.run(Conn::new(Stream::Plain(tcp)), peer, None).await;
                }
            }
        })
        .await;
    }

    /// One connection from greeting to close, upgrading on STARTTLS.
    pub async fn run(&self, mut conn: Conn, peer: SocketAddr, tls: Option<TlsPeer>) {
        let mut session = Session::new(self, peer, tls);
        if conn.write(session.greeting().as_bytes()).await.is_err() {
            return;
        }
        if session.run(&mut conn).await != Outcome::StartTls {
            return;
        }
        let Stream::Plain(tcp) = conn.stream else {
            return;
        };
        // RFC 9051 §6.2.1: nothing sent before the handshake counts.
        if let Some((mut secure, tls)) = self.handshake(tcp, peer).await {
            session.tls_started(tls);
            session.run(&mut secure).await;
        }
    }

    async fn handshake(&self, tcp: QuickAck, peer: SocketAddr) -> Option<(Conn, TlsPeer)> {
        let tls = mss_net::tls_handshake(self.tls.clone(), tcp, "imap", peer).await?.stream;
        let certificate = self.trust.judge(tls.get_ref().1.peer_certificates());
        Some((Conn::new(Stream::Tls(Box::new(tls))), TlsPeer { certificate }))
    }
}
