//! `mss whitelist import|list|add`: the liste blanche kept in the store.
//!
//! An import is validated whole (checksum, XML, every entry) before it
//! replaces the previous ANS entries in one transaction: a bad file changes
//! nothing. Entries added by hand are kept across imports.

use mss_core::Domain;
use mss_store::{WhitelistImport, WhitelistRow, WhitelistSource, now_unix};
use mss_trust::DistinguishedName;
use mss_trust::liste_blanche::{ListeBlanche, MAX_FILE_BYTES, sha256_hex};

use crate::cli::WhitelistCommand;
use crate::config::DataDir;
use crate::error::{CliError, parse, usage};

pub async fn run(command: WhitelistCommand) -> Result<(), CliError> {
    match command {
        WhitelistCommand::Import { data_dir, file, checksum } => {
            let data = DataDir::load(&data_dir.data_dir)?;
            let size = std::fs::metadata(&file).map_err(|e| usage("file", format!("{}: {e}", file.display())))?.len();
            if size > MAX_FILE_BYTES as u64 {
                return Err(usage("file", format!("{size} bytes, at most {MAX_FILE_BYTES}")));
            }
            let xml = std::fs::read(&file).map_err(|e| usage("file", format!("{}: {e}", file.display())))?;
            let list = match checksum {
                Some(checksum) => {
                    let expected = read_checksum(&checksum)?;
                    ListeBlanche::parse_verified(&xml, &expected)
                }
                None => ListeBlanche::parse(&xml),
            }
            .map_err(|e| usage("file", e))?;
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
            data.open_store().await?.meta.replace_ans_whitelist(&import, &rows).await?;
            println!(
                "imported {} entries for {} domains (generated {}, sha256 {})",
                rows.len(),
                list.domain_count(),
                import.generated_at,
                import.sha256
            );
            Ok(())
        }
        WhitelistCommand::List { data_dir, domain } => {
            let domain = domain.map(|d| parse::<Domain>("domain", &d)).transpose()?;
            let data = DataDir::load(&data_dir.data_dir)?;
            let store = data.open_store().await?;
            if let Some(import) = store.meta.last_whitelist_import().await? {
                eprintln!("ANS list generated {} ({} entries)", import.generated_at, import.entry_count);
            }
            for row in store.meta.whitelist().await? {
                if domain.as_ref().is_none_or(|d| d.as_str() == row.domain) {
                    println!("{}\t{}\t{}", row.domain, row.source.as_str(), row.operator_dn);
                }
            }
            Ok(())
        }
        WhitelistCommand::Add { data_dir, domain, dn, description } => {
            let domain: Domain = parse("domain", &domain)?;
            let dn: DistinguishedName = parse("dn", &dn)?;
            let data = DataDir::load(&data_dir.data_dir)?;
            let row = WhitelistRow {
                domain: domain.to_string(),
                operator_dn: dn.to_string(),
                description,
                responsible_contact: String::new(),
                support_contact: String::new(),
                updated_at: String::new(),
                source: WhitelistSource::Manual,
            };
            match data.open_store().await?.meta.add_manual_whitelist_row(&row).await {
                Err(mss_store::StoreError::AlreadyPresent(what)) => {
                    Err(usage("dn", format!("{what} is already in the liste blanche")))
                }
                other => other.map_err(CliError::from),
            }?;
            println!("added {domain} with operator DN {dn}");
            Ok(())
        }
    }
}

/// `--checksum` is the 64 hex characters or the path of the ANS `checksum` file.
fn read_checksum(value: &str) -> Result<String, CliError> {
    let looks_like_hex = value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit());
    if looks_like_hex {
        return Ok(value.to_string());
    }
    let text = std::fs::read_to_string(value)
        .map_err(|e| usage("checksum", format!("neither 64 hex characters nor a readable file ({value}: {e})")))?;
    if text.len() > 1024 {
        return Err(usage("checksum", format!("{value} is not a checksum file")));
    }
    Ok(text)
}
