//! An IMAP server on loopback over a real store and real TLS, and a small
//! IMAP client that reads tagged replies (literals included).
#![allow(dead_code)] // each test file uses its own part of these helpers

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use mss_core::{MailboxKind, MailboxState, Role};
use mss_identity::{Throttle, TokenKey};
use mss_imap::{ImapServer, Limits, UidCache};
use mss_store::{MailboxId, NewMailbox, Store, StoreConfig};
use mss_trust::TlsMaterial;
use mss_trust::pki::{CertificateAuthority, IssuedCertificate, OperatorIdentity};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::ServerName;

pub const DOMAIN: &str = "ours.test";
pub const HOST: &str = "mss.ours.test";
/// Valid RPPS-based national ids of the test people.
pub const ALICE_ID: &str = "810003621892";
pub const BOB_ID: &str = "810000013994";

/// An operator with its store, certificate and token key.
pub struct Site {
    pub dir: tempfile::TempDir,
    pub ca: CertificateAuthority,
    pub cert: IssuedCertificate,
    pub tls: TlsMaterial,
    pub store: Store,
}

impl Site {
    pub async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = open_store(dir.path().to_path_buf()).await;
        let ca = CertificateAuthority::generate("IGC-Santé TEST Racine", "TEST").unwrap();
        let cert = ca
            .issue_operator(&OperatorIdentity {
                host: HOST.into(),
                organisation: "OPERATEUR TEST".into(),
                unit: "12345678900012".into(),
                state: "Paris (75)".into(),
            })
            .unwrap();
        let tls = TlsMaterial::from_pem(&cert.chain_pem, &cert.key_pem, ca.cert_pem()).unwrap();
        Self { dir, ca, cert, tls, store }
    }

    pub fn tokens(&self) -> TokenKey {
        TokenKey::from_pem(&self.cert.key_pem, DOMAIN).unwrap()
    }

    /// A token for `address`, valid for an hour.
    pub fn token(&self, address: &str) -> String {
        self.tokens().issue(address, mss_store::now_unix(), 3600).unwrap()
    }

    pub async fn mailbox(&self, address: &str, kind: MailboxKind, national_id: Option<&str>) -> MailboxId {
        self.mailbox_with(address, kind, national_id, None).await
    }

    pub async fn mailbox_with(
        &self,
        address: &str,
        kind: MailboxKind,
        national_id: Option<&str>,
        certificate_dn: Option<String>,
    ) -> MailboxId {
        let new = NewMailbox {
            address: address.parse().unwrap(),
            kind,
            state: MailboxState::Active,
            national_id: national_id.map(|n| n.parse().unwrap()),
            finess: None,
            first_name: None,
            last_name: None,
            display_name: address.into(),
            service: None,
            liste_rouge: false,
            certificate_dn,
        };
        self.store.meta.create_mailbox(&new).await.unwrap().id
    }

    pub async fn grant(&self, mailbox: MailboxId, national_id: &str, role: Role) {
        self.store.meta.grant_role(mailbox, &national_id.parse().unwrap(), role).await.unwrap();
    }

    pub async fn deliver(&self, mailbox: MailboxId, message: &str) {
        self.store.deliver(message.as_bytes(), &[mailbox]).await.unwrap();
    }

    pub fn server(&self, limits: Limits, plain_with_token: bool) -> Arc<ImapServer> {
        let (tls, trust) = self.tls.server().unwrap();
        Arc::new(ImapServer {
            store: self.store.clone(),
            hostname: HOST.into(),
            tls,
            trust,
            tokens: Arc::new(self.tokens()),
            throttle: Arc::new(Throttle::new(self.store.meta.clone())),
            limits,
            plain_with_token,
            // Every folder's list kept, and few UIDs in all: each test's
            // SELECTs go through the kept lists and their eviction.
            uid_lists: UidCache::new(0, 64),
        })
    }

    /// Serves IMAP (STARTTLS) on a new loopback port.
    pub async fn start(&self, limits: Limits) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(self.server(limits, false).serve(listener));
        addr
    }

    /// Serves IMAP with implicit TLS on a new loopback port.
    pub async fn start_implicit(&self, limits: Limits, plain_with_token: bool) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(self.server(limits, plain_with_token).serve_implicit_tls(listener));
        addr
    }

    /// A client TLS configuration trusting our CA, without a certificate.
    pub fn anonymous(&self) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls::pki_types::pem::PemObject::pem_slice_iter(self.ca.cert_pem().as_bytes()) {
            roots.add(cert.unwrap()).unwrap();
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        Arc::new(config)
    }

    /// A client configuration presenting `cert`.
    pub fn with_certificate(&self, cert: &IssuedCertificate) -> Arc<rustls::ClientConfig> {
        TlsMaterial::from_pem(&cert.chain_pem, &cert.key_pem, self.ca.cert_pem()).unwrap().client().unwrap()
    }
}

pub async fn open_store(dir: PathBuf) -> Store {
    Store::open(&StoreConfig::Embedded { dir }).await.unwrap()
}

