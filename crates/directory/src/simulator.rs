//! The development ANS directory API: answers the publication PATCH (add,
//! replace, delete of an MSSanté `telecom`) as the real one does (FHIR
//! `Parameters`, 404 for an unknown person or structure, 412 when several
//! records match), and lists what was published. Every person and structure
//! is known, once, except those it is told to refuse or to find twice.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use crate::fhir::{self, PERSON_ID_SYSTEM, Patch, STRUCTURE_ID_SYSTEM};

/// Largest PATCH body read.
const MAX_BODY: usize = 64 * 1024;
/// Telecom entries kept at most per record.
const MAX_TELECOM: usize = 100;

#[derive(Default)]
pub struct AnsSimulator {
    /// Identifier values (national ids, `1` + FINESS) the registries do not know.
    unknown: HashSet<String>,
    /// Identifier values several records carry.
    ambiguous: HashSet<String>,
    /// Published telecom entries by `Resource|system|value`.
    published: Mutex<HashMap<String, Vec<serde_json::Value>>>,
}

impl AnsSimulator {
    /// Refuses these national ids (`8`+RPPS, `0`+ADELI) and FINESS.
    pub fn new(unknown_national_ids: &[String], unknown_finess: &[String]) -> Self {
        let unknown =
            unknown_national_ids.iter().cloned().chain(unknown_finess.iter().map(|f| format!("1{f}"))).collect();
        Self { unknown, ambiguous: HashSet::new(), published: Mutex::new(HashMap::new()) }
    }

    /// Also answers 412 (several records) for these identifier values
    /// (national ids, `1` + FINESS).
    pub fn with_ambiguous(mut self, identifier_values: &[String]) -> Self {
        self.ambiguous.extend(identifier_values.iter().cloned());
        self
    }

    pub fn router(self: Arc<Self>) -> Router {
        Router::new().route("/{resource}", get(read).patch(patch)).with_state(self)
    }
}

#[derive(Deserialize)]
struct Selector {
    identifier: Option<String>,
}

fn fhir(status: StatusCode, body: serde_json::Value) -> Response {
    (status, [(header::CONTENT_TYPE, "application/fhir+json")], body.to_string()).into_response()
}

fn outcome(status: StatusCode, code: &str, text: &str) -> Response {
    fhir(
        status,
        serde_json::json!({
            "resourceType": "OperationOutcome",
            "issue": [{ "severity": "error", "code": code, "diagnostics": text }],
        }),
    )
}

/// Why a request names no record: status, FHIR issue code, text.
type Refusal = (StatusCode, &'static str, &'static str);

/// The record key, if the resource and identifier are ones the ANS serves.
fn record(resource: &str, identifier: Option<&str>) -> Result<(String, String), Refusal> {
    let system = match resource {
        "Practitioner" => PERSON_ID_SYSTEM,
        "Organization" => STRUCTURE_ID_SYSTEM,
        _ => return Err((StatusCode::NOT_FOUND, "not-supported", "unknown resource type")),
    };
    let Some((given_system, value)) = identifier.and_then(|i| i.split_once('|')) else {
        return Err((StatusCode::BAD_REQUEST, "required", "identifier=system|value is required"));
    };
    if given_system != system || value.is_empty() {
        return Err((StatusCode::BAD_REQUEST, "value", "wrong identifier system"));
    }
    Ok((format!("{resource}|{system}|{value}"), value.to_string()))
}

async fn patch(
    State(sim): State<Arc<AnsSimulator>>,
    Path(resource): Path<String>,
    Query(selector): Query<Selector>,
    body: Bytes,
) -> Response {
    let (key, value) = match record(&resource, selector.identifier.as_deref()) {
        Ok(record) => record,
        Err((status, code, text)) => return outcome(status, code, text),
    };
    if sim.unknown.contains(&value) {
        return outcome(StatusCode::NOT_FOUND, "not-found", "no record matches the identifier");
    }
    if sim.ambiguous.contains(&value) {
        return outcome(StatusCode::PRECONDITION_FAILED, "multiple-matches", "several records match the identifier");
    }
    if body.len() > MAX_BODY {
        return outcome(StatusCode::PAYLOAD_TOO_LARGE, "too-long", "body too large");
    }
    let Ok(parameters) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return outcome(StatusCode::BAD_REQUEST, "structure", "not JSON");
    };
    let Some(patch) = fhir::parse_patch(&resource, &parameters) else {
        return outcome(
            StatusCode::UNPROCESSABLE_ENTITY,
            "processing",
            "expected an add, replace or delete of an MSSanté telecom",
        );
    };
    let mut published = sim.published.lock().unwrap_or_else(|p| p.into_inner());
    let telecom = published.entry(key).or_default();
    match patch {
        Patch::Add(contact) => {
            telecom.retain(|t| t["value"] != contact["value"]);
            if telecom.len() >= MAX_TELECOM {
                return outcome(StatusCode::UNPROCESSABLE_ENTITY, "too-costly", "too many telecom entries");
            }
            telecom.push(contact);
        }
        Patch::Replace { address, contact } => {
            // FHIRPath Patch: the path of a replace must name an element.
            let Some(slot) = telecom.iter_mut().find(|t| t["value"] == address.as_str()) else {
                return outcome(StatusCode::UNPROCESSABLE_ENTITY, "processing", "no such telecom to replace");
            };
            *slot = contact;
        }
        // A delete of what is not there changes nothing (FHIRPath Patch).
        Patch::Delete { address } => telecom.retain(|t| t["value"] != address.as_str()),
    }
    let resource_json = serde_json::json!({ "resourceType": resource, "telecom": telecom });
    fhir(StatusCode::OK, resource_json)
}

/// A search by identifier: a Bundle with the record and what was published.
async fn read(
    State(sim): State<Arc<AnsSimulator>>,
    Path(resource): Path<String>,
    Query(selector): Query<Selector>,
) -> Response {
    let (key, _) = match record(&resource, selector.identifier.as_deref()) {
        Ok(record) => record,
        Err((status, code, text)) => return outcome(status, code, text),
    };
    let published = sim.published.lock().unwrap_or_else(|p| p.into_inner());
    let entries: Vec<serde_json::Value> = published
        .get(&key)
        .map(|telecom| vec![serde_json::json!({ "resource": { "resourceType": resource, "telecom": telecom } })])
        .unwrap_or_default();
    fhir(
        StatusCode::OK,
        serde_json::json!({ "resourceType": "Bundle", "type": "searchset", "total": entries.len(), "entry": entries }),
    )
}
