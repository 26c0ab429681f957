//! Every refusal is logged with its reason and who was refused (issue 13),
//! and never with message content.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use mss_smtp::Limits;
use mss_trust::pki::CertificateAuthority;
use support::{Site, client_config, operator_certificate, starttls};
use tokio::io::AsyncWriteExt;

/// What the server logs, kept for the test to read.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<u8>>>);

impl Write for Log {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn refusals_on_the_mta_port_are_logged_with_peer_and_reason_without_content() {
    let log = Log::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt().with_ansi(false).with_writer(move || writer.clone()).finish();
    // The test's runtime is single-threaded: the server's tasks log here too.
    let _guard = tracing::subscriber::set_default(subscriber);

    let ca = CertificateAuthority::generate("IGC-Santé TEST Racine", "TEST").unwrap();
    let site = Site::new(&ca, "ours.test").await;
    let peer = operator_certificate(&ca, "mss.peer.test");
    site.mailbox("alice@ours.test").await;
    site.trust("peer.test", &peer.subject.to_string()).await;
    let addr = site.start_inbound(Limits::default()).await;
    let mut c = starttls(addr, client_config(&peer, ca.cert_pem())).await;

    assert_eq!(c.cmd("RCPT TO:<alice@ours.test>").await.0, 503);
    assert_eq!(c.cmd("MAIL FROM:<bob@peer.test>").await.0, 250);
    assert_eq!(c.cmd("RCPT TO:<nobody@ours.test>").await.0, 550);
    assert_eq!(c.cmd("RCPT TO:<alice@ours.test>").await.0, 250);
    assert_eq!(c.cmd("DATA").await.0, 354);
    c.io.get_mut().write_all(b"From: <bob@peer.test>\r\n\r\nsecret diagnosis\n.\nMORE\r\n.\r\n").await.unwrap();
    assert_eq!(c.reply().await.0, 550);
    assert_eq!(c.cmd("MAIL FROM:<bob@peer.test>").await.0, 250);
    assert_eq!(c.cmd("RCPT TO:<alice@ours.test>").await.0, 250);
    assert_eq!(c.cmd("DATA").await.0, 354);
    assert_eq!(c.cmd("From: <carol@other.test>\r\n\r\nsecret prescription\r\n.").await.0, 550);
    assert_eq!(c.cmd("QUIT").await.0, 221);

    let log = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    let refusals: Vec<&str> = log.lines().filter(|l| l.contains("smtp: refused")).collect();
    for (command, reason) in [
        ("RCPT", "MAIL FROM first"),
        ("RCPT", "no such active mailbox"),
        ("DATA", "bare LF"),
        ("DATA", "domain other.test is not one the liste blanche lists"),
    ] {
        assert!(
            refusals.iter().any(|l| l.contains(&format!("command=\"{command}\""))
                && l.contains(reason)
                && l.contains("peer=127.0.0.1:")
                && l.contains(&format!("subject={}", peer.subject))),
            "no warning for {command} {reason} in:\n{log}"
        );
    }
    assert!(!log.contains("secret"), "message content was logged:\n{log}");
}
