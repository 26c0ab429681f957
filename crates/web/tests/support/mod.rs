//! What the tests of this crate share: a [`Web`] on a fresh store with the
//! defaults every test starts from (domain `ours.test`, no PSC, no CPS, no
//! sending), which a test changes with struct update syntax.
#![allow(dead_code)] // each test file uses its own part of these helpers

use std::sync::Arc;
use std::time::Duration;

use mss_directory::annuaire::Annuaire;
use mss_identity::{SessionAuthority, TokenKey};
use mss_store::{Store, StoreConfig};
use mss_web::{Cgu, Web};

/// The CGU version every test site asks for.
pub const CGU: &str = "2026-01";

/// A store in `dir` and the sessions that trust its tokens.
pub async fn store(dir: &std::path::Path) -> (Store, Arc<SessionAuthority>) {
    let store = Store::open(&StoreConfig::Embedded { dir: dir.to_path_buf() }).await.unwrap();
    let sessions =
        Arc::new(SessionAuthority::new(Arc::new(TokenKey::generate("ours.test").unwrap()), store.meta.clone()));
    (store, sessions)
}

/// The defaults: the Annuaire of `dir`, validation without delay.
pub fn web(dir: &std::path::Path, store: &Store, sessions: &Arc<SessionAuthority>) -> Web {
    Web {
        store: store.clone(),
        domain: "ours.test".parse().unwrap(),
        sessions: sessions.clone(),
        cgu: Cgu { version: CGU.into(), url: "/cgu".into() },
        validation_delay: Duration::from_secs(0),
        psc: None,
        cps: None,
        annuaire: Arc::new(Annuaire::new(&dir.join("annuaire"), None)),
        https: false,
        sending: None,
    }
}

/// Serves `app` on a free loopback port until the test ends.
pub async fn serve(app: axum::Router) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
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
