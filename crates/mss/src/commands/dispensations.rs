//! `mss dispensations import`: a pharmacy's dispensations from a CSV file
//! (`id;date;ins;rpps`, see `mss_ops::indicator::read_csv`), for the
//! pharmacies whose software does not use the API: every line checked,
//! all kept or none, each refusal by line number.

use std::io::Read;
use std::path::PathBuf;

use clap::Subcommand;
use mss_core::Finess;
use mss_ops::indicator::{self, Declaration, DeclareError};
use mss_store::now_unix;

use crate::cli::DataDirArg;
use crate::config::DataDir;
use crate::error::{CliError, failed, parse, usage};

/// The largest file read (a year of a large pharmacy is a few megabytes).
const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

#[derive(Debug, Subcommand)]
pub enum DispensationsCommand {
    /// Import a CSV file of dispensations (id;date;ins;rpps): all or none.
    Import {
        #[command(flatten)]
        data_dir: DataDirArg,
        /// The pharmacy's FINESS (one of its mailboxes carries it).
        #[arg(long)]
        finess: String,
        /// The CSV file.
        file: PathBuf,
    },
}

pub async fn run(command: DispensationsCommand) -> Result<(), CliError> {
    match command {
        DispensationsCommand::Import { data_dir, finess, file } => {
            let finess: Finess = parse("finess", &finess)?;
            let store = DataDir::load(&data_dir.data_dir)?.open_store().await?;
            let known = store.meta.mailboxes().await?.iter().any(|m| m.finess.as_ref() == Some(&finess));
            if !known {
                return Err(usage("finess", format!("no mailbox of this operator has the FINESS {}", finess.as_str())));
            }
            let text = read_bounded(&file)?;
            let lines = indicator::read_csv(&text).map_err(|rejected| refused(&rejected))?;
            let declarations: Vec<Declaration> = lines.iter().map(|(_, d)| d.clone()).collect();
            match indicator::declare(&store, &finess, &declarations, now_unix()).await {
                Ok(declared) => {
                    println!("{} dispensations imported, {} replaced", declared.inserted, declared.replaced);
                    Ok(())
                }
                // Positions are the declarations' order: say the file's line numbers.
                Err(DeclareError::Rejected(rejected)) => {
                    let by_line: Vec<indicator::Rejected> = rejected
                        .into_iter()
                        .map(|r| indicator::Rejected { position: lines[r.position - 1].0, reason: r.reason })
                        .collect();
                    Err(refused(&by_line))
                }
                Err(DeclareError::TooMany) => {
                    Err(usage("file", format!("more than {} dispensations: split the file", indicator::MAX_BATCH)))
                }
                Err(DeclareError::Store(e)) => Err(e.into()),
            }
        }
    }
}

/// The file's text, refused past [`MAX_FILE_BYTES`] before it is read.
fn read_bounded(file: &PathBuf) -> Result<String, CliError> {
    let opened = std::fs::File::open(file).map_err(|e| usage("file", format!("{}: {e}", file.display())))?;
    let size = opened.metadata().map_err(|e| failed(file.display(), e))?.len();
    if size > MAX_FILE_BYTES {
        return Err(usage("file", format!("{size} bytes: at most {MAX_FILE_BYTES} (split the file by month)")));
    }
    let mut bytes = Vec::new();
    opened.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes).map_err(|e| failed(file.display(), e))?;
    String::from_utf8(bytes).map_err(|_| usage("file", "not UTF-8 text"))
}

/// Nothing imported: the count, then each refused line (on one line, as
/// every refusal of the command line).
fn refused(rejected: &[indicator::Rejected]) -> CliError {
    let lines: Vec<String> = rejected.iter().map(|r| format!("line {}: {}", r.position, r.reason)).collect();
    usage("file", format!("nothing imported, {} line(s) refused: {}", rejected.len(), lines.join("; ")))
}
