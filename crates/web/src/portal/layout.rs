//! The page shell every portal page shares: `<html lang="fr">`, a skip link,
//! a `<title>`, a header with the envelope icon leading to the mailboxes,
//! the navigation and sign-out, one `<main>` with one `<h1>`; and the error
//! page. The stylesheet is served from a path naming its content's hash,
//! so it can be cached for a year.

use std::sync::LazyLock;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};

use super::session::Visitor;
use crate::Web;

const CSS: &str = include_str!("../../assets/portail.css");
const JS: &str = include_str!("../../assets/portail.js");

/// `/portail/assets/portail-<hash>.<extension>`.
fn asset_path(content: &str, extension: &str) -> String {
    format!("/portail/assets/portail-{}.{extension}", &blake3::hash(content.as_bytes()).to_hex()[..16])
}

pub static CSS_PATH: LazyLock<String> = LazyLock::new(|| asset_path(CSS, "css"));
pub static JS_PATH: LazyLock<String> = LazyLock::new(|| asset_path(JS, "js"));

/// The stylesheet or the script, if `file` names its current version.
pub async fn asset(axum::extract::Path(file): axum::extract::Path<String>) -> Response {
    let file = Some(file.as_str());
    let (content, kind) = if CSS_PATH.strip_prefix("/portail/assets/") == file {
        (CSS, "text/css; charset=utf-8")
    } else if JS_PATH.strip_prefix("/portail/assets/") == file {
        (JS, "text/javascript; charset=utf-8")
    } else {
        return (StatusCode::NOT_FOUND, "introuvable").into_response();
    };
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static(kind)),
        (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable")),
    ];
    (headers, content).into_response()
}

/// The envelope icon (decorative: the link beside it says where it goes).
fn envelope() -> Markup {
    html! {
        svg class="icone" viewBox="0 0 24 24" aria-hidden="true" focusable="false" {
            path fill="currentColor" d="M3 5h18a1 1 0 0 1 1 1v12a1 1 0 0 1-1 1H3a1 1 0 0 1-1-1V6a1 1 0 0 1 1-1zm1 2.4V17h16V7.4l-8 5.6-8-5.6zM5.5 7l6.5 4.55L18.5 7h-13z" {}
        }
    }
}

/// Which navigation entry the page belongs to.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Mailboxes,
    Create,
    Account,
    None,
}

/// A whole page: `title` is both the `<title>` and the `<h1>`.
pub fn page(web: &Web, title: &str, visitor: Option<&Visitor>, section: Section, main: Markup) -> Html<String> {
    shell(web, title, visitor, section, main, false)
}

/// The same, with the portal's script (for forms it helps).
pub fn page_with_script(
    web: &Web,
    title: &str,
    visitor: Option<&Visitor>,
    section: Section,
    main: Markup,
) -> Html<String> {
    shell(web, title, visitor, section, main, true)
}

/// A page of the mail client: `main` holds its own `<h1>` (in the pane
/// it heads), the portal's script runs.
pub fn client_page(web: &Web, title: &str, visitor: Option<&Visitor>, main: Markup) -> Html<String> {
    shell_with(web, title, visitor, Section::Mailboxes, main, Shell { script: true, heading: false })
}

fn shell(
    web: &Web,
    title: &str,
    visitor: Option<&Visitor>,
    section: Section,
    main: Markup,
    script: bool,
) -> Html<String> {
    shell_with(web, title, visitor, section, main, Shell { script, heading: true })
}

/// What a page adds to the shell.
struct Shell {
    /// The portal's script.
    script: bool,
    /// The `<h1>`, from the title.
    heading: bool,
}

