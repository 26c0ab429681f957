//! Helpers for the end-to-end tests of the `mss` binary: command lines,
//! refusals that must change nothing, initialised operators, servers.
#![allow(dead_code)] // each test file uses its own part of these helpers

pub mod browser;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Splits a command line as a shell would for our needs: on spaces, with
/// double quotes around values that hold spaces.
pub fn words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let (mut quoted, mut started) = (false, false);
    for c in line.chars() {
        match c {
            '"' => (quoted, started) = (!quoted, true),
            ' ' if !quoted => {
                if started {
                    words.push(std::mem::take(&mut current));
                }
                started = false;
            }
            c => {
                current.push(c);
                started = true;
            }
        }
    }
    if started {
        words.push(current);
    }
    words
}

pub fn mss_in(cwd: &Path, line: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mss"))
        .args(words(line))
        .current_dir(cwd)
        .env_remove("MSS_DATA_DIR")
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

pub fn mss(line: &str) -> Output {
    mss_in(Path::new("."), line)
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[track_caller]
pub fn ok(line: &str) -> String {
    let out = mss(line);
    assert!(out.status.success(), "mss {line} failed: {}", stderr(&out));
    stdout(&out)
}

/// Every file under `dir` with its content: "nothing written" means equal.
pub fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    if !dir.exists() {
        return files;
    }
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.insert(path.clone(), std::fs::read(&path).unwrap());
            }
        }
    }
    files
}

/// Runs `line`, expects a usage refusal naming `field`, and no change in `dir`.
#[track_caller]
pub fn refused(dir: &Path, line: &str, field: &str) {
    let before = snapshot(dir);
    let out = mss(line);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "mss {line} should be refused; stdout {} stderr {err}", stdout(&out));
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(err.contains(field), "the error names `{field}`: {err}");
    assert!(stdout(&out).is_empty(), "nothing printed on stdout");
    assert!(before == snapshot(dir), "mss {line} changed {}", dir.display());
}

/// An initialised data directory (every listener on port 0) and the commands
/// run on it.
pub struct Operator {
    _tmp: tempfile::TempDir,
    pub dir: PathBuf,
}

impl Operator {
    pub fn new(domain: &str) -> Self {
        Self::init(domain, None, "127.0.0.1:0")
    }

    /// An operator whose certificate is issued by the CA in `ca`.
    pub fn with_ca(domain: &str, ca: &Path) -> Self {
        Self::init(domain, Some(ca), "127.0.0.1:0")
    }

    /// The same, with its MTA on a given address (for other operators' routes).
    pub fn with_ca_and_smtp(domain: &str, ca: &Path, smtp: &str) -> Self {
        Self::init(domain, Some(ca), smtp)
    }

    fn init(domain: &str, ca: Option<&Path>, smtp: &str) -> Self {
        Self::make(None, domain, ca, [smtp, ANY, ANY])
    }

    /// An operator whose submission and IMAP listeners keep their ports
    /// across restarts (clients that outlive a killed server reconnect).
    pub fn with_fixed_ports(domain: &str) -> Self {
        let fixed = || format!("127.0.0.1:{}", free_port());
        Self::make(None, domain, None, [ANY, &fixed(), &fixed()])
    }

    /// An operator in `dir`, a directory the caller made (on a small
    /// filesystem, say) and keeps.
    pub fn in_dir(dir: &Path, domain: &str) -> Self {
        Self::make(Some(dir), domain, None, [ANY, ANY, ANY])
    }

    /// `mss init` with the SMTP, submission and IMAP listeners given.
    fn make(dir: Option<&Path>, domain: &str, ca: Option<&Path>, [smtp, submission, imap]: [&str; 3]) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let dir = dir.map_or_else(|| tmp.path().join("data"), Path::to_path_buf);
        let ca = ca.map(|ca| format!("--ca {}", ca.display())).unwrap_or_default();
        ok(&format!(
            "init --data-dir {} --domain {domain} --smtp {smtp} --submission {submission} --imap {imap} --http {ANY} {ca}",
            dir.display()
        ));
        Self { _tmp: tmp, dir }
    }

    /// An operator a test initialised itself in `dir`, inside `tmp`.
    pub fn adopt(tmp: tempfile::TempDir, dir: PathBuf) -> Self {
        Self { _tmp: tmp, dir }
    }

    /// Routes mail for `domain` to `addr` (a `[smtp.routes]` entry).
    pub fn route(&self, domain: &str, addr: &str) {
        let config = self.dir.join("mss.toml");
        let mut text = std::fs::read_to_string(&config).unwrap();
        text.push_str(&format!("\n[smtp.routes]\n\"{domain}\" = \"{addr}\"\n"));
        std::fs::write(config, text).unwrap();
    }

    /// The subject DN of this operator's certificate.
    pub fn dn(&self) -> String {
        let pem = std::fs::read_to_string(self.dir.join("tls/server.pem")).unwrap();
        mss_trust::pki::subject_of_pem(&pem).unwrap().to_string()
    }

    /// Starts `mss serve` on this data directory; stopped (SIGTERM) on drop.
    pub fn serve(&self) -> Server {
        // A server killed with SIGKILL leaves its ports.json behind.
        let _ = std::fs::remove_file(self.dir.join("ports.json"));
        let mut child = spawn_serve(Path::new("."), &["--data-dir", self.dir.to_str().unwrap()]);
        let ports = wait_for_ports(&self.dir, &mut child);
        Server { child: Some(child), ports }
    }

    pub fn on_dir(&self, line: &str) -> String {
        format!("{line} --data-dir {}", self.dir.display())
    }

    #[track_caller]
    pub fn ok(&self, line: &str) -> String {
        ok(&self.on_dir(line))
    }

    #[track_caller]
    pub fn refused(&self, line: &str, field: &str) {
        refused(&self.dir, &self.on_dir(line), field)
    }

    pub fn run(&self, line: &str) -> Output {
        mss(&self.on_dir(line))
    }
}

