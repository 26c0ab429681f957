//! Real servers for tests, started on loopback on ports chosen at run time
//! and stopped when their handle drops (or, if the test process is killed,
//! by a watchdog that outlives it by a second): a PostgreSQL cluster made
//! with `initdb`, an S3 server (`s3s-fs`). Only ever a dev-dependency.
//!
//! A missing tool fails the test under CI (`CI` set) and skips it
//! elsewhere, saying so.

mod postgres;
mod s3;

pub use postgres::Cluster;
pub use s3::{S3Bucket, S3Server};

/// Whether a test that lacks `tool` should fail (under CI) rather than be
/// skipped.
pub fn required(tool: &str) -> bool {
    if std::env::var_os("CI").is_some() {
        panic!("{tool} is needed by this test (scripts/test installs it)");
    }
    eprintln!("skipped: {tool} is not installed");
    false
}
