//! A real embedded store (SQLite and files) in a temporary directory.

use mss_store::{Store, StoreConfig};

/// The store, and the directory that holds it while the test runs.
pub async fn store() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&StoreConfig::Embedded { dir: dir.path().to_path_buf() }).await.unwrap();
    (store, dir)
}

/// The operator's domain in tests.
pub fn domain() -> mss_core::Domain {
    "pharmacie.test".parse().unwrap()
}
