//! Directory search for authenticated people: the Annuaire Santé
//! extraction and our own mailboxes (never the liste rouge ones), ranked and
//! paged by `mss_directory::annuaire`.

use std::sync::Arc;

use mss_directory::annuaire::{Annuaire, Page, Query, Results};
use mss_store::Store;

use crate::OpsError;

/// Runs `query` over the national extraction and our own mailboxes.
pub async fn search(store: &Store, annuaire: &Arc<Annuaire>, query: Query, page: Page) -> Result<Results, OpsError> {
    let own = store.meta.mailboxes().await?;
    let annuaire = annuaire.clone();
    tokio::task::spawn_blocking(move || annuaire.search(&query, page, &own))
        .await
        .map_err(|e| OpsError::Directory(e.to_string()))?
        .map_err(|e| OpsError::Directory(e.to_string()))
}
