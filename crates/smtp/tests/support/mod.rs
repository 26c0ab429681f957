//! Operators for the SMTP tests: a store, a certificate from a shared test
//! CA, mailboxes, liste blanche rows, and an inbound listener on loopback.
#![allow(dead_code)] // each test file uses its own part of these helpers

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use mss_core::{MailboxKind, MailboxState};
use mss_identity::{Throttle, TokenKey};
use mss_smtp::{Limits, Mode, SmtpServer, Submission, Submitter};
use mss_store::{INBOX, MailboxId, NewMailbox, Store, StoreConfig, WhitelistRow, WhitelistSource};
use mss_trust::TlsMaterial;
use mss_trust::pki::{CertificateAuthority, IssuedCertificate, OperatorIdentity};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::ServerName;

/// The host name of the `ours.test` site, the server in every test.
pub const OURS_HOST: &str = "mss.ours.test";

pub fn operator_certificate(ca: &CertificateAuthority, host: &str) -> IssuedCertificate {
    ca.issue_operator(&OperatorIdentity {
        host: host.into(),
        organisation: format!("OPERATEUR {host}"),
        unit: "12345678900012".into(),
        state: "Paris (75)".into(),
    })
    .unwrap()
}

/// One operator: its domain, store and certificate.
pub struct Site {
    _dir: tempfile::TempDir,
    pub domain: String,
    pub host: String,
    pub store: Store,
    pub cert: IssuedCertificate,
    pub tls: TlsMaterial,
    /// Who speaks for the patients' domain (none by default).
    pub peers: mss_smtp::PeerTrust,
}

impl Site {
    pub async fn new(ca: &CertificateAuthority, domain: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&StoreConfig::Embedded { dir: dir.path().to_path_buf() }).await.unwrap();
        let host = format!("mss.{domain}");
        let cert = operator_certificate(ca, &host);
        let tls = TlsMaterial::from_pem(&cert.chain_pem, &cert.key_pem, ca.cert_pem()).unwrap();
        Self { _dir: dir, domain: domain.into(), host, store, cert, tls, peers: mss_smtp::PeerTrust::default() }
    }

    /// An active personal mailbox.
    pub async fn mailbox(&self, address: &str) -> MailboxId {
        let new = NewMailbox {
            address: address.parse().unwrap(),
            kind: MailboxKind::Personal,
            state: MailboxState::Active,
            national_id: Some("810003621892".parse().unwrap()),
            finess: None,
            first_name: Some("Alice".into()),
            last_name: Some("Martin".into()),
            display_name: "Alice Martin".into(),
            service: None,
            liste_rouge: false,
            certificate_dn: None,
        };
        self.store.meta.create_mailbox(&new).await.unwrap().id
    }

    /// Lists `domain` as served by the operator whose DN is `dn`.
    pub async fn trust(&self, domain: &str, dn: &str) {
        let row = WhitelistRow {
            domain: domain.into(),
            operator_dn: dn.into(),
            description: String::new(),
            responsible_contact: String::new(),
            support_contact: String::new(),
            updated_at: String::new(),
            source: WhitelistSource::Manual,
        };
        self.store.meta.add_manual_whitelist_row(&row).await.unwrap();
    }

    /// Serves inbound SMTP (the MTA) on `listener`.
    pub fn serve_inbound(&self, listener: TcpListener, limits: Limits) {
        self.serve(listener, Mode::Mta, limits, false);
    }

    /// The bearer-token key of this operator.
    pub fn token_key(&self) -> TokenKey {
        TokenKey::from_pem(&self.cert.key_pem, &self.domain).unwrap()
    }

    /// Serves submission on a new loopback port; `wake` is notified when mail is queued.
    pub async fn start_submission(&self, wake: Arc<Notify>) -> SocketAddr {
        self.start_submission_with(wake, Limits::default(), false).await
    }

    /// Submission with these limits.
    pub async fn start_submission_limited(&self, wake: Arc<Notify>, limits: Limits) -> SocketAddr {
        self.start_submission_with(wake, limits, false).await
    }

    /// Submission with TLS from the first byte (RFC 8314).
    pub async fn start_implicit_tls_submission(&self, wake: Arc<Notify>) -> SocketAddr {
        self.start_submission_with(wake, Limits::default(), true).await
    }

    async fn start_submission_with(&self, wake: Arc<Notify>, limits: Limits, implicit_tls: bool) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let submission = Submission {
            tokens: Arc::new(self.token_key()),
            submitter: Arc::new(Submitter {
                store: self.store.clone(),
                domain: self.domain.parse().unwrap(),
                wake,
                queue_expiry: Duration::from_secs(3600),
                sent_copy: true,
            }),
            plain_with_token: false,
            throttle: Arc::new(Throttle::new(self.store.meta.clone())),
        };
        self.serve(listener, Mode::Submission(submission), limits, implicit_tls);
        addr
    }

    fn serve(&self, listener: TcpListener, mode: Mode, limits: Limits, implicit_tls: bool) {
        let (tls, trust) = self.tls.server().unwrap();
        let inbound = Arc::new(SmtpServer {
            mode,
            store: self.store.clone(),
            domain: self.domain.parse().unwrap(),
            hostname: self.host.clone(),
            tls,
            trust,
            peers: self.peers.clone(),
            limits,
        });
        if implicit_tls {
            tokio::spawn(inbound.serve_implicit_tls(listener));
        } else {
            tokio::spawn(inbound.serve(listener));
        }
    }

    /// Serves inbound SMTP on a new loopback port.
    pub async fn start_inbound(&self, limits: Limits) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        self.serve_inbound(listener, limits);
        addr
    }

    /// Serves inbound SMTP with implicit TLS on a new loopback port.
    pub async fn start_implicit_tls_inbound(&self) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        self.serve(listener, Mode::Mta, Limits::default(), true);
        addr
    }

    /// The messages in a mailbox's INBOX.
    pub async fn inbox(&self, mailbox: MailboxId) -> Vec<Vec<u8>> {
        let mut bodies = Vec::new();
        for m in self.store.meta.folder_messages(mailbox, INBOX).await.unwrap() {
            bodies.push(self.store.blobs.get(&m.blob).await.unwrap().unwrap());
        }
        bodies
    }
}

