//! A throwaway S3 server: `s3s-fs` (`cargo install --locked s3s-fs@0.14.1
//! --features binary`) over a temporary directory, on 127.0.0.1 and a port
//! it picks itself (read from its log), checking SigV4 signatures with
//! a fixed key pair (given in each [`S3Bucket`]). A bucket is a directory of
//! that root and an object a file in it, which lets a test alter or age an
//! object behind the client's back ([`S3Server::object_path`]).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The key pair the server accepts.
const ACCESS_KEY_ID: &str = "mss-test";
const SECRET_ACCESS_KEY: &str = "mss-test-secret-access-key";
/// s3s-fs accepts any region; the one most S3 servers default to.
const REGION: &str = "us-east-1";

/// What the server prints once it listens.
const READY: &str = "server is running at http://";

/// A running server; stopped and its objects removed on drop.
pub struct S3Server {
    dir: tempfile::TempDir,
    server: Child,
    watchdog: Child,
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
}

/// An empty bucket of a running server, and how to sign in to it.
#[derive(Debug, Clone)]
pub struct S3Bucket {
    pub endpoint: String,
    pub region: String,
    pub name: String,
    pub access_key_id: String,
    pub secret_access_key: String,
}

/// `s3s-fs` on the PATH or where `cargo install` puts it.
fn binary() -> Option<PathBuf> {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cargo")));
    std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain(cargo_home.map(|home| home.join("bin")))
        .map(|dir| dir.join("s3s-fs"))
        .find(|candidate| candidate.is_file())
}

impl S3Server {
    /// A new server, or `None` when s3s-fs is not installed (outside CI).
    pub fn start() -> Option<Self> {
        let Some(binary) = binary() else {
            crate::required("s3s-fs (cargo install --locked s3s-fs@0.14.1 --features binary)");
            return None;
        };
        let dir = tempfile::Builder::new().prefix("mss-s3-").tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir(&root).unwrap();
        let log = File::create(dir.path().join("s3s-fs.log")).unwrap();
        let server = Command::new(binary)
            .args(["--host", "127.0.0.1", "--port", "0"])
            .args(["--access-key", ACCESS_KEY_ID, "--secret-key", SECRET_ACCESS_KEY])
            .arg(&root)
            .env("RUST_LOG", "s3s_fs=info")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let watchdog = watchdog(server.id(), dir.path());
        let mut started = S3Server { dir, server, watchdog, endpoint: String::new() };
        started.endpoint = started.wait_until_listening();
        Some(started)
    }

    /// The endpoint the server printed once listening.
    fn wait_until_listening(&mut self) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            let log = self.log();
            if let Some(at) = log.find(READY) {
                let address: String = log[at + READY.len()..].chars().take_while(|c| !c.is_whitespace()).collect();
                return format!("http://{address}");
            }
            if let Some(status) = self.server.try_wait().unwrap() {
                panic!("s3s-fs exited ({status}): {log}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("s3s-fs did not start: {}", self.log());
    }

    /// The server's log, to show when something failed.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("s3s-fs.log")).unwrap_or_default()
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    /// A new empty bucket, with a name of its own.
    pub fn bucket(&self) -> S3Bucket {
        static BUCKETS: AtomicUsize = AtomicUsize::new(0);
        let name = format!("mss-{}", BUCKETS.fetch_add(1, Ordering::Relaxed));
        std::fs::create_dir(self.root().join(&name)).unwrap();
        S3Bucket {
            endpoint: self.endpoint.clone(),
            region: REGION.into(),
            name,
            access_key_id: ACCESS_KEY_ID.into(),
            secret_access_key: SECRET_ACCESS_KEY.into(),
        }
    }

    /// The file holding object `key` of `bucket`: write it to alter the
    /// object, set its time to age it (the last-modified time served).
    pub fn object_path(&self, bucket: &S3Bucket, key: &str) -> PathBuf {
        self.root().join(&bucket.name).join(key)
    }
}

/// Stops the server and removes its directory once this process is gone,
/// whatever killed it.
fn watchdog(server: u32, dir: &Path) -> Child {
    let script = format!(
        "while kill -0 {me} 2>/dev/null; do sleep 1; done; kill {server} 2>/dev/null; sleep 1; rm -rf '{dir}'",
        me = std::process::id(),
        dir = dir.display(),
    );
    Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
        let _ = self.watchdog.kill();
        let _ = self.watchdog.wait();
    }
}
