//! A mailbox creation request as the web receives it (the API's JSON body;
//! the portal's wizard fills the same), handed to `mss_ops::mailboxes`
//! with the caller's identity: PER from their identity only, ORG and APP
//! from the request.

use mss_core::{EmailAddress, MailboxKind, Role};
use mss_ops::mailboxes::{self, CreationForm, Requester};
use mss_store::{Mailbox, MailboxDraft, now_unix};
use serde::Deserialize;

use super::Caller;
use crate::{Problem, Web};

/// What the person sees once the mailbox is requested (the seed's words).
pub const PENDING_MESSAGE: &str = "Félicitations ! La boîte est en cours de création. Elle sera disponible sous 24h, \
     le temps que l'ANS valide les informations transmises et finalise la mise à jour de l'annuaire.";

/// A creation or preview request.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRequest {
    #[serde(rename = "type")]
    pub kind: String,
    pub finess: Option<String>,
    pub name: Option<String>,
    #[serde(default)]
    pub pharmacy: bool,
    pub postal_code: Option<String>,
    pub city: Option<String>,
    pub service: Option<String>,
    pub certificate_dn: Option<String>,
    #[serde(default)]
    pub liste_rouge: bool,
    pub cgu_version: Option<String>,
    #[serde(default)]
    pub cgu_accepted: bool,
}

impl CreateRequest {
    /// The request `caller` makes: a personal mailbox is theirs, in their
    /// names.
    fn form(&self, caller: &Caller) -> Result<CreationForm, Problem> {
        let kind: MailboxKind =
            self.kind.parse().map_err(|_| Problem::invalid("Type de boîte inconnu : PER, ORG ou APP.").on("type"))?;
        let person = &caller.0.person;
        let personal = kind == MailboxKind::Personal;
        Ok(CreationForm {
            national_id: personal.then(|| person.national_id.clone()),
            first_name: personal.then(|| person.first_name.clone()),
            last_name: personal.then(|| person.last_name.clone()),
            finess: self.finess.clone(),
            name: self.name.clone(),
            pharmacy: self.pharmacy,
            postal_code: self.postal_code.clone(),
            city: self.city.clone(),
            service: self.service.clone(),
            certificate_dn: self.certificate_dn.clone(),
            liste_rouge: self.liste_rouge,
            ..CreationForm::new(kind)
        })
    }

    /// The CGU version the person accepted, if they ticked the box.
    fn accepted_cgu(&self) -> Option<&str> {
        self.cgu_version.as_deref().filter(|_| self.cgu_accepted)
    }
}

fn requester(caller: &Caller) -> Requester<'_> {
    Requester { national_id: &caller.0.person.national_id, finess: &caller.0.person.finess }
}

/// The address the request would get, and the mailbox it describes; nothing
/// is created.
pub async fn preview_address(
    web: &Web,
    caller: &Caller,
    request: &CreateRequest,
) -> Result<(EmailAddress, MailboxDraft), Problem> {
    let plan = mailboxes::plan(&web.store, requester(caller), &request.form(caller)?).await?;
    let address = mailboxes::preview(&web.store, &web.domain, &plan).await?;
    Ok((address, plan.draft))
}

/// Requests the mailbox (pending the ANS validation) once the CGU in force
/// are accepted. The creator's role on it comes back with it
/// (Administrateur of an ORG).
pub async fn request_mailbox(
    web: &Web,
    caller: &Caller,
    request: &CreateRequest,
) -> Result<(Mailbox, Option<Role>), Problem> {
    let form = request.form(caller)?;
    let cgu = (web.cgu.version.as_str(), request.accepted_cgu());
    let due = now_unix() + i64::try_from(web.validation_delay.as_secs()).unwrap_or(i64::MAX);
    Ok(mailboxes::request(&web.store, &web.domain, requester(caller), &form, cgu, due).await?)
}
