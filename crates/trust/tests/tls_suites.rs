//! Our mail servers choose AES-128-GCM (a SHA-256 handshake) whatever order
//! the client offers its suites in: OpenSSL's clients, Postfix among them,
//! put AES-256-GCM-SHA384 first, and so does a default rustls client. The
//! web server keeps a browser's order (ChaCha20 first on a device without
//! AES instructions). A client resumes its next connections, two of them
//! opened together included.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use mss_trust::pki::{CertificateAuthority, OperatorIdentity};
use mss_trust::tls::TlsMaterial;
use rustls::client::{ClientSessionMemoryCache, ClientSessionStore, Tls12ClientSessionValue, Tls13ClientSessionValue};
use rustls::{
    CipherSuite, ClientConfig, ClientConnection, HandshakeKind, NamedGroup, RootCertStore, ServerConfig,
    ServerConnection,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};

fn material() -> (TlsMaterial, String) {
    let ca = CertificateAuthority::generate("IGC-Santé TEST Racine", "MSS TEST").unwrap();
    let who = OperatorIdentity {
        host: "mss.example.fr".into(),
        organisation: "PHARMA SOFT".into(),
        unit: "12345678900012".into(),
        state: "Puy-de-Dôme (63)".into(),
    };
    let issued = ca.issue_operator(&who).unwrap();
    let material = TlsMaterial::from_pem(&issued.chain_pem, &issued.key_pem, ca.cert_pem()).unwrap();
    (material, ca.cert_pem().to_string())
}

