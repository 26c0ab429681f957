//! The IMAP figures, same client on both sides (STARTTLS, LOGIN): a session
//! that selects and fetches the headers of a mailbox, UID SEARCH on a large
//! mailbox, and an APPEND rate.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::figures::Figure;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::ServerName;

pub struct ImapTarget {
    pub addr: SocketAddr,
    pub tls: Arc<rustls::ClientConfig>,
    pub user: String,
    pub password: String,
}

/// Repetitions of each timed operation.
const RUNS: usize = 10;

/// Repetitions of UID SEARCH UNSEEN: a few milliseconds each, and the
/// first ones fault in what the fill wrote, so ten would leave the median
/// to chance.
pub const SEARCH_RUNS: usize = 50;

/// How long a client in IDLE waits to be told of a delivery.
const IDLE_WAIT: Duration = Duration::from_secs(120);

pub struct Client {
    io: BufReader<tokio_rustls::client::TlsStream<TcpStream>>,
    tag: usize,
}

/// Reads one line, and the literal it announces; returns the line.
async fn line<S: tokio::io::AsyncRead + Unpin>(io: &mut BufReader<S>) -> String {
    let mut text = String::new();
    let n = io.read_line(&mut text).await.expect("read");
    assert!(n > 0, "connection closed");
    if let Some(size) =
        text.trim_end().strip_suffix('}').and_then(|t| t.rsplit_once('{')).and_then(|(_, n)| n.parse::<usize>().ok())
    {
        let mut literal = vec![0u8; size];
        io.read_exact(&mut literal).await.expect("literal");
    }
    text
}

impl Client {
    pub async fn connect(target: &ImapTarget) -> Self {
        let tcp = TcpStream::connect(target.addr).await.expect("connect");
        tcp.set_nodelay(true).expect("TCP_NODELAY");
        let mut plain = BufReader::new(tcp);
        line(&mut plain).await;
        plain.get_mut().write_all(b"s STARTTLS\r\n").await.expect("write");
        loop {
            if line(&mut plain).await.starts_with("s ") {
                break;
            }
        }
        let name = ServerName::try_from("bench.test").expect("name");
        let stream = TlsConnector::from(target.tls.clone()).connect(name, plain.into_inner()).await.expect("TLS");
        let mut client = Self { io: BufReader::new(stream), tag: 0 };
        client.cmd(&format!("LOGIN \"{}\" \"{}\"", target.user, target.password)).await;
        client
    }

    /// Sends a command and reads through its tagged reply, which must be OK.
    pub async fn cmd(&mut self, command: &str) -> usize {
        self.tag += 1;
        let tag = format!("a{}", self.tag);
        self.io.get_mut().write_all(format!("{tag} {command}\r\n").as_bytes()).await.expect("write");
        let mut untagged = 0;
        loop {
            let text = line(&mut self.io).await;
            if let Some(status) = text.strip_prefix(&format!("{tag} ")) {
                assert!(status.starts_with("OK"), "{command}: {status}");
                return untagged;
            }
            untagged += 1;
        }
    }

    /// Enters IDLE, runs `event`, and returns how long after `event`
    /// started the server told of a new message (`* n EXISTS`, RFC 2177);
    /// then leaves IDLE. A server that says nothing for [`IDLE_WAIT`] fails
    /// the run (its processes are stopped as the run unwinds).
    pub async fn idle_until_exists(&mut self, event: impl Future<Output = ()>) -> Duration {
        self.tag += 1;
        let tag = format!("a{}", self.tag);
        self.io.get_mut().write_all(format!("{tag} IDLE\r\n").as_bytes()).await.expect("write");
        while !line(&mut self.io).await.starts_with("+ ") {}
        let started = Instant::now();
        let told = async {
            loop {
                let text = line(&mut self.io).await;
                if text.starts_with("* ") && text.trim_end().ends_with(" EXISTS") {
                    return started.elapsed();
                }
            }
        };
        let told = async { tokio::time::timeout(IDLE_WAIT, told).await.expect("told of the new message in IDLE") };
        let ((), elapsed) = tokio::join!(event, told);
        self.io.get_mut().write_all(b"DONE\r\n").await.expect("write");
        loop {
            if let Some(status) = line(&mut self.io).await.strip_prefix(&format!("{tag} ")) {
                assert!(status.starts_with("OK"), "IDLE: {status}");
                return elapsed;
            }
        }
    }

    /// The TLS suite `target` settles on, in one session (see
    /// `tls::same_suite`).
    pub async fn suite(target: &ImapTarget) -> rustls::CipherSuite {
        let client = Self::connect(target).await;
        let suite = client.io.get_ref().get_ref().1.negotiated_cipher_suite().expect("a suite").suite();
        client.logout().await;
        suite
    }

