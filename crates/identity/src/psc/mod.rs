//! Pro Santé Connect (PSC), the national OpenID Connect provider for health
//! professionals: the client mss uses to log people in ([`client`]), the
//! claims PSC returns, and an embedded simulator ([`simulator`]) that speaks
//! the same protocol for development and tests, so that the production
//! client code is what the tests run. Switching to the real PSC is
//! configuration only (issuer URL, client id and secret).

pub mod client;
pub mod simulator;

use mss_core::NationalId;
use serde::{Deserialize, Serialize};

use crate::Person;

/// The PSC-specific userinfo claims mss reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PscClaims {
    /// The national id: `8` + RPPS or `0` + ADELI.
    #[serde(rename = "SubjectNameID", default, skip_serializing_if = "Option::is_none")]
    pub subject_name_id: Option<String>,
    #[serde(rename = "SubjectRefPro", default, skip_serializing_if = "Option::is_none")]
    pub subject_ref_pro: Option<SubjectRefPro>,
    #[serde(rename = "Palier_Authentification", default, skip_serializing_if = "Option::is_none")]
    pub palier_authentification: Option<String>,
    #[serde(rename = "SubjectRole", default, skip_serializing_if = "Vec::is_empty")]
    pub subject_role: Vec<String>,
}

impl openidconnect::AdditionalClaims for PscClaims {}

/// The professional record: professions and where they are practised.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubjectRefPro {
    #[serde(rename = "codeCivilite", default)]
    pub code_civilite: String,
    #[serde(default)]
    pub exercices: Vec<Exercice>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exercice {
    /// TRE_G15 (10 médecin, 21 pharmacien...).
    #[serde(rename = "codeProfession", default)]
    pub code_profession: String,
    #[serde(rename = "nomDExercice", default)]
    pub nom_d_exercice: String,
    #[serde(rename = "prenomDExercice", default)]
    pub prenom_d_exercice: String,
    #[serde(default)]
    pub activities: Vec<Activity>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activity {
    #[serde(rename = "numeroFinessSite", default)]
    pub numero_finess_site: String,
    #[serde(rename = "numeroFinessetablissementJuridique", default)]
    pub numero_finess_etablissement_juridique: String,
    #[serde(rename = "raisonSocialeSite", default)]
    pub raison_sociale_site: String,
    #[serde(rename = "codeSecteurDActivite", default)]
    pub code_secteur_d_activite: String,
}

/// Why PSC's answer does not describe a person mss can serve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClaimsError {
    #[error("no SubjectNameID")]
    NoNationalId,
    #[error("SubjectNameID: {0}")]
    BadNationalId(String),
    #[error("no name")]
    NoName,
}

impl PscClaims {
    /// The person: national id, names (the standard claims, else those of
    /// the first exercise), and every FINESS of their activities.
    pub fn person(&self, given_name: Option<&str>, family_name: Option<&str>) -> Result<Person, ClaimsError> {
        let id = self.subject_name_id.as_deref().ok_or(ClaimsError::NoNationalId)?;
        let national_id: NationalId = id.parse().map_err(|e| ClaimsError::BadNationalId(format!("{e}")))?;
        let exercices = self.subject_ref_pro.as_ref().map(|r| r.exercices.as_slice()).unwrap_or_default();
        let first_exercise = exercices.first();
        let first =
            given_name.or(first_exercise.map(|e| e.prenom_d_exercice.as_str())).filter(|n| !n.trim().is_empty());
        let last = family_name.or(first_exercise.map(|e| e.nom_d_exercice.as_str())).filter(|n| !n.trim().is_empty());
        let (Some(first), Some(last)) = (first, last) else {
            return Err(ClaimsError::NoName);
        };
        let mut finess: Vec<String> = Vec::new();
        for activity in exercices.iter().flat_map(|e| &e.activities) {
            for f in [&activity.numero_finess_site, &activity.numero_finess_etablissement_juridique] {
                if !f.is_empty() && !finess.contains(f) {
                    finess.push(f.clone());
                }
            }
        }
        Ok(Person { national_id, first_name: first.trim().to_string(), last_name: last.trim().to_string(), finess })
    }
}
