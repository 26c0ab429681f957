//! Publishing a mailbox to the ANS, updating it, withdrawing it: accepted
//! or refused with a reason (404: no record, 412: several), or not answered
//! (network, 5xx: try again). [`FhirPublisher`] sends the FHIR PATCH of
//! [`crate::fhir`] to the directory API, the real one or the simulator of
//! [`crate::simulator`].

use async_trait::async_trait;
use mss_http::HttpClient;
use mss_store::Mailbox;

use crate::fhir;

/// The ANS's answer about one mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Done: validated and published, updated or withdrawn.
    Published,
    /// Refused; the reason is for the creator (French).
    Refused(String),
}

/// The ANS could not be asked (network, 5xx): try again later.
#[derive(Debug, thiserror::Error)]
#[error("ANS unreachable: {0}")]
pub struct PublishError(pub String);

/// The directory API, for one mailbox at a time. The three operations map
/// the outbox's kinds ([`mss_store::PublicationKind`]).
#[async_trait]
pub trait Publisher: Send + Sync {
    /// Adds the mailbox to its record (the validation, a resumption).
    async fn publish(&self, mailbox: &Mailbox) -> Result<Verdict, PublishError>;
    /// Replaces what the record shows of the mailbox.
    async fn update(&self, mailbox: &Mailbox) -> Result<Verdict, PublishError>;
    /// Removes the mailbox from its record.
    async fn withdraw(&self, mailbox: &Mailbox) -> Result<Verdict, PublishError>;
}

/// The directory API over HTTP.
pub struct FhirPublisher {
    /// The FHIR base URL (…/fhir/v2, or the simulator's).
    pub base_url: String,
    pub http: HttpClient,
}

#[async_trait]
impl Publisher for FhirPublisher {
    async fn publish(&self, mailbox: &Mailbox) -> Result<Verdict, PublishError> {
        self.patch(mailbox, fhir::add_telecom).await
    }

    async fn update(&self, mailbox: &Mailbox) -> Result<Verdict, PublishError> {
        self.patch(mailbox, fhir::replace_telecom).await
    }

    async fn withdraw(&self, mailbox: &Mailbox) -> Result<Verdict, PublishError> {
        self.patch(mailbox, |resource, m| fhir::delete_telecom(resource, &m.address.to_string())).await
    }
}

impl FhirPublisher {
    /// Sends the PATCH `body` builds on the mailbox's record.
    async fn patch(
        &self,
        mailbox: &Mailbox,
        body: impl FnOnce(&str, &Mailbox) -> serde_json::Value,
    ) -> Result<Verdict, PublishError> {
        let Some((resource, identifier)) = fhir::target(mailbox) else {
            return Ok(Verdict::Refused("Ni identifiant national ni FINESS à publier".into()));
        };
        let query: String = mss_http::percent_encode(&identifier);
        let url = format!("{}/{resource}?identifier={query}", self.base_url.trim_end_matches('/'));
        let body = body(resource, mailbox).to_string();
        let request = http::Request::patch(&url)
            .header(http::header::CONTENT_TYPE, "application/fhir+json")
            .header(http::header::ACCEPT, "application/fhir+json")
            .body(body.into_bytes())
            .map_err(|e| PublishError(e.to_string()))?;
        let response = self.http.send(request).await.map_err(|e| PublishError(e.to_string()))?;
        match response.status().as_u16() {
            200..=299 => Ok(Verdict::Published),
            404 => Ok(Verdict::Refused(match resource {
                "Practitioner" => {
                    format!("Identifiant national {} inconnu du RPPS/ADELI", identifier_value(&identifier))
                }
                _ => format!(
                    "FINESS {} inconnu du répertoire FINESS",
                    identifier_value(&identifier).get(1..).unwrap_or("")
                ),
            })),
            412 => Ok(Verdict::Refused("Plusieurs fiches de l'annuaire correspondent : contactez l'ANS".into())),
            400 | 422 => Ok(Verdict::Refused(format!("Publication refusée par l'annuaire ({})", response.status()))),
            status => Err(PublishError(format!("HTTP {status}"))),
        }
    }
}

fn identifier_value(identifier: &str) -> &str {
    identifier.split_once('|').map_or(identifier, |(_, v)| v)
}