    pub async fn logout(mut self) {
        let _ = self.io.get_mut().write_all(b"z LOGOUT\r\n").await;
    }
}

/// One phase's time in a session.
type Phase = fn(&FetchSession) -> Duration;

/// The phases of one [`fetch_headers`] session.
#[derive(Debug, Clone, Copy)]
pub struct FetchSession {
    /// TCP, STARTTLS, the TLS handshake and LOGIN.
    pub login: Duration,
    pub select: Duration,
    pub fetch: Duration,
}

impl FetchSession {
    pub fn total(&self) -> Duration {
        self.login + self.select + self.fetch
    }

    /// The figure of whole sessions of `messages` messages, then one per
    /// phase: the medians of each run's p50 on each side.
    pub fn figures(messages: usize, ours: &[Vec<Self>], theirs: &[Vec<Self>]) -> Vec<Figure> {
        let name = format!("IMAP login+select+fetch headers of {messages} messages");
        let phases: [(&str, Phase); 4] =
            [("", Self::total), (": TLS and login", |s| s.login), (": SELECT", |s| s.select), (": FETCH", |s| s.fetch)];
        let times = |runs: &[Vec<Self>], phase: Phase| -> Vec<Vec<Duration>> {
            runs.iter().map(|run| run.iter().map(phase).collect()).collect()
        };
        phases
            .iter()
            .map(|(label, phase)| {
                Figure::latency(&format!("{name}{label}"), &times(ours, *phase), &times(theirs, *phase))
            })
            .collect()
    }
}

/// Login, SELECT and FETCH of the header fields of every message, each
/// session timed phase by phase.
pub async fn fetch_headers(target: &ImapTarget, messages: usize) -> Vec<FetchSession> {
    let mut sessions = Vec::new();
    for _ in 0..RUNS {
        let t = Instant::now();
        let mut c = Client::connect(target).await;
        let login = t.elapsed();
        c.cmd("SELECT INBOX").await;
        let select = t.elapsed() - login;
        let lines = c.cmd("FETCH 1:* (UID FLAGS BODY.PEEK[HEADER.FIELDS (FROM TO SUBJECT DATE MESSAGE-ID)])").await;
        assert!(lines >= messages, "every message fetched");
        sessions.push(FetchSession { login, select, fetch: t.elapsed() - login - select });
        c.logout().await;
    }
    sessions
}

/// UID SEARCH UNSEEN on the selected large mailbox, `runs` times.
pub async fn uid_search(target: &ImapTarget, runs: usize) -> Vec<Duration> {
    let mut c = Client::connect(target).await;
    c.cmd("SELECT INBOX").await;
    let mut times = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        c.cmd("UID SEARCH UNSEEN").await;
        times.push(t.elapsed());
    }
    c.logout().await;
    times
}

/// [`append`] to a new, empty mailbox of mss (`ours`) or of the peer.
pub async fn append_to_empty(
    mss: &crate::mss_side::Mss,
    peer: &crate::peer_side::Peer,
    pki: &crate::tls::Pki,
    ours: bool,
    count: usize,
) -> (Duration, Vec<Duration>) {
    let target = if ours { mss.imap_target(pki, 0).await } else { peer.imap_target(pki, 0) };
    append(&target, count).await
}

/// `count` APPENDs of 10 KB messages in one session: the whole duration and
/// each one's.
pub async fn append(target: &ImapTarget, count: usize) -> (Duration, Vec<Duration>) {
    let mut c = Client::connect(target).await;
    let started = Instant::now();
    let mut times = Vec::with_capacity(count);
    for n in 0..count {
        let body = crate::smtp_load::message(n, 10 * 1024, "dr.house@peer.test", &target.user);
        let t = Instant::now();
        c.tag += 1;
        let tag = format!("a{}", c.tag);
        let stream = c.io.get_mut();
        stream.write_all(format!("{tag} APPEND INBOX {{{}}}\r\n", body.len()).as_bytes()).await.expect("write");
        assert!(line(&mut c.io).await.starts_with('+'), "continuation");
        let stream = c.io.get_mut();
        stream.write_all(&body).await.expect("write");
        stream.write_all(b"\r\n").await.expect("write");
        loop {
            let text = line(&mut c.io).await;
            if let Some(status) = text.strip_prefix(&format!("{tag} ")) {
                assert!(status.starts_with("OK"), "APPEND: {status}");
                break;
            }
        }
        times.push(t.elapsed());
    }
    let elapsed = started.elapsed();
    c.logout().await;
    (elapsed, times)
}
