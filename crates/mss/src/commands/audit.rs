//! `mss audit verify|list|purge`: the hash-chained audit trail.

use mss_store::{AuditFilter, AuditVerdict, now_unix};

use crate::cli::AuditCommand;
use crate::config::DataDir;
use crate::error::{CliError, failed, parse, usage};

pub async fn run(command: AuditCommand) -> Result<(), CliError> {
    match command {
        AuditCommand::Verify { data_dir } => {
            let data = DataDir::load(&data_dir.data_dir)?;
            match data.open_store().await?.meta.verify_audit().await? {
                AuditVerdict::Intact { entries } => {
                    println!("audit trail intact: {entries} entries");
                    Ok(())
                }
                AuditVerdict::Broken { id, reason } => {
                    Err(failed("audit", format!("chain broken at entry {id}: {reason}")))
                }
            }
        }
        AuditCommand::List { data_dir, target, action, limit } => {
            let limit: usize = parse("limit", &limit)?;
            if !(1..=10_000).contains(&limit) {
                return Err(usage("limit", "between 1 and 10000"));
            }
            let data = DataDir::load(&data_dir.data_dir)?;
            let filter = AuditFilter {
                targets: target.into_iter().collect(),
                action_prefix: action,
                limit,
                ..AuditFilter::default()
            };
            for e in data.open_store().await?.meta.audit_entries(&filter).await? {
                let e_ = &e.entry;
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    e.id, e_.at, e_.actor, e_.action, e_.target, e_.result, e_.detail
                );
            }
            Ok(())
        }
        AuditCommand::Purge { data_dir } => {
            let data = DataDir::load(&data_dir.data_dir)?;
            let days = data.config.lifecycle.audit_retention_days;
            let before = now_unix() - i64::try_from(days.saturating_mul(86_400)).unwrap_or(i64::MAX);
            let removed = data.open_store().await?.meta.purge_audit(before).await?;
            println!("{removed} entries older than {days} days removed");
            Ok(())
        }
    }
}
