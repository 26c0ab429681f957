//! `mss serve`: runs the operator on a data directory until SIGINT/SIGTERM.
//!
//! With no `--data-dir` and no `./mss-data`, it first initialises one for a
//! development domain, so that a newcomer's first command just works. One
//! server per data directory (a lock file says so). Once listening, the
//! actual addresses are written to `ports.json` (port 0 picks one); the file
//! is removed on a clean stop.
//!
//! What runs: the mail servers and the outbound queue ([`mail`]), the
//! directory workers and the daily housekeeping ([`workers`]; work to run
//! on a single node of a cluster waits for its lease, [`cluster`]), HTTP
//! ([`http`]: `/healthz`, a status page, the portal, the API, and `/fhir`:
//! our published mailboxes read as FHIR), and in development the Mon espace
//! santé simulator ([`patients`]). This module only wires them.

mod cluster;
mod expiry;
mod http;
mod listeners;
mod mail;
mod patients;
mod revocation;
mod whitelist;
mod workers;

use std::collections::BTreeMap;
use std::fs::File;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use listeners::Listeners;
use mail::Tls;

use super::init::{InitSettings, initialise, print_report};
use crate::cli::ServeArgs;
use crate::config::{CONFIG_FILE, DEFAULT_DATA_DIR, DataDir, LOCK_FILE, Listen, PORTS_FILE, RunMode};
use crate::error::{CliError, failed};

/// The development domain of a data directory made by a bare `mss serve`.
const DEV_DOMAIN: &str = "mss.localhost";

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
    let psc_secret = data.psc_client_secret()?;
    let conveniences = check_mode(&data, &psc_secret)?;
    let _lock = lock(&data.path)?;
    raise_open_files_limit();
    let tls = Tls::load(&data)?;
    let store = data.open_store().await?;
    let holder = cluster::Holder::of(&data.store_config()?);
    let mailboxes = store.meta.mailboxes().await?.len();

    let listeners = Listeners::bind(&data.config.listen)?;
    let ports = listeners.ports()?;
    let Listeners { mail: mail_listeners, web: web_listeners } = listeners;
    let mut tasks = Vec::new();
    revocation::start(&data, &tls, &mut tasks).await?;
    tasks.push(reload_on_hangup(&data, &tls).map_err(|e| failed("signals", e))?);
    let expiries = expiry::expiries(&data)?;
    tasks.push(tokio::spawn(expiry::watch(expiries.clone())));
    let mes = patients::start(&data, ports["smtp"], &mut tasks).await?;
    let patient_route = mes.as_ref().map(|sim| sim.gateway);
    let submitter = mail::start(&data, &store, &tls, mail_listeners, patient_route, &mut tasks)?;
    let cps_ca = http::cps_anchors(&data)?;
    let https = match web_listeners.https {
        Some(listener) => Some(http::start_https(&tls, listener, cps_ca.as_deref())?),
        None => None,
    };
    // Handlers are in place before `ports.json` tells the world we are up,
    // so a SIGTERM right after it stops us cleanly.
    let stop = stop_signals().map_err(|e| failed("signals", e))?;
    write_ports(&data.path, &ports)?;
    announce(&data, &conveniences, &ports, &tls, mailboxes);
    if mes.is_some() {
        println!("  patients   http://{}{} (Mon espace santé simulator)", ports["http"], patients::MES_SIMULATOR_PATH);
    }

    let http_addr = ports["http"];
    let base_url = data.config.psc.public_url.clone().unwrap_or_else(|| match ports.get("https") {
        Some(addr) => format!("https://{addr}"),
        None => format!("http://{http_addr}"),
    });
    let ans_simulator = workers::start(&data, &store, &holder, http_addr, &mut tasks)?;
    let site = http::Site {
        data: &data,
        store: &store,
        tls: &tls,
        submitter,
        cps_ca: cps_ca.as_deref(),
        psc_secret,
        base_url: &base_url,
        http_addr,
        ans_simulator,
        mes: mes.map(|sim| sim.mes),
        expiries: expiries.iter().map(|e| (e.role, e.subject.clone(), e.not_after)).collect(),
        clients: super::dns::client_services(
            &tls.hostname,
            |name| ports.get(name).map(std::net::SocketAddr::port),
            data.config.smtp.plain_with_token && data.config.imap.plain_with_token,
        ),
    };
    let routes = http::router(site)?;
    let served = http::serve(routes, web_listeners.http, https, web_listeners.metrics, &base_url, stop).await;
    for task in tasks {
        task.abort();
    }
    workers::stop(&store, &holder).await;
    // The last audit entries are written before the runtime goes.
    store.audit.flush().await;
    let _ = std::fs::remove_file(data.path.join(PORTS_FILE));
    served?;
    tracing::info!("stopped");
    println!("mss stopped");
    Ok(())
}

