//! The peer: Postfix receiving over STARTTLS and handing each message to
//! Dovecot over LMTP, which stores it in a Maildir; Dovecot serving IMAP
//! over STARTTLS. Private instances (configuration, queue, mail, logs) under
//! a temporary directory, on loopback ports, as root (Postfix and Dovecot
//! drop to their own users).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::imap_load::ImapTarget;
use crate::mss_side::MAILBOXES;
use crate::smtp_load::Target;
use crate::tls::Pki;

/// The TLS 1.3 suites in mss's order, chosen by the server whatever the
/// client's (mss's rule, `mss_trust::tls`), for Postfix and Dovecot alike.
const SUITES: &str = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";

pub struct Peer {
    _dir: tempfile::TempDir,
    /// Its daemons stopped and its directory removed if the run is
    /// interrupted.
    _on_interrupt: crate::interrupt::OnInterrupt,
    pub root: PathBuf,
    smtp: u16,
    imap: u16,
    pub recipients: Vec<String>,
}

/// The address whose mail Dovecot stores in the Maildir of `user` (its
/// userdb's home is the mailbox's local part).
pub fn address(user: &str) -> String {
    format!("{user}@bench.test")
}

/// The processes of a peer whose files are under `root`: Postfix's master
/// and Dovecot's, with all their children.
pub fn pids_under(root: &Path) -> Vec<u32> {
    let masters: Vec<u32> = [root.join("queue/pid/master.pid"), root.join("dovecot-run/master.pid")]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok()?.trim().parse().ok())
        .collect();
    crate::measure::with_descendants(&masters)
}

/// The base name (before `:2,`) Dovecot's own delivery would give the `n`th
/// message of a filled Maildir: `<seconds>.M<microseconds>P<pid>.<host>`,
/// then its size and virtual size (`,S=`, `,W=`), so that Dovecot reads
/// them from the name instead of opening the file. Names alike but for a
/// counter (`1790000042.42.bench`) defeat the hash Dovecot keys its Maildir
/// names by (each delivery then compared ~every name with every other:
/// 24 s of CPU per LMTP delivery and 68 s for the first SELECT of 100,000
/// messages, against 0.1 s and 0.4 s with these names).
fn maildir_name(n: usize, body: &[u8]) -> String {
    // A thousand messages a second, as a busy delivery would date them.
    let (seconds, micros) = (1_790_000_000 + n / 1000, (n % 1000) * 997);
    // RFC 5322 lines end in CRLF; a bare LF counts two bytes in IMAP's size.
    let bare_lf = body.iter().enumerate().filter(|&(i, &b)| b == b'\n' && (i == 0 || body[i - 1] != b'\r')).count();
    format!("{seconds}.M{micros}P4242.peer.bench.test,S={},W={}", body.len(), body.len() + bare_lf)
}

