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
