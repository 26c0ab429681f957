//! The software vendor's own account system (« Mon Compte Personnel »), a
//! second OpenID Connect provider: it proves an account, never who the
//! person is to the health system. An account signs a person in only once
//! they linked it, signed in with Pro Santé Connect or their CPS card
//! (`mss_store::AccountLinkStore`); this client only proves the account.

use std::sync::Arc;

use mss_store::LoginFlowStore;

use crate::oidc::{OidcConfig, OidcError, OidcFlow};
use mss_http::HttpClient;

pub struct AccountLogin {
    flow: OidcFlow,
    /// What people call it (« Mon Compte Personnel »).
    pub name: String,
}

impl AccountLogin {
    /// `flows`: where logins wait for their return (the store).
    pub fn new(name: String, config: OidcConfig, http: HttpClient, flows: Arc<dyn LoginFlowStore>) -> Self {
        Self { flow: OidcFlow::new(config, http, flows, "account"), name }
    }

    /// The provider's issuer URL: with the subject, what names an account.
    pub fn issuer(&self) -> &str {
        self.flow.issuer()
    }

    /// Starts a login for the person at `client`: the URL to send them
    /// to, and its `state`.
    pub async fn start(&self, client: std::net::IpAddr) -> Result<(String, String), OidcError> {
        self.flow.start(None, client).await
    }

    /// Finishes a login: the account's subject (`sub`) at the provider.
    pub async fn finish(&self, code: &str, state: &str) -> Result<String, OidcError> {
        Ok(self.flow.finish(code, state).await?.subject.as_str().to_string())
    }
}
