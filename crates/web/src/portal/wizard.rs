//! The creation wizard, in the seed's steps: choose a personal or an
//! organisational mailbox; the identity read from Pro Santé Connect (or the
//! CPS) is shown (Nom, N° RPPS, N° FINESS) with the address it gives; the
//! person confirms; reads and accepts the CGU ("J'ai lu et j'accepte les
//! CGU"); "Créer la boîte"; then "Félicitations !". Every step is checked
//! on the server by the use cases the API calls too (preview, then creation), and
//! an error is shown next to its field.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use maud::{Markup, html};
use mss_core::{EmailAddress, MailboxKind, NationalId};
use mss_http::percent_encode;
use mss_store::MailboxDraft;
use serde::Deserialize;

use super::layout::{self, Section, field_error, text_field};
use super::session::{Posted, Visitor};
use crate::shared::{CreateRequest, PENDING_MESSAGE, access, preview_address, request_mailbox};
use crate::{Problem, Web};

pub fn router() -> Router<Arc<Web>> {
    Router::new()
        .route("/portail/creer", get(choose))
        .route("/portail/creer/felicitations", get(congratulations))
        .route("/portail/creer/{kind}", get(identity).post(step))
}

/// What the wizard's forms carry from step to step.
#[derive(Debug, Default, Deserialize)]
struct WizardForm {
    etape: Option<String>,
    finess: Option<String>,
    /// `pharmacie` or `service`.
    structure: Option<String>,
    name: Option<String>,
    postal_code: Option<String>,
    city: Option<String>,
    service: Option<String>,
    /// The CGU checkbox: `oui` when ticked.
    cgu: Option<String>,
}

impl WizardForm {
    fn is_service(&self) -> bool {
        self.structure.as_deref() == Some("service")
    }

    fn request(&self, web: &Web, kind: MailboxKind) -> CreateRequest {
        let accepted = self.cgu.as_deref() == Some("oui");
        let mut request = CreateRequest {
            kind: kind.code().to_string(),
            cgu_version: accepted.then(|| web.cgu.version.clone()),
            cgu_accepted: accepted,
            ..CreateRequest::default()
        };
        if kind == MailboxKind::Organisational {
            request.finess = self.finess.clone();
            request.name = self.name.clone();
            request.pharmacy = !self.is_service();
            if self.is_service() {
                request.service = self.service.clone();
            } else {
                request.postal_code = self.postal_code.clone();
                request.city = self.city.clone();
            }
        }
        request
    }
}

/// The two wizards, by their path segment.
fn kind_of(segment: &str) -> Option<MailboxKind> {
    match segment {
        "personnelle" => Some(MailboxKind::Personal),
        "organisationnelle" => Some(MailboxKind::Organisational),
        _ => None,
    }
}

fn segment(kind: MailboxKind) -> &'static str {
    if kind == MailboxKind::Personal { "personnelle" } else { "organisationnelle" }
}

fn title(kind: MailboxKind) -> &'static str {
    if kind == MailboxKind::Personal {
        "Créer votre boîte personnelle"
    } else {
        "Créer une boîte organisationnelle"
    }
}

async fn choose(State(web): State<Arc<Web>>, visitor: Visitor) -> Response {
    let main = html! {
        p { "Quelle boîte aux lettres voulez-vous créer ?" }
        div class="choix" {
            section class="carte" aria-labelledby="choix-per" {
                h2 id="choix-per" { "Boîte personnelle" }
                p { "Votre adresse nominative (prenom.nom), pour votre messagerie de professionnel de santé." }
                a class="bouton" href="/portail/creer/personnelle" { "Créer votre boîte personnelle" }
            }
            section class="carte" aria-labelledby="choix-org" {
                h2 id="choix-org" { "Boîte organisationnelle" }
                p { "La boîte partagée de votre pharmacie ou d'un service, dont vous serez l'Administrateur." }
                a class="bouton" href="/portail/creer/organisationnelle" { "Créer une boîte organisationnelle" }
            }
        }
    };
    layout::page(&web, "Créer une boîte aux lettres", Some(&visitor), Section::Create, main).into_response()
}

