//! An embedded Pro Santé Connect for development and tests: its own issuer
//! URL, discovery document, JWKS, and the authorize, token, userinfo and
//! introspection endpoints, serving test identities from a file. It speaks
//! OpenID Connect (authorization code with PKCE S256, ES256 ID tokens), so
//! the client that talks to it is the production one.
//!
//! `/authorize` logs in the identity named by `login_hint` at once, or shows
//! a page (in French) to choose one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Json, Redirect, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::Deserialize;

use crate::TokenKey;
use crate::session::random_token;

/// Lifetime of codes and access tokens, seconds (PSC's tokens live ~5 min).
const CODE_TTL: i64 = 60;
const TOKEN_TTL: i64 = 300;
const KEY_ID: &str = "psc-sim-1";
/// Codes and tokens kept at most (old ones are dropped first).
const MAX_GRANTS: usize = 10_000;

/// A test identity, as the identities file describes it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct TestIdentity {
    /// What `login_hint` names.
    pub login: String,
    pub national_id: String,
    pub given_name: String,
    pub family_name: String,
    /// TRE_G15 profession code (21: pharmacien).
    #[serde(default = "default_profession")]
    pub profession: String,
    #[serde(default)]
    pub finess: Vec<String>,
    #[serde(default)]
    pub organisation: String,
}

fn default_profession() -> String {
    "21".into()
}

/// The identities file: `[[identity]]` tables.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Identities {
    #[serde(default)]
    pub identity: Vec<TestIdentity>,
}

impl Identities {
    pub fn parse(text: &str) -> Result<Self, String> {
        let identities: Identities = toml::from_str(text).map_err(|e| e.to_string())?;
        for i in &identities.identity {
            i.national_id.parse::<mss_core::NationalId>().map_err(|e| format!("{}: {e}", i.login))?;
        }
        Ok(identities)
    }
}

/// A registered client (relying party).
#[derive(Debug, Clone)]
pub struct RegisteredClient {
    pub id: String,
    pub secret: String,
}

struct Grant {
    login: String,
    client_id: String,
    redirect_uri: String,
    nonce: Option<String>,
    challenge: Option<String>,
    expires_at: i64,
}

pub struct Simulator {
    issuer: String,
    /// What its pages call it.
    name: String,
    /// A vendor's account system ([`Simulator::accounts`]): subjects are
    /// account ids, no PSC claims.
    accounts: bool,
    key: TokenKey,
    identities: Vec<TestIdentity>,
    client: RegisteredClient,
    codes: Mutex<HashMap<String, Grant>>,
    tokens: Mutex<HashMap<String, (String, i64)>>,
}

impl Simulator {
    /// `issuer`: the URL this router is mounted at (no trailing slash).
    pub fn new(issuer: &str, identities: Identities, client: RegisteredClient) -> Result<Self, crate::TokenError> {
        Ok(Self {
            issuer: issuer.trim_end_matches('/').to_string(),
            name: "Pro Santé Connect".into(),
            accounts: false,
            key: TokenKey::generate(issuer)?,
            identities: identities.identity,
            client,
            codes: Mutex::new(HashMap::new()),
            tokens: Mutex::new(HashMap::new()),
        })
    }

    /// A simulated account system of a software vendor (« Mon Compte
    /// Personnel »), called `name`: the same identities, each an account
    /// `compte-<login>` that knows nothing of national ids.
    pub fn accounts(
        issuer: &str,
        identities: Identities,
        client: RegisteredClient,
        name: &str,
    ) -> Result<Self, crate::TokenError> {
        Ok(Self { name: name.to_string(), accounts: true, ..Self::new(issuer, identities, client)? })
    }

    /// The `sub` of `identity` here.
    fn subject(&self, identity: &TestIdentity) -> String {
        if self.accounts { format!("compte-{}", identity.login) } else { identity.national_id.clone() }
    }

    pub fn router(self: Arc<Self>) -> Router {
        Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .route("/userinfo", get(userinfo))
            .route("/introspect", post(introspect))
            .with_state(self)
    }

    fn identity(&self, login: &str) -> Option<&TestIdentity> {
        self.identities.iter().find(|i| i.login == login)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn now() -> i64 {
    mss_store::now_unix()
}

/// Keeps a map bounded: drops expired entries, then refuses to grow.
fn room<V>(map: &mut HashMap<String, V>, expiry: impl Fn(&V) -> i64) -> bool {
    if map.len() >= MAX_GRANTS {
        let t = now();
        map.retain(|_, v| expiry(v) > t);
    }
    map.len() < MAX_GRANTS
}

async fn discovery(State(sim): State<Arc<Simulator>>) -> Json<serde_json::Value> {
    let issuer = &sim.issuer;
    Json(serde_json::json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "userinfo_endpoint": format!("{issuer}/userinfo"),
        "introspection_endpoint": format!("{issuer}/introspect"),
        "jwks_uri": format!("{issuer}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "scopes_supported": ["openid", "scope_all"],
        "claims_supported": ["sub", "given_name", "family_name", "SubjectNameID", "SubjectRefPro"],
    }))
}

async fn jwks(State(sim): State<Arc<Simulator>>) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "keys": [sim.key.public_jwk(KEY_ID)] }))
}

