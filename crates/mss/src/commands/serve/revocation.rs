//! Revocation in `mss serve`: the CRLs of `[tls] crl_files` and
//! `[tls] crl_urls` are put in force at start (files, and the last valid
//! download of each URL kept in `crls/`), then read and downloaded again
//! every `crl_refresh_seconds`, without a restart. A CRL is used only once
//! checked (`mss_trust::revocation`: signed by a trust anchor); a source
//! that fails keeps its last valid CRL, and a CRL past its `nextUpdate` is
//! kept and said stale. The policy itself is `mss_trust::revocation`'s.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use mss_http::HttpClient;
use mss_store::now_unix;
use mss_trust::revocation::MAX_CRL_BYTES;
use mss_trust::{Crl, Revocation};
use rustls_pki_types::CertificateDer;
use tokio::task::JoinHandle;

use super::mail::Tls;
use crate::config::DataDir;
use crate::error::{CliError, failed};

/// Where the last valid download of each CRL URL is kept.
const CACHE_DIR: &str = "crls";
/// Time a download may stall between two reads.
const IDLE: Duration = Duration::from_secs(30);

/// The CRLs' sources and the last valid CRL of each.
struct Sources {
    files: Vec<PathBuf>,
    urls: Vec<String>,
    cache: PathBuf,
    http: HttpClient,
    anchors: Arc<Vec<CertificateDer<'static>>>,
    revocation: Arc<Revocation>,
    /// By source (a path or a URL).
    held: BTreeMap<String, Crl>,
}

/// Puts the configured CRLs in force and starts refreshing them; says so
/// when none is configured.
pub async fn start(data: &DataDir, tls: &Tls, tasks: &mut Vec<JoinHandle<()>>) -> Result<(), CliError> {
    let config = &data.config.tls;
    if config.crl_files.is_empty() && config.crl_urls.is_empty() {
        tracing::warn!(
            "no CRL configured ([tls] crl_files, crl_urls): peer certificates are not checked for revocation"
        );
        return Ok(());
    }
    let anchors_path = data.resolve(&config.trust_anchors);
    let anchors_pem = std::fs::read_to_string(&anchors_path).map_err(|e| failed(anchors_path.display(), e))?;
    let cache = data.resolve(std::path::Path::new(CACHE_DIR));
    let mut sources = Sources {
        files: config.crl_files.iter().map(|f| data.resolve(f)).collect(),
        urls: config.crl_urls.clone(),
        cache,
        http: HttpClient::new(Some(&anchors_pem)).map_err(|e| failed("[tls] crl_urls", e))?,
        anchors: tls.material.anchor_certs.clone(),
        revocation: tls.material.revocation.clone(),
        held: BTreeMap::new(),
    };
    sources.load_cached();
    sources.refresh().await;
    let every = Duration::from_secs(config.crl_refresh_seconds);
    tasks.push(tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            sources.refresh().await;
        }
    }));
    Ok(())
}

impl Sources {
    /// The cached download of each URL, as a start.
    fn load_cached(&mut self) {
        for url in self.urls.clone() {
            if let Ok(bytes) = std::fs::read(self.cached(&url)) {
                self.take(&url, &bytes, false);
            }
        }
    }

    /// Reads the files and downloads the URLs again; puts what holds in force.
    async fn refresh(&mut self) {
        for path in self.files.clone() {
            let source = path.display().to_string();
            match std::fs::read(&path) {
                Ok(bytes) => self.take(&source, &bytes, false),
                Err(e) => tracing::warn!(%source, error = %e, "CRL unreadable: its last valid copy stays"),
            }
        }
        for url in self.urls.clone() {
            let mut bytes = Vec::new();
            match self.http.download(&url, &mut bytes, MAX_CRL_BYTES as u64, IDLE, &|_| {}).await {
                Ok(_) => self.take(&url, &bytes, true),
                Err(e) => tracing::warn!(source = %url, error = %e, "CRL not downloaded: its last valid copy stays"),
            }
        }
        let now = now_unix();
        for (source, crl) in &self.held {
            if crl.is_stale(now) {
                tracing::warn!(%source, issuer = %crl.issuer, "CRL past its nextUpdate: kept until a newer one is obtained");
            }
        }
        self.revocation.replace(self.held.values().cloned().collect());
    }

    /// Holds the CRL of `source` read from `bytes` if it checks, keeping a
    /// downloaded one in the cache; the previous one stays otherwise.
    fn take(&mut self, source: &str, bytes: &[u8], downloaded: bool) {
        match Crl::read(bytes, &self.anchors) {
            Ok(crl) => {
                let changed = self
                    .held
                    .get(source)
                    .is_none_or(|old| old.revoked != crl.revoked || old.next_update != crl.next_update);
                if changed {
                    tracing::info!(%source, issuer = %crl.issuer, revoked = crl.revoked, "CRL in force");
                }
                if downloaded && let Err(e) = self.keep(source, bytes) {
                    tracing::warn!(%source, error = %e, "CRL not cached");
                }
                self.held.insert(source.to_string(), crl);
            }
            Err(e) => tracing::warn!(%source, error = %e, "CRL refused: its last valid copy stays"),
        }
    }

    fn cached(&self, url: &str) -> PathBuf {
        let name = &mss_trust::liste_blanche::sha256_hex(url.as_bytes())[..16];
        self.cache.join(format!("{name}.crl"))
    }

    /// Writes a downloaded CRL to the cache (0600, replaced whole).
    fn keep(&self, url: &str, bytes: &[u8]) -> std::io::Result<()> {
        use std::io::Write;
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&self.cache)?;
        let path = self.cached(url);
        let temporary = path.with_extension("tmp");
        let mut file =
            std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temporary, &path)
    }
}
