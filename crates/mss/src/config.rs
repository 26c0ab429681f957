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
/// Held by the one `mss serve` of a data directory.
pub const LOCK_FILE: &str = "serve.lock";
pub const DEFAULT_DATA_DIR: &str = "mss-data";

/// `mss.toml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `development` or `production`: required, so that nobody runs the
    /// simulators in production without having said so (see [`RunMode`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<RunMode>,
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
    #[serde(default)]
    pub patients: Patients,
    #[serde(default)]
    pub metrics: Metrics,
    #[serde(default, skip_serializing_if = "Whitelist::is_manual")]
    pub whitelist: Whitelist,
    #[serde(default, skip_serializing_if = "Operator::is_empty")]
    pub operator: Operator,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<Account>,
    #[serde(default, skip_serializing_if = "Store::is_embedded")]
    pub store: Store,
}

/// Where metadata and bodies are kept. Without this section, the embedded
/// store in the data directory (SQLite and blob files). With `backend =
/// "postgres"`, several nodes can share one database (and, with `blobs =
/// "s3"`, one bucket).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Store {
    #[serde(default)]
    pub backend: Backend,
    /// Where bodies over 64 KiB go: `files` (the data directory's `blobs/`,
    /// one node) or `s3` (a bucket every node shares).
    #[serde(default)]
    pub blobs: Blobs,
    /// The PostgreSQL connection string, libpq's form or a URL, without the
    /// password (`host=db.internal dbname=mss user=mss`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postgres_url: Option<String>,
    /// A file (mode 0600 or 0400) holding the PostgreSQL password; or
    /// `MSS_POSTGRES_PASSWORD`, which wins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postgres_password_file: Option<PathBuf>,
    /// Connections each node keeps at most.
    #[serde(default = "default_postgres_pool_size")]
    pub postgres_pool_size: usize,
    /// The CA certificates (PEM) that sign the PostgreSQL server's
    /// certificate: connections are then TLS, the server verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postgres_ca_file: Option<PathBuf>,
    /// The S3 server's URL (`https://s3.example:9000`); absent: AWS itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_endpoint: Option<String>,
    /// The region requests are signed for.
    #[serde(default = "default_s3_region")]
    pub s3_region: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_bucket: Option<String>,
    /// Where in the bucket the bodies go (`mss/blobs`); empty: its root.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub s3_prefix: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_access_key_id: Option<String>,
    /// A file (mode 0600 or 0400) holding the secret access key; or
    /// `MSS_S3_SECRET_ACCESS_KEY`, which wins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_secret_access_key_file: Option<PathBuf>,
}

impl Default for Store {
    fn default() -> Self {
        Self {
            backend: Backend::Embedded,
            blobs: Blobs::Files,
            postgres_url: None,
            postgres_password_file: None,
            postgres_pool_size: default_postgres_pool_size(),
            postgres_ca_file: None,
            s3_endpoint: None,
            s3_region: default_s3_region(),
            s3_bucket: None,
            s3_prefix: String::new(),
            s3_access_key_id: None,
            s3_secret_access_key_file: None,
        }
    }
}

/// Where large bodies go.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Blobs {
    #[default]
    Files,
    S3,
}

fn default_s3_region() -> String {
    "us-east-1".into()
}

/// The environment variable that gives the S3 secret access key.
pub const S3_SECRET_ENV: &str = "MSS_S3_SECRET_ACCESS_KEY";

/// The store's backend.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    #[default]
    Embedded,
    Postgres,
}

impl Store {
    fn is_embedded(&self) -> bool {
        self.backend == Backend::Embedded
    }
}

fn default_postgres_pool_size() -> usize {
    16
}

/// The environment variable that gives the PostgreSQL password.
pub const POSTGRES_PASSWORD_ENV: &str = "MSS_POSTGRES_PASSWORD";

/// A second OpenID Connect provider: the pharmacy software vendor's own
/// account system (« Mon Compte Personnel »), which signs in the people who
/// linked their account to their identity after a Pro Santé Connect or CPS
/// login. Without this section in production: none; in development, its
/// simulator (under `/compte-sim`, with the PSC simulator's identities).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Account {
    /// What people call it, on the buttons.
    #[serde(default = "default_account_name")]
    pub name: String,
    /// Its issuer URL (discovery under it); absent: the simulator, in
    /// development only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    #[serde(default = "default_account_client")]
    pub client_id: String,
    /// The client secret, better in `client_secret_file` (0600) or in
    /// `MSS_ACCOUNT_CLIENT_SECRET`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_file: Option<PathBuf>,
}

