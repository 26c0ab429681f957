//! The pharmacy's 5 % indicator page: for an organisational mailbox with
//! a FINESS, over a month, a quarter or a year (Paris time), how many
//! dispensations its software declared, how many had an MSSanté exchange,
//! the share against 5 % and whether the 240 € are earned; a chart per
//! month drawn here as SVG (with its text alternative and the same figures
//! as a table), the dispensations that counted, and a CSV export. Seen by
//! whoever organises the mailbox (its holder, Gestionnaire, Administrateur).

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use maud::{Markup, html};
use mss_core::indicator::{BONUS_EUROS, Period, THRESHOLD_BASIS_POINTS, Tally, Window};
use mss_core::{Civil, Finess, Right};
use mss_ops::indicator::{self, Report};
use mss_store::{Mailbox, now_unix};
use serde::Deserialize;

use super::layout::{self, Section};
use super::mail::{self, french_date};
use super::session::Visitor;
use crate::Web;

/// The most counted dispensations listed on the page (the CSV has them all).
const LISTED: usize = 200;

pub fn router() -> Router<Arc<Web>> {
    Router::new()
        .route("/portail/boites/{address}/indicateur", get(page))
        .route("/portail/boites/{address}/indicateur.csv", get(csv))
}

/// The page of `address`'s indicator.
pub fn indicator_path(address: &str) -> String {
    format!("/portail/boites/{address}/indicateur")
}

#[derive(Deserialize)]
struct Chosen {
    periode: Option<String>,
}

/// The mailbox and its FINESS, if the visitor may see its indicator.
async fn open(web: &Web, visitor: &Visitor, address: &str) -> Result<(Mailbox, Finess), Response> {
    let (mailbox, rights, _) = mail::open(web, visitor, address).await?;
    if !rights.has(Right::CreateFolders) {
        let message = "Votre rôle sur cette boîte ne permet pas de voir son indicateur : demandez-le à un gestionnaire ou à un administrateur.";
        return Err(layout::error_page(web, StatusCode::FORBIDDEN, "Action non autorisée", message, Some(visitor)));
    }
    match mailbox.finess.clone() {
        Some(finess) => Ok((mailbox, finess)),
        None => {
            let message = "Cette boîte n'a pas de FINESS : l'indicateur est celui d'une pharmacie.";
            Err(layout::error_page(web, StatusCode::NOT_FOUND, "Indicateur indisponible", message, Some(visitor)))
        }
    }
}

/// The mailbox, its FINESS and the report of the period asked (the
/// current month by default), or the page saying why not.
async fn reported(
    web: &Web,
    visitor: &Visitor,
    address: &str,
    periode: Option<&str>,
) -> Result<(Mailbox, Finess, Report), Response> {
    let (mailbox, finess) = open(web, visitor, address).await?;
    let Some(period) = chosen(periode) else {
        let message = "Période invalide : choisissez un mois, un trimestre ou une année.";
        return Err(layout::error_page(web, StatusCode::BAD_REQUEST, "Période invalide", message, Some(visitor)));
    };
    let report =
        indicator::report(&web.store, &finess, period, Window::default()).await.map_err(layout::unavailable)?;
    Ok((mailbox, finess, report))
}

/// The period asked, or the current month.
fn chosen(periode: Option<&str>) -> Option<Period> {
    match periode {
        Some(text) => Period::parse(text),
        None => Some(Period::Month { year: 0, month: 1 }.containing(now_unix())),
    }
}

/// The periods offered: this and the last eleven months, this and the last
/// three quarters, this year and the last.
fn offered() -> Vec<Period> {
    let now = now_unix();
    let Civil { year, month, .. } = Civil::paris(now);
    let mut out = Vec::new();
    for back in 0..12 {
        let n = year * 12 + month - 1 - back;
        out.push(Period::Month { year: n.div_euclid(12), month: n.rem_euclid(12) + 1 });
    }
    let quarter = (month - 1) / 3;
    for back in 0..4 {
        let n = year * 4 + quarter - back;
        out.push(Period::Quarter { year: n.div_euclid(4), quarter: n.rem_euclid(4) + 1 });
    }
    out.extend([Period::Year { year }, Period::Year { year: year - 1 }]);
    out
}

