//! Message bodies, addressed by their BLAKE3 hash: the same message delivered
//! to fifty mailboxes is stored once.

use std::fmt;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use bytes::Bytes;

use crate::StoreError;

/// A BLAKE3 hash, the name of a blob: 64 lowercase hex characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlobHash([u8; 32]);

impl BlobHash {
    /// The hash of some content.
    pub fn of(data: &[u8]) -> Self {
        Self(*blake3::hash(data).as_bytes())
    }

    /// Lowercase hex, the form used in file names and database rows.
    pub fn to_hex(&self) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut out = String::with_capacity(64);
        for byte in self.0 {
            out.push(char::from(DIGITS[usize::from(byte >> 4)]));
            out.push(char::from(DIGITS[usize::from(byte & 0xf)]));
        }
        out
    }

    /// Where the blob lives under a blob directory or a bucket's prefix:
    /// `ab/abcd…`, the first two hex digits (256 shards) then the whole hash.
    /// The same in both, so a blob directory copied into a bucket is a
    /// valid object store.
    pub(crate) fn relative_path(&self) -> String {
        let hex = self.to_hex();
        format!("{}/{hex}", &hex[..2])
    }

    /// The hash a [relative path](Self::relative_path) names; anything else
    /// (a stray file or object) is reported.
    pub(crate) fn from_relative_path(path: &str) -> Result<Self, StoreError> {
        match path.split_once('/') {
            Some((shard, name)) if name.starts_with(shard) && shard.len() == 2 => name.parse(),
            _ => Err(StoreError::Corrupt(format!("`{path}` is not where a blob is stored"))),
        }
    }
}

/// `data` if it is the content of `hash`: damaged content is reported,
/// never served.
pub(crate) fn verified(hash: &BlobHash, data: Vec<u8>) -> Result<Vec<u8>, StoreError> {
    if BlobHash::of(&data) == *hash {
        Ok(data)
    } else {
        Err(StoreError::Corrupt(format!("blob {hash} does not match its hash")))
    }
}

/// How long ago `time` was (zero if it is in the future: clocks differ).
pub(crate) fn elapsed_since(time: SystemTime) -> Duration {
    SystemTime::now().duration_since(time).unwrap_or_default()
}

impl fmt::Display for BlobHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl std::str::FromStr for BlobHash {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, StoreError> {
        let bad = || StoreError::Corrupt(format!("`{}` is not a blob hash", s.chars().take(80).collect::<String>()));
        if s.len() != 64 || !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(bad());
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            let pair = s.get(2 * i..2 * i + 2).ok_or_else(bad)?;
            *byte = u8::from_str_radix(pair, 16).map_err(|_| bad())?;
        }
        Ok(Self(out))
    }
}

/// Where message bodies live.
#[async_trait]
pub trait BlobStore: Send + Sync {
    /// Stores `data` durably and returns its hash; storing the same content
    /// twice keeps one copy.
    async fn put(&self, data: Bytes) -> Result<BlobHash, StoreError>;
    /// The content, checked against its hash; `None` if absent.
    async fn get(&self, hash: &BlobHash) -> Result<Option<Vec<u8>>, StoreError>;
    /// The contents of several blobs, in order: one round trip where the
    /// backend allows it (FETCH of many messages). Callers bound the total
    /// size they ask for.
    async fn get_many(&self, hashes: &[BlobHash]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        let mut out = Vec::with_capacity(hashes.len());
        for hash in hashes {
            out.push(self.get(hash).await?);
        }
        Ok(out)
    }
    /// Whether the blob exists.
    async fn contains(&self, hash: &BlobHash) -> Result<bool, StoreError>;
    /// Removes the blob; absent blobs are not an error.
    async fn delete(&self, hash: &BlobHash) -> Result<(), StoreError>;
    /// Every stored hash (maintenance and tests; not for hot paths).
    async fn list(&self) -> Result<Vec<BlobHash>, StoreError>;
    /// Removes the blob if it was neither written nor stored again for
    /// `idle`; safe against a concurrent [`put`](Self::put) of the same
    /// content, which either keeps the blob or writes it anew. Whether it
    /// was removed.
    async fn remove_if_idle(&self, hash: &BlobHash, idle: Duration) -> Result<bool, StoreError>;
}
