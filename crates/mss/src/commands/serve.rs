//! `mss serve`: runs the operator on a data directory until SIGINT/SIGTERM.
//!
//! With no `--data-dir` and no `./mss-data`, it first initialises one for a
//! development domain, so that a newcomer's first command just works. One
//! server per data directory (a lock file says so). Once listening, the
//! actual addresses are written to `ports.json` (port 0 picks one); the file
//! is removed on a clean stop.
//!
//! Listeners today: SMTP (the trust-space MTA, mutual TLS), submission
//! (bearer tokens), IMAP (bearer tokens, or the certificate of an
//! applicative mailbox), the outbound queue worker, the ANS validation and
//! the directory publication outbox workers, and HTTP (`/healthz`, a status
//! page, the portal, the API, and `/fhir`: our published mailboxes read as
//! FHIR).

use std::collections::BTreeMap;
use std::fs::File;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use mss_directory::annuaire::Annuaire;
use mss_directory::{AnsSimulator, Backoff, FhirPublisher, Outbox, Publisher, Validation};
use mss_http::HttpClient;
use mss_identity::cps::CpsAuthority;
use mss_identity::psc::client::{PscConfig, PscLogin};
use mss_identity::psc::simulator::{Identities, RegisteredClient, Simulator};
use mss_identity::{SessionAuthority, Throttle, TokenKey};
use mss_imap::{ImapServer, Limits as ImapLimits};
use mss_ops::housekeeping::{self, Retention};
use mss_smtp::outbound::{Dns, Routes};
use mss_smtp::{Limits, Mode, Outbound, RetryPolicy, SmtpServer, Submission, Submitter};
use mss_trust::pki::subject_of_pem;
use mss_trust::{ServerTrust, TlsMaterial};
use mss_web::{Cgu, Sending, Web};
use tokio::net::TcpListener;
use tokio::sync::Notify;

use super::annuaire::ANNUAIRE_DIR;
use super::https::{AdmittedTcp, HttpsClient, TlsListener, presented_certificate};
use super::init::{InitSettings, initialise, print_report};
use crate::cli::ServeArgs;
use crate::config::{CONFIG_FILE, DEFAULT_DATA_DIR, DataDir, Listen, PORTS_FILE, RunMode};
use crate::error::{CliError, failed};

/// The development domain of a data directory made by a bare `mss serve`.
const DEV_DOMAIN: &str = "mss.localhost";
const LOCK_FILE: &str = "serve.lock";