/// A line-oriented SMTP client over any stream.
pub struct Client<S> {
    pub io: BufReader<S>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Client<S> {
    /// Reads one (possibly multi-line) reply: its code and its text.
    pub async fn reply(&mut self) -> (u16, String) {
        let mut text = String::new();
        loop {
            let mut line = String::new();
            let n = tokio::time::timeout(Duration::from_secs(20), self.io.read_line(&mut line)).await.unwrap().unwrap();
            assert!(n > 0, "connection closed while waiting for a reply; so far: {text}");
            text.push_str(&line);
            if line.as_bytes().get(3) == Some(&b' ') {
                return (line[..3].parse().unwrap(), text);
            }
        }
    }

    pub async fn send(&mut self, line: &str) {
        self.io.get_mut().write_all(format!("{line}\r\n").as_bytes()).await.unwrap();
    }

    pub async fn cmd(&mut self, line: &str) -> (u16, String) {
        self.send(line).await;
        self.reply().await
    }

    /// Whether the server has closed the connection.
    pub async fn closed(&mut self) -> bool {
        let mut line = String::new();
        matches!(tokio::time::timeout(Duration::from_secs(20), self.io.read_line(&mut line)).await, Ok(Ok(0)))
    }
}

pub async fn connect(addr: SocketAddr) -> Client<TcpStream> {
    let mut client = Client { io: BufReader::new(TcpStream::connect(addr).await.unwrap()) };
    let (code, text) = client.reply().await;
    assert_eq!(code, 220, "{text}");
    assert!(text.contains(OURS_HOST));
    client
}

/// EHLO, STARTTLS with `config`, EHLO again.
pub async fn starttls(
    addr: SocketAddr,
    config: Arc<rustls::ClientConfig>,
) -> Client<tokio_rustls::client::TlsStream<TcpStream>> {
    let mut client = connect(addr).await;
    let (code, ehlo) = client.cmd("EHLO mss.peer.test").await;
    assert_eq!(code, 250);
    assert!(ehlo.contains("STARTTLS") && ehlo.contains("PIPELINING") && ehlo.contains("ENHANCEDSTATUSCODES"), "{ehlo}");
    assert_eq!(client.cmd("STARTTLS").await.0, 220);
    let tcp = client.io.into_inner();
    let tls = TlsConnector::from(config).connect(ServerName::try_from(OURS_HOST).unwrap(), tcp).await.unwrap();
    let mut client = Client { io: BufReader::new(tls) };
    let (code, ehlo) = client.cmd("EHLO mss.peer.test").await;
    assert_eq!(code, 250);
    assert!(!ehlo.contains("STARTTLS"), "no STARTTLS inside TLS: {ehlo}");
    client
}

pub fn client_config(cert: &IssuedCertificate, anchors: &str) -> Arc<rustls::ClientConfig> {
    TlsMaterial::from_pem(&cert.chain_pem, &cert.key_pem, anchors).unwrap().client().unwrap()
}

pub fn anonymous_config(anchors: &str) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::pem::PemObject::pem_slice_iter(anchors.as_bytes()) {
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
