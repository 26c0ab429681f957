//! The one JSON shape of a mailbox: what `mss mailbox show|list --json`
//! prints and what the API returns.

use mss_core::{MailboxState, Role};
use mss_store::Mailbox;
use serde::Serialize;

/// A mailbox as people and programs read it. Every field is always present
/// (`null` when unknown).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MailboxView {
    pub address: String,
    /// `PER`, `ORG`, `APP` or `CAB`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The stored state: `pending`, `active`, `suspended`, `deleted`.
    pub state: &'static str,
    /// The state as the person sees it: `refused` for a mailbox the ANS
    /// refused, the state otherwise.
    pub status: &'static str,
    /// What the status means, in French, when it needs saying.
    pub status_message: Option<String>,
    pub display_name: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub national_id: Option<String>,
    pub finess: Option<String>,
    pub service: Option<String>,
    pub liste_rouge: bool,
    pub certificate_dn: Option<String>,
    /// The role of the person asking, when they are a member.
    pub role: Option<&'static str>,
    /// Unix seconds.
    pub created_at: i64,
}

/// A mailbox's state as people see it: a deleted mailbox with a reason is
/// one the ANS refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pending,
    Active,
    Suspended,
    Deleted,
    Refused,
}

impl Status {
    pub fn of(m: &Mailbox) -> Self {
        match m.state {
            MailboxState::Pending => Status::Pending,
            MailboxState::Active => Status::Active,
            MailboxState::Suspended => Status::Suspended,
            MailboxState::Deleted if m.state_reason.is_some() => Status::Refused,
            MailboxState::Deleted => Status::Deleted,
        }
    }

    /// `pending`, `active`, `suspended`, `deleted` or `refused`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Active => "active",
            Status::Suspended => "suspended",
            Status::Deleted => "deleted",
            Status::Refused => "refused",
        }
    }
}

impl MailboxView {
    /// `m` as seen by someone with `role` on it (`None`: its holder, or the
    /// operator).
    pub fn new(m: &Mailbox, role: Option<Role>) -> Self {
        let status = Status::of(m);
        let status_message = match (status, &m.state_reason) {
            (Status::Pending, _) => Some("La boîte est en cours de création.".to_string()),
            (Status::Refused, Some(reason)) => Some(format!("La création a été refusée par l'ANS : {reason}")),
            (Status::Suspended, Some(reason)) => Some(format!("La boîte est suspendue : {reason}")),
            _ => None,
        };
        Self {
            address: m.address.to_string(),
            kind: m.kind.code(),
            state: m.state.as_str(),
            status: status.as_str(),
            status_message,
            display_name: m.display_name.clone(),
            first_name: m.first_name.clone(),
            last_name: m.last_name.clone(),
            national_id: m.national_id.as_ref().map(ToString::to_string),
            finess: m.finess.as_ref().map(|f| f.as_str().to_string()),
            service: m.service.clone(),
            liste_rouge: m.liste_rouge,
            certificate_dn: m.certificate_dn.clone(),
            role: role.map(Role::as_str),
            created_at: m.created_at,
        }
    }
}
