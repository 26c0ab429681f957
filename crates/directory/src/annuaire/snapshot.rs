//! Building a directory snapshot from an extraction, and swapping it in.
//!
//! The national directory is public derived data: it lives in its own
//! SQLite file, `<data>/annuaire/annuaire.sqlite`, never in the operator's
//! metadata store. An import:
//! 1. takes `import.lock` (one import at a time);
//! 2. streams the file (or the ZIP member) through [`Lines`] and
//!    [`parse_line`] on this thread while another thread writes the rows
//!    into `annuaire.sqlite.new` in one transaction (journal off,
//!    `synchronous=OFF`: the file is thrown away on any failure);
//! 3. copies the rows sorted by name (the row id is the alphabetical rank,
//!    which [`crate::annuaire::search`] pages by), builds and saves the
//!    search index ([`crate::annuaire::index`]) and the address index, counts
//!    what changed against the current snapshot;
//! 4. fsyncs the file, renames it over `annuaire.sqlite`, fsyncs the
//!    directory.
//!
//! So the previous snapshot stays whole and visible until the rename, and
//! readers holding it open keep reading it (the rename does not disturb an
//! open file).

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use mss_core::fold_label;
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags, params_from_iter};

use super::extraction::{COLUMNS, Entry, ExtractionError, Lines, col, parse_line};
use super::index::Builder;
use super::zip::{ZipError, is_zip, with_member};

/// The current snapshot's file name in the annuaire directory.
pub const SNAPSHOT_FILE: &str = "annuaire.sqlite";
const BUILD_FILE: &str = "annuaire.sqlite.new";
const LOCK_FILE: &str = "import.lock";

/// Column names of `entries` for the 31 extraction columns, in order.
pub const FIELD_COLUMNS: [&str; COLUMNS] = [
    "kind",
    "address",
    "pp_type",
    "pp_id",
    "pp_national",
    "structure_type",
    "structure_id",
    "service",
    "civility",
    "last_name",
    "first_name",
    "profession_category",
    "profession_category_label",
    "profession_code",
    "profession_label",
    "skill_code",
    "skill_label",
    "dematerialisation",
    "company",
    "trade_name",
    "l2_location",
    "l3_distribution",
    "l4_number",
    "l4_number_complement",
    "l4_way_type",
    "l4_way_label",
    "l5_place",
    "l6_distribution",
    "postal_code",
    "department_column",
    "country",
];
/// Columns derived at import, after the 31.
const DERIVED_COLUMNS: [&str; 4] = ["department", "finess", "domain", "hash"];

/// Rows per batch sent from the parser to the writer.
const BATCH: usize = 2048;
/// Line errors kept in the report (all are counted).
const KEPT_ERRORS: usize = 1000;

/// Where an import stands, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Bytes of the extraction read so far (decompressed for a ZIP).
    pub bytes: u64,
    pub lines: u64,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Snapshot number (1 for the first import).
    pub sequence: i64,
    /// Data lines read.
    pub lines: u64,
    pub entries: u64,
    /// Skipped lines: (line number, reason), the first [`KEPT_ERRORS`].
    pub rejected: Vec<(u64, String)>,
    pub rejected_count: u64,
    pub added: u64,
    pub updated: u64,
    pub removed: u64,
}

/// Why an import failed; the previous snapshot is untouched.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0}")]
    Extraction(#[from] ExtractionError),
    #[error("{0}")]
    Zip(#[from] ZipError),
    #[error("{}: {error}", path.display())]
    Io { path: PathBuf, error: std::io::Error },
    #[error("snapshot database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("another import is running")]
    Busy,
    #[error("{bad} of {lines} lines are invalid: not imported")]
    TooManyBadLines { bad: u64, lines: u64 },
    #[error("no valid line: not imported")]
    NoEntry,
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> ImportError + '_ {
    move |error| ImportError::Io { path: path.to_path_buf(), error }
}

/// Imports the extraction at `source` (text or ZIP) into the annuaire
/// directory `dir`, calling `progress` now and then.
pub fn import(dir: &Path, source: &Path, progress: &dyn Fn(Progress)) -> Result<ImportReport, ImportError> {
    std::fs::create_dir_all(dir).map_err(io_error(dir))?;
    let lock_path = dir.join(LOCK_FILE);
    let lock = File::create(&lock_path).map_err(io_error(&lock_path))?;
    lock.try_lock().map_err(|_| ImportError::Busy)?;
    let build = dir.join(BUILD_FILE);
    let result = build_and_swap(dir, &build, source, progress);
    if result.is_err() {
        // A failed build leaves nothing behind; the current snapshot stays.
        let _ = std::fs::remove_file(&build);
    }
    result
}

fn build_and_swap(
    dir: &Path,
    build: &Path,
    source: &Path,
    progress: &dyn Fn(Progress),
) -> Result<ImportReport, ImportError> {
    match std::fs::remove_file(build) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io_error(build)(e)),
        _ => {}
    }
    let current = dir.join(SNAPSHOT_FILE);
    let previous = current.exists().then_some(current.as_path());
    let report = if is_zip(source).map_err(io_error(source))? {
        with_member(source, |member| {
            build_snapshot(build, previous, BufReader::with_capacity(1 << 18, member), progress)
        })?
    } else {
        let file = File::open(source).map_err(io_error(source))?;
        build_snapshot(build, previous, BufReader::with_capacity(1 << 18, file), progress)?
    };
    File::open(build).and_then(|f| f.sync_all()).map_err(io_error(build))?;
    std::fs::rename(build, &current).map_err(io_error(&current))?;
    File::open(dir).and_then(|d| d.sync_all()).map_err(io_error(dir))?;
    Ok(report)
}

