//! The SMTP load generator: `connections` workers send `messages` messages
//! of `size` bytes over STARTTLS, one TLS handshake per message (as peer
//! operators do) or one connection reused; the clock stops when every
//! message is in its mailbox (queue time included), not at the last 250.
//! Given several targets (the nodes of one operator), the connections are
//! spread evenly over them. The connections come from several loopback
//! addresses, at most [`PER_SOURCE`] from each, as a crowd of peer
//! operators would: both MTAs limit connections per client address.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpSocket, TcpStream};
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::ServerName;

/// Connections from one source address: below both MTAs' per-client
/// limits (Postfix's `smtpd_client_connection_count_limit` 50, mss's
/// `max_per_address` 64 and the run's `max_unproven_per_address` 50).
pub const PER_SOURCE: usize = 40;

/// The loopback address worker `w` connects from: 127.0.0.10, then .11
/// after [`PER_SOURCE`] workers, and so on (all of 127.0.0.0/8 is local).
pub fn source(w: usize) -> Ipv4Addr {
    let n = u8::try_from(10 + w / PER_SOURCE).expect("at most 9,800 connections");
    Ipv4Addr::new(127, 0, 0, n)
}

/// Where to send and to whom.
pub struct Target {
    pub addr: SocketAddr,
    pub tls: Arc<rustls::ClientConfig>,
    pub sender: String,
    pub recipients: Vec<String>,
}

#[derive(Debug, Clone, Copy)]
pub struct Load {
    pub messages: usize,
    pub size: usize,
    pub connections: usize,
    pub reuse: bool,
}

/// What a run measured.
pub struct Outcome {
    /// From the first connection to the last message stored.
    pub elapsed: Duration,
    /// Per message: from connection (or MAIL FROM when reused) to 250.
    pub latencies: Vec<Duration>,
    pub messages: usize,
}

impl Outcome {
    /// Delivered messages per second.
    pub fn rate(&self) -> f64 {
        self.messages as f64 / self.elapsed.as_secs_f64()
    }
}

/// The body of message `n`: headers and printable lines up to `size` bytes.
pub fn message(n: usize, size: usize, sender: &str, recipient: &str) -> Vec<u8> {
    let mut text = format!(
        "From: <{sender}>\r\nTo: <{recipient}>\r\nSubject: Bench {n}\r\nMessage-ID: <bench-{n}@peer.test>\r\n\
         Date: Thu, 26 Nov 2026 10:00:00 +0100\r\n\r\n"
    );
    let line = "Compte-rendu de biologie: valeurs dans les normes, aucune anomalie detectee.\r\n";
    while text.len() + line.len() < size {
        text.push_str(line);
    }
    text.into_bytes()
}

