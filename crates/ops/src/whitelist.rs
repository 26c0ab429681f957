//! The liste blanche kept in the store: the ANS file imported whole, and
//! peers added by hand.
//!
//! An import is validated whole (size, checksum, XML, every entry) before it
//! replaces the previous ANS entries in one transaction: a bad file changes
//! nothing. Entries added by hand are kept across imports.

use std::path::Path;

use mss_core::Domain;
use mss_store::{StoreError, WhitelistImport, WhitelistRow, WhitelistSource, now_unix};
use mss_trust::DistinguishedName;
use mss_trust::liste_blanche::{ListeBlanche, ListeBlancheError, MAX_FILE_BYTES, sha256_hex};

/// Why the liste blanche was left as it was.
#[derive(Debug, thiserror::Error)]
pub enum WhitelistError {
    /// The file cannot be read, or is too large.
    #[error("{0}")]
    File(String),
    /// The expected checksum is neither 64 hex characters nor a readable
    /// checksum file.
    #[error("{0}")]
    Checksum(String),
    /// The file is not a valid liste blanche (or not the one the checksum
    /// names).
    #[error(transparent)]
    List(#[from] ListeBlancheError),
    /// This operator DN is already listed for this domain.
    #[error("{0} is already in the liste blanche")]
    AlreadyPresent(String),
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

/// What an import replaced the ANS entries with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    pub entries: usize,
    pub domains: usize,
    /// `DateDeGeneration` of the file.
    pub generated_at: String,
    /// SHA-256 of the file, hex.
    pub sha256: String,
}

/// Imports the ANS liste blanche at `file`, checked against `checksum` when
/// given (the 64 hex characters, or the path of the ANS `checksum` file).
pub async fn import_file(
    store: &mss_store::Store,
    file: &Path,
    checksum: Option<&str>,
) -> Result<Imported, WhitelistError> {
    let unreadable = |e: std::io::Error| WhitelistError::File(format!("{}: {e}", file.display()));
    let size = std::fs::metadata(file).map_err(unreadable)?.len();
    if size > MAX_FILE_BYTES as u64 {
        return Err(WhitelistError::File(format!("{size} bytes, at most {MAX_FILE_BYTES}")));
    }
    let xml = std::fs::read(file).map_err(unreadable)?;
    let list = match checksum {
        Some(checksum) => ListeBlanche::parse_verified(&xml, &read_checksum(checksum)?)?,
        None => ListeBlanche::parse(&xml)?,
    };
    let rows: Vec<WhitelistRow> = list
        .entries()
        .iter()
        .map(|e| WhitelistRow {
            domain: e.domain.to_string(),
            operator_dn: e.operator_dn.to_string(),
            description: e.description.clone(),
            responsible_contact: e.responsible_contact.clone(),
            support_contact: e.support_contact.clone(),
            updated_at: e.updated_at.clone(),
            source: WhitelistSource::Ans,
        })
        .collect();
    let import = WhitelistImport {
        generated_at: list.generated_at().to_string(),
        sha256: sha256_hex(&xml),
        entry_count: i64::try_from(rows.len()).unwrap_or(i64::MAX),
        imported_at: now_unix(),
    };
    store.meta.replace_ans_whitelist(&import, &rows).await?;
    Ok(Imported {
        entries: rows.len(),
        domains: list.domain_count(),
        generated_at: import.generated_at,
        sha256: import.sha256,
    })
}

/// Lists the peer operator `dn` for `domain`, by hand (kept across imports).
pub async fn add_manual(
    store: &mss_store::Store,
    domain: &Domain,
    dn: &DistinguishedName,
    description: String,
) -> Result<(), WhitelistError> {
    let row = WhitelistRow {
        domain: domain.to_string(),
        operator_dn: dn.to_string(),
        description,
        responsible_contact: String::new(),
        support_contact: String::new(),
        updated_at: String::new(),
        source: WhitelistSource::Manual,
    };
    match store.meta.add_manual_whitelist_row(&row).await {
        Err(StoreError::AlreadyPresent(what)) => Err(WhitelistError::AlreadyPresent(what)),
        other => Ok(other?),
    }
}

/// The expected checksum: `value` itself when it is 64 hex characters, or
/// the content of the file it names.
fn read_checksum(value: &str) -> Result<String, WhitelistError> {
    let looks_like_hex = value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit());
    if looks_like_hex {
        return Ok(value.to_string());
    }
    let text = std::fs::read_to_string(value).map_err(|e| {
        WhitelistError::Checksum(format!("neither 64 hex characters nor a readable file ({value}: {e})"))
    })?;
    if text.len() > 1024 {
        return Err(WhitelistError::Checksum(format!("{value} is not a checksum file")));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::testing::store;

    fn fixture(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/liste-blanche").join(name)
    }

    #[tokio::test]
    async fn the_ans_file_replaces_the_ans_entries_and_keeps_those_added_by_hand() {
        let (store, dir) = store().await;
        let peer: Domain = "peer.test".parse().unwrap();
        let dn: DistinguishedName = "CN=mss.peer.test,O=PEER,C=FR".parse().unwrap();
        add_manual(&store, &peer, &dn, String::new()).await.unwrap();
        let twice = add_manual(&store, &peer, &dn, String::new()).await.unwrap_err();
        assert!(matches!(twice, WhitelistError::AlreadyPresent(_)), "{twice}");

        let checksum = fixture("checksum");
        let imported = import_file(&store, &fixture("listeblanchemssante.xml"), checksum.to_str()).await.unwrap();
        assert_eq!((imported.entries, imported.generated_at.as_str()), (619, "2025-03-13T14:54:10Z"));
        assert_eq!(store.meta.whitelist().await.unwrap().len(), 620);

        let wrong = "0".repeat(64);
        let refused = import_file(&store, &fixture("listeblanchemssante.xml"), Some(&wrong)).await.unwrap_err();
        assert!(matches!(refused, WhitelistError::List(_)), "{refused}");
        let missing = import_file(&store, &fixture("listeblanchemssante.xml"), Some("/nonexistent")).await;
        assert!(matches!(missing, Err(WhitelistError::Checksum(_))));
        let truncated = dir.path().join("truncated.xml");
        std::fs::write(&truncated, &std::fs::read(fixture("listeblanchemssante.xml")).unwrap()[..1000]).unwrap();
        assert!(matches!(import_file(&store, &truncated, None).await, Err(WhitelistError::List(_))));
        assert!(matches!(import_file(&store, &dir.path().join("none.xml"), None).await, Err(WhitelistError::File(_))));
        assert_eq!(store.meta.whitelist().await.unwrap().len(), 620, "a bad file changes nothing");
    }
}
