//! TLS for the trust space: rustls configurations and the judgement of a
//! peer's certificate.
//!
//! Operators authenticate each other with mutual TLS (TLS 1.2 minimum). A
//! peer whose certificate is missing or untrusted must get a clear SMTP reply
//! saying so, not a TLS alert it cannot explain: the server therefore asks for
//! a client certificate without making it mandatory in the handshake, and the
//! chain is judged right after the handshake ([`ServerTrust::judge`]). The
//! handshake still checks the peer's signature with the certificate's key, so
//! a peer cannot present a certificate it does not own.

use std::path::Path;
use std::sync::{Arc, RwLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ResolvesClientCert, WebPkiServerVerifier};
use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{CipherSuite, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};

use crate::dn::DistinguishedName;
use crate::revocation::{Crl, Revocation};
use crate::verdicts::{self, TrustedChains};

/// TLS 1.2 is the floor of the MSSanté référentiel; TLS 1.3 is welcome.
static VERSIONS: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS13, &rustls::version::TLS12];

/// Errors while building TLS configurations.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("tls: {path}: {message}")]
    File { path: String, message: String },
    #[error("tls: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("tls: trust anchors: {0}")]
    Anchors(String),
}

/// What we know of the peer's certificate once the handshake is done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerCertificate {
    /// The peer sent no certificate.
    Missing,
    /// The certificate does not chain to a trust anchor (or is expired, or
    /// not for client authentication).
    Untrusted { reason: String },
    /// The chain is good; the subject is what the liste blanche must name.
    Trusted { subject: DistinguishedName },
}

/// Our certificate, our key and the anchors peers must chain to: everything a
/// listener or a client of the trust space needs.
#[derive(Clone)]
pub struct TlsMaterial {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: Arc<PrivateKeyDer<'static>>,
    pub anchors: Arc<RootCertStore>,
    /// The anchors as certificates (a CRL's signer is found among them).
    pub anchor_certs: Arc<Vec<CertificateDer<'static>>>,
    /// The CRLs peer certificates are checked against, replaceable while
    /// running (empty: revocation is not checked).
    pub revocation: Arc<Revocation>,
    /// Our certificate as every handshake presents it, replaceable while
    /// running ([`TlsMaterial::reload`]).
    pub own: Arc<OwnCertificate>,
}

/// Our certificate and key as the handshakes present them, server side and
/// client side, replaced whole by [`TlsMaterial::reload`]: a handshake
/// after the swap presents the new one, one before it kept the old.
#[derive(Debug)]
pub struct OwnCertificate {
    current: RwLock<Arc<CertifiedKey>>,
}

