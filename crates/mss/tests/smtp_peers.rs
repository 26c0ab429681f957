//! Operators of the trust space as real processes: `mss serve` receives mail
//! from a peer that presents its operator certificate and refuses everyone
//! else; two `mss serve` exchange mail both ways, submitted by Python's
//! smtplib (a real SMTP client) with a bearer token.

mod common;

use std::process::Command;

use common::*;

/// Sends one message with smtplib: STARTTLS, with `cert`/`key` as client
/// certificate when given. Prints `sent`, or the SMTP error code and text.
const SMTPLIB_CLIENT: &str = r#"
import smtplib, ssl, sys
addr, ca, cert, key, sender, rcpt = sys.argv[1:7]
host, port = addr.rsplit(":", 1)
ctx = ssl.create_default_context(cafile=ca)
ctx.check_hostname = False  # we dial 127.0.0.1; the chain is still verified
if cert:
    ctx.load_cert_chain(cert, key)
msg = f"From: <{sender}>\r\nTo: <{rcpt}>\r\nSubject: Compte rendu\r\n\r\nBonjour, voici le compte rendu.\r\n"
try:
    with smtplib.SMTP(host, int(port), local_hostname="mss.peer.test", timeout=20) as s:
        s.starttls(context=ctx)
        s.sendmail(sender, [rcpt], msg.encode())
    print("sent")
except smtplib.SMTPResponseException as e:
    print(e.smtp_code, e.smtp_error.decode())
except smtplib.SMTPRecipientsRefused as e:
    code, text = list(e.recipients.values())[0]
    print(code, text.decode())
"#;

fn python() -> &'static str {
    let found = Command::new("python3").arg("--version").output().is_ok_and(|o| o.status.success());
    assert!(found, "python3 is needed for the smtplib tests");
    "python3"
}

