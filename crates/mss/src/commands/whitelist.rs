//! `mss whitelist import|list|add|remove`: the liste blanche kept in the
//! store. Imports, additions and removals are `mss_ops::whitelist`'s.

use mss_core::Domain;
use mss_ops::whitelist::{self, WhitelistError};
use mss_trust::DistinguishedName;

use crate::cli::WhitelistCommand;
use crate::config::DataDir;
use crate::error::{CliError, parse, usage};

pub async fn run(command: WhitelistCommand) -> Result<(), CliError> {
    match command {
        WhitelistCommand::Import { data_dir, file, checksum } => {
            let store = DataDir::load(&data_dir.data_dir)?.open_store().await?;
            let imported = whitelist::import_file(&store, &file, checksum.as_deref()).await.map_err(refused)?;
            match &imported.changes {
                Some(changes) => println!(
                    "imported {} entries for {} domains (generated {}, sha256 {}): {changes}",
                    imported.entries, imported.domains, imported.generated_at, imported.sha256
                ),
                None => println!("unchanged: this file (sha256 {}) is the one imported last", imported.sha256),
            }
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
        WhitelistCommand::Remove { data_dir, domain, dn } => {
            let domain: Domain = parse("domain", &domain)?;
            let dn: Option<DistinguishedName> = dn.map(|d| parse("dn", &d)).transpose()?;
            let store = DataDir::load(&data_dir.data_dir)?.open_store().await?;
            let removed = whitelist::remove_manual(&store, &domain, dn.as_ref()).await.map_err(refused)?;
            println!("removed {removed} entr{} of {domain}", if removed == 1 { "y" } else { "ies" });
            Ok(())
        }
        WhitelistCommand::Add { data_dir, domain, dn, description } => {
            let domain: Domain = parse("domain", &domain)?;
            let dn: DistinguishedName = parse("dn", &dn)?;
            let store = DataDir::load(&data_dir.data_dir)?.open_store().await?;
            whitelist::add_manual(&store, &domain, &dn, description).await.map_err(refused)?;
            println!("added {domain} with operator DN {dn}");
            Ok(())
        }
    }
}

/// The option a liste blanche refusal is about.
fn refused(e: WhitelistError) -> CliError {
    match e {
        WhitelistError::File(_) | WhitelistError::List(_) => usage("file", e),
        WhitelistError::Checksum(_) => usage("checksum", e),
        WhitelistError::AlreadyPresent(_) => usage("dn", e),
        WhitelistError::NotManual(_) => usage("domain", e),
        WhitelistError::Store(e) => e.into(),
    }
}
