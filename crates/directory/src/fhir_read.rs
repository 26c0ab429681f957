//! A FHIR read endpoint for our own published mailboxes, in the shape of
//! the national directory API, so that software that reads the ANS can read
//! us: `GET /Practitioner` and `GET /Organization`, optionally with
//! `identifier=system|value` (national id `urn:oid:1.2.250.1.71.4.2.1`,
//! structure id `urn:oid:1.2.250.1.71.4.2.2` = `1` + FINESS), `_count` and
//! `_offset`. The answer is a `searchset` Bundle (`application/fhir+json`)
//! whose `self`, `previous` and `next` links page through the records in
//! identifier order; a malformed parameter is a 400 `OperationOutcome`.
//!
//! Only active mailboxes off the liste rouge are shown, each as a `telecom`
//! built by [`fhir::contact_point`], grouped on the record the publication
//! targets ([`fhir::target`]): what we send to the ANS is what we show.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use mss_core::{Finess, MailboxState, NationalId};
use mss_store::{Mailbox, MetadataStore};
use serde::Deserialize;

use crate::fhir::{self, PERSON_ID_SYSTEM, STRUCTURE_ID_SYSTEM};

/// Records per Bundle unless `_count` says fewer.
const DEFAULT_COUNT: usize = 100;
const MAX_COUNT: usize = 1000;

/// What the handlers share.
#[derive(Clone)]
struct Reader {
    store: Arc<dyn MetadataStore>,
    /// The public URL this router is nested at (`https://…/fhir`), for links.
    base: Arc<str>,
}

/// The router, to be nested at `base` (`/fhir` of the operator's public URL
/// by `mss serve`).
pub fn router(store: Arc<dyn MetadataStore>, base: &str) -> Router {
    Router::new()
        .route("/Practitioner", get(|s, q| search(s, q, Resource::Practitioner)))
        .route("/Organization", get(|s, q| search(s, q, Resource::Organization)))
        .with_state(Reader { store, base: base.trim_end_matches('/').into() })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Resource {
    Practitioner,
    Organization,
}

impl Resource {
    fn name(self) -> &'static str {
        match self {
            Self::Practitioner => "Practitioner",
            Self::Organization => "Organization",
        }
    }

    /// The canonical `system|value` of a well-formed identifier value.
    fn identifier(self, value: &str) -> Option<String> {
        match self {
            Self::Practitioner => value.parse::<NationalId>().ok().map(|id| format!("{PERSON_ID_SYSTEM}|{id}")),
            Self::Organization => {
                let finess = value.strip_prefix('1')?.parse::<Finess>().ok()?;
                Some(format!("{STRUCTURE_ID_SYSTEM}|1{}", finess.as_str()))
            }
        }
    }

    fn system(self) -> &'static str {
        match self {
            Self::Practitioner => PERSON_ID_SYSTEM,
            Self::Organization => STRUCTURE_ID_SYSTEM,
        }
    }
}

#[derive(Deserialize)]
struct Params {
    identifier: Option<String>,
    #[serde(rename = "_count")]
    count: Option<String>,
    #[serde(rename = "_offset")]
    offset: Option<String>,
}

fn fhir_json(status: StatusCode, body: serde_json::Value) -> Response {
    (status, [(header::CONTENT_TYPE, "application/fhir+json")], body.to_string()).into_response()
}

/// A 400 `OperationOutcome`; the text is for people (French).
fn invalid(text: &str) -> Response {
    fhir_json(
        StatusCode::BAD_REQUEST,
        serde_json::json!({
            "resourceType": "OperationOutcome",
            "issue": [{ "severity": "error", "code": "invalid", "diagnostics": text }],
        }),
    )
}

