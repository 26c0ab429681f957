//! « Mon compte », and signing in with the software vendor's account system
//! (« Mon Compte Personnel », [`mss_identity::account`]): how the pharmacy
//! reaches its mail from its software without Pro Santé Connect each time.
//!
//! - Linking: a person signed in with Pro Santé Connect or their CPS card
//!   (never with a linked account) asks to link; the provider proves the
//!   account; it is linked to them (`mss_store::AccountLinkStore`), the one
//!   they had there before unlinked. An account linked to someone else is
//!   refused.
//! - Signing in: the provider proves the account; the person it is linked
//!   to gets a portal session (method `account`). An account linked to
//!   nobody signs no one in, and is told how to link it.
//!
//! Both start with a cookie naming the flow's `state` (as the PSC login
//! does), so only the browser that started a flow can finish it: no login
//! or linking CSRF. Everything is audited, done or refused.

use std::net::IpAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRequestParts, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::html;
use mss_identity::account::AccountLogin;
use mss_identity::{Method, Person};
use mss_store::{AccountLink, NewAuditEntry, StoreError, now_unix};
use serde::Deserialize;

use super::layout::{self, Section};
use super::mail::french_date;
use super::session::{self, LOGIN_COOKIE, Posted, Visitor, safe_target};
use super::signin::{finish_login, portal_login};
use crate::{ClientAddress, Problem, Web};

/// The cookie that binds a linking to the browser that asked it.
const LINK_COOKIE: &str = "mss-lien";
/// How long a person has to come back from the provider.
const FLOW_TTL: i64 = 600;
/// Where the provider sends people back (registered with it).
pub const CALLBACK: &str = "/portail/compte/retour";

pub fn router() -> Router<Arc<Web>> {
    Router::new()
        .route("/portail/compte", get(page))
        .route("/portail/compte/lier", post(link))
        .route("/portail/compte/delier", post(unlink))
        .route("/portail/connexion/compte", get(sign_in))
        .route(CALLBACK, get(callback))
}

#[derive(Deserialize)]
struct Shown {
    fait: Option<String>,
}

/// What the person is, how they signed in, and their linked account.
async fn page(State(web): State<Arc<Web>>, Query(shown): Query<Shown>, visitor: Visitor) -> Response {
    let person = &visitor.caller.0.person;
    let method = visitor.caller.0.method.as_str();
    let linked = match &web.account {
        Some(account) => match web.store.meta.linked_account(account.issuer(), &person.national_id).await {
            Ok(linked) => linked,
            Err(e) => return layout::unavailable(e),
        },
        None => None,
    };
    let csrf = visitor.csrf();
    let done = match shown.fait.as_deref() {
        Some("lie") => Some("Votre compte est lié : il vous connecte désormais à la messagerie."),
        Some("delie") => Some("Votre compte n'est plus lié : il ne vous connecte plus."),
        _ => None,
    };
    let main = html! {
        @if let Some(done) = done { (layout::alert("succes", done)) }
        section class="carte" aria-labelledby="identite" {
            h2 id="identite" { "Votre identité" }
            dl class="identite" {
                dt { "Nom" } dd { (person.display_name()) }
                dt { "Identifiant national" } dd { (person.national_id.to_string()) }
                dt { "Connexion" } dd { (session::method_name(method, web.account.as_deref().map(|a| a.name.as_str()))) }
            }
        }
        @if let Some(account) = &web.account {
            section class="carte" aria-labelledby="compte" {
                h2 id="compte" { (account.name) }
                @match &linked {
                    Some(link) => {
                        p { "Votre compte " (account.name) " est lié à votre identité depuis le " (french_date(link.linked_at)) " : il vous connecte à la messagerie, depuis votre logiciel par exemple." }
                        form method="post" action="/portail/compte/delier" {
                            input type="hidden" name="csrf" value=(csrf);
                            button type="submit" class="danger" { "Délier ce compte" }
                        }
                    }
                    None => {
                        p { "Liez votre compte " (account.name) " à votre identité pour vous connecter avec lui, depuis votre logiciel de pharmacie par exemple, sans passer par Pro Santé Connect à chaque fois." }
                    }
                }
                @if Method::is_strong(method) {
                    form method="post" action="/portail/compte/lier" {
                        input type="hidden" name="csrf" value=(csrf);
                        button type="submit" class=[linked.is_some().then_some("secondaire")] {
                            @if linked.is_some() { "Lier un autre compte" } @else { "Lier mon compte " (account.name) }
                        }
                    }
                } @else {
                    p { "Pour lier un compte, connectez-vous avec Pro Santé Connect ou votre carte CPS." }
                }
            }
        }
    };
    layout::page(&web, "Mon compte", Some(&visitor), Section::Account, main).into_response()
}