pub async fn run(args: ServeArgs) -> Result<(), CliError> {
    let dir = match args.data_dir {
        Some(dir) => dir,
        None => {
            let dir = PathBuf::from(DEFAULT_DATA_DIR);
            if !dir.join(CONFIG_FILE).exists() {
                initialise_development(&dir)?;
            }
            dir
        }
    };
    let data = DataDir::load(&dir)?;
    data.make_private()?;
    let conveniences = check_mode(&data)?;
    let psc_secret = data.psc_client_secret()?;
    let _lock = lock(&data.path)?;
    raise_open_files_limit();
    let tls_files = &data.config.tls;
    let certificate = data.resolve(&tls_files.certificate);
    let pem = std::fs::read_to_string(&certificate).map_err(|e| failed(certificate.display(), e))?;
    let subject = subject_of_pem(&pem).map_err(|e| failed(certificate.display(), e))?;
    let material =
        TlsMaterial::load(&certificate, &data.resolve(&tls_files.key), &data.resolve(&tls_files.trust_anchors))
            .map_err(|e| failed("tls", e))?;
    let (server_tls, trust) = material.server().map_err(|e| failed("tls", e))?;
    let store = data.open_store().await?;
    let mailboxes = store.meta.mailboxes().await?.len();

    let smtp = bind("smtp", data.config.listen.smtp).await?;
    let submission = bind("submission", data.config.listen.submission).await?;
    let http = bind("http", data.config.listen.http).await?;
    let https = match data.config.listen.https {
        Some(addr) => Some(bind("https", addr).await?),
        None => None,
    };
    let submissions = match data.config.listen.submissions {
        Some(addr) => Some(bind("submissions", addr).await?),
        None => None,
    };
    let smtps = match data.config.listen.smtps {
        Some(addr) => Some(bind("smtps", addr).await?),
        None => None,
    };
    let imap = bind("imap", data.config.listen.imap).await?;
    let imaps = match data.config.listen.imaps {
        Some(addr) => Some(bind("imaps", addr).await?),
        None => None,
    };
    let local = |name: &str, l: &TcpListener| l.local_addr().map_err(|e| failed(name.to_string(), e));
    let (smtp_addr, submission_addr, http_addr) =
        (local("smtp", &smtp)?, local("submission", &submission)?, local("http", &http)?);

    let hostname = subject.get("CN").unwrap_or(data.domain.as_str()).to_string();
    let queue_expiry = Duration::from_secs(data.config.smtp.queue_expiry_days.saturating_mul(86_400));
    let limits = Limits { max_message_bytes: data.config.smtp.max_message_bytes, ..Limits::default() };
    let wake = Arc::new(Notify::new());
    let key_pem = std::fs::read_to_string(data.resolve(&tls_files.key)).map_err(|e| failed("tls", e))?;
    let tokens = Arc::new(TokenKey::from_pem(&key_pem, data.domain.as_str()).map_err(|e| failed("tls", e))?);
    let server = |mode| {
        Arc::new(SmtpServer {
            mode,
            store: store.clone(),
            domain: data.domain.clone(),
            hostname: hostname.clone(),
            tls: server_tls.clone(),
            trust: trust.clone(),
            limits: limits.clone(),
        })
    };
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
    let routes = Routes { fixed: smtp_config.routes.clone().into_iter().collect(), dns };
    let mut tasks_early = Vec::new();
    let submitter = Arc::new(Submitter {
        store: store.clone(),
        domain: data.domain.clone(),
        wake: wake.clone(),
        queue_expiry,
        sent_copy: smtp_config.sent_copy,
    });
    let submission_mode = || Submission {
        tokens: tokens.clone(),
        submitter: submitter.clone(),
        plain_with_token: smtp_config.plain_with_token,
    };
    let imap_server = Arc::new(ImapServer {
        store: store.clone(),
        hostname: hostname.clone(),
        tls: server_tls.clone(),
        trust: trust.clone(),
        tokens: tokens.clone(),
        throttle: Throttle::new(),
        limits: ImapLimits { max_append_bytes: data.config.imap.max_append_bytes, ..ImapLimits::default() },
        plain_with_token: data.config.imap.plain_with_token,
    });
    let imap_addr = local("imap", &imap)?;
    let mut ports = BTreeMap::from([
        ("http", http_addr),
        ("imap", imap_addr),
        ("smtp", smtp_addr),
        ("submission", submission_addr),
    ]);
    if let Some(listener) = imaps {
        ports.insert("imaps", local("imaps", &listener)?);
        tasks_early.push(tokio::spawn(imap_server.clone().serve_implicit_tls(listener)));
    }
    let mut tasks = tasks_early;
    tasks.push(tokio::spawn(imap_server.serve(imap)));
    if let Some(listener) = submissions {
        ports.insert("submissions", local("submissions", &listener)?);
        tasks.push(tokio::spawn(server(Mode::Submission(submission_mode())).serve_implicit_tls(listener)));
    }
    if let Some(listener) = smtps {
        ports.insert("smtps", local("smtps", &listener)?);
        tasks.push(tokio::spawn(server(Mode::Mta).serve_implicit_tls(listener)));
    }
    tasks.extend([
        tokio::spawn(server(Mode::Mta).serve(smtp)),
        tokio::spawn(server(Mode::Submission(submission_mode())).serve(submission)),
        tokio::spawn(
            Arc::new(Outbound {
                store: store.clone(),
                domain: data.domain.clone(),
                hostname: hostname.clone(),
                tls: material.trust_space_client().map_err(|e| failed("tls", e))?,
                routes,
                retry: RetryPolicy { expiry: queue_expiry, ..RetryPolicy::default() },
                wake,
            })
            .run(),
        ),
    ]);
    let cps_ca = cps_anchors(&data)?;
    let https = match https {
        Some(listener) => {
            ports.insert("https", local("https", &listener)?);
            let config = material.web_server(cps_ca.as_deref()).map_err(|e| failed("tls", e))?;
            Some(TlsListener::start(AdmittedTcp::new(listener, "https"), config).map_err(|e| failed("https", e))?)
        }
        None => None,
    };
    // Handlers are in place before `ports.json` tells the world we are up,
    // so a SIGTERM right after it stops us cleanly.
    let stop = stop_signals().map_err(|e| failed("signals", e))?;
    write_ports(&data.path, &ports)?;

    println!("mss serving domain {} from {}", data.domain, data.path.display());
    match data.mode {
        RunMode::Production => tracing::info!("production mode"),
        RunMode::Development => {
            println!("  DEVELOPMENT MODE: never serve real users or real health data with this configuration");
            for convenience in &conveniences {
                println!("    - {convenience}");
                tracing::warn!("development mode: {convenience}");
            }
        }
    }
    println!("  smtp       {smtp_addr} (trust space: STARTTLS and an operator certificate required)");
    println!("  submission {submission_addr} (STARTTLS, then AUTH XOAUTH2 with a token from `mss token`)");
    println!("  imap       {imap_addr} (STARTTLS, then AUTHENTICATE XOAUTH2 with a token, or EXTERNAL)");
    for (name, what) in
        [("smtps", "trust space, implicit TLS"), ("submissions", "implicit TLS"), ("imaps", "IMAP, implicit TLS")]
    {
        if let Some(addr) = ports.get(name) {
            println!("  {name:<10} {addr} ({what})");
        }
    }
    println!("  http       http://{http_addr}/ (portal: /portail, health: /healthz, API: /api/openapi.json)");
    if let Some(addr) = ports.get("https") {
        println!("  https      https://{addr}/ (the same, with the operator certificate)");
    }
    println!("  certificate subject DN: {subject}");
    println!("  mailboxes: {mailboxes}");
    tracing::info!(domain = %data.domain, %smtp_addr, %submission_addr, %http_addr, "serving");

    let lifecycle = &data.config.lifecycle;
    let https_addr = ports.get("https").copied();
    let base_url = data.config.psc.public_url.clone().unwrap_or_else(|| match https_addr {
        Some(addr) => format!("https://{addr}"),
        None => format!("http://{http_addr}"),
    });
    let ans_simulator = match &lifecycle.ans_url {
        Some(_) => None,
        None => Some(Arc::new(AnsSimulator::new(&lifecycle.ans_unknown_national_ids, &lifecycle.ans_unknown_finess))),
    };
    let publisher: Arc<dyn Publisher> = Arc::new(FhirPublisher {
        // The simulator is ours: reached on the listener itself.
        base_url: lifecycle.ans_url.clone().unwrap_or_else(|| format!("http://{http_addr}{ANS_SIMULATOR_PATH}")),
        http: HttpClient::new(None).map_err(|e| failed("ans", e))?,
    });
    tasks.push(tokio::spawn(
        Validation {
            store: store.clone(),
            publisher: publisher.clone(),
            interval: Duration::from_secs(1),
            retry: Duration::from_secs(300),
        }
        .run(),
    ));
    tasks.push(tokio::spawn(
        Outbox { store: store.clone(), publisher, interval: Duration::from_secs(1), backoff: Backoff::default() }.run(),
    ));
    let days = |n: u64| Duration::from_secs(n.saturating_mul(86_400));
    let retention = Retention {
        audit: days(lifecycle.audit_retention_days),
        deleted_mailboxes: days(lifecycle.deleted_retention_days),
    };
    tasks.push(tokio::spawn(housekeeping::daily(store.clone(), retention)));
    let (psc, simulator) = pro_sante_connect(&data, psc_secret, &base_url, &format!("http://{http_addr}"))?;
    let web = Arc::new(Web {
        store: store.clone(),
        domain: data.domain.clone(),
        sessions: Arc::new(SessionAuthority::new(tokens.clone(), store.meta.clone())),
        cgu: Cgu { version: lifecycle.cgu_version.clone(), url: lifecycle.cgu_url.clone() },
        validation_delay: Duration::from_secs(lifecycle.validation_delay_seconds),
        psc: Some(Arc::new(psc)),
        cps: cps_authority(cps_ca.as_deref())?.map(Arc::new),
        annuaire: Arc::new(Annuaire::new(&data.path.join(ANNUAIRE_DIR), Some(data.domain.to_string()))),
        https: base_url.starts_with("https://"),
        sending: Some(Sending {
            submitter,
            hostname: hostname.clone(),
            max_message_bytes: data.config.smtp.max_message_bytes,
        }),
        development: data.mode == RunMode::Development,
    });
    let mut app = mss_web::router(web)
        .nest(FHIR_PATH, mss_directory::fhir_read::router(store.meta.clone(), &format!("{base_url}{FHIR_PATH}")));
    if let Some(simulator) = simulator {
        app = app.nest(PSC_SIMULATOR_PATH, simulator.router());
    }
    if let Some(ans) = ans_simulator {
        app = app.nest(ANS_SIMULATOR_PATH, ans.router());
    }
    let (stopping, stopped) = tokio::sync::watch::channel(false);
    let until_stopped = move || {
        let mut stopped = stopped.clone();
        async move {
            let _ = stopped.wait_for(|s| *s).await;
        }
    };
    let mut served_https = None;
    let plain = match https {
        Some(listener) => {
            let secure = app
                .clone()
                .layer(axum::middleware::map_response(strict_transport))
                .layer(axum::middleware::from_fn(presented_certificate))
                .into_make_service_with_connect_info::<HttpsClient>();
            let serving = axum::serve(listener, secure).with_graceful_shutdown(until_stopped()).into_future();
            served_https = Some(tokio::spawn(serving));
            app.layer(axum::middleware::from_fn_with_state(base_url.clone(), portal_to_https))
        }
        None => app,
    };
    tokio::spawn(async move {
        stop.await;
        let _ = stopping.send(true);
    });
    let served = axum::serve(AdmittedTcp::new(http, "http"), plain).with_graceful_shutdown(until_stopped()).await;
    if let Some(Ok(Err(e))) = match served_https {
        Some(task) => Some(task.await),
        None => None,
    } {
        tracing::error!(error = %e, "https: listener failed");
    }
    for task in tasks {
        task.abort();
    }
    // The last audit entries are written before the runtime goes.
    store.audit.flush().await;
    let _ = std::fs::remove_file(data.path.join(PORTS_FILE));
    served.map_err(|e| failed("http", e))?;
    tracing::info!("stopped");
    println!("mss stopped");
    Ok(())
}

