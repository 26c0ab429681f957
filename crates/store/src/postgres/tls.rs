//! Encrypted connections to PostgreSQL: with a CA (`PostgresConfig::ca_pem`)
//! every connection, the pool's and the change listener's, is TLS 1.2 or
//! 1.3 (`sslmode=require` whatever the connection string says) and the
//! server's certificate must chain to that CA and name the host connected
//! to: a database reached through anything but the expected server is
//! refused before a password or a row crosses. Without a CA nothing is
//! encrypted (`sslmode=disable`), and a connection string asking for TLS
//! is refused rather than left unverified.

use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

use super::PostgresConfig;
use crate::StoreError;

/// What connects to PostgreSQL: the TLS settings, applied to `pg`.
pub(super) fn connector(
    config: &PostgresConfig,
    pg: &mut tokio_postgres::Config,
) -> Result<MakeRustlsConnect, StoreError> {
    let mut roots = rustls::RootCertStore::empty();
    match &config.ca_pem {
        Some(pem) => {
            for certificate in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                let certificate = certificate
                    .map_err(|e| StoreError::Invalid(format!("PostgreSQL CA: not a PEM certificate ({e})")))?;
                roots
                    .add(certificate)
                    .map_err(|e| StoreError::Invalid(format!("PostgreSQL CA: unusable certificate ({e})")))?;
            }
            if roots.is_empty() {
                return Err(StoreError::Invalid("PostgreSQL CA: no certificate in it".into()));
            }
            pg.ssl_mode(SslMode::Require);
        }
        None if pg.get_ssl_mode() == SslMode::Require => {
            return Err(StoreError::Invalid(
                "the PostgreSQL connection string asks for TLS (sslmode=require): give the CA that signs the \
                 server's certificate ([store] postgres_ca_file)"
                    .into(),
            ));
        }
        None => {
            pg.ssl_mode(SslMode::Disable);
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::Invalid(format!("TLS to PostgreSQL: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(tls))
}
