//! The development PKI: a root CA standing in for IGC-Santé ("IGC-Santé TEST")
//! and the operator certificates it issues.
//!
//! An operator certificate is both a TLS server and a TLS client certificate:
//! operators present the same "SERV SSL" certificate when they receive mail and
//! when they deliver it. Its subject DN is what the other operators' liste
//! blanche names, so it is built in the ANS shape
//! `CN=<host>,OU=<id>,O=<organisation>,ST=<department>,C=FR`.
//!
//! Keys are ECDSA P-256. Key files are created with mode 0600 and existing
//! files are never overwritten.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName as RcgenName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
    KeyPair, KeyUsagePurpose, SanType,
};
use time::{Duration, OffsetDateTime};

use crate::dn::{DistinguishedName, DnError};

/// File names of a CA directory made by [`CertificateAuthority::write_to`].
pub const CA_CERT_FILE: &str = "ca.pem";
pub const CA_KEY_FILE: &str = "ca.key";

const CA_VALIDITY_DAYS: i64 = 3650;
const LEAF_VALIDITY_DAYS: i64 = 825;

/// Errors of the development PKI.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("pki: {0}")]
    Rcgen(#[from] rcgen::Error),
    #[error("pki: {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("pki: {0} already exists, refusing to overwrite it")]
    Exists(PathBuf),
    #[error("pki: {0} is not a PEM certificate")]
    NotACertificate(String),
    #[error("pki: {0}")]
    Name(#[from] DnError),
}

/// Who an operator certificate names.
#[derive(Debug, Clone)]
pub struct OperatorIdentity {
    /// Host name of the operator's MTA: the CN and the DNS subjectAltName.
    pub host: String,
    /// `O`: the operator's legal name.
    pub organisation: String,
    /// `OU`: the operator's SIRET or FINESS, as in IGC-Santé certificates.
    pub unit: String,
    /// `ST`: department, written as the ANS does (`Paris (75)`).
    pub state: String,
}

/// A root CA able to issue operator certificates.
pub struct CertificateAuthority {
    cert_pem: String,
    key_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

/// Who a test CPS card belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpsHolder {
    /// `8` + RPPS or `0` + ADELI.
    pub national_id: String,
    pub first_name: String,
    pub last_name: String,
    pub finess: Option<String>,
}

/// A certificate and its private key, PEM-encoded.
#[derive(Debug, Clone)]
pub struct IssuedCertificate {
    /// The leaf certificate followed by the issuing CA certificate.
    pub chain_pem: String,
    pub key_pem: String,
    pub subject: DistinguishedName,
}

impl CertificateAuthority {
    /// Makes a new self-signed root named `CN=<common_name>,OU=IGC-SANTE TEST,...`.
    pub fn generate(common_name: &str, organisation: &str) -> Result<Self, PkiError> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::default();
        // The default params carry a CN already; start from an empty name so
        // that the RDNs are in the order pushed (least specific first).
        params.distinguished_name = RcgenName::new();
        params.distinguished_name.push(DnType::CountryName, "FR");
        params.distinguished_name.push(DnType::OrganizationName, organisation);
        params.distinguished_name.push(DnType::OrganizationalUnitName, "IGC-SANTE TEST");
        params.distinguished_name.push(DnType::CommonName, common_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::hours(1);
        params.not_after = now + Duration::days(CA_VALIDITY_DAYS);
        let cert = params.self_signed(&key)?;
        let cert_pem = cert.pem();
        let key_pem = key.serialize_pem();
        Ok(Self { cert_pem, key_pem, issuer: Issuer::new(params, key) })
    }

    /// Loads `ca.pem` and `ca.key` from a directory made by [`Self::write_to`].
    pub fn load(dir: &Path) -> Result<Self, PkiError> {
        let cert_pem = read(&dir.join(CA_CERT_FILE))?;
        let key_pem = read(&dir.join(CA_KEY_FILE))?;
        let key = KeyPair::from_pem(&key_pem)?;
        let issuer = Issuer::from_ca_cert_pem(&cert_pem, key)?;
        Ok(Self { cert_pem, key_pem, issuer })
    }

    /// Writes `ca.pem` (0644) and `ca.key` (0600) into `dir`, creating it;
    /// refuses if either file exists.
    pub fn write_to(&self, dir: &Path) -> Result<(), PkiError> {
        create_dir(dir)?;
        write_new(&dir.join(CA_CERT_FILE), &self.cert_pem, 0o644)?;
        write_new(&dir.join(CA_KEY_FILE), &self.key_pem, 0o600)
    }

    /// The root certificate, PEM.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The root's subject DN.
    pub fn subject(&self) -> Result<DistinguishedName, PkiError> {
        subject_of_pem(&self.cert_pem)
    }

    /// Issues an operator (server + client) certificate, for its host and
    /// the loopback names (a development CA's certificates are for tests
    /// and laptops).
    pub fn issue_operator(&self, who: &OperatorIdentity) -> Result<IssuedCertificate, PkiError> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::default();
        params.distinguished_name = RcgenName::new();
        params.distinguished_name.push(DnType::CountryName, "FR");
        params.distinguished_name.push(DnType::StateOrProvinceName, who.state.as_str());
        params.distinguished_name.push(DnType::OrganizationName, who.organisation.as_str());
        params.distinguished_name.push(DnType::OrganizationalUnitName, who.unit.as_str());
        params.distinguished_name.push(DnType::CommonName, who.host.as_str());
        // The host, and the loopback names a developer's mail client dials
        // (neomutt and mbsync check the name against the certificate).
        params.subject_alt_names = vec![
            SanType::DnsName(who.host.clone().try_into()?),
            SanType::DnsName("localhost".to_string().try_into()?),
            SanType::IpAddress(std::net::IpAddr::from([127, 0, 0, 1])),
            SanType::IpAddress(std::net::IpAddr::from(std::net::Ipv6Addr::LOCALHOST)),
        ];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
        self.sign_leaf(params, key)
    }

    /// Issues a test CPS authentication certificate for a health
    /// professional: `CN` the national id, `GIVENNAME`/`SURNAME` the names,
    /// `OU` the FINESS of the structure when given; clientAuth usage.
    pub fn issue_cps(&self, holder: &CpsHolder) -> Result<IssuedCertificate, PkiError> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::default();
        params.distinguished_name = RcgenName::new();
        params.distinguished_name.push(DnType::CountryName, "FR");
        params.distinguished_name.push(DnType::OrganizationName, "CPS TEST");
        if let Some(finess) = &holder.finess {
            params.distinguished_name.push(DnType::OrganizationalUnitName, finess.as_str());
        }
        params.distinguished_name.push(DnType::CustomDnType(vec![2, 5, 4, 4]), holder.last_name.as_str());
        params.distinguished_name.push(DnType::CustomDnType(vec![2, 5, 4, 42]), holder.first_name.as_str());
        params.distinguished_name.push(DnType::CommonName, holder.national_id.as_str());
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.sign_leaf(params, key)
    }

    /// Signs a leaf certificate (not a CA, valid from an hour ago) for `key`.
    fn sign_leaf(&self, mut params: CertificateParams, key: KeyPair) -> Result<IssuedCertificate, PkiError> {
        params.is_ca = IsCa::ExplicitNoCa;
        params.use_authority_key_identifier_extension = true;
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::hours(1);
        params.not_after = now + Duration::days(LEAF_VALIDITY_DAYS);
        let cert = params.signed_by(&key, &self.issuer)?;
        let leaf_pem = cert.pem();
        let subject = subject_of_pem(&leaf_pem)?;
        Ok(IssuedCertificate {
            chain_pem: format!("{leaf_pem}{}", self.cert_pem),
            key_pem: key.serialize_pem(),
            subject,
        })
    }

    /// The private key, PEM (tests that need to sign as the CA).
    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }
}