/// Production refuses to start with any development convenience (each one
/// named); development starts with them, and returns them to be said.
fn check_mode(data: &DataDir) -> Result<Vec<String>, CliError> {
    let conveniences = data.production_refusals();
    match data.mode {
        RunMode::Production if conveniences.is_empty() => Ok(Vec::new()),
        RunMode::Production => Err(failed(
            "mode",
            format!("production refuses to start with development conveniences: {}", conveniences.join("; ")),
        )),
        RunMode::Development => Ok(conveniences),
    }
}

/// Every connection is a file descriptor, and the usual soft limit (1,024)
/// is below what the listeners admit: take all the hard limit allows.
fn raise_open_files_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) if soft < hard => match setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
            Ok(()) => tracing::info!(from = soft, to = hard, "open files limit raised"),
            Err(e) => tracing::warn!(error = %e, soft, "open files limit could not be raised"),
        },
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "open files limit unknown"),
    }
}

/// The CPS CA (PEM), when `[cps] trust_anchors` names it.
fn cps_anchors(data: &DataDir) -> Result<Option<String>, CliError> {
    let Some(anchors) = &data.config.cps.trust_anchors else {
        return Ok(None);
    };
    let path = data.resolve(anchors);
    std::fs::read_to_string(&path).map(Some).map_err(|e| failed(path.display(), e))
}

