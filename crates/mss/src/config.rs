//! The data directory and its configuration file, `mss.toml`.
//!
//! Layout of a data directory:
//! ```text
//! mss.toml          this configuration
//! ports.json        the addresses actually listened on (while `mss serve` runs)
//! tls/server.pem    our operator certificate chain; tls/server.key (0600)
//! tls/ca.pem        the trust anchors: CAs whose certificates we accept
//! ca/               the development CA, when `mss init` made its own
//! mss.sqlite3       metadata (SQLite, WAL)
//! blobs/            message bodies by BLAKE3 hash
//! ```
//! Paths inside `mss.toml` are relative to the data directory.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{CliError, failed, usage};

pub const CONFIG_FILE: &str = "mss.toml";
pub const PORTS_FILE: &str = "ports.json";
pub const DEFAULT_DATA_DIR: &str = "mss-data";

/// `mss.toml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The mail domain this operator serves.
    pub domain: String,
    pub listen: Listen,
    pub tls: Tls,
    #[serde(default)]
    pub smtp: Smtp,
    #[serde(default)]
    pub imap: Imap,
    #[serde(default)]
    pub lifecycle: Lifecycle,
    #[serde(default)]
    pub psc: Psc,
    #[serde(default)]
    pub cps: Cps,
}

/// CPS card logins.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cps {
    /// The CPS CA certificates cards must chain to (relative to the data
    /// directory); absent: CPS login is off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust_anchors: Option<PathBuf>,
}

/// Where `mss init` puts the development CPS CA.
pub const CPS_CA_DIR: &str = "ca-cps";

/// Pro Santé Connect: the real provider when `issuer` is set, otherwise
/// the embedded simulator (served under `/psc-sim` on the HTTP listener).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Psc {
    /// The real PSC issuer URL; absent: the simulator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    pub client_id: String,
    pub client_secret: String,
    /// Simulator only: the test identities, relative to the data directory.
    #[serde(default = "default_identities")]
    pub identities: PathBuf,
    /// How browsers reach this server (redirect URI base); default: the
    /// HTTP listen address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
}

/// The simulator's identities file, written by `mss init`.
pub const IDENTITIES_FILE: &str = "psc-identities.toml";

fn default_identities() -> PathBuf {
    PathBuf::from(IDENTITIES_FILE)
}

impl Default for Psc {
    fn default() -> Self {
        Self {
            issuer: None,
            client_id: "mss".into(),
            client_secret: "development".into(),
            identities: default_identities(),
            public_url: None,
        }
    }
}

/// Mailbox life cycle and identity settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lifecycle {
    /// Time given to the ANS to validate a new mailbox, in seconds (24 h).
    #[serde(default = "default_validation_delay")]
    pub validation_delay_seconds: u64,
    /// The terms of use every creation must accept.
    #[serde(default = "default_cgu_version")]
    pub cgu_version: String,
    #[serde(default = "default_cgu_url")]
    pub cgu_url: String,
    /// The ANS directory API (FHIR base URL) mailboxes are published to;
    /// absent: the embedded simulator under `/ans-sim`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ans_url: Option<String>,
    /// Development ANS: national ids and FINESS it refuses as unknown.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ans_unknown_national_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ans_unknown_finess: Vec<String>,
    /// Days the audit trail is kept (MSSanté: 6 months).
    #[serde(default = "default_audit_retention")]
    pub audit_retention_days: u64,
    /// Days a deleted mailbox keeps its mail before it is emptied.
    #[serde(default = "default_deleted_retention")]
    pub deleted_retention_days: u64,
}

fn default_deleted_retention() -> u64 {
    30
}

fn default_audit_retention() -> u64 {
    183
}

fn default_validation_delay() -> u64 {
    24 * 3600
}

fn default_cgu_version() -> String {
    "2026-01".into()
}

fn default_cgu_url() -> String {
    "/cgu".into()
}

impl Default for Lifecycle {
    fn default() -> Self {
        Self {
            validation_delay_seconds: default_validation_delay(),
            ans_url: None,
            cgu_version: default_cgu_version(),
            cgu_url: default_cgu_url(),
            ans_unknown_national_ids: Vec::new(),
            ans_unknown_finess: Vec::new(),
            audit_retention_days: default_audit_retention(),
            deleted_retention_days: default_deleted_retention(),
        }
    }
}

/// IMAP settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Imap {
    /// Largest message APPEND accepts, in bytes (APPENDLIMIT).
    #[serde(default = "default_max_append_bytes")]
    pub max_append_bytes: u64,
    /// Development only: LOGIN and AUTHENTICATE PLAIN with a bearer token
    /// (from `mss token`) as password, for clients without OAuth (mbsync,
    /// neomutt).
    #[serde(default)]
    pub plain_with_token: bool,
}

fn default_max_append_bytes() -> u64 {
    25 * 1024 * 1024
}

