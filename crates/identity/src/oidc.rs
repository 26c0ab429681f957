//! The OpenID Connect relying party mss is to an identity provider:
//! authorization code flow with PKCE (openidconnect), the ID token checked
//! (signature from the provider's JWKS, issuer, audience, nonce, expiry).
//! Pro Santé Connect ([`crate::psc`]) and the software vendor's account
//! system ([`crate::account`]) are both this flow; what each reads of the
//! person after it is theirs.
//!
//! A login is two calls: [`OidcFlow::start`] gives the URL to send the
//! person to and keeps the flow's secrets under its `state` in the store
//! ([`LoginFlowStore`]), so that [`OidcFlow::finish`], which takes the code
//! the provider redirects back with, may run on any node.

use std::net::IpAddr;
use std::sync::Arc;

use mss_store::{LoginFlowStore, NewLoginFlow};

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

use crate::flows::{LIMITS, client_group};

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

/// How long a person has to log in at the provider.
const FLOW_TTL: i64 = 600;

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
    #[error("login flows unavailable: {0}")]
    Unavailable(String),
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
    /// Where flows wait for their return, under `kind`.
    flows: Arc<dyn LoginFlowStore>,
    kind: &'static str,
}

impl OidcFlow {
    /// `kind` names this provider's flows in `flows` (`psc`, `account`).
    pub fn new(config: OidcConfig, http: HttpClient, flows: Arc<dyn LoginFlowStore>, kind: &'static str) -> Self {
        Self { config, http, oidc: OnceCell::new(), flows, kind }
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

    /// Starts a login for the person at `client`: the URL to send them
    /// to, and its `state`.
    pub async fn start(&self, login_hint: Option<&str>, client: IpAddr) -> Result<(String, String), OidcError> {
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
        // Both are base64url: a space separates them.
        let secrets = format!("{} {}", verifier.secret(), nonce.secret());
        let client = client_group(client);
        let flow = NewLoginFlow {
            kind: self.kind,
            key: state.secret(),
            secret: &secrets,
            client: &client,
            now,
            expires_at: now + FLOW_TTL,
        };
        let kept =
            self.flows.begin_login_flow(&flow, LIMITS).await.map_err(|e| OidcError::Unavailable(e.to_string()))?;
        if !kept {
            return Err(OidcError::Busy);
        }
        Ok((url.to_string(), state.secret().clone()))
    }

    /// Finishes a login with the code the provider sent back: the subject
    /// its checked ID token names.
    pub async fn finish(&self, code: &str, state: &str) -> Result<Proven, OidcError> {
        let secrets = self
            .flows
            .take_login_flow(self.kind, state, mss_store::now_unix())
            .await
            .map_err(|e| OidcError::Unavailable(e.to_string()))?
            .ok_or(OidcError::UnknownFlow)?;
        let (verifier, nonce) = secrets.split_once(' ').ok_or(OidcError::UnknownFlow)?;
        let oidc = self.oidc().await?;
        let tokens = oidc
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(|e| OidcError::Config(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(verifier.to_string()))
            .request_async(&self.http.transport())
            .await
            .map_err(|e| OidcError::Provider(format!("token: {e}")))?;
        let id_token = tokens.id_token().ok_or_else(|| OidcError::IdToken("none in the token response".into()))?;
        let checker = oidc.id_token_verifier().set_allowed_algs(vec![
            CoreJwsSigningAlgorithm::EcdsaP256Sha256,
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        ]);
        let id_claims =
            id_token.claims(&checker, &Nonce::new(nonce.to_string())).map_err(|e| OidcError::IdToken(e.to_string()))?;
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
