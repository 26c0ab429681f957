//! The extraction inside a ZIP, read safely: the archive comes from the
//! network and is only trusted once read.
//!
//! Rules kept here:
//! - every member name is checked, even those not read: a name with `..`, an
//!   absolute path, a drive letter or a backslash refuses the whole archive;
//! - exactly one `.txt` or `.csv` member (the extraction); other members
//!   are ignored, directories too;
//! - the member may expand to at most [`MAX_UNCOMPRESSED`] bytes and at most
//!   [`MAX_RATIO`] times its compressed size, checked on the declared sizes
//!   and again on the bytes actually produced (a ZIP bomb lies about both);
//! - only stored and deflated members (the `zip` crate is built without the
//!   other methods and without encryption).

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// Largest extraction accepted once decompressed.
pub const MAX_UNCOMPRESSED: u64 = 4 << 30;
/// Largest decompressed / compressed ratio (text compresses about 10:1).
pub const MAX_RATIO: u64 = 100;
/// Members an archive may list.
pub const MAX_MEMBERS: usize = 64;

/// Why a ZIP is refused.
#[derive(Debug, thiserror::Error)]
pub enum ZipError {
    #[error("not a readable ZIP archive: {0}")]
    Archive(String),
    #[error("ZIP member name {0:?} is unsafe (path traversal or absolute path)")]
    UnsafeName(String),
    #[error("the ZIP holds {0} members, at most {MAX_MEMBERS}")]
    TooManyMembers(usize),
    #[error("the ZIP must hold exactly one .txt or .csv file, it holds {0}")]
    MemberCount(usize),
    #[error("ZIP member {name:?} declares {size} bytes: over the limit (ZIP bomb?)")]
    TooLarge { name: String, size: u64 },
}

/// True when the file starts like a ZIP archive (`PK\x03\x04`).
pub fn is_zip(path: &Path) -> io::Result<bool> {
    let mut magic = [0u8; 4];
    let mut file = File::open(path)?;
    let mut read = 0;
    while read < magic.len() {
        match file.read(&mut magic[read..])? {
            0 => break,
            n => read += n,
        }
    }
    Ok(read == 4 && magic == *b"PK\x03\x04")
}

/// A member name that could escape the extraction directory.
fn unsafe_name(name: &str) -> bool {
    name.starts_with('/')
        || name.contains('\\')
        || name.contains(':')
        || name.contains('\0')
        || name.split('/').any(|part| part == "..")
}

/// Runs `read` on the extraction member of the ZIP at `path`, its bytes
/// capped as the module documentation says.
pub fn with_member<T, E: From<ZipError>>(
    path: &Path,
    read: impl FnOnce(&mut dyn Read) -> Result<T, E>,
) -> Result<T, E> {
    let file = File::open(path).map_err(|e| ZipError::Archive(e.to_string()))?;
    let mut archive = zip::ZipArchive::new(file).map_err(|e| ZipError::Archive(e.to_string()))?;
    if archive.len() > MAX_MEMBERS {
        return Err(ZipError::TooManyMembers(archive.len()).into());
    }
    let mut candidates = Vec::new();
    for i in 0..archive.len() {
        let member = archive.by_index_raw(i).map_err(|e| ZipError::Archive(e.to_string()))?;
        let name = String::from_utf8_lossy(member.name_raw()).into_owned();
        if unsafe_name(&name) || member.enclosed_name().is_none() {
            return Err(ZipError::UnsafeName(name).into());
        }
        let lower = name.to_ascii_lowercase();
        if !member.is_dir() && (lower.ends_with(".txt") || lower.ends_with(".csv")) {
            candidates.push((i, name, member.size(), member.compressed_size()));
        }
    }
    if candidates.len() != 1 {
        return Err(ZipError::MemberCount(candidates.len()).into());
    }
    let Some((index, name, size, compressed)) = candidates.pop() else {
        return Err(ZipError::MemberCount(0).into());
    };
    let cap = MAX_UNCOMPRESSED.min(compressed.saturating_mul(MAX_RATIO));
    if size > cap {
        return Err(ZipError::TooLarge { name, size }.into());
    }
    let member = archive.by_index(index).map_err(|e| ZipError::Archive(e.to_string()))?;
    let mut capped = Capped { inner: member, left: size.min(cap), name };
    read(&mut capped)
}

/// A reader that fails once it produced more than `left` bytes.
struct Capped<R> {
    inner: R,
    left: u64,
    name: String,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.left = self.left.checked_sub(n as u64).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("ZIP member {:?} expands beyond its declared size (ZIP bomb?)", self.name),
            )
        })?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::unsafe_name;

    #[test]
    fn traversal_names_are_unsafe() {
        for name in ["../x.txt", "a/../../x.txt", "/etc/passwd", "C:\\x.txt", "a\\..\\x.txt"] {
            assert!(unsafe_name(name), "{name}");
        }
        for name in ["extraction.txt", "dir/extraction.csv", "a..b.txt"] {
            assert!(!unsafe_name(name), "{name}");
        }
    }
}
