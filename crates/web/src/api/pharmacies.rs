//! The pharmacy software's API for the 5 % indicator: it declares its
//! dispensations (`POST /api/pharmacies/{finess}/dispensations`, one or a
//! batch, all kept or none, the errors by position), links one to a message
//! of the pharmacy's mailboxes (`POST …/dispensations/{id}/links`), and
//! reads where the pharmacy stands (`GET /api/pharmacies/{finess}/indicator?period=`).
//! The software authenticates as its applicative mailbox ([`Software`]: a
//! bearer token from `mss token`, or its certificate over HTTPS), which must
//! belong to that FINESS. Every declaration,
//! kept or refused, is traced.

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Json, Response};
use mss_core::Finess;
use mss_core::indicator::{Period, Window};
use mss_ops::indicator::{self, Declaration, DeclareError};
use mss_store::{NewAuditEntry, now_unix};
use serde::Deserialize;

use super::software::Software;
use crate::{Problem, Web};

/// Largest declaration body: a batch of [`indicator::MAX_BATCH`] short items.
pub const MAX_DECLARATION_BYTES: usize = 16 * 1024 * 1024;

/// The pharmacy of the path, if it is the software's own.
fn own_pharmacy(software: &Software, finess: &str) -> Result<Finess, Problem> {
    let finess: Finess = finess.parse().map_err(|_| Problem::not_found("FINESS invalide."))?;
    if software.0.mailbox.finess.as_ref() != Some(&finess) {
        return Err(Problem::forbidden(
            "Ce logiciel n'agit pas pour cette pharmacie (FINESS de sa boîte applicative).",
        ));
    }
    Ok(finess)
}

#[derive(Deserialize)]
struct DeclarationBody {
    dispensations: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    id: String,
    date: String,
    patient_ins: Option<String>,
    prescriber_rpps: Option<String>,
}

/// Declares dispensations.
pub async fn declare(
    State(web): State<Arc<Web>>,
    Path(finess): Path<String>,
    software: Software,
    request: Request,
) -> Result<Response, Problem> {
    let finess = own_pharmacy(&software, &finess)?;
    let body: DeclarationBody = super::body::json(request, MAX_DECLARATION_BYTES).await?;
    let declarations: Vec<Declaration> = body
        .dispensations
        .into_iter()
        .map(|i| Declaration { id: i.id, date: i.date, patient_ins: i.patient_ins, prescriber_rpps: i.prescriber_rpps })
        .collect();
    let actor = software.0.address().to_string();
    let audit = |result: String, detail: String| {
        NewAuditEntry::now(&actor, "api.dispensations", finess.as_str(), result, detail)
    };
    match indicator::declare(&web.store, &finess, &declarations, now_unix()).await {
        Ok(declared) => {
            let detail = format!("inserted={} replaced={}", declared.inserted, declared.replaced);
            web.store.audit.record(audit("ok".into(), detail)).await;
            Ok(Json(serde_json::json!({ "inserted": declared.inserted, "replaced": declared.replaced }))
                .into_response())
        }
        Err(DeclareError::Rejected(rejected)) => {
            web.store.audit.record(audit("refused: invalid".into(), format!("errors={}", rejected.len()))).await;
            let mut problem = Problem::invalid(format!(
                "{} dispensation(s) refusée(s) : rien n'a été enregistré. Corrigez-les et renvoyez le lot.",
                rejected.len()
            ));
            problem.errors = rejected.into_iter().map(|r| (r.position, r.reason)).collect();
            Err(problem)
        }
        Err(DeclareError::TooMany) => {
            Err(Problem::invalid(format!("Trop de dispensations dans un lot ({} au plus).", indicator::MAX_BATCH)))
        }
        Err(DeclareError::Store(e)) => Err(Problem::unavailable(e)),
    }
}

#[derive(Deserialize)]
pub struct LinkBody {
    message_id: String,
}

/// Links a dispensation to a message of the pharmacy's mailboxes (by its
/// Message-ID): the dispensation then counts, whatever its patient.
pub async fn link(
    State(web): State<Arc<Web>>,
    Path((finess, id)): Path<(String, String)>,
    software: Software,
    crate::api::body::Body(body): crate::api::body::Body<LinkBody>,
) -> Result<Response, Problem> {
    let finess = own_pharmacy(&software, &finess)?;
    let linked = indicator::link(&web.store, &finess, &id, &body.message_id, now_unix()).await?;
    let actor = software.0.address().to_string();
    let result = if linked { "ok" } else { "refused: unknown" };
    let detail = format!("dispensation={}", id.chars().filter(|c| !c.is_control()).take(64).collect::<String>());
    web.store.audit.record(NewAuditEntry::now(&actor, "api.dispensations.link", finess.as_str(), result, detail)).await;
    if !linked {
        return Err(Problem::not_found(
            "Dispensation inconnue, ou message absent des boîtes de la pharmacie (Message-ID avec ou sans chevrons).",
        ));
    }
    Ok((axum::http::StatusCode::CREATED, Json(serde_json::json!({ "dispensation": id, "linked": true })))
        .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeriodQuery {
    period: Option<String>,
}

/// Where the pharmacy stands over a period (the current month by default).
pub async fn indicator(
    State(web): State<Arc<Web>>,
    Path(finess): Path<String>,
    super::body::Params(query): super::body::Params<PeriodQuery>,
    software: Software,
) -> Result<Json<serde_json::Value>, Problem> {
    let finess = own_pharmacy(&software, &finess)?;
    let period = match query.period.as_deref() {
        Some(text) => {
            Period::parse(text).ok_or_else(|| Problem::invalid("Période invalide : AAAA-MM, AAAA-Tn ou AAAA."))?
        }
        None => Period::Month { year: 0, month: 1 }.containing(now_unix()),
    };
    let report = indicator::report(&web.store, &finess, period, Window::default()).await?;
    let months: Vec<serde_json::Value> = report
        .months
        .iter()
        .map(|(month, t)| serde_json::json!({ "period": month.key(), "dispensations": t.dispensations, "with_exchange": t.with_exchange }))
        .collect();
    Ok(Json(serde_json::json!({
        "period": period.key(),
        "dispensations": report.tally.dispensations,
        "with_exchange": report.tally.with_exchange,
        "share_basis_points": report.tally.basis_points(),
        "reached": report.tally.reached(),
        "threshold_basis_points": mss_core::indicator::THRESHOLD_BASIS_POINTS,
        "months": months,
    })))
}
