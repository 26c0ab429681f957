//! Admission of connections on the mail listeners (SMTP, submission, IMAP).
//!
//! A connection starts **unproven**: nobody knows yet who is at the other
//! end. It becomes **proven** when the protocol says so ([`proven`]): a
//! trust-space peer whose certificate chains and is listed, a user who
//! logged in. The two kinds live in separate pools so that strangers can
//! never keep trusted peers and logged-in users out:
//!
//! - the unproven pool is small, bounded per client address (an IPv6
//!   address counts with its /64, which one host usually owns whole), and
//!   an unproven connection lives [`AdmissionLimits::unproven_lifetime`] at
//!   most: proving takes a TLS handshake and one command, not minutes;
//! - when the unproven pool is full, the **oldest** unproven connection is
//!   closed to make room, so a flood of idle strangers cannot lock out a
//!   real peer arriving after them (it gets its chance to prove itself);
//! - the proven pool is the large one, bounded in all and per address.
//!
//! [`accept_loop`] is the loop the mail protocols run: accept, admit or
//! refuse, then run the session with its slot held for the life of the
//! connection; [`tls_handshake`] is the one bounded handshake every
//! listener does (the verdict on the client's certificate is `mss_trust`'s).
//! HTTP, whose sessions hyper runs, gets the same bounds from a
//! [`Guarded`] byte stream. [`listeners`] keeps each listener's
//! [`Figures`] for `/metrics`, [`counters`] the events it counts,
//! [`reading`] how much a session's read buffer holds, [`listen`] how every
//! listener's socket is opened. This crate knows nothing of SMTP, IMAP or
//! HTTP.

pub mod counters;
pub mod listeners;
mod quickack;
pub mod reading;
mod socket;

pub use quickack::QuickAck;
pub use socket::{BACKLOG, listen};

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

/// The bounds of one listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdmissionLimits {
    /// Simultaneous proven connections in all.
    pub max_connections: usize,
    /// Simultaneous proven connections from one client address.
    pub max_per_address: usize,
    /// Simultaneous unproven connections in all; past it the oldest goes.
    pub max_unproven: usize,
    /// Simultaneous unproven connections from one client address.
    pub max_unproven_per_address: usize,
    /// How long a connection may stay unproven.
    pub unproven_lifetime: Duration,
}

/// Who is connected to one listener.
#[derive(Debug)]
pub struct Admission {
    limits: AdmissionLimits,
    open: Mutex<Open>,
}

#[derive(Debug, Default)]
struct Open {
    proven: usize,
    unproven: usize,
    per_group: HashMap<Group, Counts>,
    /// Unproven connections by age (admission number), with their signal.
    unproven_by_age: BTreeMap<u64, Arc<Notify>>,
    admitted: u64,
    refused: u64,
    evicted: u64,
}

/// What one listener's admission has seen: now, and since it started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Figures {
    pub proven: usize,
    pub unproven: usize,
    pub admitted_total: u64,
    pub refused_total: u64,
    /// Unproven connections closed to make room for newcomers.
    pub evicted_total: u64,
}

#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    proven: usize,
    unproven: usize,
}

/// The unit the per-address bounds count: an IPv4 address, or the /64 of an
/// IPv6 one (IPv4-mapped IPv6 addresses count as IPv4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Group(IpAddr);

impl Group {
    pub fn of(address: IpAddr) -> Self {
        match address {
            IpAddr::V4(v4) => Group(IpAddr::V4(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Group(IpAddr::V4(v4)),
                None => {
                    let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                    Group(IpAddr::V6(prefix.into()))
                }
            },
        }
    }
}

/// How logs and stores name a group: the IPv4 address, or the IPv6
/// prefix with its length (`2001:db8:1:2::/64`).
impl std::fmt::Display for Group {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            IpAddr::V4(v4) => write!(f, "{v4}"),
            IpAddr::V6(v6) => write!(f, "{v6}/64"),
        }
    }
}

/// Why a connection was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Every slot is taken, and none can be freed.
    Full,
    /// This address holds its share of unproven connections already.
    AddressFull,
}

/// A connection's slot, held for its life and given back on drop; clones
/// share the one slot.
#[derive(Debug, Clone)]
pub struct Ticket(Arc<Slot>);

#[derive(Debug)]
struct Slot {
    admission: Arc<Admission>,
    group: Group,
    number: u64,
    /// Rung when the slot's connection must close (evicted).
    evict: Arc<Notify>,
    proven: Mutex<bool>,
}

