//! The command line, as clap reads it. Values stay strings here: each command
//! validates its own input so that every refusal is one line naming the field
//! (see `error.rs`).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::DEFAULT_DATA_DIR;

/// mss: an MSSanté operator (secure health messaging) in one program.
#[derive(Debug, Parser)]
#[command(name = "mss", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// Where the operator keeps its data.
#[derive(Debug, Clone, Args)]
pub struct DataDirArg {
    /// Data directory (configuration, certificates, database, messages).
    #[arg(long, env = "MSS_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Development PKI: a test trust-space CA ("IGC-Santé TEST").
    #[command(subcommand)]
    Pki(PkiCommand),
    /// Create a data directory: mss.toml and an operator certificate for DOMAIN.
    Init(Box<InitArgs>),
    /// Run the operator.
    Serve(ServeArgs),
    /// Mailboxes (BAL): create, list, show.
    #[command(subcommand)]
    Mailbox(MailboxCommand),
    /// The liste blanche of trust-space domains.
    #[command(subcommand)]
    Whitelist(WhitelistCommand),
    /// The outbound queue: list, retry now, delete.
    #[command(subcommand)]
    Queue(QueueCommand),
    /// CPS card: log in to the API with the card.
    #[command(subcommand)]
    Cps(CpsCommand),
    /// The audit trail: verify its chain, list entries, purge old ones.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Stored messages: read the facts of those stored without them.
    #[command(subcommand)]
    Messages(crate::commands::messages::MessagesCommand),
    /// A pharmacy's dispensations, for its 5 % indicator: import a CSV file.
    #[command(subcommand)]
    Dispensations(crate::commands::dispensations::DispensationsCommand),
    /// The operator's usage statistics for the ANS: a monthly report.
    #[command(subcommand)]
    Stats(crate::commands::stats::StatsCommand),
    /// The store itself: copy the embedded store into PostgreSQL.
    #[command(subcommand)]
    Store(crate::commands::store::StoreCommand),
    /// Check the store: database integrity, every message's blob present and
    /// intact, the audit chain (exit 1 if a problem is found).
    Check {
        #[command(flatten)]
        data_dir: DataDirArg,
        /// Only check that blobs exist, without reading them.
        #[arg(long)]
        quick: bool,
        /// Also remove the blobs no message names (idle for an hour).
        #[arg(long)]
        collect: bool,
    },
    /// The Annuaire Santé: import the national extraction, search it, publication outbox.
    #[command(subcommand)]
    Annuaire(AnnuaireCommand),
    /// Copy a running operator, consistently, into a new directory (configuration, keys, store, bodies).
    Backup {
        #[command(flatten)]
        data_dir: DataDirArg,
        /// The new directory the backup goes to.
        #[arg(long)]
        out: PathBuf,
    },
    /// Bring a backup back into a new (or empty) data directory, then check it.
    Restore {
        #[command(flatten)]
        data_dir: DataDirArg,
        /// The backup directory (from `mss backup`).
        #[arg(long)]
        from: PathBuf,
    },
    /// Print the DNS records to publish: MX, SRV for clients (RFC 6186), autoconfig, TLSA.
    Dns {
        #[command(flatten)]
        data_dir: DataDirArg,
        /// The host name clients and peers dial (default: our certificate's CN).
        #[arg(long)]
        host: Option<String>,
    },
    /// Issue a development bearer token for a mailbox (SASL XOAUTH2 on submission).
    Token {
        #[command(flatten)]
        data_dir: DataDirArg,
        /// The active mailbox the token acts as.
        address: String,
        /// Lifetime in minutes.
        #[arg(long, default_value = "60")]
        ttl_minutes: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum AnnuaireCommand {
    /// Import the ANS extraction of MSSanté mailboxes (31 columns, `|`, UTF-8; or a ZIP holding it).
    Import {
        #[command(flatten)]
        data_dir: DataDirArg,
        /// The extraction: a file (.txt/.csv, or .zip), or an http(s) URL to download it from.
        source: String,
    },
    /// Write a synthetic extraction (valid ids, plausible names) for tests and benchmarks.
    Synth {
        /// Number of mailbox lines.
        #[arg(long, default_value = "1000")]
        lines: String,
        /// Seed of the generator (same seed, same file).
        #[arg(long, default_value = "1")]
        seed: String,
        /// Output file (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Search the directory and our own active mailboxes.
    Search(Box<AnnuaireSearchArgs>),
    /// What the directory must still learn about our mailboxes (publications, updates, withdrawals).
    Outbox {
        #[command(flatten)]
        data_dir: DataDirArg,
        /// Also list acknowledged and failed operations.
        #[arg(long)]
        all: bool,
        /// Make every pending operation due now (sent by the running server).
        #[arg(long)]
        retry_now: bool,
    },
}

#[derive(Debug, Args)]
pub struct AnnuaireSearchArgs {
    #[command(flatten)]
    pub data_dir: DataDirArg,
    /// Words (names; the last one completes as a prefix), ids, postal codes, key:value criteria.
    pub query: Vec<String>,
    /// TRE_G15 profession code (10, 21...) or words of its label.
    #[arg(long)]
    pub profession: Option<String>,
    #[arg(long)]
    pub city: Option<String>,
    #[arg(long)]
    pub postal_code: Option<String>,
    /// Department (75, 2A, 974).
    #[arg(long)]
    pub department: Option<String>,
    /// RPPS, ADELI or FINESS.
    #[arg(long)]
    pub id: Option<String>,
    /// Mailbox type: PER, ORG, APP or CAB.
    #[arg(long = "type")]
    pub kind: Option<String>,
    /// Words of the street address.
    #[arg(long)]
    pub address: Option<String>,
    #[arg(long, default_value = "1")]
    pub page: String,
    #[arg(long, default_value = "20")]
    pub per_page: String,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check that no entry was altered, inserted or removed (exit 1 if so).
    Verify {
        #[command(flatten)]
        data_dir: DataDirArg,
    },
    /// List entries, newest first.
    List {
        #[command(flatten)]
        data_dir: DataDirArg,
        /// Only this target (a mailbox address).
        #[arg(long)]
        target: Option<String>,
        /// Only actions starting with this (imap., smtp., role., mailbox.).
        #[arg(long)]
        action: Option<String>,
        #[arg(long, default_value = "50")]
        limit: String,
    },
    /// Remove entries older than the retention ([lifecycle] audit_retention_days).
    Purge {
        #[command(flatten)]
        data_dir: DataDirArg,
    },
}

#[derive(Debug, Subcommand)]
pub enum QueueCommand {
    /// List queued messages, one line per recipient.
    List {
        #[command(flatten)]
        data_dir: DataDirArg,
    },
    /// Make the pending recipients of a queued message due now.
    Retry {
        #[command(flatten)]
        data_dir: DataDirArg,
        /// Queue id (first column of `mss queue list`).
        id: String,
    },
    /// Remove a message from the queue, without a report to the sender.
    Delete {
        #[command(flatten)]
        data_dir: DataDirArg,
        /// Queue id (first column of `mss queue list`).
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum PkiCommand {
    /// Create a development root CA (ca.pem, ca.key) in DIR.
    Init {
        /// Directory to write ca.pem and ca.key into (created; existing files are never overwritten).
        #[arg(long)]
        out: PathBuf,
        /// Common name of the root.
        #[arg(long, default_value = "IGC-Santé TEST Racine")]
        name: String,
    },
    /// Issue a test CPS card certificate (from DATA_DIR's CPS CA): DIR/cps.pem, cps.key, cps.der.
    IssueCps {
        #[command(flatten)]
        data_dir: DataDirArg,
        /// The holder's RPPS (or --adeli).
        #[arg(long)]
        rpps: Option<String>,
        #[arg(long)]
        adeli: Option<String>,
        /// First name.
        #[arg(long)]
        first: String,
        /// Last name.
        #[arg(long)]
        last: String,
        /// FINESS of the structure the holder works in, if any.
        #[arg(long)]
        finess: Option<String>,
        /// Directory to write into (created; existing files are never overwritten).
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum CpsCommand {
    /// Log in to a running operator with a CPS card (PKCS#11): prints the session tokens as JSON.
    Login {
        /// The PKCS#11 module of the card reader middleware (or SoftHSM2's).
        #[arg(long)]
        module: PathBuf,
        /// Label of the card's token.
        #[arg(long, default_value = "CPS")]
        token: String,
        /// The card's PIN.
        #[arg(long, env = "MSS_CPS_PIN", hide_env_values = true)]
        pin: String,
        /// The operator's HTTP address (http://host:port).
        #[arg(long)]
        api: String,
    },
}

#[derive(Debug, Args)]
pub struct InitArgs {
    #[command(flatten)]
    pub data_dir: DataDirArg,
    /// Mail domain served by this operator (e.g. pharmacie.example.fr).
    #[arg(long)]
    pub domain: String,
    /// CA directory (from `mss pki init`) that issues our certificate; default: a new CA in DATA_DIR/ca.
    #[arg(long, conflicts_with = "certificate")]
    pub ca: Option<PathBuf>,
    /// The operator's own certificate (IGC-Santé): a PEM chain (leaf first) or a PKCS#12 file.
    #[arg(long, requires = "anchors")]
    pub certificate: Option<PathBuf>,
    /// Its private key (PEM), unless the certificate file holds it.
    #[arg(long, requires = "certificate")]
    pub key: Option<PathBuf>,
    /// The trust anchors (PEM): the IGC-Santé chain peers and we chain to.
    #[arg(long, requires = "certificate")]
    pub anchors: Option<PathBuf>,
    /// A 0600 file holding the PKCS#12 file's password.
    #[arg(long, requires = "certificate")]
    pub pkcs12_password_file: Option<PathBuf>,
    /// Host name in the certificate (CN); default: the domain.
    #[arg(long)]
    pub hostname: Option<String>,
    /// Organisation (O) in the certificate subject.
    #[arg(long, default_value = "MSS DEVELOPPEMENT")]
    pub organisation: String,
    /// Organisational unit (OU): the operator's SIRET or FINESS.
    #[arg(long, default_value = "00000000000000")]
    pub unit: String,
    /// State (ST), as the ANS writes it.
    #[arg(long, default_value = "Paris (75)")]
    pub state: String,
    /// SMTP listen address (trust-space MTA).
    #[arg(long, default_value = "127.0.0.1:2525")]
    pub smtp: String,
    /// Submission listen address.
    #[arg(long, default_value = "127.0.0.1:5870")]
    pub submission: String,
    /// Submission listen address with implicit TLS (RFC 8314), optional.
    #[arg(long)]
    pub submissions: Option<String>,
    /// Trust-space MTA listen address with implicit TLS, optional.
    #[arg(long)]
    pub smtps: Option<String>,
    /// IMAP listen address.
    #[arg(long, default_value = "127.0.0.1:1143")]
    pub imap: String,
    /// IMAP listen address with implicit TLS (RFC 8314, port 993), optional.
    #[arg(long)]
    pub imaps: Option<String>,
    /// HTTP listen address (API, portal).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub http: String,
    /// HTTPS listen address (API, portal) with the operator certificate,
    /// optional; the HTTP listener then sends portal pages there.
    #[arg(long)]
    pub https: Option<String>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Data directory; when it is the default and does not exist, it is initialised for a development domain.
    #[arg(long, env = "MSS_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum MailboxCommand {
    /// Create a mailbox and print its address. Active at once (operator's administrator).
    Create(Box<MailboxCreateArgs>),
    /// List the mailboxes.
    List {
        #[command(flatten)]
        data_dir: DataDirArg,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Give a person a role on a mailbox (Administrateur, Gestionnaire, Utilisateur).
    Grant {
        #[command(flatten)]
        data_dir: DataDirArg,
        /// The mailbox (usually an organisational one).
        address: String,
        /// The person's national id: 8 + RPPS or 0 + ADELI.
        #[arg(long)]
        national_id: String,
        /// administrateur, gestionnaire or utilisateur.
        #[arg(long)]
        role: String,
    },
    /// Suspend an active mailbox (it keeps its address and mail; logins stop).
    Suspend {
        #[command(flatten)]
        data_dir: DataDirArg,
        address: String,
        /// Why, shown to its users.
        #[arg(long)]
        reason: String,
    },
    /// Make a suspended mailbox active again.
    Resume {
        #[command(flatten)]
        data_dir: DataDirArg,
        address: String,
    },
    /// Close a mailbox for good (its address is never given to anyone else).
    Delete {
        #[command(flatten)]
        data_dir: DataDirArg,
        address: String,
        #[arg(long)]
        reason: String,
    },
    /// Put a mailbox on the liste rouge (`on`) or take it off (`off`); the directory is told.
    ListeRouge {
        #[command(flatten)]
        data_dir: DataDirArg,
        address: String,
        /// on or off.
        value: String,
    },
    /// Development: ask the ANS (simulator) about a pending mailbox now rather than when due.
    Validate {
        #[command(flatten)]
        data_dir: DataDirArg,
        address: String,
    },
    /// Show one mailbox.
    Show {
        #[command(flatten)]
        data_dir: DataDirArg,
        /// The mailbox address.
        address: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct MailboxCreateArgs {
    #[command(flatten)]
    pub data_dir: DataDirArg,
    /// Mailbox type: per (personal), org (organisational), app (applicative), cab (cabinet).
    #[arg(long = "type")]
    pub kind: String,
    /// PER: the holder's RPPS (11 digits).
    #[arg(long, conflicts_with = "adeli")]
    pub rpps: Option<String>,
    /// PER: the holder's ADELI (9 characters).
    #[arg(long)]
    pub adeli: Option<String>,
    /// PER: first name (prénom d'exercice).
    #[arg(long)]
    pub first: Option<String>,
    /// PER: last name (nom d'exercice).
    #[arg(long)]
    pub last: Option<String>,
    /// ORG, APP (and optionally PER): FINESS of the structure.
    #[arg(long)]
    pub finess: Option<String>,
    /// ORG, APP, CAB: name of the structure, software or practice.
    #[arg(long)]
    pub name: Option<String>,
    /// ORG: the structure is a pharmacy (address pharmacie-nom-codepostal-ville@).
    #[arg(long)]
    pub pharmacy: bool,
    /// ORG (pharmacy): postal code.
    #[arg(long)]
    pub postal_code: Option<String>,
    /// ORG (pharmacy), CAB: city.
    #[arg(long)]
    pub city: Option<String>,
    /// ORG (not a pharmacy): the service, which names the address.
    #[arg(long)]
    pub service: Option<String>,
    /// Keep the mailbox out of the directory (liste rouge).
    #[arg(long)]
    pub liste_rouge: bool,
    /// APP: subject DN of the organisation certificate the software presents
    /// (SASL EXTERNAL on submission).
    #[arg(long)]
    pub certificate_dn: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum WhitelistCommand {
    /// Import the ANS file (listeblanchemssante.xml); a bad file changes nothing.
    Import {
        #[command(flatten)]
        data_dir: DataDirArg,
        /// The XML file.
        file: PathBuf,
        /// SHA-256 to verify: 64 hex characters, or a file holding them (the ANS `checksum` file).
        #[arg(long)]
        checksum: Option<String>,
    },
    /// List the entries (ANS, then added by hand).
    List {
        #[command(flatten)]
        data_dir: DataDirArg,
        /// Only this domain.
        #[arg(long)]
        domain: Option<String>,
    },
    /// Remove what was added by hand for a domain (one DN with --dn); ANS entries stay until the next import.
    Remove {
        #[command(flatten)]
        data_dir: DataDirArg,
        /// The domain.
        domain: String,
        /// Only the entry with this operator certificate DN.
        #[arg(long)]
        dn: Option<String>,
    },
    /// Allow a domain served by an operator certificate DN (CN=...,OU=...,O=...,C=FR).
    Add {
        #[command(flatten)]
        data_dir: DataDirArg,
        /// The domain.
        domain: String,
        /// Subject DN of the operator's certificate, as in the ANS file.
        #[arg(long)]
        dn: String,
        /// Description.
        #[arg(long, default_value = "")]
        description: String,
    },
}