/// CPS card logins, when the CPS CA (PEM) is configured.
fn cps_authority(cps_ca: Option<&str>) -> Result<Option<CpsAuthority>, CliError> {
    let Some(pem) = cps_ca else {
        return Ok(None);
    };
    let trust = ServerTrust::from_anchors_pem(pem).map_err(|e| failed("cps", e))?;
    Ok(Some(CpsAuthority::new(trust)))
}

/// Where our own published mailboxes are read in the national API's shape.
const FHIR_PATH: &str = "/fhir";

/// Where the embedded ANS directory API simulator is served.
const ANS_SIMULATOR_PATH: &str = "/ans-sim";

/// Where the embedded PSC simulator is served on the HTTP listener.
const PSC_SIMULATOR_PATH: &str = "/psc-sim";

/// The PSC client, and the simulator it talks to unless a real issuer is
/// configured: people come back to `base_url`; the simulator is reached on
/// the plain HTTP listener at `simulator_base` (development only: its
/// back channel needs no certificate for a loopback address).
fn pro_sante_connect(
    data: &DataDir,
    client_secret: String,
    base_url: &str,
    simulator_base: &str,
) -> Result<(PscLogin, Option<Arc<Simulator>>), CliError> {
    let psc = &data.config.psc;
    let http = HttpClient::new(None).map_err(|e| failed("psc", e))?;
    let mut config = PscConfig {
        issuer: String::new(),
        client_id: psc.client_id.clone(),
        client_secret,
        redirect_uri: format!("{base_url}/api/auth/psc/callback"),
        scopes: vec!["scope_all".into()],
    };
    if let Some(issuer) = &psc.issuer {
        config.issuer = issuer.clone();
        return Ok((PscLogin::new(config, http), None));
    }
    config.issuer = format!("{simulator_base}{PSC_SIMULATOR_PATH}");
    let path = data.resolve(&psc.identities);
    let identities = match std::fs::read_to_string(&path) {
        Ok(text) => Identities::parse(&text).map_err(|e| failed(path.display(), e))?,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "psc simulator: no test identities");
            Identities::default()
        }
    };
    let client = RegisteredClient { id: psc.client_id.clone(), secret: config.client_secret.clone() };
    let simulator = Simulator::new(&config.issuer, identities, client).map_err(|e| failed("psc", e))?;
    Ok((PscLogin::new(config, http), Some(Arc::new(simulator))))
}