impl Admission {
    pub fn new(limits: AdmissionLimits) -> Arc<Self> {
        Arc::new(Self { limits, open: Mutex::new(Open::default()) })
    }

    fn open(&self) -> std::sync::MutexGuard<'_, Open> {
        // The counts stay right even if a holder panicked: every change is
        // made under the lock without a call that can panic in between.
        self.open.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// An unproven slot for a connection from `address`, if there is one;
    /// the oldest unproven connection is evicted to make room if need be.
    pub fn admit(self: &Arc<Self>, address: IpAddr) -> Result<Ticket, Refusal> {
        let group = Group::of(address);
        let mut open = self.open();
        let held = open.per_group.get(&group).copied().unwrap_or_default();
        if held.unproven >= self.limits.max_unproven_per_address {
            open.refused += 1;
            return Err(Refusal::AddressFull);
        }
        if open.unproven >= self.limits.max_unproven {
            // Evicted slots are counted until their session has ended; past
            // twice the bound, new connections wait for those to go.
            let oldest = match open.unproven >= self.limits.max_unproven.saturating_mul(2) {
                true => None,
                false => open.unproven_by_age.pop_first(),
            };
            let Some((_, oldest)) = oldest else {
                open.refused += 1;
                return Err(Refusal::Full);
            };
            open.evicted += 1;
            oldest.notify_one();
        }
        open.admitted += 1;
        let number = open.admitted;
        let evict = Arc::new(Notify::new());
        open.unproven_by_age.insert(number, evict.clone());
        open.unproven += 1;
        open.per_group.entry(group).or_default().unproven += 1;
        Ok(Ticket(Arc::new(Slot { admission: self.clone(), group, number, evict, proven: Mutex::new(false) })))
    }

    /// Connections open now, proven or not.
    pub fn open_connections(&self) -> usize {
        let open = self.open();
        open.proven + open.unproven
    }

    /// Proven connections open now.
    pub fn proven_connections(&self) -> usize {
        self.open().proven
    }

    /// The counts now and since the listener started.
    pub fn figures(&self) -> Figures {
        let open = self.open();
        Figures {
            proven: open.proven,
            unproven: open.unproven,
            admitted_total: open.admitted,
            refused_total: open.refused,
            evicted_total: open.evicted,
        }
    }
}

impl Ticket {
    /// Moves the connection to the proven pool, if that pool has room for
    /// it (in all and for its address); true when it is proven now.
    pub fn prove(&self) -> bool {
        let slot = &self.0;
        let admission = &slot.admission;
        let mut proven = slot.proven.lock().unwrap_or_else(|p| p.into_inner());
        if *proven {
            return true;
        }
        let mut open = admission.open();
        let held = open.per_group.get(&slot.group).copied().unwrap_or_default();
        if open.proven >= admission.limits.max_connections || held.proven >= admission.limits.max_per_address {
            return false;
        }
        if open.unproven_by_age.remove(&slot.number).is_none() {
            // Evicted already: its session is being closed.
            return false;
        }
        open.unproven -= 1;
        open.proven += 1;
        let counts = open.per_group.entry(slot.group).or_default();
        counts.unproven -= 1;
        counts.proven += 1;
        *proven = true;
        true
    }

