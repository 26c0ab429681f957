//! Two operators of the trust space, as real processes: `mss serve` receives
//! mail from a peer that presents its operator certificate, sent by Python's
//! smtplib (a real SMTP client with TLS), and refuses everyone else.

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

async fn inbox_len(op: &Operator, address: &str) -> usize {
    let store = mss_store::Store::open(&mss_store::StoreConfig::Embedded { dir: op.dir.clone() }).await.unwrap();
    let mailbox = store.meta.mailbox(&address.parse().unwrap()).await.unwrap().unwrap();
    store.meta.folder_messages(mailbox.id, mss_store::INBOX).await.unwrap().len()
}

#[tokio::test]
async fn a_peer_operator_delivers_with_its_certificate_and_strangers_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let ca = tmp.path().join("igc-test");
    ok(&format!("pki init --out {}", ca.display()));
    let ours = Operator::with_ca("pharmacie.test", &ca);
    let peer = Operator::with_ca("hopital.test", &ca);
    let stranger = Operator::new("stranger.test"); // its own CA
    let alice = ours.ok("mailbox create --type per --rpps 10003621892 --first Alice --last Martin");
    let alice = alice.trim();
    ours.ok(&format!(r#"whitelist add hopital.test --dn "{}""#, peer.dn()));

    let server = ours.serve();
    let smtp = server.addr("smtp");
    let anchors = ours.dir.join("tls/ca.pem");

    assert_eq!(smtplib_send(&smtp, &anchors, Some(&peer), "dr.house@hopital.test", alice), "sent");
    assert_eq!(inbox_len(&ours, alice).await, 1);

    let refusals = [
        (None, "dr.house@hopital.test", "No client certificate"),
        (Some(&stranger), "dr.house@hopital.test", "Untrusted client certificate"),
        (Some(&peer), "someone@stranger.test", "is not in the liste blanche"),
    ];
    for (client, from, reason) in refusals {
        let answer = smtplib_send(&smtp, &anchors, client, from, alice);
        assert!(answer.starts_with("550 5.7.1") && answer.contains(reason), "{from}: {answer}");
    }
    let answer = smtplib_send(&smtp, &anchors, Some(&peer), "dr.house@hopital.test", "nobody@pharmacie.test");
    assert!(answer.starts_with("550 5.1.1"), "{answer}");
    assert_eq!(inbox_len(&ours, alice).await, 1, "nothing more was delivered");

    let (status, _) = server.stop();
    assert!(status.success());
}