/// What the identity provider said about the person.
fn identity_card(visitor: &Visitor) -> Markup {
    let who = &visitor.caller.0;
    let (id_label, id) = match &who.person.national_id {
        NationalId::Rpps(rpps) => ("N° RPPS", rpps.to_string()),
        NationalId::Adeli(adeli) => ("N° ADELI", adeli.to_string()),
    };
    let source = if who.method == "cps" { "votre carte CPS" } else { "Pro Santé Connect" };
    html! {
        section class="carte" aria-labelledby="titre-identite" {
            h2 id="titre-identite" { "Vos informations" }
            p class="aide" { "Lues depuis " (source) "." }
            dl class="identite" {
                dt { "Nom" } dd { (who.person.display_name()) }
                dt { (id_label) } dd { (id) }
                dt { "N° FINESS" }
                dd {
                    @if who.person.finess.is_empty() { "Aucune structure dans votre identité" }
                    @else { (who.person.finess.join(", ")) }
                }
            }
        }
    }
}

fn csrf_and_step(visitor: &Visitor, step: &str) -> Markup {
    html! {
        input type="hidden" name="csrf" value=(visitor.csrf());
        input type="hidden" name="etape" value=(step);
    }
}

/// The error of a problem if it is about `field` (next to the field, a
/// missing value needs no field name).
fn on<'a>(problem: Option<&'a Problem>, field: &str) -> Option<&'a str> {
    let detail = problem.filter(|p| p.field == Some(field)).map(|p| p.detail.as_str())?;
    Some(if detail.starts_with("Le champ « ") { "Ce champ est obligatoire." } else { detail })
}

/// Step 1: the identity read, and (ORG) the structure and name.
async fn identity_page(
    web: &Web,
    visitor: &Visitor,
    kind: MailboxKind,
    form: &WizardForm,
    problem: Option<&Problem>,
) -> Response {
    let status = if problem.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let general = problem.filter(|p| !matches!(p.field, Some("finess" | "name" | "postal_code" | "city" | "service")));
    let action = format!("/portail/creer/{}", segment(kind));
    let person = &visitor.caller.0.person;
    let main = match kind {
        MailboxKind::Personal => {
            let preview = preview_address(web, &visitor.caller, &form.request(web, kind)).await;
            html! {
                @if let Some(p) = general { (layout::alert("erreur", &p.detail)) }
                (identity_card(visitor))
                @match &preview {
                    Ok((address, _)) => {
                        p { "Votre boîte aura l'adresse " strong { (address.to_string()) } "." }
                        form method="post" action=(action) {
                            (csrf_and_step(visitor, "confirmer"))
                            p { "Vérifiez ces informations : elles seront transmises à l'ANS et publiées dans l'annuaire santé." }
                            button type="submit" { "Confirmer ces informations" }
                        }
                    }
                    Err(p) => { (layout::alert("erreur", &p.detail)) p { a href=(super::HOME) { "Retour à mes boîtes aux lettres" } } }
                }
            }
        }
        _ => {
            let service = form.is_service();
            html! {
                @if let Some(p) = general { (layout::alert("erreur", &p.detail)) }
                (identity_card(visitor))
                @if person.finess.is_empty() {
                    (layout::alert("erreur", "Votre identité ne vous rattache à aucune structure (FINESS) : vous ne pouvez pas créer de boîte organisationnelle."))
                } @else {
                    form method="post" action=(action) novalidate {
                        (csrf_and_step(visitor, "confirmer"))
                        fieldset class=[on(problem, "finess").map(|_| "en-erreur")] {
                            legend { "Structure (N° FINESS)" }
                            @for (i, f) in person.finess.iter().enumerate() {
                                div class="case" {
                                    input type="radio" id={ "finess-" (i) } name="finess" value=(f)
                                        checked[form.finess.as_deref() == Some(f.as_str()) || person.finess.len() == 1];
                                    label for={ "finess-" (i) } { "FINESS " (f) }
                                }
                            }
                            (field_error("finess-erreur", on(problem, "finess")))
                        }
                        fieldset {
                            legend { "Forme de l'adresse" }
                            div class="case" {
                                input type="radio" id="structure-pharmacie" name="structure" value="pharmacie" checked[!service];
                                label for="structure-pharmacie" { "Pharmacie : pharmacie-nom-codepostal-ville" }
                            }
                            div class="case" {
                                input type="radio" id="structure-service" name="structure" value="service" checked[service];
                                label for="structure-service" { "Service d'un établissement : le nom du service" }
                            }
                        }
                        (text_field("name", "Nom de la structure", "Par exemple : Pharmacie du Centre (le nom affiché de la boîte).", form.name.as_deref(), on(problem, "name")))
                        (text_field("postal_code", "Code postal", "Pour une pharmacie : 5 chiffres.", form.postal_code.as_deref(), on(problem, "postal_code")))
                        (text_field("city", "Ville", "Pour une pharmacie.", form.city.as_deref(), on(problem, "city")))
                        (text_field("service", "Nom du service", "Pour un service d'établissement, par exemple : Pharmacie à usage intérieur.", form.service.as_deref(), on(problem, "service")))
                        button type="submit" { "Confirmer ces informations" }
                    }
                }
            }
        }
    };
    (status, layout::page(web, title(kind), Some(visitor), Section::Create, main)).into_response()
}

