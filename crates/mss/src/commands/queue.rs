//! `mss queue list|retry|delete`: the outbound queue, while the server runs
//! or not (the running server picks changes up at its next round).

use mss_store::QueueId;

use crate::cli::QueueCommand;
use crate::config::DataDir;
use crate::error::{CliError, failed, parse};

pub async fn run(command: QueueCommand) -> Result<(), CliError> {
    match command {
        QueueCommand::List { data_dir } => {
            let data = DataDir::load(&data_dir.data_dir)?;
            for r in data.open_store().await?.meta.queue().await? {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    r.message,
                    r.sender,
                    r.recipient,
                    r.status.as_str(),
                    r.attempts,
                    r.next_attempt_at,
                    r.last_reply
                );
            }
            Ok(())
        }
        QueueCommand::Retry { data_dir, id } => {
            let id: QueueId = parse("id", &id)?;
            let data = DataDir::load(&data_dir.data_dir)?;
            if !data.open_store().await?.meta.retry_now(id).await? {
                return Err(failed("id", format!("no pending recipient in queued message {id}")));
            }
            println!("queued message {id} will be tried now");
            Ok(())
        }
        QueueCommand::Delete { data_dir, id } => {
            let id: QueueId = parse("id", &id)?;
            let data = DataDir::load(&data_dir.data_dir)?;
            if !data.open_store().await?.meta.delete_queued(id).await? {
                return Err(failed("id", format!("no queued message {id}")));
            }
            println!("queued message {id} deleted");
            Ok(())
        }
    }
}
