//! The portal session: a cookie holding a token that names an operator
//! session (`SessionAuthority::open_portal`), checked on every request so
//! that sign-out and revocation take effect at once; and the CSRF token of
//! that session, which every form that changes something must carry.
//!
//! - The cookie is `HttpOnly`, `SameSite=Lax`, `Path=/`; over HTTPS it is
//!   also `Secure` with the `__Host-` prefix (so no subdomain can set it).
//! - The CSRF token is a keyed BLAKE3 hash of the cookie: bound to the
//!   session, the same on every node, unknown to another site.

use std::sync::Arc;

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use mss_http::percent_encode;
use mss_identity::SessionError;
use mss_store::{NewAuditEntry, now_unix};
use serde::de::DeserializeOwned;

use super::layout;
use crate::Caller;
use crate::Web;

/// The session cookie's name (over HTTPS: `__Host-` + this).
pub const SESSION_COOKIE: &str = "mss-portail";
/// The cookie that binds a Pro Santé Connect login to this browser.
pub const LOGIN_COOKIE: &str = "mss-connexion";
/// Largest form body accepted, in bytes.
const MAX_FORM_BYTES: usize = 64 * 1024;
const CSRF_CONTEXT: &str = "mss portail 2026-11 CSRF token of a session cookie";

/// How a session or a login was opened (`psc`, `cps`, `imap`…), in French;
/// `account` is what the operator calls its vendor's accounts, if any.
pub fn method_name(method: &str, account: Option<&str>) -> String {
    match method {
        "psc" => "Pro Santé Connect".into(),
        "cps" | "cps-tls" => "Carte CPS".into(),
        "imap" => "IMAP (logiciels de messagerie)".into(),
        "smtp" => "SMTP (envois depuis un logiciel)".into(),
        "account" => account.unwrap_or("Compte de l'éditeur").to_string(),
        other => other.to_string(),
    }
}

/// The cookie's name as this site uses it.
pub fn cookie_name(web: &Web, base: &str) -> String {
    if web.https { format!("__Host-{base}") } else { base.to_string() }
}

/// A `Set-Cookie` value; `max_age` 0 deletes the cookie.
pub fn set_cookie(web: &Web, base: &str, value: &str, max_age: i64) -> HeaderValue {
    let secure = if web.https { "; Secure" } else { "" };
    let text = format!("{}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}", cookie_name(web, base));
    // Values are base64url tokens and safe paths: always a valid header.
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("mss-invalide=; Max-Age=0"))
}

/// The value of the cookie `base` in the request, if any.
pub fn read_cookie(web: &Web, headers: &HeaderMap, base: &str) -> Option<String> {
    let name = cookie_name(web, base);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .flat_map(|h| h.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.to_string())
}

/// A signed-in person on a portal page.
pub struct Visitor {
    pub caller: Caller,
    csrf: blake3::Hash,
}

impl Visitor {
    /// The CSRF token forms carry in their `csrf` field.
    pub fn csrf(&self) -> String {
        self.csrf.to_hex().to_string()
    }

    pub fn csrf_matches(&self, token: Option<&str>) -> bool {
        // blake3::Hash compares in constant time.
        token.and_then(|t| blake3::Hash::from_hex(t).ok()).is_some_and(|t| t == self.csrf)
    }

    pub fn actor(&self) -> String {
        self.caller.actor()
    }
}

/// Where the sign-in page sends the person back to, after a login: only a
/// portal page (never another site), in characters a cookie value may hold.
pub fn safe_target(target: Option<&str>) -> String {
    match target {
        Some(t)
            if t.starts_with("/portail/")
                && !t.contains("//")
                && t.chars().all(|c| c.is_ascii_graphic() && !matches!(c, '\\' | '~' | ';' | ',' | '"')) =>
        {
            t.to_string()
        }
        _ => super::HOME.to_string(),
    }
}