/// Step 2: what will be created, and the CGU to accept.
fn cgu_page(
    web: &Web,
    visitor: &Visitor,
    kind: MailboxKind,
    form: &WizardForm,
    preview: (&EmailAddress, &MailboxDraft),
    error: Option<&str>,
) -> Response {
    let (address, draft) = preview;
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let hidden = [
        ("finess", &form.finess),
        ("structure", &form.structure),
        ("name", &form.name),
        ("postal_code", &form.postal_code),
        ("city", &form.city),
        ("service", &form.service),
    ];
    let main = html! {
        section class="carte" aria-labelledby="titre-resume" {
            h2 id="titre-resume" { "La boîte demandée" }
            dl class="identite" {
                dt { "Adresse" } dd { (address.to_string()) }
                dt { "Nom affiché" } dd { (draft.display_name) }
                @if let Some(finess) = &draft.finess { dt { "N° FINESS" } dd { (finess.as_str()) } }
            }
        }
        form method="post" action={ "/portail/creer/" (segment(kind)) } novalidate {
            (csrf_and_step(visitor, "creer"))
            @for (name, value) in hidden {
                @if let Some(value) = value { input type="hidden" name=(name) value=(value); }
            }
            h2 { "Conditions générales d'utilisation" }
            p {
                "Lisez les " a href=(web.cgu.url) { "conditions générales d'utilisation (version " (web.cgu.version) ")" }
                " : votre acceptation est enregistrée avec leur version."
            }
            div class={ "champ" @if error.is_some() { " en-erreur" } } {
                div class="case" {
                    input type="checkbox" id="cgu" name="cgu" value="oui"
                        aria-describedby=[error.map(|_| "cgu-erreur")] aria-invalid=[error.map(|_| "true")];
                    label for="cgu" { "J'ai lu et j'accepte les CGU" }
                }
                (field_error("cgu-erreur", error))
            }
            button type="submit" { "Créer la boîte" }
        }
    };
    (status, layout::page(web, title(kind), Some(visitor), Section::Create, main)).into_response()
}

#[derive(Deserialize)]
struct Chosen {
    /// The structure to prefill from the Annuaire Santé.
    finess: Option<String>,
}

/// The identity step. For an organisational mailbox, what the Annuaire
/// Santé extraction says of the structure (the FINESS chosen among the
/// person's, or their only one) is filled in, editable.
async fn identity(
    State(web): State<Arc<Web>>,
    Path(kind): Path<String>,
    Query(chosen): Query<Chosen>,
    visitor: Visitor,
) -> Response {
    let Some(kind) = kind_of(&kind) else { return not_found(&web, &visitor) };
    let mut form = WizardForm::default();
    if kind == MailboxKind::Organisational {
        let theirs = &visitor.caller.0.person.finess;
        let finess = match &chosen.finess {
            Some(f) if theirs.contains(f) => Some(f.clone()),
            _ if theirs.len() == 1 => theirs.first().cloned(),
            _ => None,
        };
        if let Some(finess) = finess {
            form = prefilled(&web, &finess).await;
            form.finess = Some(finess);
        }
    }
    identity_page(&web, &visitor, kind, &form, None).await
}

