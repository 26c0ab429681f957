//! Blobs as files: `<root>/<first two hex digits>/<hash>`.
//!
//! A write goes to `<root>/tmp/`, is fsynced, renamed into place, and the
//! destination directory is fsynced, so that after a crash a blob file is
//! either absent or complete (RFC-free, POSIX rename atomicity). Left-over
//! temporary files are removed at open. Reads verify the hash: a damaged file
//! is reported, never served. Linux only (`/proc` tells which writers live).

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;

use crate::StoreError;
use crate::blob::{BlobHash, BlobStore};
use crate::error::blocking;

const TMP_DIR: &str = "tmp";

/// The filesystem blob store.
#[derive(Clone)]
pub struct FsBlobStore {
    inner: Arc<Inner>,
}

struct Inner {
    root: PathBuf,
    counter: AtomicU64,
}

impl FsBlobStore {
    /// Opens (creating) the blob directory and clears unfinished writes.
    pub async fn open(root: &Path) -> Result<Self, StoreError> {
        let root = root.to_path_buf();
        blocking(move || {
            let tmp = root.join(TMP_DIR);
            fs::create_dir_all(&tmp).map_err(StoreError::io(&tmp))?;
            for entry in fs::read_dir(&tmp).map_err(StoreError::io(&tmp))? {
                let path = entry.map_err(StoreError::io(&tmp))?.path();
                if !writer_is_alive(&path) {
                    fs::remove_file(&path).map_err(StoreError::io(&path))?;
                }
            }
            sync_dir(&root)?;
            Ok(Self { inner: Arc::new(Inner { root, counter: AtomicU64::new(0) }) })
        })
        .await
    }

    fn path_of(root: &Path, hash: &BlobHash) -> PathBuf {
        let hex = hash.to_hex();
        root.join(&hex[..2]).join(hex)
    }
}

/// Temporary files are named `<hash>.<pid>.<n>`: the server and the CLI may
/// share the blob directory, so only the files of dead processes are debris.
fn writer_is_alive(tmp_file: &Path) -> bool {
    let name = tmp_file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    match name.split('.').nth(1).and_then(|pid| pid.parse::<u32>().ok()) {
        Some(pid) if pid == std::process::id() => false,
        Some(pid) => Path::new("/proc").join(pid.to_string()).exists(),
        None => false,
    }
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(StoreError::io(dir))
}

impl Inner {
    fn put(&self, data: &[u8]) -> Result<BlobHash, StoreError> {
        let hash = BlobHash::of(data);
        let dest = FsBlobStore::path_of(&self.root, &hash);
        if dest.exists() {
            return Ok(hash);
        }
        let shard = dest.parent().ok_or_else(|| StoreError::Invalid("blob path has no parent".into()))?;
        if !shard.exists() {
            fs::create_dir_all(shard).map_err(StoreError::io(shard))?;
            sync_dir(&self.root)?;
        }
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let tmp = self.root.join(TMP_DIR).join(format!("{}.{}.{n}", hash.to_hex(), std::process::id()));
        let mut file = OpenOptions::new().write(true).create_new(true).open(&tmp).map_err(StoreError::io(&tmp))?;
        let written = file.write_all(data).and_then(|()| file.sync_all());
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(StoreError::Io { path: tmp, source: e });
        }
        drop(file);
        fs::rename(&tmp, &dest).map_err(StoreError::io(&dest))?;
        sync_dir(shard)?;
        Ok(hash)
    }

    fn get(&self, hash: &BlobHash) -> Result<Option<Vec<u8>>, StoreError> {
        let path = FsBlobStore::path_of(&self.root, hash);
        match fs::read(&path) {
            Ok(data) if BlobHash::of(&data) == *hash => Ok(Some(data)),
            Ok(_) => Err(StoreError::Corrupt(format!("blob {hash} does not match its hash"))),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::Io { path, source: e }),
        }
    }

    fn delete(&self, hash: &BlobHash) -> Result<(), StoreError> {
        let path = FsBlobStore::path_of(&self.root, hash);
        match fs::remove_file(&path) {
            Ok(()) => path.parent().map_or(Ok(()), sync_dir),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StoreError::Io { path, source: e }),
        }
    }

    fn list(&self) -> Result<Vec<BlobHash>, StoreError> {
        let mut hashes = Vec::new();
        for shard in fs::read_dir(&self.root).map_err(StoreError::io(&self.root))? {
            let shard = shard.map_err(StoreError::io(&self.root))?;
            if shard.file_name() == TMP_DIR || !shard.path().is_dir() {
                continue;
            }
            for file in fs::read_dir(shard.path()).map_err(StoreError::io(shard.path()))? {
                let name = file.map_err(StoreError::io(shard.path()))?.file_name();
                hashes.push(name.to_string_lossy().parse()?);
            }
        }
        hashes.sort();
        Ok(hashes)
    }
}

#[async_trait]
impl BlobStore for FsBlobStore {
    async fn put(&self, data: &[u8]) -> Result<BlobHash, StoreError> {
        let inner = self.inner.clone();
        let data = data.to_vec();
        blocking(move || inner.put(&data)).await
    }

    async fn get(&self, hash: &BlobHash) -> Result<Option<Vec<u8>>, StoreError> {
        let (inner, hash) = (self.inner.clone(), *hash);
        blocking(move || inner.get(&hash)).await
    }

    async fn contains(&self, hash: &BlobHash) -> Result<bool, StoreError> {
        let path = Self::path_of(&self.inner.root, hash);
        blocking(move || Ok(path.exists())).await
    }

    async fn delete(&self, hash: &BlobHash) -> Result<(), StoreError> {
        let (inner, hash) = (self.inner.clone(), *hash);
        blocking(move || inner.delete(&hash)).await
    }

    async fn list(&self) -> Result<Vec<BlobHash>, StoreError> {
        let inner = self.inner.clone();
        blocking(move || inner.list()).await
    }
}
