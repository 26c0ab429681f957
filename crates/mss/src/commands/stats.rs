//! `mss stats export --month 2026-11`: the operator's usage over a month
//! for the ANS, as JSON (`mss_ops::stats`, format `mss-usage/1`, described
//! in `docs/stats.md`), on standard output or into a file.

use std::path::PathBuf;

use clap::Subcommand;
use mss_core::indicator::Period;

use crate::cli::DataDirArg;
use crate::config::{DataDir, write_private};
use crate::error::{CliError, failed, usage};

#[derive(Debug, Subcommand)]
pub enum StatsCommand {
    /// The usage report of a month (JSON, format mss-usage/1).
    Export {
        #[command(flatten)]
        data_dir: DataDirArg,
        /// The month: YYYY-MM (Paris time).
        #[arg(long)]
        month: String,
        /// Write it to this file (created 0600) instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

pub async fn run(command: StatsCommand) -> Result<(), CliError> {
    match command {
        StatsCommand::Export { data_dir, month, out } => {
            let month = match Period::parse(&month) {
                Some(period @ Period::Month { .. }) => period,
                _ => return Err(usage("month", "expected YYYY-MM")),
            };
            let data = DataDir::load(&data_dir.data_dir)?;
            let store = data.open_store().await?;
            let report = mss_ops::stats::month(&store, &data.domain, month).await?;
            let json = serde_json::to_string_pretty(&report).map_err(|e| failed("stats", e))?;
            match out {
                None => println!("{json}"),
                Some(path) => write_private(&path, &format!("{json}\n"))
                    .map_err(|e| usage("out", format!("{}: {e}", path.display())))?,
            }
            Ok(())
        }
    }
}