fn reached_text(tally: Tally) -> &'static str {
    if tally.reached() { "Seuil de 5 % atteint" } else { "Seuil de 5 % non atteint" }
}

/// A bar per month: the share of dispensations with an exchange, the 5 %
/// line across. Drawn with attributes only (the portal's CSP allows no
/// inline style).
fn chart(report: &Report) -> Markup {
    let (width, height, left, bottom) = (640.0_f64, 240.0_f64, 48.0_f64, 36.0_f64);
    let top = 12.0;
    let months = report.months.len().max(1) as f64;
    let max_bp = report.months.iter().map(|(_, t)| t.basis_points()).max().unwrap_or(0).max(THRESHOLD_BASIS_POINTS * 2);
    let scale = |bp: u32| (height - bottom) - (f64::from(bp) / f64::from(max_bp)) * (height - bottom - top);
    let slot = (width - left) / months;
    let threshold_y = scale(THRESHOLD_BASIS_POINTS);
    let summary = format!(
        "Part des dispensations avec un échange MSSanté, par mois, {} : {} ; seuil 5 %.",
        report.period.label(),
        report.months.iter().map(|(m, t)| format!("{} {}", m.label(), t.share_text())).collect::<Vec<_>>().join(", ")
    );
    html! {
        figure class="graphique" {
            svg viewBox=(format!("0 0 {width} {height}")) role="img" aria-labelledby="graphique-titre graphique-desc" {
                title id="graphique-titre" { "Part des dispensations avec un échange, par mois" }
                desc id="graphique-desc" { (summary) }
                line x1=(left) y1=(height - bottom) x2=(width) y2=(height - bottom) stroke="#3a3a3a" {}
                @for (i, (month, tally)) in report.months.iter().enumerate() {
                    @let x = left + slot * i as f64 + slot * 0.15;
                    @let y = scale(tally.basis_points());
                    rect x=(format!("{x:.1}")) y=(format!("{y:.1}")) width=(format!("{:.1}", slot * 0.7)) height=(format!("{:.1}", (height - bottom - y).max(0.0)))
                        fill=(if tally.reached() { "#18753c" } else { "#000091" }) {}
                    text x=(format!("{:.1}", x + slot * 0.35)) y=(format!("{:.1}", height - bottom + 16.0)) text-anchor="middle" font-size="11" fill="#3a3a3a" {
                        (match month { Period::Month { month, .. } => format!("{month:02}"), other => other.key() })
                    }
                }
                line x1=(left) y1=(format!("{threshold_y:.1}")) x2=(width) y2=(format!("{threshold_y:.1}")) stroke="#c9191e" stroke-dasharray="6 4" {}
                text x=(left - 6.0) y=(format!("{:.1}", threshold_y + 4.0)) text-anchor="end" font-size="11" fill="#c9191e" { "5 %" }
            }
            figcaption { (summary) }
        }
    }
}

