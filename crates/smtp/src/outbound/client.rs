//! One SMTP client transaction to a peer operator: EHLO, STARTTLS with our
//! certificate, the peer's DN checked against the liste blanche, then MAIL,
//! RCPT for each recipient, DATA: as one group when the peer offers
//! PIPELINING (RFC 2920), else one command at a time.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use mss_store::{Dsn, RecipientDsn, Store};
use mss_trust::liste_blanche::dn_listed;
use mss_trust::tls::subject_of;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::ClientConfig;
use tokio_rustls::rustls::pki_types::ServerName;

use crate::data::dot_stuffed;
use crate::notify;
use crate::peers::PeerTrust;

/// A peer's answer: the code and the text as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerReply {
    pub code: u16,
    pub text: String,
}

impl PeerReply {
    fn local(code: u16, text: impl Into<String>) -> Self {
        Self { code, text: text.into() }
    }

    pub fn is_positive(&self) -> bool {
        (200..400).contains(&self.code)
    }

    pub fn is_permanent(&self) -> bool {
        self.code >= 500
    }
}

/// What became of each recipient of one transaction, in order.
pub type Outcomes = Vec<PeerReply>;

/// A transaction that failed before any recipient could be tried.
#[derive(Debug, Clone)]
pub struct Failure {
    pub reply: PeerReply,
    /// The peer could not be reached: the next address of the domain may be
    /// tried.
    pub unreachable: bool,
}

impl From<PeerReply> for Failure {
    fn from(reply: PeerReply) -> Self {
        Self { reply, unreachable: false }
    }
}

/// Bound on every network wait (RFC 5321 §4.5.3.2 gives minutes; peers of
/// the trust space answer in seconds).
const STEP_TIMEOUT: Duration = Duration::from_secs(60);

struct Peer<S> {
    io: BufReader<S>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Peer<S> {
    async fn reply(&mut self) -> Result<PeerReply, String> {
        let mut text = String::new();
        loop {
            let mut line = String::new();
            let read = tokio::time::timeout(STEP_TIMEOUT, self.io.read_line(&mut line)).await;
            match read {
                Err(_) => return Err("timeout waiting for the peer".into()),
                Ok(Err(e)) => return Err(format!("connection error: {e}")),
                Ok(Ok(0)) => return Err("connection closed by the peer".into()),
                Ok(Ok(_)) => {}
            }
            if text.len() > 64 * 1024 {
                return Err("reply too long".into());
            }
            let code = line.get(..3).and_then(|c| c.parse::<u16>().ok()).ok_or("malformed reply")?;
            text.push_str(line.get(4..).unwrap_or("").trim_end());
            if line.as_bytes().get(3) != Some(&b'-') {
                return Ok(PeerReply { code, text });
            }
            text.push('\n');
        }
    }

    async fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        let write = async {
            self.io.get_mut().write_all(bytes).await?;
            self.io.get_mut().flush().await
        };
        match tokio::time::timeout(STEP_TIMEOUT, write).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(format!("connection error: {e}")),
            Err(_) => Err("timeout writing to the peer".into()),
        }
    }

    async fn command(&mut self, line: &str) -> Result<PeerReply, String> {
        self.send(format!("{line}\r\n").as_bytes()).await?;
        self.reply().await
    }
}

/// Everything one delivery attempt needs.
pub struct Attempt<'a> {
    pub store: &'a Store,
    pub peers: &'a PeerTrust,
    pub tls: Arc<ClientConfig>,
    pub hostname: &'a str,
    pub addr: SocketAddr,
    pub domain: &'a str,
    pub sender: &'a str,
    pub recipients: &'a [String],
    pub message: &'a [u8],
    /// What the sender asked of delivery status notifications (RFC 3461),
    /// for the message and each recipient: passed on when the peer offers DSN.
    pub dsn: &'a Dsn,
    pub recipient_dsn: &'a [RecipientDsn],
}

/// What a transaction gave: each recipient's reply, in order, and whether
/// the peer offered DSN (it then reports success itself).
pub struct Delivered {
    pub outcomes: Outcomes,
    pub peer_dsn: bool,
}

