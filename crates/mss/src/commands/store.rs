//! `mss store migrate`: brings the store's schema to this build's version
//! (what `mss serve` does at start), or with `--check` only says whether
//! that is needed: an operator upgrading several nodes migrates once, then
//! starts the new nodes.
//!
//! `mss store copy`: moves this data directory's embedded store (SQLite and
//! blob files) into the store `[store]` now names (PostgreSQL, bodies in
//! files or a bucket). `mss serve` must be stopped for the copy (its lock
//! is held meanwhile, so none starts): the pause lasts the copy. The source
//! is checked first and left as it was; the facts of every message are then
//! computed again from the bodies (as `mss messages index`), and the target
//! is checked as `mss check` does, its counts compared with the source's.

use clap::Subcommand;
use mss_store::{EMBEDDED_DATABASE, PgStore, SchemaVersions, Store, StoreConfig};

use crate::cli::DataDirArg;
use crate::config::{Backend, DataDir};
use crate::error::{CliError, failed, usage};

#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Bring the store's schema to this mss's version (as `mss serve` does at start); with
    /// --check, only say whether it is needed (exit 1 if so).
    Migrate {
        #[command(flatten)]
        data_dir: DataDirArg,
        /// Change nothing: report the versions, exit 1 if migrations are pending.
        #[arg(long)]
        check: bool,
    },
    /// Copy the embedded store (mss.sqlite3, blobs/) into the PostgreSQL store `[store]` names
    /// (mss serve stopped), then check both.
    Copy {
        #[command(flatten)]
        data_dir: DataDirArg,
    },
}

pub async fn run(command: StoreCommand) -> Result<(), CliError> {
    match command {
        StoreCommand::Migrate { data_dir, check } => migrate(&DataDir::load(&data_dir.data_dir)?, check).await,
        StoreCommand::Copy { data_dir } => copy(&DataDir::load(&data_dir.data_dir)?).await,
    }
}

async fn migrate(data: &DataDir, check: bool) -> Result<(), CliError> {
    let config = data.store_config()?;
    let SchemaVersions { database, build } = config.schema_versions().await?;
    if database > build {
        return Err(failed(
            "store",
            format!("the schema is at version {database}, newer than this mss knows ({build}): run a newer mss"),
        ));
    }
    if database == build {
        println!("schema at version {build}: nothing to migrate");
        return Ok(());
    }
    if check {
        return Err(failed(
            "store",
            format!("the schema is at version {database}, this mss needs {build}: run `mss store migrate`"),
        ));
    }
    Store::open(&config).await?;
    println!("schema migrated from version {database} to {build}");
    Ok(())
}

async fn copy(data: &DataDir) -> Result<(), CliError> {
    if data.config.store.backend != Backend::Postgres {
        return Err(usage("store", "[store] backend is not \"postgres\": name the target store in mss.toml first"));
    }
    if !data.path.join(EMBEDDED_DATABASE).is_file() {
        return Err(usage("data-dir", format!("{} has no embedded store to copy", data.path.display())));
    }
    let _serving = super::serve::lock(&data.path)?;
    let source = Store::open(&StoreConfig::Embedded { dir: data.path.clone() }).await?;
    let before = super::check::examine(&source, false).await?;
    source.audit.flush().await;
    if !before.is_consistent() {
        for problem in &before.problems {
            println!("problem in the source: {problem}");
        }
        return Err(failed("check", "the embedded store has problems: run `mss check` and mend them first"));
    }
    drop(source);

    let StoreConfig::Postgres { database, blobs } = data.store_config()? else {
        return Err(usage("store", "[store] does not name a PostgreSQL store"));
    };
    let target = PgStore::open(&database).await?;
    let same_directory = matches!(&blobs, mss_store::BlobsConfig::Files { dir } if *dir == data.path.join("blobs"));
    let report = mss_store::copy_embedded(&data.path, &target, &*blobs.open().await?, same_directory).await?;
    for (table, rows) in &report.rows {
        println!("{table}: {rows} rows");
    }
    println!("{} message bodies copied", report.blobs);
    drop(target);

    let store = data.open_store().await?;
    super::messages::index(&store, 200).await?;
    let after = super::check::examine(&store, false).await?;
    store.audit.flush().await;
    for problem in &after.problems {
        println!("problem in the copy: {problem}");
    }
    if !after.is_consistent() || after.referenced_blobs != before.referenced_blobs {
        return Err(failed(
            "check",
            format!(
                "the copy differs: {} bodies named before, {} after, {} problems",
                before.referenced_blobs,
                after.referenced_blobs,
                after.problems.len()
            ),
        ));
    }
    println!(
        "copied {}: store consistent ({} bodies present and intact); mss.sqlite3 and blobs/ are left as they were",
        data.path.display(),
        after.referenced_blobs
    );
    Ok(())
}
