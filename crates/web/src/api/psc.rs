//! Login with Pro Santé Connect: `/auth/psc/login` sends the person to PSC;
//! PSC sends them back to [`crate::psc_callback`] with a code, which
//! becomes an operator session (the tokens of `/auth/refresh`).

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::{ClientAddress, Problem, Web};

#[derive(Deserialize)]
pub struct LoginQuery {
    /// Passed to PSC (the simulator logs that test identity in at once).
    login_hint: Option<String>,
}

pub async fn login(
    State(web): State<Arc<Web>>,
    ClientAddress(client): ClientAddress,
    super::body::Params(query): super::body::Params<LoginQuery>,
) -> Result<Response, Problem> {
    let psc = web.psc.as_ref().ok_or_else(|| Problem::not_found("Pro Santé Connect n'est pas configuré."))?;
    let (url, _state) = psc.start(query.login_hint.as_deref(), client).await?;
    Ok(Redirect::to(&url).into_response())
}
