//! How mail clients find our servers by themselves, from the listeners
//! `mss serve` runs ([`ClientServices`]): Thunderbird's autoconfiguration
//! (`/.well-known/autoconfig/mail/config-v1.1.xml`, and
//! `/mail/config-v1.1.xml` as asked on the `autoconfig.` host) and Outlook's
//! autodiscover (POX, `POST /autodiscover/autodiscover.xml`). The DNS side
//! (MX, RFC 6186 SRV records) is `mss dns`'s. Implicit TLS is offered first
//! (RFC 8314), then STARTTLS; clients authenticate with OAuth2 (Pro Santé
//! Connect), or in development with a bearer token as password.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use mss_core::EmailAddress;

use crate::Web;

/// The largest autodiscover request read.
const MAX_REQUEST_BYTES: usize = 16 * 1024;

/// Where mail clients reach us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientServices {
    /// The host name in our certificate.
    pub host: String,
    pub imap: Option<u16>,
    pub imaps: Option<u16>,
    pub submission: Option<u16>,
    pub submissions: Option<u16>,
    /// Development: a bearer token is also taken as a password.
    pub token_as_password: bool,
}

/// One server a client may use.
struct Offer {
    port: u16,
    implicit_tls: bool,
}

impl ClientServices {
    fn offers(implicit: Option<u16>, starttls: Option<u16>) -> Vec<Offer> {
        let implicit = implicit.map(|port| Offer { port, implicit_tls: true });
        implicit.into_iter().chain(starttls.map(|port| Offer { port, implicit_tls: false })).collect()
    }

    fn incoming(&self) -> Vec<Offer> {
        Self::offers(self.imaps, self.imap)
    }

    fn outgoing(&self) -> Vec<Offer> {
        Self::offers(self.submissions, self.submission)
    }
}

pub fn router() -> Router<Arc<Web>> {
    Router::new()
        .route("/.well-known/autoconfig/mail/config-v1.1.xml", get(thunderbird))
        .route("/mail/config-v1.1.xml", get(thunderbird))
        .route("/autodiscover/autodiscover.xml", post(outlook))
        .route("/Autodiscover/Autodiscover.xml", post(outlook))
}

fn xml(body: String) -> Response {
    ([(header::CONTENT_TYPE, HeaderValue::from_static("application/xml; charset=utf-8"))], body).into_response()
}

fn esc(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

async fn thunderbird(State(web): State<Arc<Web>>) -> Response {
    let Some(clients) = &web.clients else { return axum::http::StatusCode::NOT_FOUND.into_response() };
    let domain = esc(web.domain.as_str());
    let host = esc(&clients.host);
    let mut methods = vec!["OAuth2"];
    if clients.token_as_password {
        methods.push("password-cleartext");
    }
    let server = |kind: &str, tag: &str, offer: &Offer| {
        let socket = if offer.implicit_tls { "SSL" } else { "STARTTLS" };
        let auth: String = methods.iter().map(|m| format!("      <authentication>{m}</authentication>\n")).collect();
        format!(
            "    <{tag} type=\"{kind}\">\n      <hostname>{host}</hostname>\n      <port>{}</port>\n      \
             <socketType>{socket}</socketType>\n      <username>%EMAILADDRESS%</username>\n{auth}    </{tag}>\n",
            offer.port
        )
    };
    let incoming: String = clients.incoming().iter().map(|o| server("imap", "incomingServer", o)).collect();
    let outgoing: String = clients.outgoing().iter().map(|o| server("smtp", "outgoingServer", o)).collect();
    xml(format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<clientConfig version=\"1.1\">\n  \
         <emailProvider id=\"{domain}\">\n    <domain>{domain}</domain>\n    \
         <displayName>Messagerie sécurisée de santé ({domain})</displayName>\n    \
         <displayShortName>MSSanté</displayShortName>\n{incoming}{outgoing}  </emailProvider>\n</clientConfig>\n"
    ))
}

async fn outlook(State(web): State<Arc<Web>>, body: Bytes) -> Response {
    let Some(clients) = &web.clients else { return axum::http::StatusCode::NOT_FOUND.into_response() };
    let text = String::from_utf8_lossy(&body[..body.len().min(MAX_REQUEST_BYTES)]);
    let asked = text
        .split_once("<EMailAddress>")
        .and_then(|(_, rest)| rest.split_once("</EMailAddress>"))
        .and_then(|(address, _)| address.trim().parse::<EmailAddress>().ok())
        .filter(|a| a.domain() == &web.domain);
    let login = asked.map(|a| format!("<LoginName>{}</LoginName>", esc(&a.to_string()))).unwrap_or_default();
    let host = esc(&clients.host);
    let protocol = |kind: &str, offer: &Offer| {
        let (ssl, encryption) = if offer.implicit_tls { ("on", "SSL") } else { ("on", "TLS") };
        format!(
            "<Protocol><Type>{kind}</Type><Server>{host}</Server><Port>{}</Port>{login}<DomainRequired>off</DomainRequired>\
             <SPA>off</SPA><SSL>{ssl}</SSL><Encryption>{encryption}</Encryption><AuthRequired>on</AuthRequired></Protocol>",
            offer.port
        )
    };
    let protocols: String = clients
        .incoming()
        .iter()
        .take(1)
        .map(|o| protocol("IMAP", o))
        .chain(clients.outgoing().iter().take(1).map(|o| protocol("SMTP", o)))
        .collect();
    xml(format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n\
         <Autodiscover xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006\">\
         <Response xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a\">\
         <Account><AccountType>email</AccountType><Action>settings</Action>{protocols}</Account></Response></Autodiscover>\n"
    ))
}
