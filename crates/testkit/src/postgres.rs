//! A throwaway PostgreSQL cluster: `initdb` once per machine and version into
//! a template (under a file lock, so parallel test processes make it once),
//! copied into a temporary directory per cluster, started with `postgres`
//! on 127.0.0.1 and a free port, trust authentication for the user `mss`.
//! PostgreSQL refuses to run as root: as root, the cluster runs as the
//! `postgres` system user (Debian's packages create it).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running cluster; stopped and removed on drop.
pub struct Cluster {
    dir: tempfile::TempDir,
    server: Child,
    watchdog: Child,
    pub port: u16,
}

/// The user the cluster's databases belong to.
pub const USER: &str = "mss";

fn bin_dir() -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").exists())
        .collect();
    found.sort();
    found.pop()
}

fn is_root() -> bool {
    // The owner of /proc/self is the process's user.
    std::os::unix::fs::MetadataExt::uid(&std::fs::metadata("/proc/self").unwrap()) == 0
}

/// The uid and gid of the `postgres` system user.
fn postgres_user() -> (u32, u32) {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    let line = passwd.lines().find(|l| l.starts_with("postgres:")).expect("the postgres system user");
    let fields: Vec<&str> = line.split(':').collect();
    (fields[2].parse().unwrap(), fields[3].parse().unwrap())
}

/// `program` with `args`, as the postgres user when running as root.
fn command(bin: &Path, program: &str) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin.join(program));
        c
    } else {
        Command::new(bin.join(program))
    }
}

fn give_to_postgres(path: &Path) {
    if is_root() {
        let (uid, gid) = postgres_user();
        let status = Command::new("chown").arg("-R").arg(format!("{uid}:{gid}")).arg(path).status().unwrap();
        assert!(status.success(), "chown {}", path.display());
    }
}

/// The initialised cluster every test copies, made once.
fn template(bin: &Path) -> PathBuf {
    let version = bin.parent().and_then(|p| p.file_name()).unwrap().to_string_lossy().to_string();
    let base = std::env::temp_dir().join(format!("mss-testkit-postgres-{version}"));
    std::fs::create_dir_all(&base).unwrap();
    let lock = File::create(base.join("lock")).unwrap();
    lock.lock().unwrap();
    let data = base.join("data");
    if !base.join("ready").exists() {
        let _ = std::fs::remove_dir_all(&data);
        std::fs::create_dir_all(&data).unwrap();
        give_to_postgres(&data);
        let out = command(bin, "initdb")
            .arg("-D")
            .arg(&data)
            .args(["-U", USER, "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync", "--no-instructions"])
            .output()
            .unwrap();
        assert!(out.status.success(), "initdb: {}", String::from_utf8_lossy(&out.stderr));
        File::create(base.join("ready")).unwrap();
    }
    data
}

/// Settings that skip durability: the suites test mss, not the server.
const FAST: &[&str] = &["fsync=off", "synchronous_commit=off", "full_page_writes=off"];

