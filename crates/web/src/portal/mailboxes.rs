//! "Mes boîtes aux lettres": the person's personal mailbox and the mailboxes
//! they hold a role on, with the role and the state in French, and the
//! actions their role allows.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use maud::{Markup, html};
use mss_core::{MailboxKind, MailboxState, Role};
use mss_http::percent_encode;
use mss_ops::mailboxes::Status;
use mss_store::Mailbox;

use super::layout::{self, Section};
use super::session::Visitor;
use crate::Web;
use crate::shared::visible_mailboxes;

pub fn router() -> Router<Arc<Web>> {
    Router::new().route(super::HOME, get(list)).route("/portail/boites/ouvrir", get(switch))
}

#[derive(serde::Deserialize)]
struct Chosen {
    adresse: String,
}

/// The webmail switcher's target: the mail of the mailbox chosen (the
/// webmail checks the person may read it).
async fn switch(axum::extract::Query(chosen): axum::extract::Query<Chosen>, _visitor: Visitor) -> Response {
    Redirect::to(&super::mail::mail_path(&percent_encode(&chosen.adresse))).into_response()
}

/// A form choosing another of the person's active mailboxes to read.
pub fn switcher(mailboxes: &[(Mailbox, Option<Role>)], current: &Mailbox) -> Markup {
    html! {
        form method="get" action="/portail/boites/ouvrir" class="recherche" {
            div class="champ" {
                label for="adresse" { "Boîte aux lettres" }
                select id="adresse" name="adresse" {
                    @for (m, role) in mailboxes.iter().filter(|(m, _)| m.state == MailboxState::Active) {
                        option value=(m.address.to_string()) selected[m.id == current.id] {
                            (m.display_name) " · " (m.address.to_string()) " (" (role_label(*role)) ")"
                        }
                    }
                }
            }
            button type="submit" class="secondaire" { "Ouvrir" }
        }
    }
}

/// The type of a mailbox, in French.
pub fn kind_label(kind: MailboxKind) -> &'static str {
    match kind {
        MailboxKind::Personal => "Personnelle",
        MailboxKind::Organisational => "Organisationnelle",
        MailboxKind::Applicative => "Applicative",
        MailboxKind::Cabinet => "Cabinet",
    }
}

/// A role, in French (`None`: the holder of a personal mailbox).
pub fn role_label(role: Option<Role>) -> &'static str {
    match role {
        None => "Titulaire",
        Some(Role::Administrateur) => "Administrateur",
        Some(Role::Gestionnaire) => "Gestionnaire",
        Some(Role::Utilisateur) => "Utilisateur",
    }
}

/// The state of a mailbox as a badge: `en cours de création`, `active`,
/// `suspendue`, `refusée : <motif>`.
pub fn state_badge(m: &Mailbox) -> Markup {
    let status = Status::of(m);
    let text = match (status, &m.state_reason) {
        (Status::Pending, _) => "en cours de création".to_string(),
        (Status::Active, _) => "active".to_string(),
        (Status::Suspended, Some(reason)) => format!("suspendue : {reason}"),
        (Status::Suspended, None) => "suspendue".to_string(),
        (Status::Refused, reason) => format!("refusée : {}", reason.as_deref().unwrap_or_default()),
        (Status::Deleted, _) => "supprimée".to_string(),
    };
    html! { span class={ "etat etat-" (status.as_str()) } { (text) } }
}

/// The path of a page about the mailbox at `address`.
pub fn mailbox_path(m: &Mailbox, page: &str) -> String {
    format!("/portail/boites/{}/{page}", m.address)
}

async fn list(State(web): State<Arc<Web>>, visitor: Visitor) -> Response {
    let mailboxes = match visible_mailboxes(&web, &visitor.caller).await {
        Ok(mailboxes) => mailboxes,
        Err(problem) => return layout::error_page(&web, problem.status, "Erreur", &problem.detail, Some(&visitor)),
    };
    let main = html! {
        p class="actions" {
            a class="bouton" href="/portail/creer" { "Créer une boîte aux lettres" }
            @if super::operator::is_operator_admin(&web, &visitor) {
                " " a class="bouton secondaire" href=(super::operator::PATH) { "Console de l'opérateur" }
            }
        }
        @if mailboxes.is_empty() {
            p { "Vous n'avez encore aucune boîte aux lettres. Créez votre boîte personnelle ou celle de votre structure." }
        } @else {
            div class="tableau" {
                table {
                    caption { "Vos boîtes aux lettres et votre rôle sur chacune" }
                    thead { tr { th scope="col" { "Adresse" } th scope="col" { "Type" } th scope="col" { "Votre rôle" } th scope="col" { "État" } th scope="col" { "Actions" } } }
                    tbody {
                        @for (m, role) in &mailboxes {
                            tr {
                                th scope="row" { (m.address.to_string()) br; span class="aide" { (m.display_name) } }
                                td data-label="Type" { (kind_label(m.kind)) }
                                td data-label="Votre rôle" { (role_label(*role)) }
                                td data-label="État" { (state_badge(m)) }
                                td {
                                    div class="actions" {
                                        a href=(mailbox_path(m, "courrier")) { "Lire le courrier" span class="masque" { " de " (m.address.to_string()) } }
                                        @if m.kind == MailboxKind::Organisational && matches!(role, Some(Role::Administrateur | Role::Gestionnaire)) {
                                            a href=(mailbox_path(m, "membres")) { "Gérer les membres" span class="masque" { " de " (m.address.to_string()) } }
                                        }
                                        @if matches!(role, None | Some(Role::Administrateur)) {
                                            a href=(mailbox_path(m, "tracabilite")) { "Traçabilité" span class="masque" { " de " (m.address.to_string()) } }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    layout::page(&web, "Mes boîtes aux lettres", Some(&visitor), Section::Mailboxes, main).into_response()
}
