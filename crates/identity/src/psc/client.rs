//! The Pro Santé Connect client: the OpenID Connect flow ([`OidcFlow`]),
//! then the PSC claims from userinfo, which name the person.

use std::sync::Arc;

use mss_store::LoginFlowStore;
use openidconnect::UserInfoClaims;
use openidconnect::core::CoreGenderClaim;

use super::PscClaims;
use crate::Person;
use crate::oidc::{OidcConfig, OidcError, OidcFlow};
use mss_http::HttpClient;

pub struct PscLogin {
    flow: OidcFlow,
}

impl PscLogin {
    /// `flows`: where logins wait for their return (the store).
    pub fn new(config: OidcConfig, http: HttpClient, flows: Arc<dyn LoginFlowStore>) -> Self {
        Self { flow: OidcFlow::new(config, http, flows, "psc") }
    }

    /// Starts a login for the person at `client`: the URL to send them
    /// to, and its `state`.
    pub async fn start(
        &self,
        login_hint: Option<&str>,
        client: std::net::IpAddr,
    ) -> Result<(String, String), OidcError> {
        self.flow.start(login_hint, client).await
    }

    /// Finishes a login with the code PSC sent back: the person it proves.
    pub async fn finish(&self, code: &str, state: &str) -> Result<Person, OidcError> {
        let proven = self.flow.finish(code, state).await?;
        let info: UserInfoClaims<PscClaims, CoreGenderClaim> = self.flow.user_info(proven).await?;
        let given = info.given_name().and_then(|n| n.get(None)).map(|n| n.as_str());
        let family = info.family_name().and_then(|n| n.get(None)).map(|n| n.as_str());
        Ok(info.additional_claims().person(given, family)?)
    }
}