/// Writes a server certificate, its key (0600) and a `pg_hba.conf` taking
/// TCP over TLS only into `dir`; the settings that use them.
fn tls_files(dir: &Path, chain: &str, key: &str) -> Vec<String> {
    use std::os::unix::fs::PermissionsExt;
    let file = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        path.display().to_string()
    };
    let cert = file("server.crt", chain);
    let key = file("server.key", key);
    let hba = file(
        "pg_hba.conf",
        "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostnossl all all 0.0.0.0/0 reject\n",
    );
    vec!["ssl=on".into(), format!("ssl_cert_file={cert}"), format!("ssl_key_file={key}"), format!("hba_file={hba}")]
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Cluster {
    /// A new cluster, or `None` when PostgreSQL is not installed (outside
    /// CI). Its commits are not made durable (no fsync): the suites test
    /// mss, not the server's durability, and run quicker.
    pub fn start() -> Option<Self> {
        Self::start_with(FAST, None)
    }

    /// A cluster that takes TCP connections over TLS only (`hostssl` in its
    /// `pg_hba.conf`, any other refused), with this certificate chain and key.
    pub fn with_tls(chain_pem: &str, key_pem: &str) -> Option<Self> {
        Self::start_with(FAST, Some((chain_pem, key_pem)))
    }

    /// A cluster as production runs one: every commit on disk when it
    /// returns (the benchmarks compare it with SQLite's `synchronous=FULL`).
    pub fn durable() -> Option<Self> {
        Self::start_with(&[], None)
    }

    fn start_with(settings: &[&str], tls: Option<(&str, &str)>) -> Option<Self> {
        let Some(bin) = bin_dir() else {
            crate::required("PostgreSQL (postgresql-15)");
            return None;
        };
        let template = template(&bin);
        for _ in 0..5 {
            let dir = tempfile::Builder::new().prefix("mss-pg-").tempdir().unwrap();
            let data = dir.path().join("data");
            let status = Command::new("cp").arg("-a").arg(&template).arg(&data).status().unwrap();
            assert!(status.success(), "copying the template cluster");
            let tls_settings = tls.map(|(chain, key)| tls_files(dir.path(), chain, key)).unwrap_or_default();
            give_to_postgres(dir.path());
            let port = free_port();
            let log = File::create(dir.path().join("postgres.log")).unwrap();
            give_to_postgres(&dir.path().join("postgres.log"));
            let server = command(&bin, "postgres")
                .arg("-D")
                .arg(&data)
                .args(["-c", "listen_addresses=127.0.0.1", "-c", &format!("port={port}")])
                .arg("-c")
                .arg(format!("unix_socket_directories={}", dir.path().display()))
                .args(settings.iter().flat_map(|setting| ["-c", setting]))
                .args(tls_settings.iter().flat_map(|setting| ["-c", setting]))
                .args(["-c", "max_connections=200"])
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap();
            let watchdog = watchdog(&data);
            let mut cluster = Cluster { dir, server, watchdog, port };
            if cluster.ready() {
                return Some(cluster);
            }
        }
        panic!("PostgreSQL did not start on a free port after 5 tries");
    }

    /// Waits for the server to accept connections; false if it exited
    /// (its port taken in between, say).
    fn ready(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if self.server.try_wait().unwrap().is_some() {
                return false;
            }
            let log = std::fs::read_to_string(self.dir.path().join("postgres.log")).unwrap_or_default();
            if log.contains("ready to accept connections")
                && std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok()
            {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("PostgreSQL did not start: {}", self.log());
    }

    /// The server's log, to show when something failed.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("postgres.log")).unwrap_or_default()
    }

    /// The connection string of database `name` (made with [`Self::create_database`]).
    pub fn url(&self, name: &str) -> String {
        format!("host=127.0.0.1 port={} user={USER} dbname={name}", self.port)
    }

    /// Creates an empty database.
    pub fn create_database(&self, name: &str) {
        let bin = bin_dir().unwrap();
        let out = Command::new(bin.join("createdb"))
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", USER, name])
            .output()
            .unwrap();
        assert!(out.status.success(), "createdb {name}: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// Runs SQL with psql in database `name`; its standard output.
    pub fn psql(&self, name: &str, sql: &str) -> String {
        let bin = bin_dir().unwrap();
        let out = Command::new(bin.join("psql"))
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", USER, "-d", name])
            .args(["-v", "ON_ERROR_STOP=1", "-XAtq", "-c", sql])
            .output()
            .unwrap();
        assert!(out.status.success(), "psql {sql}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// Stops the server in `data` once this process is gone, whatever killed it.
fn watchdog(data: &Path) -> Child {
    let script = format!(
        "while kill -0 {me} 2>/dev/null; do sleep 1; done; \
         kill -QUIT $(head -1 '{pid}' 2>/dev/null) 2>/dev/null; sleep 2; rm -rf '{dir}'",
        me = std::process::id(),
        pid = data.join("postmaster.pid").display(),
        dir = data.parent().unwrap().display(),
    );
    Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Immediate shutdown: the postmaster and its children exit at once.
        let pid = std::fs::read_to_string(self.dir.path().join("data/postmaster.pid")).unwrap_or_default();
        if let Some(pid) = pid.lines().next().filter(|p| !p.is_empty()) {
            let _ = Command::new("kill").args(["-QUIT", pid]).status();
        }
        let _ = self.server.wait();
        let _ = self.watchdog.kill();
        let _ = self.watchdog.wait();
    }
}
