//! The operator's console (`/portail/operateur`), for the operator's
//! administrators only (`Web::operator_admins`, by national id; 404 for
//! anyone else): the mailboxes by type and state and those waiting for the
//! ANS, the outbound queue, the liste blanche and its last refreshes, the
//! publications to the ANS directory, and this month's figures (the
//! report `mss stats export` writes for the ANS). Read only: every change
//! stays the CLI's or the person's own pages'.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use maud::html;
use mss_core::indicator::Period;
use mss_core::{MailboxKind, MailboxState};
use mss_store::{AuditFilter, RecipientStatus, now_unix};

use super::layout::{self, Section};
use super::mail::french_date;
use super::mailboxes::kind_label;
use super::session::Visitor;
use super::trail;
use crate::Web;

/// The console's address.
pub const PATH: &str = "/portail/operateur";
/// Rows shown of each list.
const SHOWN: usize = 20;

pub fn router() -> Router<Arc<Web>> {
    Router::new().route(PATH, get(console))
}

/// Whether `visitor` administers the operator.
pub fn is_operator_admin(web: &Web, visitor: &Visitor) -> bool {
    web.operator_admins.contains(&visitor.caller.0.person.national_id)
}

async fn console(State(web): State<Arc<Web>>, visitor: Visitor) -> Response {
    if !is_operator_admin(&web, &visitor) {
        let message = "Cette page n'existe pas.";
        return layout::error_page(&web, StatusCode::NOT_FOUND, "Page introuvable", message, Some(&visitor));
    }
    match render(&web, &visitor).await {
        Ok(response) => response,
        Err(e) => layout::unavailable(e),
    }
}

async fn render(web: &Web, visitor: &Visitor) -> Result<Response, mss_store::StoreError> {
    let now = now_unix();
    let month = Period::Month { year: 0, month: 1 }.containing(now);
    let report = mss_ops::stats::month(&web.store, &web.domain, month).await?;
    let mailboxes = web.store.meta.mailboxes().await?;
    let pending: Vec<_> = mailboxes.iter().filter(|m| m.state == MailboxState::Pending).collect();
    let queue = web.store.meta.queue().await?;
    let mut waiting: Vec<_> = queue.iter().filter(|q| q.status == RecipientStatus::Pending).collect();
    waiting.sort_by_key(|q| q.next_attempt_at);
    let failed = queue.iter().filter(|q| q.status == RecipientStatus::Failed).count();
    let import = web.store.meta.last_whitelist_import().await?;
    let refreshes = web
        .store
        .meta
        .audit_entries(&AuditFilter { action_prefix: Some("whitelist.".into()), limit: 5, ..AuditFilter::default() })
        .await?;
    let due = web.store.meta.publications_due_now(now).await?;
    let publications = web.store.meta.publications(false).await?;
    let messages = &report.messages;
    let main = html! {
        p { "L'état de l'opérateur " strong { (web.domain.as_str()) } ", heure de Paris. Les changements se font avec la commande mss." }
        section class="carte" aria-labelledby="boites" {
            h2 id="boites" { "Boîtes aux lettres" }
            table {
                caption { "Boîtes par type et par état" }
                thead { tr { th scope="col" { "Type" } th scope="col" { "État" } th scope="col" { "Nombre" } } }
                tbody {
                    @for (kind, states) in &report.mailboxes {
                        @for (state, n) in states { tr { td { (kind_name(kind)) } td { (state_name(state)) } td { (n) } } }
                    }
                }
            }
            h3 { "En attente de validation par l'ANS (" (pending.len()) ")" }
            @if pending.is_empty() { p { "Aucune." } } @else {
                ul { @for m in pending.iter().take(SHOWN) { li { (m.address.to_string()) " — " (m.display_name) } } }
            }
        }
        section class="carte" aria-labelledby="file" {
            h2 id="file" { "File d'attente sortante" }
            p { (waiting.len()) " destinataire(s) en attente, " (failed) " en échec définitif." }
            @if !waiting.is_empty() {
                table {
                    caption { "Prochains essais" }
                    thead { tr { th scope="col" { "Destinataire" } th scope="col" { "Essais" } th scope="col" { "Prochain essai" } th scope="col" { "Dernière réponse" } } }
                    tbody {
                        @for q in waiting.iter().take(SHOWN) {
                            tr { td { (q.recipient) } td { (q.attempts) } td { (french_date(q.next_attempt_at)) } td { (q.last_reply) } }
                        }
                    }
                }
            }
        }
        section class="carte" aria-labelledby="liste" {
            h2 id="liste" { "Liste blanche" }
            @match &import {
                Some(i) => p { "Liste de l'ANS du " (i.generated_at) ", " (i.entry_count) " entrées, importée le " (french_date(i.imported_at)) "." },
                None => p { "Aucune liste de l'ANS importée." },
            }
            @if !refreshes.is_empty() {
                ul { @for r in &refreshes {
                    li { (french_date(r.entry.at)) " : " (trail::result(&r.entry.result)) @if !r.entry.detail.is_empty() { " — " (r.entry.detail) } }
                } }
            }
        }
        section class="carte" aria-labelledby="annuaire" {
            h2 id="annuaire" { "Publication dans l'annuaire santé" }
            p { (publications.len()) " publication(s) en cours, dont " (due) " à envoyer maintenant." }
            @if !publications.is_empty() {
                ul { @for p in publications.iter().take(SHOWN) {
                    li { (p.address) " — essais : " (p.attempts) @if let Some(e) = &p.last_error { " — " (e) } }
                } }
            }
        }
        section class="carte" aria-labelledby="mois" {
            h2 id="mois" { "Ce mois-ci (" (report.month) ")" }
            dl class="identite" {
                dt { "Messages envoyés dans l'opérateur" } dd { (messages.sent_inside) }
                dt { "Messages envoyés à d'autres opérateurs" } dd { (messages.sent_to_operators) }
                dt { "Messages envoyés à des patients" } dd { (messages.sent_to_patients) }
                dt { "Envois en échec" } dd { (messages.sent_failed) }
                dt { "Messages reçus d'autres opérateurs" } dd { (messages.received_from_operators) }
                dt { "Messages reçus de patients" } dd { (messages.received_from_patients) }
                dt { "Documents de santé envoyés" } dd { (report.documents_sent) }
                dt { "Boîtes créées / fermées" } dd { (report.mailboxes_created) " / " (report.mailboxes_closed) }
                @for (method, n) in &report.logins { dt { "Connexions : " (super::session::method_name(method, web.account.as_deref().map(|a| a.name.as_str()))) } dd { (n) } }
            }
        }
    };
    Ok(layout::page(web, "Console de l'opérateur", Some(visitor), Section::Mailboxes, main).into_response())
}

/// A mailbox type code (`ORG`) as people name it.
fn kind_name(code: &str) -> String {
    code.parse::<MailboxKind>().map_or_else(|_| code.to_string(), |kind| kind_label(kind).to_string())
}

/// A mailbox state (`active`) in French.
fn state_name(state: &str) -> &str {
    match state.parse::<MailboxState>() {
        Ok(MailboxState::Pending) => "En cours de création",
        Ok(MailboxState::Active) => "Active",
        Ok(MailboxState::Suspended) => "Suspendue",
        Ok(MailboxState::Deleted) => "Supprimée",
        Err(_) => state,
    }
}