impl Default for Account {
    fn default() -> Self {
        Account {
            name: default_account_name(),
            issuer: None,
            client_id: default_account_client(),
            client_secret: None,
            client_secret_file: None,
        }
    }
}

fn default_account_name() -> String {
    "Mon Compte Personnel".into()
}

fn default_account_client() -> String {
    "mss".into()
}

/// Where the vendor account client secret may come from, first.
pub const ACCOUNT_SECRET_ENV: &str = "MSS_ACCOUNT_CLIENT_SECRET";

/// Who administers the operator itself.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Operator {
    /// National ids (`8` + RPPS…) of the people who see the portal's
    /// operator console.
    #[serde(default)]
    pub administrators: Vec<String>,
}

impl Operator {
    fn is_empty(&self) -> bool {
        self.administrators.is_empty()
    }

    /// The administrators, checked.
    pub fn administrators(&self) -> Result<Vec<mss_core::NationalId>, String> {
        self.administrators
            .iter()
            .map(|id| id.parse().map_err(|_| format!("[operator] administrators: {id:?} is not a national id")))
            .collect()
    }
}

/// The ANS liste blanche, refreshed by `mss serve` from where the ANS
/// publishes it (`mss_ops::whitelist::import_bytes`: the last good list
/// stays when a download or a file is bad).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Whitelist {
    /// `listeblanchemssante.xml` as the ANS publishes it; absent: the list
    /// is imported by hand only (`mss whitelist import`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Its SHA-256 as the ANS publishes it (`checksum`); a file that does
    /// not match is not imported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum_url: Option<String>,
    /// Anchors (PEM) the download's TLS may chain to, beside the public
    /// web roots: the IGC-Santé chain in production.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust_anchors: Option<PathBuf>,
    /// Time between two refreshes.
    #[serde(default = "default_whitelist_refresh")]
    pub refresh_seconds: u64,
}

fn default_whitelist_refresh() -> u64 {
    3600
}

impl Whitelist {
    fn is_manual(&self) -> bool {
        self.url.is_none() && self.checksum_url.is_none() && self.trust_anchors.is_none()
    }
}

impl Default for Whitelist {
    fn default() -> Self {
        Self { url: None, checksum_url: None, trust_anchors: None, refresh_seconds: default_whitelist_refresh() }
    }
}

/// The Prometheus endpoint `/metrics` (`mss_web::metrics`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metrics {
    /// A file (mode 0600 or 0400) holding the bearer token scrapers
    /// present; absent: no `/metrics`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_file: Option<PathBuf>,
}

/// How the operator runs.
///
/// Development allows what production must never have: the Pro Santé
/// Connect and ANS simulators, development bearer tokens as passwords, a
/// development CA's private key beside the data. It is said loudly at
/// start-up and in the portal's footer. Production refuses to start with
/// any of them ([`Config::production_refusals`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunMode {
    Development,
    Production,
}

/// The environment variable that gives the Pro Santé Connect client secret
/// (it wins over `[psc] client_secret_file` and `client_secret`).
pub const PSC_SECRET_ENV: &str = "MSS_PSC_CLIENT_SECRET";

/// The simulator's client secret when none is configured (development).
const DEVELOPMENT_PSC_SECRET: &str = "development";

/// CPS card logins.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cps {
    /// The CPS CA certificates cards must chain to (relative to the data
    /// directory); absent: CPS login is off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust_anchors: Option<PathBuf>,
}

/// Mon espace santé, the operator of the patients' domain
/// (`patient.mssante.fr`). Mail to patients goes by that domain's MX, or by
/// a `[smtp] routes` entry for it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Patients {
    /// The certificate DNs Mon espace santé's gateway presents, both ways:
    /// the published liste blanche no longer lists `patient.mssante.fr`
    /// (see `mss_smtp::peers`). Default: the last ones published, the
    /// CNAM's, in the liste blanche's first version (2025-03-14).
    #[serde(default = "default_gateway_dns")]
    pub gateway_dns: Vec<String>,
    /// Development only: run a Mon espace santé simulator (`mss_mes`), its
    /// gateway on a loopback port mail to patients is routed to, its
    /// patient pages under `/mes-sim`. `mss init` turns it on for a
    /// development directory; production refuses it.
    #[serde(default)]
    pub simulator: bool,
}

impl Default for Patients {
    fn default() -> Self {
        Self { gateway_dns: default_gateway_dns(), simulator: false }
    }
}

