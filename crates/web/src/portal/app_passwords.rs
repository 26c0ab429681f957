//! Application passwords in the portal (`/portail/boites/{address}/mots-de-passe`):
//! a person signed in with Pro Santé Connect or a CPS card makes, for one
//! mailbox they may use, a password for a mail client that cannot do OAuth
//! (a phone's mail application, mbsync): named, for IMAP, sending or both,
//! valid 30, 90 or 365 days. The secret is shown once and never again;
//! their passwords are listed with their last use and revoked from here.
//! A password acts with its maker's rights and stops when they lose access
//! (`mss_identity::login::by_app_password`). Each one made or revoked is
//! traced.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::html;
use mss_core::{Right, Rights};
use mss_store::{AppPassword, Mailbox, NewAppPassword, NewAuditEntry, Scope, now_unix};
use serde::Deserialize;

use super::layout::{self, Section};
use super::mail::{self, french_date};
use super::session::{Posted, Visitor};
use crate::Web;

/// Live passwords one person may hold for one mailbox.
const MAX_LIVE: usize = 10;
/// The validities offered, in days.
const VALIDITIES: [u32; 3] = [30, 90, 365];

pub fn router() -> Router<Arc<Web>> {
    Router::new()
        .route("/portail/boites/{address}/mots-de-passe", get(list).post(create))
        .route("/portail/boites/{address}/mots-de-passe/{id}/revoquer", post(revoke))
}

fn path(address: &str) -> String {
    format!("/portail/boites/{address}/mots-de-passe")
}

fn scope_label(scope: Scope) -> &'static str {
    match scope {
        Scope::Imap => "lecture (IMAP)",
        Scope::Submission => "envoi (SMTP)",
        Scope::Both => "lecture et envoi",
    }
}

/// What `rights` let a password be made for.
fn scopes(rights: Rights) -> Vec<Scope> {
    let (read, send) = (rights.has(Right::Read), rights.has(Right::SendAs));
    [(Scope::Both, read && send), (Scope::Imap, read), (Scope::Submission, send)]
        .into_iter()
        .filter_map(|(scope, ok)| ok.then_some(scope))
        .collect()
}

async fn list(State(web): State<Arc<Web>>, Path(address): Path<String>, visitor: Visitor) -> Response {
    let (mailbox, rights, _) = match mail::open(&web, &visitor, &address).await {
        Ok(opened) => opened,
        Err(response) => return response,
    };
    page(&web, &visitor, &mailbox, rights, None, None, StatusCode::OK).await
}

/// The page: the secret just made (once), an error, the form, the list.
async fn page(
    web: &Web,
    visitor: &Visitor,
    mailbox: &Mailbox,
    rights: Rights,
    made: Option<(&str, &str)>,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let person = &visitor.caller.0.person.national_id;
    let passwords = match web.store.meta.app_passwords(mailbox.id, person).await {
        Ok(passwords) => passwords,
        Err(e) => return layout::unavailable(e),
    };
    let now = now_unix();
    let address = mailbox.address.to_string();
    let here = path(&address);
    let main = html! {
        p { a href=(mail::mail_path(&address)) { "Retour au courrier de " (address) } }
        p {
            "Pour un logiciel de messagerie qui ne sait pas se connecter avec Pro Santé Connect (application "
            "de messagerie d'un téléphone, logiciel de synchronisation) : son identifiant est l'adresse de la "
            "boîte, son mot de passe l'un de ceux-ci. Chacun agit avec vos droits sur cette boîte, et cesse "
            "de fonctionner si vous les perdez, s'il expire ou si vous le révoquez."
        }
        @if let Some((label, secret)) = made {
            div class="alerte alerte-succes" role="status" {
                p { "Mot de passe « " (label) " » créé. Copiez-le maintenant : il ne sera plus jamais affiché." }
                p { code class="secret" { (secret) } }
                p { "Identifiant : " code { (address) } }
            }
        }
        @if let Some(error) = error { (layout::alert("erreur", error)) }
        h2 { "Nouveau mot de passe d'application" }
        form method="post" action=(here) {
            input type="hidden" name="csrf" value=(visitor.csrf());
            div class="champ" {
                label for="nom" { "Nom (l'appareil ou le logiciel)" }
                input id="nom" name="nom" required maxlength="60" autocomplete="off";
            }
            div class="champ" {
                label for="usage" { "Usage" }
                select id="usage" name="usage" {
                    @for scope in scopes(rights) { option value=(scope.as_str()) { (scope_label(scope)) } }
                }
            }
            div class="champ" {
                label for="duree" { "Validité" }
                select id="duree" name="duree" {
                    @for days in VALIDITIES { option value=(days) selected[days == 90] { (days) " jours" } }
                }
            }
            button type="submit" { "Créer le mot de passe" }
        }
        h2 { "Vos mots de passe pour cette boîte" }
        @if passwords.is_empty() {
            p { "Aucun." }
        } @else {
            table {
                thead { tr { th scope="col" { "Nom" } th scope="col" { "Usage" } th scope="col" { "Créé le" }
                    th scope="col" { "Expire le" } th scope="col" { "Dernière utilisation" } th scope="col" { "État" } } }
                tbody {
                    @for p in &passwords {
                        tr {
                            td { (p.label) }
                            td { (scope_label(p.scope)) }
                            td { (french_date(p.created_at)) }
                            td { (french_date(p.expires_at)) }
                            td { (p.last_used_at.map_or_else(|| "jamais".to_string(), french_date)) }
                            td { (state(p, now, &here, &visitor.csrf())) }
                        }
                    }
                }
            }
        }
    };
    (status, layout::page(web, "Mots de passe d'application", Some(visitor), Section::Mailboxes, main)).into_response()
}

