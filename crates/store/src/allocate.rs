//! Creating a mailbox at the first free address its naming rules give
//! (`prenom.nom`, then `prenom.nom-2`...), safe against another process
//! taking the same address between the check and the insert.

use std::future::Future;

use mss_core::{Domain, EmailAddress, allocate_address};

use crate::{MetadataStore, StoreError};

/// Attempts when another process takes the address between our check and
/// our insert.
const ATTEMPTS: usize = 5;

/// Shorter than any cut `allocate_address` makes to a base local part.
const TAKEN_PREFIX_CHARS: usize = 32;

/// The first address for `base_local` no mailbox holds now.
pub async fn free_address(
    meta: &dyn MetadataStore,
    base_local: &str,
    domain: &Domain,
) -> Result<EmailAddress, StoreError> {
    // Candidates of a long base are cut before their `-n` suffix, so ask for
    // a short prefix every candidate shares; extra matches are harmless.
    let prefix: String = base_local.chars().take(TAKEN_PREFIX_CHARS).collect();
    let taken = meta.addresses_with_prefix(&prefix, domain.as_str()).await?;
    allocate_address(base_local, domain, |candidate| taken.iter().any(|t| *t == candidate.to_string()))
        .map_err(|e| StoreError::Invalid(e.to_string()))
}

/// Calls `create` with the first free address for `base_local`, again with
/// the next one if the address was taken meanwhile.
pub async fn create_at_free_address<T, F, Fut>(
    meta: &dyn MetadataStore,
    base_local: &str,
    domain: &Domain,
    mut create: F,
) -> Result<T, StoreError>
where
    F: FnMut(EmailAddress) -> Fut,
    Fut: Future<Output = Result<T, StoreError>>,
{
    for _ in 0..ATTEMPTS {
        match create(free_address(meta, base_local, domain).await?).await {
            Err(StoreError::AddressTaken(_)) => continue,
            other => return other,
        }
    }
    Err(StoreError::Invalid("could not allocate a free address; try again".into()))
}
