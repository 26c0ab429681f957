//! RFC 9457 problem details: the one shape of every API error (the portal
//! shows the same detail on its pages), and the French words for the
//! refusals of the use cases and of Pro Santé Connect.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mss_identity::oidc::OidcError;
use mss_ops::mailboxes::{DraftError, Field};
use mss_ops::{OpsError, Refusal};

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
    /// The items of a batch at fault, by position (from 1), each with its
    /// reason: the `errors` member.
    pub errors: Vec<(usize, String)>,
}

impl Problem {
    pub fn new(status: StatusCode, slug: &'static str, detail: impl Into<String>) -> Self {
        Self { status, slug, detail: detail.into(), challenge: None, field: None, errors: Vec::new() }
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

/// The refusals of the use cases, in French, on the API's field names.
impl From<OpsError> for Problem {
    fn from(e: OpsError) -> Self {
        match e {
            OpsError::Draft(e) => draft_problem(e),
            OpsError::NoMailbox(_) => Self::not_found("Aucune boîte de ce nom parmi les vôtres."),
            OpsError::State { .. } | OpsError::NotPending { .. } | OpsError::Raced(_) => {
                Self::conflict("La boîte a changé d'état entre-temps : réessayez.")
            }
            OpsError::Refused(refusal) => refusal_problem(refusal),
            OpsError::Invalid(why) => Self::invalid(why),
            OpsError::CertificateTaken(bound) => {
                Self::conflict(format!("Ce certificat est déjà associé à la boîte applicative {bound}."))
                    .on("certificate_dn")
            }
            OpsError::Cgu(version) => Self::invalid(format!(
                "Acceptez les CGU en vigueur (version {version}) pour créer la boîte : « J'ai lu et j'accepte les CGU »."
            ))
            .on("cgu"),
            OpsError::Directory(e) => Self::unavailable(e),
            OpsError::Store(e) => Self::unavailable(e),
        }
    }
}

/// What a national id looks like, for the person who typed another.
pub const NATIONAL_ID_EXPECTED: &str =
    "Identifiant national invalide : « 8 » suivi des 11 chiffres du RPPS, ou « 0 » suivi des 9 caractères de l'ADELI.";

fn draft_problem(e: DraftError) -> Problem {
    match e {
        DraftError::Missing { field, .. } => {
            Problem::invalid(format!("Le champ « {} » est requis.", field.as_str())).on(field.as_str())
        }
        // The parsers' own words are English: the person reads what is expected.
        DraftError::Malformed { field: Field::Finess, .. } => {
            Problem::invalid("FINESS invalide : 9 chiffres attendus.").on("finess")
        }
        DraftError::Malformed { field: Field::CertificateDn, .. } => {
            Problem::invalid("DN du certificat invalide : forme attendue « CN=…,O=…,C=FR ».").on("certificate_dn")
        }
        DraftError::Malformed { field: Field::NationalId, .. } => {
            Problem::invalid(NATIONAL_ID_EXPECTED).on("national_id")
        }
        DraftError::Malformed { field, .. } => {
            Problem::invalid(format!("Champ « {} » invalide.", field.as_str())).on(field.as_str())
        }
        DraftError::Naming { field, error } => {
            let problem = Problem::invalid(naming_in_french(&error));
            match field {
                Field::Name | Field::Service | Field::PostalCode | Field::City => problem.on(field.as_str()),
                _ => problem,
            }
        }
    }
}

/// Why a name or a postal code cannot make an address, for the person.
fn naming_in_french(error: &mss_core::AddressError) -> String {
    use mss_core::AddressError as E;
    match error {
        E::PostalCode { .. } => "Code postal invalide : 5 chiffres, de 01000 à 98999.".into(),
        E::EmptyName { .. } => {
            "Ce nom ne contient aucune lettre utilisable pour l'adresse (lettres latines, chiffres).".into()
        }
        E::NoFreeAddress { .. } => "Aucune adresse libre pour ce nom : précisez-le (ville, service).".into(),
        E::NoRoomForLocalPart { .. } => "Le domaine de l'opérateur est trop long pour former une adresse.".into(),
        _ => "Ce nom ne peut pas former une adresse de messagerie : simplifiez-le.".into(),
    }
}

fn refusal_problem(refusal: Refusal) -> Problem {
    match refusal {
        Refusal::CabinetByOperator => Problem::invalid("Les boîtes de cabinet se créent par l'opérateur."),
        Refusal::PersonalHeld => Problem::conflict("Vous avez déjà une boîte personnelle."),
        Refusal::NotAttached(finess) => {
            Problem::forbidden(format!("Vous n'êtes pas rattaché à la structure FINESS {finess} dans votre identité."))
                .on("finess")
        }
        Refusal::NotAdministrator => Problem::forbidden(
            "Seul un Administrateur d'une boîte organisationnelle active de la structure crée une boîte applicative.",
        ),
        Refusal::NotOrganisational => Problem::invalid("Seules les boîtes organisationnelles ont des membres."),
        Refusal::NotManager => Problem::forbidden("Votre rôle ne permet pas de gérer les membres de cette boîte."),
        Refusal::GestionnaireLimit => Problem::forbidden("Un Gestionnaire ne gère que les Utilisateurs."),
        Refusal::NotMember => Problem::not_found("Cette personne n'est pas membre de la boîte."),
        Refusal::NotAuditor => Problem::forbidden("Seul un Administrateur consulte la traçabilité de la boîte."),
    }
}

impl Problem {
    /// A login at `provider` (as people name it) that did not prove the
    /// person: said in French, the provider's own words to the log only.
    pub fn login_failed(provider: &str, e: OidcError) -> Self {
        match e {
            OidcError::UnknownFlow => Self::unauthenticated("Connexion expirée ou inconnue : recommencez."),
            OidcError::Claims(_) | OidcError::IdToken(_) => {
                tracing::warn!(error = %e, provider, "login refused");
                Self::unauthenticated(format!("{provider} n'a pas prouvé votre identité : recommencez la connexion."))
            }
            OidcError::Busy => {
                Self::new(StatusCode::SERVICE_UNAVAILABLE, "busy", "Trop de connexions en cours, réessayez.")
            }
            OidcError::Unavailable(_) => {
                tracing::error!(error = %e, provider, "login flows unavailable");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "Service momentanément indisponible, réessayez.",
                )
            }
            OidcError::Config(_) | OidcError::Provider(_) => {
                tracing::error!(error = %e, provider, "login failed");
                Self::new(
                    StatusCode::BAD_GATEWAY,
                    "provider-unavailable",
                    format!("{provider} ne répond pas, réessayez."),
                )
            }
        }
    }
}

/// A Pro Santé Connect login that did not prove the person.
impl From<OidcError> for Problem {
    fn from(e: OidcError) -> Self {
        Problem::login_failed("Pro Santé Connect", e)
    }
}

/// A problem's title (RFC 9457 §3.1.3: a short summary of the status), in
/// French as every word people read.
fn french_title(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "Requête invalide",
        401 => "Authentification requise",
        403 => "Accès refusé",
        404 => "Introuvable",
        405 => "Méthode non permise",
        409 => "Conflit",
        413 => "Contenu trop volumineux",
        415 => "Type de contenu non pris en charge",
        422 => "Données invalides",
        429 => "Trop de requêtes",
        502 => "Service tiers injoignable",
        503 => "Service indisponible",
        507 => "Espace de stockage insuffisant",
        500..=599 => "Erreur du serveur",
        _ => "Erreur",
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut body = serde_json::json!({
            "type": format!("/api/problems/{}", self.slug),
            "title": french_title(self.status),
            "status": self.status.as_u16(),
            "detail": self.detail,
        });
        if let Some(field) = self.field {
            body["field"] = field.into();
        }
        if !self.errors.is_empty() {
            let errors: Vec<serde_json::Value> = self
                .errors
                .iter()
                .map(|(position, reason)| serde_json::json!({ "position": position, "reason": reason }))
                .collect();
            body["errors"] = serde_json::Value::Array(errors);
        }
        let mut response = (self.status, body.to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if let Some(challenge) = self.challenge {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        }
        response
    }
}
