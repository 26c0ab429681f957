//! One module per command group; each validates its input first (usage
//! errors, nothing written) and then does the work.

mod annuaire;
mod audit;
mod backup;
mod check;
mod cps;
pub mod dispensations;
pub mod dns;
mod https;
mod init;
mod mailbox;
pub mod messages;
mod operator_certificate;
mod pki;
mod queue;
mod serve;
pub mod stats;
pub mod store;
mod token;
mod whitelist;

use crate::cli::Command;
use crate::error::CliError;

pub async fn run(command: Command) -> Result<(), CliError> {
    match command {
        Command::Pki(cmd) => pki::run(cmd).await,
        Command::Cps(cmd) => cps::run(cmd).await,
        Command::Init(args) => init::run(*args),
        Command::Serve(args) => serve::run(args).await,
        Command::Mailbox(cmd) => mailbox::run(cmd).await,
        Command::Whitelist(cmd) => whitelist::run(cmd).await,
        Command::Queue(cmd) => queue::run(cmd).await,
        Command::Audit(cmd) => audit::run(cmd).await,
        Command::Annuaire(cmd) => annuaire::run(cmd).await,
        Command::Messages(cmd) => messages::run(cmd).await,
        Command::Dispensations(cmd) => dispensations::run(cmd).await,
        Command::Stats(cmd) => stats::run(cmd).await,
        Command::Store(cmd) => store::run(cmd).await,
        Command::Check { data_dir, quick, collect } => check::run(&data_dir, quick, collect).await,
        Command::Backup { data_dir, out } => backup::backup(&data_dir, &out).await,
        Command::Restore { data_dir, from } => backup::restore(&from, &data_dir).await,
        Command::Dns { data_dir, host } => dns::run(&data_dir, host).await,
        Command::Token { data_dir, address, ttl_minutes } => token::run(&data_dir, &address, &ttl_minutes).await,
    }
}