    fn is_proven(&self) -> bool {
        *self.0.proven.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Resolves when the connection must close: evicted to make room, or
    /// still unproven when its lifetime is over. Never for a proven one.
    pub async fn closing(&self) {
        let deadline = tokio::time::sleep(self.0.admission.limits.unproven_lifetime);
        tokio::pin!(deadline);
        tokio::select! {
            () = self.0.evict.notified() => {}
            () = &mut deadline => {
                if self.is_proven() {
                    std::future::pending::<()>().await;
                }
            }
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let proven = *self.proven.lock().unwrap_or_else(|p| p.into_inner());
        let mut open = self.admission.open();
        open.unproven_by_age.remove(&self.number);
        let Some(counts) = open.per_group.get_mut(&self.group) else {
            return;
        };
        if proven {
            counts.proven -= 1;
        } else {
            counts.unproven -= 1;
        }
        if counts.proven == 0 && counts.unproven == 0 {
            open.per_group.remove(&self.group);
        }
        if proven {
            open.proven -= 1;
        } else {
            open.unproven -= 1;
        }
    }
}

tokio::task_local! {
    /// The slot of the connection the current task serves.
    static CONNECTION: Ticket;
}

/// Tells admission that the connection the current task serves is proven
/// (a trusted peer certificate, a successful login). Outside a session run
/// by [`accept_loop`] (tests, fuzzing) it does nothing.
pub fn proven() {
    let _ = CONNECTION.try_with(|ticket| {
        if !ticket.prove() {
            tracing::debug!("proven connection left in the unproven pool: the proven pool is full");
        }
    });
}

/// Accepts connections until the task is dropped. Each admitted one runs
/// `session` in its own task, closed early if it stays unproven too long
/// or is evicted; a refused one gets `busy` and is closed.
pub async fn accept_loop<F, Fut>(
    listener: TcpListener,
    admission: Arc<Admission>,
    protocol: &'static str,
    busy: &'static [u8],
    session: F,
) where
    F: Fn(QuickAck, SocketAddr) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    if let Ok(address) = listener.local_addr() {
        listeners::register(protocol, address, &admission);
    }
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors, most likely: wait for some to close.
                tracing::warn!(protocol, error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        // Replies are written whole: send them at once rather than wait for
        // the client's delayed ACK (Nagle).
        let _ = tcp.set_nodelay(true);
        match admission.admit(peer.ip()) {
            Ok(ticket) => {
                let running = CONNECTION.scope(ticket.clone(), session(QuickAck::new(tcp), peer));
                tokio::spawn(async move {
                    tokio::select! {
                        () = running => {}
                        () = ticket.closing() => {
                            tracing::info!(protocol, %peer, "unproven connection closed (evicted or too slow)");
                        }
                    }
                });
            }
            Err(refusal) => {
                tracing::warn!(protocol, %peer, ?refusal, "connection refused");
                tokio::spawn(refuse(tcp, busy));
            }
        }
    }
}

/// A connection that holds its admission slot, closes itself when the
/// slot is evicted or stays unproven past its lifetime, and when neither
/// side moved a byte for `idle`. For protocols whose sessions are not ours
/// to run (HTTP under hyper): the byte stream enforces what [`accept_loop`]
/// enforces around a session.
pub struct Guarded<S> {
    inner: S,
    closing: Pin<Box<dyn Future<Output = ()> + Send>>,
    idle: Duration,
    quiet: Pin<Box<tokio::time::Sleep>>,
}

impl<S> Guarded<S> {
    pub fn new(inner: S, ticket: Ticket, idle: Duration) -> Self {
        let closing = Box::pin(async move { ticket.closing().await });
        Self { inner, closing, idle, quiet: Box::pin(tokio::time::sleep(idle)) }
    }

    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// An error once the connection must end; `None` while it may go on.
    fn must_end(&mut self, cx: &mut Context<'_>) -> Option<std::io::Error> {
        if self.closing.as_mut().poll(cx).is_ready() {
            return Some(std::io::Error::new(std::io::ErrorKind::ConnectionAborted, "connection evicted"));
        }
        if self.quiet.as_mut().poll(cx).is_ready() {
            return Some(std::io::Error::new(std::io::ErrorKind::TimedOut, "connection idle"));
        }
        None
    }

