//! `mss annuaire import|synth|search|outbox`: the Annuaire Santé.
//!
//! The import (of a file, or of a URL downloaded first, streamed to a file
//! beside the snapshots) streams the ANS extraction into a new snapshot under
//! `DATA_DIR/annuaire` with a progress bar (on a terminal only) and swaps it
//! in whole; a bad file changes nothing. Searches read the snapshot and our
//! own active mailboxes, like the API does. The outbox lists what the
//! directory must still learn about our mailboxes (`--all`: with what it
//! acknowledged or refused); the running server sends it.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use mss_directory::annuaire::{self, Annuaire, ImportError, Page, Query};
use mss_http::HttpClient;

use crate::cli::{AnnuaireCommand, AnnuaireSearchArgs};
use crate::config::DataDir;
use crate::error::{CliError, failed, parse, usage};

/// Where the snapshots live in a data directory.
pub const ANNUAIRE_DIR: &str = "annuaire";

pub async fn run(command: AnnuaireCommand) -> Result<(), CliError> {
    match command {
        AnnuaireCommand::Import { data_dir, source } => {
            let data = DataDir::load(&data_dir.data_dir)?;
            let dir = data.path.join(ANNUAIRE_DIR);
            if source.starts_with("http://") || source.starts_with("https://") {
                let file = download(&dir, &source).await?;
                let imported = import(dir, file.clone()).await;
                let _ = std::fs::remove_file(&file);
                return imported;
            }
            let file = std::path::PathBuf::from(source);
            if !file.is_file() {
                return Err(usage("file", format!("{}: no such file", file.display())));
            }
            import(dir, file).await
        }
        AnnuaireCommand::Synth { lines, seed, out } => {
            let lines: u64 = parse("lines", &lines)?;
            let seed: u64 = parse("seed", &seed)?;
            let written = match &out {
                Some(path) => std::fs::File::create(path).and_then(|f| {
                    annuaire::synth::write(&mut std::io::BufWriter::with_capacity(1 << 20, f), lines, seed)
                }),
                None => annuaire::synth::write(&mut std::io::BufWriter::new(std::io::stdout().lock()), lines, seed),
            };
            written.map_err(|e| failed("synth", e))
        }
        AnnuaireCommand::Search(args) => search(*args).await,
        AnnuaireCommand::Outbox { data_dir, all, retry_now } => {
            let data = DataDir::load(&data_dir.data_dir)?;
            let store = data.open_store().await?;
            if retry_now {
                let n = store.meta.publications_due_now(mss_store::now_unix()).await?;
                eprintln!("{n} waiting operations are due now (sent by the running server)");
            }
            outbox(&store.meta.publications(all).await?);
            Ok(())
        }
    }
}

/// One operation per line: id, mailbox, operation, status, attempts, next
/// attempt (unix seconds; `-` once final), last error.
fn outbox(operations: &[mss_store::Publication]) {
    for p in operations {
        let next = match p.status {
            mss_store::PublicationStatus::Pending => p.next_attempt_at.to_string(),
            _ => "-".to_string(),
        };
        let error = p.last_error.as_deref().unwrap_or("");
        println!("{}\t{}\t{}\t{}\t{}\t{next}\t{error}", p.id, p.address, p.kind, p.status, p.attempts);
    }
    if operations.is_empty() {
        eprintln!("the outbox is empty");
    }
}

/// The largest extraction downloaded (the national one is a few hundred MB).
const DOWNLOAD_MAX_BYTES: u64 = 4 << 30;
/// Time the server may stay silent during a download.
const DOWNLOAD_IDLE: Duration = Duration::from_secs(60);

/// Downloads the extraction at `url` into `dir` (streamed, with a progress
/// bar); the file to import. A failed download leaves nothing behind.
async fn download(dir: &Path, url: &str) -> Result<PathBuf, CliError> {
    std::fs::create_dir_all(dir).map_err(|e| failed(dir.display(), e))?;
    let path = dir.join("telechargement.part");
    let mut file = tokio::fs::File::create(&path).await.map_err(|e| failed(path.display(), e))?;
    let http = HttpClient::new(None).map_err(|e| failed("url", e))?;
    let bar = progress_bar(None);
    let shown = bar.clone();
    let downloaded = http
        .download(url, &mut file, DOWNLOAD_MAX_BYTES, DOWNLOAD_IDLE, &move |n| {
            shown.set_message(format!("{:.1} MB downloaded", n as f64 / 1e6));
        })
        .await;
    bar.finish_and_clear();
    let synced = file.sync_all().await;
    match (downloaded, synced) {
        (Ok(bytes), Ok(())) => {
            eprintln!("downloaded {bytes} bytes from {url}");
            Ok(path)
        }
        (Err(e), _) => {
            let _ = std::fs::remove_file(&path);
            Err(usage("url", e))
        }
        (_, Err(e)) => {
            let _ = std::fs::remove_file(&path);
            Err(failed(path.display(), e))
        }
    }
}