impl OwnCertificate {
    fn current(&self) -> Arc<CertifiedKey> {
        self.current.read().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl ResolvesServerCert for OwnCertificate {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

impl ResolvesClientCert for OwnCertificate {
    fn resolve(&self, _hints: &[&[u8]], _schemes: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

fn file_error(path: &Path, e: &dyn std::fmt::Display) -> TlsError {
    TlsError::File { path: path.display().to_string(), message: e.to_string() }
}

/// The certificates of a PEM file, in order.
fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    CertificateDer::pem_file_iter(path)
        .map_err(|e| file_error(path, &e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(path, &e))
}

/// Our chain and key as the handshakes present them; the key must be the
/// certificate's.
fn certified(chain: Vec<CertificateDer<'static>>, key: &PrivateKeyDer<'static>) -> Result<CertifiedKey, TlsError> {
    Ok(CertifiedKey::from_der(chain, key.clone_key(), &provider())?)
}

impl TlsMaterial {
    /// Reads PEM files: our chain (leaf first), our key, the anchors.
    pub fn load(chain: &Path, key: &Path, anchors: &Path) -> Result<Self, TlsError> {
        let chain_certs = read_certificates(chain)?;
        if chain_certs.is_empty() {
            return Err(file_error(chain, &"no certificate"));
        }
        let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| file_error(key, &e))?;
        Self::from_der(chain_certs, key_der, read_certificates(anchors)?)
    }

    /// From PEM text (tests, and material made in memory).
    pub fn from_pem(chain: &str, key: &str, anchors: &str) -> Result<Self, TlsError> {
        let pem_error =
            |what: &str, e: &dyn std::fmt::Display| TlsError::File { path: what.into(), message: e.to_string() };
        let chain_certs = CertificateDer::pem_slice_iter(chain.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| pem_error("chain", &e))?;
        let key_der = PrivateKeyDer::from_pem_slice(key.as_bytes()).map_err(|e| pem_error("key", &e))?;
        let anchor_certs = CertificateDer::pem_slice_iter(anchors.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| pem_error("anchors", &e))?;
        Self::from_der(chain_certs, key_der, anchor_certs)
    }

    fn from_der(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
        anchor_certs: Vec<CertificateDer<'static>>,
    ) -> Result<Self, TlsError> {
        let mut anchors = RootCertStore::empty();
        for cert in &anchor_certs {
            anchors.add(cert.clone()).map_err(|e| TlsError::Anchors(e.to_string()))?;
        }
        if anchors.is_empty() {
            return Err(TlsError::Anchors("no trust anchor".into()));
        }
        let own = Arc::new(OwnCertificate { current: RwLock::new(Arc::new(certified(chain.clone(), &key)?)) });
        Ok(Self {
            chain,
            key: Arc::new(key),
            anchors: Arc::new(anchors),
            anchor_certs: Arc::new(anchor_certs),
            revocation: Revocation::new(),
            own,
        })
    }

    /// Reads our certificate chain and key again (PEM files) and presents
    /// them from the next handshake on, every listener and client of this
    /// material at once; on any error (unreadable, not matching) the
    /// current ones stay. Returns the new subject.
    pub fn reload(&self, chain: &Path, key: &Path) -> Result<DistinguishedName, TlsError> {
        let chain_certs = read_certificates(chain)?;
        let leaf = chain_certs.first().ok_or_else(|| file_error(chain, &"no certificate"))?;
        let (_, parsed) = x509_parser::parse_x509_certificate(leaf.as_ref()).map_err(|e| file_error(chain, &e))?;
        let subject = DistinguishedName::from_x509(parsed.subject()).map_err(|e| file_error(chain, &e))?;
        let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| file_error(key, &e))?;
        let fresh = certified(chain_certs, &key_der)?;
        *self.own.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(fresh);
        Ok(subject)
    }

    /// The server side: our certificate, client certificates asked for and
    /// judged after the handshake by the returned [`ServerTrust`].
    pub fn server(&self) -> Result<(Arc<rustls::ServerConfig>, ServerTrust), TlsError> {
        let provider = provider();
        let webpki = WebPkiClientVerifier::builder_with_provider(self.anchors.clone(), provider.clone())
            .build()
            .map_err(|e| TlsError::Anchors(e.to_string()))?;
        let verifier = Arc::new(JudgeLater { webpki });
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(VERSIONS)?
            .with_client_cert_verifier(verifier)
            .with_cert_resolver(self.own.clone());
        let trust =
            ServerTrust { anchors: self.anchors.clone(), revocation: self.revocation.clone(), trusted: Arc::default() };
        Ok((server_side(config), trust))
    }

    /// The server side of HTTPS (the portal, the API), HTTP/1.1, with our
    /// certificate. A client may present a certificate chaining to the trust
    /// anchors (the pharmacy software's organisation certificate, which the
    /// API judges again with [`ServerTrust::judge`]) or to `card_anchors`
    /// (the CPS CA, PEM: a card, through the workstation's card software);
    /// a browser offers only such certificates, a client without one goes on
    /// unauthenticated, and a certificate that chains to neither ends the
    /// handshake.
    pub fn web_server(&self, card_anchors: Option<&str>) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let mut roots = (*self.anchors).clone();
        if let Some(pem) = card_anchors {
            roots.roots.extend(roots_from_pem(pem)?.roots);
        }
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
            .allow_unauthenticated()
            .build()
            .map_err(|e| TlsError::Anchors(e.to_string()))?;
        let builder = rustls::ServerConfig::builder_with_provider(provider()).with_protocol_versions(VERSIONS)?;
        let mut config = builder.with_client_cert_verifier(verifier).with_cert_resolver(self.own.clone());
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        // A browser's order is kept: it offers ChaCha20-Poly1305 first on a
        // device without AES instructions, AES-128-GCM first elsewhere.
        Ok(Arc::new(config))
    }

    /// The client side for a named host: presents our certificate and
    /// accepts only servers chaining to the anchors, for the name dialled.
    pub fn client(&self) -> Result<Arc<rustls::ClientConfig>, TlsError> {
        let provider = provider();
        let verifier = WebPkiServerVerifier::builder_with_provider(self.anchors.clone(), provider.clone())
            .build()
            .map_err(|e| TlsError::Anchors(e.to_string()))?;
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(VERSIONS)?
            .with_webpki_verifier(verifier)
            .with_client_cert_resolver(self.own.clone());
        Ok(Arc::new(config))
    }

    /// The client side between operators: presents our certificate and
    /// accepts a server whose chain reaches the anchors, whatever host name it
    /// carries: in the trust space an operator is named by its certificate DN,
    /// which the caller compares with the liste blanche after the handshake
    /// ([`subject_of`]).
    pub fn trust_space_client(&self) -> Result<Arc<rustls::ClientConfig>, TlsError> {
        let provider = provider();
        let verifier = Arc::new(ChainOnly {
            anchors: self.anchors.clone(),
            revocation: self.revocation.clone(),
            provider: provider.clone(),
        });
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(VERSIONS)?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_client_cert_resolver(self.own.clone());
        Ok(Arc::new(config))
    }
}

/// The CAs of a PEM file (at least one).
fn roots_from_pem(pem: &str) -> Result<RootCertStore, TlsError> {
    let mut store = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        store.add(cert.map_err(|e| TlsError::Anchors(e.to_string()))?).map_err(|e| TlsError::Anchors(e.to_string()))?;
    }
    if store.is_empty() {
        return Err(TlsError::Anchors("no trust anchor".into()));
    }
    Ok(store)
}

/// ring's suites, AES-128-GCM first: offered first as a client, chosen
/// first by the mail servers (whatever the client's order, see
/// [`server_side`]).
/// Its handshake hashes with SHA-256, which x86 (SHA-NI) and ARMv8 compute
/// in hardware, where SHA-384 is software: with a handshake per message
/// (SMTP between operators), 7-11 % more messages a second on the bench
/// machine. Both are suites of the référentiel (AES-128-GCM-SHA256 and
/// AES-256-GCM-SHA384), and TLS_AES_128_GCM_SHA256 is the one every TLS 1.3
/// peer must implement (RFC 8446 §9.1).
fn provider() -> Arc<CryptoProvider> {
    let mut provider = rustls::crypto::ring::default_provider();
    provider.cipher_suites.sort_by_key(|suite| match suite.suite() {
        CipherSuite::TLS13_AES_128_GCM_SHA256
        | CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
        | CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 => 0,
        _ => 1,
    });
    Arc::new(provider)
}

/// A server configuration that picks the suite in [`provider`]'s order, not
/// the client's (OpenSSL's clients, Postfix among them, put AES-256 first):
/// for SMTP and IMAP, whose peers and clients run on machines with AES
/// instructions. It sends rustls's two TLS 1.3 session tickets after each
/// handshake: a client that opens a connection while another is under way
/// (a peer operator's parallel deliveries) resumes with the second one. One
/// ticket was measured slower with 200 clients (bench README, "One session
/// ticket per handshake").
fn server_side(mut config: rustls::ServerConfig) -> Arc<rustls::ServerConfig> {
    config.ignore_client_order = true;
    Arc::new(config)
}

/// The subject DN of the first certificate of a presented chain.
pub fn subject_of(presented: Option<&[CertificateDer<'_>]>) -> Option<DistinguishedName> {
    let end_entity = presented?.first()?;
    let (_, cert) = x509_parser::parse_x509_certificate(end_entity.as_ref()).ok()?;
    DistinguishedName::from_x509(cert.subject()).ok()
}

/// Verifies a server's chain against the anchors (serverAuth usage, validity
/// dates, signatures) and its handshake signatures; no host name check.
#[derive(Debug)]
struct ChainOnly {
    anchors: Arc<RootCertStore>,
    revocation: Arc<Revocation>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let crls = self.revocation.current();
        verify_chain(&self.anchors, &crls, end_entity, intermediates, now, webpki::KeyUsage::server_auth())
            .map_err(|e| rustls::Error::General(format!("untrusted server certificate: {e}")))?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

/// Judges client certificates after the handshake.
#[derive(Clone, Debug)]
pub struct ServerTrust {
    anchors: Arc<RootCertStore>,
    revocation: Arc<Revocation>,
    /// Chains found trusted lately (see [`verdicts`]).
    trusted: Arc<TrustedChains>,
}

impl ServerTrust {
    /// Judges client chains against these anchors (PEM), outside TLS: a CPS
    /// certificate presented to the API.
    pub fn from_anchors_pem(anchors: &str) -> Result<Self, TlsError> {
        Ok(Self { anchors: Arc::new(roots_from_pem(anchors)?), revocation: Revocation::new(), trusted: Arc::default() })
    }

    /// The verdict on a chain handed over as DER bytes, leaf first (as the
    /// HTTPS listener hands it to the routes).
    pub fn judge_der(&self, chain: &[Vec<u8>]) -> PeerCertificate {
        let chain: Vec<CertificateDer<'_>> = chain.iter().map(|c| CertificateDer::from(c.as_slice())).collect();
        self.judge(Some(&chain))
    }

    /// The verdict on the chain a peer presented (`peer_certificates()` of the
    /// finished handshake). A chain found trusted lately is not verified
    /// again while the verdict holds ([`verdicts`]).
    pub fn judge(&self, presented: Option<&[CertificateDer<'_>]>) -> PeerCertificate {
        let Some(chain @ [end_entity, intermediates @ ..]) = presented else {
            return PeerCertificate::Missing;
        };
        let (generation, crls) = self.revocation.in_force();
        let now = UnixTime::now();
        let key = verdicts::key(chain);
        if let Some(subject) = self.trusted.get(&key, generation, now.as_secs()) {
            return PeerCertificate::Trusted { subject };
        }
        let usage = webpki::KeyUsage::client_auth();
        if let Err(e) = verify_chain(&self.anchors, &crls, end_entity, intermediates, now, usage) {
            return PeerCertificate::Untrusted { reason: e };
        }
        let leaf = match x509_parser::parse_x509_certificate(end_entity.as_ref()) {
            Ok((_, leaf)) => leaf,
            Err(e) => return PeerCertificate::Untrusted { reason: format!("unreadable certificate: {e}") },
        };
        let subject = match DistinguishedName::from_x509(leaf.subject()) {
            Ok(subject) => subject,
            Err(e) => return PeerCertificate::Untrusted { reason: e.to_string() },
        };
        if let Some(expires) = earliest_expiry(&leaf, intermediates) {
            self.trusted.remember(key, generation, now.as_secs(), expires, subject.clone());
        }
        PeerCertificate::Trusted { subject }
    }
}

/// The earliest end of validity of `leaf` and `intermediates`, in Unix
/// seconds; None if one does not read (the verdict is then not kept).
fn earliest_expiry(
    leaf: &x509_parser::certificate::X509Certificate<'_>,
    intermediates: &[CertificateDer<'_>],
) -> Option<u64> {
    let not_after = |cert: &x509_parser::certificate::X509Certificate<'_>| {
        u64::try_from(cert.validity().not_after.timestamp()).ok()
    };
    intermediates.iter().try_fold(not_after(leaf)?, |earliest, der| {
        let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref()).ok()?;
        Some(earliest.min(not_after(&cert)?))
    })
}

/// Verifies that `end_entity` chains to `anchors` through `intermediates`
/// for `usage` at `now`, and that no CRL in force revokes any of the chain
/// (`crate::revocation`'s policy); the reason, in words, otherwise.
fn verify_chain(
    anchors: &RootCertStore,
    crls: &[Crl],
    end_entity: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
    now: UnixTime,
    usage: webpki::KeyUsage,
) -> Result<(), String> {
    let cert = webpki::EndEntityCert::try_from(end_entity).map_err(|e| format!("unreadable certificate: {e}"))?;
    let lists = crate::revocation::lists(crls);
    let algorithms = provider().signature_verification_algorithms.all;
    cert.verify_for_usage(
        algorithms,
        &anchors.roots,
        intermediates,
        now,
        usage,
        crate::revocation::options(&lists),
        None,
    )
    .map(|_| ())
    .map_err(|e| match e {
        webpki::Error::CertRevoked => "invalid peer certificate: revoked (CRL)".to_string(),
        e => format!("invalid peer certificate: {e:?}"),
    })
}

/// Offers client authentication, defers the chain verdict to
/// [`ServerTrust::judge`], and verifies the handshake signatures at once.
#[derive(Debug)]
struct JudgeLater {
    webpki: Arc<dyn ClientCertVerifier>,
}

impl ClientCertVerifier for JudgeLater {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[rustls::DistinguishedName] {
        self.webpki.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        // Judged after the handshake, so that the SMTP reply can say why.
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}