/// The name, postal code and city the Annuaire Santé extraction gives the
/// structure `finess` (an organisational mailbox's entry first); nothing
/// when it has none.
async fn prefilled(web: &Web, finess: &str) -> WizardForm {
    let mut query = mss_directory::annuaire::Query::default();
    let found = match (query.set("id", finess), mss_directory::annuaire::Page::new(1, 20)) {
        (Ok(()), Ok(page)) => crate::shared::search_directory(web, query, page).await.ok(),
        _ => None,
    };
    let hits = found.map(|r| r.hits).unwrap_or_default();
    let best = hits.iter().filter(|h| h.finess == finess).max_by_key(|h| (h.kind == "ORG", !h.postal_code.is_empty()));
    match best {
        Some(hit) => WizardForm {
            name: Some(if hit.structure.is_empty() { hit.name.clone() } else { hit.structure.clone() })
                .filter(|n| !n.is_empty()),
            postal_code: Some(hit.postal_code.clone()).filter(|p| !p.is_empty()),
            // The extraction's city is its "ligne d'acheminement": the
            // postal code, then the city.
            city: Some(hit.city.trim_start_matches(hit.postal_code.as_str()).trim().to_string())
                .filter(|c| !c.is_empty()),
            ..WizardForm::default()
        },
        None => WizardForm::default(),
    }
}

fn not_found(web: &Web, visitor: &Visitor) -> Response {
    layout::error_page(web, StatusCode::NOT_FOUND, "Page introuvable", "Cette page n'existe pas.", Some(visitor))
}

async fn step(State(web): State<Arc<Web>>, Path(kind): Path<String>, posted: Posted<WizardForm>) -> Response {
    let Posted { visitor, form } = posted;
    let Some(kind) = kind_of(&kind) else { return not_found(&web, &visitor) };
    if form.etape.as_deref() == Some("creer") {
        return match request_mailbox(&web, &visitor.caller, &form.request(&web, kind)).await {
            Ok((mailbox, _)) => {
                let to =
                    format!("/portail/creer/felicitations?adresse={}", percent_encode(&mailbox.address.to_string()));
                Redirect::to(&to).into_response()
            }
            Err(problem) if problem.field == Some("cgu") => {
                match preview_address(&web, &visitor.caller, &form.request(&web, kind)).await {
                    Ok((address, draft)) => {
                        cgu_page(&web, &visitor, kind, &form, (&address, &draft), Some(&problem.detail))
                    }
                    Err(problem) => identity_page(&web, &visitor, kind, &form, Some(&problem)).await,
                }
            }
            Err(problem) => identity_page(&web, &visitor, kind, &form, Some(&problem)).await,
        };
    }
    match preview_address(&web, &visitor.caller, &form.request(&web, kind)).await {
        Ok((address, draft)) => cgu_page(&web, &visitor, kind, &form, (&address, &draft), None),
        Err(problem) => identity_page(&web, &visitor, kind, &form, Some(&problem)).await,
    }
}

#[derive(Deserialize)]
struct Created {
    adresse: Option<String>,
}

async fn congratulations(State(web): State<Arc<Web>>, Query(created): Query<Created>, visitor: Visitor) -> Response {
    // The address is shown only if it is one of the person's mailboxes.
    let mailbox = match created.adresse {
        Some(address) => access(&web, &visitor.caller, &address).await.ok().map(|(m, _)| m),
        None => None,
    };
    let main = html! {
        div class="alerte alerte-succes" role="status" { p { (PENDING_MESSAGE) } }
        @if let Some(m) = &mailbox {
            p { "Adresse demandée : " strong { (m.address.to_string()) } }
        }
        p class="actions" {
            a class="bouton" href=(super::HOME) { "Retour à mes boîtes aux lettres" }
            a href="/portail/creer" { "Créer une autre boîte" }
        }
    };
    layout::page(&web, "Demande enregistrée", Some(&visitor), Section::Create, main).into_response()
}
