//! `mss init`: a new data directory with its configuration and an operator
//! certificate, issued by a given CA or by a new development CA of its own.
//!
//! Everything is validated and generated in memory before the first write;
//! `mss.toml` is written last, so a directory without it is not initialised.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use mss_core::Domain;
use mss_trust::pki::{CA_CERT_FILE, OperatorIdentity};
use mss_trust::{CertificateAuthority, DistinguishedName};

use super::operator_certificate::{self, Provided};
use crate::cli::InitArgs;
use crate::config::{
    CONFIG_FILE, CPS_CA_DIR, Config, Cps, IDENTITIES_FILE, Imap, Lifecycle, Listen, METRICS_TOKEN_FILE, Metrics,
    Operator, Patients, Psc, RunMode, Smtp, Store, Tls, Whitelist, write_private,
};
use crate::error::{CliError, failed, parse, usage};

const CA_DIR: &str = "ca";
const TLS_DIR: &str = "tls";

/// What `mss init` (or a first `mss serve`) sets up.
pub struct InitSettings {
    pub dir: PathBuf,
    pub domain: Domain,
    pub ca: Option<PathBuf>,
    /// The operator's own certificate, instead of one issued here.
    pub certificate: Option<Provided>,
    pub identity: OperatorIdentity,
    pub listen: Listen,
}

/// What was made, for the summary.
pub struct InitReport {
    pub subject: DistinguishedName,
    pub new_ca: bool,
}

pub fn run(args: InitArgs) -> Result<(), CliError> {
    let domain: Domain = parse("domain", &args.domain)?;
    let host = match &args.hostname {
        Some(h) => parse::<Domain>("hostname", h)?.to_string(),
        None => domain.to_string(),
    };
    for (field, value) in [("organisation", &args.organisation), ("unit", &args.unit), ("state", &args.state)] {
        if value.trim().is_empty() {
            return Err(usage(field, "must not be empty"));
        }
    }
    let listen = Listen {
        smtp: parse::<SocketAddr>("smtp", &args.smtp)?,
        submission: parse("submission", &args.submission)?,
        imap: parse("imap", &args.imap)?,
        http: parse("http", &args.http)?,
        submissions: args.submissions.as_deref().map(|a| parse("submissions", a)).transpose()?,
        smtps: args.smtps.as_deref().map(|a| parse("smtps", a)).transpose()?,
        imaps: args.imaps.as_deref().map(|a| parse("imaps", a)).transpose()?,
        https: args.https.as_deref().map(|a| parse("https", a)).transpose()?,
        metrics: None,
    };
    let settings = InitSettings {
        dir: args.data_dir.data_dir,
        domain,
        ca: args.ca,
        certificate: args.certificate.map(|certificate| Provided {
            certificate,
            key: args.key,
            anchors: args.anchors.unwrap_or_default(),
            pkcs12_password_file: args.pkcs12_password_file,
        }),
        identity: OperatorIdentity { host, organisation: args.organisation, unit: args.unit, state: args.state },
        listen,
    };
    let report = initialise(&settings)?;
    print_report(&settings, &report);
    Ok(())
}