impl Default for Imap {
    fn default() -> Self {
        Self { max_append_bytes: default_max_append_bytes(), plain_with_token: false }
    }
}

/// SMTP settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Smtp {
    /// Largest message accepted, in bytes (SIZE).
    pub max_message_bytes: usize,
    /// Whether messages submitted by our users are also kept in their Sent.
    #[serde(default = "default_sent_copy")]
    pub sent_copy: bool,
    /// Days a message may wait in the queue before it is bounced.
    #[serde(default = "default_queue_expiry_days")]
    pub queue_expiry_days: u64,
    /// Static routes: recipient domain -> SMTP address of its operator
    /// (tests and private deployments; MX lookup otherwise).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub routes: BTreeMap<String, SocketAddr>,
    /// Development only: accept SASL PLAIN on submission with a bearer token
    /// (from `mss token`) as password, for clients without OAuth (swaks).
    #[serde(default)]
    pub plain_with_token: bool,
    /// Look up MX records for domains without a static route.
    #[serde(default = "default_mx_lookup")]
    pub mx_lookup: bool,
    /// Name servers for MX lookups; empty: the system's (/etc/resolv.conf).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns_servers: Vec<SocketAddr>,
    /// Port of the peers' MTAs found by MX lookup.
    #[serde(default = "default_mx_port")]
    pub mx_port: u16,
}

fn default_mx_lookup() -> bool {
    true
}

fn default_mx_port() -> u16 {
    25
}

fn default_sent_copy() -> bool {
    true
}

fn default_queue_expiry_days() -> u64 {
    5
}

impl Default for Smtp {
    fn default() -> Self {
        Self {
            max_message_bytes: 25 * 1024 * 1024,
            sent_copy: default_sent_copy(),
            queue_expiry_days: default_queue_expiry_days(),
            routes: BTreeMap::new(),
            plain_with_token: false,
            mx_lookup: default_mx_lookup(),
            dns_servers: Vec::new(),
            mx_port: default_mx_port(),
        }
    }
}

/// Listen addresses; port 0 picks a free port (see `ports.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Listen {
    pub smtp: SocketAddr,
    pub submission: SocketAddr,
    pub imap: SocketAddr,
    pub http: SocketAddr,
    /// Submission with implicit TLS (RFC 8314, port 465), if wanted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submissions: Option<SocketAddr>,
    /// The trust-space MTA with implicit TLS, if wanted (peers that do not
    /// use STARTTLS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtps: Option<SocketAddr>,
    /// IMAP with implicit TLS (RFC 8314, port 993), if wanted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imaps: Option<SocketAddr>,
    /// The portal and the API over HTTPS with the operator certificate, if
    /// wanted; the `http` listener then sends portal pages there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub https: Option<SocketAddr>,
}

impl Default for Listen {
    fn default() -> Self {
        let at = |port| SocketAddr::from(([127, 0, 0, 1], port));
        Self {
            smtp: at(2525),
            submission: at(5870),
            imap: at(1143),
            http: at(8080),
            submissions: None,
            smtps: None,
            imaps: None,
            https: None,
        }
    }
}

/// Certificates, relative to the data directory.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    pub certificate: PathBuf,
    pub key: PathBuf,
    /// PEM file of the CAs that peer certificates must chain to.
    pub trust_anchors: PathBuf,
}

/// A data directory: where it is and what its configuration says.
#[derive(Debug, Clone)]
pub struct DataDir {
    pub path: PathBuf,
    pub config: Config,
    /// `config.domain`, validated.
    pub domain: mss_core::Domain,
}

impl DataDir {
    /// Loads `DIR/mss.toml`; a missing file is a usage error pointing at
    /// `mss init`.
    pub fn load(path: &Path) -> Result<Self, CliError> {
        let file = path.join(CONFIG_FILE);
        if !file.exists() {
            return Err(usage(
                "data-dir",
                format!("{} is not an mss data directory (no {CONFIG_FILE}); run `mss init` first", path.display()),
            ));
        }
        let text = std::fs::read_to_string(&file).map_err(|e| failed(file.display(), e))?;
        let config: Config = toml::from_str(&text).map_err(|e| failed(file.display(), e.message()))?;
        let domain = config.domain.parse().map_err(|e| failed(file.display(), e))?;
        Ok(Self { path: path.to_path_buf(), config, domain })
    }

    /// A path from the configuration, resolved against the data directory.
    pub fn resolve(&self, relative: &Path) -> PathBuf {
        self.path.join(relative)
    }

    /// The embedded store of this data directory.
    pub fn store_config(&self) -> mss_store::StoreConfig {
        mss_store::StoreConfig::Embedded { dir: self.path.clone() }
    }

    /// Opens the store (applying migrations).
    pub async fn open_store(&self) -> Result<mss_store::Store, CliError> {
        Ok(mss_store::Store::open(&self.store_config()).await?)
    }
}