fn smtplib_send(addr: &str, ca: &std::path::Path, client: Option<&Operator>, from: &str, to: &str) -> String {
    let (cert, key) = match client {
        Some(op) => (op.dir.join("tls/server.pem"), op.dir.join("tls/server.key")),
        None => Default::default(),
    };
    let out = Command::new(python())
        .args([
            "-c",
            SMTPLIB_CLIENT,
            addr,
            ca.to_str().unwrap(),
            cert.to_str().unwrap(),
            key.to_str().unwrap(),
            from,
            to,
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "smtplib failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[tokio::test]
async fn a_peer_operator_delivers_with_its_certificate_and_strangers_are_refused() {
    let TrustedPair { ours, peer, alice, .. } = &trusted_pair(None);
    let alice = alice.as_str();
    let stranger = Operator::new("stranger.test"); // its own CA

    let server = ours.serve();
    let smtp = server.addr("smtp");
    let anchors = ours.dir.join("tls/ca.pem");

    assert_eq!(smtplib_send(&smtp, &anchors, Some(peer), "dr.house@hopital.test", alice), "sent");
    assert_eq!(inbox_len(ours, alice).await, 1);

    let refusals = [
        (None, "dr.house@hopital.test", "No client certificate"),
        (Some(&stranger), "dr.house@hopital.test", "Untrusted client certificate"),
        (Some(peer), "someone@stranger.test", "is not in the liste blanche"),
    ];
    for (client, from, reason) in refusals {
        let answer = smtplib_send(&smtp, &anchors, client, from, alice);
        assert!(answer.starts_with("550 5.7.1") && answer.contains(reason), "{from}: {answer}");
    }
    let answer = smtplib_send(&smtp, &anchors, Some(peer), "dr.house@hopital.test", "nobody@pharmacie.test");
    assert!(answer.starts_with("550 5.1.1"), "{answer}");
    assert_eq!(inbox_len(ours, alice).await, 1, "nothing more was delivered");

    let (status, _) = server.stop();
    assert!(status.success());
}

/// Submits one message with smtplib: STARTTLS, AUTH XOAUTH2, then sendmail.
const SMTPLIB_SUBMIT: &str = r#"
import smtplib, ssl, sys
addr, ca, user, token, rcpt = sys.argv[1:6]
host, port = addr.rsplit(":", 1)
ctx = ssl.create_default_context(cafile=ca)
ctx.check_hostname = False
msg = f"From: <{user}>\r\nTo: <{rcpt}>\r\nSubject: Ordonnance\r\n\r\nBonjour, voici l'ordonnance.\r\n"
with smtplib.SMTP(host, int(port), timeout=20) as s:
    s.starttls(context=ctx)
    s.auth("XOAUTH2", lambda challenge=None: f"user={user}\x01auth=Bearer {token}\x01\x01", initial_response_ok=True)
    s.sendmail(user, [rcpt], msg.encode())
print("sent")
"#;

fn submit(op: &Operator, server: &Server, user: &str, rcpt: &str) {
    let token = op.ok(&format!("token {user}"));
    let anchors = op.dir.join("tls/ca.pem");
    let out = Command::new(python())
        .args(["-c", SMTPLIB_SUBMIT, &server.addr("submission"), anchors.to_str().unwrap(), user, token.trim(), rcpt])
        .output()
        .unwrap();
    assert!(out.status.success(), "smtplib submission failed: {}", String::from_utf8_lossy(&out.stderr));
}

#[tokio::test]
async fn two_operators_exchange_mail_both_ways() {
    let Mutual { a, b, alice, bob, .. } = &mutual_operators();
    let (server_a, server_b) = (a.serve(), b.serve());

    submit(a, &server_a, alice, bob);
    wait_for_inbox(b, bob, 1).await;
    submit(b, &server_b, bob, alice);
    wait_for_inbox(a, alice, 1).await;
    assert!(a.ok("queue list").is_empty() && b.ok("queue list").is_empty(), "both queues drained");

    assert!(server_a.stop().0.success());
    assert!(server_b.stop().0.success());
}

/// Sends messages one after the other on one connection as a peer operator
/// and prints `acked N` after each 250, until the server goes away.
const SMTPLIB_FLOOD: &str = r#"
import smtplib, ssl, sys
addr, ca, cert, key, rcpt, count = sys.argv[1:7]
host, port = addr.rsplit(":", 1)
ctx = ssl.create_default_context(cafile=ca)
ctx.check_hostname = False
ctx.load_cert_chain(cert, key)
try:
    with smtplib.SMTP(host, int(port), local_hostname="mss.hopital.test", timeout=20) as s:
        s.starttls(context=ctx)
        for i in range(int(count)):
            msg = f"From: <dr.house@hopital.test>\r\nTo: <{rcpt}>\r\nSubject: {i}\r\n\r\n" + ("x" * 2000 + "\r\n") * 20
            s.sendmail("dr.house@hopital.test", [rcpt], msg.encode())
            print(f"acked {i}", flush=True)
except Exception as e:
    print(f"stopped: {e}", flush=True)
"#;

#[tokio::test]
async fn every_acknowledged_message_survives_a_kill_9_of_the_receiver() {
    use std::io::{BufRead, BufReader};

    let TrustedPair { ours, peer, alice, .. } = &trusted_pair(None);
    let mut server = ours.serve();

    let anchors = ours.dir.join("tls/ca.pem");
    let (cert, key) = (peer.dir.join("tls/server.pem"), peer.dir.join("tls/server.key"));
    let mut flood = Command::new(python())
        .args(["-c", SMTPLIB_FLOOD, &server.addr("smtp"), anchors.to_str().unwrap()])
        .args([cert.to_str().unwrap(), key.to_str().unwrap(), alice, "100000"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(flood.stdout.take().unwrap()).lines();
    // Let a good number through, then SIGKILL the server mid-stream.
    let mut acked = 0;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if line.starts_with("acked") {
            acked += 1;
        }
        if acked == 40 {
            break;
        }
    }
    server.kill();
    acked += lines.map_while(Result::ok).filter(|l| l.starts_with("acked")).count();
    flood.wait().unwrap();

    // Restarted, the operator has every message it acknowledged.
    let restarted = ours.serve();
    let stored = inbox_len(ours, alice).await;
    assert!(stored >= acked, "{stored} stored < {acked} acknowledged");
    assert!(stored <= acked + 1, "at most the one in flight beyond: {stored} vs {acked}");
    assert!(restarted.stop().0.success());
}

/// Runs swaks against `addr`; its exit status and everything it printed.
fn swaks(addr: &str, args: &[&str]) -> (bool, String) {
    assert!(Command::new("swaks").arg("--version").output().is_ok(), "swaks is needed (scripts/test installs it)");
    let (host, port) = addr.rsplit_once(':').unwrap();
    let out = Command::new("swaks")
        .args(["--server", host, "--port", port, "--tls", "--helo", "mss.hopital.test", "--timeout", "20"])
        .args(args)
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

#[tokio::test]
async fn swaks_delivers_as_a_peer_with_its_certificate_and_not_without() {
    let TrustedPair { ours, peer, alice, .. } = &trusted_pair(None);
    let server = ours.serve();
    let smtp = server.addr("smtp");
    let (cert, key) = (peer.dir.join("tls/server.pem"), peer.dir.join("tls/server.key"));
    let envelope = ["--from", "dr.house@hopital.test", "--to", alice.as_str()];

    let with_cert =
        [&envelope[..], &["--tls-cert", cert.to_str().unwrap(), "--tls-key", key.to_str().unwrap()]].concat();
    let (sent, output) = swaks(&smtp, &with_cert);
    assert!(sent && output.contains("250 2.0.0 Message accepted"), "{output}");
    assert_eq!(inbox_len(ours, alice).await, 1);

    let (sent, output) = swaks(&smtp, &envelope);
    assert!(!sent && output.contains("550 5.7.1 No client certificate"), "{output}");
    assert_eq!(inbox_len(ours, alice).await, 1);
    assert!(server.stop().0.success());
}

#[tokio::test]
async fn swaks_submits_with_plain_and_a_token_where_development_allows_it() {
    let TrustedPair { ours, alice, .. } = &trusted_pair(None);
    let bob = ours.ok("mailbox create --type per --rpps 10000013994 --first Bob --last Durand").trim().to_string();
    let config = ours.dir.join("mss.toml");
    let text = std::fs::read_to_string(&config).unwrap().replace("plain_with_token = false", "plain_with_token = true");
    std::fs::write(&config, text).unwrap();
    let server = ours.serve();
    let token = ours.ok(&format!("token {alice}"));
    let from_header = format!("From: <{alice}>");
    let auth = ["--auth", "PLAIN", "--auth-user", alice.as_str(), "--auth-password", token.trim()];
    let envelope = ["--from", alice.as_str(), "--to", bob.as_str(), "--header", from_header.as_str()];

    let (sent, output) = swaks(&server.addr("submission"), &[&auth[..], &envelope[..]].concat());
    assert!(sent && output.contains("250 2.0.0 Message accepted"), "{output}");
    assert_eq!(inbox_len(ours, &bob).await, 1);

    let forged = ["--auth", "PLAIN", "--auth-user", alice.as_str(), "--auth-password", "not-a-token"];
    let (sent, output) = swaks(&server.addr("submission"), &[&forged[..], &envelope[..]].concat());
    assert!(!sent && output.contains("535 5.7.8"), "{output}");
    assert_eq!(inbox_len(ours, &bob).await, 1);
    assert!(server.stop().0.success());
}

#[tokio::test]
async fn queued_mail_survives_a_restart_and_leaves_when_the_peer_comes_back() {
    let Mutual { a, b, alice, bob, .. } = &mutual_operators();

    // B is down: the message waits in A's queue, tried and deferred.
    let server_a = a.serve();
    submit(a, &server_a, alice, bob);
    let mut queued = String::new();
    for _ in 0..100 {
        queued = a.ok("queue list");
        if queued.contains("\tpending\t1\t") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // Usually "cannot connect"; a listener of another test that took B's port
    // for a moment answers otherwise. Either way the message was tried and waits.
    assert!(queued.contains(&format!("\t{bob}\tpending\t1\t")), "{queued}");
    assert!(server_a.stop().0.success());

    // A restarts with the message still queued; B comes back; a retry is asked for.
    let _server_b = b.serve();
    let _server_a = a.serve();
    let id = queued.split('\t').next().unwrap().to_string();
    a.ok(&format!("queue retry {id}"));
    wait_for_inbox(b, bob, 1).await;
    assert!(a.ok("queue list").is_empty());
}

/// A CRL of `ca` (a directory with ca.pem and ca.key) revoking the
/// certificate `revoked`, made by OpenSSL in `work`: its PEM.
fn crl_revoking(ca: &std::path::Path, revoked: &std::path::Path, work: &std::path::Path) -> Vec<u8> {
    std::fs::create_dir_all(work).unwrap();
    std::fs::write(
        work.join("ca.cnf"),
        "[ca]\ndefault_ca = test_ca\n[test_ca]\ndatabase = index.txt\ncrlnumber = crlnumber\n\
         default_md = sha256\ndefault_crl_days = 7\n",
    )
    .unwrap();
    std::fs::write(work.join("index.txt"), "").unwrap();
    std::fs::write(work.join("crlnumber"), "01\n").unwrap();
    let (key, cert) = (ca.join("ca.key"), ca.join("ca.pem"));
    let ca_args = ["-config", "ca.cnf", "-keyfile", key.to_str().unwrap(), "-cert", cert.to_str().unwrap()];
    for command in [&["-revoke", revoked.to_str().unwrap()][..], &["-gencrl", "-out", "crl.pem"][..]] {
        let out = Command::new("openssl")
            .current_dir(work)
            .arg("ca")
            .args(ca_args)
            .args(command)
            .output()
            .expect("openssl is needed");
        assert!(out.status.success(), "openssl ca {command:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    std::fs::read(work.join("crl.pem")).unwrap()
}

/// Replaces `path` whole, as an operator's deployment would.
fn install(path: &std::path::Path, bytes: &[u8]) {
    let temporary = path.with_extension("new");
    std::fs::write(&temporary, bytes).unwrap();
    std::fs::rename(temporary, path).unwrap();
}

/// Revocation while running: a peer delivers; a CRL made by OpenSSL that
/// revokes its certificate is put in place of the configured CRL file; on
/// the next refresh the peer is refused, without a restart. A CRL signed by
/// another CA does not replace the valid one.
#[tokio::test]
async fn a_revoked_peer_certificate_is_refused_once_its_crl_is_in_force() {
    let TrustedPair { ca, ours, peer, alice, .. } = &trusted_pair(None);
    let alice = alice.as_str();
    let work = tempfile::tempdir().unwrap();
    let crl = work.path().join("igc-sante.crl");
    let config = ours.dir.join("mss.toml");
    let text = std::fs::read_to_string(&config).unwrap().replacen(
        "[tls]\n",
        &format!("[tls]\ncrl_files = [\"{}\"]\ncrl_refresh_seconds = 1\n", crl.display()),
        1,
    );
    std::fs::write(&config, text).unwrap();
    let server = ours.serve();
    let (smtp, anchors) = (server.addr("smtp"), ours.dir.join("tls/ca.pem"));
    assert_eq!(smtplib_send(&smtp, &anchors, Some(peer), "dr.house@hopital.test", alice), "sent", "no CRL yet");

    let revoking = crl_revoking(ca, &peer.dir.join("tls/server.pem"), &work.path().join("openssl"));
    install(&crl, &revoking);
    let refused = |expected: &str| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let said = smtplib_send(&smtp, &anchors, Some(peer), "dr.house@hopital.test", alice);
            if said.contains(expected) {
                return said;
            }
            assert!(std::time::Instant::now() < deadline, "still: {said}");
            std::thread::sleep(std::time::Duration::from_millis(300));
        }
    };
    let said = refused("revoked");
    assert!(said.starts_with("550 5.7.1 Untrusted client certificate"), "{said}");
    let delivered = inbox_len(ours, alice).await;

    // A CRL of another CA in its place: refused, the valid one stays.
    let stranger = Operator::new("stranger.test");
    let foreign = crl_revoking(&stranger.dir.join("ca"), &stranger.dir.join("tls/server.pem"), &work.path().join("x"));
    install(&crl, &foreign);
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert!(smtplib_send(&smtp, &anchors, Some(peer), "dr.house@hopital.test", alice).contains("revoked"));
    assert_eq!(inbox_len(ours, alice).await, delivered, "nothing more once revoked");
    drop(server);
}

/// Logs in with imaplib's LOGIN as `user`/`password` over STARTTLS; prints
/// `ok N` (messages in INBOX) or `refused`.
const IMAP_LOGIN: &str = r#"
import imaplib, ssl, sys
addr, ca, user, password = sys.argv[1:5]
host, port = addr.rsplit(":", 1)
ctx = ssl.create_default_context(cafile=ca)
ctx.check_hostname = False
M = imaplib.IMAP4(host, int(port))
M.starttls(ssl_context=ctx)
try:
    M.login(user, password)
    typ, data = M.select("INBOX")
    print("ok", data[0].decode())
except imaplib.IMAP4.error:
    print("refused")
"#;

/// Application passwords with real clients and no development option:
/// swaks submits with AUTH PLAIN and Python's imaplib reads with LOGIN; a
/// password for submission only does not open IMAP; a bearer token is no
/// password; once revoked, the password opens nothing.
#[tokio::test]
async fn swaks_and_imaplib_log_in_with_an_application_password() {
    let op = Operator::new("pharmacie.test");
    let alice = op.ok("mailbox create --type per --rpps 10003621892 --first Alice --last Martin").trim().to_string();
    let bob = op.ok("mailbox create --type per --rpps 10000013994 --first Bob --last Durand").trim().to_string();
    let store = mss_store::Store::open(&mss_store::StoreConfig::Embedded { dir: op.dir.clone() }).await.unwrap();
    let mailbox = store.meta.mailbox(&alice.parse().unwrap()).await.unwrap().unwrap();
    let make = |scope| {
        let (store, mailbox) = (store.clone(), mailbox.clone());
        async move {
            let (secret, hash) = mss_identity::app_password::generate().unwrap();
            let now = mss_store::now_unix();
            let new = mss_store::NewAppPassword {
                mailbox: mailbox.id,
                national_id: "810003621892".parse().unwrap(),
                label: "Téléphone".into(),
                hash,
                scope,
                created_at: now,
                expires_at: now + 86_400,
            };
            (store.meta.create_app_password(&new).await.unwrap(), secret)
        }
    };
    let (phone, secret) = make(mss_store::Scope::Both).await;
    let (_, sending_only) = make(mss_store::Scope::Submission).await;
    let server = op.serve();
    let from_header = format!("From: <{alice}>");
    let envelope = ["--from", alice.as_str(), "--to", bob.as_str(), "--header", from_header.as_str()];
    let plain = |password: &str| {
        let auth = ["--auth", "PLAIN", "--auth-user", alice.as_str(), "--auth-password", password];
        swaks(&server.addr("submission"), &[&auth[..], &envelope[..]].concat())
    };
    let imap = |password: &str| {
        let ca = op.dir.join("tls/ca.pem");
        let out = Command::new(python())
            .args(["-c", IMAP_LOGIN, &server.addr("imap"), ca.to_str().unwrap(), &alice, password])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };

    let (sent, output) = plain(&secret);
    assert!(sent && output.contains("250 2.0.0 Message accepted"), "{output}");
    assert!(output.contains("AUTH XOAUTH2 OAUTHBEARER PLAIN"), "offered: {output}");
    assert_eq!(inbox_len(&op, &bob).await, 1);
    assert_eq!(imap(&secret), "ok 0");
    assert_eq!(imap(&sending_only), "refused", "a password for sending does not read");
    assert!(plain(&sending_only).0);
    let token = op.ok(&format!("token {alice}"));
    assert_eq!(imap(token.trim()), "refused", "a token is no password");
    assert!(!plain(token.trim()).0);

    let alice_id: mss_core::NationalId = "810003621892".parse().unwrap();
    assert!(store.meta.revoke_app_password(phone, mailbox.id, &alice_id, mss_store::now_unix()).await.unwrap());
    let (sent, output) = plain(&secret);
    assert!(!sent && output.contains("535"), "{output}");
    assert_eq!(imap(&secret), "refused");
    assert_eq!(inbox_len(&op, &bob).await, 2, "only what the live passwords sent");
    assert!(store.meta.app_password(phone).await.unwrap().unwrap().last_used_at.is_some(), "uses recorded");
    drop(server);
}