fn shell_with(
    web: &Web,
    title: &str,
    visitor: Option<&Visitor>,
    section: Section,
    main: Markup,
    Shell { script, heading }: Shell,
) -> Html<String> {
    let current = |s: Section| if s == section { Some("page") } else { None };
    let markup = html! {
        (DOCTYPE)
        html lang="fr" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Messagerie sécurisée de santé" }
                link rel="stylesheet" href=(CSS_PATH.as_str());
                @if script { script src=(JS_PATH.as_str()) defer {} }
            }
            body {
                a class="evitement" href="#contenu" { "Aller au contenu" }
                header class="entete" {
                    div class="entete-interieur" {
                        a class="marque" href=(super::HOME) {
                            (envelope())
                            span { "Messagerie sécurisée de santé" }
                        }
                        @if let Some(visitor) = visitor {
                            nav aria-label="Navigation principale" {
                                ul {
                                    li { a href=(super::HOME) aria-current=[current(Section::Mailboxes)] { "Mes boîtes aux lettres" } }
                                    li { a href="/portail/creer" aria-current=[current(Section::Create)] { "Créer une boîte" } }
                                    li { a href="/portail/compte" aria-current=[current(Section::Account)] { "Mon compte" } }
                                    li class="qui" { (visitor.caller.0.person.display_name()) }
                                    li {
                                        form class="ligne" method="post" action="/portail/deconnexion" {
                                            input type="hidden" name="csrf" value=(visitor.csrf());
                                            button class="lien-bouton" type="submit" { "Se déconnecter" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                main id="contenu" tabindex="-1" class=[(!heading).then_some("large")] {
                    @if heading { h1 { (title) } }
                    (main)
                }
                footer {
                    "Opérateur MSSanté " (web.domain.as_str()) " · espace de confiance MSSanté"
                    @if web.development {
                        p class="developpement" role="note" {
                            strong { "Mode développement" }
                            " : connexion simulée, aucune donnée de santé réelle."
                        }
                    }
                }
            }
        }
    };
    Html(markup.into_string())
}

/// A text field with its label, help, and error.
pub fn text_field(name: &str, label: &str, help: &str, value: Option<&str>, error: Option<&str>) -> Markup {
    let error_id = format!("{name}-erreur");
    let help_id = format!("{name}-aide");
    let described: Vec<&str> = [(!help.is_empty()).then_some(help_id.as_str()), error.map(|_| error_id.as_str())]
        .into_iter()
        .flatten()
        .collect();
    let described = (!described.is_empty()).then(|| described.join(" "));
    html! {
        div class={ "champ" @if error.is_some() { " en-erreur" } } {
            label for=(name) { (label) @if !help.is_empty() { span class="aide" id=(help_id) { (help) } } }
            input type="text" id=(name) name=(name) value=(value.unwrap_or_default())
                aria-describedby=[described] aria-invalid=[error.map(|_| "true")];
            (field_error(&error_id, error))
        }
    }
}

/// An error message next to a field (referenced by `aria-describedby`).
pub fn field_error(id: &str, message: Option<&str>) -> Markup {
    html! {
        @if let Some(message) = message {
            p class="erreur" id=(id) { "Erreur : " (message) }
        }
    }
}

/// A message at the top of the page.
pub fn alert(kind: &str, message: &str) -> Markup {
    let role = if kind == "erreur" { "alert" } else { "status" };
    html! { div class={ "alerte alerte-" (kind) } role=(role) { p { (message) } } }
}

/// A page saying what went wrong, with a way back.
pub fn error_page(web: &Web, status: StatusCode, title: &str, message: &str, visitor: Option<&Visitor>) -> Response {
    let main = html! {
        (alert("erreur", message))
        p { a href=(super::HOME) { "Retour à mes boîtes aux lettres" } }
    };
    (status, page(web, title, visitor, Section::None, main)).into_response()
}

/// The store failed: a plain page, logged.
pub fn unavailable(error: impl std::fmt::Display) -> Response {
    tracing::error!(%error, "portal: store failure");
    let body = html! {
        (DOCTYPE)
        html lang="fr" {
            head { meta charset="utf-8"; title { "Service indisponible" } }
            body { main { h1 { "Service momentanément indisponible" } p { "Réessayez dans quelques instants." } } }
        }
    };
    (StatusCode::SERVICE_UNAVAILABLE, Html(body.into_string())).into_response()
}
