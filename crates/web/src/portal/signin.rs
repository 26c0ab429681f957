//! Sign-in (Pro Santé Connect, or the CPS card the browser presents over
//! HTTPS), the return from Pro Santé Connect, and sign-out.
//!
//! A login starts at `/portail/connexion/psc`: the PSC flow's `state` (and
//! the page to come back to) go into a short-lived cookie, so that only the
//! browser that started a login can finish it (no login CSRF). PSC returns
//! to the API's callback, which hands a login carrying that cookie here.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Extension, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::html;
use mss_http::percent_encode;
use mss_identity::{Method, Person};
use mss_store::{NewAuditEntry, now_unix};
use serde::Deserialize;

use super::layout::{self, Section};
use super::session::{self, LOGIN_COOKIE, Posted, SESSION_COOKIE, safe_target};
use crate::{ClientAddress, PresentedCertificate, Problem, Web};

/// How long a person has to come back from PSC (the client's own limit).
const LOGIN_TTL: i64 = 600;

pub fn router() -> Router<Arc<Web>> {
    Router::new()
        .route("/portail/connexion", get(sign_in_page))
        .route("/portail/connexion/psc", get(start_psc))
        .route("/portail/connexion/cps", get(card_login))
        .route("/portail/deconnexion", post(sign_out))
}

#[derive(Deserialize)]
struct SignInQuery {
    suite: Option<String>,
    expiree: Option<String>,
    deconnecte: Option<String>,
    login_hint: Option<String>,
}

async fn sign_in_page(State(web): State<Arc<Web>>, Query(query): Query<SignInQuery>) -> Response {
    let target = safe_target(query.suite.as_deref());
    let psc_link = format!("/portail/connexion/psc?suite={}", percent_encode(&target));
    let main = html! {
        @if query.expiree.is_some() {
            (layout::alert("erreur", "Votre session a expiré, veuillez vous reconnecter."))
        }
        @if query.deconnecte.is_some() {
            (layout::alert("succes", "Vous êtes déconnecté. À bientôt."))
        }
        section class="carte" aria-labelledby="titre-psc" {
            h2 id="titre-psc" { "Pro Santé Connect" }
            p { "Connectez-vous avec votre e-CPS ou votre carte CPS par Pro Santé Connect, le service d'identification des professionnels de santé." }
            @if web.psc.is_some() {
                p { a class="bouton" href=(psc_link) { "Se connecter avec Pro Santé Connect" } }
            } @else {
                p { "Pro Santé Connect n'est pas configuré sur cet opérateur." }
            }
        }
        @if let Some(account) = &web.account {
            section class="carte" aria-labelledby="titre-compte" {
                h2 id="titre-compte" { (account.name) }
                p { "Vous avez lié votre compte " (account.name) " à votre identité ? Connectez-vous avec lui, comme depuis votre logiciel de pharmacie." }
                p { a class="bouton secondaire" href=(format!("/portail/connexion/compte?suite={}", percent_encode(&target))) { "Se connecter avec " (account.name) } }
            }
        }
        section class="carte" aria-labelledby="titre-cps" {
            h2 id="titre-cps" { "Carte CPS sur ce poste" }
            @if web.cps.is_some() && web.https {
                p { "Sur un poste équipé d'un lecteur et du logiciel de la carte CPS, votre navigateur présente le certificat de la carte : choisissez-le s'il vous le demande, puis saisissez le code de la carte." }
                p { a class="bouton" href=(format!("/portail/connexion/cps?suite={}", percent_encode(&target))) { "Se connecter avec la carte CPS" } }
            } @else {
                p { "La connexion par carte CPS se fait ici sur le site sécurisé (HTTPS) de l'opérateur ; votre logiciel de pharmacie (ou un client de messagerie) peut aussi l'utiliser. Pro Santé Connect accepte aussi la carte CPS." }
            }
        }
    };
    layout::page(&web, "Connexion", None, Section::None, main).into_response()
}