/// One parsed line on its way to the writer.
struct Row {
    entry: Entry,
    sort_key: String,
    hash: i64,
}

fn build_snapshot(
    build: &Path,
    previous: Option<&Path>,
    reader: impl BufRead,
    progress: &dyn Fn(Progress),
) -> Result<ImportReport, ImportError> {
    let mut conn = Connection::open(build)?;
    conn.execute_batch(
        "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA locking_mode = EXCLUSIVE;
         PRAGMA cache_size = -262144; PRAGMA temp_store = FILE;",
    )?;
    let mut report = ImportReport::default();
    let (sender, receiver) = mpsc::sync_channel::<Vec<Row>>(8);
    std::thread::scope(|scope| -> Result<(), ImportError> {
        let writer = scope.spawn(|| write_staging(&mut conn, receiver));
        let parsed = parse_all(reader, sender, &mut report, progress);
        let written = writer.join().unwrap_or_else(|_| Err(rusqlite::Error::InvalidQuery));
        parsed?;
        written?;
        Ok(())
    })?;
    if report.rejected_count > 100 && report.rejected_count * 10 > report.lines {
        return Err(ImportError::TooManyBadLines { bad: report.rejected_count, lines: report.lines });
    }
    if report.entries == 0 {
        return Err(ImportError::NoEntry);
    }
    finish(&mut conn, previous, &mut report)?;
    Ok(report)
}

/// Reads every line, sending valid rows to the writer in batches.
fn parse_all(
    reader: impl BufRead,
    sender: mpsc::SyncSender<Vec<Row>>,
    report: &mut ImportReport,
    progress: &dyn Fn(Progress),
) -> Result<(), ImportError> {
    let mut lines = Lines::open(reader)?;
    let mut seen: HashMap<u64, u64> = HashMap::new();
    let mut batch = Vec::with_capacity(BATCH);
    let reject = |report: &mut ImportReport, line: u64, reason: String| {
        report.rejected_count += 1;
        if report.rejected.len() < KEPT_ERRORS {
            report.rejected.push((line, reason));
        }
    };
    while let Some((number, text)) = lines.next_line()? {
        report.lines += 1;
        let entry = match parse_line(&text) {
            Ok(entry) => entry,
            Err(e) => {
                reject(report, number, e.0);
                continue;
            }
        };
        let address = blake3::hash(entry.field(col::ADDRESS).to_ascii_lowercase().as_bytes());
        let address_key = u64::from_le_bytes(address.as_bytes()[..8].try_into().unwrap_or_default());
        if let Some(first) = seen.insert(address_key, number) {
            seen.insert(address_key, first);
            reject(report, number, format!("Adresse BAL already on line {first}"));
            continue;
        }
        let hash = i64::from_le_bytes(blake3::hash(text.as_bytes()).as_bytes()[..8].try_into().unwrap_or_default());
        batch.push(Row { sort_key: sort_key(&entry), entry, hash });
        report.entries += 1;
        if batch.len() == BATCH {
            if sender.send(std::mem::replace(&mut batch, Vec::with_capacity(BATCH))).is_err() {
                // The writer stopped: its error is reported by the caller.
                return Ok(());
            }
            progress(Progress { bytes: lines.bytes, lines: report.lines });
        }
    }
    if !batch.is_empty() {
        let _ = sender.send(batch);
    }
    progress(Progress { bytes: lines.bytes, lines: report.lines });
    Ok(())
}

/// Alphabetical order of the directory: name (or structure), first name.
fn sort_key(entry: &Entry) -> String {
    let name = match entry.field(col::LAST_NAME) {
        "" => entry.field(col::COMPANY),
        last => last,
    };
    format!("{} {}", fold_label(name), fold_label(entry.field(col::FIRST_NAME)))
}

