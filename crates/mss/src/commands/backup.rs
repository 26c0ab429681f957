//! `mss backup` and `mss restore`: a consistent copy of a running operator
//! and its return. A backup is a data directory of its own: the
//! configuration, keys and certificates as they are (modes kept: 0700
//! directories, 0600 files), the metadata as of one moment (a database
//! snapshot taken while mail flows), and every message body that snapshot
//! names, each checked against its hash (`mss_store::Store::backup_into`).
//! Both end by checking the copy as `mss check` does; restore refuses a
//! directory that already holds something.

use std::path::Path;

use crate::cli::DataDirArg;
use crate::config::{Backend, DataDir, LOCK_FILE, PORTS_FILE};
use crate::error::{CliError, failed, usage};

/// What a backup leaves out: the store (copied consistently instead), and
/// what only a running server has.
const NOT_COPIED: [&str; 6] = ["mss.sqlite3", "mss.sqlite3-wal", "mss.sqlite3-shm", "blobs", PORTS_FILE, LOCK_FILE];

pub async fn backup(data_dir: &DataDirArg, out: &Path) -> Result<(), CliError> {
    let data = DataDir::load(&data_dir.data_dir)?;
    if out.exists() {
        return Err(usage("out", format!("{} exists: a backup goes to a new directory", out.display())));
    }
    if data.config.store.backend != Backend::Embedded {
        let why = "this operator's store is PostgreSQL: back it up with pg_dump or the database's own snapshots, \
                   and the bodies with the tools of their directory or bucket (docs/operations.md)";
        return Err(usage("data-dir", why));
    }
    let store = data.open_store().await?;
    private_dir(out)?;
    copy_tree(&data.path, out, &NOT_COPIED)?;
    let copied = store.backup_into(out).await?;
    println!(
        "backed up {} to {}: {} message bodies ({} as files)",
        data.path.display(),
        out.display(),
        copied.blobs,
        copied.copied
    );
    verify(out).await
}

pub async fn restore(from: &Path, data_dir: &DataDirArg) -> Result<(), CliError> {
    let target = &data_dir.data_dir;
    if !from.join("mss.toml").is_file() || !from.join("mss.sqlite3").is_file() {
        return Err(usage("from", format!("{} is not an mss backup (mss.toml, mss.sqlite3)", from.display())));
    }
    if target.exists() && std::fs::read_dir(target).map_err(|e| failed(target.display(), e))?.next().is_some() {
        return Err(usage("data-dir", format!("{} is not empty: restore goes to a new directory", target.display())));
    }
    private_dir(target)?;
    copy_tree(from, target, &[])?;
    println!("restored {} into {}", from.display(), target.display());
    verify(target).await
}

/// Checks the store in `dir` as `mss check` does (every body read).
async fn verify(dir: &Path) -> Result<(), CliError> {
    let data = DataDir::load(dir)?;
    let store = data.open_store().await?;
    let report = super::check::examine(&store, false).await?;
    store.audit.flush().await;
    for problem in &report.problems {
        println!("problem: {problem}");
    }
    if !report.is_consistent() {
        return Err(failed("check", format!("{} problems in {}", report.problems.len(), dir.display())));
    }
    println!("{}: store consistent ({} bodies present and intact)", dir.display(), report.referenced_blobs);
    Ok(())
}

fn private_dir(dir: &Path) -> Result<(), CliError> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(|e| failed(dir.display(), e))
}

/// Copies the files and directories under `from` into `to` (existing),
/// modes kept, but the top-level names in `skip`; symbolic links are not
/// followed.
fn copy_tree(from: &Path, to: &Path, skip: &[&str]) -> Result<(), CliError> {
    use std::os::unix::fs::PermissionsExt;
    let entries = std::fs::read_dir(from).map_err(|e| failed(from.display(), e))?;
    for entry in entries {
        let entry = entry.map_err(|e| failed(from.display(), e))?;
        let name = entry.file_name();
        if skip.iter().any(|s| name == *s) {
            continue;
        }
        let (source, target) = (entry.path(), to.join(&name));
        let meta = std::fs::symlink_metadata(&source).map_err(|e| failed(source.display(), e))?;
        if meta.is_dir() {
            private_dir(&target)?;
            copy_tree(&source, &target, &[])?;
        } else if meta.is_file() {
            std::fs::copy(&source, &target).map_err(|e| failed(target.display(), e))?;
        } else {
            continue;
        }
        let mode = meta.permissions().mode() & 0o700;
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(mode))
            .map_err(|e| failed(target.display(), e))?;
    }
    Ok(())
}