    fn moved(&mut self) {
        let deadline = tokio::time::Instant::now() + self.idle;
        self.quiet.as_mut().reset(deadline);
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Guarded<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(result) => {
                if buf.filled().len() > before {
                    self.moved();
                }
                Poll::Ready(result)
            }
            Poll::Pending => match self.must_end(cx) {
                Some(error) => Poll::Ready(Err(error)),
                None => Poll::Pending,
            },
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Guarded<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write(cx, buf) {
            Poll::Ready(Ok(n)) => {
                if n > 0 {
                    self.moved();
                }
                Poll::Ready(Ok(n))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => match self.must_end(cx) {
                Some(error) => Poll::Ready(Err(error)),
                None => Poll::Pending,
            },
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Time a client has to finish its TLS handshake, on every listener.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// What a finished server-side handshake showed: the negotiated protocol
/// version and cipher suite, for logs and `Received:` headers. The
/// certificate the client presented is read from the stream
/// (`get_ref().1.peer_certificates()`) and judged by `mss_trust`.
pub struct Handshake<S> {
    pub stream: tokio_rustls::server::TlsStream<S>,
    pub version: String,
    pub cipher: String,
}

/// The server side of a TLS handshake, bounded by [`HANDSHAKE_TIMEOUT`];
/// `None` (logged) when it fails or the client is too slow. One shape for
/// every listener: STARTTLS and implicit TLS, mail and HTTPS.
pub async fn tls_handshake<S: AsyncRead + AsyncWrite + Unpin>(
    config: Arc<tokio_rustls::rustls::ServerConfig>,
    stream: S,
    protocol: &'static str,
    peer: SocketAddr,
) -> Option<Handshake<S>> {
    let accepting = tokio_rustls::TlsAcceptor::from(config).accept(stream);
    let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, accepting).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => {
            tracing::warn!(protocol, %peer, error = %e, "TLS handshake failed");
            counters::add(counters::TLS_FAILURES, "tls");
            return None;
        }
        Err(_) => {
            tracing::warn!(protocol, %peer, "TLS handshake timed out");
            counters::add(counters::TLS_FAILURES, "timeout");
            return None;
        }
    };
    let connection = stream.get_ref().1;
    let version = connection.protocol_version().map(|v| format!("{v:?}")).unwrap_or_default();
    let cipher = connection.negotiated_cipher_suite().map(|c| format!("{:?}", c.suite())).unwrap_or_default();
    Some(Handshake { stream, version, cipher })
}

async fn refuse(mut tcp: TcpStream, busy: &'static [u8]) {
    // A peer that does not read gets no more than this of our time.
    let _ = tokio::time::timeout(Duration::from_secs(5), tcp.write_all(busy)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: AdmissionLimits = AdmissionLimits {
        max_connections: 3,
        max_per_address: 2,
        max_unproven: 3,
        max_unproven_per_address: 2,
        unproven_lifetime: Duration::from_secs(60),
    };

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn an_address_gets_its_share_of_unproven_slots() {
        let admission = Admission::new(LIMITS);
        let first = admission.admit(ip("127.0.0.1")).unwrap();
        let _second = admission.admit(ip("127.0.0.1")).unwrap();
        assert_eq!(admission.admit(ip("127.0.0.1")).unwrap_err(), Refusal::AddressFull);
        assert_eq!(admission.open_connections(), 2);
        drop(first);
        assert_eq!(admission.open_connections(), 1);
        let _again = admission.admit(ip("127.0.0.1")).expect("a slot given back is free again");
    }

    #[test]
    fn a_group_is_named_by_its_address_or_its_prefix() {
        assert_eq!(Group::of(ip("192.0.2.7")).to_string(), "192.0.2.7");
        assert_eq!(Group::of(ip("::ffff:192.0.2.7")).to_string(), "192.0.2.7");
        assert_eq!(Group::of(ip("2001:db8:1:2:aaaa::1")).to_string(), "2001:db8:1:2::/64");
    }

    #[test]
    fn ipv6_addresses_count_by_their_64_prefix_and_mapped_ipv4_as_ipv4() {
        let admission = Admission::new(LIMITS);
        let _a = admission.admit(ip("2001:db8:1:2::1")).unwrap();
        let _b = admission.admit(ip("2001:db8:1:2:ffff::9")).unwrap();
        assert_eq!(admission.admit(ip("2001:db8:1:2::77")).unwrap_err(), Refusal::AddressFull);
        let _other_prefix = admission.admit(ip("2001:db8:1:3::1")).expect("another /64 is another host");
        assert_eq!(Group::of(ip("::ffff:192.0.2.1")), Group::of(ip("192.0.2.1")));
    }

    #[tokio::test]
    async fn a_full_unproven_pool_evicts_its_oldest_connection() {
        let admission = Admission::new(LIMITS);
        let oldest = admission.admit(ip("10.0.0.1")).unwrap();
        let _b = admission.admit(ip("10.0.0.2")).unwrap();
        let _c = admission.admit(ip("10.0.0.3")).unwrap();
        let newcomer = admission.admit(ip("10.0.0.4")).expect("room is made for a newcomer");
        tokio::time::timeout(Duration::from_secs(1), oldest.closing()).await.expect("the oldest is told to close");
        assert!(!oldest.prove(), "an evicted connection cannot prove itself any more");
        assert!(newcomer.prove());
        drop(oldest);
        assert_eq!(admission.open_connections(), 3);
    }

    #[test]
    fn proven_connections_leave_the_unproven_pool_and_have_their_own_bounds() {
        let admission = Admission::new(LIMITS);
        let address = ip("192.0.2.7");
        let tickets: Vec<Ticket> = (0..2).map(|_| admission.admit(address).unwrap()).collect();
        assert!(tickets.iter().all(Ticket::prove));
        assert_eq!(admission.proven_connections(), 2);
        // Its unproven share is free again, but its proven share is used up.
        let third = admission.admit(address).unwrap();
        assert!(!third.prove(), "two proven connections per address at most");
        drop(tickets);
        assert!(third.prove());
        assert_eq!(admission.proven_connections(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn an_unproven_connection_closes_at_the_end_of_its_lifetime_a_proven_one_does_not() {
        let admission = Admission::new(LIMITS);
        let slow = admission.admit(ip("127.0.0.1")).unwrap();
        let proven = admission.admit(ip("127.0.0.2")).unwrap();
        assert!(proven.prove());
        tokio::time::timeout(Duration::from_secs(61), slow.closing()).await.expect("closed after its lifetime");
        assert!(tokio::time::timeout(Duration::from_secs(3600), proven.closing()).await.is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn a_guarded_stream_ends_when_idle_or_evicted() {
        use tokio::io::AsyncReadExt;
        let admission = Admission::new(LIMITS);
        let (client, server) = tokio::io::duplex(64);
        let mut guarded = Guarded::new(server, admission.admit(ip("10.0.0.1")).unwrap(), Duration::from_secs(5));
        let mut byte = [0u8; 1];
        let read = guarded.read(&mut byte).await;
        assert_eq!(read.unwrap_err().kind(), std::io::ErrorKind::TimedOut, "nothing moved for 5 s");
        drop((guarded, client));
        let (_client, server) = tokio::io::duplex(64);
        let first = admission.admit(ip("10.0.0.1")).unwrap();
        let mut guarded = Guarded::new(server, first, Duration::from_secs(3600));
        let reading = tokio::spawn(async move { guarded.read(&mut [0u8; 1]).await });
        tokio::task::yield_now().await;
        let _others: Vec<Ticket> = (2..5).map(|n| admission.admit(ip(&format!("10.0.0.{n}"))).unwrap()).collect();
        let read = reading.await.unwrap();
        assert_eq!(read.unwrap_err().kind(), std::io::ErrorKind::ConnectionAborted, "evicted by a newcomer");
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_that_stalls_its_tls_handshake_is_cut_after_the_timeout() {
        use tokio_rustls::rustls::{self, pki_types};
        let certified = rcgen::generate_simple_self_signed(vec!["mss.test".into()]).unwrap();
        let key = pki_types::PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![certified.cert.der().clone()], key)
            .unwrap();
        let (_client, server) = tokio::io::duplex(1024);
        let started = tokio::time::Instant::now();
        let peer: SocketAddr = "127.0.0.1:1".parse().unwrap();
        assert!(tls_handshake(Arc::new(config), server, "test", peer).await.is_none());
        assert_eq!(started.elapsed(), HANDSHAKE_TIMEOUT);
    }

    #[tokio::test]
    async fn the_loop_runs_sessions_lets_them_prove_themselves_and_answers_the_others_busy() {
        use tokio::io::AsyncReadExt;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let limits = AdmissionLimits { max_unproven_per_address: 1, ..LIMITS };
        let admission = Admission::new(limits);
        let server =
            tokio::spawn(accept_loop(listener, admission.clone(), "test", b"busy\r\n", |mut tcp, _| async move {
                let _ = tcp.write_all(b"hello\r\n").await;
                let mut byte = [0u8; 1];
                // One byte proves the client (as a login would).
                if tcp.read_exact(&mut byte).await.is_ok() {
                    proven();
                }
                let mut rest = Vec::new();
                let _ = tcp.read_to_end(&mut rest).await;
            }));
        let read_line = |mut tcp: TcpStream| async move {
            let mut buf = [0u8; 7];
            tcp.read_exact(&mut buf[..6]).await.unwrap();
            (tcp, buf)
        };
        let (mut held, greeting) = read_line(TcpStream::connect(addr).await.unwrap()).await;
        assert_eq!(&greeting[..6], b"hello\r");
        let (_, refusal) = read_line(TcpStream::connect(addr).await.unwrap()).await;
        assert_eq!(&refusal[..6], b"busy\r\n", "one unproven connection per address");
        held.write_all(b"x").await.unwrap();
        for _ in 0..100 {
            if admission.proven_connections() == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(admission.proven_connections(), 1);
        let (_, greeting) = read_line(TcpStream::connect(addr).await.unwrap()).await;
        assert_eq!(&greeting[..6], b"hello\r", "a proven connection frees its unproven slot");
        server.abort();
    }
}
