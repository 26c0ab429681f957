//! Postfix (the Debian package) as a peer operator of the trust space: it
//! relays mail into `mss serve` presenting its operator certificate, and
//! `mss serve` delivers to it over mutual TLS into a Maildir.
//!
//! Needs the `postfix` package (scripts/test installs it) and root, as a
//! Postfix instance does.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::*;

/// A private Postfix instance: its own configuration, queue and Maildir
/// under a temporary directory, listening on one loopback port.
struct Postfix {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    port: String,
}

impl Postfix {
    /// Postfix for `hopital.test`, relaying everything else to `relay`, with
    /// the operator certificate of `peer`.
    fn start(peer: &Operator, anchors: &Path, relay: &str) -> Self {
        assert!(Path::new("/usr/sbin/postfix").exists(), "the postfix package is needed (scripts/test installs it)");
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_path_buf();
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).unwrap();
        let (uid, gid) = (id("-u"), id("-g"));
        for dir in ["etc", "queue", "data", "mail"] {
            std::fs::create_dir(root.join(dir)).unwrap();
        }
        for dir in ["data", "mail"] {
            std::os::unix::fs::chown(root.join(dir), Some(uid), Some(gid)).unwrap();
        }
        let port = free_port().to_string();
        let (cert, key) = (peer.dir.join("tls/server.pem"), peer.dir.join("tls/server.key"));
        let r = root.display();
        let main_cf = format!(
            "compatibility_level = 3.6
queue_directory = {r}/queue
data_directory = {r}/data
mail_owner = postfix
maillog_file_prefixes = {r}
maillog_file = {r}/postfix.log
myhostname = mss.hopital.test
mydomain = hopital.test
myorigin = hopital.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
alias_maps =
alias_database =
local_recipient_maps =
virtual_mailbox_domains = hopital.test
virtual_mailbox_base = {r}/mail
virtual_mailbox_maps = static:bob/
virtual_uid_maps = static:{uid}
virtual_gid_maps = static:{gid}
relayhost = [127.0.0.1]:{relay_port}
smtp_tls_security_level = encrypt
smtp_tls_mandatory_protocols = >=TLSv1.2
smtp_tls_cert_file = {cert}
smtp_tls_key_file = {key}
smtp_tls_CAfile = {anchors}
smtp_tls_loglevel = 1
smtpd_tls_security_level = may
smtpd_tls_cert_file = {cert}
smtpd_tls_key_file = {key}
smtpd_tls_loglevel = 1
",
            relay_port = relay.rsplit_once(':').map_or(relay, |(_, port)| port),
            cert = cert.display(),
            key = key.display(),
            anchors = anchors.display(),
        );
        std::fs::write(root.join("etc/main.cf"), main_cf).unwrap();
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
            "virtual unix - n n - - virtual",
            "anvil unix - - n - 1 anvil",
            "scache unix - - n - 1 scache",
            "postlog unix-dgram n - n - 1 postlogd",
        ];
        let master_cf = format!("{port} inet n - n - - smtpd\n{}\n", services.join("\n"));
        std::fs::write(root.join("etc/master.cf"), master_cf).unwrap();
        let postfix = Self { _tmp: tmp, root, port };
        postfix.control("start");
        postfix
    }

    fn control(&self, action: &str) {
        let out =
            Command::new("postfix").args(["-c", self.root.join("etc").to_str().unwrap(), action]).output().unwrap();
        assert!(out.status.success() || action == "stop", "postfix {action} failed; log:\n{}", self.log());
    }

    /// Sets one parameter of main.cf and has Postfix read it again.
    fn configure(&self, parameter: &str) {
        let etc = self.root.join("etc");
        let out = Command::new("postconf").args(["-c", etc.to_str().unwrap(), "-e", parameter]).output().unwrap();
        assert!(out.status.success(), "postconf -e {parameter}: {}", String::from_utf8_lossy(&out.stderr));
        self.control("reload");
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.root.join("postfix.log")).unwrap_or_default()
    }

    /// Messages delivered to bob@hopital.test.
    fn maildir(&self) -> Vec<String> {
        let new = self.root.join("mail/bob/new");
        std::fs::read_dir(new)
            .map(|entries| entries.map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap()).collect())
            .unwrap_or_default()
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        self.control("stop");
    }
}

