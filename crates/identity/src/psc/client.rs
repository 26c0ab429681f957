//! The Pro Santé Connect client: OpenID Connect authorization code flow
//! with PKCE (openidconnect), ID token checked (signature from the JWKS,
//! issuer, audience, nonce, expiry), then the PSC claims from userinfo.
//!
//! A login is two calls: [`PscLogin::start`] gives the URL to send the
//! person to and remembers the flow's secrets under its `state`;
//! [`PscLogin::finish`] takes the code PSC redirects back with.

use std::collections::HashMap;
use std::sync::Mutex;

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreGenderClaim, CoreJwsSigningAlgorithm, CoreProviderMetadata,
};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl,
    Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse, UserInfoClaims,
};
use tokio::sync::OnceCell;

use super::PscClaims;
use crate::Person;
use mss_http::HttpClient;

/// Where PSC is and who we are to it.
#[derive(Debug, Clone)]
pub struct PscConfig {
    /// The issuer URL (its discovery document is under it).
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    /// Our callback, registered with PSC.
    pub redirect_uri: String,
    /// Scopes beyond `openid` (PSC: `scope_all`).
    pub scopes: Vec<String>,
}

/// A flow started and not finished yet.
struct Pending {
    verifier: String,
    nonce: String,
    started_at: i64,
}

/// How long a person has to log in at PSC.
const FLOW_TTL: i64 = 600;
/// Flows kept at most (abandoned ones expire).
const MAX_PENDING: usize = 10_000;

type Oidc = CoreClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointMaybeSet, EndpointMaybeSet>;

#[derive(Debug, thiserror::Error)]
pub enum PscError {
    #[error("configuration: {0}")]
    Config(String),
    #[error("Pro Santé Connect unreachable or answering badly: {0}")]
    Provider(String),
    #[error("unknown or expired login flow")]
    UnknownFlow,
    #[error("ID token refused: {0}")]
    IdToken(String),
    #[error("PSC identity unusable: {0}")]
    Claims(#[from] super::ClaimsError),
    #[error("too many logins in progress")]
    Busy,
}

pub struct PscLogin {
    config: PscConfig,
    http: HttpClient,
    oidc: OnceCell<Oidc>,
    pending: Mutex<HashMap<String, Pending>>,
}

impl PscLogin {
    pub fn new(config: PscConfig, http: HttpClient) -> Self {
        Self { config, http, oidc: OnceCell::new(), pending: Mutex::new(HashMap::new()) }
    }

    /// The discovered client (discovery runs once, at the first login).
    async fn oidc(&self) -> Result<&Oidc, PscError> {
        self.oidc
            .get_or_try_init(|| async {
                let issuer = IssuerUrl::new(self.config.issuer.clone()).map_err(|e| PscError::Config(e.to_string()))?;
                let metadata = CoreProviderMetadata::discover_async(issuer, &self.http.transport())
                    .await
                    .map_err(|e| PscError::Provider(format!("discovery: {e}")))?;
                let redirect =
                    RedirectUrl::new(self.config.redirect_uri.clone()).map_err(|e| PscError::Config(e.to_string()))?;
                Ok(CoreClient::from_provider_metadata(
                    metadata,
                    ClientId::new(self.config.client_id.clone()),
                    Some(ClientSecret::new(self.config.client_secret.clone())),
                )
                .set_redirect_uri(redirect))
            })
            .await
    }

    /// Starts a login: the URL to send the person to, and its `state`.
    pub async fn start(&self, login_hint: Option<&str>) -> Result<(String, String), PscError> {
        let oidc = self.oidc().await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = oidc
            .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
            .set_pkce_challenge(challenge);
        for scope in &self.config.scopes {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        if let Some(hint) = login_hint {
            request = request.add_extra_param("login_hint", hint.to_string());
        }
        let (url, state, nonce) = request.url();
        let now = mss_store::now_unix();
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        pending.retain(|_, p| p.started_at + FLOW_TTL > now);
        if pending.len() >= MAX_PENDING {
            return Err(PscError::Busy);
        }
        let flow = Pending { verifier: verifier.secret().clone(), nonce: nonce.secret().clone(), started_at: now };
        pending.insert(state.secret().clone(), flow);
        Ok((url.to_string(), state.secret().clone()))
    }

    /// Finishes a login with the code PSC sent back: the person it proves.
    pub async fn finish(&self, code: &str, state: &str) -> Result<Person, PscError> {
        let flow = {
            let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            pending.remove(state).ok_or(PscError::UnknownFlow)?
        };
        if flow.started_at + FLOW_TTL <= mss_store::now_unix() {
            return Err(PscError::UnknownFlow);
        }
        let oidc = self.oidc().await?;
        let transport = self.http.transport();
        let tokens = oidc
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(|e| PscError::Config(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(flow.verifier))
            .request_async(&transport)
            .await
            .map_err(|e| PscError::Provider(format!("token: {e}")))?;
        let id_token = tokens.id_token().ok_or_else(|| PscError::IdToken("none in the token response".into()))?;
        let verifier = oidc.id_token_verifier().set_allowed_algs(vec![
            CoreJwsSigningAlgorithm::EcdsaP256Sha256,
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        ]);
        let id_claims =
            id_token.claims(&verifier, &Nonce::new(flow.nonce)).map_err(|e| PscError::IdToken(e.to_string()))?;
        let info: UserInfoClaims<PscClaims, CoreGenderClaim> = oidc
            .user_info(tokens.access_token().clone(), Some(id_claims.subject().clone()))
            .map_err(|e| PscError::Config(e.to_string()))?
            .request_async(&transport)
            .await
            .map_err(|e| PscError::Provider(format!("userinfo: {e}")))?;
        let given = info.given_name().and_then(|n| n.get(None)).map(|n| n.as_str());
        let family = info.family_name().and_then(|n| n.get(None)).map(|n| n.as_str());
        Ok(info.additional_claims().person(given, family)?)
    }
}
