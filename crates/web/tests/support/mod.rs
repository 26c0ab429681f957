//! What the tests of this crate share: a [`Site`] serving a [`Web`] on a
//! fresh store with the defaults every test starts from (domain `ours.test`,
//! no PSC, no CPS, no sending), which a test changes with struct update
//! syntax; and one raw HTTP exchange.
#![allow(dead_code)] // each test file uses its own part of these helpers

pub mod webmail;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use mss_directory::annuaire::Annuaire;
use mss_http::HttpClient;
use mss_identity::oidc::OidcConfig;
use mss_identity::psc::client::PscLogin;
use mss_identity::psc::simulator::{Identities, RegisteredClient, Simulator};
use mss_identity::{SessionAuthority, TokenKey};
use mss_store::{Store, StoreConfig};
use mss_web::{Cgu, Web};

/// The CGU version every test site asks for.
pub const CGU: &str = "2026-01";

/// A store in `dir` and the sessions that trust its tokens.
async fn store(dir: &Path) -> (Store, Arc<SessionAuthority>) {
    let store = Store::open(&StoreConfig::Embedded { dir: dir.to_path_buf() }).await.unwrap();
    let sessions =
        Arc::new(SessionAuthority::new(Arc::new(TokenKey::generate("ours.test").unwrap()), store.meta.clone()));
    (store, sessions)
}

/// The defaults: the Annuaire of `dir`, validation without delay.
fn web(dir: &Path, store: &Store, sessions: &Arc<SessionAuthority>) -> Web {
    Web {
        store: store.clone(),
        domain: "ours.test".parse().unwrap(),
        sessions: sessions.clone(),
        cgu: Cgu { version: CGU.into(), url: "/cgu".into(), text: Cgu::DEFAULT_TEXT.into() },
        validation_delay: Duration::from_secs(0),
        psc: None,
        account: None,
        software_trust: None,
        cps: None,
        annuaire: Arc::new(Annuaire::new(&dir.join("annuaire"), None)),
        https: false,
        sending: None,
        development: true,
        clients: None,
        operator_admins: Vec::new(),
    }
}

/// A served test site: its data directory, store and sessions, where it
/// listens, and the name of its session cookie.
pub struct Site {
    pub dir: tempfile::TempDir,
    pub store: Store,
    pub sessions: Arc<SessionAuthority>,
    pub addr: SocketAddr,
    pub cookie: &'static str,
}

/// A site on the defaults as `change` changes them (given the data
/// directory and the site's address), until the test ends.
pub async fn site(change: impl FnOnce(&Path, SocketAddr, Web) -> (Web, Router)) -> Site {
    let dir = tempfile::tempdir().unwrap();
    let (store, sessions) = store(dir.path()).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (web, extra) = change(dir.path(), addr, web(dir.path(), &store, &sessions));
    let cookie = if web.https { "__Host-mss-portail" } else { "mss-portail" };
    let app = mss_web::router(Arc::new(web)).merge(extra);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Site { dir, store, sessions, addr, cookie }
}

/// A site on the defaults, changed by nothing.
pub async fn plain_site() -> Site {
    site(|_, _, web| (web, Router::new())).await
}

/// A site signing people in with Pro Santé Connect: the simulator (with
/// these `identities`) nested at `/psc-sim`.
pub async fn site_with_psc(identities: &str, https: bool) -> Site {
    site(|_, addr, web| {
        let issuer = format!("http://{addr}/psc-sim");
        let client = RegisteredClient { id: "mss-test".into(), secret: "s3cret".into() };
        let identities = Identities::parse(identities).unwrap();
        let simulator = Arc::new(Simulator::new(&issuer, identities, client).unwrap());
        let psc = Some(psc_login(addr, &web.store));
        (Web { psc, https, ..web }, Router::new().nest("/psc-sim", simulator.router()))
    })
    .await
}

/// The Pro Santé Connect client of a site at `addr` (its simulator at
/// `/psc-sim`, people sent back to its callback).
fn psc_login(addr: SocketAddr, store: &Store) -> Arc<PscLogin> {
    let config = OidcConfig {
        issuer: format!("http://{addr}/psc-sim"),
        client_id: "mss-test".into(),
        client_secret: "s3cret".into(),
        redirect_uri: format!("http://{addr}/api/auth/psc/callback"),
        scopes: vec!["scope_all".into()],
    };
    Arc::new(PscLogin::new(config, HttpClient::new(None).unwrap(), store.meta.clone()))
}

/// Another node of `site`'s operator, as a deployment behind one name has:
/// its own listener, the same store, the same session keys, Pro Santé
/// Connect configured alike (same provider, same public callback).
pub async fn another_node(site: &Site) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let web = web(site.dir.path(), &site.store, &site.sessions);
    let app = mss_web::router(Arc::new(Web { psc: Some(psc_login(site.addr, &site.store)), ..web }));
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

impl Site {
    /// One request as a browser sends it: `cookies` as a `Cookie` header,
    /// `form` urlencoded.
    pub async fn call(&self, method: &str, path: &str, cookies: &str, form: Option<&str>) -> Reply {
        let cookie = if cookies.is_empty() { String::new() } else { format!("Cookie: {cookies}\r\n") };
        let body = form.unwrap_or_default();
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n{cookie}\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            self.addr,
            body.len()
        );
        exchange(self.addr, request.into_bytes()).await
    }

    pub async fn get(&self, path: &str, cookies: &str) -> Reply {
        self.call("GET", path, cookies, None).await
    }

    /// A `Location` on this site, as a path.
    pub fn local(&self, location: &str) -> String {
        location.strip_prefix(&format!("http://{}", self.addr)).unwrap_or(location).to_string()
    }
}

/// An HTTP response: status, headers (lower-case names), body as text and
/// as bytes.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub bytes: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    pub fn cookies(&self) -> Vec<&str> {
        self.headers.iter().filter(|(n, _)| n == "set-cookie").map(|(_, v)| v.as_str()).collect()
    }

    /// The CSRF token of the page's forms.
    pub fn csrf(&self) -> String {
        let at = self.body.find("name=\"csrf\" value=\"").expect("a form with a CSRF token") + 19;
        self.body[at..at + 64].to_string()
    }
}

/// Sends one raw HTTP/1.1 request (`Connection: close`) and reads the reply.
/// The server may answer before reading all of it (413, say).
pub async fn exchange(addr: std::net::SocketAddr, request: Vec<u8>) -> Reply {
    use std::io::{Read, Write};
    tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let _ = stream.write_all(&request);
        let mut response = Vec::new();
        let _ = stream.read_to_end(&mut response);
        let split = response.windows(4).position(|w| w == b"\r\n\r\n").expect("a response head") + 4;
        let head = String::from_utf8_lossy(&response[..split]).to_string();
        let bytes = response[split..].to_vec();
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        let headers = head
            .lines()
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        Reply { status, headers, body: String::from_utf8_lossy(&bytes).to_string(), bytes }
    })
    .await
    .unwrap()
}