/// The page saying the operator has no account system.
fn no_provider(web: &Web, visitor: Option<&Visitor>) -> Response {
    let message = "Aucun compte d'éditeur n'est configuré sur cet opérateur.";
    layout::error_page(web, StatusCode::NOT_FOUND, "Connexion impossible", message, visitor)
}

/// Sends the person at `client` to the provider, the flow bound to this
/// browser by the cookie `cookie` holding `value(state)`.
async fn start(
    web: &Web,
    account: &AccountLogin,
    client: IpAddr,
    cookie: &str,
    value: impl Fn(&str) -> String,
) -> Response {
    match account.start(client).await {
        Ok((url, state)) => {
            let cookie = session::set_cookie(web, cookie, &value(&state), FLOW_TTL);
            ([(header::SET_COOKIE, cookie)], Redirect::to(&url)).into_response()
        }
        Err(e) => {
            let problem = Problem::login_failed(&account.name, e);
            layout::error_page(web, problem.status, "Connexion impossible", &problem.detail, None)
        }
    }
}

#[derive(Deserialize)]
struct Nothing {}

async fn link(
    State(web): State<Arc<Web>>,
    ClientAddress(client): ClientAddress,
    Posted { visitor, form: Nothing {} }: Posted<Nothing>,
) -> Response {
    let Some(account) = web.account.clone() else {
        return no_provider(&web, Some(&visitor));
    };
    if !Method::is_strong(&visitor.caller.0.method) {
        let actor = visitor.actor();
        let entry = NewAuditEntry::now(actor.clone(), "account.link", actor, "refused: weak login", "");
        web.store.audit.record(entry).await;
        let message = "Pour lier un compte, connectez-vous avec Pro Santé Connect ou votre carte CPS.";
        return layout::error_page(&web, StatusCode::FORBIDDEN, "Liaison refusée", message, Some(&visitor));
    }
    start(&web, &account, client, LINK_COOKIE, str::to_string).await
}

async fn unlink(State(web): State<Arc<Web>>, Posted { visitor, form: Nothing {} }: Posted<Nothing>) -> Response {
    let Some(account) = web.account.clone() else {
        return no_provider(&web, Some(&visitor));
    };
    let person = &visitor.caller.0.person.national_id;
    match web.store.meta.unlink_account(account.issuer(), person).await {
        Ok(removed) => {
            let actor = visitor.actor();
            let result = if removed { "ok" } else { "refused: not linked" };
            web.store.audit.record(NewAuditEntry::now(actor.clone(), "account.unlink", actor, result, "")).await;
            Redirect::to("/portail/compte?fait=delie").into_response()
        }
        Err(e) => layout::unavailable(e),
    }
}

#[derive(Deserialize)]
struct SignIn {
    suite: Option<String>,
}

async fn sign_in(
    State(web): State<Arc<Web>>,
    ClientAddress(client): ClientAddress,
    Query(query): Query<SignIn>,
) -> Response {
    let Some(account) = web.account.clone() else {
        return no_provider(&web, None);
    };
    let target = safe_target(query.suite.as_deref());
    start(&web, &account, client, LOGIN_COOKIE, |state| format!("{state}~{target}")).await
}