pub async fn run<F, Fut>(targets: &[Target], load: &Load, delivered: F) -> Outcome
where
    F: Fn() -> Fut,
    Fut: Future<Output = usize>,
{
    let before = delivered().await;
    let started = Instant::now();
    let per_worker = load.messages.div_ceil(load.connections);
    let mut workers = Vec::new();
    for w in 0..load.connections {
        let target = &targets[w % targets.len()];
        let (addr, tls, sender) = (target.addr, target.tls.clone(), target.sender.clone());
        let from = source(w);
        let recipients = target.recipients.clone();
        let load = *load;
        let first = w * per_worker;
        let count = per_worker.min(load.messages.saturating_sub(first));
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(count);
            let mut session: Option<Session> = None;
            for n in first..first + count {
                let recipient = &recipients[n % recipients.len()];
                let body = message(n, load.size, &sender, recipient);
                let t = Instant::now();
                if session.is_none() || !load.reuse {
                    if let Some(old) = session.take() {
                        old.quit().await;
                    }
                    session = Some(Session::open(from, addr, tls.clone()).await);
                }
                let s = session.as_mut().expect("session");
                s.send(&sender, recipient, &body).await;
                latencies.push(t.elapsed());
            }
            if let Some(s) = session {
                s.quit().await;
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for worker in workers {
        latencies.extend(worker.await.expect("worker"));
    }
    let deadline = Instant::now() + Duration::from_secs(300);
    while delivered().await < before + load.messages {
        assert!(Instant::now() < deadline, "messages accepted but never delivered");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Outcome { elapsed: started.elapsed(), latencies, messages: load.messages }
}

/// The TLS suite `target` settles on with the load generator, in one
/// session (see `tls::same_suite`).
pub async fn suite(target: &Target) -> rustls::CipherSuite {
    let session = Session::open(source(0), target.addr, target.tls.clone()).await;
    let suite = session.io.get_ref().get_ref().1.negotiated_cipher_suite().expect("a suite").suite();
    session.quit().await;
    suite
}

/// One SMTP session inside TLS.
pub struct Session {
    io: BufReader<tokio_rustls::client::TlsStream<TcpStream>>,
}

/// A reply's code and its lines.
async fn reply<S: AsyncRead + AsyncWrite + Unpin>(io: &mut BufReader<S>) -> (u16, String) {
    let mut text = String::new();
    loop {
        let start = text.len();
        let n = io.read_line(&mut text).await.expect("reply");
        assert!(n > 0, "connection closed");
        if text.as_bytes().get(start + 3) == Some(&b' ') {
            return (text[start..start + 3].parse().expect("reply code"), text);
        }
    }
}

async fn command<S: AsyncRead + AsyncWrite + Unpin>(io: &mut BufReader<S>, line: &str, expect: u16) -> String {
    io.get_mut().write_all(format!("{line}\r\n").as_bytes()).await.expect("write");
    let (code, text) = reply(io).await;
    assert_eq!(code, expect, "{line}");
    text
}

impl Session {
    pub async fn open(from: Ipv4Addr, addr: SocketAddr, tls: Arc<rustls::ClientConfig>) -> Self {
        let socket = TcpSocket::new_v4().expect("socket");
        socket.bind(SocketAddr::from((from, 0))).expect("bind the source address");
        let tcp = socket.connect(addr).await.expect("connect");
        tcp.set_nodelay(true).expect("TCP_NODELAY");
        let mut plain = BufReader::new(tcp);
        assert_eq!(reply(&mut plain).await.0, 220);
        command(&mut plain, "EHLO loadgen.peer.test", 250).await;
        command(&mut plain, "STARTTLS", 220).await;
        let name = ServerName::try_from("bench.test").expect("name");
        let stream = TlsConnector::from(tls).connect(name, plain.into_inner()).await.expect("TLS");
        let mut io = BufReader::new(stream);
        let ehlo = command(&mut io, "EHLO loadgen.peer.test", 250).await;
        assert!(ehlo.lines().any(|l| l.get(4..) == Some("PIPELINING")), "the server offers PIPELINING: {ehlo}");
        Self { io }
    }

    /// One message, as a sending MTA sends it to a server that offers
    /// PIPELINING (RFC 2920; Postfix's smtp client, mss's outbound): MAIL,
    /// RCPT and DATA in one write, their three replies read in order, then
    /// the message. Both sides offer it (asserted at EHLO).
    pub async fn send(&mut self, sender: &str, recipient: &str, body: &[u8]) {
        let group = format!("MAIL FROM:<{sender}>\r\nRCPT TO:<{recipient}>\r\nDATA\r\n");
        self.io.get_mut().write_all(group.as_bytes()).await.expect("write");
        for (step, expected) in [("MAIL", 250), ("RCPT", 250), ("DATA", 354)] {
            assert_eq!(reply(&mut self.io).await.0, expected, "{step}");
        }
        let stream = self.io.get_mut();
        stream.write_all(body).await.expect("data");
        stream.write_all(b".\r\n").await.expect("data");
        assert_eq!(reply(&mut self.io).await.0, 250, "message accepted");
    }

    pub async fn quit(mut self) {
        let _ = self.io.get_mut().write_all(b"QUIT\r\n").await;
        let _ = reply(&mut self.io).await;
    }
}
