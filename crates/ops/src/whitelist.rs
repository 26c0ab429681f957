//! The liste blanche kept in the store: the ANS file imported whole (by
//! hand, or refreshed by `mss serve` from its published URL), and peers
//! added or removed by hand.
//!
//! An import is validated whole (size, checksum, XML, every entry) before it
//! replaces the previous ANS entries in one transaction: a bad file changes
//! nothing, the last good list stays. The same file again (same SHA-256)
//! changes nothing either. Each import says what changed: domains added,
//! removed, and those whose operator DNs changed. Entries added by hand are
//! kept across imports. SMTP reads the list from the store at each use, so
//! an import applies at once, without a restart.

use std::collections::{BTreeMap, BTreeSet};
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
    /// Nothing added by hand to remove.
    #[error("{0}")]
    NotManual(String),
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
    /// Against the ANS entries replaced; None when the file was the one
    /// already imported (nothing was written).
    pub changes: Option<Changes>,
}

/// What an import changed, by domain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    /// Listed before and after, with other operator DNs.
    pub dn_changed: Vec<String>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.dn_changed.is_empty()
    }

    fn between(before: &[WhitelistRow], after: &[WhitelistRow]) -> Self {
        let by_domain = |rows: &[WhitelistRow]| {
            let mut map: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
            for row in rows.iter().filter(|r| r.source == WhitelistSource::Ans) {
                map.entry(row.domain.clone()).or_default().insert(row.operator_dn.clone());
            }
            map
        };
        let (before, after) = (by_domain(before), by_domain(after));
        Changes {
            added: after.keys().filter(|d| !before.contains_key(*d)).cloned().collect(),
            removed: before.keys().filter(|d| !after.contains_key(*d)).cloned().collect(),
            dn_changed: after
                .iter()
                .filter(|(d, dns)| before.get(*d).is_some_and(|old| old != *dns))
                .map(|(d, _)| d.clone())
                .collect(),
        }
    }
}

impl std::fmt::Display for Changes {
    /// `+2 -1 ~0 (added: a, b; removed: c)`, the lists cut at ten names.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "+{} -{} ~{}", self.added.len(), self.removed.len(), self.dn_changed.len())?;
        let mut said = Vec::new();
        for (what, list) in [("added", &self.added), ("removed", &self.removed), ("DN changed", &self.dn_changed)] {
            if !list.is_empty() {
                let shown: Vec<&str> = list.iter().take(10).map(String::as_str).collect();
                let more = if list.len() > 10 { format!(" and {} more", list.len() - 10) } else { String::new() };
                said.push(format!("{what}: {}{more}", shown.join(", ")));
            }
        }
        if !said.is_empty() {
            write!(f, " ({})", said.join("; "))?;
        }
        Ok(())
    }
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
    let checksum = checksum.map(read_checksum).transpose()?;
    import_bytes(store, &xml, checksum.as_deref()).await
}

/// Imports the ANS liste blanche `xml`, checked against the 64 hex
/// characters of `checksum` when given (as the ANS publishes them).
pub async fn import_bytes(
    store: &mss_store::Store,
    xml: &[u8],
    checksum: Option<&str>,
) -> Result<Imported, WhitelistError> {
    if xml.len() > MAX_FILE_BYTES {
        return Err(WhitelistError::File(format!("{} bytes, at most {MAX_FILE_BYTES}", xml.len())));
    }
    let list = match checksum {
        Some(checksum) => ListeBlanche::parse_verified(xml, checksum)?,
        None => ListeBlanche::parse(xml)?,
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
        sha256: sha256_hex(xml),
        entry_count: i64::try_from(rows.len()).unwrap_or(i64::MAX),
        imported_at: now_unix(),
    };
    let last = store.meta.last_whitelist_import().await?;
    let changes = match last.is_some_and(|l| l.sha256 == import.sha256) {
        true => None,
        false => {
            let before = store.meta.whitelist().await?;
            store.meta.replace_ans_whitelist(&import, &rows).await?;
            Some(Changes::between(&before, &rows))
        }
    };
    Ok(Imported {
        entries: rows.len(),
        domains: list.domain_count(),
        generated_at: import.generated_at,
        sha256: import.sha256,
        changes,
    })
}