/// Any free loopback port.
const ANY: &str = "127.0.0.1:0";

/// A running `mss serve`.
pub struct Server {
    child: Option<Child>,
    pub ports: serde_json::Value,
}

impl Server {
    /// A server the test started itself, listening on `ports`.
    pub fn from_child(child: Child, ports: serde_json::Value) -> Self {
        Self { child: Some(child), ports }
    }

    /// The address a listener is on (`"smtp"`, `"http"`...).
    pub fn addr(&self, listener: &str) -> String {
        self.ports[listener].as_str().unwrap().to_string()
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// SIGKILL: the server dies at once, mid-work.
    pub fn kill(&mut self) {
        if let Some(child) = &mut self.child {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    /// Stops the server with SIGTERM; its exit status and standard output.
    pub fn stop(mut self) -> (std::process::ExitStatus, String) {
        terminate(self.child.as_mut().unwrap())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child
            && child.try_wait().ok().flatten().is_none()
        {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/liste-blanche").join(name);
    path.to_str().unwrap().to_string()
}

pub fn spawn_serve(cwd: &Path, args: &[&str]) -> Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mss"))
        .arg("serve")
        .args(args)
        .current_dir(cwd)
        .env_remove("MSS_DATA_DIR")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The log is read as it comes: a server under load must never block on
    // a full pipe. It is kept for the failure message of wait_for_ports.
    let mut log = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = Vec::new();
        let _ = log.read_to_end(&mut text);
        String::from_utf8_lossy(&text).into_owned()
    });
    SERVER_LOGS.lock().unwrap().insert(child.id(), reader);
    child
}

/// The log readers of spawned servers, by process id.
static SERVER_LOGS: std::sync::Mutex<BTreeMap<u32, std::thread::JoinHandle<String>>> =
    std::sync::Mutex::new(BTreeMap::new());

pub fn wait_for_ports(dir: &Path, child: &mut Child) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(text) = std::fs::read_to_string(dir.join("ports.json")) {
            return serde_json::from_str(&text).unwrap();
        }
        if let Some(status) = child.try_wait().unwrap() {
            let reader = SERVER_LOGS.lock().unwrap().remove(&child.id());
            let err = reader.map(|r| r.join().unwrap_or_default()).unwrap_or_default();
            panic!("mss serve exited with {status}: {err}");
        }
        assert!(Instant::now() < deadline, "ports.json never appeared");
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn http_get(addr: &str, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

pub fn terminate(child: &mut Child) -> (std::process::ExitStatus, String) {
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut out = String::new();
            child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
            return (status, out);
        }
        assert!(Instant::now() < deadline, "mss serve did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// How many messages are in the INBOX of `address` on this operator.
pub async fn inbox_len(op: &Operator, address: &str) -> usize {
    let store = mss_store::Store::open(&mss_store::StoreConfig::Embedded { dir: op.dir.clone() }).await.unwrap();
    let mailbox = store.meta.mailbox(&address.parse().unwrap()).await.unwrap().unwrap();
    store.meta.folder_messages(mailbox.id, mss_store::INBOX).await.unwrap().len()
}

pub async fn wait_for_inbox(op: &Operator, address: &str, count: usize) {
    for _ in 0..200 {
        if inbox_len(op, address).await >= count {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{address} never received {count} message(s)");
}

/// A free loopback port, for a listener whose address another process must
/// know before it starts.
/// A port that binding port 0 would not give: below Linux's ephemeral range (32768 up),
/// so that no client connection of a test running beside this one takes it
/// between now and the server's bind. Free when chosen.
pub fn free_port() -> u16 {
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    let start = std::process::id().wrapping_mul(7919).wrapping_add(seed);
    (0..12_000u32)
        .map(|i| 20_000 + ((start.wrapping_add(i * 7)) % 12_000) as u16)
        .find(|port| std::net::TcpListener::bind(("127.0.0.1", *port)).is_ok())
        .expect("a free port below the ephemeral range")
}

/// Two operators of one development trust space: `ours` (pharmacie.test,
/// with the mailbox `alice`) lists `peer` (hopital.test) in its liste blanche.
pub struct TrustedPair {
    _tmp: tempfile::TempDir,
    pub ca: PathBuf,
    pub ours: Operator,
    pub peer: Operator,
    pub alice: String,
}

/// [`TrustedPair`], with our MTA on `smtp` when given (port 0 otherwise).
pub fn trusted_pair(smtp: Option<&str>) -> TrustedPair {
    let tmp = tempfile::tempdir().unwrap();
    let ca = tmp.path().join("igc-test");
    ok(&format!("pki init --out {}", ca.display()));
    let ours = Operator::with_ca_and_smtp("pharmacie.test", &ca, smtp.unwrap_or("127.0.0.1:0"));
    let peer = Operator::with_ca("hopital.test", &ca);
    let alice = ours.ok("mailbox create --type per --rpps 10003621892 --first Alice --last Martin").trim().to_string();
    ours.ok(&format!(r#"whitelist add hopital.test --dn "{}""#, peer.dn()));
    TrustedPair { _tmp: tmp, ca, ours, peer, alice }
}

/// Two operators of one trust space, each in the other's liste blanche and
/// routing the other's domain to its MTA: A (pharmacie.test, user `alice`)
/// and B (hopital.test, user `bob`, RPPS of the simulator's Bob Durand).
pub struct Mutual {
    _tmp: tempfile::TempDir,
    pub a: Operator,
    pub b: Operator,
    pub alice: String,
    pub bob: String,
}

pub fn mutual_operators() -> Mutual {
    let tmp = tempfile::tempdir().unwrap();
    let ca = tmp.path().join("igc-test");
    ok(&format!("pki init --out {}", ca.display()));
    let (smtp_a, smtp_b) = (format!("127.0.0.1:{}", free_port()), format!("127.0.0.1:{}", free_port()));
    let a = Operator::with_ca_and_smtp("pharmacie.test", &ca, &smtp_a);
    let b = Operator::with_ca_and_smtp("hopital.test", &ca, &smtp_b);
    let alice = a.ok("mailbox create --type per --rpps 10003621892 --first Alice --last Martin").trim().to_string();
    let bob = b.ok("mailbox create --type per --rpps 10000013994 --first Bob --last Durand").trim().to_string();
    a.ok(&format!(r#"whitelist add hopital.test --dn "{}""#, b.dn()));
    b.ok(&format!(r#"whitelist add pharmacie.test --dn "{}""#, a.dn()));
    a.route("hopital.test", &smtp_b);
    b.route("pharmacie.test", &smtp_a);
    Mutual { _tmp: tmp, a, b, alice, bob }
}

/// An HTTP response: status, headers (lower-case names), body.
pub struct HttpReply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpReply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// One HTTP/1.1 request on a new connection (JSON body when given).
pub fn http(addr: &str, method: &str, path: &str, token: Option<&str>, body: Option<&serde_json::Value>) -> HttpReply {
    http_from([127, 0, 0, 1].into(), addr, method, path, token, body)
}

/// [`http`] from the loopback address `source` (any of 127.0.0.0/8): a
/// client on another host, as the server counts them.
pub fn http_from(
    source: std::net::Ipv4Addr,
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&serde_json::Value>,
) -> HttpReply {
    let to: std::net::SocketAddr = addr.parse().unwrap();
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.bind(&std::net::SocketAddr::from((source, 0)).into()).unwrap();
    socket.connect(&to.into()).unwrap();
    let mut stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{auth}Content-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let headers = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':').map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string())))
        .collect();
    HttpReply { status, headers, body: body.to_string() }
}

/// Logs in through Pro Santé Connect (the simulator of `mss serve`), as a
/// browser would, following the redirects; returns the session tokens.
pub fn psc_login(http_addr: &str, login: &str) -> serde_json::Value {
    let local = |location: &str| location.strip_prefix(&format!("http://{http_addr}")).unwrap_or(location).to_string();
    let start = http(http_addr, "GET", &format!("/api/auth/psc/login?login_hint={login}"), None, None);
    assert_eq!(start.status, 303, "{}", start.body);
    let authorize = http(http_addr, "GET", &local(start.header("location").unwrap()), None, None);
    assert_eq!(authorize.status, 303, "{}", authorize.body);
    let callback = http(http_addr, "GET", &local(authorize.header("location").unwrap()), None, None);
    assert_eq!(callback.status, 200, "{}", callback.body);
    callback.json()
}
