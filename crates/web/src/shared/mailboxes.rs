//! The mailboxes a caller may see and manage, their members and audit
//! trail, and the directory: `mss_ops` with the site's state, addresses
//! as the request spelled them.

use mss_core::{EmailAddress, NationalId, Relation, Role};
use mss_directory::annuaire::{Page, Query, Results};
use mss_ops::{OpsError, directory, members};
use mss_store::{AuditEntry, AuditFilter, Mailbox};

use super::Caller;
use crate::{Problem, Web};

/// The mailbox at `address` as the request spelled it; what cannot be an
/// address is no mailbox of theirs either.
fn parse(address: &str) -> Result<EmailAddress, Problem> {
    address.parse().map_err(|_| OpsError::NoMailbox(address.to_string()).into())
}

/// The mailbox at `address` and the caller's relation to it, if they hold
/// it or a role on it; 404 otherwise (others' mailboxes are not revealed).
pub async fn access(web: &Web, caller: &Caller, address: &str) -> Result<(Mailbox, Relation), Problem> {
    Ok(mss_ops::mailboxes::access(&web.store, caller.national_id(), &parse(address)?).await?)
}

/// The caller's own mailboxes and those they hold a role on.
pub async fn visible_mailboxes(web: &Web, caller: &Caller) -> Result<Vec<(Mailbox, Option<Role>)>, Problem> {
    Ok(mss_ops::mailboxes::visible(&web.store, caller.national_id()).await?)
}

/// The mailbox at `address`, if organisational and the caller may manage
/// members there (Administrateur or Gestionnaire); with the caller's role.
pub async fn managed(web: &Web, caller: &Caller, address: &str) -> Result<(Mailbox, Role), Problem> {
    Ok(members::managed(&web.store, caller.national_id(), &parse(address)?).await?)
}

/// Gives `member` the role `next` on the mailbox (`None`: removes them), if
/// the caller may; audited either way.
pub async fn change_role(
    web: &Web,
    caller: &Caller,
    address: &str,
    member: &str,
    next: Option<Role>,
) -> Result<(), Problem> {
    let member: NationalId =
        member.parse().map_err(|_| Problem::invalid(crate::problem::NATIONAL_ID_EXPECTED).on("national_id"))?;
    match members::change(&web.store, caller.national_id(), &parse(address)?, &member, next).await {
        Err(OpsError::Invalid(_)) => {
            Err(Problem::conflict("Le dernier Administrateur de la boîte ne peut pas être retiré."))
        }
        other => Ok(other?),
    }
}

/// The entries of the mailbox at `address` that `filter` selects, if the
/// caller may read its trail.
pub async fn trail(
    web: &Web,
    caller: &Caller,
    address: &str,
    filter: AuditFilter,
) -> Result<(Mailbox, Vec<AuditEntry>), Problem> {
    Ok(members::trail(&web.store, caller.national_id(), &parse(address)?, filter).await?)
}

/// Runs a search over the national extraction and our own mailboxes.
pub async fn search_directory(web: &Web, query: Query, page: Page) -> Result<Results, Problem> {
    Ok(directory::search(&web.store, &web.annuaire, query, page).await?)
}