impl Attempt<'_> {
    /// Runs the transaction. `Err` is a failure before any recipient could be
    /// tried (connection, TLS, trust): it applies to all of them.
    pub async fn run(&self) -> Result<Delivered, Failure> {
        let temporary = |text: String| PeerReply::local(451, text);
        let unreachable = |text: String| Failure { reply: PeerReply::local(451, text), unreachable: true };
        let tcp = tokio::time::timeout(STEP_TIMEOUT, TcpStream::connect(self.addr))
            .await
            .map_err(|_| unreachable(format!("timeout connecting to {}", self.addr)))?
            .map_err(|e| unreachable(format!("cannot connect to {}: {e}", self.addr)))?;
        // Commands and the message go out whole: no waiting on delayed ACKs.
        let _ = tcp.set_nodelay(true);
        let mut plain = Peer { io: BufReader::new(tcp) };
        expect(plain.reply().await, 220, "greeting")?;
        let ehlo = expect(plain.command(&format!("EHLO {}", self.hostname)).await, 250, "EHLO")?;
        if !offers(&ehlo, "STARTTLS") {
            return Err(temporary(format!("{} does not offer STARTTLS", self.addr)).into());
        }
        expect(plain.command("STARTTLS").await, 220, "STARTTLS")?;
        let name = ServerName::try_from(self.domain.to_string())
            .map_err(|e| PeerReply::local(554, format!("bad domain {}: {e}", self.domain)))?;
        let tls = tokio::time::timeout(
            STEP_TIMEOUT,
            TlsConnector::from(self.tls.clone()).connect(name, plain.io.into_inner()),
        )
        .await
        .map_err(|_| temporary("timeout in the TLS handshake".into()))?
        .map_err(|e| temporary(format!("TLS handshake failed: {e}")))?;
        let subject = subject_of(tls.get_ref().1.peer_certificates())
            .ok_or_else(|| temporary("the peer presented no readable certificate".into()))?;
        let listed = (self.peers.operator_dns(self.store.meta.as_ref(), self.domain).await)
            .map_err(|e| temporary(format!("store: {e}")))?;
        if !dn_listed(listed.iter().map(String::as_str), &subject) {
            return Err(temporary(format!(
                "the peer's certificate DN {subject} is not listed for {} in the liste blanche",
                self.domain
            ))
            .into());
        }
        let mut peer = Peer { io: BufReader::new(tls) };
        let ehlo = expect(peer.command(&format!("EHLO {}", self.hostname)).await, 250, "EHLO")?;
        let peer_dsn = offers(&ehlo, "DSN");
        let mail_parameters = if peer_dsn { notify::mail_parameters(self.dsn) } else { String::new() };
        let mail = format!("MAIL FROM:<{}>{mail_parameters}\r\n", self.sender);
        let rcpts = self.recipients.iter().enumerate().map(|(i, recipient)| {
            let parameters = match (peer_dsn, self.recipient_dsn.get(i)) {
                (true, Some(dsn)) => notify::rcpt_parameters(dsn),
                _ => String::new(),
            };
            format!("RCPT TO:<{recipient}>{parameters}\r\n")
        });
        let (outcomes, data) = if offers(&ehlo, "PIPELINING") {
            // RFC 2920: MAIL, the RCPTs and DATA go as one group, and their
            // replies are read in order: one round trip instead of one per
            // command (between operators, tens of milliseconds each).
            let group: String = std::iter::once(mail).chain(rcpts).chain(["DATA\r\n".to_string()]).collect();
            peer.send(group.as_bytes()).await.map_err(temporary)?;
            expect(peer.reply().await, 250, "MAIL FROM")?;
            let mut outcomes = Vec::with_capacity(self.recipients.len());
            for _ in self.recipients {
                outcomes.push(peer.reply().await.map_err(temporary)?);
            }
            (outcomes, peer.reply().await)
        } else {
            expect(peer.command(mail.trim_end()).await, 250, "MAIL FROM")?;
            let mut outcomes = Vec::with_capacity(self.recipients.len());
            for rcpt in rcpts {
                outcomes.push(peer.command(rcpt.trim_end()).await.map_err(temporary)?);
            }
            if !outcomes.iter().any(PeerReply::is_positive) {
                let _ = peer.command("QUIT").await;
                return Ok(Delivered { outcomes, peer_dsn });
            }
            (outcomes, peer.command("DATA").await)
        };
        if !outcomes.iter().any(PeerReply::is_positive) {
            // RFC 2920 §3.1: a DATA accepted in spite of every recipient
            // refused gets an empty message, which the peer then refuses.
            if matches!(data, Ok(PeerReply { code: 354, .. })) {
                let _ = peer.send(b".\r\n").await;
                let _ = peer.reply().await;
            }
            let _ = peer.command("QUIT").await;
            return Ok(Delivered { outcomes, peer_dsn });
        }
        expect(data, 354, "DATA")?;
        peer.send(&dot_stuffed(self.message)).await.map_err(temporary)?;
        let end = peer.reply().await.map_err(temporary)?;
        let _ = peer.command("QUIT").await;
        let outcomes = outcomes.into_iter().map(|rcpt| if rcpt.is_positive() { end.clone() } else { rcpt }).collect();
        Ok(Delivered { outcomes, peer_dsn })
    }
}

/// Whether the EHLO reply names `keyword` among its extensions (RFC 5321
/// §4.1.1.1: one per line, its parameters after a space).
fn offers(ehlo: &PeerReply, keyword: &str) -> bool {
    ehlo.text.lines().skip(1).any(|line| line.split(' ').next().is_some_and(|k| k.eq_ignore_ascii_case(keyword)))
}

/// A reply with the expected code, or the reason to give up this attempt.
fn expect(reply: Result<PeerReply, String>, code: u16, step: &str) -> Result<PeerReply, PeerReply> {
    match reply {
        Ok(r) if r.code == code => Ok(r),
        Ok(r) => Err(PeerReply { code: r.code, text: format!("{step}: {}", r.text) }),
        Err(e) => Err(PeerReply::local(451, format!("{step}: {e}"))),
    }
}
