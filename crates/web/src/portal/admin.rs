//! Administration of an organisational mailbox: its members and their roles
//! (add by national id or from a directory search, change, remove) for its
//! Administrateurs and Gestionnaires, and its audit trail for its
//! Administrateurs, filtered by action and paged. The use cases of
//! `mss_ops::members` decide (`mss_core::may_delegate`, the last
//! Administrateur stays); the pages offer only what the person's role
//! allows.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use mss_core::{Civil, MailboxKind, NationalId, Role, may_delegate};
use mss_directory::annuaire::{Hit, Page, Query as DirectoryQuery};
use mss_http::percent_encode;
use mss_store::{AuditFilter, CguAcceptance, Mailbox};
use serde::Deserialize;

use super::layout::{self, Section, field_error};
use super::mailboxes::{mailbox_path, role_label, state_badge};
use super::session::{Posted, Visitor};
use crate::shared::{change_role, managed, search_directory, trail};
use crate::{Problem, Web};

/// Audit entries per page.
const PAGE: usize = 50;
/// Directory search results shown.
const SEARCH_PAGE: u32 = 10;

pub fn router() -> Router<Arc<Web>> {
    Router::new()
        .route("/portail/boites/{address}/membres", get(members).post(set_role))
        .route("/portail/boites/{address}/membres/{national_id}/retirer", post(remove))
        .route("/portail/boites/{address}/tracabilite", get(audit))
}

fn refusal(web: &Web, visitor: &Visitor, problem: &Problem) -> Response {
    layout::error_page(web, problem.status, "Action impossible", &problem.detail, Some(visitor))
}

/// A `<select>` of the roles in `roles`, `selected` first chosen.
fn role_select(id: &str, roles: &[Role], selected: Option<Role>, described: Option<&str>) -> Markup {
    html! {
        select id=(id) name="role" aria-describedby=[described] {
            @for role in roles {
                option value=(role.as_str()) selected[selected == Some(*role)] { (role_label(Some(*role))) }
            }
        }
    }
}

#[derive(Deserialize)]
struct Done {
    fait: Option<String>,
    /// A directory search for people to add.
    recherche: Option<String>,
}

async fn members(
    State(web): State<Arc<Web>>,
    Path(address): Path<String>,
    Query(done): Query<Done>,
    visitor: Visitor,
) -> Response {
    let flash = match done.fait.as_deref() {
        Some("role") => Some("Le rôle est enregistré."),
        Some("retire") => Some("Le membre est retiré de la boîte."),
        _ => None,
    };
    let search = match done.recherche.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        Some(q) => Some(Search { query: q.to_string(), hits: directory_search(&web, q).await }),
        None => None,
    };
    members_page(&web, &visitor, &address, &MemberForm::default(), None, flash, search.as_ref()).await
}

/// A directory search and what it found (or why it failed).
struct Search {
    query: String,
    hits: Result<Vec<Hit>, Problem>,
}

/// People (personal mailboxes) the directory knows by `q`: the national
/// extraction and our own mailboxes, first page.
async fn directory_search(web: &Web, q: &str) -> Result<Vec<Hit>, Problem> {
    let invalid = |e: mss_directory::annuaire::QueryError| Problem::invalid(e.0).on("recherche");
    let mut query = DirectoryQuery::parse(q).map_err(invalid)?;
    query.set("type", "PER").map_err(invalid)?;
    let page = Page::new(1, SEARCH_PAGE).map_err(invalid)?;
    let results = search_directory(web, query, page).await?;
    Ok(results.hits.into_iter().filter(|h| !h.person_id.is_empty()).collect())
}