fn initialise_development(dir: &Path) -> Result<(), CliError> {
    let settings = InitSettings {
        dir: dir.to_path_buf(),
        domain: DEV_DOMAIN.parse().map_err(|e| failed("development domain", e))?,
        ca: None,
        identity: mss_trust::OperatorIdentity {
            host: DEV_DOMAIN.into(),
            organisation: "MSS DEVELOPPEMENT".into(),
            unit: "00000000000000".into(),
            state: "Paris (75)".into(),
        },
        listen: Listen::default(),
    };
    let report = initialise(&settings)?;
    print_report(&settings, &report);
    Ok(())
}

/// Holds an exclusive lock on `DIR/serve.lock` for the life of the server.
fn lock(dir: &Path) -> Result<File, CliError> {
    let path = dir.join(LOCK_FILE);
    let file = File::create(&path).map_err(|e| failed(path.display(), e))?;
    file.try_lock().map_err(|_| failed("data-dir", format!("another mss serve is running on {}", dir.display())))?;
    Ok(file)
}

async fn bind(name: &str, addr: SocketAddr) -> Result<TcpListener, CliError> {
    TcpListener::bind(addr).await.map_err(|e| failed(format!("{name}: cannot listen on {addr}"), e))
}

/// Writes `ports.json` atomically (temporary file, then rename).
fn write_ports(dir: &Path, ports: &BTreeMap<&str, SocketAddr>) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(ports).map_err(|e| failed(PORTS_FILE, e))?;
    let tmp = dir.join(format!("{PORTS_FILE}.tmp"));
    std::fs::write(&tmp, text).map_err(|e| failed(tmp.display(), e))?;
    std::fs::rename(&tmp, dir.join(PORTS_FILE)).map_err(|e| failed(PORTS_FILE, e))
}

/// HTTPS responses tell browsers to come back over HTTPS only (RFC 6797).
async fn strict_transport(mut response: axum::response::Response) -> axum::response::Response {
    let value = axum::http::HeaderValue::from_static("max-age=31536000");
    response.headers_mut().insert(axum::http::header::STRICT_TRANSPORT_SECURITY, value);
    response
}

/// With HTTPS on, the HTTP listener sends portal pages (where cookies live)
/// to `base` and serves the rest (health, API, simulators) as it is.
async fn portal_to_https(
    axum::extract::State(base): axum::extract::State<String>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let path = request.uri().path_and_query().map(|p| p.as_str().to_string()).unwrap_or_default();
    if request.uri().path() == "/portail" || request.uri().path().starts_with("/portail/") {
        use axum::response::IntoResponse;
        return axum::response::Redirect::permanent(&format!("{base}{path}")).into_response();
    }
    next.run(request).await
}

/// SIGTERM or SIGINT, registered now (not when first awaited).
fn stop_signals() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => tracing::info!("SIGINT received, stopping"),
            _ = terminate.recv() => tracing::info!("SIGTERM received, stopping"),
        }
    })
}
