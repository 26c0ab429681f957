//! A ZIP file opened in memory with limits, nothing ever written to disk:
//! at most [`MAX_ENTRIES`] entries, each at most [`MAX_ENTRY_BYTES`] once
//! inflated and [`MAX_RATIO`] times its compressed size, [`MAX_TOTAL_BYTES`]
//! in all (each entry is read through a bound, whatever its header claims:
//! a ZIP bomb stops at the bound). Names that could leave a folder (`..`,
//! absolute paths, drive letters, NUL) make the whole package unsafe, as do
//! encrypted entries and symbolic links; macOS resource forks (`__MACOSX/`)
//! and folders are skipped.

use std::io::{Cursor, Read};

/// Entries read at most.
pub const MAX_ENTRIES: usize = 500;
/// Largest entry, inflated.
pub const MAX_ENTRY_BYTES: u64 = 30 * 1024 * 1024;
/// All entries together, inflated.
pub const MAX_TOTAL_BYTES: u64 = 64 * 1024 * 1024;
/// Largest inflation ratio of an entry over a few kilobytes.
pub const MAX_RATIO: u64 = 200;

/// Why a ZIP file is not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PackageError {
    #[error("not a readable ZIP file: {0}")]
    NotAZip(String),
    #[error("more than {MAX_ENTRIES} entries")]
    TooManyEntries,
    #[error("entry {0:?} inflates past the limits (a ZIP bomb?)")]
    Bomb(String),
    #[error("entry {0:?} has a name that could leave its folder")]
    UnsafeName(String),
    #[error("entry {0:?} is encrypted")]
    Encrypted(String),
    #[error("entry {0:?} is a symbolic link")]
    Link(String),
    #[error("entry {0:?} is unreadable: {1}")]
    Unreadable(String, String),
}

/// A file of the package: its path (with `/`) and bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub path: String,
    pub bytes: Vec<u8>,
}

/// Whether a name could leave the folder it is unpacked in.
fn unsafe_name(name: &str) -> bool {
    let name = name.replace('\\', "/");
    name.starts_with('/')
        || name.contains('\0')
        || name.as_bytes().get(1) == Some(&b':')
        || name.split('/').any(|part| part == "..")
}

/// The files of a ZIP file, in its order.
pub fn unpack(zip: &[u8]) -> Result<Vec<Entry>, PackageError> {
    let mut archive = zip::ZipArchive::new(Cursor::new(zip)).map_err(|e| PackageError::NotAZip(e.to_string()))?;
    if archive.len() > MAX_ENTRIES {
        return Err(PackageError::TooManyEntries);
    }
    let mut entries = Vec::new();
    let mut total = 0u64;
    for index in 0..archive.len() {
        let mut file = archive.by_index(index).map_err(|e| PackageError::NotAZip(e.to_string()))?;
        let name = String::from_utf8_lossy(file.name_raw()).into_owned();
        if unsafe_name(&name) {
            return Err(PackageError::UnsafeName(name));
        }
        if file.encrypted() {
            return Err(PackageError::Encrypted(name));
        }
        if file.is_symlink() {
            return Err(PackageError::Link(name));
        }
        if file.is_dir() || name.starts_with("__MACOSX/") {
            continue;
        }
        let claimed = file.size();
        let compressed = file.compressed_size().max(1);
        if claimed > MAX_ENTRY_BYTES || (claimed > 4096 && claimed / compressed > MAX_RATIO) {
            return Err(PackageError::Bomb(name));
        }
        // The header may lie: read through the bound whatever it says.
        let bound = MAX_ENTRY_BYTES.min(MAX_TOTAL_BYTES - total);
        let mut bytes = Vec::new();
        (&mut file)
            .take(bound + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| PackageError::Unreadable(name.clone(), e.to_string()))?;
        let read = bytes.len() as u64;
        if read > bound || (read > 4096 && read / compressed > MAX_RATIO) {
            return Err(PackageError::Bomb(name));
        }
        total += read;
        entries.push(Entry { path: name.replace('\\', "/"), bytes });
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_leave_their_folder_are_unsafe() {
        for bad in ["../x", "a/../../x", "/etc/passwd", "C:/x", "a\\..\\x", "a\0b"] {
            assert!(unsafe_name(bad), "{bad:?}");
        }
        for good in ["IHE_XDM/SUBSET01/DOC0001.XML", "a..b/c", "README.TXT"] {
            assert!(!unsafe_name(good), "{good:?}");
        }
    }
}