fn id(flag: &str) -> u32 {
    let out = Command::new("id").args([flag, "postfix"]).output().unwrap();
    assert!(out.status.success(), "no postfix user: is the postfix package installed?");
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

const SEND_PLAIN: &str = r#"
import smtplib, sys
port, sender, rcpt = sys.argv[1:4]
with smtplib.SMTP("127.0.0.1", int(port), timeout=20) as s:
    s.sendmail(sender, [rcpt], f"From: <{sender}>\r\nTo: <{rcpt}>\r\nSubject: Resultats\r\n\r\nBonjour\r\n".encode())
"#;

const SUBMIT: &str = r#"
import smtplib, ssl, sys
addr, ca, user, token, rcpt = sys.argv[1:6]
host, port = addr.rsplit(":", 1)
ctx = ssl.create_default_context(cafile=ca)
ctx.check_hostname = False
with smtplib.SMTP(host, int(port), timeout=20) as s:
    s.starttls(context=ctx)
    s.auth("XOAUTH2", lambda c=None: f"user={user}\x01auth=Bearer {token}\x01\x01", initial_response_ok=True)
    s.sendmail(user, [rcpt], f"From: <{user}>\r\nTo: <{rcpt}>\r\nSubject: Ordonnance\r\n\r\nBonjour\r\n".encode())
"#;

fn python(args: &[&str]) {
    let out = Command::new("python3").args(args).output().expect("python3 is needed");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

async fn wait_until(what: &str, mut done: impl AsyncFnMut() -> bool, log: impl Fn() -> String) {
    for _ in 0..300 {
        if done().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what} did not happen; postfix log:\n{}", log());
}

#[tokio::test]
async fn postfix_as_a_peer_operator_both_ways() {
    let mss_smtp = format!("127.0.0.1:{}", free_port());
    // Postfix wears the peer operator's certificate.
    let TrustedPair { ours, peer: hopital, alice, .. } = &trusted_pair(Some(&mss_smtp));

    let postfix = Postfix::start(hopital, &ours.dir.join("tls/ca.pem"), &mss_smtp);
    ours.route("hopital.test", &format!("127.0.0.1:{}", postfix.port));
    let server = ours.serve();

    // Postfix -> mss: injected into Postfix in clear, relayed over mutual TLS.
    python(&["-c", SEND_PLAIN, &postfix.port, "dr.house@hopital.test", alice]);
    wait_until("delivery from Postfix into mss", async || inbox_len(ours, alice).await == 1, || postfix.log()).await;
    assert!(postfix.log().contains("Trusted TLS connection established to 127.0.0.1"), "{}", postfix.log());

    // mss -> Postfix: submitted to mss, queued, delivered to Postfix's Maildir.
    let token = ours.ok(&format!("token {alice}"));
    let anchors = ours.dir.join("tls/ca.pem");
    let submit_to_bob = || {
        python(&[
            "-c",
            SUBMIT,
            &server.addr("submission"),
            anchors.to_str().unwrap(),
            alice,
            token.trim(),
            "bob@hopital.test",
        ])
    };
    submit_to_bob();
    wait_until("delivery from mss into Postfix", async || postfix.maildir().len() == 1, || postfix.log()).await;
    let delivered = &postfix.maildir()[0];
    assert!(delivered.contains(&format!("From: <{alice}>")), "{delivered}");
    assert!(
        postfix.log().contains("Anonymous TLS connection established from")
            || postfix.log().contains("TLS connection established from"),
        "{}",
        postfix.log()
    );

    // A peer that does not offer PIPELINING (RFC 2920) gets one command at
    // a time, and the message all the same.
    postfix.configure("smtpd_discard_ehlo_keywords = pipelining");
    submit_to_bob();
    wait_until("delivery to a Postfix without PIPELINING", async || postfix.maildir().len() == 2, || postfix.log())
        .await;
    assert!(postfix.log().contains("discarding EHLO keywords: PIPELINING"), "{}", postfix.log());

    assert!(server.stop().0.success());
}
