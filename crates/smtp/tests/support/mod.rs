//! Operators for the SMTP tests: a store, a certificate from a shared test
//! CA, mailboxes, liste blanche rows, and an inbound listener on loopback.
#![allow(dead_code)] // each test file uses its own part of these helpers

use std::net::SocketAddr;
use std::sync::Arc;

use mss_core::{MailboxKind, MailboxState};
use mss_smtp::{Inbound, Limits};
use mss_store::{INBOX, MailboxId, NewMailbox, Store, StoreConfig, WhitelistRow, WhitelistSource};
use mss_trust::TlsMaterial;
use mss_trust::pki::{CertificateAuthority, IssuedCertificate, OperatorIdentity};
use tokio::net::TcpListener;

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
}

impl Site {
    pub async fn new(ca: &CertificateAuthority, domain: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&StoreConfig::Embedded { dir: dir.path().to_path_buf() }).await.unwrap();
        let host = format!("mss.{domain}");
        let cert = operator_certificate(ca, &host);
        let tls = TlsMaterial::from_pem(&cert.chain_pem, &cert.key_pem, ca.cert_pem()).unwrap();
        Self { _dir: dir, domain: domain.into(), host, store, cert, tls }
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

    /// Serves inbound SMTP on `listener`.
    pub fn serve_inbound(&self, listener: TcpListener, limits: Limits) {
        let (tls, trust) = self.tls.server().unwrap();
        let inbound = Arc::new(Inbound {
            store: self.store.clone(),
            domain: self.domain.parse().unwrap(),
            hostname: self.host.clone(),
            tls,
            trust,
            limits,
        });
        tokio::spawn(inbound.serve(listener));
    }

    /// Serves inbound SMTP on a new loopback port.
    pub async fn start_inbound(&self, limits: Limits) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        self.serve_inbound(listener, limits);
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