fn state(p: &AppPassword, now: i64, here: &str, csrf: &str) -> maud::Markup {
    html! {
        @if p.revoked_at.is_some() { "révoqué" }
        @else if !p.is_live(now) { "expiré" }
        @else {
            form method="post" action=(format!("{here}/{}/revoquer", p.id)) {
                input type="hidden" name="csrf" value=(csrf);
                button type="submit" class="danger" { "Révoquer « " (p.label) " »" }
            }
        }
    }
}

#[derive(Deserialize)]
struct CreateForm {
    nom: String,
    usage: String,
    duree: u32,
}

async fn create(
    State(web): State<Arc<Web>>,
    Path(address): Path<String>,
    Posted { visitor, form }: Posted<CreateForm>,
) -> Response {
    let (mailbox, rights, _) = match mail::open(&web, &visitor, &address).await {
        Ok(opened) => opened,
        Err(response) => return response,
    };
    let person = visitor.caller.0.person.national_id.clone();
    let now = now_unix();
    let live = match web.store.meta.app_passwords(mailbox.id, &person).await {
        Ok(passwords) => passwords.iter().filter(|p| p.is_live(now)).count(),
        Err(e) => return layout::unavailable(e),
    };
    let (label, scope) = match checked(&form, rights, live) {
        Ok(checked) => checked,
        Err(why) => {
            return page(&web, &visitor, &mailbox, rights, None, Some(why), StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    };
    let Ok((secret, hash)) = mss_identity::app_password::generate() else {
        return layout::unavailable("no randomness for an application password");
    };
    let new = NewAppPassword {
        mailbox: mailbox.id,
        national_id: person,
        label: label.clone(),
        hash,
        scope,
        created_at: now,
        expires_at: now + i64::from(form.duree) * 86_400,
    };
    let id = match web.store.meta.create_app_password(&new).await {
        Ok(id) => id,
        Err(e) => return layout::unavailable(e),
    };
    let detail = format!("id={id} scope={} days={}", scope.as_str(), form.duree);
    web.store.audit.record(NewAuditEntry::now(visitor.actor(), "app_password.create", &address, "ok", detail)).await;
    // Shown once, on this response only: never in a URL, never kept.
    page(&web, &visitor, &mailbox, rights, Some((&label, &secret)), None, StatusCode::CREATED).await
}

/// The name and scope asked, if they may be had; why not otherwise.
fn checked(form: &CreateForm, rights: Rights, live: usize) -> Result<(String, Scope), &'static str> {
    let label = form.nom.trim().to_string();
    if label.is_empty() || label.chars().count() > 60 || label.chars().any(char::is_control) {
        return Err("Donnez un nom de 1 à 60 caractères (l'appareil ou le logiciel).");
    }
    let Some(scope) = Scope::parse(&form.usage).filter(|s| scopes(rights).contains(s)) else {
        return Err("Cet usage n'est pas permis par votre rôle dans cette boîte.");
    };
    if !VALIDITIES.contains(&form.duree) {
        return Err("Choisissez une validité de 30, 90 ou 365 jours.");
    }
    if live >= MAX_LIVE {
        return Err("Vous avez déjà 10 mots de passe valides pour cette boîte : révoquez-en un d'abord.");
    }
    Ok((label, scope))
}

#[derive(Deserialize)]
struct Empty {}

async fn revoke(
    State(web): State<Arc<Web>>,
    Path((address, id)): Path<(String, i64)>,
    Posted { visitor, form: Empty {} }: Posted<Empty>,
) -> Response {
    let (mailbox, _, _) = match mail::open(&web, &visitor, &address).await {
        Ok(opened) => opened,
        Err(response) => return response,
    };
    let person = &visitor.caller.0.person.national_id;
    let revoked = match web.store.meta.revoke_app_password(id, mailbox.id, person, now_unix()).await {
        Ok(revoked) => revoked,
        Err(e) => return layout::unavailable(e),
    };
    let result = if revoked { "ok" } else { "refused: unknown" };
    let entry = NewAuditEntry::now(visitor.actor(), "app_password.revoke", &address, result, format!("id={id}"));
    web.store.audit.record(entry).await;
    if !revoked {
        let message = "Ce mot de passe n'existe pas, n'est pas le vôtre, ou est déjà révoqué.";
        return layout::error_page(&web, StatusCode::NOT_FOUND, "Mot de passe introuvable", message, Some(&visitor));
    }
    Redirect::to(&path(&address)).into_response()
}
