//! A JSON body whose rejections are problem details like every other error.

use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

use crate::Problem;

/// Largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

pub struct Body<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(request, state)
            .await
            .map_err(|e| Problem::invalid(format!("Corps de requête illisible : {}", e.body_text())))?;
        if bytes.len() > MAX_BODY_BYTES {
            return Err(Problem::invalid("Corps de requête trop grand."));
        }
        serde_json::from_slice(&bytes).map(Body).map_err(|e| Problem::invalid(format!("JSON invalide : {e}")))
    }
}
