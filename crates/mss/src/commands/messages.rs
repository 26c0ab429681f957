//! `mss messages index`: reads once the messages stored without facts (see
//! `mss_message::facts`), or with facts of an older version: the messages of
//! a store made before facts existed, or stored by a path that does not
//! compute them. Each batch is written in one transaction, with a progress
//! bar (on a terminal only). Resumable: an interrupted run keeps the batches
//! it wrote, and the next run finds only what is still missing. Safe while
//! `mss serve` runs (a message delivered meanwhile comes with its facts).

use std::io::IsTerminal;

use clap::Subcommand;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use mss_message::stored;
use mss_store::{MessageFacts, Store};

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

async fn index(store: &Store, batch: usize) -> Result<(), CliError> {
    let backlog = store.meta.facts_backlog(stored::VERSION).await?;
    let bar = progress_bar(backlog.blobs);
    let (mut indexed, mut missing) = (0u64, 0u64);
    let mut after = None;
    loop {
        let hashes = store.meta.blobs_without_facts(stored::VERSION, after, batch).await?;
        let Some(&last) = hashes.last() else { break };
        after = Some(last);
        let mut facts: Vec<MessageFacts> = Vec::with_capacity(hashes.len());
        // One body at a time: memory stays bounded by the largest message.
        for hash in hashes {
            match store.blobs.get(&hash).await? {
                Some(raw) => {
                    let read = tokio::task::spawn_blocking(move || stored::encode(hash, &raw));
                    facts.push(read.await.map_err(|e| failed("reading a message", e))?);
                }
                None => missing += 1,
            }
            bar.inc(1);
        }
        indexed += store.meta.put_facts(&facts).await? as u64;
    }
    bar.finish_and_clear();
    println!(
        "{indexed} messages read and their facts stored ({} stored messages were without facts)",
        backlog.messages
    );
    if missing > 0 {
        return Err(failed("index", format!("{missing} message bodies are missing: run `mss check`")));
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