async fn page(
    State(web): State<Arc<Web>>,
    Path(address): Path<String>,
    Query(chosen_period): Query<Chosen>,
    visitor: Visitor,
) -> Response {
    let (mailbox, finess, report) = match reported(&web, &visitor, &address, chosen_period.periode.as_deref()).await {
        Ok(reported) => reported,
        Err(response) => return response,
    };
    let (period, tally) = (report.period, report.tally);
    let path = indicator_path(&address);
    let main = html! {
        p { a href=(mail::mail_path(&address)) { "Retour au courrier de " (mailbox.display_name) } }
        p { "Une dispensation compte quand un échange MSSanté des boîtes de la pharmacie (FINESS " (finess.as_str())
            ") concerne son patient dans les 30 jours avant ou après, ou y est rattaché. À partir de 5 % des dispensations, la pharmacie reçoit "
            (BONUS_EUROS) " €." }
        form method="get" action=(path) class="recherche" {
            div class="champ" {
                label for="periode" { "Période" }
                select id="periode" name="periode" {
                    @for p in offered() { option value=(p.key()) selected[p == period] { (p.label()) } }
                }
            }
            button type="submit" class="secondaire" { "Afficher" }
        }
        h2 { (period.label()) }
        dl class="entetes indicateur" {
            dt { "Dispensations déclarées" } dd { (tally.dispensations) }
            dt { "Avec un échange MSSanté" } dd { (tally.with_exchange) }
            dt { "Part" } dd { (tally.share_text()) }
            dt { "Seuil" } dd class=(if tally.reached() { "atteint" } else { "non-atteint" }) {
                (reached_text(tally))
                @if tally.reached() { " : " (BONUS_EUROS) " € acquis" }
            }
        }
        (chart(&report))
        div class="tableau" {
            table {
                caption { "Par mois : dispensations, avec un échange, part" }
                thead { tr { th scope="col" { "Mois" } th scope="col" { "Dispensations" } th scope="col" { "Avec échange" } th scope="col" { "Part" } } }
                tbody {
                    @for (month, t) in &report.months {
                        tr {
                            th scope="row" data-label="Mois" { (month.label()) }
                            td data-label="Dispensations" { (t.dispensations) }
                            td data-label="Avec échange" { (t.with_exchange) }
                            td data-label="Part" { (t.share_text()) }
                        }
                    }
                }
            }
        }
        p { a href=(format!("{}.csv?periode={}", path, period.key())) download { "Exporter en CSV" } }
        h2 { "Dispensations qui comptent" }
        @if report.counted.is_empty() {
            p { "Aucune pour cette période." }
        } @else {
            div class="tableau" {
                table {
                    caption { "Dispensations avec un échange MSSanté, et la date de l'échange" }
                    thead { tr { th scope="col" { "Dispensation" } th scope="col" { "Date" } th scope="col" { "Échange" } } }
                    tbody {
                        @for c in report.counted.iter().take(LISTED) {
                            tr {
                                th scope="row" data-label="Dispensation" { (c.id) }
                                td data-label="Date" { (french_date(c.at)) }
                                td data-label="Échange" { (french_date(c.exchanged_at)) }
                            }
                        }
                    }
                }
            }
            @if report.counted.len() > LISTED { p { "Les " (LISTED) " premières ; l'export CSV les donne toutes." } }
        }
    };
    layout::page(&web, "Indicateur 5 %", Some(&visitor), Section::Mailboxes, main).into_response()
}

/// The figures per month and the dispensations that counted, as CSV
/// (semicolons, UTF-8 with BOM: what a spreadsheet opens in France).
async fn csv(
    State(web): State<Arc<Web>>,
    Path(address): Path<String>,
    Query(chosen_period): Query<Chosen>,
    visitor: Visitor,
) -> Response {
    let (_, finess, report) = match reported(&web, &visitor, &address, chosen_period.periode.as_deref()).await {
        Ok(reported) => reported,
        Err(response) => return response,
    };
    let period = report.period;
    let mut out = String::from("\u{feff}periode;dispensations;avec_echange;part_pour_dix_mille;seuil_atteint\r\n");
    for (month, t) in report.months.iter().chain([(period, report.tally)].iter()) {
        out.push_str(&format!(
            "{};{};{};{};{}\r\n",
            month.key(),
            t.dispensations,
            t.with_exchange,
            t.basis_points(),
            if t.reached() { "oui" } else { "non" }
        ));
    }
    out.push_str("\r\ndispensation;date;echange\r\n");
    for c in &report.counted {
        // The software's id, quoted: a leading `=` must not become a formula.
        out.push_str(&format!(
            "\"'{}\";{};{}\r\n",
            c.id.replace('"', "\"\""),
            french_date(c.at),
            french_date(c.exchanged_at)
        ));
    }
    let disposition = format!("attachment; filename=\"indicateur-{}-{}.csv\"", finess.as_str(), period.key());
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8")),
        (
            header::CONTENT_DISPOSITION,
            HeaderValue::from_str(&disposition).unwrap_or(HeaderValue::from_static("attachment")),
        ),
    ];
    (headers, out).into_response()
}