fn default_gateway_dns() -> Vec<String> {
    ["smtps1", "smtps2"]
        .map(|host| format!("CN={host}.ens.atos-infogerance.fr,OU=318003502400041,O=CNAM,ST=Paris (75),C=FR"))
        .to_vec()
}

/// Where `mss init` puts the development CPS CA.
pub const CPS_CA_DIR: &str = "ca-cps";
/// Where `mss init` puts the metrics scrapers' bearer token.
pub const METRICS_TOKEN_FILE: &str = "metrics.token";

/// Pro Santé Connect: the real provider when `issuer` is set, otherwise
/// the embedded simulator (served under `/psc-sim` on the HTTP listener).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Psc {
    /// The real PSC issuer URL; absent: the simulator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    pub client_id: String,
    /// The client secret PSC gave us. Better kept out of this file: in
    /// `client_secret_file` (mode 0600 or 0400), or in the environment
    /// variable `MSS_PSC_CLIENT_SECRET`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// A file holding the client secret (relative to the data directory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_file: Option<PathBuf>,
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
            client_secret: None,
            client_secret_file: None,
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
    /// The operator's terms (a small Markdown: `#` headings, paragraphs)
    /// `/cgu` shows; absent: a French default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgu_file: Option<PathBuf>,
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
            cgu_file: None,
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
    /// The product reference the messages we build carry (`X-MSS-NIL`:
    /// how the ANS follows which software sends what).
    #[serde(default = "default_product_reference")]
    pub product_reference: String,
    /// Connections from one client address still in their greeting, TLS
    /// handshake or authentication at once, on each SMTP listener; past it
    /// a new one is refused with 421 (a big peer operator may need more).
    #[serde(default = "default_max_unproven_per_address")]
    pub max_unproven_per_address: usize,
    /// How long a recipient taken for a delivery attempt stays with the
    /// node that took it before another node takes it over (that node is
    /// presumed dead). Longer than an attempt lasts.
    #[serde(default = "default_delivery_claim_seconds")]
    pub delivery_claim_seconds: u64,
}

fn default_delivery_claim_seconds() -> u64 {
    mss_smtp::outbound::RetryPolicy::default().claim.as_secs()
}

fn default_max_unproven_per_address() -> usize {
    mss_smtp::server::Limits::default().max_unproven_per_address
}

fn default_product_reference() -> String {
    format!("mss {}", env!("CARGO_PKG_VERSION"))
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
            product_reference: default_product_reference(),
            max_unproven_per_address: default_max_unproven_per_address(),
            delivery_claim_seconds: default_delivery_claim_seconds(),
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
    /// `/metrics` on a listener of its own (a monitoring network), if
    /// wanted; it then leaves the `http` and `https` listeners.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<SocketAddr>,
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
            metrics: None,
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
    /// CRL files (PEM or DER) peer certificates are checked against,
    /// read again at each refresh.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub crl_files: Vec<PathBuf>,
    /// CRLs downloaded at each refresh (the last valid copy of each kept in
    /// `crls/`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub crl_urls: Vec<String>,
    /// Time between two refreshes of the CRLs.
    #[serde(default = "default_crl_refresh", skip_serializing_if = "is_default_crl_refresh")]
    pub crl_refresh_seconds: u64,
}

fn default_crl_refresh() -> u64 {
    3600
}

fn is_default_crl_refresh(seconds: &u64) -> bool {
    *seconds == default_crl_refresh()
}

