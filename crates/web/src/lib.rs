//! HTTP for mss: the REST API under `/api` (described by `/api/openapi.json`),
//! the portal under `/portail` (server-rendered pages in French), the health
//! and readiness checks, the status page, and mail clients'
//! autoconfiguration ([`autoconfig`]).
//!
//! Rules kept here:
//! - every request that changes something is authenticated by a session
//!   token and authorised by `mss-core` (roles, delegation), never by the
//!   client's say-so;
//! - every refusal is an RFC 9457 `application/problem+json` with a French
//!   `detail` for the person, and changes nothing;
//! - every action and refusal goes to the audit trail;
//! - the API (`api`) and the portal (`portal`) never import each other: the
//!   use cases are `mss_ops`'s, and what both need of this site lives in
//!   `shared`, `problem` and `psc_callback` (which routes between them).

pub mod api;
pub mod autoconfig;
pub mod metrics;
mod pages;
mod portal;
mod problem;
mod psc_callback;
mod shared;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use mss_core::Domain;
use mss_directory::annuaire::Annuaire;
use mss_identity::SessionAuthority;
use mss_identity::cps::CpsAuthority;
use mss_identity::psc::client::PscLogin;
use mss_smtp::Submitter;
use mss_store::Store;

pub use portal::ACCOUNT_CALLBACK;
pub use problem::Problem;
pub use shared::Caller;

/// The current terms of use (CGU) every creation must accept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cgu {
    pub version: String,
    pub url: String,
    /// The text `/cgu` shows (a small Markdown: `#` headings, paragraphs).
    pub text: String,
}

impl Cgu {
    /// The French default text, for an operator that has written none.
    pub const DEFAULT_TEXT: &'static str = portal::DEFAULT_CGU_TEXT;
}

/// What the HTTP handlers share.
pub struct Web {
    pub store: Store,
    pub domain: Domain,
    pub sessions: Arc<SessionAuthority>,
    pub cgu: Cgu,
    /// Time the ANS is given to validate a new mailbox (24 h in production).
    pub validation_delay: Duration,
    /// Pro Santé Connect (the real one, or the simulator).
    pub psc: Option<Arc<PscLogin>>,
    /// The software vendor's account system (« Mon Compte Personnel »),
    /// when the operator has one.
    pub account: Option<Arc<mss_identity::account::AccountLogin>>,
    /// The trust anchors the pharmacy software's organisation certificate
    /// chains to, when the API takes certificates (HTTPS).
    pub software_trust: Option<mss_trust::ServerTrust>,
    /// CPS card logins, checked against the CPS CA.
    pub cps: Option<Arc<CpsAuthority>>,
    /// The Annuaire Santé snapshot searched by `/api/annuaire`.
    pub annuaire: Arc<Annuaire>,
    /// People reach this site over HTTPS: the portal's cookies are `Secure`
    /// with the `__Host-` prefix.
    pub https: bool,
    /// Sending from the webmail; without it the webmail only reads.
    pub sending: Option<Sending>,
    /// The operator runs in development mode (simulators allowed): every
    /// page says so in its footer.
    pub development: bool,
    /// Where mail clients reach us, for their autoconfiguration; without
    /// it there is none.
    pub clients: Option<autoconfig::ClientServices>,
    /// Who administers the operator: the portal's console is theirs.
    pub operator_admins: Vec<mss_core::NationalId>,
}

/// The certificate chain a TLS client presented on its connection (leaf
/// first, DER), checked by the handshake: the HTTPS listener puts it in the
/// request's extensions. A CPS card or the pharmacy software's organisation
/// certificate, in practice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresentedCertificate(pub Vec<Vec<u8>>);

/// The address of the client a request came from: the HTTPS listener puts
/// it in the request's extensions; logins started count against it
/// ([`mss_identity::flows`]). A request without (the plain HTTP listener,
/// a test calling the routes directly) counts as from `0.0.0.0`, one
/// client for all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress(pub std::net::IpAddr);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        let unknown = ClientAddress(std::net::Ipv4Addr::UNSPECIFIED.into());
        Ok(parts.extensions.get::<ClientAddress>().copied().unwrap_or(unknown))
    }
}

/// What the webmail needs to send.
pub struct Sending {
    /// Routes and stores the message, as SMTP submission does.
    pub submitter: Arc<Submitter>,
    /// Our host name, in the `Received:` and `Message-ID:` headers.
    pub hostname: String,
    /// The largest message, attachments included, once encoded.
    pub max_message_bytes: usize,
    /// The product's reference every message it builds carries (`X-MSS-NIL`).
    pub product: String,
}

/// Every route of the HTTP listener.
pub fn router(web: Arc<Web>) -> Router {
    Router::new()
        .merge(pages::router())
        .merge(autoconfig::router())
        .merge(portal::router())
        .route(psc_callback::PATH, axum::routing::get(psc_callback::callback))
        .nest("/api", api::router())
        .with_state(web)
}