async fn search(
    State(Reader { store, base }): State<Reader>,
    params: Result<Query<Params>, QueryRejection>,
    resource: Resource,
) -> Response {
    let Ok(Query(params)) = params else {
        return invalid("Paramètres de recherche illisibles");
    };
    let wanted = match params.identifier.as_deref().map(|i| parse_identifier(resource, i)) {
        None => None,
        Some(Ok(identifier)) => Some(identifier),
        Some(Err(text)) => return invalid(text),
    };
    let count = match params.count.as_deref().map(str::parse::<usize>) {
        None => DEFAULT_COUNT,
        Some(Ok(n)) => n.min(MAX_COUNT),
        Some(Err(_)) => return invalid("_count doit être un entier positif"),
    };
    let offset = match params.offset.as_deref().map(str::parse::<usize>) {
        None => 0,
        Some(Ok(n)) => n,
        Some(Err(_)) => return invalid("_offset doit être un entier positif"),
    };
    let mailboxes = match store.mailboxes().await {
        Ok(m) => m,
        Err(e) => {
            tracing::error!(error = %e, "fhir read: cannot list mailboxes");
            return fhir_json(
                StatusCode::INTERNAL_SERVER_ERROR,
                serde_json::json!({
                    "resourceType": "OperationOutcome",
                    "issue": [{ "severity": "error", "code": "exception", "diagnostics": "Erreur interne" }],
                }),
            );
        }
    };
    let mut records: BTreeMap<String, Vec<&Mailbox>> = BTreeMap::new();
    for m in mailboxes.iter().filter(|m| m.state == MailboxState::Active && !m.liste_rouge) {
        if let Some((name, identifier)) = fhir::target(m)
            && name == resource.name()
            && wanted.as_ref().is_none_or(|w| *w == identifier)
        {
            records.entry(identifier).or_default().push(m);
        }
    }
    let total = records.len();
    let entries: Vec<serde_json::Value> = records
        .iter()
        .skip(offset)
        .take(count)
        .map(|(identifier, held)| {
            serde_json::json!({ "resource": record(resource, identifier, held), "search": { "mode": "match" } })
        })
        .collect();
    let page = |at: usize| {
        let identifier = params.identifier.as_deref().map(|i| format!("identifier={}&", mss_http::percent_encode(i)));
        format!("{base}/{}?{}_count={count}&_offset={at}", resource.name(), identifier.unwrap_or_default())
    };
    let mut links = vec![serde_json::json!({ "relation": "self", "url": page(offset) })];
    if offset > 0 && count > 0 {
        links.push(serde_json::json!({ "relation": "previous", "url": page(offset.saturating_sub(count)) }));
    }
    if count > 0 && offset.saturating_add(count) < total {
        links.push(serde_json::json!({ "relation": "next", "url": page(offset + count) }));
    }
    fhir_json(
        StatusCode::OK,
        serde_json::json!({
            "resourceType": "Bundle", "type": "searchset", "total": total, "link": links, "entry": entries,
        }),
    )
}

/// `system|value` (or a bare value, in the resource's system), canonical.
fn parse_identifier(resource: Resource, text: &str) -> Result<String, &'static str> {
    let (system, value) = text.split_once('|').unwrap_or((resource.system(), text));
    if system != resource.system() {
        return Err(match resource {
            Resource::Practitioner => "Système d'identifiant attendu : urn:oid:1.2.250.1.71.4.2.1",
            Resource::Organization => "Système d'identifiant attendu : urn:oid:1.2.250.1.71.4.2.2",
        });
    }
    resource.identifier(value).ok_or(match resource {
        Resource::Practitioner => "Identifiant national invalide (8 + RPPS ou 0 + ADELI)",
        Resource::Organization => "Identifiant de structure invalide (1 + FINESS)",
    })
}

/// The Practitioner or Organization a group of mailboxes is published on.
fn record(resource: Resource, identifier: &str, held: &[&Mailbox]) -> serde_json::Value {
    let (system, value) = identifier.split_once('|').unwrap_or(("", identifier));
    let telecom: Vec<serde_json::Value> = held.iter().map(|m| fhir::contact_point(m)).collect();
    let mut json = serde_json::json!({
        "resourceType": resource.name(),
        "id": value,
        "identifier": [{ "system": system, "value": value }],
        "telecom": telecom,
    });
    let first = held.first();
    json["name"] = match resource {
        Resource::Practitioner => {
            let named = held.iter().find(|m| m.last_name.is_some()).or(first);
            named.map_or(serde_json::json!([]), |m| {
                let mut name = serde_json::json!({ "text": m.display_name });
                if let Some(family) = &m.last_name {
                    name["family"] = family.as_str().into();
                }
                if let Some(given) = &m.first_name {
                    name["given"] = serde_json::json!([given]);
                }
                serde_json::json!([name])
            })
        }
        Resource::Organization => {
            let named = held.iter().find(|m| m.kind == mss_core::MailboxKind::Organisational).or(first);
            named.map_or(serde_json::Value::Null, |m| m.display_name.as_str().into())
        }
    };
    json
}