/// Creates the data directory; refuses one that is already initialised or
/// holds certificates.
pub fn initialise(settings: &InitSettings) -> Result<InitReport, CliError> {
    let dir = &settings.dir;
    for existing in [CONFIG_FILE, "tls/server.pem", "tls/server.key", "ca/ca.key"] {
        if dir.join(existing).exists() {
            return Err(usage("data-dir", format!("{} already holds {existing}; not overwriting it", dir.display())));
        }
    }
    // The operator's own certificate, or one issued by a development CA
    // (given, or made here).
    let (issued, anchors_pem, new_ca) = match (&settings.certificate, &settings.ca) {
        (Some(provided), _) => {
            let loaded = operator_certificate::load(provided)?;
            (loaded.issued, loaded.anchors_pem, None)
        }
        (None, Some(ca_dir)) => {
            let ca = CertificateAuthority::load(ca_dir).map_err(|e| usage("ca", e))?;
            (ca.issue_operator(&settings.identity).map_err(|e| failed("pki", e))?, ca.cert_pem().to_string(), None)
        }
        (None, None) => {
            let ca = CertificateAuthority::generate("IGC-Santé TEST Racine", &settings.identity.organisation)
                .map_err(|e| failed("pki", e))?;
            (ca.issue_operator(&settings.identity).map_err(|e| failed("pki", e))?, ca.cert_pem().to_string(), Some(ca))
        }
    };
    let config = Config {
        // A development CA and the simulators: production is a decision
        // the operator writes into mss.toml (docs/security.md).
        mode: Some(RunMode::Development),
        domain: settings.domain.to_string(),
        listen: settings.listen.clone(),
        tls: Tls {
            certificate: PathBuf::from(TLS_DIR).join("server.pem"),
            key: PathBuf::from(TLS_DIR).join("server.key"),
            trust_anchors: PathBuf::from(TLS_DIR).join("ca.pem"),
            crl_files: vec![],
            crl_urls: vec![],
            crl_refresh_seconds: 3600,
        },
        smtp: Smtp::default(),
        imap: Imap::default(),
        lifecycle: Lifecycle::default(),
        psc: Psc { client_secret: Some(random_secret()?), ..Psc::default() },
        cps: Cps { trust_anchors: Some(PathBuf::from(CPS_CA_DIR).join(CA_CERT_FILE)) },
        patients: Patients { simulator: true, ..Patients::default() },
        metrics: Metrics { token_file: Some(PathBuf::from(METRICS_TOKEN_FILE)) },
        whitelist: Whitelist::default(),
        operator: Operator::default(),
        // The vendor account simulator runs in development without it.
        account: None,
        store: Store::default(),
    };
    let cps_ca = CertificateAuthority::generate("IGC-Santé TEST CPS", &settings.identity.organisation)
        .map_err(|e| failed("pki", e))?;
    let config_text = toml::to_string_pretty(&config).map_err(|e| failed("mss.toml", e))?;

    // Writes start here.
    if let Some(ca) = &new_ca {
        ca.write_to(&dir.join(CA_DIR)).map_err(|e| failed("pki", e))?;
    }
    issued.write_to(&dir.join(TLS_DIR), "server").map_err(|e| failed("pki", e))?;
    write_file(&dir.join(&config.tls.trust_anchors), &anchors_pem)?;
    write_file(&dir.join(CONFIG_FILE), &config_text)?;
    write_file(&dir.join(IDENTITIES_FILE), TEST_IDENTITIES)?;
    let token = dir.join(METRICS_TOKEN_FILE);
    write_private(&token, &random_secret()?).map_err(|e| failed(token.display(), e))?;
    cps_ca.write_to(&dir.join(CPS_CA_DIR)).map_err(|e| failed("pki", e))?;
    Ok(InitReport { subject: issued.subject, new_ca: new_ca.is_some() })
}

/// The Pro Santé Connect simulator's test identities (valid RPPS keys).
const TEST_IDENTITIES: &str = r#"# Test identities of the Pro Santé Connect simulator (development only).
# Log in as one with /api/auth/psc/login?login_hint=LOGIN, or choose on its page.

[[identity]]
login = "elodie"
national_id = "810003621892"
given_name = "Élodie"
family_name = "Dupont"
profession = "21"
finess = ["750000002"]
organisation = "Pharmacie du Centre"

[[identity]]
login = "bob"
national_id = "810000013994"
given_name = "Bob"
family_name = "Durand"
profession = "21"
finess = ["750000002"]
organisation = "Pharmacie du Centre"

[[identity]]
login = "marc"
national_id = "810001234565"
given_name = "Marc"
family_name = "Lefèvre"
profession = "10"
finess = []
organisation = "Cabinet du Dr Lefèvre"
"#;

/// A random client secret for the simulator.
fn random_secret() -> Result<String, CliError> {
    mss_identity::session::random_token(24).map_err(|e| failed("psc", e))
}

fn write_file(path: &Path, content: &str) -> Result<(), CliError> {
    std::fs::write(path, content).map_err(|e| failed(path.display(), e))
}

pub fn print_report(settings: &InitSettings, report: &InitReport) {
    let dir = settings.dir.display();
    println!("Initialised {dir} for domain {}", settings.domain);
    println!("  configuration: {dir}/{CONFIG_FILE}");
    println!("  operator certificate: {dir}/tls/server.pem (key {dir}/tls/server.key, mode 0600)");
    println!("  subject DN: {}", report.subject);
    if report.new_ca {
        println!("  issued by a new development CA: {dir}/{CA_DIR}/ca.pem");
    } else if let Some(provided) = &settings.certificate {
        println!("  the operator's own, from {}", provided.certificate.display());
    } else if let Some(ca) = &settings.ca {
        println!("  issued by the CA in {}", ca.display());
    }
    println!("  peers must chain to: {dir}/tls/ca.pem");
    println!("Other operators allow this domain with:");
    println!("  mss whitelist add {} --dn {}", settings.domain, shell_quote(&report.subject.to_string()));
}

/// Single-quotes a value for a POSIX shell (DNs hold spaces and apostrophes).
fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}