async fn start_psc(
    State(web): State<Arc<Web>>,
    ClientAddress(client): ClientAddress,
    Query(query): Query<SignInQuery>,
) -> Response {
    let Some(psc) = web.psc.as_ref() else {
        let message = "Pro Santé Connect n'est pas configuré sur cet opérateur.";
        return layout::error_page(&web, StatusCode::NOT_FOUND, "Connexion impossible", message, None);
    };
    match psc.start(query.login_hint.as_deref(), client).await {
        Ok((url, state)) => {
            let target = safe_target(query.suite.as_deref());
            let cookie = session::set_cookie(&web, LOGIN_COOKIE, &format!("{state}~{target}"), LOGIN_TTL);
            ([(header::SET_COOKIE, cookie)], Redirect::to(&url)).into_response()
        }
        Err(e) => {
            let problem = Problem::from(e);
            layout::error_page(&web, problem.status, "Connexion impossible", &problem.detail, None)
        }
    }
}

/// Login with the CPS card the browser presented in the TLS handshake.
async fn card_login(
    State(web): State<Arc<Web>>,
    Query(query): Query<SignInQuery>,
    presented: Option<Extension<PresentedCertificate>>,
) -> Response {
    let target = safe_target(query.suite.as_deref());
    let Some(authority) = web.cps.as_ref() else {
        let message = "La connexion par carte CPS n'est pas configurée sur cet opérateur.";
        return layout::error_page(&web, StatusCode::NOT_FOUND, "Connexion impossible", message, None);
    };
    let Some(Extension(PresentedCertificate(chain))) = presented else {
        let message = "Aucune carte CPS n'a été présentée : vérifiez que la carte est dans le lecteur et que le logiciel \
             de la carte est installé, puis rechargez la page et choisissez le certificat de la carte.";
        return layout::error_page(&web, StatusCode::UNAUTHORIZED, "Connexion refusée", message, None);
    };
    let person = authority.verify_presented(&chain).map_err(|e| {
        tracing::warn!(error = %e, "portal: CPS card refused");
        Problem::unauthenticated("Ce certificat n'est pas celui d'une carte CPS reconnue.")
    });
    if let Ok(person) = &person {
        let actor = person.national_id.to_string();
        web.store.audit.record(NewAuditEntry::now(&actor, "session.login", &actor, "ok", "method=cps-tls")).await;
    }
    finish_login(&web, person, Method::Cps, &target).await
}

/// The page to go to after the login whose PSC `state` this is, if this
/// browser started it from the portal.
pub(crate) fn portal_login(web: &Web, headers: &HeaderMap, state: &str) -> Option<String> {
    let cookie = session::read_cookie(web, headers, LOGIN_COOKIE)?;
    let (started, target) = cookie.split_once('~')?;
    (!state.is_empty() && started == state).then(|| safe_target(Some(target)))
}

/// Opens the portal session of the person PSC or the card proved, and goes
/// to `target`.
pub(crate) async fn finish_login(web: &Web, person: Result<Person, Problem>, method: Method, target: &str) -> Response {
    let clear_login = (header::SET_COOKIE, session::set_cookie(web, LOGIN_COOKIE, "", 0));
    let person = match person {
        Ok(person) => person,
        Err(problem) => {
            let message = format!("{} Recommencez la connexion.", problem.detail);
            let page = layout::error_page(web, StatusCode::UNAUTHORIZED, "Connexion refusée", &message, None);
            return ([clear_login], page).into_response();
        }
    };
    match web.sessions.open_portal(&person, method, now_unix()).await {
        Ok(token) => {
            let cookie = session::set_cookie(web, SESSION_COOKIE, &token, web.sessions.refresh_ttl);
            let mut response = Redirect::to(target).into_response();
            let headers = response.headers_mut();
            headers.append(header::SET_COOKIE, clear_login.1);
            headers.append(header::SET_COOKIE, cookie);
            response
        }
        Err(e) => layout::unavailable(e),
    }
}

#[derive(Deserialize)]
struct Nothing {}

async fn sign_out(State(web): State<Arc<Web>>, posted: Posted<Nothing>) -> Response {
    let Posted { visitor, form: Nothing {} } = posted;
    if let Err(e) = web.sessions.close(&visitor.caller.0.session, now_unix()).await {
        return layout::unavailable(e);
    }
    let actor = visitor.actor();
    web.store.audit.record(NewAuditEntry::now(actor.clone(), "session.logout", actor, "ok", "method=portal")).await;
    let cookie = session::set_cookie(&web, SESSION_COOKIE, "", 0);
    ([(header::SET_COOKIE, cookie)], Redirect::to("/portail/connexion?deconnecte=1")).into_response()
}
