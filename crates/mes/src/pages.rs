//! The patient's side of the simulator, in French: the patients; one
//! patient's messages (opening one sends its read receipt); writing to a
//! pharmacy or a professional with an attachment; closing a conversation.
//! Development only (see the crate's documentation): no sign-in, no CSRF
//! token; whoever reaches these pages is the patient.

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Form, Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{DOCTYPE, Markup, html};
use mss_core::Civil;
use serde::Deserialize;

use crate::{MonEspaceSante, PatientError, PatientView};

/// The largest form taken (a 25 MB message and its encoding).
const MAX_FORM: usize = 40 * 1024 * 1024;

#[derive(Clone)]
struct Pages {
    sim: Arc<MonEspaceSante>,
    base: String,
}

/// The pages, under `base` (`/mes-sim`).
pub fn router(sim: Arc<MonEspaceSante>, base: &str) -> Router {
    let pages = Pages { sim, base: base.to_string() };
    Router::new()
        .route(base, get(patients))
        .route(&format!("{base}/{{ins}}"), get(mailbox))
        .route(&format!("{base}/{{ins}}/messages/{{number}}"), get(message))
        .route(&format!("{base}/{{ins}}/ecrire"), post(write).layer(DefaultBodyLimit::max(MAX_FORM)))
        .route(&format!("{base}/{{ins}}/clore"), post(close))
        .with_state(pages)
}

fn page(title: &str, main: Markup) -> Html<String> {
    Html(
        html! {
            (DOCTYPE)
            html lang="fr" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { (title) " · Mon espace santé (simulateur)" }
                }
                body {
                    header { p { strong { "Mon espace santé" } " — simulateur de développement, aucune donnée réelle" } }
                    main { h1 { (title) } (main) }
                }
            }
        }
        .into_string(),
    )
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, page("Impossible", html! { p role="alert" { (message) } })).into_response()
}

/// `02/12/2026 à 10:30`, Paris time.
fn date(at: i64) -> String {
    let Civil { year, month, day, hour, minute, .. } = Civil::paris(at);
    format!("{day:02}/{month:02}/{year:04} à {hour:02}:{minute:02}")
}

async fn patients(State(p): State<Pages>) -> Response {
    let patients = p.sim.patients();
    page(
        "Patients",
        html! {
            ul {
                @for patient in &patients {
                    li { a href=(format!("{}/{}", p.base, patient.ins)) { (patient.display_name()) " (INS " (patient.ins) ")" } }
                }
            }
        },
    )
    .into_response()
}

#[derive(Deserialize)]
struct MailboxQuery {
    a: Option<String>,
    fait: Option<String>,
}

async fn mailbox(State(p): State<Pages>, Path(ins): Path<String>, Query(q): Query<MailboxQuery>) -> Response {
    let Some(PatientView { patient, messages, may_write, open }) = p.sim.mailbox(&ins) else {
        return error(StatusCode::NOT_FOUND, "Patient inconnu.");
    };
    let here = format!("{}/{}", p.base, patient.ins);
    let main = html! {
        @if q.fait.as_deref() == Some("envoye") { p role="status" { "Votre message a été envoyé." } }
        @if q.fait.as_deref() == Some("clos") { p role="status" { "La conversation est close." } }
        h2 { "Messages" }
        @if messages.is_empty() { p { "Aucun message." } } @else {
            table {
                thead { tr { th scope="col" { "De / À" } th scope="col" { "Objet" } th scope="col" { "Date" } th scope="col" { "État" } } }
                tbody {
                    @for m in messages.iter().rev() {
                        tr {
                            td { @if m.received { "De " } @else { "À " } (m.professional) }
                            th scope="row" { a href=(format!("{here}/messages/{}", m.number)) { @if m.subject.is_empty() { "(sans objet)" } @else { (m.subject) } } }
                            td { (date(m.at)) }
                            td { @if !m.received { "Envoyé" } @else if m.read { "Lu" } @else { strong { "Non lu" } } }
                        }
                    }
                }
            }
        }
        h2 { "Écrire" }
        form method="post" action=(format!("{here}/ecrire")) enctype="multipart/form-data" {
            p {
                label for="a" { "À (votre pharmacie, ou un professionnel qui vous a écrit)" }
                input id="a" name="a" type="email" list="connus" value=[q.a.as_deref()];
                datalist id="connus" { @for to in &may_write { option value=(to) {} } }
            }
            p { label for="objet" { "Objet" } input id="objet" name="objet" type="text"; }
            p { label for="texte" { "Message" } textarea id="texte" name="texte" rows="5" {} }
            p { label for="piece" { "Pièce jointe (photo de l'ordonnance, PDF…)" } input id="piece" name="piece" type="file"; }
            button type="submit" { "Envoyer" }
        }
        @if !open.is_empty() {
            h2 { "Conversations en cours" }
            ul {
                @for pro in &open {
                    li {
                        form method="post" action=(format!("{here}/clore")) {
                            input type="hidden" name="a" value=(pro);
                            (pro) " " button type="submit" { "Clore la conversation" }
                        }
                    }
                }
            }
        }
        p { a href=(p.base) { "Autres patients" } }
    };
    page(&format!("Messagerie de {}", patient.display_name()), main).into_response()
}

