//! The HTTP side of `mss serve`: the site (`mss_web`: portal, API, health),
//! our published mailboxes read as FHIR, the embedded simulators (PSC, ANS,
//! Mon espace santé's patient pages)
//! in development, on plain HTTP and, when configured, HTTPS (where CPS
//! cards are presented).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use mss_directory::AnsSimulator;
use mss_directory::annuaire::Annuaire;
use mss_http::HttpClient;
use mss_identity::SessionAuthority;
use mss_identity::account::AccountLogin;
use mss_identity::cps::CpsAuthority;
use mss_identity::oidc::OidcConfig;
use mss_identity::psc::client::PscLogin;
use mss_identity::psc::simulator::{Identities, RegisteredClient, Simulator};
use mss_smtp::Submitter;
use mss_store::{LoginFlowStore, Store};
use mss_trust::ServerTrust;
use mss_web::{Cgu, Sending, Web};
use tokio::net::TcpListener;

use super::super::annuaire::ANNUAIRE_DIR;
use super::super::https::{AdmittedTcp, ConnectedClient, TlsListener, client_facts};
use super::mail::Tls;
use crate::config::{DataDir, RunMode};
use crate::error::{CliError, failed};

/// Where our own published mailboxes are read in the national API's shape.
const FHIR_PATH: &str = "/fhir";

/// Where the embedded ANS directory API simulator is served.
pub const ANS_SIMULATOR_PATH: &str = "/ans-sim";

/// Where the embedded PSC simulator is served on the HTTP listener.
const PSC_SIMULATOR_PATH: &str = "/psc-sim";
/// Where the embedded vendor account simulator is, in development.
const ACCOUNT_SIMULATOR_PATH: &str = "/compte-sim";

/// The CPS CA (PEM), when `[cps] trust_anchors` names it.
pub fn cps_anchors(data: &DataDir) -> Result<Option<String>, CliError> {
    let Some(anchors) = &data.config.cps.trust_anchors else {
        return Ok(None);
    };
    let path = data.resolve(anchors);
    std::fs::read_to_string(&path).map(Some).map_err(|e| failed(path.display(), e))
}

/// Starts accepting HTTPS (TLS handshakes, with CPS cards when their CA is
/// configured) on `listener`.
pub fn start_https(tls: &Tls, listener: TcpListener, cps_ca: Option<&str>) -> Result<TlsListener, CliError> {
    let config = tls.material.web_server(cps_ca).map_err(|e| failed("tls", e))?;
    TlsListener::start(AdmittedTcp::new(listener, "https"), config).map_err(|e| failed("https", e))
}

/// What the site is made of.
pub struct Site<'a> {
    pub data: &'a DataDir,
    pub store: &'a Store,
    pub tls: &'a Tls,
    pub submitter: Arc<Submitter>,
    pub cps_ca: Option<&'a str>,
    pub psc_secret: String,
    /// Where people reach us (PSC sends them back there).
    pub base_url: &'a str,
    pub http_addr: SocketAddr,
    pub ans_simulator: Option<Arc<AnsSimulator>>,
    pub mes: Option<Arc<mss_mes::MonEspaceSante>>,
    /// Where mail clients reach us (their autoconfiguration).
    pub clients: mss_web::autoconfig::ClientServices,
    /// Our certificates' ends of validity, for `/metrics`.
    pub expiries: Vec<(&'static str, String, i64)>,
}

/// What the HTTP listeners serve: every route, and `/metrics` apart when
/// it has a listener of its own.
pub struct Routes {
    pub app: Router,
    pub metrics: Option<Router>,
}

