//! The OpenID Connect relying party mss is to an identity provider:
//! authorization code flow with PKCE (openidconnect), the ID token checked
//! (signature from the provider's JWKS, issuer, audience, nonce, expiry).
//! Pro Santé Connect ([`crate::psc`]) and the software vendor's account
//! system ([`crate::account`]) are both this flow; what each reads of the
//! person after it is theirs.
//!
//! A login is two calls: [`OidcFlow::start`] gives the URL to send the
//! person to and remembers the flow's secrets under its `state`;
//! [`OidcFlow::finish`] takes the code the provider redirects back with.

use std::collections::HashMap;
use std::sync::Mutex;

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreGenderClaim, CoreJwsSigningAlgorithm, CoreProviderMetadata,
};
use openidconnect::{
    AccessToken, AdditionalClaims, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet,
    EndpointNotSet, EndpointSet, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, Scope, SubjectIdentifier, TokenResponse, UserInfoClaims,
};
use tokio::sync::OnceCell;

use mss_http::HttpClient;

/// Where the provider is and who we are to it.
#[derive(Debug, Clone)]
pub struct OidcConfig {
    /// The issuer URL (its discovery document is under it).
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    /// Our callback, registered with the provider.
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

/// How long a person has to log in at the provider.
const FLOW_TTL: i64 = 600;
/// Flows kept at most (abandoned ones expire).
const MAX_PENDING: usize = 10_000;

type Oidc = CoreClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointMaybeSet, EndpointMaybeSet>;

#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("configuration: {0}")]
    Config(String),
    #[error("identity provider unreachable or answering badly: {0}")]
    Provider(String),
    #[error("unknown or expired login flow")]
    UnknownFlow,
    #[error("ID token refused: {0}")]
    IdToken(String),
    #[error("identity unusable: {0}")]
    Claims(#[from] crate::psc::ClaimsError),
    #[error("too many logins in progress")]
    Busy,
}

/// What a finished flow proved: the subject of the ID token, and the
/// access token to ask the provider more with.
pub struct Proven {
    pub subject: SubjectIdentifier,
    pub access_token: AccessToken,
}

pub struct OidcFlow {
    config: OidcConfig,
    http: HttpClient,
    oidc: OnceCell<Oidc>,
    pending: Mutex<HashMap<String, Pending>>,
}

impl OidcFlow {
    pub fn new(config: OidcConfig, http: HttpClient) -> Self {
        Self { config, http, oidc: OnceCell::new(), pending: Mutex::new(HashMap::new()) }
    }

    /// The provider's issuer URL.
    pub fn issuer(&self) -> &str {
        &self.config.issuer
    }

    /// The discovered client (discovery runs once, at the first login).
    async fn oidc(&self) -> Result<&Oidc, OidcError> {
        self.oidc
            .get_or_try_init(|| async {
                let issuer =
                    IssuerUrl::new(self.config.issuer.clone()).map_err(|e| OidcError::Config(e.to_string()))?;
                let metadata = CoreProviderMetadata::discover_async(issuer, &self.http.transport())
                    .await
                    .map_err(|e| OidcError::Provider(format!("discovery: {e}")))?;
                let redirect =
                    RedirectUrl::new(self.config.redirect_uri.clone()).map_err(|e| OidcError::Config(e.to_string()))?;
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
    pub async fn start(&self, login_hint: Option<&str>) -> Result<(String, String), OidcError> {
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
            return Err(OidcError::Busy);
        }
        let flow = Pending { verifier: verifier.secret().clone(), nonce: nonce.secret().clone(), started_at: now };
        pending.insert(state.secret().clone(), flow);
        Ok((url.to_string(), state.secret().clone()))
    }

    /// Finishes a login with the code the provider sent back: the subject
    /// its checked ID token names.
    pub async fn finish(&self, code: &str, state: &str) -> Result<Proven, OidcError> {
        let flow = {
            let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            pending.remove(state).ok_or(OidcError::UnknownFlow)?
        };
        if flow.started_at + FLOW_TTL <= mss_store::now_unix() {
            return Err(OidcError::UnknownFlow);
        }
        let oidc = self.oidc().await?;
        let tokens = oidc
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(|e| OidcError::Config(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(flow.verifier))
            .request_async(&self.http.transport())
            .await
            .map_err(|e| OidcError::Provider(format!("token: {e}")))?;
        let id_token = tokens.id_token().ok_or_else(|| OidcError::IdToken("none in the token response".into()))?;
        let verifier = oidc.id_token_verifier().set_allowed_algs(vec![
            CoreJwsSigningAlgorithm::EcdsaP256Sha256,
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        ]);
        let id_claims =
            id_token.claims(&verifier, &Nonce::new(flow.nonce)).map_err(|e| OidcError::IdToken(e.to_string()))?;
        Ok(Proven { subject: id_claims.subject().clone(), access_token: tokens.access_token().clone() })
    }

    /// The userinfo claims of the person `proven` names.
    pub async fn user_info<C: AdditionalClaims>(
        &self,
        proven: Proven,
    ) -> Result<UserInfoClaims<C, CoreGenderClaim>, OidcError> {
        self.oidc()
            .await?
            .user_info(proven.access_token, Some(proven.subject))
            .map_err(|e| OidcError::Config(e.to_string()))?
            .request_async(&self.http.transport())
            .await
            .map_err(|e| OidcError::Provider(format!("userinfo: {e}")))
    }
}