/// Installs postfix and Dovecot from Debian when they are missing.
pub fn install_if_missing() {
    let missing: Vec<&str> = [
        ("/usr/sbin/postfix", "postfix"),
        ("/usr/sbin/dovecot", "dovecot-imapd"),
        ("/usr/lib/dovecot/lmtp", "dovecot-lmtpd"),
    ]
    .iter()
    .filter(|(path, _)| !Path::new(path).exists())
    .map(|(_, package)| *package)
    .collect();
    if missing.is_empty() {
        return;
    }
    eprintln!("installing {}", missing.join(" "));
    let install = |update: bool| {
        if update {
            let _ = Command::new("apt-get").args(["update", "-q"]).env("DEBIAN_FRONTEND", "noninteractive").status();
        }
        Command::new("apt-get")
            .args(["install", "-y", "-q"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
    };
    let ok = install(false).is_ok_and(|s| s.success()) || install(true).is_ok_and(|s| s.success());
    assert!(ok, "cannot install {missing:?}");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("port").port()
}

fn run(program: &str, args: &[&str]) {
    let out = Command::new(program).args(args).output().unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(out.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// Starts a daemon: no pipes (it would keep them open, and reading them
/// would never end); its errors are in its log file.
fn start_daemon(program: &str, args: &[&str], log: &Path) {
    let status = Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(status.success(), "{program} {args:?} failed; see {}", log.display());
}

impl Peer {
    pub fn start(pki: &Pki) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let root = dir.path().to_path_buf();
        run("chmod", &["755", root.to_str().expect("path")]);
        for sub in ["etc", "queue", "data", "mail", "dovecot-run", "dovecot-state"] {
            std::fs::create_dir(root.join(sub)).expect("directory");
        }
        run("chown", &["postfix", root.join("data").to_str().expect("path")]);
        run("chown", &["nobody:nogroup", root.join("mail").to_str().expect("path")]);
        let (cert, key) = pki.server_files("peer.bench.test");
        let (smtp, imap, lmtp) = (free_port(), free_port(), free_port());
        let r = root.display();
        std::fs::write(
            root.join("dovecot.conf"),
            format!(
                "base_dir = {r}/dovecot-run
state_dir = {r}/dovecot-state
log_path = {r}/dovecot.log
instance_name = bench-{imap}
protocols = imap lmtp
listen = 127.0.0.1
ssl = required
ssl_cert = <{cert}
ssl_key = <{key}
ssl_min_protocol = TLSv1.2
ssl_prefer_server_ciphers = yes
ssl_cipher_suites = {SUITES}
auth_mechanisms = plain login
passdb {{
  driver = static
  args = password=bench
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={r}/mail/%n
}}
mail_location = maildir:~/Maildir
default_vsz_limit = 4G
default_login_user = dovenull
default_internal_user = dovecot
service imap-login {{
  inet_listener imap {{
    port = {imap}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {lmtp}
  }}
}}
",
                cert = cert.display(),
                key = key.display(),
            ),
        )
        .expect("dovecot.conf");
        // TLS 1.3 suites are set for OpenSSL through its configuration file
        // (Postfix 3.7 has no parameter for them).
        std::fs::write(
            root.join("etc/openssl.cnf"),
            format!(
                "postfix = postfix_init
[postfix_init]
ssl_conf = postfix_ssl
[postfix_ssl]
system_default = bench_tls
[bench_tls]
Ciphersuites = {SUITES}
"
            ),
        )
        .expect("openssl.cnf");
        let main_cf = format!(
            "compatibility_level = 3.6
queue_directory = {r}/queue
data_directory = {r}/data
mail_owner = postfix
maillog_file_prefixes = {r}
maillog_file = {r}/postfix.log
myhostname = peer.bench.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
alias_maps =
alias_database =
local_recipient_maps =
virtual_mailbox_domains = bench.test
virtual_mailbox_maps = static:accepted
virtual_transport = lmtp:inet:127.0.0.1:{lmtp}
smtpd_tls_security_level = may
smtpd_tls_cert_file = {cert}
smtpd_tls_key_file = {key}
smtpd_tls_mandatory_protocols = >=TLSv1.2
smtpd_tls_ask_ccert = yes
smtpd_tls_CAfile = {ca}
tls_preempt_cipherlist = yes
tls_config_file = {r}/etc/openssl.cnf
tls_config_name = postfix
default_process_limit = 250
",
            cert = cert.display(),
            key = key.display(),
            ca = pki.ca_file().display(),
        );
        std::fs::write(root.join("etc/main.cf"), main_cf).expect("main.cf");
        let services = [
            "pickup unix n - n 60 1 pickup",
            "cleanup unix n - n - 0 cleanup",
            "qmgr unix n - n 300 1 qmgr",
            "tlsmgr unix - - n 1000? 1 tlsmgr",
            "rewrite unix - - n - - trivial-rewrite",
            "bounce unix - - n - 0 bounce",
            "defer unix - - n - 0 bounce",
            "trace unix - - n - 0 bounce",
            "verify unix - - n - 1 verify",
            "flush unix n - n 1000? 0 flush",
            "proxymap unix - - n - - proxymap",
            "smtp unix - - n - - smtp",
            "relay unix - - n - - smtp",
            "showq unix n - n - - showq",
            "error unix - - n - - error",
            "retry unix - - n - - error",
            "discard unix - - n - - discard",
            "lmtp unix - - n - - lmtp",
            "anvil unix - - n - 1 anvil",
            "scache unix - - n - 1 scache",
            "postlog unix-dgram n - n - 1 postlogd",
        ];
        std::fs::write(root.join("etc/master.cf"), format!("{smtp} inet n - n - - smtpd\n{}\n", services.join("\n")))
            .expect("master.cf");
        let recipients = (1..=MAILBOXES).map(|n| format!("box-{n}@bench.test")).collect();
        // Made before the daemons start: if one fails to, dropping the peer
        // (unwinding) stops the other, and no process outlives the run.
        let stopped = root.clone();
        let _on_interrupt = crate::interrupt::on_interrupt(move || {
            stop_daemons(&stopped);
            let _ = std::fs::remove_dir_all(&stopped);
        });
        let peer = Self { _dir: dir, _on_interrupt, root, smtp, imap, recipients };
        let root = &peer.root;
        start_daemon("dovecot", &["-c", root.join("dovecot.conf").to_str().expect("path")], &root.join("dovecot.log"));
        start_daemon("postfix", &["-c", root.join("etc").to_str().expect("path"), "start"], &root.join("postfix.log"));
        std::thread::sleep(std::time::Duration::from_millis(500));
        peer
    }

    pub fn smtp_target(&self, pki: &Pki) -> Target {
        Target {
            addr: SocketAddr::from(([127, 0, 0, 1], self.smtp)),
            tls: pki.client(),
            sender: "loadgen@peer.test".into(),
            recipients: self.recipients.clone(),
        }
    }

    /// Messages in the load mailboxes' Maildirs.
    pub async fn delivered(&self) -> usize {
        (1..=MAILBOXES)
            .map(|n| {
                let maildir = self.root.join(format!("mail/box-{n}/Maildir"));
                ["new", "cur"]
                    .iter()
                    .filter_map(|d| std::fs::read_dir(maildir.join(d)).ok())
                    .map(|e| e.count())
                    .sum::<usize>()
            })
            .sum()
    }

    /// A mailbox of `messages` messages written straight into a Maildir (as
    /// a migration would), indexed by Dovecot at the first SELECT.
    pub fn imap_target(&self, pki: &Pki, messages: usize) -> ImapTarget {
        self.filled(pki, messages, |n, to| crate::smtp_load::message(n, 4 * 1024, "dr.house@peer.test", to))
    }

    /// A mailbox of `messages` messages made by `make(n, address)`, one in
    /// ten unseen, as [`crate::mss_side::Mss::fill`] makes them.
    pub fn filled(&self, pki: &Pki, messages: usize, make: fn(usize, &str) -> Vec<u8>) -> ImapTarget {
        let user = format!("imap-{}-{}", messages, self.root.join("mail").read_dir().map_or(0, |d| d.count()));
        let maildir = self.root.join(format!("mail/{user}/Maildir"));
        for sub in ["new", "cur", "tmp"] {
            std::fs::create_dir_all(maildir.join(sub)).expect("maildir");
        }
        for n in 0..messages {
            let body = make(n, &address(&user));
            let flags = if n % 10 == 0 { "" } else { "S" };
            std::fs::write(maildir.join(format!("cur/{}:2,{flags}", maildir_name(n, &body))), body).expect("message");
        }
        run("chown", &["-R", "nobody:nogroup", self.root.join(format!("mail/{user}")).to_str().expect("path")]);
        ImapTarget {
            addr: SocketAddr::from(([127, 0, 0, 1], self.imap)),
            tls: pki.client(),
            user,
            password: "bench".into(),
        }
    }

    /// The processes of the peer.
    pub fn pids(&self) -> Vec<u32> {
        pids_under(&self.root)
    }

    pub fn stop(self) {
        drop(self);
    }
}

/// Postfix and Dovecot stop with the peer, whatever ended the run.
impl Drop for Peer {
    fn drop(&mut self) {
        stop_daemons(&self.root);
    }
}

/// Stops the Postfix and Dovecot of the peer under `root`.
fn stop_daemons(root: &Path) {
    let _ = Command::new("postfix").args(["-c", root.join("etc").to_str().expect("path"), "stop"]).output();
    let _ = Command::new("doveadm").args(["-c", root.join("dovecot.conf").to_str().expect("path"), "stop"]).output();
}

#[cfg(test)]
mod tests {
    use super::maildir_name;

    /// Every message of a million-message Maildir gets its own name, which
    /// says its size and its size with bare LFs counted as CRLF.
    #[test]
    fn maildir_names_are_unique_and_give_the_sizes() {
        let names: std::collections::HashSet<String> = (0..1_000_000).map(|n| maildir_name(n, b"")).collect();
        assert_eq!(names.len(), 1_000_000);
        assert_eq!(maildir_name(1_234, b"a\r\nb\nc\n"), "1790000001.M233298P4242.peer.bench.test,S=7,W=9");
        assert_eq!(maildir_name(0, b"\n"), "1790000000.M0P4242.peer.bench.test,S=1,W=2");
    }
}
