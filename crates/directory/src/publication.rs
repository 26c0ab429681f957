//! Publishing a mailbox to the ANS: accepted (published) or refused with a
//! reason. The real adapter sends the FHIR PATCH described in MSSANTE.md;
//! the simulator answers the same questions from its configuration.

use std::collections::HashSet;

use async_trait::async_trait;
use mss_store::Mailbox;

/// The ANS's answer about one mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Validated and published in the directory.
    Published,
    /// Refused; the reason is for the creator (French).
    Refused(String),
}

/// The ANS could not be asked (network, 5xx): try again later.
#[derive(Debug, thiserror::Error)]
#[error("ANS unreachable: {0}")]
pub struct PublishError(pub String);

#[async_trait]
pub trait Publisher: Send + Sync {
    async fn publish(&self, mailbox: &Mailbox) -> Result<Verdict, PublishError>;
}

/// The development ANS: publishes every mailbox except those whose person
/// or structure it is told it does not know, as the real directory refuses
/// an RPPS or FINESS missing from its registries.
#[derive(Debug, Clone, Default)]
pub struct SimulatedAns {
    pub unknown_national_ids: HashSet<String>,
    pub unknown_finess: HashSet<String>,
}

#[async_trait]
impl Publisher for SimulatedAns {
    async fn publish(&self, mailbox: &Mailbox) -> Result<Verdict, PublishError> {
        if let Some(id) = &mailbox.national_id
            && self.unknown_national_ids.contains(&id.to_string())
        {
            return Ok(Verdict::Refused(format!("Identifiant national {id} inconnu du RPPS/ADELI")));
        }
        if let Some(finess) = &mailbox.finess
            && self.unknown_finess.contains(finess.as_str())
        {
            return Ok(Verdict::Refused(format!("FINESS {} inconnu du répertoire FINESS", finess.as_str())));
        }
        Ok(Verdict::Published)
    }
}