/// Says what is served where, and in which mode.
fn announce(
    data: &DataDir,
    conveniences: &[String],
    ports: &BTreeMap<&'static str, SocketAddr>,
    tls: &Tls,
    mailboxes: usize,
) {
    let (smtp_addr, submission_addr, imap_addr, http_addr) =
        (ports["smtp"], ports["submission"], ports["imap"], ports["http"]);
    println!("mss serving domain {} from {}", data.domain, data.path.display());
    match data.mode {
        RunMode::Production => tracing::info!("production mode"),
        RunMode::Development => {
            println!("  DEVELOPMENT MODE: never serve real users or real health data with this configuration");
            for convenience in conveniences {
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
    println!("  certificate subject DN: {}", tls.subject);
    println!("  mailboxes: {mailboxes}");
    tracing::info!(domain = %data.domain, %smtp_addr, %submission_addr, %http_addr, "serving");
}

/// Production refuses to start with any development convenience (each one
/// named); development starts with them, and returns them to be said.
fn check_mode(data: &DataDir, psc_secret: &str) -> Result<Vec<String>, CliError> {
    let conveniences = data.production_refusals(psc_secret);
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

fn initialise_development(dir: &Path) -> Result<(), CliError> {
    let settings = InitSettings {
        dir: dir.to_path_buf(),
        domain: DEV_DOMAIN.parse().map_err(|e| failed("development domain", e))?,
        ca: None,
        certificate: None,
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
pub(crate) fn lock(dir: &Path) -> Result<File, CliError> {
    let path = dir.join(LOCK_FILE);
    let file = File::create(&path).map_err(|e| failed(path.display(), e))?;
    file.try_lock().map_err(|_| failed("data-dir", format!("another mss serve is running on {}", dir.display())))?;
    Ok(file)
}

/// Writes `ports.json` atomically (temporary file, then rename).
fn write_ports(dir: &Path, ports: &BTreeMap<&str, SocketAddr>) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(ports).map_err(|e| failed(PORTS_FILE, e))?;
    let tmp = dir.join(format!("{PORTS_FILE}.tmp"));
    std::fs::write(&tmp, text).map_err(|e| failed(tmp.display(), e))?;
    std::fs::rename(&tmp, dir.join(PORTS_FILE)).map_err(|e| failed(PORTS_FILE, e))
}

/// SIGTERM or SIGINT, registered now (not when first awaited).
/// SIGHUP: our certificate and key are read again from `[tls]` and
/// presented from the next handshake on (`TlsMaterial::reload`); a file
/// that does not do (unreadable, a key not the certificate's) is logged and
/// the current ones stay. The trust anchors and the configuration take a
/// restart.
fn reload_on_hangup(data: &DataDir, tls: &mail::Tls) -> std::io::Result<tokio::task::JoinHandle<()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangup = signal(SignalKind::hangup())?;
    let (chain, key) = (data.resolve(&data.config.tls.certificate), data.resolve(&data.config.tls.key));
    let material = tls.material.clone();
    Ok(tokio::spawn(async move {
        while hangup.recv().await.is_some() {
            match material.reload(&chain, &key) {
                Ok(subject) => tracing::info!(%subject, "SIGHUP: operator certificate reloaded"),
                Err(e) => tracing::error!(error = %e, "SIGHUP: certificate not reloaded, the current one stays"),
            }
        }
    }))
}

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