fn to_sign_in(web: &Web, parts: &Parts, expired: bool) -> Response {
    let target = if parts.method == axum::http::Method::GET {
        parts.uri.path_and_query().map(|p| p.as_str().to_string())
    } else {
        None
    };
    let target = safe_target(target.as_deref());
    let flag = if expired { "&expiree=1" } else { "" };
    let mut response =
        Redirect::to(&format!("/portail/connexion?suite={}{flag}", percent_encode(&target))).into_response();
    if expired {
        response.headers_mut().insert(header::SET_COOKIE, set_cookie(web, SESSION_COOKIE, "", 0));
    }
    response
}

impl FromRequestParts<Arc<Web>> for Visitor {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, web: &Arc<Web>) -> Result<Self, Self::Rejection> {
        let Some(token) = read_cookie(web, &parts.headers, SESSION_COOKIE).filter(|t| !t.is_empty()) else {
            return Err(to_sign_in(web, parts, false));
        };
        match web.sessions.verify_portal(&token, now_unix()).await {
            Ok(who) => {
                let csrf = blake3::Hasher::new_derive_key(CSRF_CONTEXT).update(token.as_bytes()).finalize();
                Ok(Visitor { caller: Caller(who), csrf })
            }
            Err(SessionError::Store(e)) => Err(layout::unavailable(e)),
            Err(e) => {
                tracing::debug!(error = %e, "portal: session refused");
                Err(to_sign_in(web, parts, true))
            }
        }
    }
}

/// A form posted by a signed-in person, with the CSRF token of their
/// session; any other post is refused (403) and changes nothing.
pub struct Posted<T> {
    pub visitor: Visitor,
    pub form: T,
}

#[derive(serde::Deserialize)]
struct CsrfField {
    csrf: Option<String>,
}

impl<T: DeserializeOwned + Send> FromRequest<Arc<Web>> for Posted<T> {
    type Rejection = Response;

    async fn from_request(request: Request, web: &Arc<Web>) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = request.into_parts();
        let visitor = Visitor::from_request_parts(&mut parts, web).await?;
        let refuse = async |why: &str| {
            let path = parts.uri.path().to_string();
            web.store
                .audit
                .record(NewAuditEntry::now(visitor.actor(), "portal.post", path, format!("refused: {why}"), ""))
                .await;
        };
        let Ok(bytes) = axum::body::to_bytes(body, MAX_FORM_BYTES).await else {
            refuse("form too large").await;
            let message = "Le formulaire envoyé est trop volumineux.";
            return Err(layout::error_page(web, StatusCode::PAYLOAD_TOO_LARGE, "Formulaire refusé", message, None));
        };
        let csrf: Option<CsrfField> = serde_urlencoded::from_bytes(&bytes).ok();
        if !visitor.csrf_matches(csrf.as_ref().and_then(|c| c.csrf.as_deref())) {
            refuse("csrf token missing or wrong").await;
            let message = "Le jeton de sécurité du formulaire est absent ou ne correspond pas à votre session. \
                 Revenez à la page précédente, rechargez-la et recommencez.";
            return Err(layout::error_page(web, StatusCode::FORBIDDEN, "Demande refusée", message, Some(&visitor)));
        }
        let parsed: Result<T, String> = serde_urlencoded::from_bytes(&bytes).map_err(|e| e.to_string());
        match parsed {
            Ok(form) => Ok(Posted { visitor, form }),
            Err(e) => {
                refuse(&format!("unreadable form: {e}")).await;
                let message = "Le formulaire envoyé est illisible : rechargez la page et recommencez.";
                Err(layout::error_page(web, StatusCode::BAD_REQUEST, "Formulaire refusé", message, Some(&visitor)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_portal_pages_are_targets() {
        assert_eq!(safe_target(Some("/portail/boites/a@b.test/membres")), "/portail/boites/a@b.test/membres");
        for bad in [
            "https://evil.test/",
            "//evil.test/",
            "/portail//evil",
            "/api/me",
            "/portail/\\x",
            "/portail/a b",
            "/portail/a;b",
        ] {
            assert_eq!(safe_target(Some(bad)), super::super::HOME, "{bad}");
        }
        assert_eq!(safe_target(None), super::super::HOME);
    }
}
