//! Who may speak for a domain of the trust space: the operators whose
//! certificate DNs the liste blanche names for it, except the patients'
//! domain (`patient.mssante.fr`), whose one operator is Mon espace santé's
//! gateway, trusted by the operator's configuration: the published liste
//! blanche no longer lists it (only its first version did, with two CNAM
//! DNs), and an entry for it there is ignored. The inbound MTA (MAIL FROM,
//! the header policy) and the outbound client (the peer's certificate)
//! both ask here.

use mss_store::{MetadataStore, StoreError};

/// The trust of peers, beyond the liste blanche in the store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerTrust {
    /// The certificate DNs of the Mon espace santé gateway; empty: the
    /// patients' domain is trusted by no one.
    pub patient_gateway: Vec<String>,
}

impl PeerTrust {
    /// The operator DNs that may speak for `domain`.
    pub async fn operator_dns(&self, meta: &dyn MetadataStore, domain: &str) -> Result<Vec<String>, StoreError> {
        if domain.eq_ignore_ascii_case(mss_core::PATIENT_DOMAIN) {
            return Ok(self.patient_gateway.clone());
        }
        Ok(meta.whitelist_for_domain(domain).await?.into_iter().map(|row| row.operator_dn).collect())
    }

    /// Every operator DN of the trust space (a bounce may come from any).
    pub async fn all_operator_dns(&self, meta: &dyn MetadataStore) -> Result<Vec<String>, StoreError> {
        let patient = mss_core::PATIENT_DOMAIN;
        let rows = meta.whitelist().await?.into_iter().filter(|row| !row.domain.eq_ignore_ascii_case(patient));
        Ok(rows.map(|row| row.operator_dn).chain(self.patient_gateway.iter().cloned()).collect())
    }
}