#[derive(Deserialize)]
struct Returned {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// The provider's redirect back: a linking, or a sign-in, whichever this
/// browser started with this `state`.
async fn callback(State(web): State<Arc<Web>>, request: Request) -> Response {
    let (mut parts, _) = request.into_parts();
    let Query(returned) = match Query::<Returned>::try_from_uri(&parts.uri) {
        Ok(query) => query,
        Err(_) => return refused(&web, "La réponse du fournisseur d'identité est illisible."),
    };
    let Some(account) = web.account.clone() else {
        return no_provider(&web, None);
    };
    let state = returned.state.clone().unwrap_or_default();
    let linking =
        session::read_cookie(&web, &parts.headers, LINK_COOKIE).is_some_and(|s| !state.is_empty() && s == state);
    if linking {
        let visitor = match Visitor::from_request_parts(&mut parts, &web).await {
            Ok(visitor) => visitor,
            Err(response) => return response,
        };
        let clear = (header::SET_COOKIE, session::set_cookie(&web, LINK_COOKIE, "", 0));
        return ([clear], finish_link(&web, &account, &visitor, returned).await).into_response();
    }
    let Some(target) = portal_login(&web, &parts.headers, &state) else {
        return refused(&web, "Connexion expirée ou commencée dans un autre navigateur : recommencez.");
    };
    let person = account_person(&web, &account, returned).await;
    finish_login(&web, person, Method::Account, &target).await
}

fn refused(web: &Web, message: &str) -> Response {
    layout::error_page(web, StatusCode::BAD_REQUEST, "Connexion refusée", message, None)
}

/// The account the provider proved, or why not (audited as `action`).
async fn proven(
    web: &Web,
    account: &AccountLogin,
    returned: Returned,
    actor: &str,
    action: &str,
) -> Result<String, Problem> {
    let audit = async |result: String| {
        web.store.audit.record(NewAuditEntry::now(actor, action, actor, result, "method=account")).await;
    };
    let (Some(code), Some(state)) = (returned.code, returned.state) else {
        let why = returned.error.unwrap_or_else(|| "no code".into());
        audit(format!("refused: {why}")).await;
        return Err(Problem::unauthenticated(format!("{} a refusé la connexion.", account.name)));
    };
    match account.finish(&code, &state).await {
        Ok(subject) => Ok(subject),
        Err(e) => {
            audit(format!("refused: {e}")).await;
            Err(Problem::login_failed(&account.name, e))
        }
    }
}

/// Links the account the provider proved to the visitor.
async fn finish_link(web: &Web, account: &AccountLogin, visitor: &Visitor, returned: Returned) -> Response {
    let actor = visitor.actor();
    let subject = match proven(web, account, returned, &actor, "account.link").await {
        Ok(subject) => subject,
        Err(p) => return layout::error_page(web, p.status, "Liaison refusée", &p.detail, Some(visitor)),
    };
    let person = &visitor.caller.0.person;
    let link = AccountLink {
        issuer: account.issuer().to_string(),
        subject: subject.clone(),
        national_id: person.national_id.clone(),
        first_name: person.first_name.clone(),
        last_name: person.last_name.clone(),
        linked_at: now_unix(),
    };
    let audit = async |result: &str| {
        let entry =
            NewAuditEntry::now(actor.clone(), "account.link", actor.clone(), result, format!("account={subject}"));
        web.store.audit.record(entry).await;
    };
    match web.store.meta.link_account(&link).await {
        Ok(()) => {
            audit("ok").await;
            Redirect::to("/portail/compte?fait=lie").into_response()
        }
        Err(StoreError::AlreadyPresent(_)) => {
            audit("refused: linked to another person").await;
            let message = format!(
                "Ce compte {} est déjà lié à une autre personne : connectez-vous avec votre propre compte, ou demandez à cette personne de le délier.",
                account.name
            );
            layout::error_page(web, StatusCode::CONFLICT, "Liaison refusée", &message, Some(visitor))
        }
        Err(e) => layout::unavailable(e),
    }
}

/// The person the proven account is linked to.
async fn account_person(web: &Web, account: &AccountLogin, returned: Returned) -> Result<Person, Problem> {
    let subject = proven(web, account, returned, "anonymous", "session.login").await?;
    let link = web.store.meta.account_link(account.issuer(), &subject).await.map_err(Problem::unavailable)?;
    let Some(link) = link else {
        let entry =
            NewAuditEntry::now("anonymous", "session.login", "", "refused: account not linked", "method=account");
        web.store.audit.record(entry).await;
        return Err(Problem::unauthenticated(format!(
            "Ce compte {} n'est lié à aucune identité. Connectez-vous une première fois avec Pro Santé Connect ou votre \
             carte CPS, puis liez-le depuis « Mon compte ».",
            account.name
        )));
    };
    let actor = link.national_id.to_string();
    web.store.audit.record(NewAuditEntry::now(&actor, "session.login", &actor, "ok", "method=account")).await;
    Ok(Person { national_id: link.national_id, first_name: link.first_name, last_name: link.last_name, finess: vec![] })
}