fn write_staging(conn: &mut Connection, receiver: mpsc::Receiver<Vec<Row>>) -> rusqlite::Result<()> {
    let columns: Vec<&str> = FIELD_COLUMNS.iter().chain(DERIVED_COLUMNS.iter()).copied().collect();
    let definitions: Vec<String> = columns.iter().map(|c| format!("{c} {}", column_type(c))).collect();
    conn.execute_batch(&format!(
        "CREATE TEMP TABLE staging (sort_key TEXT NOT NULL, {});
         CREATE TABLE entries (id INTEGER PRIMARY KEY, {});
         CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
        definitions.join(", "),
        definitions.join(", ")
    ))?;
    let tx = conn.transaction()?;
    {
        let placeholders = vec!["?"; columns.len() + 1].join(", ");
        let mut insert =
            tx.prepare(&format!("INSERT INTO staging (sort_key, {}) VALUES ({placeholders})", columns.join(", ")))?;
        for batch in receiver {
            for row in batch {
                let e = &row.entry;
                let derived = [e.department.as_str(), e.finess.as_deref().unwrap_or(""), e.domain()];
                let texts = std::iter::once(row.sort_key.as_str())
                    .chain(e.fields.iter().map(String::as_str))
                    .chain(derived)
                    .map(|t| ToSqlOutput::Borrowed(ValueRef::Text(t.as_bytes())));
                let hash = ToSqlOutput::Borrowed(ValueRef::Integer(row.hash));
                insert.execute(params_from_iter(texts.chain(std::iter::once(hash))))?;
            }
        }
    }
    tx.commit()
}

fn column_type(column: &str) -> &'static str {
    if column == "hash" { "INTEGER NOT NULL" } else { "TEXT NOT NULL" }
}

/// Sorted copy, indexes, change counts, metadata.
fn finish(conn: &mut Connection, previous: Option<&Path>, report: &mut ImportReport) -> Result<(), ImportError> {
    let columns: Vec<&str> = FIELD_COLUMNS.iter().chain(DERIVED_COLUMNS.iter()).copied().collect();
    let list = columns.join(", ");
    let tx = conn.transaction()?;
    tx.execute_batch(&format!(
        "INSERT INTO entries ({list}) SELECT {list} FROM staging ORDER BY sort_key, address;
         DROP TABLE staging;
         CREATE INDEX entries_address ON entries (address);"
    ))?;
    Builder::from_entries(&tx)?.save(&tx)?;
    let mut sequence = 1;
    if let Some(previous) = previous {
        tx.execute("ATTACH DATABASE ?1 AS old", [previous.to_string_lossy()])?;
        let count = |sql: &str| tx.query_row(sql, [], |r| r.get::<_, i64>(0)).map(|n| u64::try_from(n).unwrap_or(0));
        report.added = count(
            "SELECT count(*) FROM entries e WHERE NOT EXISTS (SELECT 1 FROM old.entries o WHERE o.address = e.address)",
        )?;
        report.removed = count(
            "SELECT count(*) FROM old.entries o WHERE NOT EXISTS (SELECT 1 FROM entries e WHERE e.address = o.address)",
        )?;
        report.updated =
            count("SELECT count(*) FROM entries e JOIN old.entries o ON o.address = e.address WHERE o.hash <> e.hash")?;
        sequence =
            tx.query_row("SELECT CAST(value AS INTEGER) + 1 FROM old.meta WHERE key = 'sequence'", [], |r| r.get(0))?;
    } else {
        report.added = report.entries;
    }
    report.sequence = sequence;
    let meta = [
        ("sequence", sequence.to_string()),
        ("imported_at", mss_store::now_unix().to_string()),
        ("entries", report.entries.to_string()),
        ("rejected", report.rejected_count.to_string()),
    ];
    for (key, value) in meta {
        tx.execute("INSERT INTO meta (key, value) VALUES (?1, ?2)", [key, value.as_str()])?;
    }
    tx.commit()?;
    if previous.is_some() {
        conn.execute("DETACH DATABASE old", [])?;
    }
    Ok(())
}

/// Opens a snapshot read-only, as immutable: no import ever writes into a
/// snapshot file (it replaces it by a rename), so SQLite can skip its file
/// locks and change checks on every read.
pub fn open_read_only(path: &Path) -> rusqlite::Result<Connection> {
    use std::os::unix::ffi::OsStrExt;
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
    // RFC 3986 §2.1: a URI path percent-encodes all but unreserved characters.
    let mut uri = String::from("file:");
    for &b in path.as_os_str().as_bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            uri.push(char::from(b));
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    uri.push_str("?immutable=1");
    let conn = Connection::open_with_flags(uri, flags)?;
    conn.pragma_update(None, "query_only", true)?;
    Ok(conn)
}

/// Size of a file, for progress bars (0 when unknown).
pub fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}