async fn import(dir: PathBuf, file: PathBuf) -> Result<(), CliError> {
    let zipped = annuaire::zip::is_zip(&file).map_err(|e| usage("file", format!("{}: {e}", file.display())))?;
    let bar = progress_bar(if zipped { None } else { Some(annuaire::snapshot::file_size(&file)) });
    let start = Instant::now();
    let shown = bar.clone();
    let report = tokio::task::spawn_blocking(move || {
        annuaire::import(&dir, &file, &|p| {
            shown.set_position(p.bytes);
            let rate = p.lines as f64 / start.elapsed().as_secs_f64().max(0.001);
            shown.set_message(format!("{} lines, {rate:.0} lines/s", p.lines));
        })
    })
    .await
    .map_err(|e| failed("import", e))?;
    bar.finish_and_clear();
    let report = report.map_err(|e| match e {
        ImportError::Busy | ImportError::Sqlite(_) | ImportError::Io { .. } => failed("import", e),
        bad_file => usage("file", bad_file),
    })?;
    for (line, reason) in &report.rejected {
        eprintln!("line {line}: {reason} (skipped)");
    }
    if report.rejected_count > report.rejected.len() as u64 {
        eprintln!("... and {} more lines skipped", report.rejected_count - report.rejected.len() as u64);
    }
    println!(
        "imported {} entries from {} lines in {:.1} s (snapshot {}): {} added, {} updated, {} removed; {} lines skipped",
        report.entries,
        report.lines,
        start.elapsed().as_secs_f64(),
        report.sequence,
        report.added,
        report.updated,
        report.removed,
        report.rejected_count
    );
    Ok(())
}

/// Bytes read of `total` (a spinner when unknown), lines and rate, ETA;
/// drawn only on a terminal.
fn progress_bar(total: Option<u64>) -> ProgressBar {
    let bar = match total {
        Some(total) => ProgressBar::new(total),
        None => ProgressBar::new_spinner(),
    };
    if !std::io::stderr().is_terminal() {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    let template = match total {
        Some(_) => "{bar:30} {percent:>3}% {msg} ETA {eta}",
        None => "{spinner} {bytes} {msg}",
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar
}

async fn search(args: AnnuaireSearchArgs) -> Result<(), CliError> {
    let mut query = Query::parse(&args.query.join(" ")).map_err(|e| usage("query", e))?;
    let fields = [
        ("profession", &args.profession, "profession"),
        ("city", &args.city, "ville"),
        ("postal-code", &args.postal_code, "cp"),
        ("department", &args.department, "dep"),
        ("id", &args.id, "id"),
        ("type", &args.kind, "type"),
        ("address", &args.address, "adresse"),
    ];
    for (field, value, key) in fields {
        if let Some(value) = value {
            query.set(key, value).map_err(|e| usage(field, e))?;
        }
    }
    if query.is_empty() {
        return Err(usage("query", "nothing to search: give words, an id or a criterion"));
    }
    let page =
        Page::new(parse("page", &args.page)?, parse("per-page", &args.per_page)?).map_err(|e| usage("page", e))?;
    let data = DataDir::load(&args.data_dir.data_dir)?;
    let own = data.open_store().await?.meta.mailboxes().await?;
    let annuaire = Annuaire::new(&data.path.join(ANNUAIRE_DIR), Some(data.domain.to_string()));
    let results = tokio::task::spawn_blocking(move || annuaire.search(&query, page, &own))
        .await
        .map_err(|e| failed("search", e))?
        .map_err(|e| failed("search", e))?;
    if args.json {
        println!("{}", serde_json::to_string(&results).map_err(|e| failed("search", e))?);
        return Ok(());
    }
    for h in &results.hits {
        let place = if h.city.is_empty() { &h.postal_code } else { &h.city };
        println!("{}\t{}\t{}\t{}\t{}\t{}", h.address, h.kind, h.name, h.profession, place, h.source);
    }
    let more = if results.total_exact { "" } else { "+" };
    eprintln!("page {} ({} per page): {}{more} results", results.page, results.per_page, results.total);
    Ok(())
}
