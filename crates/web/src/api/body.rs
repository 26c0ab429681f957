//! What the API reads from a request, its refusals problem details in
//! French like every other error: a JSON body ([`Body`], [`json`]: 415 for
//! another content type, 413 past the limit, the place and the field of a
//! malformed one, never serde's English) and the query string ([`Params`]:
//! an unknown or malformed parameter named).

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

use crate::Problem;

/// Largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

pub struct Body<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = Problem;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Body(json(request, MAX_BODY_BYTES).await?))
    }
}

/// Reads `request`'s body as JSON of `T`, at most `max` bytes.
pub async fn json<T: DeserializeOwned>(request: Request, max: usize) -> Result<T, Problem> {
    let declared = request.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_string);
    if declared
        .as_deref()
        .is_some_and(|t| !t.split(';').next().unwrap_or_default().trim().eq_ignore_ascii_case("application/json"))
    {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Le corps de la requête doit être du JSON (Content-Type: application/json).",
        ));
    }
    let bytes = axum::body::to_bytes(request.into_body(), max).await.map_err(|_| {
        Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-large",
            format!("Corps de requête trop grand ({max} octets au plus)."),
        )
    })?;
    serde_json::from_slice(&bytes).map_err(|e| Problem::invalid(in_french(&e)))
}

/// A JSON error as a person reads it: where, and which field when serde
/// names one.
fn in_french(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let text = e.to_string();
    let field = text.split('`').nth(1).filter(|f| f.len() <= 64 && !f.contains(char::is_whitespace));
    let at = format!("ligne {}, colonne {}", e.line(), e.column());
    match e.classify() {
        Category::Eof => "JSON incomplet : le corps s'arrête avant la fin.".into(),
        Category::Syntax => format!("JSON mal formé ({at})."),
        Category::Data if text.starts_with("missing field") => {
            format!("JSON invalide : le champ « {} » est requis.", field.unwrap_or("?"))
        }
        Category::Data if text.starts_with("unknown field") => {
            format!("JSON invalide : le champ « {} » n'existe pas.", field.unwrap_or("?"))
        }
        Category::Data => format!("JSON invalide : une valeur n'a pas le type attendu ({at})."),
        Category::Io => "Corps de requête illisible.".into(),
    }
}

/// The query string, as `T`; an unknown or malformed parameter is a 422
/// problem naming it.
pub struct Params<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Params<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        serde_urlencoded::from_str(query).map(Params).map_err(|e| {
            let text = e.to_string();
            let name = text.split('`').nth(1).filter(|f| f.len() <= 64).unwrap_or("?");
            let detail = if text.starts_with("unknown field") {
                format!("Paramètre « {name} » inconnu.")
            } else if text.starts_with("missing field") {
                format!("Paramètre « {name} » requis.")
            } else {
                "Paramètre de requête invalide.".to_string()
            };
            Problem::invalid(detail)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Sample {
        name: String,
        count: u32,
    }

    fn said(text: &str) -> String {
        in_french(&serde_json::from_str::<Sample>(text).unwrap_err())
    }

    #[test]
    fn json_errors_are_said_in_french() {
        assert_eq!(said(r#"{"name":"x"}"#), "JSON invalide : le champ « count » est requis.");
        assert_eq!(said(r#"{"name":"x","count":1,"extra":2}"#), "JSON invalide : le champ « extra » n'existe pas.");
        assert_eq!(
            said(r#"{"name":"x","count":"un"}"#),
            "JSON invalide : une valeur n'a pas le type attendu (ligne 1, colonne 24)."
        );
        assert_eq!(said(r#"{"name":"x","#), "JSON incomplet : le corps s'arrête avant la fin.");
        assert_eq!(said("{name}"), "JSON mal formé (ligne 1, colonne 2).");
    }
}