/// A data directory: where it is and what its configuration says.
#[derive(Debug, Clone)]
pub struct DataDir {
    pub path: PathBuf,
    pub config: Config,
    /// `config.domain`, validated.
    pub domain: mss_core::Domain,
    /// `config.mode`, which must be given.
    pub mode: RunMode,
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
        let Some(mode) = config.mode else {
            return Err(failed(
                file.display(),
                "no mode: add `mode = \"development\"` (simulators allowed) or `mode = \"production\"` at the top",
            ));
        };
        if let Err(why) = config.check_ranges() {
            return Err(failed(file.display(), why));
        }
        Ok(Self { path: path.to_path_buf(), config, domain, mode })
    }

    /// What production forbids that this data directory has; empty in a
    /// directory fit for production.
    /// `psc_secret` is the client secret as [`Self::psc_client_secret`]
    /// read it.
    pub fn production_refusals(&self, psc_secret: &str) -> Vec<String> {
        let mut refusals = self.config.production_refusals();
        for ca in ["ca", CPS_CA_DIR] {
            let key = self.path.join(ca).join(mss_trust::pki::CA_KEY_FILE);
            if key.exists() {
                refusals.push(format!("{} is a development CA's private key", key.display()));
            }
        }
        if psc_secret == DEVELOPMENT_PSC_SECRET {
            refusals.push("[psc] has no client secret of its own".into());
        }
        if self.config.account.is_some() && matches!(self.account_client_secret(), Ok(s) if s == DEVELOPMENT_PSC_SECRET)
        {
            refusals.push("[account] has no client secret of its own".into());
        }
        refusals
    }

    /// The vendor account provider's client secret, found as PSC's is
    /// (`MSS_ACCOUNT_CLIENT_SECRET`, `[account] client_secret_file`,
    /// `client_secret`, the development one).
    pub fn account_client_secret(&self) -> Result<String, CliError> {
        if let Ok(secret) = std::env::var(ACCOUNT_SECRET_ENV)
            && !secret.is_empty()
        {
            return Ok(secret);
        }
        let account = self.config.account.clone().unwrap_or_default();
        if let Some(file) = &account.client_secret_file {
            return read_secret_file(&self.resolve(file));
        }
        Ok(account.client_secret.unwrap_or_else(|| DEVELOPMENT_PSC_SECRET.to_string()))
    }

    /// The Pro Santé Connect client secret: from `MSS_PSC_CLIENT_SECRET`,
    /// else `[psc] client_secret_file`, else `[psc] client_secret`, else
    /// the development one.
    pub fn psc_client_secret(&self) -> Result<String, CliError> {
        if let Ok(secret) = std::env::var(PSC_SECRET_ENV)
            && !secret.is_empty()
        {
            return Ok(secret);
        }
        let psc = &self.config.psc;
        if let Some(file) = &psc.client_secret_file {
            let path = self.resolve(file);
            let secret = read_secret_file(&path)?;
            return Ok(secret);
        }
        Ok(psc.client_secret.clone().unwrap_or_else(|| DEVELOPMENT_PSC_SECRET.to_string()))
    }

    /// The metrics scrapers' bearer token, when `/metrics` is on.
    pub fn metrics_token(&self) -> Result<Option<String>, CliError> {
        match &self.config.metrics.token_file {
            Some(file) => Ok(Some(read_secret_file(&self.resolve(file))?)),
            None => Ok(None),
        }
    }

    /// Makes the data directory readable by its owner only (0700). A
    /// directory that was open to others (made by an earlier release, or
    /// with a wide umask) has every file and directory in it closed too.
    pub fn make_private(&self) -> Result<(), CliError> {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(&self.path).map_err(|e| failed(self.path.display(), e))?;
        if meta.permissions().mode() & 0o077 == 0 {
            return Ok(());
        }
        let closed = close_tree(&self.path).map_err(|e| failed(self.path.display(), e))?;
        tracing::warn!(dir = %self.path.display(), closed, "data directory was readable by others; closed to its owner");
        Ok(())
    }

    /// A path from the configuration, resolved against the data directory.
    pub fn resolve(&self, relative: &Path) -> PathBuf {
        self.path.join(relative)
    }

    /// The store `[store]` names: the embedded one of this data directory
    /// by default.
    pub fn store_config(&self) -> Result<mss_store::StoreConfig, CliError> {
        let store = &self.config.store;
        match store.backend {
            Backend::Embedded => Ok(mss_store::StoreConfig::Embedded { dir: self.path.clone() }),
            Backend::Postgres => {
                let url =
                    store.postgres_url.clone().ok_or_else(|| usage("store", "[store] postgres_url is not set"))?;
                let password = match std::env::var(POSTGRES_PASSWORD_ENV) {
                    Ok(password) if !password.is_empty() => Some(password),
                    _ => {
                        store.postgres_password_file.as_ref().map(|f| read_secret_file(&self.resolve(f))).transpose()?
                    }
                };
                let ca_pem = match &store.postgres_ca_file {
                    Some(file) => {
                        let path = self.resolve(file);
                        Some(std::fs::read_to_string(&path).map_err(|e| failed(path.display(), e))?)
                    }
                    None => None,
                };
                let database = mss_store::PostgresConfig { url, password, pool_size: store.postgres_pool_size, ca_pem };
                Ok(mss_store::StoreConfig::Postgres { database, blobs: self.blobs_config()? })
            }
        }
    }

    /// Where `[store]` puts large bodies next to PostgreSQL.
    fn blobs_config(&self) -> Result<mss_store::BlobsConfig, CliError> {
        let store = &self.config.store;
        if store.blobs == Blobs::Files {
            return Ok(mss_store::BlobsConfig::Files { dir: self.path.join("blobs") });
        }
        let bucket = store.s3_bucket.clone().ok_or_else(|| usage("store", "[store] s3_bucket is not set"))?;
        let access_key_id =
            store.s3_access_key_id.clone().ok_or_else(|| usage("store", "[store] s3_access_key_id is not set"))?;
        let secret_access_key = match std::env::var(S3_SECRET_ENV) {
            Ok(secret) if !secret.is_empty() => secret,
            _ => match &store.s3_secret_access_key_file {
                Some(file) => read_secret_file(&self.resolve(file))?,
                None => return Err(usage("store", format!("[store] s3_secret_access_key_file or {S3_SECRET_ENV}"))),
            },
        };
        Ok(mss_store::BlobsConfig::S3(mss_store::S3Config {
            allow_http: store.s3_endpoint.as_deref().is_some_and(|e| e.starts_with("http://")),
            endpoint: store.s3_endpoint.clone(),
            region: store.s3_region.clone(),
            bucket,
            access_key_id,
            secret_access_key,
            prefix: store.s3_prefix.clone(),
        }))
    }

    /// Opens the store (applying migrations).
    pub async fn open_store(&self) -> Result<mss_store::Store, CliError> {
        Ok(mss_store::Store::open(&self.store_config()?).await?)
    }
}