/// A test message.
pub fn message(subject: &str, body: &str) -> String {
    format!(
        "From: Dr Alice Martin <alice.martin@ours.test>\r\nTo: pharmacie@ours.test\r\nSubject: {subject}\r\n\
         Date: Thu, 26 Nov 2026 10:00:00 +0100\r\nMessage-ID: <{subject}@ours.test>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
}

/// The response to one command: the untagged lines (literals inlined) and
/// the tagged status line.
#[derive(Debug)]
pub struct Response {
    pub untagged: String,
    pub tagged: String,
}

impl Response {
    pub fn ok(&self) -> bool {
        self.tagged.split(' ').nth(1) == Some("OK")
    }
    pub fn status(&self) -> &str {
        self.tagged.split(' ').nth(1).unwrap_or("")
    }
    /// Untagged lines starting with `* WORD` (or `* n WORD`).
    pub fn lines(&self, word: &str) -> Vec<&str> {
        self.untagged
            .split("\r\n")
            .filter(|l| {
                let mut parts = l.split(' ').skip(1);
                let first = parts.next().unwrap_or("");
                first.eq_ignore_ascii_case(word) || parts.next().is_some_and(|w| w.eq_ignore_ascii_case(word))
            })
            .collect()
    }
}

/// An IMAP client over any stream.
pub struct Client<S> {
    pub io: S,
    buffer: Vec<u8>,
    next_tag: u32,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Client<S> {
    pub fn new(io: S) -> Self {
        Self { io, buffer: Vec::new(), next_tag: 1 }
    }

    async fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 16384];
        let n = tokio::time::timeout(Duration::from_secs(30), self.io.read(&mut chunk))
            .await
            .expect("server answered in time")
            .unwrap_or(0);
        self.buffer.extend_from_slice(&chunk[..n]);
        n > 0
    }

    /// One response line, with any literal it announces appended.
    pub async fn line(&mut self) -> Option<String> {
        let mut out = Vec::new();
        loop {
            while !self.buffer.windows(2).any(|w| w == b"\r\n") {
                if !self.fill().await {
                    return None;
                }
            }
            let end = self.buffer.windows(2).position(|w| w == b"\r\n").unwrap();
            let line: Vec<u8> = self.buffer.drain(..end + 2).collect();
            out.extend_from_slice(&line[..end]);
            let literal = line[..end]
                .strip_suffix(b"}")
                .and_then(|l| l.iter().rposition(|&b| b == b'{').map(|i| &l[i + 1..]))
                .and_then(|n| std::str::from_utf8(n).ok()?.parse::<usize>().ok());
            let Some(n) = literal else {
                return Some(String::from_utf8_lossy(&out).into_owned());
            };
            out.extend_from_slice(b"\r\n");
            while self.buffer.len() < n {
                assert!(self.fill().await, "closed inside a literal");
            }
            out.extend(self.buffer.drain(..n));
        }
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        self.io.write_all(bytes).await.unwrap();
    }

    /// Sends `command` with a fresh tag and reads through the tagged reply.
    pub async fn cmd(&mut self, command: &str) -> Response {
        let tag = format!("t{}", self.next_tag);
        self.next_tag += 1;
        self.send(format!("{tag} {command}\r\n").as_bytes()).await;
        self.until(&tag).await
    }

    /// Reads through the line tagged `tag`.
    pub async fn until(&mut self, tag: &str) -> Response {
        let mut untagged = String::new();
        loop {
            let line = self.line().await.unwrap_or_else(|| panic!("closed before {tag}; so far: {untagged}"));
            if line.starts_with(&format!("{tag} ")) {
                return Response { untagged, tagged: line };
            }
            untagged.push_str(&line);
            untagged.push_str("\r\n");
        }
    }

    /// Whether the server closed the connection (after any lines it sent).
    pub async fn closed(&mut self) -> bool {
        loop {
            match self.line().await {
                None => return true,
                Some(_) => continue,
            }
        }
    }

    /// AUTHENTICATE XOAUTH2 with an initial response.
    pub async fn xoauth2(&mut self, user: &str, token: &str) -> Response {
        use base64::Engine;
        let response =
            base64::engine::general_purpose::STANDARD.encode(format!("user={user}\u{1}auth=Bearer {token}\u{1}\u{1}"));
        self.cmd(&format!("AUTHENTICATE XOAUTH2 {response}")).await
    }
}

pub type TlsClient = Client<tokio_rustls::client::TlsStream<TcpStream>>;

/// Connects, checks the greeting, upgrades with STARTTLS.
pub async fn starttls(addr: SocketAddr, config: Arc<rustls::ClientConfig>) -> TlsClient {
    let mut plain = Client::new(TcpStream::connect(addr).await.unwrap());
    let greeting = plain.line().await.unwrap();
    assert!(greeting.starts_with("* OK") && greeting.contains("STARTTLS"), "{greeting}");
    let reply = plain.cmd("STARTTLS").await;
    assert!(reply.ok(), "{reply:?}");
    let tls = TlsConnector::from(config).connect(ServerName::try_from(HOST).unwrap(), plain.io).await.unwrap();
    Client::new(tls)
}

/// Connects over TLS and logs in as `address` with a token.
pub async fn logged_in(site: &Site, addr: SocketAddr, address: &str) -> TlsClient {
    let mut client = starttls(addr, site.anonymous()).await;
    let reply = client.xoauth2(address, &site.token(address)).await;
    assert!(reply.ok(), "{reply:?}");
    client
}