#[derive(Deserialize)]
struct AuthorizeQuery {
    response_type: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    state: Option<String>,
    nonce: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    login_hint: Option<String>,
    scope: Option<String>,
}

fn bad_request(what: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Html(format!("<!doctype html><html lang=\"fr\"><title>Erreur</title><p>Requête refusée : {what}</p></html>")),
    )
        .into_response()
}

async fn authorize(State(sim): State<Arc<Simulator>>, Query(q): Query<AuthorizeQuery>) -> Response {
    if q.client_id.as_deref() != Some(sim.client.id.as_str()) {
        return bad_request("client inconnu");
    }
    let Some(redirect_uri) = q.redirect_uri.clone().filter(|r| r.starts_with("http://") || r.starts_with("https://"))
    else {
        return bad_request("redirect_uri invalide");
    };
    if q.response_type.as_deref() != Some("code") || !q.scope.as_deref().unwrap_or("").split(' ').any(|s| s == "openid")
    {
        return bad_request("seul le flux « code » avec le scope openid est accepté");
    }
    if q.code_challenge.is_some() && q.code_challenge_method.as_deref() != Some("S256") {
        return bad_request("PKCE : seule la méthode S256 est acceptée");
    }
    let Some(identity) = q.login_hint.as_deref().and_then(|l| sim.identity(l)) else {
        return choose_identity(&sim, &q);
    };
    let Ok(code) = random_token(24) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let grant = Grant {
        login: identity.login.clone(),
        client_id: sim.client.id.clone(),
        redirect_uri: redirect_uri.clone(),
        nonce: q.nonce.clone(),
        challenge: q.code_challenge.clone(),
        expires_at: now() + CODE_TTL,
    };
    {
        let mut codes = lock(&sim.codes);
        if !room(&mut codes, |g| g.expires_at) {
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
        codes.insert(code.clone(), grant);
    }
    let Ok(mut url) = url::Url::parse(&redirect_uri) else {
        return bad_request("redirect_uri invalide");
    };
    url.query_pairs_mut().append_pair("code", &code);
    if let Some(state) = &q.state {
        url.query_pairs_mut().append_pair("state", state);
    }
    Redirect::to(url.as_str()).into_response()
}

/// The French page listing the test identities.
fn choose_identity(sim: &Simulator, q: &AuthorizeQuery) -> Response {
    let escape = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('"', "&quot;");
    let mut items = String::new();
    for identity in &sim.identities {
        let mut url = url::Url::parse("http://x/authorize").expect("static URL");
        {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in [
                ("response_type", &q.response_type),
                ("client_id", &q.client_id),
                ("redirect_uri", &q.redirect_uri),
                ("state", &q.state),
                ("nonce", &q.nonce),
                ("code_challenge", &q.code_challenge),
                ("code_challenge_method", &q.code_challenge_method),
                ("scope", &q.scope),
            ] {
                if let Some(v) = v {
                    pairs.append_pair(k, v);
                }
            }
            pairs.append_pair("login_hint", &identity.login);
        }
        let href = format!("authorize?{}", url.query().unwrap_or_default());
        items.push_str(&format!(
            "<li><a href=\"{}\">{} {} — {} ({})</a></li>",
            escape(&href),
            escape(&identity.given_name),
            escape(&identity.family_name),
            escape(&sim.subject(identity)),
            escape(&identity.organisation)
        ));
    }
    let name = escape(&sim.name);
    Html(format!(
        "<!doctype html><html lang=\"fr\"><meta charset=\"utf-8\"><title>{name} (simulateur)</title>\
         <h1>{name} — simulateur</h1><p>Choisissez une identité de test :</p><ul>{items}</ul></html>"
    ))
    .into_response()
}

#[derive(Deserialize)]
struct TokenForm {
    grant_type: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

fn oauth_error(error: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(serde_json::json!({ "error": error }))).into_response()
}

/// The client's credentials: HTTP Basic, or in the form.
fn client_credentials(headers: &HeaderMap, form: &TokenForm) -> Option<(String, String)> {
    if let Some(basic) = headers.get(header::AUTHORIZATION).and_then(|h| h.to_str().ok()?.strip_prefix("Basic ")) {
        let decoded = String::from_utf8(STANDARD.decode(basic.trim()).ok()?).ok()?;
        let (id, secret) = decoded.split_once(':')?;
        let unescape =
            |s: &str| url::form_urlencoded::parse(format!("x={s}").as_bytes()).next().map(|(_, v)| v.into_owned());
        return Some((unescape(id)?, unescape(secret)?));
    }
    Some((form.client_id.clone()?, form.client_secret.clone()?))
}

async fn token(State(sim): State<Arc<Simulator>>, headers: HeaderMap, Form(form): Form<TokenForm>) -> Response {
    if form.grant_type.as_deref() != Some("authorization_code") {
        return oauth_error("unsupported_grant_type");
    }
    match client_credentials(&headers, &form) {
        Some((id, secret)) if id == sim.client.id && secret == sim.client.secret => {}
        _ => return (StatusCode::UNAUTHORIZED, Json(serde_json::json!({ "error": "invalid_client" }))).into_response(),
    }
    // A code is used once, whatever happens next.
    let Some(grant) = form.code.as_deref().and_then(|c| lock(&sim.codes).remove(c)) else {
        return oauth_error("invalid_grant");
    };
    if grant.expires_at <= now()
        || grant.client_id != sim.client.id
        || form.redirect_uri.as_deref() != Some(&grant.redirect_uri)
    {
        return oauth_error("invalid_grant");
    }
    if let Some(challenge) = &grant.challenge {
        let Some(verifier) = &form.code_verifier else {
            return oauth_error("invalid_grant");
        };
        let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
        if URL_SAFE_NO_PAD.encode(digest.as_ref()) != *challenge {
            return oauth_error("invalid_grant");
        }
    }
    let Some(identity) = sim.identity(&grant.login) else {
        return oauth_error("invalid_grant");
    };
    let t = now();
    let mut claims = serde_json::json!({
        "iss": sim.issuer, "sub": sim.subject(identity), "aud": sim.client.id,
        "iat": t, "exp": t + TOKEN_TTL, "auth_time": t, "acr": "eidas1",
    });
    if let Some(nonce) = grant.nonce {
        claims["nonce"] = nonce.into();
    }
    let (Ok(id_token), Ok(access_token)) = (sim.key.sign(&claims, Some(KEY_ID)), random_token(32)) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    {
        let mut tokens = lock(&sim.tokens);
        if !room(&mut tokens, |(_, exp)| *exp) {
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
        tokens.insert(access_token.clone(), (identity.login.clone(), t + TOKEN_TTL));
    }
    Json(serde_json::json!({
        "access_token": access_token, "token_type": "Bearer", "expires_in": TOKEN_TTL,
        "id_token": id_token, "scope": "openid scope_all",
    }))
    .into_response()
}

/// The login behind a live access token.
fn bearer_login(sim: &Simulator, token: &str) -> Option<String> {
    let tokens = lock(&sim.tokens);
    let (login, exp) = tokens.get(token)?;
    (*exp > now()).then(|| login.clone())
}

async fn userinfo(State(sim): State<Arc<Simulator>>, headers: HeaderMap) -> Response {
    let token =
        headers.get(header::AUTHORIZATION).and_then(|h| h.to_str().ok()?.strip_prefix("Bearer ").map(str::to_string));
    let Some(identity) = token.and_then(|t| bearer_login(&sim, &t)).and_then(|l| sim.identity(&l).cloned()) else {
        return (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "Bearer error=\"invalid_token\"")])
            .into_response();
    };
    if sim.accounts {
        let subject = sim.subject(&identity);
        return Json(serde_json::json!({ "sub": subject, "given_name": identity.given_name, "family_name": identity.family_name }))
            .into_response();
    }
    let activities: Vec<serde_json::Value> = identity
        .finess
        .iter()
        .map(|f| {
            serde_json::json!({
                "numeroFinessSite": f, "numeroFinessetablissementJuridique": "",
                "raisonSocialeSite": identity.organisation, "codeSecteurDActivite": "SA33",
            })
        })
        .collect();
    Json(serde_json::json!({
        "sub": identity.national_id,
        "given_name": identity.given_name,
        "family_name": identity.family_name,
        "SubjectNameID": identity.national_id,
        "Palier_Authentification": "APPPRIP3^1.2.250.1.213.1.5.1.1.1",
        "SubjectRole": [format!("{}^1.2.250.1.213.1.1.5.5", identity.profession)],
        "SubjectRefPro": { "codeCivilite": "", "exercices": [{
            "codeProfession": identity.profession,
            "nomDExercice": identity.family_name,
            "prenomDExercice": identity.given_name,
            "activities": activities,
        }]},
    }))
    .into_response()
}

#[derive(Deserialize)]
struct IntrospectForm {
    token: String,
}

/// RFC 7662.
async fn introspect(State(sim): State<Arc<Simulator>>, Form(form): Form<IntrospectForm>) -> Json<serde_json::Value> {
    let tokens = lock(&sim.tokens);
    match tokens.get(&form.token) {
        Some((login, exp)) if *exp > now() => {
            let sub = sim.identity(login).map(|i| sim.subject(i)).unwrap_or_default();
            Json(
                serde_json::json!({ "active": true, "sub": sub, "exp": exp, "client_id": sim.client.id, "scope": "openid scope_all" }),
            )
        }
        _ => Json(serde_json::json!({ "active": false })),
    }
}