impl Config {
    /// Values that are out of range (a zero size limit, durations that
    /// overflow); the first one found.
    pub fn check_ranges(&self) -> Result<(), String> {
        const DAY: u64 = 86_400;
        let size = 1024..=(1u64 << 30);
        let product = &self.smtp.product_reference;
        let printable = (1..=100).contains(&product.chars().count()) && !product.chars().any(char::is_control);
        let web_url = |u: &Option<String>| {
            u.as_deref().is_none_or(|u| (u.starts_with("https://") || u.starts_with("http://")) && u.len() <= 2048)
        };
        let whitelist = &self.whitelist;
        let crl_urls_ok = self.tls.crl_urls.iter().all(|u| web_url(&Some(u.clone())));
        let checks: [(&str, bool, String); 17] = [
            (
                "[smtp] delivery_claim_seconds",
                (5..=DAY).contains(&self.smtp.delivery_claim_seconds),
                format!("5 to {DAY}"),
            ),
            ("[store] postgres_pool_size", (1..=1000).contains(&self.store.postgres_pool_size), "1 to 1000".into()),
            (
                "[smtp] max_unproven_per_address",
                (1..=256).contains(&self.smtp.max_unproven_per_address),
                "1 to 256".into(),
            ),
            ("[smtp] max_message_bytes", size.contains(&(self.smtp.max_message_bytes as u64)), "1 KiB to 1 GiB".into()),
            ("[imap] max_append_bytes", size.contains(&self.imap.max_append_bytes), "1 KiB to 1 GiB".into()),
            ("[smtp] queue_expiry_days", (1..=30).contains(&self.smtp.queue_expiry_days), "1 to 30".into()),
            ("[smtp] mx_port", self.smtp.mx_port != 0, "1 to 65535".into()),
            (
                "[lifecycle] validation_delay_seconds",
                self.lifecycle.validation_delay_seconds <= 30 * DAY,
                format!("0 to {}", 30 * DAY),
            ),
            (
                "[lifecycle] audit_retention_days",
                (1..=3650).contains(&self.lifecycle.audit_retention_days),
                "1 to 3650".into(),
            ),
            ("[lifecycle] deleted_retention_days", self.lifecycle.deleted_retention_days <= 3650, "0 to 3650".into()),
            ("[psc] client_id", !self.psc.client_id.trim().is_empty(), "not empty".into()),
            (
                "[smtp] product_reference",
                printable && !product.trim().is_empty(),
                "1 to 100 printable characters".into(),
            ),
            ("[whitelist] url", web_url(&whitelist.url), "an http(s) URL".into()),
            ("[whitelist] checksum_url", web_url(&whitelist.checksum_url), "an http(s) URL".into()),
            ("[tls] crl_urls", crl_urls_ok && self.tls.crl_urls.len() <= 32, "at most 32 http(s) URLs".into()),
            (
                "[tls] crl_refresh_seconds",
                (1..=7 * DAY).contains(&self.tls.crl_refresh_seconds),
                format!("1 to {}", 7 * DAY),
            ),
            (
                "[whitelist] refresh_seconds",
                (1..=7 * DAY).contains(&whitelist.refresh_seconds),
                format!("1 to {}", 7 * DAY),
            ),
        ];
        if let Some((name, _, range)) = checks.into_iter().find(|(_, ok, _)| !ok) {
            return Err(format!("{name} is out of range ({range})"));
        }
        self.operator.administrators()?;
        match self.patients.gateway_dns.iter().find(|dn| dn.parse::<mss_trust::DistinguishedName>().is_err()) {
            Some(dn) => Err(format!("[patients] gateway_dns: {dn:?} is not a certificate DN")),
            None => Ok(()),
        }
    }