/// A client of rustls's defaults (AES-256 first), trusting `anchors`, for
/// the given versions, without a certificate of its own.
fn stock_client(anchors: &str, versions: &[&'static rustls::SupportedProtocolVersion]) -> Arc<ClientConfig> {
    let provider = rustls::crypto::ring::default_provider();
    let first = provider.cipher_suites[0].suite();
    assert!(matches!(first, CipherSuite::TLS13_AES_256_GCM_SHA384), "the client prefers AES-256: {first:?}");
    client(anchors, versions, provider)
}

/// A client offering `provider`'s suites in its order.
fn client(
    anchors: &str,
    versions: &[&'static rustls::SupportedProtocolVersion],
    provider: rustls::crypto::CryptoProvider,
) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(anchors.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = ClientConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

/// The suite a handshake in memory settles on.
fn negotiated(server: Arc<ServerConfig>, client: Arc<ClientConfig>) -> CipherSuite {
    let (suite, _) = handshake(server, client);
    suite
}

/// A handshake in memory, up to the server's session tickets: its suite
/// and whether the client resumed a session.
fn handshake(server: Arc<ServerConfig>, client: Arc<ClientConfig>) -> (CipherSuite, HandshakeKind) {
    finish(server, opened(client))
}

/// A client's connection, its first flight made (a session ticket taken).
fn opened(client: Arc<ClientConfig>) -> ClientConnection {
    ClientConnection::new(client, ServerName::try_from("mss.example.fr").unwrap()).unwrap()
}

/// Drives `client`'s handshake with a new server connection to its end.
fn finish(server: Arc<ServerConfig>, mut client: ClientConnection) -> (CipherSuite, HandshakeKind) {
    let mut server = ServerConnection::new(server).unwrap();
    let mut wire = Vec::new();
    while client.is_handshaking() || server.is_handshaking() {
        wire.clear();
        client.write_tls(&mut wire).unwrap();
        server.read_tls(&mut wire.as_slice()).unwrap();
        server.process_new_packets().unwrap();
        wire.clear();
        server.write_tls(&mut wire).unwrap();
        client.read_tls(&mut wire.as_slice()).unwrap();
        client.process_new_packets().unwrap();
    }
    let suite = server.negotiated_cipher_suite().unwrap().suite();
    assert_eq!(Some(suite), client.negotiated_cipher_suite().map(|s| s.suite()));
    (suite, client.handshake_kind().unwrap())
}

#[test]
fn the_operator_server_picks_aes_128_over_the_clients_preference() {
    let (material, anchors) = material();
    let (server, _trust) = material.server().unwrap();
    let tls13 = stock_client(&anchors, &[&rustls::version::TLS13]);
    assert_eq!(negotiated(server.clone(), tls13), CipherSuite::TLS13_AES_128_GCM_SHA256);
    let tls12 = stock_client(&anchors, &[&rustls::version::TLS12]);
    let suite = negotiated(server, tls12);
    assert!(format!("{suite:?}").ends_with("_WITH_AES_128_GCM_SHA256"), "TLS 1.2: {suite:?}");
}

/// The order is a preference, not a restriction: a peer offering a single
/// other suite of the list (a hardened configuration) still gets it.
#[test]
fn a_peer_offering_one_other_suite_gets_it() {
    let (material, anchors) = material();
    let (server, _trust) = material.server().unwrap();
    for only in [CipherSuite::TLS13_AES_256_GCM_SHA384, CipherSuite::TLS13_CHACHA20_POLY1305_SHA256] {
        let mut provider = rustls::crypto::ring::default_provider();
        provider.cipher_suites.retain(|s| s.suite() == only);
        let peer = client(&anchors, &[&rustls::version::TLS13], provider);
        assert_eq!(negotiated(server.clone(), peer), only);
    }
}

#[test]
fn the_web_server_keeps_the_browsers_order() {
    let (material, anchors) = material();
    let server = material.web_server(None).unwrap();
    // A browser on a device without AES instructions: ChaCha20 first.
    let mut provider = rustls::crypto::ring::default_provider();
    provider.cipher_suites.sort_by_key(|s| s.suite() != CipherSuite::TLS13_CHACHA20_POLY1305_SHA256);
    let without_aes = client(&anchors, &[&rustls::version::TLS13], provider);
    assert_eq!(negotiated(server.clone(), without_aes), CipherSuite::TLS13_CHACHA20_POLY1305_SHA256);
    let stock = stock_client(&anchors, &[&rustls::version::TLS13]);
    assert_eq!(negotiated(server, stock), CipherSuite::TLS13_AES_256_GCM_SHA384);
}

#[test]
fn our_clients_offer_aes_128_first() {
    let (material, _) = material();
    for client in [material.client().unwrap(), material.trust_space_client().unwrap()] {
        assert_eq!(client.crypto_provider().cipher_suites[0].suite(), CipherSuite::TLS13_AES_128_GCM_SHA256);
    }
}

/// A client's memory of sessions that counts the TLS 1.3 tickets it is given.
#[derive(Debug)]
struct CountedTickets {
    kept: ClientSessionMemoryCache,
    given: AtomicUsize,
}

impl ClientSessionStore for CountedTickets {
    fn set_kx_hint(&self, server: ServerName<'static>, group: NamedGroup) {
        self.kept.set_kx_hint(server, group);
    }
    fn kx_hint(&self, server: &ServerName<'_>) -> Option<NamedGroup> {
        self.kept.kx_hint(server)
    }
    fn set_tls12_session(&self, server: ServerName<'static>, value: Tls12ClientSessionValue) {
        self.kept.set_tls12_session(server, value);
    }
    fn tls12_session(&self, server: &ServerName<'_>) -> Option<Tls12ClientSessionValue> {
        self.kept.tls12_session(server)
    }
    fn remove_tls12_session(&self, server: &ServerName<'static>) {
        self.kept.remove_tls12_session(server);
    }
    fn insert_tls13_ticket(&self, server: ServerName<'static>, value: Tls13ClientSessionValue) {
        self.given.fetch_add(1, Ordering::SeqCst);
        self.kept.insert_tls13_ticket(server, value);
    }
    fn take_tls13_ticket(&self, server: &ServerName<'static>) -> Option<Tls13ClientSessionValue> {
        self.kept.take_tls13_ticket(server)
    }
}

/// A client that opens one connection after another (a software sending
/// each message on a connection of its own) resumes every one after the
/// first; one that opens two at once after its first (a peer operator's
/// parallel deliveries) resumes both: the server gives two tickets per
/// handshake.
#[test]
fn a_client_resumes_its_next_connections_two_at_once_included() {
    let (material, anchors) = material();
    let (server, _trust) = material.server().unwrap();
    let one_after_another = stock_client(&anchors, &[&rustls::version::TLS13]);
    let kinds: Vec<_> = (0..4).map(|_| handshake(server.clone(), one_after_another.clone()).1).collect();
    assert_eq!(kinds[0], HandshakeKind::Full);
    assert!(kinds[1..].iter().all(|k| *k == HandshakeKind::Resumed), "{kinds:?}");

    let tickets = Arc::new(CountedTickets { kept: ClientSessionMemoryCache::new(16), given: AtomicUsize::new(0) });
    let mut config = (*one_after_another).clone();
    config.resumption = rustls::client::Resumption::store(tickets.clone());
    let config = Arc::new(config);
    assert_eq!(handshake(server.clone(), config.clone()).1, HandshakeKind::Full);
    assert_eq!(tickets.given.load(Ordering::SeqCst), 2, "two tickets for one handshake");
    let (first, second) = (opened(config.clone()), opened(config));
    assert_eq!(finish(server.clone(), first).1, HandshakeKind::Resumed);
    assert_eq!(finish(server, second).1, HandshakeKind::Resumed);
}