/// Every route the listeners serve.
pub fn router(site: Site<'_>) -> Result<Routes, CliError> {
    let Site {
        data,
        store,
        tls,
        submitter,
        cps_ca,
        psc_secret,
        base_url,
        http_addr,
        ans_simulator,
        mes,
        clients,
        expiries,
    } = site;
    let lifecycle = &data.config.lifecycle;
    let simulator_base = format!("http://{http_addr}");
    let flows: Arc<dyn LoginFlowStore> = store.meta.clone();
    let (psc, simulator) = pro_sante_connect(data, psc_secret, base_url, &simulator_base, &flows)?;
    let (account, account_simulator) = vendor_accounts(data, base_url, &simulator_base, &flows)?;
    let web = Arc::new(Web {
        store: store.clone(),
        domain: data.domain.clone(),
        sessions: Arc::new(SessionAuthority::new(tls.tokens.clone(), store.meta.clone())),
        cgu: Cgu { version: lifecycle.cgu_version.clone(), url: lifecycle.cgu_url.clone(), text: cgu_text(data)? },
        validation_delay: Duration::from_secs(lifecycle.validation_delay_seconds),
        psc: Some(Arc::new(psc)),
        account: account.map(Arc::new),
        software_trust: Some(tls.trust.clone()),
        cps: cps_authority(cps_ca, &flows)?.map(Arc::new),
        annuaire: Arc::new(Annuaire::new(&data.path.join(ANNUAIRE_DIR), Some(data.domain.to_string()))),
        https: base_url.starts_with("https://"),
        sending: Some(Sending {
            submitter,
            hostname: tls.hostname.clone(),
            max_message_bytes: data.config.smtp.max_message_bytes,
            product: data.config.smtp.product_reference.clone(),
        }),
        development: data.mode == RunMode::Development,
        clients: Some(clients),
        operator_admins: data.config.operator.administrators().map_err(|e| failed("[operator]", e))?,
    });
    let mut app = mss_web::router(web)
        .nest(FHIR_PATH, mss_directory::fhir_read::router(store.meta.clone(), &format!("{base_url}{FHIR_PATH}")));
    if let Some(simulator) = simulator {
        app = app.nest(PSC_SIMULATOR_PATH, simulator.router());
    }
    if let Some(simulator) = account_simulator {
        app = app.nest(ACCOUNT_SIMULATOR_PATH, simulator.router());
    }
    if let Some(ans) = ans_simulator {
        app = app.nest(ANS_SIMULATOR_PATH, ans.router());
    }
    if let Some(mes) = mes {
        app = app.merge(mss_mes::router(mes, super::patients::MES_SIMULATOR_PATH));
    }
    let metrics = data
        .metrics_token()?
        .map(|token| mss_web::metrics::router(store.clone(), data.domain.clone(), token, expiries));
    let (app, metrics) = match (metrics, data.config.listen.metrics.is_some()) {
        (Some(metrics), false) => (app.merge(metrics), None),
        (metrics, _) => (app, metrics),
    };
    Ok(Routes { app, metrics })
}

/// Serves `app` on `http` (and `https`, and `/metrics` alone on its own
/// listener) until `stop` resolves; with HTTPS on, the portal's plain HTTP
/// pages redirect to `base_url`.
pub async fn serve(
    routes: Routes,
    http: TcpListener,
    https: Option<TlsListener>,
    metrics: Option<TcpListener>,
    base_url: &str,
    stop: impl Future<Output = ()> + Send + 'static,
) -> Result<(), CliError> {
    let Routes { app, metrics: metrics_routes } = routes;
    let (stopping, stopped) = tokio::sync::watch::channel(false);
    let until_stopped = move || {
        let mut stopped = stopped.clone();
        async move {
            let _ = stopped.wait_for(|s| *s).await;
        }
    };
    if let (Some(listener), Some(routes)) = (metrics, metrics_routes) {
        let serving =
            axum::serve(AdmittedTcp::new(listener, "metrics"), routes).with_graceful_shutdown(until_stopped());
        tokio::spawn(serving.into_future());
    }
    let mut served_https = None;
    let plain = match https {
        Some(listener) => {
            let secure = app
                .clone()
                .layer(axum::middleware::map_response(strict_transport))
                .layer(axum::middleware::from_fn(client_facts))
                .into_make_service_with_connect_info::<ConnectedClient>();
            let serving = axum::serve(listener, secure).with_graceful_shutdown(until_stopped()).into_future();
            served_https = Some(tokio::spawn(serving));
            app.layer(axum::middleware::from_fn_with_state(base_url.to_string(), portal_to_https))
        }
        None => app,
    };
    tokio::spawn(async move {
        stop.await;
        let _ = stopping.send(true);
    });
    let plain =
        plain.layer(axum::middleware::from_fn(client_facts)).into_make_service_with_connect_info::<ConnectedClient>();
    let served = axum::serve(AdmittedTcp::new(http, "http"), plain).with_graceful_shutdown(until_stopped()).await;
    if let Some(Ok(Err(e))) = match served_https {
        Some(task) => Some(task.await),
        None => None,
    } {
        tracing::error!(error = %e, "https: listener failed");
    }
    served.map_err(|e| failed("http", e))
}