    /// The development conveniences this configuration turns on.
    pub fn production_refusals(&self) -> Vec<String> {
        let mut refusals = Vec::new();
        if self.psc.issuer.is_none() {
            refusals.push("[psc] issuer is not set: the Pro Santé Connect simulator would sign anyone in".into());
        }
        if self.lifecycle.ans_url.is_none() {
            refusals.push("[lifecycle] ans_url is not set: the ANS simulator would validate every mailbox".into());
        }
        if self.account.as_ref().is_some_and(|a| a.issuer.is_none()) {
            refusals.push("[account] issuer is not set: its simulator would sign anyone in".into());
        }
        if !self.lifecycle.ans_unknown_national_ids.is_empty() || !self.lifecycle.ans_unknown_finess.is_empty() {
            refusals.push("[lifecycle] ans_unknown_* configure the ANS simulator".into());
        }
        if self.smtp.plain_with_token {
            refusals.push("[smtp] plain_with_token accepts development bearer tokens as passwords".into());
        }
        if self.imap.plain_with_token {
            refusals.push("[imap] plain_with_token accepts development bearer tokens as passwords".into());
        }
        let plain = [&self.whitelist.url, &self.whitelist.checksum_url];
        if plain.iter().any(|u| u.as_deref().is_some_and(|u| u.starts_with("http://"))) {
            refusals.push("[whitelist] the liste blanche would be downloaded without TLS (http://)".into());
        }
        if self.store.backend == Backend::Postgres
            && self.store.postgres_ca_file.is_none()
            && !self.store.postgres_url.as_deref().is_some_and(mss_store::reaches_this_host_only)
        {
            refusals.push(
                "[store] postgres_url leaves this host without TLS: set postgres_ca_file (the CA of the \
                 database server's certificate)"
                    .into(),
            );
        }
        if self.store.blobs == Blobs::S3 && self.store.s3_endpoint.as_deref().is_some_and(|u| u.starts_with("http://"))
        {
            refusals.push("[store] message bodies would travel to S3 without TLS (http://)".into());
        }
        if self.patients.simulator {
            refusals.push(
                "[patients] simulator runs a Mon espace santé simulator: anyone reaching it writes as a patient".into(),
            );
        }
        refusals
    }
}

/// A secret kept in a file of its own, which others must not be able to read.
/// Writes a new file readable by its owner only (a secret, or health
/// figures); an existing file is never overwritten.
pub fn write_private(path: &Path, content: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(content.as_bytes())
}

fn read_secret_file(path: &Path) -> Result<String, CliError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(|e| failed(path.display(), e))?;
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(failed(path.display(), "a secret file must be readable by its owner only (chmod 600)"));
    }
    let text = std::fs::read_to_string(path).map_err(|e| failed(path.display(), e))?;
    let secret = text.trim();
    if secret.is_empty() {
        return Err(failed(path.display(), "the secret file is empty"));
    }
    Ok(secret.to_string())
}

