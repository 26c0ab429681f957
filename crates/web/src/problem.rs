//! RFC 9457 problem details: the one shape of every API error.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// An API error: HTTP status, a stable type slug, and a French detail for
/// the person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub status: StatusCode,
    /// Becomes the `type` URI `/api/problems/{slug}`.
    pub slug: &'static str,
    pub detail: String,
    /// For 401: the `WWW-Authenticate` challenge.
    pub challenge: Option<&'static str>,
    /// The request field at fault, when one is (the portal shows the detail
    /// next to it).
    pub field: Option<&'static str>,
}

impl Problem {
    pub fn new(status: StatusCode, slug: &'static str, detail: impl Into<String>) -> Self {
        Self { status, slug, detail: detail.into(), challenge: None, field: None }
    }

    /// The same problem, blamed on the request field `field`.
    pub fn on(self, field: &'static str) -> Self {
        Self { field: Some(field), ..self }
    }

    pub fn unauthenticated(detail: impl Into<String>) -> Self {
        Self {
            challenge: Some("Bearer error=\"invalid_token\""),
            ..Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", detail)
        }
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", detail)
    }

    pub fn invalid(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid-request", detail)
    }

    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", detail)
    }

    pub fn unavailable(error: impl std::fmt::Display) -> Self {
        tracing::error!(%error, "api: store failure");
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "Service momentanément indisponible, réessayez.")
    }
}

impl From<mss_store::StoreError> for Problem {
    fn from(e: mss_store::StoreError) -> Self {
        Self::unavailable(e)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "type": format!("/api/problems/{}", self.slug),
            "title": self.status.canonical_reason().unwrap_or("Error"),
            "status": self.status.as_u16(),
            "detail": self.detail,
        });
        let mut response = (self.status, body.to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if let Some(challenge) = self.challenge {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        }
        response
    }
}