impl IssuedCertificate {
    /// Writes `<stem>.pem` (0644) and `<stem>.key` (0600) into `dir`, creating
    /// it; refuses if either exists. Returns the two paths.
    pub fn write_to(&self, dir: &Path, stem: &str) -> Result<(PathBuf, PathBuf), PkiError> {
        create_dir(dir)?;
        let cert_path = dir.join(format!("{stem}.pem"));
        let key_path = dir.join(format!("{stem}.key"));
        for path in [&cert_path, &key_path] {
            if path.exists() {
                return Err(PkiError::Exists(path.clone()));
            }
        }
        write_new(&key_path, &self.key_pem, 0o600)?;
        write_new(&cert_path, &self.chain_pem, 0o644)?;
        Ok((cert_path, key_path))
    }
}

/// The subject DN of the first certificate in a PEM text.
pub fn subject_of_pem(pem: &str) -> Result<DistinguishedName, PkiError> {
    let (_, block) =
        x509_parser::pem::parse_x509_pem(pem.as_bytes()).map_err(|e| PkiError::NotACertificate(e.to_string()))?;
    let cert = block.parse_x509().map_err(|e| PkiError::NotACertificate(e.to_string()))?;
    Ok(DistinguishedName::from_x509(cert.subject())?)
}

/// Each certificate of a PEM text: its subject (as written) and the end of
/// its validity (`notAfter`, unix seconds), in order.
pub fn expiries_of_pem(pem: &str) -> Result<Vec<(String, i64)>, PkiError> {
    let mut out = Vec::new();
    for block in x509_parser::pem::Pem::iter_from_buffer(pem.as_bytes()) {
        let block = block.map_err(|e| PkiError::NotACertificate(e.to_string()))?;
        if block.label != "CERTIFICATE" {
            continue;
        }
        let cert = block.parse_x509().map_err(|e| PkiError::NotACertificate(e.to_string()))?;
        out.push((cert.subject().to_string(), cert.validity().not_after.timestamp()));
    }
    Ok(out)
}

/// The SHA-256 of the first certificate's public key (SubjectPublicKeyInfo),
/// hex: a TLSA `3 1 1` record's data (RFC 6698).
pub fn spki_sha256_of_pem(pem: &str) -> Result<String, PkiError> {
    use sha2::{Digest, Sha256};
    let (_, block) =
        x509_parser::pem::parse_x509_pem(pem.as_bytes()).map_err(|e| PkiError::NotACertificate(e.to_string()))?;
    let cert = block.parse_x509().map_err(|e| PkiError::NotACertificate(e.to_string()))?;
    Ok(Sha256::digest(cert.public_key().raw).iter().map(|b| format!("{b:02x}")).collect())
}

fn read(path: &Path) -> Result<String, PkiError> {
    fs::read_to_string(path).map_err(|source| PkiError::Io { path: path.to_path_buf(), source })
}

fn create_dir(dir: &Path) -> Result<(), PkiError> {
    fs::create_dir_all(dir).map_err(|source| PkiError::Io { path: dir.to_path_buf(), source })
}

/// Creates `path` with `mode`, writes and fsyncs it; never overwrites.
fn write_new(path: &Path, content: &str, mode: u32) -> Result<(), PkiError> {
    use std::os::unix::fs::OpenOptionsExt;
    let io = |source| PkiError::Io { path: path.to_path_buf(), source };
    let mut file = OpenOptions::new().write(true).create_new(true).mode(mode).open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists { PkiError::Exists(path.to_path_buf()) } else { io(e) }
    })?;
    file.write_all(content.as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)
}
