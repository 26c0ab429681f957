//! Sending from this site (the webmail, the API): where a recipient goes
//! or why it may not be sent to, in French; the `Received:` field a message
//! submitted over HTTP starts with.

use mss_core::EmailAddress;
use mss_smtp::submit::{Refused, Route};
use mss_store::{Bytes, StoreError, now_unix};

use crate::Sending;

/// Why a recipient has no route.
pub enum Unroutable {
    /// Said to the sender, in French.
    Refused(String),
    Store(StoreError),
}

/// Where `address` goes, or why it may not be sent to.
pub async fn route(sending: &Sending, address: &EmailAddress) -> Result<Route, Unroutable> {
    match sending.submitter.route(address).await {
        Ok(route) => Ok(route),
        Err(Refused::NoSuchMailbox(a)) => Err(Unroutable::Refused(format!("Aucune boîte active à l'adresse {a}."))),
        Err(Refused::OutsideTrustSpace(domain)) => Err(Unroutable::Refused(format!(
            "{address} est hors de l'espace de confiance MSSanté ({domain} n'est pas dans la liste blanche) : \
             le message ne peut pas lui être envoyé."
        ))),
        Err(Refused::NotAPatient(a)) => Err(Unroutable::Refused(format!(
            "{a} n'est pas l'adresse d'un patient : la partie avant « @patient.mssante.fr » doit être \
             l'INS du patient (15 caractères, clé de contrôle comprise). Vérifiez-le sur sa carte Vitale \
             ou dans son dossier."
        ))),
        Err(Refused::Store(e)) => Err(Unroutable::Store(e)),
    }
}

/// RFC 5321 §4.4, as submission writes it: received over HTTP(S).
pub fn with_received_header(sending: &Sending, body: &[u8]) -> Bytes {
    let date = mail_builder::headers::date::Date::new(now_unix()).to_rfc822();
    let header = format!("Received: from portail by {} (mss) with HTTP;\r\n\t{date}\r\n", sending.hostname);
    let mut message = Vec::with_capacity(header.len() + body.len());
    message.extend_from_slice(header.as_bytes());
    message.extend_from_slice(body);
    message.into()
}
