//! The mail side of `mss serve`: the trust-space MTA (SMTP, SMTPS),
//! submission (and submissions), IMAP (and IMAPS) and the outbound queue
//! worker, all on the operator's certificate.

use std::sync::Arc;
use std::time::Duration;

use mss_identity::{Throttle, TokenKey};
use mss_imap::{ImapServer, Limits as ImapLimits};
use mss_smtp::outbound::{Dns, Routes};
use mss_smtp::{Limits, Mode, Outbound, PeerTrust, RetryPolicy, SmtpServer, Submission, Submitter};
use mss_store::Store;
use mss_trust::pki::subject_of_pem;
use mss_trust::{DistinguishedName, ServerTrust, TlsMaterial};
use tokio::task::JoinHandle;
use tokio_rustls::rustls::ServerConfig;

use super::listeners::MailListeners;
use crate::config::DataDir;
use crate::error::{CliError, failed};

/// The operator's TLS identity as the servers use it.
pub struct Tls {
    /// The subject DN of the operator's certificate.
    pub subject: DistinguishedName,
    pub material: TlsMaterial,
    pub server: Arc<ServerConfig>,
    pub trust: ServerTrust,
    /// Signs and checks the bearer tokens (submission, IMAP, sessions).
    pub tokens: Arc<TokenKey>,
    /// Our host name (the certificate's CN), in greetings and headers.
    pub hostname: String,
}

impl Tls {
    /// Reads the certificate, key and trust anchors `[tls]` names.
    pub fn load(data: &DataDir) -> Result<Self, CliError> {
        let files = &data.config.tls;
        let certificate = data.resolve(&files.certificate);
        let pem = std::fs::read_to_string(&certificate).map_err(|e| failed(certificate.display(), e))?;
        let subject = subject_of_pem(&pem).map_err(|e| failed(certificate.display(), e))?;
        let material = TlsMaterial::load(&certificate, &data.resolve(&files.key), &data.resolve(&files.trust_anchors))
            .map_err(|e| failed("tls", e))?;
        let (server, trust) = material.server().map_err(|e| failed("tls", e))?;
        let hostname = subject.get("CN").unwrap_or(data.domain.as_str()).to_string();
        let key_pem = std::fs::read_to_string(data.resolve(&files.key)).map_err(|e| failed("tls", e))?;
        let tokens = Arc::new(TokenKey::from_pem(&key_pem, data.domain.as_str()).map_err(|e| failed("tls", e))?);
        Ok(Self { subject, material, server, trust, tokens, hostname })
    }
}

/// Starts the mail servers on their listeners and the queue worker;
/// returns the submitter the webmail sends with.
pub fn start(
    data: &DataDir,
    store: &Store,
    tls: &Tls,
    listeners: MailListeners,
    patient_route: Option<std::net::SocketAddr>,
    tasks: &mut Vec<JoinHandle<()>>,
) -> Result<Arc<Submitter>, CliError> {
    let smtp_config = &data.config.smtp;
    let queue_expiry = Duration::from_secs(smtp_config.queue_expiry_days.saturating_mul(86_400));
    let limits = Limits {
        max_message_bytes: smtp_config.max_message_bytes,
        max_unproven_per_address: smtp_config.max_unproven_per_address,
        ..Limits::default()
    };
    let wake = Arc::new(tokio::sync::Notify::new());
    let peers = PeerTrust { patient_gateway: data.config.patients.gateway_dns.clone() };
    let server = |mode| {
        Arc::new(SmtpServer {
            mode,
            store: store.clone(),
            domain: data.domain.clone(),
            hostname: tls.hostname.clone(),
            tls: tls.server.clone(),
            trust: tls.trust.clone(),
            peers: peers.clone(),
            limits: limits.clone(),
        })
    };
    let submitter = Arc::new(Submitter {
        store: store.clone(),
        domain: data.domain.clone(),
        wake: wake.clone(),
        queue_expiry,
        sent_copy: smtp_config.sent_copy,
    });
    let throttle = Arc::new(Throttle::new(store.meta.clone()));
    let submission = || Submission {
        tokens: tls.tokens.clone(),
        submitter: submitter.clone(),
        plain_with_token: smtp_config.plain_with_token,
        throttle: throttle.clone(),
    };
    let imap = Arc::new(ImapServer {
        store: store.clone(),
        hostname: tls.hostname.clone(),
        tls: tls.server.clone(),
        trust: tls.trust.clone(),
        tokens: tls.tokens.clone(),
        throttle: throttle.clone(),
        limits: ImapLimits { max_append_bytes: data.config.imap.max_append_bytes, ..ImapLimits::default() },
        plain_with_token: data.config.imap.plain_with_token,
        uid_lists: Default::default(),
    });
    if let Some(listener) = listeners.imaps {
        tasks.push(tokio::spawn(imap.clone().serve_implicit_tls(listener)));
    }
    tasks.push(tokio::spawn(imap.serve(listeners.imap)));
    if let Some(listener) = listeners.submissions {
        tasks.push(tokio::spawn(server(Mode::Submission(submission())).serve_implicit_tls(listener)));
    }
    if let Some(listener) = listeners.smtps {
        tasks.push(tokio::spawn(server(Mode::Mta).serve_implicit_tls(listener)));
    }
    tasks.push(tokio::spawn(server(Mode::Mta).serve(listeners.smtp)));
    tasks.push(tokio::spawn(server(Mode::Submission(submission())).serve(listeners.submission)));
    let outbound = Outbound {
        store: store.clone(),
        domain: data.domain.clone(),
        hostname: tls.hostname.clone(),
        tls: tls.material.trust_space_client().map_err(|e| failed("tls", e))?,
        routes: routes(data, patient_route),
        peers,
        retry: RetryPolicy {
            expiry: queue_expiry,
            claim: Duration::from_secs(smtp_config.delivery_claim_seconds),
            ..RetryPolicy::default()
        },
        wake,
    };
    tasks.push(tokio::spawn(Arc::new(outbound).run()));
    Ok(submitter)
}

/// Where outbound mail goes: the static routes (and the Mon espace santé
/// simulator's gateway for patients, when it runs), then MX lookups when on.
fn routes(data: &DataDir, patient_route: Option<std::net::SocketAddr>) -> Routes {
    let smtp_config = &data.config.smtp;
    let dns = if !smtp_config.mx_lookup {
        None
    } else {
        let resolver = if smtp_config.dns_servers.is_empty() {
            Dns::system(smtp_config.mx_port)
        } else {
            Dns::with_servers(&smtp_config.dns_servers, smtp_config.mx_port)
        };
        // Without a resolver only static routes work; say so and go on.
        resolver.map_err(|e| tracing::warn!(error = %e, "smtp: no MX lookups, only static routes")).ok()
    };
    let mut fixed: std::collections::HashMap<_, _> = smtp_config.routes.clone().into_iter().collect();
    if let Some(gateway) = patient_route {
        fixed.insert(mss_core::PATIENT_DOMAIN.to_string(), gateway);
    }
    Routes { fixed, dns }
}