/// Removes group and other permissions from `dir` and everything under it
/// (symbolic links are not followed); returns how many entries changed.
fn close_tree(dir: &Path) -> std::io::Result<usize> {
    use std::os::unix::fs::PermissionsExt;
    let mut closed = 0;
    let mut pending = vec![dir.to_path_buf()];
    while let Some(path) = pending.pop() {
        let meta = std::fs::symlink_metadata(&path)?;
        if meta.file_type().is_symlink() {
            continue;
        }
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode & 0o700))?;
            closed += 1;
        }
        if meta.is_dir() {
            for entry in std::fs::read_dir(&path)? {
                pending.push(entry?.path());
            }
        }
    }
    Ok(closed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn development() -> Config {
        Config {
            mode: Some(RunMode::Development),
            domain: "pharma.test".into(),
            listen: Listen::default(),
            tls: Tls {
                certificate: "c".into(),
                key: "k".into(),
                trust_anchors: "a".into(),
                crl_files: vec![],
                crl_urls: vec![],
                crl_refresh_seconds: 3600,
            },
            smtp: Smtp::default(),
            imap: Imap::default(),
            lifecycle: Lifecycle::default(),
            psc: Psc::default(),
            cps: Cps::default(),
            patients: Patients::default(),
            metrics: Metrics::default(),
            whitelist: Whitelist::default(),
            operator: Operator::default(),
            account: None,
            store: Store::default(),
        }
    }

    /// Every setting `mss.toml` takes is documented in the README's
    /// configuration reference: a configuration with every optional value
    /// set is written out, and each key it holds must be named there.
    #[test]
    fn every_setting_is_in_the_readme() {
        let mut full = development();
        let addr: SocketAddr = "127.0.0.1:1".parse().unwrap();
        full.listen = Listen {
            submissions: Some(addr),
            smtps: Some(addr),
            imaps: Some(addr),
            https: Some(addr),
            metrics: Some(addr),
            ..Listen::default()
        };
        full.tls.crl_files = vec!["c.crl".into()];
        full.tls.crl_urls = vec!["http://x/c.crl".into()];
        full.tls.crl_refresh_seconds = 60;
        full.smtp.routes.insert("x.test".into(), addr);
        full.smtp.dns_servers = vec![addr];
        full.lifecycle.ans_url = Some("https://ans".into());
        full.lifecycle.ans_unknown_national_ids = vec!["x".into()];
        full.lifecycle.ans_unknown_finess = vec!["x".into()];
        full.psc.issuer = Some("https://psc".into());
        full.psc.client_secret = Some("s".into());
        full.psc.client_secret_file = Some("f".into());
        full.psc.public_url = Some("https://x".into());
        full.cps.trust_anchors = Some("a".into());
        full.lifecycle.cgu_file = Some("cgu.md".into());
        full.operator.administrators = vec!["810003621892".into()];
        full.store = Store {
            backend: Backend::Postgres,
            blobs: Blobs::S3,
            postgres_url: Some("host=db dbname=mss".into()),
            postgres_password_file: Some("f".into()),
            postgres_pool_size: 4,
            postgres_ca_file: Some("ca.pem".into()),
            s3_endpoint: Some("https://s3".into()),
            s3_region: "eu-west-3".into(),
            s3_bucket: Some("mss".into()),
            s3_prefix: "blobs".into(),
            s3_access_key_id: Some("k".into()),
            s3_secret_access_key_file: Some("f".into()),
        };
        full.account = Some(Account {
            issuer: Some("https://comptes".into()),
            client_secret: Some("s".into()),
            client_secret_file: Some("f".into()),
            ..Account::default()
        });
        full.metrics.token_file = Some("t".into());
        full.whitelist = Whitelist {
            url: Some("https://x".into()),
            checksum_url: Some("https://x".into()),
            trust_anchors: Some("a".into()),
            refresh_seconds: 1,
        };
        let value: toml::Value = toml::from_str(&toml::to_string(&full).unwrap()).unwrap();
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
        let reference = &readme[readme.find("### Configuration").unwrap()..];
        let mut missing = Vec::new();
        let mut keys = vec![(String::new(), &value)];
        while let Some((section, v)) = keys.pop() {
            let Some(table) = v.as_table() else { continue };
            for (key, inner) in table {
                if section == "smtp.routes" {
                    continue;
                }
                let named = format!("`{key}`");
                if !reference.contains(&format!("`[{key}]`")) && !reference.contains(&named) {
                    missing.push(format!("[{section}] {key}"));
                }
                let path = if section.is_empty() { key.clone() } else { format!("{section}.{key}") };
                keys.push((path, inner));
            }
        }
        assert!(missing.is_empty(), "settings the README does not describe: {missing:?}");
    }

    #[test]
    fn the_defaults_are_in_range_and_out_of_range_values_are_named() {
        assert_eq!(development().check_ranges(), Ok(()));
        let mut zero = development();
        zero.smtp.max_message_bytes = 0;
        assert!(zero.check_ranges().unwrap_err().contains("max_message_bytes"));
        for crowd in [0, 257] {
            let mut unproven = development();
            unproven.smtp.max_unproven_per_address = crowd;
            assert!(unproven.check_ranges().unwrap_err().contains("[smtp] max_unproven_per_address"), "{crowd}");
        }
        let mut never = development();
        never.whitelist.refresh_seconds = 0;
        assert!(never.check_ranges().unwrap_err().contains("[whitelist] refresh_seconds"));
        let mut ftp = development();
        ftp.whitelist.url = Some("ftp://ans/listeblanchemssante.xml".into());
        assert!(ftp.check_ranges().unwrap_err().contains("[whitelist] url"));
        let mut overflowing = development();
        overflowing.smtp.queue_expiry_days = u64::MAX;
        assert!(overflowing.check_ranges().unwrap_err().contains("queue_expiry_days"));
        let mut forever = development();
        forever.lifecycle.validation_delay_seconds = u64::MAX;
        assert!(forever.check_ranges().unwrap_err().contains("validation_delay_seconds"));
        // A product reference that would break its header line.
        for bad in ["", "mss\r\nBcc: x", &"x".repeat(101)] {
            let mut product = development();
            product.smtp.product_reference = bad.to_string();
            assert!(product.check_ranges().err().is_some_and(|e| e.contains("product_reference")), "{bad:?}");
        }
        // A gateway DN that is not one (a host name pasted, nothing) is refused by name.
        for bad in ["smtps1.ens.atos-infogerance.fr", ""] {
            let mut gateway = development();
            gateway.patients.gateway_dns = vec![bad.into()];
            assert!(gateway.check_ranges().err().is_some_and(|e| e.contains("[patients] gateway_dns")), "{bad:?}");
        }
    }

    #[test]
    fn s3_bodies_without_a_bucket_or_with_an_open_secret_are_refused_by_name() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let mut config = development();
        config.store.backend = Backend::Postgres;
        config.store.postgres_url = Some("host=/run/postgresql dbname=mss".into());
        config.store.blobs = Blobs::S3;
        config.store.s3_access_key_id = Some("mss".into());
        config.store.s3_secret_access_key_file = Some("s3.secret".into());
        let data = |config: &Config| DataDir {
            path: dir.path().to_path_buf(),
            config: config.clone(),
            domain: "pharmacie.test".parse().unwrap(),
            mode: RunMode::Production,
        };
        let refusal = |config: &Config| data(config).store_config().unwrap_err().to_string();
        assert!(refusal(&config).contains("s3_bucket is not set"), "{}", refusal(&config));

        config.store.s3_bucket = Some("mss".into());
        let secret = dir.path().join("s3.secret");
        std::fs::write(&secret, "very-secret\n").unwrap();
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
        let open = refusal(&config);
        assert!(open.contains("s3.secret") && open.contains("owner only"), "{open}");
        assert!(!open.contains("very-secret"), "the secret is never shown: {open}");

        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
        let Ok(mss_store::StoreConfig::Postgres { blobs: mss_store::BlobsConfig::S3(s3), .. }) =
            data(&config).store_config()
        else {
            panic!("a complete [store] is accepted")
        };
        assert_eq!((s3.bucket.as_str(), s3.secret_access_key.as_str()), ("mss", "very-secret"));
        config.store.s3_access_key_id = None;
        assert!(refusal(&config).contains("s3_access_key_id is not set"));
    }

    #[test]
    fn production_refuses_each_development_convenience() {
        let mut config = development();
        assert_eq!(config.production_refusals().len(), 2, "both simulators");
        config.smtp.plain_with_token = true;
        config.imap.plain_with_token = true;
        config.lifecycle.ans_unknown_finess = vec!["750000002".into()];
        config.patients.simulator = true;
        config.whitelist.url = Some("http://listeblanche.example/listeblanchemssante.xml".into());
        config.account = Some(Account::default());
        config.store.blobs = Blobs::S3;
        config.store.s3_endpoint = Some("http://minio.internal:9000".into());
        config.store.backend = Backend::Postgres;
        config.store.postgres_url = Some("host=db.internal dbname=mss".into());
        assert_eq!(config.production_refusals().len(), 10);
        assert!(config.production_refusals().iter().any(|r| r.contains("[store] postgres_url leaves this host")));
        let mut encrypted = config.clone();
        encrypted.store.postgres_ca_file = Some("postgres-ca.pem".into());
        assert_eq!(encrypted.production_refusals().len(), 9, "a remote database is fine over verified TLS");
        assert!(config.production_refusals().iter().any(|r| r.contains("[store] message bodies")));
        assert!(config.production_refusals().iter().any(|r| r.contains("Mon espace santé simulator")));
        assert!(config.production_refusals().iter().any(|r| r.contains("[account] issuer is not set")));
        let mut real = development();
        real.psc.issuer = Some("https://auth.esw.esante.gouv.fr/auth/realms/esante-wallet".into());
        real.lifecycle.ans_url = Some("https://gateway.api.esante.gouv.fr/fhir".into());
        real.whitelist.url = Some("https://listeblanche.example/listeblanchemssante.xml".into());
        real.account = Some(Account { issuer: Some("https://comptes.editeur.example".into()), ..Account::default() });
        assert!(real.production_refusals().is_empty());
    }
}
