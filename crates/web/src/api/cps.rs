//! Login with a CPS card: a one-time challenge, signed by the card, turned
//! into an operator session.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Json;
use mss_identity::cps::{self, CHALLENGE_TTL, CpsAuthority, CpsError};
use mss_identity::{IssuedTokens, Method};
use mss_store::{NewAuditEntry, now_unix};
use serde::Deserialize;

use super::body::Body;
use crate::{ClientAddress, Problem, Web};

fn authority(web: &Web) -> Result<&CpsAuthority, Problem> {
    web.cps.as_deref().ok_or_else(|| Problem::not_found("La connexion par carte CPS n'est pas configurée."))
}

pub async fn challenge(
    State(web): State<Arc<Web>>,
    ClientAddress(client): ClientAddress,
) -> Result<Json<serde_json::Value>, Problem> {
    let challenge = authority(&web)?.challenge(now_unix(), client).await.map_err(|e| {
        tracing::warn!(error = %e, "cps: no challenge given");
        Problem::new(StatusCode::SERVICE_UNAVAILABLE, "busy", "Trop de connexions en cours, réessayez.")
    })?;
    Ok(Json(serde_json::json!({ "challenge": challenge, "expires_in": CHALLENGE_TTL })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CpsLogin {
    challenge: String,
    /// The card's certificate first, DER in base64url.
    certificates: Vec<String>,
    /// The signature of the challenge, base64url.
    signature: String,
}

pub async fn login(State(web): State<Arc<Web>>, Body(request): Body<CpsLogin>) -> Result<Json<IssuedTokens>, Problem> {
    let authority = authority(&web)?;
    let chain: Option<Vec<Vec<u8>>> = request.certificates.iter().take(4).map(|c| cps::decode(c)).collect();
    let (Some(chain), Some(signature)) = (chain, cps::decode(&request.signature)) else {
        return Err(Problem::invalid("Certificat ou signature illisible (base64url attendu)."));
    };
    let now = now_unix();
    let person = match authority.verify(&request.challenge, &chain, &signature, now).await {
        Ok(person) => person,
        Err(CpsError::Unavailable(e)) => {
            tracing::error!(error = %e, "cps: challenges unavailable");
            return Err(Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Service momentanément indisponible, réessayez.",
            ));
        }
        Err(e) => {
            let entry = NewAuditEntry::now("anonymous", "session.login", "", format!("refused: {e}"), "method=cps");
            web.store.audit.record(entry).await;
            let detail = match e {
                CpsError::Challenge => "Défi inconnu, déjà utilisé ou expiré : recommencez.".to_string(),
                CpsError::Certificate(_) => "Ce certificat n'est pas celui d'une carte CPS reconnue.".to_string(),
                CpsError::Signature => "La signature de la carte ne correspond pas au certificat.".to_string(),
                CpsError::Holder(why) => format!("Titulaire de la carte illisible : {why}"),
                CpsError::Busy | CpsError::Unavailable(_) => "Trop de connexions en cours, réessayez.".to_string(),
            };
            return Err(Problem::unauthenticated(detail));
        }
    };
    let tokens = web.sessions.open(&person, Method::Cps, now).await.map_err(Problem::unavailable)?;
    let actor = person.national_id.to_string();
    web.store.audit.record(NewAuditEntry::now(&actor, "session.login", &actor, "ok", "method=cps")).await;
    Ok(Json(tokens))
}