fn search_section(visitor: &Visitor, action: &str, grantable: &[Role], search: Option<&Search>) -> Markup {
    let query = search.map(|s| s.query.as_str()).unwrap_or_default();
    let error = search.and_then(|s| s.hits.as_ref().err()).map(|p| p.detail.as_str());
    html! {
        h2 id="annuaire" { "Rechercher dans l'annuaire santé" }
        form class="carte" method="get" action=(action) {
            div class={ "champ" @if error.is_some() { " en-erreur" } } {
                label for="recherche" {
                    "Nom, prénom ou identifiant"
                    span class="aide" id="recherche-aide" { "Les professionnels de l'annuaire santé et les titulaires de nos boîtes. Par exemple : Durand." }
                }
                input type="text" id="recherche" name="recherche" value=(query)
                    aria-describedby={ "recherche-aide" @if error.is_some() { " recherche-erreur" } }
                    aria-invalid=[error.map(|_| "true")];
                (field_error("recherche-erreur", error))
            }
            button class="secondaire" type="submit" { "Rechercher" }
        }
        @if let Some(Search { hits: Ok(hits), .. }) = search {
            @if hits.is_empty() {
                p role="status" { "Aucun professionnel trouvé." }
            } @else {
                div class="tableau" {
                    table {
                        caption { "Résultats de la recherche" }
                        thead { tr { th scope="col" { "Nom" } th scope="col" { "Profession" } th scope="col" { "Structure" } th scope="col" { "Ajouter" } } }
                        tbody {
                            @for hit in hits {
                                @let id = format!("{}{}", hit.person_id_type, hit.person_id);
                                tr {
                                    th scope="row" { (hit.name) br; span class="aide" { (id) } }
                                    td data-label="Profession" { (hit.profession) }
                                    td data-label="Structure" { (hit.structure) " " (hit.city) }
                                    td {
                                        form class="ligne" method="post" action=(action) {
                                            input type="hidden" name="csrf" value=(visitor.csrf());
                                            input type="hidden" name="national_id" value=(id);
                                            label class="masque" for={ "role-annuaire-" (id) } { "Rôle de " (hit.name) }
                                            (role_select(&format!("role-annuaire-{id}"), grantable, Some(Role::Utilisateur), None))
                                            " "
                                            button type="submit" { "Ajouter" span class="masque" { " " (hit.name) } }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The members page; `problem` is the refusal of the form just posted.
async fn members_page(
    web: &Web,
    visitor: &Visitor,
    address: &str,
    form: &MemberForm,
    problem: Option<&Problem>,
    flash: Option<&str>,
    search: Option<&Search>,
) -> Response {
    let (mailbox, actor) = match managed(web, &visitor.caller, address).await {
        Ok(found) => found,
        Err(problem) => return refusal(web, visitor, &problem),
    };
    let list = match web.store.meta.roles_on(mailbox.id).await {
        Ok(list) => list,
        Err(e) => return layout::unavailable(e),
    };
    let mut rows = Vec::with_capacity(list.len());
    for (id, role) in list {
        rows.push((name_of(web, &id).await, id, role));
    }
    let accepted = match web.store.meta.cgu_acceptances(mailbox.id).await {
        Ok(acceptances) => acceptances.into_iter().last(),
        Err(e) => return layout::unavailable(e),
    };
    let grantable: Vec<Role> = Role::ALL.into_iter().filter(|r| may_delegate(Some(actor), None, Some(*r))).collect();
    let id_error = problem.filter(|p| p.field == Some("national_id")).map(|p| p.detail.as_str());
    let general = problem.filter(|p| p.field != Some("national_id"));
    let action = mailbox_path(&mailbox, "membres");
    let main = html! {
        @if let Some(flash) = flash { (layout::alert("succes", flash)) }
        @if let Some(p) = general { (layout::alert("erreur", &p.detail)) }
        (summary(&mailbox, Some(actor), accepted.as_ref()))
        div class="tableau" {
            table {
                caption { "Les membres de la boîte et leur rôle" }
                thead { tr { th scope="col" { "Nom" } th scope="col" { "Identifiant national" } th scope="col" { "Rôle" } th scope="col" { "Actions" } } }
                tbody {
                    @for (name, id, role) in &rows {
                        @let choices: Vec<Role> = Role::ALL.into_iter().filter(|r| *r == *role || may_delegate(Some(actor), Some(*role), Some(*r))).collect();
                        tr {
                            th scope="row" { (name) }
                            td data-label="Identifiant national" { (id.to_string()) }
                            td data-label="Rôle" { (role_label(Some(*role))) }
                            td {
                                div class="actions" {
                                    @if choices.len() > 1 {
                                        form class="ligne" method="post" action=(action) {
                                            input type="hidden" name="csrf" value=(visitor.csrf());
                                            input type="hidden" name="national_id" value=(id.to_string());
                                            label class="masque" for={ "role-" (id.to_string()) } { "Nouveau rôle de " (name) }
                                            (role_select(&format!("role-{id}"), &choices, Some(*role), None))
                                            " "
                                            button class="secondaire" type="submit" { "Modifier le rôle" span class="masque" { " de " (name) } }
                                        }
                                    }
                                    @if may_delegate(Some(actor), Some(*role), None) {
                                        form class="ligne" method="post" action={ (action) "/" (id.to_string()) "/retirer" } {
                                            input type="hidden" name="csrf" value=(visitor.csrf());
                                            button class="danger" type="submit" { "Retirer" span class="masque" { " " (name) } }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        h2 id="ajouter" { "Ajouter un membre par son identifiant" }
        @if actor == Role::Gestionnaire {
            p { "En tant que Gestionnaire, vous ajoutez et retirez des Utilisateurs ; les Administrateurs et les Gestionnaires sont gérés par un Administrateur." }
        }
        form class="carte" method="post" action=(action) novalidate {
            input type="hidden" name="csrf" value=(visitor.csrf());
            div class={ "champ" @if id_error.is_some() { " en-erreur" } } {
                label for="national_id" {
                    "Identifiant national"
                    span class="aide" id="national_id-aide" { "8 suivi du N° RPPS (11 chiffres), ou 0 suivi du N° ADELI. Par exemple : 810000013994." }
                }
                input type="text" id="national_id" name="national_id" inputmode="numeric" autocomplete="off"
                    value=(form.national_id.as_deref().unwrap_or_default())
                    aria-describedby={ "national_id-aide" @if id_error.is_some() { " national_id-erreur" } }
                    aria-invalid=[id_error.map(|_| "true")];
                (field_error("national_id-erreur", id_error))
            }
            div class="champ" {
                label for="role" { "Rôle" }
                (role_select("role", &grantable, form.role.as_deref().and_then(|r| r.parse().ok()).or(Some(Role::Utilisateur)), None))
            }
            button type="submit" { "Ajouter le membre" }
        }
        (search_section(visitor, &action, &grantable, search))
    };
    let status = problem.map_or(StatusCode::OK, |p| p.status);
    (status, layout::page(web, "Membres de la boîte", Some(visitor), Section::Mailboxes, main)).into_response()
}

/// The mailbox the page is about, the person's role on it, and the terms
/// of use accepted at its creation.
fn summary(mailbox: &Mailbox, role: Option<Role>, cgu: Option<&CguAcceptance>) -> Markup {
    html! {
        dl class="identite carte" {
            dt { "Boîte" } dd { (mailbox.address.to_string()) }
            dt { "Nom affiché" } dd { (mailbox.display_name) }
            dt { "État" } dd { (state_badge(mailbox)) }
            dt { "Votre rôle" } dd { (role_label(role)) }
            @if let Some(cgu) = cgu {
                dt { "CGU acceptées" }
                dd { a href="/cgu" { "version " (cgu.version) } ", le " (super::mail::french_date(cgu.accepted_at)) }
            }
        }
    }
}

/// A member's name: the one of their personal mailbox, when they have one.
async fn name_of(web: &Web, id: &NationalId) -> String {
    let mailboxes = web.store.meta.mailboxes_of(id).await.unwrap_or_default();
    mailboxes.into_iter().find(|m| m.kind == MailboxKind::Personal).map_or_else(|| "—".to_string(), |m| m.display_name)
}

#[derive(Debug, Default, Deserialize)]
struct MemberForm {
    national_id: Option<String>,
    role: Option<String>,
}

async fn set_role(State(web): State<Arc<Web>>, Path(address): Path<String>, posted: Posted<MemberForm>) -> Response {
    let Posted { visitor, form } = posted;
    let member = form.national_id.as_deref().map(str::trim).unwrap_or_default();
    let outcome = match form.role.as_deref().map(str::parse::<Role>) {
        Some(Ok(role)) => change_role(&web, &visitor.caller, &address, member, Some(role)).await,
        _ => Err(Problem::invalid("Choisissez un rôle : Administrateur, Gestionnaire ou Utilisateur.").on("role")),
    };
    match outcome {
        Ok(()) => {
            Redirect::to(&format!("/portail/boites/{}/membres?fait=role", percent_encode(&address))).into_response()
        }
        Err(problem) => members_page(&web, &visitor, &address, &form, Some(&problem), None, None).await,
    }
}

async fn remove(
    State(web): State<Arc<Web>>,
    Path((address, national_id)): Path<(String, String)>,
    posted: Posted<MemberForm>,
) -> Response {
    let Posted { visitor, .. } = posted;
    match change_role(&web, &visitor.caller, &address, &national_id, None).await {
        Ok(()) => {
            Redirect::to(&format!("/portail/boites/{}/membres?fait=retire", percent_encode(&address))).into_response()
        }
        Err(problem) => {
            members_page(&web, &visitor, &address, &MemberForm::default(), Some(&problem), None, None).await
        }
    }
}

#[derive(Deserialize)]
struct AuditQuery {
    action: Option<String>,
    avant: Option<i64>,
}

async fn audit(
    State(web): State<Arc<Web>>,
    Path(address): Path<String>,
    Query(query): Query<AuditQuery>,
    visitor: Visitor,
) -> Response {
    let prefix = query.action.as_deref().map(str::trim).filter(|a| !a.is_empty()).map(str::to_string);
    let filter = AuditFilter {
        targets: Vec::new(),
        action_prefix: prefix.clone(),
        since: None,
        before_id: query.avant,
        limit: PAGE,
    };
    let (mailbox, entries) = match trail(&web, &visitor.caller, &address, filter).await {
        Ok(found) => found,
        Err(problem) => return refusal(&web, &visitor, &problem),
    };
    let older = (entries.len() == PAGE).then(|| entries.last().map(|e| e.id)).flatten();
    // People by name (their personal mailbox's), once each.
    let mut actors = std::collections::HashMap::new();
    for actor in &entries.iter().map(|e| e.entry.actor.clone()).collect::<std::collections::BTreeSet<_>>() {
        let shown = match actor.parse::<NationalId>() {
            Ok(id) => format!("{} ({})", name_of(&web, &id).await, actor),
            Err(_) if actor == "anonymous" => "anonyme".to_string(),
            Err(_) if actor == "mss" => "l'opérateur".to_string(),
            Err(_) => actor.clone(),
        };
        actors.insert(actor.clone(), shown);
    }
    let path = mailbox_path(&mailbox, "tracabilite");
    let main = html! {
        p { "Les accès et les changements de la boîte " strong { (mailbox.address.to_string()) } ", du plus récent au plus ancien (heure de Paris)." }
        form class="carte" method="get" action=(path) {
            div class="champ" {
                label for="action" {
                    "Filtrer par action"
                    span class="aide" id="action-aide" { "Le début du code de l'action : role. (les rôles), imap. (les accès par un logiciel de messagerie), webmail. (le portail), smtp. (les envois), mailbox. (la boîte)." }
                }
                input type="text" id="action" name="action" value=(prefix.as_deref().unwrap_or_default()) aria-describedby="action-aide";
            }
            button type="submit" { "Filtrer" }
        }
        @if entries.is_empty() {
            p { "Aucune entrée." }
        } @else {
            div class="tableau" {
                table {
                    caption { "Traçabilité de la boîte" }
                    thead { tr { th scope="col" { "Date" } th scope="col" { "Acteur" } th scope="col" { "Action" } th scope="col" { "Résultat" } th scope="col" { "Détail" } } }
                    tbody {
                        @for e in &entries {
                            tr {
                                td data-label="Date" { (paris(e.entry.at)) }
                                td data-label="Acteur" { (actors.get(&e.entry.actor).unwrap_or(&e.entry.actor)) }
                                td data-label="Action" { (super::trail::action(&e.entry.action)) }
                                td data-label="Résultat" { (super::trail::result(&e.entry.result)) }
                                td data-label="Détail" { (super::trail::detail(&e.entry.detail)) }
                            }
                        }
                    }
                }
            }
        }
        @if let Some(older) = older {
            p { a href={ (path) "?avant=" (older) "&action=" (percent_encode(prefix.as_deref().unwrap_or_default())) } { "Entrées plus anciennes" } }
        }
        p { a href=(super::HOME) { "Retour à mes boîtes aux lettres" } }
    };
    layout::page(&web, "Traçabilité de la boîte", Some(&visitor), Section::Mailboxes, main).into_response()
}

/// `2026-11-27 02:47:09` from unix seconds, in Paris time.
fn paris(at: i64) -> String {
    let Civil { year, month, day, hour, minute, second } = Civil::paris(at);
    format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn paris_dates() {
        assert_eq!(super::paris(0), "1970-01-01 01:00:00");
        assert_eq!(super::paris(1_795_744_029), "2026-11-27 02:47:09");
        assert_eq!(super::paris(951_782_400), "2000-02-29 01:00:00");
        assert_eq!(super::paris(1_782_000_000), "2026-06-21 02:00:00");
    }
}
