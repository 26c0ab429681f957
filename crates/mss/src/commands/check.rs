//! `mss check`: is the store consistent? The database's integrity and the
//! invariants mss relies on, every blob a message names present and intact,
//! the audit chain unbroken. Exit 1 with one line per problem if not.
//! `--collect` also removes the blobs no message names any more.

use mss_store::{AuditVerdict, COLLECTION_GRACE, CheckReport, Store};

use crate::cli::DataDirArg;
use crate::config::DataDir;
use crate::error::{CliError, failed};

/// The store's check (every body read unless `quick`) and the audit
/// chain's, in one report.
pub(crate) async fn examine(store: &Store, quick: bool) -> Result<CheckReport, CliError> {
    let mut report = store.check(!quick).await?;
    if let AuditVerdict::Broken { id, reason } = store.meta.verify_audit().await? {
        report.problems.push(format!("audit chain broken at entry {id}: {reason}"));
    }
    Ok(report)
}

pub async fn run(data_dir: &DataDirArg, quick: bool, collect: bool) -> Result<(), CliError> {
    let data = DataDir::load(&data_dir.data_dir)?;
    let store = data.open_store().await?;
    let report = examine(&store, quick).await?;
    for problem in &report.problems {
        println!("problem: {problem}");
    }
    println!(
        "{} blobs named by messages and the queue{}, {} unreferenced",
        report.referenced_blobs,
        if quick { " (present)" } else { " (present and intact)" },
        report.unreferenced_blobs
    );
    if report.messages_without_facts > 0 {
        // Not a problem: `mss messages index` computes what is missing.
        println!("{} messages without their facts (run `mss messages index`)", report.messages_without_facts);
    }
    if collect {
        let collection = store.collect_blobs(COLLECTION_GRACE).await?;
        println!(
            "{} unreferenced blobs removed ({} written in the last hour kept)",
            collection.removed,
            collection.unreferenced - collection.removed
        );
    }
    if report.is_consistent() {
        println!("store consistent");
        Ok(())
    } else {
        Err(failed("check", format!("{} problems found", report.problems.len())))
    }
}
