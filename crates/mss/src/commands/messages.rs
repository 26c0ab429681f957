//! `mss messages index`: the backfill of message facts
//! (`mss_ops::facts`), now, with a progress bar (on a terminal only).
//! `mss serve` runs the same backfill in the background at start.

use std::io::IsTerminal;

use clap::Subcommand;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use mss_store::Store;

use crate::cli::DataDirArg;
use crate::config::DataDir;
use crate::error::{CliError, failed, parse, usage};

#[derive(Debug, Subcommand)]
pub enum MessagesCommand {
    /// Read the stored messages that have no facts yet (resumable).
    Index {
        #[command(flatten)]
        data_dir: DataDirArg,
        /// Messages read and written at a time.
        #[arg(long, default_value = "200")]
        batch: String,
    },
}

pub async fn run(command: MessagesCommand) -> Result<(), CliError> {
    match command {
        MessagesCommand::Index { data_dir, batch } => {
            let batch: usize = parse("batch", &batch)?;
            if batch == 0 {
                return Err(usage("batch", "must be at least 1"));
            }
            let store = DataDir::load(&data_dir.data_dir)?.open_store().await?;
            index(&store, batch).await
        }
    }
}

pub(crate) async fn index(store: &Store, batch: usize) -> Result<(), CliError> {
    mss_ops::facts::requeue_unindexed_texts(store).await?;
    let backlog = mss_ops::facts::backlog(store).await?;
    let bar = progress_bar(backlog.blobs);
    let done = mss_ops::facts::index_missing(store, batch, || bar.inc(1)).await?;
    bar.finish_and_clear();
    println!(
        "{} messages read and their facts stored ({} stored messages were without facts)",
        done.indexed, backlog.messages
    );
    if done.missing > 0 {
        return Err(failed("index", format!("{} message bodies are missing: run `mss check`", done.missing)));
    }
    Ok(())
}

/// Messages read of `total`, rate and ETA; drawn only on a terminal.
fn progress_bar(total: u64) -> ProgressBar {
    let bar = ProgressBar::new(total);
    if !std::io::stderr().is_terminal() {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    if let Ok(style) = ProgressStyle::with_template("{bar:30} {pos}/{len} messages {per_sec} ETA {eta}") {
        bar.set_style(style);
    }
    bar
}