/// Removes what was added by hand for `domain` (only `dn` when given);
/// returns how many entries went. An ANS entry cannot be removed by hand:
/// the next import would list it again.
pub async fn remove_manual(
    store: &mss_store::Store,
    domain: &Domain,
    dn: Option<&DistinguishedName>,
) -> Result<usize, WhitelistError> {
    let dn = dn.map(ToString::to_string);
    let removed = store.meta.remove_manual_whitelist_rows(domain.as_str(), dn.as_deref()).await?;
    if removed == 0 {
        let listed = store.meta.whitelist_for_domain(domain.as_str()).await?;
        let ans =
            listed.iter().any(|r| r.source == WhitelistSource::Ans && dn.as_ref().is_none_or(|d| *d == r.operator_dn));
        return Err(WhitelistError::NotManual(match ans {
            true => format!("{domain} comes from the ANS liste blanche: the next import decides it"),
            false => format!(
                "{domain} has no entry added by hand{}",
                dn.map(|d| format!(" with DN {d}")).unwrap_or_default()
            ),
        }));
    }
    Ok(removed)
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

    #[tokio::test]
    async fn an_import_says_what_changed_and_the_same_file_changes_nothing() {
        let (store, _dir) = store().await;
        let xml = std::fs::read(fixture("listeblanchemssante.xml")).unwrap();
        let first = import_bytes(&store, &xml, None).await.unwrap();
        assert_eq!(first.changes.as_ref().map(|c| c.added.len()), Some(first.domains));
        let again = import_bytes(&store, &xml, None).await.unwrap();
        assert_eq!(again.changes, None, "the same file: nothing written");

        // One domain gone, one new, one served by another certificate.
        let text = String::from_utf8(xml).unwrap();
        let adsea = "<Nom>adsea29.mssante.fr</Nom>\n            <Description>BREST LA SAUVEGARDE</Description>\n            \
                     <DNCertificatOperateur>CN=medimail-asip";
        assert!(text.contains(adsea));
        let edited = text.replacen("<Nom>nddtestasmae.mssante.fr</Nom>", "<Nom>nouveau.mssante.fr</Nom>", 1).replacen(
            adsea,
            &adsea.replace("CN=medimail-asip", "CN=autre-asip"),
            1,
        );
        let changed = import_bytes(&store, edited.as_bytes(), None).await.unwrap().changes.unwrap();
        let expected = Changes {
            added: vec!["nouveau.mssante.fr".into()],
            removed: vec!["nddtestasmae.mssante.fr".into()],
            dn_changed: vec!["adsea29.mssante.fr".into()],
        };
        assert_eq!(changed, expected);
        assert_eq!(
            changed.to_string(),
            "+1 -1 ~1 (added: nouveau.mssante.fr; removed: nddtestasmae.mssante.fr; DN changed: adsea29.mssante.fr)"
        );
        assert!(store.meta.whitelist_for_domain("nddtestasmae.mssante.fr").await.unwrap().is_empty());

        // Removing by hand: what was added by hand, never the ANS's.
        let peer: Domain = "peer.test".parse().unwrap();
        let dn: DistinguishedName = "CN=mss.peer.test,O=PEER,C=FR".parse().unwrap();
        add_manual(&store, &peer, &dn, String::new()).await.unwrap();
        assert_eq!(remove_manual(&store, &peer, Some(&dn)).await.unwrap(), 1);
        assert!(matches!(remove_manual(&store, &peer, None).await, Err(WhitelistError::NotManual(_))));
        let ans: Domain = "nouveau.mssante.fr".parse().unwrap();
        let refused = remove_manual(&store, &ans, None).await.unwrap_err();
        assert!(refused.to_string().contains("comes from the ANS"), "{refused}");
    }
}