async fn message(State(p): State<Pages>, Path((ins, number)): Path<(String, usize)>) -> Response {
    let Some(m) = p.sim.open(&ins, number).await else {
        return error(StatusCode::NOT_FOUND, "Message introuvable.");
    };
    let here = format!("{}/{ins}", p.base);
    let main = html! {
        p { @if m.received { "De " } @else { "À " } (m.professional) ", le " (date(m.at)) }
        @if m.closes { p { strong { "Ce message clôt la conversation." } } }
        pre { (m.text) }
        @if !m.attachments.is_empty() {
            ul { @for name in &m.attachments { li { "Pièce jointe : " (name) } } }
        }
        @if m.received { p { a href=(format!("{here}?a={}#a", m.professional)) { "Répondre" } } }
        p { a href=(here) { "Retour aux messages" } }
    };
    page(if m.subject.is_empty() { "(sans objet)" } else { &m.subject }, main).into_response()
}

fn refused(e: &PatientError) -> Response {
    let status = match e {
        PatientError::UnknownPatient => StatusCode::NOT_FOUND,
        PatientError::NotDelivered(_) => StatusCode::BAD_GATEWAY,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    error(status, &e.to_string())
}

async fn write(State(p): State<Pages>, Path(ins): Path<String>, mut form: Multipart) -> Response {
    let (mut to, mut subject, mut text, mut file) = (String::new(), String::new(), String::new(), None);
    loop {
        let field = match form.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(_) => return error(StatusCode::BAD_REQUEST, "Formulaire illisible."),
        };
        let name = field.name().unwrap_or_default().to_string();
        let file_name = field.file_name().map(str::to_string);
        let kind = field.content_type().unwrap_or("application/octet-stream").to_string();
        let Ok(bytes) = field.bytes().await else {
            return error(StatusCode::PAYLOAD_TOO_LARGE, "Le message dépasse 25 Mo.");
        };
        match name.as_str() {
            "a" => to = String::from_utf8_lossy(&bytes).into_owned(),
            "objet" => subject = String::from_utf8_lossy(&bytes).into_owned(),
            "texte" => text = String::from_utf8_lossy(&bytes).into_owned(),
            "piece" if !bytes.is_empty() => {
                file = Some((file_name.unwrap_or_else(|| "piece-jointe".into()), kind, bytes))
            }
            _ => {}
        }
    }
    let attachment = file.as_ref().map(|(name, kind, bytes)| (name.as_str(), kind.as_str(), &bytes[..]));
    match p.sim.send_from_patient(&ins, &to, subject.trim(), &text, attachment, false).await {
        Ok(()) => Redirect::to(&format!("{}/{ins}?fait=envoye", p.base)).into_response(),
        Err(e) => refused(&e),
    }
}

#[derive(Deserialize)]
struct CloseForm {
    a: String,
}

async fn close(State(p): State<Pages>, Path(ins): Path<String>, Form(form): Form<CloseForm>) -> Response {
    let text = "Merci, je clos cette conversation.";
    match p.sim.send_from_patient(&ins, &form.a, mss_core::patients::CLOSING_SUBJECT, text, None, true).await {
        Ok(()) => Redirect::to(&format!("{}/{ins}?fait=clos", p.base)).into_response(),
        Err(e) => refused(&e),
    }
}
