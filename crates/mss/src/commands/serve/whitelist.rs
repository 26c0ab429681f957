//! The live liste blanche: `mss serve` downloads the ANS file (and its
//! checksum, when `[whitelist] checksum_url` is set) every
//! `refresh_seconds` and imports it (`mss_ops::whitelist::import_bytes`).
//! A download that fails, a file that does not parse or does not match its
//! checksum changes nothing: the last good list stays, and the failure is
//! logged and traced. What an import changed (domains added, removed, with
//! other operator DNs) is logged and traced as `whitelist.refresh`; SMTP
//! reads the list from the store, so it applies at once. Of the nodes
//! sharing a store, the one holding the refresh's lease refreshes
//! ([`super::cluster::WHITELIST`]).

use std::time::Duration;

use mss_http::HttpClient;
use mss_ops::whitelist;
use mss_store::{NewAuditEntry, Store};
use mss_trust::liste_blanche::MAX_FILE_BYTES;

use super::cluster::{Holder, WHITELIST};
use crate::config::DataDir;
use crate::error::{CliError, failed};

/// The largest checksum file read.
const MAX_CHECKSUM_BYTES: u64 = 1024;
/// Time a download may stall between two reads.
const IDLE: Duration = Duration::from_secs(30);

/// Where the list is refreshed from.
pub struct Source {
    url: String,
    checksum_url: Option<String>,
    http: HttpClient,
    every: Duration,
}

impl Source {
    /// The `[whitelist]` of `data`, if it names a URL.
    pub fn of(data: &DataDir) -> Result<Option<Self>, CliError> {
        let config = &data.config.whitelist;
        let Some(url) = config.url.clone() else { return Ok(None) };
        let anchors = match &config.trust_anchors {
            Some(path) => {
                let path = data.resolve(path);
                Some(std::fs::read_to_string(&path).map_err(|e| failed(path.display(), e))?)
            }
            None => None,
        };
        let http = HttpClient::new(anchors.as_deref()).map_err(|e| failed("[whitelist] trust_anchors", e))?;
        let every = Duration::from_secs(config.refresh_seconds);
        Ok(Some(Self { url, checksum_url: config.checksum_url.clone(), http, every }))
    }

    /// Refreshes now, then every period, until the task is dropped; while
    /// another node holds the lease, that node refreshes instead.
    pub async fn run(self, store: Store, holder: Holder) {
        let mut turns = WHITELIST.turns(store.clone(), holder, self.every);
        loop {
            turns.next().await;
            self.refresh(&store).await;
        }
    }

    async fn refresh(&self, store: &Store) {
        let (result, detail) = match self.import(store).await {
            Ok(whitelist::Imported { changes: None, .. }) => {
                tracing::debug!(url = %self.url, "liste blanche unchanged");
                return;
            }
            Ok(whitelist::Imported { changes: Some(changes), entries, generated_at, .. }) => {
                tracing::info!(url = %self.url, entries, %generated_at, %changes, "liste blanche refreshed");
                ("ok".to_string(), format!("generated {generated_at}, {entries} entries: {changes}"))
            }
            Err(why) => {
                tracing::warn!(url = %self.url, error = %why, "liste blanche not refreshed: the last good list stays");
                (format!("refused: {why}"), String::new())
            }
        };
        let detail: String = detail.chars().take(2000).collect();
        store.audit.record(NewAuditEntry::now("mss", "whitelist.refresh", &self.url, result, detail)).await;
    }

    async fn import(&self, store: &Store) -> Result<whitelist::Imported, String> {
        let xml = self.download(&self.url, MAX_FILE_BYTES as u64).await?;
        let checksum = match &self.checksum_url {
            Some(url) => {
                Some(String::from_utf8_lossy(&self.download(url, MAX_CHECKSUM_BYTES).await?).trim().to_string())
            }
            None => None,
        };
        whitelist::import_bytes(store, &xml, checksum.as_deref()).await.map_err(|e| e.to_string())
    }

    async fn download(&self, url: &str, max: u64) -> Result<Vec<u8>, String> {
        let mut bytes = Vec::new();
        self.http.download(url, &mut bytes, max, IDLE, &|_| {}).await.map_err(|e| format!("{url}: {e}"))?;
        Ok(bytes)
    }
}