/// The terms `/cgu` shows: `[lifecycle] cgu_file`, else the default.
fn cgu_text(data: &DataDir) -> Result<String, CliError> {
    match &data.config.lifecycle.cgu_file {
        Some(file) => {
            let path = data.resolve(file);
            std::fs::read_to_string(&path).map_err(|e| failed(path.display(), e))
        }
        None => Ok(Cgu::DEFAULT_TEXT.to_string()),
    }
}

/// CPS card logins, when the CPS CA (PEM) is configured.
fn cps_authority(cps_ca: Option<&str>, flows: &Arc<dyn LoginFlowStore>) -> Result<Option<CpsAuthority>, CliError> {
    let Some(pem) = cps_ca else {
        return Ok(None);
    };
    let trust = ServerTrust::from_anchors_pem(pem).map_err(|e| failed("cps", e))?;
    Ok(Some(CpsAuthority::new(trust, flows.clone())))
}

/// The PSC client, and the simulator it talks to unless a real issuer is
/// configured: people come back to `base_url`; the simulator is reached on
/// the plain HTTP listener at `simulator_base` (development only: its
/// back channel needs no certificate for a loopback address).
fn pro_sante_connect(
    data: &DataDir,
    client_secret: String,
    base_url: &str,
    simulator_base: &str,
    flows: &Arc<dyn LoginFlowStore>,
) -> Result<(PscLogin, Option<Arc<Simulator>>), CliError> {
    let psc = &data.config.psc;
    let http = HttpClient::new(None).map_err(|e| failed("psc", e))?;
    let mut config = OidcConfig {
        issuer: String::new(),
        client_id: psc.client_id.clone(),
        client_secret,
        redirect_uri: format!("{base_url}/api/auth/psc/callback"),
        scopes: vec!["scope_all".into()],
    };
    if let Some(issuer) = &psc.issuer {
        config.issuer = issuer.clone();
        return Ok((PscLogin::new(config, http, flows.clone()), None));
    }
    config.issuer = format!("{simulator_base}{PSC_SIMULATOR_PATH}");
    let client = RegisteredClient { id: psc.client_id.clone(), secret: config.client_secret.clone() };
    let simulator =
        Simulator::new(&config.issuer, simulator_identities(data)?, client).map_err(|e| failed("psc", e))?;
    Ok((PscLogin::new(config, http, flows.clone()), Some(Arc::new(simulator))))
}

/// The simulators' test identities (`[psc] identities`).
fn simulator_identities(data: &DataDir) -> Result<Identities, CliError> {
    let path = data.resolve(&data.config.psc.identities);
    match std::fs::read_to_string(&path) {
        Ok(text) => Identities::parse(&text).map_err(|e| failed(path.display(), e)),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "simulators: no test identities");
            Ok(Identities::default())
        }
    }
}

/// The software vendor's account system (`[account]`): its client, and in
/// development without an issuer its simulator; none in production
/// without the section.
fn vendor_accounts(
    data: &DataDir,
    base_url: &str,
    simulator_base: &str,
    flows: &Arc<dyn LoginFlowStore>,
) -> Result<(Option<AccountLogin>, Option<Arc<Simulator>>), CliError> {
    let development = data.mode == RunMode::Development;
    if data.config.account.is_none() && !development {
        return Ok((None, None));
    }
    let account = data.config.account.clone().unwrap_or_default();
    let http = HttpClient::new(None).map_err(|e| failed("account", e))?;
    let mut config = OidcConfig {
        issuer: account.issuer.clone().unwrap_or_default(),
        client_id: account.client_id.clone(),
        client_secret: data.account_client_secret()?,
        redirect_uri: format!("{base_url}{}", mss_web::ACCOUNT_CALLBACK),
        scopes: vec![],
    };
    if account.issuer.is_some() {
        return Ok((Some(AccountLogin::new(account.name, config, http, flows.clone())), None));
    }
    if !development {
        // Refused at start-up (`production_refusals`); never a simulator.
        return Ok((None, None));
    }
    config.issuer = format!("{simulator_base}{ACCOUNT_SIMULATOR_PATH}");
    let client = RegisteredClient { id: config.client_id.clone(), secret: config.client_secret.clone() };
    let simulator = Simulator::accounts(&config.issuer, simulator_identities(data)?, client, &account.name)
        .map_err(|e| failed("account", e))?;
    Ok((Some(AccountLogin::new(account.name, config, http, flows.clone())), Some(Arc::new(simulator))))
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
